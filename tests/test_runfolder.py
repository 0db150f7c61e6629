"""Run folders are written whole: staged beside the target, locked, moved into place in one step."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlplab import runfolder
from mlplab.runfolder import RunFolderBusyError, RunFolderError, lock, staged


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def write_run(folder: Path, text: str) -> None:
    (folder / "config.json").write_text(text)
    (folder / "metrics.json").write_text(text)
    (folder / "figures").mkdir()
    (folder / "figures" / "a.png").write_bytes(text.encode() * 3)


@pytest.fixture
def earlier(tmp_path) -> Path:
    out = tmp_path / "run"
    with staged(out) as stage:
        write_run(stage.path, "old")
    return out


def test_a_new_folder_appears_whole_and_nothing_else_is_left(tmp_path):
    out = tmp_path / "deep" / "run"
    with staged(out) as stage:
        assert stage.path.parent == out.parent and stage.path.name.startswith(".partial-run-")
        write_run(stage.path, "new")
        assert not out.exists()  # not under its name before it is complete
    assert snapshot(out) == {
        "config.json": b"new",
        "metrics.json": b"new",
        "figures/a.png": b"new" * 3,
    }
    assert [p.name for p in out.parent.iterdir()] == ["run"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_rerun_replaces_the_earlier_run_whole(earlier, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(runfolder, "_exchange", lambda a, b: False)
    with staged(earlier) as stage:
        (stage.path / "config.json").write_text("new")
    assert snapshot(earlier) == {"config.json": b"new"}  # no old figure left beside it
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


@pytest.mark.parametrize("error", [RuntimeError("plot failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_rerun_keeps_the_earlier_run_byte_for_byte(earlier, error):
    before = snapshot(earlier)
    with pytest.raises(type(error)), staged(earlier) as stage:
        write_run(stage.path, "new")
        raise error
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


def test_a_second_writer_is_refused_and_a_waiting_one_is_not(earlier):
    before = snapshot(earlier)
    with lock(earlier):
        with pytest.raises(RunFolderBusyError, match=rf"process {os.getpid()} .*another --out"):
            with staged(earlier):
                pytest.fail("the second writer got in")
    assert snapshot(earlier) == before
    with staged(earlier, wait=True) as stage:  # the lock is free again
        (stage.path / "config.json").write_text("new")
    assert snapshot(earlier) == {"config.json": b"new"}


def test_keep_and_discard_leave_the_folder_as_it_was(earlier):
    before = snapshot(earlier)
    with staged(earlier, keep=lambda: True) as stage:
        (stage.path / "config.json").write_text("late attempt")
    with staged(earlier) as stage:
        (stage.path / "config.json").write_text("dropped")
        stage.discard()
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


def test_what_a_killed_writer_left_is_removed_by_the_next(earlier):
    before = snapshot(earlier)
    left = earlier.with_name(".partial-run-pid1-0000")
    left.mkdir()
    (left / "config.json").write_text("half")
    earlier.with_name(".lock-run").write_text(f"1\n{left.name}\n")  # the lock file it left
    with lock(earlier):
        assert not left.exists()
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


def test_an_earlier_run_moved_aside_by_a_killed_writer_is_put_back(earlier):
    before = snapshot(earlier)
    name = ".partial-run-pid1-0000"
    earlier.rename(earlier.with_name(name + runfolder.OLD_SUFFIX))  # killed between renames
    earlier.with_name(".lock-run").write_text(f"1\n{name}\n")
    with lock(earlier):
        pass
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


def test_a_writer_may_name_the_file_that_marks_its_earlier_runs(tmp_path):
    out = tmp_path / "exercise"
    out.mkdir()
    (out / "network.json").write_text("{}")
    assert runfolder.holds_run(out, mark="network.json") and not runfolder.holds_run(out)
    with pytest.raises(RunFolderError, match=r"no earlier run \(config.json is missing\)"):
        with staged(out):
            pass
    with staged(out, mark="network.json") as stage:
        (stage.path / "network.json").write_text("[]")
    assert snapshot(out) == {"network.json": b"[]"}


def test_a_folder_of_other_files_is_never_replaced(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(RunFolderError, match="holds files but no earlier run"):
        with staged(mine):
            pass
    assert (mine / "thesis.tex").read_text() == "years of work"
    monkeypatch.chdir(mine)
    (mine / "config.json").write_text("{}")
    with pytest.raises(RunFolderError, match="current folder"):
        with staged("."):
            pass
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match="is a file"):
        with staged(tmp_path / "file"):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]


def test_a_config_json_beside_other_files_does_not_make_a_run(tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "config.json").write_text('{"name": "x"}')
    (project / "thesis.tex").write_text("years of work")
    (project / "src" / "main.py").write_text("code")
    with pytest.raises(RunFolderError, match="holds src, which no mlplab run writes"):
        with staged(project):
            pass
    shutil.rmtree(project / "src")
    with pytest.raises(RunFolderError, match="holds thesis.tex, which no mlplab run writes"):
        with staged(project):
            pass
    assert (project / "thesis.tex").read_text() == "years of work"
    # an index of studies: runs inside a run are runs too
    (project / "thesis.tex").unlink()
    (project / "runge").mkdir()
    (project / "runge" / "config.json").write_text("{}")
    (project / "runge" / "fit.png").write_bytes(b"")
    with staged(project) as stage:
        (stage.path / "config.json").write_text("{}")
    assert sorted(p.name for p in project.iterdir()) == ["config.json"]


def test_an_interrupt_between_the_two_renames_puts_the_earlier_run_back(earlier, monkeypatch):
    before = snapshot(earlier)
    monkeypatch.setattr(runfolder, "_exchange", lambda a, b: False)
    rename = os.rename

    def interrupted(src, dst):
        if Path(src).name.startswith(".partial-") and Path(dst) == earlier:
            raise KeyboardInterrupt  # after the earlier run went aside, before the new one came
        rename(src, dst)

    monkeypatch.setattr(runfolder.os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt), staged(earlier) as stage:
        (stage.path / "config.json").write_text("new")
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["run"]


def test_a_link_to_a_run_folder_rewrites_the_folder_and_keeps_the_link(earlier):
    link = earlier.with_name("latest")
    link.symlink_to(earlier.name)
    with staged(link) as stage:
        (stage.path / "config.json").write_text("new")
    assert link.is_symlink() and snapshot(link) == {"config.json": b"new"}
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["latest", "run"]


def test_a_run_folder_below_a_file_is_refused_in_words(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(RunFolderError, match="afile is a file, so .* cannot be a folder"):
        with staged(tmp_path / "afile" / "sub"):
            pass


def test_a_file_browsers_litter_does_not_block_a_rerun(earlier):
    (earlier / ".DS_Store").write_bytes(b"\0")
    with staged(earlier) as stage:
        (stage.path / "config.json").write_text("new")
    assert snapshot(earlier) == {"config.json": b"new"}

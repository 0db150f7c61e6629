"""``mlplab experiment run``: an interrupted run leaves nothing new behind, and an earlier run
as it was."""

from __future__ import annotations

from pathlib import Path

from mlplab.cli import main
from mlplab.experiments import execute, properties
from mlplab.runfolder import staged


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_interrupted_study_leaves_no_folder_and_an_earlier_run_as_it_was(tmp_path, monkeypatch):
    earlier = tmp_path / "earlier"
    run = ["experiment", "run", "properties", "--quick", "--quiet", "--out"]
    assert main([*run, str(earlier)]) == 0
    before = _files(earlier)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(properties, "run", interrupted)
    assert main([*run, str(tmp_path / "new")]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]  # was an empty "new"
    assert main([*run, str(earlier)]) == 130
    assert _files(earlier) == before


def test_an_interrupted_run_of_all_leaves_no_folder(tmp_path, monkeypatch):
    def interrupted(name, out, *args, **kwargs):
        with staged(out):  # makes the folder of the studies, as a study does
            raise KeyboardInterrupt

    monkeypatch.setattr(execute, "run_study", interrupted)
    assert (
        main(["experiment", "run", "all", "--quick", "--quiet", "--out", str(tmp_path / "a")])
        == 130
    )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()  # a folder the user made is theirs: kept
    assert main(["experiment", "run", "all", "--quiet", "--out", str(tmp_path / "mine")]) == 130
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]

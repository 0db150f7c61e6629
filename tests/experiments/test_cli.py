import pytest

from mlplab.cli import main
from mlplab.experiments import STUDIES, get_study


def test_list_names_every_study(capsys):
    assert main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    for name in STUDIES:
        assert name in out
    assert "title" in out and "question" not in out  # the column holds titles


@pytest.mark.parametrize("name", list(STUDIES))
def test_a_study_has_one_title(quick_run, name):
    """experiment list shows the title its report has (at the default parameters, which the
    quick runs of these studies keep)."""
    run = quick_run(name)
    report = (run.out / "report.md").read_text()
    assert report.splitlines()[0] == f"# {name}: {get_study(name).TITLE} (quick run)"


def test_unknown_study_lists_the_valid_ones(capsys, tmp_path):
    assert main(["experiment", "run", "runje", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown study 'runje'" in err
    for name in STUDIES:
        assert name in err


@pytest.mark.parametrize("seeds", ["0", "-2"])
def test_seeds_must_be_positive(capsys, tmp_path, seeds):
    assert main(["experiment", "run", "properties", "--seeds", seeds, "--out", str(tmp_path)]) == 2
    assert "--seeds must be a whole number from 1 to 1000" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_unwritable_out_is_a_clear_error(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["experiment", "run", "properties", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot write to output folder" in err and "choose another --out" in err


def test_run_writes_the_report_and_prints_the_checks(capsys, tmp_path):
    out = tmp_path / "props"
    assert main(["experiment", "run", "properties", "--quick", "--quiet", "--out", str(out)]) == 0
    assert "9/9" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert f"mlplab experiment run properties --quick --out {out}" in report


def test_workers_and_scheduler_together_are_refused(tmp_path, capsys):
    from mlplab.cli import main

    code = main(
        [
            "experiment",
            "run",
            "properties",
            "--workers",
            "2",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert code == 2
    assert "not both" in capsys.readouterr().err

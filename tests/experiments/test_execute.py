import json

import pytest

from mlplab.experiments import execute, properties
from mlplab.experiments.execute import run_all, run_study
from tests.experiments.conftest import run_with_settings


def test_interrupted_run_leaves_no_report_and_keeps_the_previous_one(tmp_path, monkeypatch):
    run_study("properties", tmp_path, quick=True, progress=False)
    before = (tmp_path / "report.md").read_bytes()
    files = sorted(p.name for p in tmp_path.iterdir())

    def interrupted(out, quick, seeds, progress, **params):
        (out / "properties.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(properties, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study("properties", tmp_path, quick=True, progress=False)
    assert (tmp_path / "report.md").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    assert (tmp_path / "properties.png").read_bytes().startswith(b"\x89PNG")


def test_seeds_reach_the_study_and_the_config(tmp_path):
    run_study("properties", tmp_path, quick=True, seeds=3, progress=False)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seeds"] == 3
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["tanh_twin_max_difference"]) == 3


def test_run_all_writes_an_index_linking_every_report(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "STUDIES", {"properties": "properties"})
    results = run_all(tmp_path, quick=True, progress=False)
    index = (tmp_path / "report.md").read_text()
    assert "[properties](properties/report.md)" in index
    assert "9/9" in index
    assert "| study | title | checks passed |" in index
    # the index of a quick run speaks of every study, not of one
    assert "These are the small versions of the studies" in index
    assert "This is the small version of the study" not in index
    assert results["properties"].passed


def test_studies_run_as_dask_tasks_like_here(tmp_path):
    """The studies can run on the sweep machinery (a local Dask cluster here)."""
    names = ["properties", "higham"]
    here = run_all(tmp_path / "here", quick=True, progress=False, names=names)
    there = run_all(
        tmp_path / "dask", quick=True, progress=False, names=names, cluster={"workers": 2}
    )
    assert list(there) == names
    for name in names:
        assert [c.to_dict() for c in there[name].checks] == [c.to_dict() for c in here[name].checks]
        assert (tmp_path / "dask" / name / "report.md").stat().st_size > 0
    index = (tmp_path / "dask" / "report.md").read_text()
    assert "[properties](properties/report.md)" in index and "[higham]" in index


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys):
    from mlplab.cli import main

    code = main(
        [
            "experiment",
            "run",
            "properties",
            "--quick",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "p"),
        ]
    )
    assert code == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


@pytest.mark.parametrize("seeds", [0, 1001, 10**8])
def test_a_seed_count_out_of_range_is_refused_and_nothing_is_written(tmp_path, seeds):
    with pytest.raises(ValueError, match="--seeds must be a whole number from 1 to 1000"):
        run_study("properties", tmp_path / "out", quick=True, seeds=seeds)
    assert not (tmp_path / "out").exists()


def test_an_interrupted_study_leaves_no_folder(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(properties, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study("properties", tmp_path / "new" / "out", quick=True)
    assert list((tmp_path / "new").iterdir()) == []


#: cos4 at 1-8-8-1 on 64 points, SGD at η = 9: the cost of seed 0 overflows at epoch 23 of 30
#: (seed 1's does not).
DIVERGING = ["n_train=64", "width=8", "epochs=30", "lr=9", "batch_size=16"]


@pytest.mark.parametrize("name", ["cos4", "label-noise"])
def test_a_diverged_study_says_so_and_the_fix_instead_of_its_numbers(tmp_path, name):
    run = run_with_settings(tmp_path, name, *DIVERGING)
    assert run.report.startswith(f"# {name}: training diverged (quick run)\n")
    answer = run.report.split("## Answer\n\n")[1].split("\n\n")[0]
    assert answer.startswith(
        "**Training diverged**, so this run answers nothing: SGD at lr 9 (batch 16, 30 epochs) "
        "on 64 points, 1-8-8-1 sigmoid: seed 0 of 1 diverged; for seed 0, training diverged at "
        "epoch 23: the cost became inf."
    )
    assert answer.endswith("Fix: a smaller learning rate, e.g. `--set lr=0.1` (the default).")
    assert "nan" not in run.report.lower() and "## Figures" not in run.report
    assert "| SGD learning rate η (lr) | 9 |" in run.report
    assert run.metrics["passed"] is False
    assert run.metrics["checks"] == [
        {
            "name": "every training run ends without diverging",
            "passed": False,
            "measured": answer.split(": ", 1)[1].split(". The cost")[0],
        }
    ]
    assert run.metrics["diverged"]["lr"] == 9 and run.metrics["diverged"]["seeds"] == [0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "metrics.json",
        "report.md",
    ]


def test_a_diverged_study_exits_1_and_prints_the_failed_check(tmp_path, capsys):
    from mlplab.cli import main

    args = ["experiment", "run", "cos4", "--quick", "--quiet", "--seeds", "2"]
    assert main([*args, "--out", str(tmp_path), "--set", *DIVERGING]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "check failed cos4: every training run ends without diverging (SGD at lr 9" in err
    assert "seed 0 of 2 diverged" in err  # seed 1 ran to the end


def test_an_old_parameter_name_is_answered_with_its_new_name(tmp_path):
    with pytest.raises(ValueError, match=r"has no parameter n \(n is now n_train\); it takes n_tr"):
        run_study("cos4", tmp_path / "out", quick=True, params={"n": 64})
    assert not (tmp_path / "out").exists()

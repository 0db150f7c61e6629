import numpy as np
import pytest

from mlplab.cli import main
from mlplab.experiments.cos4 import Setup, epoch_label, sparse_text
from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_cos4_quick_is_the_baseline_setup(quick_run):
    run = quick_run("cos4")
    assert_report_files(run)
    assert run.metrics["parameters"] == 4353
    assert run.metrics["n_train"] == 512
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    # an epoch is one pass over the data (as in mlplab train): 200 epochs of N/B = 4 steps
    assert run.metrics["steps"] == 200 * 4
    assert run.result.config["run"]["epochs"] == 200
    report = (run.out / "report.md").read_text()
    assert "course's baseline setup" in report and "seed configuration" not in report
    assert "| epoch | one pass over a fresh permutation of the N training points |" in report


def test_cos4_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "cos4", "n_train=80", "width=8", "epochs=3", "lr=0.05", "batch_size=32"
    )
    # 8² + 4·8 + 1 parameters; an epoch is one pass over the data, ⌈80/32⌉ = 3 steps
    assert run.metrics["parameters"] == 97 and run.metrics["n_train"] == 80
    assert run.metrics["steps"] == 3 * 3
    assert run.config["run"]["epochs"] == 3  # the epochs of mlplab train: passes
    assert run.config["run"]["hidden"] == [8, 8] and run.config["run"]["lr"] == 0.05
    assert run.config["parameters"] == {
        "n_train": 80,
        "width": 8,
        "epochs": 3,
        "lr": 0.05,
        "batch_size": 32,
    }
    for text in (
        "1-8-8-1 sigmoid network",
        "p = 97 parameters",
        "N = 80 training, 16 validation",
        "SGD, η = 0.05, batch B = 32, 3 epochs",
        "| steps | 9 (⌈N/B⌉ = 3 per epoch) |",
    ):
        assert text in run.report
    assert "4353" not in run.report and "512" not in run.report


def test_cos4_batch_above_n_is_a_one_line_error(capsys, tmp_path):
    assert_one_line_error(
        capsys,
        tmp_path,
        "cos4",
        "n_train=64",
        "batch_size=128",
        message="batch_size must be at most n_train = 64",
    )


def test_an_epoch_is_one_pass_in_the_figures_and_in_show(capsys):
    """cos4's epochs are those of mlplab train and fit: one pass over the N points."""
    assert epoch_label(Setup()) == (
        "epoch (one pass over the N = 512 points: 4 SGD steps on batches of 128)"
    )
    assert epoch_label(Setup(n_train=80, batch_size=32)) == (
        "epoch (one pass over the N = 80 points: 3 SGD steps on batches of at most 32)"
    )
    assert main(["experiment", "show", "cos4"]) == 0
    shown = capsys.readouterr().out
    assert "passes over the N points" in shown and "⌊" not in shown


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ([-1.12, -1.19], None),  # inside |x| < 1.5: the sparse data explain nothing
        ([0.25], None),
        ([1.91], "; it lies beyond |x| = 1.5, where the data are sparse: only 3 of the 6"),
        ([-2.0, 1.91], "; all lie beyond |x| = 1.5"),
        ([-2.0, 0.25, 1.91], "; those of seeds 0 and 2 lie beyond |x| = 1.5"),
        ([-2.0, 0.25], "; that of seed 0 lies beyond |x| = 1.5"),
    ],
)
def test_sparse_data_are_named_only_where_the_largest_error_lies(where, said):
    x = np.array([-2.0, -1.6, 0.0, 0.3, 1.0, 1.7])
    text = sparse_text(np.array(where), x)
    assert text.startswith(said) if said else text == ""

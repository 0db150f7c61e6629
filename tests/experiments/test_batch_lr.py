import math

import pytest

from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_batch_lr_quick_fits_a_slope(quick_run):
    run = quick_run("batch-lr")
    assert_report_files(run)
    assert len(run.metrics["best_lr"]) == len(run.metrics["batch_sizes"])
    trained = run.metrics["trained"]
    assert len(trained) == len(run.metrics["batch_sizes"])
    # a slope is fitted through the batch sizes that trained, where there are two
    assert (run.metrics["slope"] is None) == (sum(trained) < 2)
    assert run.metrics["slope"] is None or math.isfinite(run.metrics["slope"])
    assert set(run.metrics["best_lr"]) <= set(run.metrics["learning_rates"])


def test_batch_lr_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "batch-lr", "batches=256,64", "epochs=2", "log_lr=-2,-1", "per_decade=1"
    )
    assert run.metrics["batch_sizes"] == [64, 256]
    assert run.metrics["learning_rates"] == pytest.approx([0.01, 0.1], rel=1e-12)
    assert set(run.metrics["best_lr"]) <= set(run.metrics["learning_rates"])
    for text in (
        "| batch sizes | 64, 256 |",
        "2 on a log grid from 0.01 to 0.1",
        "2 epochs",
        "B = 256 takes 4× fewer steps than B = 64",
    ):
        assert text in run.report


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["log_lr=-1,-2"], "log_lr takes two numbers lo,hi with at least one grid step"),
        (["log_lr=-1"], "log_lr takes two numbers lo,hi"),
        (["batches=64"], "batches needs at least two different sizes, each at most N = 512"),
        (["batches=64,1024"], "each at most N = 512"),
        (["log_lr=-9,0"], "log_lr must be between -8 and 2"),
    ],
)
def test_batch_lr_bad_settings_are_one_line_errors(capsys, tmp_path, settings, message):
    assert_one_line_error(capsys, tmp_path, "batch-lr", *settings, message=message)

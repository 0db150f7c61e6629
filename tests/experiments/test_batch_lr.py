import math

from tests.experiments.conftest import assert_report_files


def test_batch_lr_quick_fits_a_slope(quick_run):
    run = quick_run("batch-lr")
    assert_report_files(run)
    assert len(run.metrics["best_lr"]) == len(run.metrics["batch_sizes"])
    assert math.isfinite(run.metrics["slope"])
    assert set(run.metrics["best_lr"]) <= set(run.metrics["learning_rates"])

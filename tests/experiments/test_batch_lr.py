import itertools
import math

import numpy as np
import pytest

from mlplab.experiments.batch_lr import rule_verdict, slope_range, slope_text, tied_best
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
    # a batch size that did not train has no best η: "—" in the table, never a rate
    report = (run.out / "report.md").read_text()
    for b, t in zip(run.metrics["batch_sizes"], trained, strict=True):
        if not t:
            assert f"| {b} | — | — |" in report
    assert "no run trained)" not in report.replace("(no run trained)", "")


def test_a_two_percent_tie_is_a_tie():
    # the review's B = 8 row: 7.76e-3 at η = 0.0316 and 7.93e-3 at η = 0.0562 (2 seeds each)
    val = np.array([[0.0126, 0.0105], [0.00868, 0.00683], [0.00852, 0.00735], [0.00632, 0.456]])
    assert tied_best(val).tolist() == [False, True, True, False]
    # one seed: only the fraction TIE (5%) counts
    assert tied_best(np.array([[1.0], [1.04], [1.06], [np.inf]])).tolist() == [
        True,
        True,
        False,
        False,
    ]


def test_the_slope_range_is_the_least_and_largest_slope_over_the_tied_choices():
    b = np.array([8, 16, 32, 64, 128])
    low = np.array([0.0316, 0.0562, 0.0562, 0.0562, 0.0562])
    high = np.array([0.0562, 0.0562, 0.0562, 0.0562, 0.1])
    slopes = [
        np.polyfit(np.log10(b), np.log10(choice), 1)[0]
        for choice in itertools.product(*zip(low, high, strict=True))
    ]
    assert slope_range(b, low, high) == pytest.approx((min(slopes), max(slopes)), abs=1e-12)
    assert slope_text(-1e-16) == "0.00"


def test_a_rule_is_named_only_where_the_range_excludes_the_others():
    assert rule_verdict(0.30, 0.70) == "nearest to the square-root rule over the whole range"
    assert rule_verdict(0.0, 0.33).startswith(
        "nearest to a constant η at the low end and to the square-root rule at the high end"
    )
    assert "cannot tell these rules apart" in rule_verdict(0.0, 0.33)
    assert "(and to the square-root rule between)" in rule_verdict(-0.1, 0.9)
    assert rule_verdict(0.8, 1.3) == 'nearest to the "η ∝ B" rule over the whole range'


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


def test_batch_lr_measures_divergence_instead_of_stopping(tmp_path):
    # B = 16 diverges at η = 10 within 3 epochs: a measurement of this study, not a failure
    run = run_with_settings(
        tmp_path, "batch-lr", "batches=16,64", "epochs=3", "log_lr=0,2", "per_decade=1"
    )
    assert run.metrics["largest_stable_lr"][0] == 1.0
    assert "The largest rate that no seed diverged at is 1 to 100" in run.report
    assert "Training diverged" not in run.report

import math

import pytest

from mlplab.experiments.properties import LAMBDAS, ce_exact, ce_zero_text, scientific
from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_every_property_holds(quick_run):
    run = quick_run("properties")
    assert_report_files(run)
    failed = [c for c in run.result.checks if not c.passed]
    assert not failed, failed
    assert len(run.result.checks) == 9
    # mlplab's value is 0 only where the exact value leaves float64's range (λ ≈ 746)
    assert 0.99 * run.metrics["ce_underflow_from_lambda"] < run.metrics["ce_zero_from_lambda"]
    assert max(run.metrics["tanh_twin_max_difference"]) <= 1e-12
    # the exact column is exact where float64 underflows, and the cause of mlplab's 0 is named
    report = (run.out / "report.md").read_text()
    assert "| 1000 | 0.000000e+00 | 4.568363e-434 | below float64's range |" in report
    assert "cancellation" not in report
    assert "mlplab's cross_entropy agrees with it to a relative error of" in report
    assert "4.57e-434 at λ = 1000" in report


def test_the_exact_cross_entropy_is_exact_beyond_float64():
    for lam in (1.0, 20.0, 38.0, 100.0):
        assert float(ce_exact(lam, 10)) == pytest.approx(math.log1p(9 * math.exp(-lam)), rel=1e-15)
    assert scientific(ce_exact(1000.0, 10)) == "4.568363e-434"  # 9e^(−1000), below 4.9e-324
    assert scientific(ce_exact(2.0, 3)) == f"{math.log1p(2 * math.exp(-2.0)):.6e}"


def test_an_accurate_cross_entropy_is_not_blamed_on_cancellation():
    metrics = {
        "ce_zero_from_lambda": 745.1,
        "ce_underflow_from_lambda": 746.6,
        "ce_exact_text": [scientific(ce_exact(lam, 10)) for lam in LAMBDAS],
        "ce_relative_error": [2e-16] * (len(LAMBDAS) - 1) + [None],
        "ce_absolute_error": 1e-17,
    }
    text = ce_zero_text(metrics, 10)
    assert "cancellation" not in text
    assert "relative error of 2.0e-16 and returns 0 only from λ = 745.1" in text


def test_properties_settings_reach_the_report(tmp_path):
    run = run_with_settings(tmp_path, "properties", "classes=3", "twin=4", "outputs=2")
    assert run.config["classes"] == 3 and len(run.metrics["tanh_twin_max_difference"]) == 1
    # CE(λ e_y, y) = log(1 + (K − 1)e^(−λ)) with K = 3
    assert run.metrics["ce_exact"][0] == pytest.approx(math.log1p(2 * math.exp(-1.0)))
    assert run.metrics["passed"], [c for c in run.metrics["checks"] if not c["passed"]]
    for text in (
        "K = 3 classes",
        "(3 classes)",
        "random 2-4-1 sigmoid networks",
        "2 outputs of a random 1-8-2 tanh network",
    ):
        assert text in run.report


def test_properties_one_class_is_a_one_line_error(capsys, tmp_path):
    assert_one_line_error(
        capsys, tmp_path, "properties", "classes=1", message="classes must be >= 2"
    )

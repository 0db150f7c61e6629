import math

import pytest

from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_every_property_holds(quick_run):
    run = quick_run("properties")
    assert_report_files(run)
    failed = [c for c in run.result.checks if not c.passed]
    assert not failed, failed
    assert len(run.result.checks) == 9
    assert 30 < run.metrics["ce_zero_from_lambda"] < 45
    assert max(run.metrics["tanh_twin_max_difference"]) <= 1e-12


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

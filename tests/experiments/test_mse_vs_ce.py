import importlib.util

from tests.experiments.conftest import assert_report_files


def test_mse_vs_ce_quick(quick_run):
    run = quick_run("mse-vs-ce")
    assert_report_files(run)
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    assert run.metrics["digits_skipped"] is (not has_sklearn)
    assert ("digits" in run.metrics["summary"]) is has_sklearn
    grad = run.metrics["gradient_at_wrong"]["10.0"]
    assert grad["ce"] > 1e3 * grad["mse"]

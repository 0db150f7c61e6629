from tests.experiments.conftest import assert_report_files


def test_every_property_holds(quick_run):
    run = quick_run("properties")
    assert_report_files(run)
    failed = [c for c in run.result.checks if not c.passed]
    assert not failed, failed
    assert len(run.result.checks) == 9
    assert 30 < run.metrics["ce_zero_from_lambda"] < 45
    assert max(run.metrics["tanh_twin_max_difference"]) <= 1e-12

from tests.experiments.conftest import assert_report_files


def test_cos4_quick_is_the_seed_configuration(quick_run):
    run = quick_run("cos4")
    assert_report_files(run)
    assert run.metrics["parameters"] == 4353
    assert run.metrics["n_train"] == 512
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    # K epochs of N/B passes of N/B steps: 50 epochs of 16 steps in the quick form
    assert run.metrics["steps"] == 50 * 16

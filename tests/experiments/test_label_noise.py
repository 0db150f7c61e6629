from tests.experiments.conftest import assert_report_files


def test_label_noise_quick_measures_both_label_sets(quick_run):
    run = quick_run("label-noise")
    assert_report_files(run)
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    assert abs(run.metrics["noise_mse_of_labels"] - 0.25) < 0.025
    assert len(run.metrics["final_mse_vs_noisy_labels"]) == 2

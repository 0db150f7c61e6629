from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_label_noise_quick_measures_both_label_sets(quick_run):
    run = quick_run("label-noise")
    assert_report_files(run)
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    assert abs(run.metrics["noise_mse_of_labels"] - 0.25) < 0.025
    report = (run.out / "report.md").read_text()
    # the realised noise level and the nominal σ², each named as what it is
    level = f"{run.metrics['noise_mse_of_labels']:.3f}"
    assert f"mean squared noise (the noise level) is {level} against the nominal σ² = 0.25" in (
        report
    )
    assert f"the noise level {level} (the labels' mean squared noise)" in report
    assert "RMS errors of the answer are taken on the shaded [−1.5, 1.5]" in report
    assert len(run.metrics["final_mse_vs_noisy_labels"]) == 2


def test_label_noise_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "label-noise", "noise=0.2", "n_train=64", "width=8", "epochs=3", "batch_size=16"
    )
    assert run.metrics["noise_std"] == 0.2 and len(run.metrics["final_mse_vs_noisy_labels"]) == 1
    assert run.config["run"]["hidden"] == [8, 8] and run.config["noise"] == 0.2
    for text in (
        "# label-noise: does the cos4 network (p = 97, N = 64) fit noise on its labels?",
        "p = 97 parameters for N = 64 points",
        "N(0, 0.2²) noise",
        "1-8-8-1 sigmoid",
        "3 passes over the N points (12 steps of ⌈N/B⌉ = 4 per epoch)",
    ):
        assert text in run.report
    assert "4353" not in run.report


def test_label_noise_bad_noise_is_a_one_line_error(capsys, tmp_path):
    assert_one_line_error(
        capsys, tmp_path, "label-noise", "noise=-1", message="noise must be >= 0.01"
    )

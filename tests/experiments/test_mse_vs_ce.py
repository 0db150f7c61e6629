import importlib.util

from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_mse_vs_ce_quick(quick_run):
    run = quick_run("mse-vs-ce")
    assert_report_files(run)
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    assert run.metrics["digits_skipped"] is (not has_sklearn)
    assert ("digits" in run.metrics["summary"]) is has_sklearn
    grad = run.metrics["gradient_at_wrong"]["10.0"]
    assert grad["ce"] > 1e3 * grad["mse"]


def test_mse_vs_ce_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "mse-vs-ce", "hidden=4", "n_train=40", "noise=0.1", "lr=0.2", "epochs=3"
    )
    assert run.config["training"]["lr"] == 0.2 and run.config["training"]["epochs"] == 3
    assert run.metrics["early_epoch"] == 3
    moons = run.metrics["summary"]["moons"]["softmax CE"]
    assert len(moons["final_test_accuracy"]) == 1 and len(moons["accuracy_early"]) == 1
    for text in (
        "40 training and 40 test points, noise 0.1; 2-4-2",
        "SGD η = 0.2, batch 32, 3 epochs",
        "accuracy after 3 epochs",
    ):
        assert text in run.report
    assert "after 10 epochs" not in run.report


def test_mse_vs_ce_bad_noise_is_a_one_line_error(capsys, tmp_path):
    assert_one_line_error(
        capsys, tmp_path, "mse-vs-ce", "noise=2", message="noise must be between 0 and 1"
    )

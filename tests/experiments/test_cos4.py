from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_cos4_quick_is_the_seed_configuration(quick_run):
    run = quick_run("cos4")
    assert_report_files(run)
    assert run.metrics["parameters"] == 4353
    assert run.metrics["n_train"] == 512
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    # K epochs of N/B passes of N/B steps: 50 epochs of 16 steps in the quick form
    assert run.metrics["steps"] == 50 * 16


def test_cos4_settings_reach_the_report(tmp_path):
    run = run_with_settings(tmp_path, "cos4", "n=80", "width=8", "epochs=3", "lr=0.05", "batch=32")
    # 8² + 4·8 + 1 parameters; an epoch is ⌊80/32⌋ = 2 passes of ⌈80/32⌉ = 3 steps
    assert run.metrics["parameters"] == 97 and run.metrics["n_train"] == 80
    assert run.metrics["steps"] == 3 * 2 * 3
    assert run.config["run"]["hidden"] == [8, 8] and run.config["run"]["lr"] == 0.05
    for text in (
        "1-8-8-1 sigmoid network",
        "p = 97 parameters",
        "N = 80 training, 16 validation",
        "SGD, η = 0.05, batch 32, K = 3 epochs of 2 passes",
        "| steps | 18 (⌈N/B⌉ = 3",
    ):
        assert text in run.report
    assert "4353" not in run.report and "512" not in run.report


def test_cos4_batch_above_n_is_a_one_line_error(capsys, tmp_path):
    assert_one_line_error(
        capsys, tmp_path, "cos4", "n=64", "batch=128", message="batch must be at most n = 64"
    )

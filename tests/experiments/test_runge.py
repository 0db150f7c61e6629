from tests.experiments.conftest import assert_report_files


def test_runge_quick_reaches_1e_4_and_lbfgs_improves(quick_run):
    run = quick_run("runge")
    assert_report_files(run)
    assert run.check("validation MSE below 0.0001").passed
    assert max(run.metrics["final_val_mse_adam"]) < 1e-4
    assert all(e is not None for e in run.metrics["first_epoch_val_below_1e-4"])
    assert run.check("L-BFGS from the Adam solution").passed

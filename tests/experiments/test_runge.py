import json
import re

import numpy as np
import pytest

from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_runge_quick_reaches_1e_4_and_lbfgs_improves(quick_run):
    run = quick_run("runge")
    assert_report_files(run)
    assert run.check("validation MSE below 0.0001").passed
    assert max(run.metrics["final_val_mse_adam"]) < 1e-4
    assert all(e is not None for e in run.metrics["first_epoch_val_below_1e-4"])
    assert run.check("L-BFGS from the Adam solution").passed


def test_runge_quick_report_gives_the_seed_spread_and_short_numbers(quick_run):
    run = quick_run("runge")
    report = (run.out / "report.md").read_text()
    # the grid's x print as grid coordinates, not as 16-digit floats
    for x in run.metrics["x_of_max_error_adam"] + run.metrics["x_of_max_error_lbfgs"]:
        assert x == round(x, 3)
    assert not re.search(r"\d\.\d{6,}", report)
    # the He/Xavier ratio with three significant digits, and the seed ranges compared
    near = run.metrics["sweep_near_0_median"]
    he, xavier = np.array(near["He normal"]), np.array(near["Xavier normal"])
    ratio = he / xavier
    assert f"He init gives {ratio.min():.3g} to {ratio.max():.3g} times the Xavier error" in report
    overlap = run.metrics["seed_ranges_overlap_at"]
    assert f"overlap at {overlap} of the {len(ratio)} N" in report
    factors = {
        "more points": xavier[0] / xavier[-1],
        "He init": np.median(xavier / he),
        "L-BFGS": np.median(run.metrics["max_error_near_0_adam"])
        / np.median(run.metrics["max_error_near_0_lbfgs"]),
    }
    most = max(factors, key=factors.get)
    assert f"Of the three, {most} lowers it most ({factors[most]:.3g} times" in report
    # L-BFGS is described as full batch, not as the float64 one (Adam is float64 too)
    assert "L-BFGS in float64" not in report and "| precision | float64 throughout" in report
    config = json.loads((run.out / "config.json").read_text())
    assert not {"lr", "batch_size", "batch_sampling", "schedule", "momentum"} & set(config["lbfgs"])
    assert config["adam"]["lr"] == 1e-3 and "momentum" not in config["adam"]


def test_runge_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path,
        "runge",
        "hidden=8",
        "n_train=32",
        "epochs=4",
        "lr=0.01",
        "ns=16,48",
        "steps=5",
        "lbfgs=3",
    )
    assert run.config["parameters"] == {
        "hidden": [8],
        "n_train": 32,
        "epochs": 4,
        "lr": 0.01,
        "ns": [16, 48],
        "steps": 5,
        "lbfgs": 3,
    }
    assert run.config["adam"]["hidden"] == [8] and run.config["adam"]["epochs"] == 4
    assert run.metrics["sweep_n"] == [16, 48] and len(run.metrics["final_val_mse_adam"]) == 1
    assert run.report.splitlines()[0].startswith("# runge: a 1-8-1 tanh network")
    for text in ("| network | 1-8-1,", "32 training", "lr 0.01, batch 32, 4 epochs", "N = 16, 48",
                 "5 full-batch Adam steps each", "up to 3 iterations"):  # fmt: skip
        assert text in run.report
    assert run.config["lbfgs"]["epochs"] == 3 and run.config["sweep_steps"] == 5
    assert "1-64" not in run.report and "-64-1" not in run.report
    # four epochs do not reach the threshold: the answer says so in words
    assert "at epoch never (seeds 0; 0 of 1 seed reach it)" in run.report
    assert "None" not in run.report


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["ns=32"], "ns needs at least two different numbers of points"),
        (["lr=0"], "lr must be between 1e-08 and 10, got '0'"),
        (["lr=1e308", "epochs=1"], "lr must be between 1e-08 and 10, got '1e308'"),
        (["hidden=64,x"], "hidden takes whole numbers separated by commas, e.g. 64,64"),
    ],
)
def test_runge_bad_settings_are_one_line_errors(capsys, tmp_path, settings, message):
    assert_one_line_error(capsys, tmp_path, "runge", *settings, message=message)

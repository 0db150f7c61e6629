import itertools

import numpy as np

from mlplab.experiments.depth import other_cause_text, seeds_text, trains_text
from tests.experiments.conftest import assert_report_files


def test_depth_sigmoid_error_norms_decrease_with_depth(quick_run):
    run = quick_run("depth")
    assert_report_files(run)
    assert run.check("sigmoid: the error at the first hidden layer decreases with depth").passed
    norms = run.metrics["first_layer_delta_norm"]["sigmoid"]
    assert all(b < a for a, b in itertools.pairwise(norms))
    assert run.metrics["decay_per_layer"]["sigmoid"] < 1


def test_depth_report_has_two_tables_and_readable_names(quick_run):
    run = quick_run("depth")
    report = (run.out / "report.md").read_text()
    assert "## Error at the first hidden layer at initialisation" in report
    assert "## Training MSE after the budget" in report
    assert "mean over the points of ‖δ^[l]‖" in report
    assert "xavier_normal" not in report and "he_normal" not in report
    # the per-layer factor is written the same way in the table's note, the answer and the checks
    factor = f"{run.metrics['decay_per_layer']['sigmoid']:.3g}"
    assert report.count(f"multiplied by {factor} per layer") == 2
    assert f"sigmoid {factor}" in report
    limit = 0.1 * run.metrics["var_y"]
    for act, values in run.metrics["final_mse_median"].items():
        assert run.metrics["trains"][act] == [bool(v < limit) for v in values]


def test_which_depths_train_reads_the_same_for_every_pattern():
    depths = [2, 4, 8, 16, 32]
    assert trains_text("sigmoid", depths, [True, True, False, False, False]) == (
        "sigmoid trains with 2 and 4 hidden layers and not with 8, 16 or 32"
    )
    assert trains_text("relu", depths, [True] * 5) == (
        "ReLU trains at every depth (2, 4, 8, 16 and 32 hidden layers)"
    )
    assert trains_text("sigmoid", [2, 4, 8], [False] * 3) == (
        "sigmoid trains at no depth (2, 4 and 8 hidden layers)"
    )
    # a depth that fails between two that train is named, not hidden behind "from 8 on"
    assert trains_text("tanh", depths, [True, True, False, True, False]) == (
        "tanh trains with 2, 4 and 16 hidden layers and not with 8 or 32"
    )


def test_a_failure_without_vanishing_is_not_blamed_on_vanishing_gradients():
    depths = [2, 16, 32]
    decay = {"sigmoid": 0.25, "tanh": 0.984, "relu": 0.98}
    trains = {"sigmoid": [False] * 3, "tanh": [True, False, False], "relu": [True] * 3}
    text = other_cause_text(decay, trains, depths)
    assert text.startswith(" tanh's error does not vanish (a factor 0.984 per layer)")
    assert "failure with 16 and 32 hidden layers has another cause" in text
    assert "sigmoid" not in text and "ReLU" not in text  # vanishing, or no failure


def test_a_median_that_trains_names_the_seeds_that_do_not():
    final = {"relu": np.array([[0.001, 0.001], [0.002, 0.5], [0.001, 0.002]])}  # seeds × depths
    text = seeds_text(final, {"relu": [True, True]}, 0.01, [8, 32])
    assert "some seeds do not train for ReLU with 32 hidden layers (1 of 3 seeds)" in text
    assert seeds_text(final, {"relu": [True, False]}, 0.01, [8, 32]) == ""  # said already

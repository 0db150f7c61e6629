import numpy as np
import pytest

from mlplab import MLP
from mlplab.experiments.dead_relu import (
    DEAD,
    DEEP,
    WIDTH,
    active_units,
    kill_units,
    make_data,
    unit_numbers,
)
from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_dead_relu_units_unchanged_to_the_bit_and_leaky_units_move(quick_run):
    run = quick_run("dead-relu")
    assert_report_files(run)
    assert run.check("dead ReLU units: incoming weights and biases bitwise equal").passed
    assert run.check("dead ReLU units: outgoing weights bitwise equal").passed
    assert run.check("leaky ReLU units in the same place moved").passed
    assert run.check("units active on some point").passed
    assert all(b > 0 for b in run.metrics["leaky_max_bias_change"])


@pytest.mark.parametrize(
    ("sizes", "alpha", "bias"),
    [
        ((1, WIDTH, 1), 0.0, 0.0),
        ((1, WIDTH, 1), 0.01, 0.0),
        ((1, *DEEP, 1), 0.0, 0.0),
        ((1, *DEEP, 1), 0.0, -1.0),
        ((1, *DEEP, 1), 0.2, -0.5),
    ],
)
def test_active_units_are_the_hidden_units_with_z_above_zero_somewhere(sizes, alpha, bias):
    x, _ = make_data()
    activation = f"leaky_relu:{alpha}" if alpha else "relu"
    for seed in range(3):
        net = MLP(sizes, activation=activation, init="he_normal", bias_init=bias, seed=seed)
        kill_units(net, x, DEAD)
        z = [x @ net.weights[0].T + net.biases[0]]  # each hidden z^[l] by hand
        for W, b in zip(net.weights[1:-1], net.biases[1:-1], strict=True):
            z.append(np.where(z[-1] > 0, z[-1], alpha * z[-1]) @ W.T + b)
        expected = sum(int(np.count_nonzero(np.any(zl > 0, axis=0))) for zl in z)
        assert active_units(net, x) == expected
        assert expected < sum(sizes[1:-1])  # the killed units are off


def test_dead_relu_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "dead-relu", "width=8", "dead=3", "alpha=0.1", "deep=8,8", "bias=-0.5"
    )
    assert run.config["parameters"] == {
        "width": 8,
        "dead": 3,
        "alpha": 0.1,
        "deep": [8, 8],
        "bias": -0.5,
    }
    assert run.config["dead_units"] == [0, 1, 2] and run.metrics["dead_units"] == 3
    # units numbered from j = 1 as in the paper; both part 2 starts use He weights
    for text in ("1-8-1, ReLU or leaky ReLU (α = 0.1)", "| units j = 1, 2, 3: b_j", "1-8-8-1 ReLU"):
        assert text in run.report
    assert "biases −0.5" in run.report and "the 3 dead ReLU units" in run.report
    assert "biases 0 vs biases −0.5 (both He init)" in run.report
    assert "He init vs" not in run.report and "units 0.." not in run.report
    assert all(end <= 8 for _, end in run.metrics["leaky_active_start_end"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["width=4", "dead=5"], "dead must be at most width = 4"),
        (["bias=0"], "bias must not be 0"),
        (["alpha=2"], "alpha must be between 1e-06 and 1"),
        (["deep=8,0"], "deep must be >= 1"),
    ],
)
def test_dead_relu_bad_settings_are_one_line_errors(capsys, tmp_path, settings, message):
    assert_one_line_error(capsys, tmp_path, "dead-relu", *settings, message=message)


def test_units_are_numbered_from_one():
    assert unit_numbers(1) == "unit j = 1"
    assert unit_numbers(3) == "units j = 1, 2, 3"
    assert unit_numbers(6) == "units j = 1, …, 6"

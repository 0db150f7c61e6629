import numpy as np
import pytest

from mlplab import MLP
from mlplab.experiments.dead_relu import DEEP, WIDTH, active_units, kill_units, make_data
from tests.experiments.conftest import assert_report_files


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
        (DEEP, 0.0, 0.0),
        (DEEP, 0.0, -1.0),
        (DEEP, 0.2, -0.5),
    ],
)
def test_active_units_are_the_hidden_units_with_z_above_zero_somewhere(sizes, alpha, bias):
    x, _ = make_data()
    activation = f"leaky_relu:{alpha}" if alpha else "relu"
    for seed in range(3):
        net = MLP(sizes, activation=activation, init="he_normal", bias_init=bias, seed=seed)
        kill_units(net, x)
        z = [x @ net.weights[0].T + net.biases[0]]  # each hidden z^[l] by hand
        for W, b in zip(net.weights[1:-1], net.biases[1:-1], strict=True):
            z.append(np.where(z[-1] > 0, z[-1], alpha * z[-1]) @ W.T + b)
        expected = sum(int(np.count_nonzero(np.any(zl > 0, axis=0))) for zl in z)
        assert active_units(net, x) == expected
        assert expected < sum(sizes[1:-1])  # the killed units are off

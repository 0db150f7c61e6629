"""The gradient check's price (:mod:`mlplab.gradcheck`): forward passes times the cost of a
pass through every layer, refused before the first pass when it exceeds MAX_SECONDS."""

import numpy as np
import pytest

from mlplab import MLP, MlplabError
from mlplab.gradcheck import (
    MAX_SECONDS,
    check_cost,
    check_gradients,
    estimated_seconds,
    format_seconds,
    forward_passes,
)


def deep(layers: int) -> MLP:
    """The fuzzer's network: ``layers`` layers of width 2 (6 parameters each)."""
    return MLP([2] * (layers + 1), seed=0)


def test_a_deep_narrow_network_is_refused_before_any_pass(no_pass):
    # 18,000 parameters, under the former cap of 20,000, but 36,008 passes through 3,000
    # layers: minutes of work
    X, y = np.zeros((8, 2)), np.zeros((8, 2))
    with pytest.raises(MlplabError) as caught:
        check_gradients(deep(3000), X, y)
    message = str(caught.value)
    assert "\n" not in message
    assert "L = 3,001 layers and 18,000 parameters at 8 points" in message
    assert "36,008 forward passes through every layer, an estimated 7.3 min (at most 30 s)" in (
        message
    )
    assert "fewer layers or parameters" in message and "fewer points" in message


def test_the_price_grows_with_parameters_times_layers():
    assert forward_passes(deep(400)) == 2 * 2400 + 3 * 2 + 2
    ratio = estimated_seconds(deep(800), 8) / estimated_seconds(deep(400), 8)
    assert 3.9 < ratio < 4.1  # twice the parameters, each pass through twice the layers


def test_the_limit_falls_between_782_and_783_layers_of_width_2():
    check_cost(deep(782), 8)  # priced at 30.0 s, took 35 s (the comment at MAX_SECONDS)
    with pytest.raises(MlplabError, match="L = 784 layers"):
        check_cost(deep(783), 8)


def test_many_points_and_wide_layers_are_priced(no_pass):
    with pytest.raises(MlplabError, match="49 parameters at 100,000,000 points"):
        check_cost(MLP([3, 5, 4, 1]), 10**8)
    with pytest.raises(MlplabError, match="forward passes through every layer"):
        check_gradients(MLP([1, 2000, 2000, 1]), np.zeros((2, 1)), np.zeros((2, 1)))


@pytest.mark.parametrize(
    "sizes",
    [[3, 5, 4, 1], [3, 5, 1], [2, 4, 3, 2], [4, 6, 5, 4, 3], [1, 8, 8, 8, 8, 1], [2, 6, 6, 4, 3]],
    ids=lambda s: "-".join(map(str, s)),
)
def test_the_documented_and_tested_checks_cost_milliseconds(sizes):
    # the README's 3-5-4-1, the architectures of test_network.py and test_cli.py, at 8 points
    assert estimated_seconds(MLP(sizes), 8) < 0.02 < MAX_SECONDS


def test_a_network_of_more_than_20000_parameters_is_checked_when_it_is_cheap():
    # 1-142-142-1 (20,733 parameters) at 1 point: priced at 1.0 s, took 0.8 s
    net = MLP([1, 142, 142, 1], activation="tanh", seed=0)
    assert net.num_parameters > 20_000 and estimated_seconds(net, 1) < 1.1
    rng = np.random.default_rng(0)
    result = check_gradients(net, rng.standard_normal((1, 1)), rng.standard_normal((1, 1)))
    assert result.passed, result.errors


def test_bad_steps_are_refused():
    X, y = np.zeros((2, 1)), np.zeros((2, 1))
    for h in (0.0, float("nan"), -1e-5, "x", True):  # text was a TypeError, True taken as 1
        with pytest.raises(ValueError, match="h must be a finite number > 0"):
            check_gradients(MLP([1, 1]), X, y, h=h)
        with pytest.raises(ValueError, match="tol must be a finite number > 0"):
            check_gradients(MLP([1, 1]), X, y, tol=h)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0024, "0.0024 s"), (30, "30 s"), (59.4, "59 s"), (438, "7.3 min"), (7200, "2 h")],
)
def test_format_seconds(seconds, shown):
    assert format_seconds(seconds) == shown

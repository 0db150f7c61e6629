"""The blocked, threaded input gradient equals the reference recursion, in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mlplab import MLP, Activation
from mlplab.engine import igrad


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "gelu"])
def test_blocked_equals_reference(act):
    net = MLP([3, 20, 30, 1], act, seed=4)
    X = np.random.default_rng(0).uniform(-2, 2, (5000, 3))
    ref = net.input_gradient(X, engine="reference")
    fast = igrad.input_gradient(net, X, block=700, threads=2)
    scale = 1e-14 * np.max(np.abs(ref))  # rounding, relative to the gradient's size
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=scale)
    np.testing.assert_allclose(net.input_gradient(X), ref, rtol=1e-12, atol=scale)


def test_extra_memory_does_not_grow_with_the_points():
    net = MLP([1, 64, 64, 1], "tanh", seed=1)

    def extra(n: int) -> int:
        X = np.linspace(-1, 1, n).reshape(-1, 1)
        tracemalloc.start()
        out = net.input_gradient(X, engine="fast")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak - out.nbytes

    # Two lanes, each with a^[l], z^[l], δ^[l], σ'(z^[l]) for one block of rows: a bound that
    # does not depend on the number of points. (Which lane allocates first varies from run to
    # run, so the peaks of two runs differ by a fraction of a block; compare with the bound.)
    bound = 1.25 * 2 * 4 * igrad.BLOCK_ROWS * sum(net.sizes) * 8
    whole_batch = 200_000 * sum(net.sizes) * 8  # one a^[l] per layer for every point at once
    for n in (20_000, 200_000):
        assert extra(n) < bound < whole_batch / 10, (n, bound)


def test_user_activation_keeps_the_reference_path():
    cube = Activation("cube", lambda z: z**3, lambda z: 3 * z**2, lambda z: 6 * z)
    net = MLP([1, 4, 1], cube, seed=0)
    X = np.linspace(-1, 1, 10_000).reshape(-1, 1)
    assert np.array_equal(net.input_gradient(X), net.input_gradient(X, engine="reference"))
    with pytest.raises(ValueError, match="built-in activations"):
        net.input_gradient(X, engine="fast")

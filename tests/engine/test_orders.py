"""Row orders drawn as fit draws them, into buffers kept across epochs."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.engine.orders import epoch_order, integers, order_buffer, permutation


def _same_state(ours, numpys):
    """Both generators are at the same place: their next draws agree."""
    return ours.integers(0, 1 << 40) == numpys.integers(0, 1 << 40)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 2048, 5001])
def test_permutation_draws_numpys_permutation(n):
    order = np.full(n, -1, np.int64)
    for seed in range(5):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        permutation(ours, order)
        assert np.array_equal(order, numpys.permutation(n))
        assert _same_state(ours, numpys)


@pytest.mark.parametrize("n", [1, 2, 10, 2048, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40])
def test_integers_draws_numpys_integers(n):
    out = np.full(37, -1, np.int64)
    for seed in range(3):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        integers(ours, n, out)
        assert np.array_equal(out, numpys.integers(0, n, size=37))
        assert _same_state(ours, numpys)


def test_epoch_order_draws_as_fit_draws_into_one_buffer():
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    order = order_buffer(10, 3, True)
    assert order.shape == (10,)
    for _ in range(3):  # the same buffer, epoch after epoch
        epoch_order(ours, 10, True, order)
        assert np.array_equal(order, numpys.permutation(10))
    order = order_buffer(10, 3, False)
    assert order.shape == (12,)
    for _ in range(3):
        epoch_order(ours, 10, False, order)
        assert np.array_equal(order, numpys.integers(0, 10, size=(4, 3)).reshape(-1))
    assert _same_state(ours, numpys)

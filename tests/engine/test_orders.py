"""Row orders drawn as fit draws them, into buffers kept across epochs, from a Generator or
from its PCG64 state (:mod:`mlplab.engine.pcg`)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
from numba import njit
from numba.np.random.random_methods import random_interval

from mlplab.engine.orders import (
    _draw32,
    _draw64,
    _interval,
    epoch_order,
    integers,
    order_buffer,
    permutation,
)
from mlplab.engine.pcg import draws

SOURCES = ["generator", "pcg64 state"]


def _source(rng, source):
    """A context giving what the draws take: the Generator, or its state array (put back into
    the Generator at the end)."""
    return nullcontext(rng) if source == "generator" else draws(rng)


def _same_state(ours, numpys):
    """Both generators are at the same place: their next draws agree."""
    return ours.integers(0, 1 << 40) == numpys.integers(0, 1 << 40)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("n", [0, 1, 2, 7, 2048, 5001])
def test_permutation_draws_numpys_permutation(n, source):
    order = np.full(n, -1, np.int64)
    for seed in range(5):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        ours.integers(0, 9, seed % 2), numpys.integers(0, 9, seed % 2)  # half a draw kept
        with _source(ours, source) as rng:
            permutation(rng, order)
        assert np.array_equal(order, numpys.permutation(n))
        assert _same_state(ours, numpys)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("n", [1, 2, 10, 2048, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40])
def test_integers_draws_numpys_integers(n, source):
    out = np.full(37, -1, np.int64)
    for seed in range(3):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        with _source(ours, source) as rng:
            integers(rng, n, out)
        assert np.array_equal(out, numpys.integers(0, n, size=37))
        assert _same_state(ours, numpys)


@pytest.mark.parametrize("source", SOURCES)
def test_epoch_order_draws_as_fit_draws_into_one_buffer(source):
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    with _source(ours, source) as rng:
        order = order_buffer(10, 3, True)
        assert order.shape == (10,)
        for _ in range(3):  # the same buffer, epoch after epoch
            epoch_order(rng, 10, True, order)
            assert np.array_equal(order, numpys.permutation(10))
        order = order_buffer(10, 3, False)
        assert order.shape == (12,)
        for _ in range(3):
            epoch_order(rng, 10, False, order)
            assert np.array_equal(order, numpys.integers(0, 10, size=(4, 3)).reshape(-1))
    assert _same_state(ours, numpys)


@njit
def _bounded_draws(rng, tops, ours):
    """Draws below each of ``tops`` with ours (:func:`_interval`) or with Numba's port of
    NumPy's ``random_interval``."""
    bits = rng.bit_generator
    out = np.empty(tops.shape[0], np.int64)
    for i in range(tops.shape[0]):
        top = tops[i]
        if not ours:
            out[i] = random_interval(bits, top)
        elif top <= 0xFFFFFFFF:
            out[i] = _interval(bits, top, _draw32)
        else:
            out[i] = _interval(bits, top, _draw64)
    return out


def test_bounded_draws_are_numpys_at_every_width():
    # the 64-bit draws serve permutations of 2^32 rows or more: checked here, draw by draw,
    # against Numba's port of NumPy's own bounded draw (whose results pass through float64:
    # exact below 2^53)
    tops = np.array([1, 2, 3, 1000, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40, 2**50 + 3] * 20)
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    assert np.array_equal(_bounded_draws(ours, tops, True), _bounded_draws(numpys, tops, False))
    assert _same_state(ours, numpys)

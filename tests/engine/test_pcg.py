"""NumPy's PCG64 generator as a state array that the compiled loops draw from."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.np.random.generator_core import next_uint32, next_uint64

from mlplab.engine.pcg import STATE_SIZE, draws, set_state, state_of


@njit
def _raw_draws(bits, kinds):
    """A 64-bit draw for each 64 in ``kinds``, a 32-bit one for each 32, from ``bits``."""
    out = np.empty(kinds.shape[0], np.uint64)
    for i in range(kinds.shape[0]):
        out[i] = next_uint64(bits) if kinds[i] == 64 else np.uint64(next_uint32(bits))
    return out


@njit
def _generator_draws(rng, kinds):
    return _raw_draws(rng.bit_generator, kinds)


def test_state_array_draws_numpys_numbers_and_ends_in_numpys_state():
    kinds = np.random.default_rng(0).choice([32, 64], 500)  # 32-bit halves kept and used
    for seed in range(4):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        s = state_of(ours)
        assert s.shape == (STATE_SIZE,) and s.dtype == np.uint64
        np.testing.assert_array_equal(_raw_draws(s, kinds), _generator_draws(numpys, kinds))
        set_state(ours, s)
        assert ours.bit_generator.state == numpys.bit_generator.state


def test_draws_puts_the_state_back_even_when_the_loop_fails():
    ours, numpys = np.random.default_rng(5), np.random.default_rng(5)
    kinds = np.full(7, 32)
    with pytest.raises(RuntimeError), draws(ours) as rng:
        assert isinstance(rng, np.ndarray)
        _raw_draws(rng, kinds)
        raise RuntimeError("stopped")
    _generator_draws(numpys, kinds)
    assert ours.bit_generator.state == numpys.bit_generator.state


def test_other_bit_generators_are_drawn_from_as_they_are():
    rng = np.random.Generator(np.random.MT19937(3))
    assert state_of(rng) is None
    with draws(rng) as source:
        assert source is rng

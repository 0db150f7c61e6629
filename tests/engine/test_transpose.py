"""Transposes in register blocks against NumPy's, for every shape the BLAS loop can hand them."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.engine.transpose import BLOCK_BYTES, transpose


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "rows, cols",
    # whole blocks, rows or columns left over, both, one row or column, smaller than a block
    [(64, 64), (16, 24), (13, 21), (17, 64), (64, 3), (1, 9), (9, 1), (3, 2), (1, 1)],
)
def test_transpose_equals_numpys_and_touches_nothing_else(dtype, rows, cols):
    rng = np.random.default_rng(rows * 100 + cols)
    w_off, t_off = 3, 5  # away from the start, with entries either side that must stay
    W = rng.normal(size=w_off + rows * cols + 2).astype(dtype)
    T = np.full(t_off + rows * cols + 4, 7.0, dtype)
    before = W.copy()
    transpose(W, w_off, rows, cols, T, t_off)
    expected = W[w_off : w_off + rows * cols].reshape(rows, cols).T
    np.testing.assert_array_equal(T[t_off : t_off + rows * cols].reshape(cols, rows), expected)
    assert (T[:t_off] == 7.0).all() and (T[t_off + rows * cols :] == 7.0).all()
    np.testing.assert_array_equal(W, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_block_of_distinct_values_lands_entry_for_entry(dtype):
    # one whole block, every entry distinct: a wrong shuffle mask moves some entry
    n = BLOCK_BYTES // np.dtype(dtype).itemsize
    W = np.arange(n * n, dtype=dtype)
    T = np.zeros(n * n, dtype)
    transpose(W, 0, n, n, T, 0)
    np.testing.assert_array_equal(T.reshape(n, n), W.reshape(n, n).T)

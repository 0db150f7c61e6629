"""The compiled loops' views of flat buffers: the same arrays as slicing and reshaping."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from mlplab.engine.views import rows_view


@njit
def _rows(buf, offset, rows, n):
    return rows_view(buf, offset, rows, n)


@njit
def _fill_rows(buf, offset, rows, n, value):
    rows_view(buf, offset, rows, n)[...] = value


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize(("offset", "rows", "n"), [(0, 3, 4), (5, 2, 7), (11, 1, 1), (0, 0, 3)])
def test_rows_view_is_the_slice_reshaped(dtype, offset, rows, n):
    buf = np.arange(40).astype(dtype)
    v = _rows(buf, offset, rows, n)
    assert v.shape == (rows, n) and v.dtype == dtype and v.flags.c_contiguous
    np.testing.assert_array_equal(v, buf[offset : offset + rows * n].reshape(rows, n))


def test_rows_view_shares_the_buffer_and_keeps_it_alive():
    buf = np.zeros(30)
    _fill_rows(buf, 6, 2, 5, 7.0)
    assert np.all(buf[6:16] == 7.0) and np.all(buf[:6] == 0.0) and np.all(buf[16:] == 0.0)
    v = _rows(np.arange(30.0), 10, 4, 5)
    assert v.base is not None  # the view owns a reference to the buffer
    gc.collect()  # the only one left
    np.testing.assert_array_equal(v, np.arange(10.0, 30.0).reshape(4, 5))
    v[0, 0] = -1.0
    assert v[0, 0] == -1.0


def test_views_refuse_arrays_that_are_not_c_contiguous():
    with pytest.raises(TypingError):
        _rows(np.zeros((4, 3)), 0, 2, 2)  # a 2-D buffer

"""The fused passes of the dense stepper add in NumPy's order, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.engine.fused import column_sums, pairwise_sum

SIZES = [*range(1, 140), 255, 256, 257, 1000, 8191, 8192, 8193, 20_000]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pairwise_sum_is_numpys_sum_of_a_column(dtype):
    rng = np.random.default_rng(0)
    for n in SIZES:
        col = (rng.standard_normal((n, 1)) * 10.0 ** rng.uniform(-3, 3, (n, 1))).astype(dtype)
        assert pairwise_sum(col[:, 0], 0, n) == col.sum(axis=0)[0], n


@pytest.mark.parametrize("width", [1, 2, 3, 64])
def test_column_sums_equal_numpy_for_every_width(width):
    rng = np.random.default_rng(width)
    for rows in (1, 7, 8, 9, 32, 129, 300):
        d = rng.standard_normal((3, rows, width)) * 10.0 ** rng.uniform(-3, 3, (3, rows, width))
        out = np.empty((3, width))
        column_sums(d, out)
        assert np.array_equal(out, np.stack([m.sum(axis=0) for m in d])), (rows, width)

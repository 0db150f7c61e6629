"""The vectorisable exponential's parts: e^x = (2^k d + c) / d."""

from __future__ import annotations

import numpy as np
from numba import njit

from mlplab.engine.vexp import exp_parts


@njit(cache=False)
def _exp(x, out, ranges):
    for i in range(x.shape[0]):
        d, c, two_k = exp_parts(x[i])
        out[i] = (two_k * d + c) / d
        ranges[i, 0], ranges[i, 1] = d, c / (two_k + two_k)  # d and r


def exp_of(x):
    out, ranges = np.empty_like(x), np.empty((x.shape[0], 2), x.dtype)
    _exp(x, out, ranges)
    return out, ranges


def test_float64_parts_give_exp_within_two_ulp():
    x = np.concatenate([np.linspace(-708, 708, 200_001), np.linspace(-0.4, 0.4, 100_001)])
    e, ranges = exp_of(x)
    assert np.max(np.abs(e - np.exp(x)) / np.spacing(np.exp(x))) <= 2.0
    d, r = ranges[:, 0], ranges[:, 1]
    assert np.max(np.abs(r)) <= np.log(2) / 2 * (1 + 1e-15)
    assert np.all((d >= 1.6) & (d <= 2.4))


def test_float32_parts_give_exp_within_two_float32_ulp():
    x = np.linspace(-87, 87.5, 400_001).astype(np.float32)  # beyond, 2^k d may overflow
    e, _ = exp_of(x)
    exact = np.exp(x.astype(np.float64))
    spacing = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert e.dtype == np.float32
    assert np.max(np.abs(e.astype(np.float64) - exact) / spacing) <= 2.0


def test_nan_passes_through():
    e, _ = exp_of(np.array([np.nan, 0.0]))
    assert np.isnan(e[0]) and e[1] == 1.0

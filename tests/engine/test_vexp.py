"""The vectorisable exponential's parts: e^x = 2^k (1 + q), with q = e^r − 1 accurate."""

from __future__ import annotations

import numpy as np
from numba import njit

from mlplab.engine.vexp import expm1_parts


@njit(cache=False)
def _exp_and_expm1(x, e, m):
    for i in range(x.shape[0]):
        q, two_k = expm1_parts(x[i])
        e[i] = two_k * (1 + q)
        m[i] = q if two_k == 1 else two_k * (1 + q) - 1


def parts(x):
    e, m = np.empty_like(x), np.empty_like(x)
    _exp_and_expm1(x, e, m)
    return e, m


def test_float64_parts_give_exp_within_two_ulp_and_expm1_near_zero():
    x = np.concatenate([np.linspace(-708, 709, 200_001), np.linspace(-0.3, 0.3, 100_001)])
    e, m = parts(x)
    assert np.max(np.abs(e - np.exp(x)) / np.spacing(np.exp(x))) <= 2.0
    small = np.abs(x) < 0.34  # k = 0: q itself is e^x − 1, accurate relative to its size
    ref = np.expm1(x[small])
    nonzero = ref != 0
    assert np.max(np.abs(m[small] - ref)[nonzero] / np.spacing(np.abs(ref[nonzero]))) <= 2.0


def test_float32_parts_give_exp_within_two_float32_ulp():
    x = np.linspace(-87, 88, 400_001).astype(np.float32)
    e, _ = parts(x)
    exact = np.exp(x.astype(np.float64))
    spacing = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert e.dtype == np.float32
    assert np.max(np.abs(e.astype(np.float64) - exact) / spacing) <= 2.0

"""The vectorised tanh against NumPy's and the exact values, over the whole range."""

from __future__ import annotations

import numpy as np

from mlplab.engine.vtanh import tanh_flat


def tanh_of(z: np.ndarray) -> np.ndarray:
    a = np.full_like(z, 7.0)
    tanh_flat(z, a)
    return a


def ulps(got: np.ndarray, exact: np.ndarray, dtype) -> np.ndarray:
    """|got − exact| in units of the last place of ``exact`` in ``dtype``."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def test_float64_tanh_is_within_three_ulp_of_numpy_everywhere():
    rng = np.random.default_rng(0)
    z = np.concatenate(
        [
            rng.normal(0, 1, 400_000),
            np.linspace(-25, 25, 200_001),
            np.linspace(-1, 1, 200_001),
            rng.choice([-1, 1], 50_000) * 10.0 ** rng.uniform(-320, 1, 50_000),  # tiny ones
        ]
    )
    a, ref = tanh_of(z), np.tanh(z)
    assert np.all(np.abs(a) <= 1)
    nonzero = ref != 0
    assert np.max(ulps(a[nonzero], ref[nonzero], np.float64)) <= 3.0
    assert np.array_equal(np.signbit(a), np.signbit(z))  # odd, to the sign of its zero


def test_float64_tanh_of_special_values():
    z = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -1e-310, 20.0, -30.0, 1e300])
    a = tanh_of(z)
    np.testing.assert_array_equal(a[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(a[1]) and not np.signbit(a[0])
    assert np.isnan(a[4])
    np.testing.assert_array_equal(a[5:], np.tanh(z[5:]))  # tiny: tanh z = z; large: ±1


def test_float32_tanh_is_within_three_float32_ulp_of_the_exact_value():
    z = np.concatenate([np.linspace(-30, 30, 600_001), np.linspace(-1, 1, 200_001)]).astype(
        np.float32
    )
    a = tanh_of(z)
    exact = np.tanh(z.astype(np.float64))  # the float32 inputs, exactly
    assert a.dtype == np.float32
    normal = np.abs(exact) >= np.finfo(np.float32).tiny
    assert np.max(ulps(a[normal], exact[normal], np.float32)) <= 3.0
    b = tanh_of(np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32))
    np.testing.assert_array_equal(b[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(b[1]) and np.isnan(b[4])


def test_tanh_in_place_gives_the_same_numbers():
    z = np.random.default_rng(1).normal(0, 3, 1001)
    a = z.copy()
    tanh_flat(a, a)
    np.testing.assert_array_equal(a, tanh_of(z))

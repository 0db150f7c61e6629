"""The vectorised logistic sigmoid against the reference, over the whole range."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.activations import sigmoid
from mlplab.engine.vsigmoid import sigmoid_biased, sigmoid_flat, sigmoid_inplace


def sigmoid_of(z: np.ndarray) -> np.ndarray:
    """The vectorised sigmoid of a copy of ``z``."""
    a = np.array(z, copy=True).reshape(-1)
    sigmoid_inplace(a, a.size)
    return a.reshape(np.shape(z))


def exact_sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) in extended precision (64-bit significand), rounded to float64 at the end: off the
    exact value by half a float64 unit in the last place at most, up to 2^-11 of one."""
    e = np.exp(-np.abs(np.asarray(z, np.longdouble)))  # e^-|z|: no overflow
    return np.where(np.asarray(z) >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float64)


def test_vectorised_sigmoid_is_within_two_ulp_of_the_exact_value_everywhere():
    z = np.concatenate(
        [np.linspace(-2e4, 2e4, 40_001), np.linspace(-800, 800, 100_001), [-np.inf, np.inf]]
    ).reshape(-1, 1)
    a = sigmoid_of(z)
    exact = exact_sigmoid(z)
    assert np.all((a >= 0) & (a <= 1))
    assert np.max(np.abs(a - exact)) <= 2.3e-16  # absolute: σ in [0, 1]
    normal = exact > 1e-300
    assert np.max(np.abs(a - exact)[normal] / np.spacing(exact[normal])) <= 2.0
    assert np.max(np.abs(a - sigmoid.f(z))[normal] / exact[normal]) <= 6.7e-16  # 3 ulp of expit
    # where σ is below 1e-300 (or 0: z < -745), so is σ from the clamped exp
    assert np.all(a[~normal] <= 1.001e-300)


def test_vectorised_sigmoid_propagates_nan():
    z = np.array([[0.0, np.nan, 1.0]])
    a = sigmoid_of(z)
    assert a[0, 0] == 0.5 and np.isnan(a[0, 1])
    assert abs(a[0, 2] - exact_sigmoid(1.0)) <= np.spacing(exact_sigmoid(1.0))


def test_float32_sigmoid_is_within_three_float32_ulp_of_the_exact_value():
    z = np.concatenate(
        [np.linspace(-200, 200, 400_001), np.linspace(-20, 20, 100_001), [-np.inf, np.inf]]
    ).astype(np.float32)
    a = sigmoid_of(z)
    exact = sigmoid.f(z.astype(np.float64))  # the float32 inputs, exactly
    assert a.dtype == np.float32 and np.all((a >= 0) & (a <= 1))
    err = np.abs(a.astype(np.float64) - exact)
    normal = exact >= np.finfo(np.float32).tiny
    ulp = np.spacing(exact[normal].astype(np.float32)).astype(np.float64)
    assert np.max(err[normal] / ulp) <= 3.0  # scipy's float32 expit is off by 2.2 itself
    assert np.all(a[~normal] <= 1.3e-38)  # σ(z) for z > 87: from the clamped exponential


def test_float32_sigmoid_propagates_nan():
    z = np.array([[0.0, np.nan, 1.0]], np.float32)
    a = sigmoid_of(z)
    assert a[0, 0] == 0.5 and np.isnan(a[0, 1])
    assert abs(float(a[0, 2]) - float(sigmoid.f(np.array(1.0)))) <= 6e-8


def test_in_place_sigmoid_leaves_the_entries_past_n_alone():
    for dtype in (np.float64, np.float32):
        z = np.array([0.0, 1.0, -np.inf], dtype)
        sigmoid_inplace(z, 2)
        assert z[0] == 0.5 and 0.73 < z[1] < 0.74 and z[2] == -np.inf and z.dtype == dtype


@pytest.mark.parametrize("shape", [(37, 19), (300, 7), (5, 400), (1, 1), (0, 3)])
def test_biased_sigmoid_gives_the_sigmoid_of_the_sum_bit_for_bit(shape):
    # blocks shorter and longer than one run of the pass
    rng = np.random.default_rng(0)
    n = shape[1]
    for dtype in (np.float64, np.float32):
        z = rng.normal(0, 30, shape).astype(dtype)
        if z.size > 8:
            z.flat[3], z.flat[5], z.flat[7] = np.nan, np.inf, -np.inf
        b = rng.normal(0, 5, n).astype(dtype)
        want = sigmoid_of(z + b)  # the sum rounded in the arrays' precision, as in the pass
        a = z.copy()
        sigmoid_biased(a, b)
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, want)


def test_sigmoid_into_another_array_gives_the_in_place_numbers():
    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.float32):
        z = np.concatenate([rng.normal(0, 30, 1000), [np.nan, np.inf, -np.inf]]).astype(dtype)
        out = np.full_like(z, 7.0)
        sigmoid_flat(z, out, z.size - 1)  # the last entry left as it is
        np.testing.assert_array_equal(out[:-1], sigmoid_of(z)[:-1])
        assert out[-1] == 7.0 and out.dtype == dtype

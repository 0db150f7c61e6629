"""Products in register tiles against NumPy's, for every shape and form the BLAS loop uses."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mlplab.engine.gemm import _VECTORS, _WIDE, VECTOR_BYTES, product, product_slope


def run(M, N, K, transposed, with_bias, dtype, rng):
    """C = bias + op(A) B through product(), in buffers with room around the operands; returns
    C, the exact value, and the buffer of C."""
    pad = 3  # operands at an offset, with entries either side the product must not touch
    if transposed:  # op(A) = Aᵀ for A (K, M): the weight gradient's Δᵀ
        Am = rng.normal(size=(K, M)).astype(dtype)
        a_si, a_sk, op_a = 1, M, Am.T
    else:  # A (M, K) row by row: the forward pass and backprop
        Am = rng.normal(size=(M, K)).astype(dtype)
        a_si, a_sk, op_a = K, 1, Am
    Bm = rng.normal(size=(K, N)).astype(dtype)
    bias = rng.normal(size=N + pad).astype(dtype)
    A = np.concatenate([np.zeros(pad, dtype), Am.reshape(-1)])
    B = np.concatenate([np.zeros(pad, dtype), Bm.reshape(-1)])
    C = np.full(M * N + 2 * pad, 7.0, dtype)
    product(A, pad, a_si, a_sk, B, pad, N, C, pad, N, M, N, K, bias, pad if with_bias else -1)
    exact = op_a.astype(np.float64) @ Bm.astype(np.float64)
    if with_bias:
        exact += bias[pad:]
    return C[pad : pad + M * N].reshape(M, N), exact, C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
def test_products_of_every_shape_equal_numpys(dtype, transposed):
    # full tiles, rows and columns left over, one row, one column, and an empty inner sum
    rng = np.random.default_rng(0)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    for M in (1, 3, 4, 5, 64, 67):
        for N in (1, 7, 16, 17, 33, 64):
            for K in (0, 1, 5, 64):
                for with_bias in (False, True):
                    got, exact, C = run(M, N, K, transposed, with_bias, dtype, rng)
                    assert got.dtype == dtype
                    scale = max(1.0, float(np.max(np.abs(exact))))
                    assert np.max(np.abs(got - exact)) <= tol * scale * max(K, 1), (M, N, K)
                    assert np.all(C[:3] == 7.0) and np.all(C[-3:] == 7.0)  # nothing else written


@pytest.mark.parametrize("seed", range(1, 9))
def test_float64_products_sum_each_entry_in_order_with_fused_multiply_adds(seed):
    # the order the tiles promise: each entry from its bias, k = 0, 1, ... one fma at a time,
    # in the tiles (4 rows by 8 or 16 columns), in the row left over (wide tiles of 32 or 64
    # columns, then narrow ones) and in the entries they leave over; each fma rounded once
    # from its exact value (a Fraction)
    lanes = VECTOR_BYTES // 8  # float64 entries per vector: a wide tile, a narrow one, 3 more
    M, N, K = 5, (_WIDE + _VECTORS) * lanes + 3, 9
    rng = np.random.default_rng(seed)
    got, _, _ = run(M, N, K, False, True, np.float64, rng)
    rng = np.random.default_rng(seed)
    Am, Bm = rng.normal(size=(M, K)), rng.normal(size=(K, N))
    bias = rng.normal(size=N + 3)[3:]
    want = np.empty((M, N))
    for i in range(M):
        for j in range(N):
            total = float(bias[j])
            for k in range(K):
                total = float(Fraction(Am[i, k]) * Fraction(Bm[k, j]) + Fraction(total))
            want[i, j] = total
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_product_slope_equals_a_product_then_the_delta_pass(dtype):
    # δ = (Δ W) ⊙ (1 − a) a and its column sums, in the tiles' epilogue, against the product
    # and then a pass that scales each entry and adds each row into the sums: the same bits
    rng = np.random.default_rng(1)
    one, pad = dtype(1.0), 3
    wide = _WIDE * VECTOR_BYTES // np.dtype(dtype).itemsize  # a wide tile's columns
    for M in (1, 3, 4, 5, 64, 67):
        for N in (1, 7, 16, 17, 33, 64, wide + 3):
            for K in (0, 1, 5, 64):
                Am = rng.normal(size=(M, K)).astype(dtype)
                Bm = rng.normal(size=(K, N)).astype(dtype)
                S = np.concatenate([np.zeros(pad, dtype), rng.uniform(0, 1, M * N).astype(dtype)])
                A = np.concatenate([np.zeros(pad, dtype), Am.reshape(-1)])
                B = np.concatenate([np.zeros(pad, dtype), Bm.reshape(-1)])
                want = np.full(M * N + 2 * pad, 7.0, dtype)
                product(A, pad, K, 1, B, pad, N, want, pad, N, M, N, K, want, -1)
                d = want[pad : pad + M * N].reshape(M, N)
                a = S[pad:].reshape(M, N)
                want_sums = np.zeros(N, dtype)
                for i in range(M):
                    d[i] = d[i] * ((one - a[i]) * a[i])
                    want_sums += d[i]
                got = np.full(M * N + 2 * pad, 7.0, dtype)
                sums = np.full(N + 2 * pad, 5.0, dtype)
                product_slope(A, pad, K, 1, B, pad, N, got, pad, N, M, N, K, S, pad, sums, pad)
                np.testing.assert_array_equal(got, want, err_msg=str((M, N, K)))
                np.testing.assert_array_equal(sums[pad : pad + N], want_sums)
                assert np.all(sums[:pad] == 5.0) and np.all(sums[pad + N :] == 5.0)

"""Fused elementwise kernels for the dense stepper: one pass over memory, and no GIL.

NumPy spends a pass over memory (and a call) on every operation; the dense stepper's
elementwise work — adding the biases, scaling δ by σ'(z), summing δ over the batch — is short
enough that passes and calls, not arithmetic, decide its time. These Numba kernels do each in
one pass, in the same order of floating-point operations as the NumPy code they replace
(sums included: :func:`pairwise_sum`), so the values are bit for bit those of
:meth:`mlplab.MLP.forward` and :meth:`mlplab.MLP.backward`.
They release the GIL, so the threads of an ensemble's lanes run them side by side.

Arrays are C-contiguous, with the ensemble's model axis first (M = 1 for one network): a
batch quantity is ``(M, B, n)`` and a per-layer vector ``(M, n)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", nogil=True)
def add_bias(z, b):
    """z[m, r, :] += b[m, :] for every row r. Shapes (M, B, n) and (M, n)."""
    for m in range(z.shape[0]):
        for r in range(z.shape[1]):
            for j in range(z.shape[2]):
                z[m, r, j] += b[m, j]


@njit(cache=True, error_model="numpy", nogil=True)
def affine_scalar_input(a, w, b, z):
    """z[m, r, j] = a[m, r] * w[m, j] + b[m, j]: a layer fed by one input unit (n_{l-1} = 1).

    Shapes: ``a`` (M, B), ``w`` and ``b`` (M, n), ``z`` (M, B, n).
    """
    for m in range(z.shape[0]):
        for r in range(z.shape[1]):
            x = a[m, r]
            for j in range(z.shape[2]):
                z[m, r, j] = x * w[m, j] + b[m, j]


@njit(cache=True, error_model="numpy", nogil=True)
def _block_sum(x, start, n):
    """NumPy's pairwise sum of a run of at most 128: eight running sums (see pairwise_sum)."""
    if n < 8:
        res = x[start]  # NumPy starts from 0; 0 + x equals x
        for i in range(1, n):
            res += x[start + i]
        return res
    r0, r1, r2, r3 = x[start], x[start + 1], x[start + 2], x[start + 3]
    r4, r5, r6, r7 = x[start + 4], x[start + 5], x[start + 6], x[start + 7]
    i = 8
    while i < n - n % 8:
        k = start + i
        r0 += x[k]
        r1 += x[k + 1]
        r2 += x[k + 2]
        r3 += x[k + 3]
        r4 += x[k + 4]
        r5 += x[k + 5]
        r6 += x[k + 6]
        r7 += x[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += x[start + i]
        i += 1
    return res


@njit(cache=True, error_model="numpy", nogil=True)
def _left_part(n):
    """Where NumPy splits a run longer than 128: half of it, rounded down to a multiple of 8."""
    half = n // 2
    return half - half % 8


@njit(cache=True, error_model="numpy", nogil=True)
def pairwise_sum(x, start, n):
    """Σ x[start : start + n] (n ≥ 1) in NumPy's pairwise order, bit for bit (up to the sign
    of a zero sum), in the dtype of ``x``.

    NumPy sums a contiguous run — which is what ``delta.sum(axis=0)`` of a one-column δ is — in
    blocks of up to 128 with eight running sums, splitting a longer run in two and adding the
    halves' sums; a column of a wider δ is summed row after row instead (see
    :func:`column_sums`). The splitting runs on an explicit stack (Numba's on-disk cache does
    not keep recursive functions).
    """
    if n <= 128:
        return _block_sum(x, start, n)
    # node k of the path from the root: its run (starts, lens) and, once its left half is
    # summed, that sum (left) with done[k] = 1
    starts = np.empty(64, np.int64)
    lens = np.empty(64, np.int64)
    done = np.zeros(64, np.int64)
    left = np.empty(64, x.dtype)
    top = 0
    starts[0], lens[0] = start, n
    while True:
        if lens[top] > 128:  # descend into the left half
            starts[top + 1], lens[top + 1] = starts[top], _left_part(lens[top])
            done[top + 1] = 0
            top += 1
            continue
        value = _block_sum(x, starts[top], lens[top])
        while True:  # hand the value up until a node still needs its right half
            if top == 0:
                return value
            top -= 1
            if done[top] == 0:
                left[top], done[top] = value, 1
                half = _left_part(lens[top])
                starts[top + 1], lens[top + 1] = starts[top] + half, lens[top] - half
                done[top + 1] = 0
                top += 1
                break
            value = left[top] + value


@njit(cache=True, error_model="numpy", nogil=True)
def column_sums(d, out):
    """out[m, :] = Σ_r d[m, r, :] in NumPy's order for ``d[m].sum(axis=0)``: row after row,
    or pairwise for a single column. Shapes (M, B, n) and (M, n)."""
    for m in range(d.shape[0]):
        if d.shape[2] == 1:
            out[m, 0] = pairwise_sum(d[m, :, 0], 0, d.shape[1])
            continue
        for j in range(d.shape[2]):
            out[m, j] = d[m, 0, j]
        for r in range(1, d.shape[1]):
            for j in range(d.shape[2]):
                out[m, j] += d[m, r, j]


@njit(cache=True, error_model="numpy", nogil=True)
def times_dsigmoid(out, a, one):
    """out *= σ'(z) = (1 − a) a for the logistic sigmoid, from a = σ(z); flat arrays."""
    for k in range(out.shape[0]):
        out[k] *= (one - a[k]) * a[k]


@njit(cache=True, error_model="numpy", nogil=True)
def times_dtanh(out, a, one):
    """out *= σ'(z) = 1 − a² for tanh, from a = tanh(z); flat arrays."""
    for k in range(out.shape[0]):
        out[k] *= one - a[k] * a[k]

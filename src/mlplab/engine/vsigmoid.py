"""The logistic sigmoid of a whole block at once, in a form the compiler vectorises.

``math.exp`` is a libm call per element, which the compiler cannot vectorise; over a block of
rows its cost decides the time of a sigmoid layer. :func:`sigmoid_inplace` (and
:func:`sigmoid_flat` from one array into another, :func:`sigmoid_biased` for a layer's block
with its biases) computes σ(z) = 1 / (1 + e^−z) from the quotient form of the exponential in
:mod:`mlplab.engine.vexp`, with arithmetic that vectorises and one division per value, within
2 units in the last place of the exact value (as scipy's ``expit``). The compiled loops use it
wherever a layer's block is long enough to fill vectors. For float32 arrays it computes in
float32 throughout (:func:`_logistic32`): twice the elements per vector and a shorter
polynomial.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlplab.engine.vexp import by_precision, exp_parts


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _logistic_within(z, low, high, one):
    """1 / (1 + exp(−z)) for one float, z clamped to [``low``, ``high``] (in the precision of
    z, as ``one``); a NaN stays NaN (``max`` and ``min`` return their first argument then)."""
    z = min(max(z, low), high)
    d, c, two_k = exp_parts(-z)  # e^−z = (2^k d + c) / d
    return d / ((two_k + one) * d + c)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _logistic(z):
    """1 / (1 + exp(−z)) for one float64, z clamped to [−708, 708] (see
    :func:`sigmoid_inplace`)."""
    return _logistic_within(z, -708.0, 708.0, 1.0)


_LOW_F, _HIGH_F, _ONE_F = np.float32(-88.0), np.float32(87.0), np.float32(1.0)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _logistic32(z):
    """1 / (1 + exp(−z)) for one float32 in float32 arithmetic, z clamped to [−88, 87]."""
    return _logistic_within(z, _LOW_F, _HIGH_F, _ONE_F)


_sigma = by_precision(
    "_sigma",
    _logistic32,
    _logistic,
    """σ(z) for one float64 or float32 (:func:`_logistic` or :func:`_logistic32`); compiled
    code only.""",
)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def sigmoid_inplace(a, n):
    """a[:n] = 1 / (1 + exp(−a[:n])) in place for a float64 or float32 1-D ``a``, in one pass
    that the compiler vectorises (given one array as both input and output, a loop from one
    to the other would run scalar, ten times slower).

    With e^−z = (2^k d + c) / d (:func:`mlplab.engine.vexp.exp_parts`),
    σ(z) = d / ((2^k + 1) d + c). float64: z is clamped to [−708, 708] (which keeps a NaN),
    where 2^k stays a normal number; beyond it σ is 1 or below 4e-308 either way. float32: the
    same in float32 arithmetic, z clamped to [−88, 87]; for z below −87.7 the denominator
    overflows and σ is 0 (its value there is below the smallest normal float32). The clamp is
    written with ``max`` and ``min``, which compile to one vector instruction each (two chained
    conditional expressions compiled to three, and the float32 pass took a tenth longer).
    """
    for i in range(n):
        a[i] = _sigma(a[i])


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def sigmoid_flat(z, a, n):
    """a[:n] = σ(z[:n]) for distinct 1-D ``z`` and ``a`` of one precision: the numbers of
    :func:`sigmoid_inplace`, in one vectorised pass (given the same array twice, it would run
    the scalar loop)."""
    for i in range(n):
        a[i] = _sigma(z[i])


#: Values per pass of :func:`_biased_run`: a loop over a 64-wide row ran the sigmoid a third
#: slower than one over 1024 values (the loop's entry and exit cost per 64 values).
_RUN = 1024


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def _biased_run(a, t):
    """a[i] = σ(a[i] + t[i]) for 1-D ``a`` and ``t`` of one length, in one vectorised loop."""
    for i in range(a.shape[0]):
        a[i] = _sigma(a[i] + t[i])


@njit(cache=True, error_model="numpy", nogil=True)
def sigmoid_biased(a, b):
    """a = σ(a + b) in place for a C-contiguous float64 or float32 block ``a`` (rows, n) and
    biases ``b`` (n,): a sigmoid layer's bias and activation in one pass over its block (the
    numbers of :func:`sigmoid_inplace` on ``a + b``). The pass runs over the block's memory in
    runs of whole rows, about :data:`_RUN` values each, against a tile of the biases repeated
    row after row (one loop choosing the bias per entry ran a float64 ``cos4`` step a fifth
    slower, and a loop per 64-wide row a third slower than these runs)."""
    rows, n = a.shape
    per = max(1, min(rows, _RUN // max(n, 1)))
    tile = np.empty(per * n, a.dtype)
    for r in range(per):
        for j in range(n):
            tile[r * n + j] = b[j]
    flat = a.reshape(rows * n)
    for r0 in range(0, rows, per):
        r1 = min(rows, r0 + per)
        _biased_run(flat[r0 * n : r1 * n], tile[: (r1 - r0) * n])

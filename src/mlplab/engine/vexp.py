"""The exponential in a form the compiler vectorises, for the elementwise passes of the
compiled loops (:mod:`mlplab.engine.vsigmoid`, :mod:`mlplab.engine.vtanh`).

``math.exp`` is a libm call per element, which the compiler cannot vectorise, and NumPy's own
``exp`` and ``tanh`` are vectorised only on some processors (on a processor without AVX-512,
NumPy's float64 ``tanh`` takes about 14 ns per value). :func:`exp_parts` reduces the argument
and evaluates a polynomial with arithmetic alone, so that a loop over a block compiles to
vector instructions. It leaves the exponential as a quotient,

    e^x = (2^k d + c) / d,   k = round(x / ln 2),  r = x − k ln 2,
    d = S(r²) − r,  c = 2^(k+1) r,

(the classic rational form e^r = (S + r) / (S − r), S an even polynomial), because the sigmoid
and tanh divide anyway: each then costs one division in all,

    σ(−x) = 1 / (1 + e^x) = d / ((2^k + 1) d + c),
    tanh(x / 2) = (e^x − 1) / (e^x + 1) = ((2^k − 1) d + c) / ((2^k + 1) d + c),

with S of degree 5 in r², against degree 13 in r for e^r itself; c is exact, and for k = 0 the
numerator of tanh is c = 2r exactly, so that tanh keeps its relative accuracy as x → 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

# Each type and the type of the other kind (integer or float) of its width.
_SAME_WIDTH = {
    types.int64: types.float64,
    types.int32: types.float32,
    types.float64: types.int64,
    types.float32: types.int32,
}


@intrinsic
def _reinterpret(typingctx, x):
    """The value of the other kind with the bits of ``x``: int64 ↔ float64, int32 ↔ float32."""
    out = _SAME_WIDTH.get(x)
    if out is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(out))

    return out(x), codegen


_INV_LN2 = 1.0 / math.log(2.0)
_LN2_HI = 0.6931471803691238  # ln 2 split so that k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.9082149292705877e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds x to an integer
# The exponent field of 2^0, to add to k shifted into the field.
_EXPONENT_ONE = np.int64(1023 << 52)
# S(t) = 2 + t (P1 + t (P2 + ... + t P5)): the minimax coefficients of the classic rational
# form of e^r on |r| <= ln 2 / 2 (error below 2^-59), with which e^r = (S + r) / (S − r).
_P = (
    1.66666666666666019037e-01,
    -2.77777777770155933842e-03,
    6.61375632143793436117e-05,
    -1.65339022054652515390e-06,
    4.13813679705723846039e-08,
)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _parts64(x):
    """(d, c, 2^k) with e^x = (2^k d + c) / d, for one float64 x in [−708, 708] (see
    :func:`exp_parts`).

    k is rounded by adding and subtracting 1.5 · 2^52, and 2^k is built from the last bits of
    the sum, shifted into the exponent field (no conversion to an integer); it stays a normal
    number on the range, and so do 2^k d and c. r = x − k ln 2 is computed with ln 2 in two
    parts, so that it is exact, and |r| ≤ ln 2 / 2.
    """
    p1, p2, p3, p4, p5 = _P
    shifted = x * _INV_LN2 + _ROUND  # k in its last bits
    k = shifted - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO
    t = r * r
    s = 2.0 + t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))))
    two_k = _reinterpret((_reinterpret(shifted) << 52) + _EXPONENT_ONE)
    return s - r, two_k * (r + r), two_k


_F = np.float32
_INV_LN2_F = _F(1.0 / math.log(2.0))
_LN2_HI_F = _F(0.693359375)  # 355 / 512: k * _LN2_HI_F is exact in float32 for |k| < 2**15
_LN2_LO_F = _F(math.log(2.0) - 0.693359375)
_ROUND_F = _F(12582912.0)  # 1.5 * 2**23
_EXPONENT_ONE_F = np.int32(127 << 23)
_TWO_F = _F(2.0)
# The first three of _P suffice in float32: the next term is below 2e-10 of S.
_P_F = tuple(_F(p) for p in _P[:3])


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _parts32(x):
    """(d, c, 2^k) for one float32 x in [−87, 88], in float32 arithmetic: as
    :func:`_parts64`, with S of degree 3 in r² (2^k d overflows to infinity where e^x
    exceeds about 2^127)."""
    p1, p2, p3 = _P_F
    shifted = x * _INV_LN2_F + _ROUND_F  # k in its last bits
    k = shifted - _ROUND_F
    r = (x - k * _LN2_HI_F) - k * _LN2_LO_F
    t = r * r
    s = _TWO_F + t * (p1 + t * (p2 + t * p3))
    two_k = _reinterpret(np.int32((_reinterpret(shifted) << 23) + _EXPONENT_ONE_F))
    return s - r, two_k * (r + r), two_k


def by_precision(name: str, single: Callable, double: Callable, doc: str) -> Callable:
    """A function ``name`` of one float, for compiled code only, that runs the compiled
    function ``single`` on a float32 and ``double`` on a float64 (inlined where it is
    called)."""

    def chosen(x):
        raise NotImplementedError

    chosen.__name__ = chosen.__qualname__ = name
    chosen.__doc__ = doc

    @overload(chosen, inline="always")
    def _typed(x):
        if x == types.float32:
            return lambda x: single(x)
        if x == types.float64:
            return lambda x: double(x)
        return None

    return chosen


exp_parts = by_precision(
    "exp_parts",
    _parts32,
    _parts64,
    """(d, c, 2^k) with e^x = (2^k d + c) / d, for one float64 in [−708, 708] or one float32
    in [−87, 88], computed in its own precision (:func:`_parts64`, :func:`_parts32`);
    compiled code only. The caller clamps x to the range (a NaN passes through as NaN).
    d = S(r²) − r lies between 1.6 and 2.4, and c = 2^(k+1) r with |r| ≤ ln 2 / 2.""",
)

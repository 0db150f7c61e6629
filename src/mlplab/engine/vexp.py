"""The exponential in a form the compiler vectorises, for the elementwise passes of the
compiled loops (:mod:`mlplab.engine.vsigmoid`, :mod:`mlplab.engine.vtanh`).

``math.exp`` is a libm call per element, which the compiler cannot vectorise, and NumPy's own
``exp`` and ``tanh`` are vectorised only on some processors (on a processor without AVX-512,
NumPy's float64 ``tanh`` takes about 20 ns per value). :func:`expm1_parts` reduces the
argument and evaluates a polynomial with arithmetic alone, so a loop over a block compiles to
vector instructions: e^x = 2^k (1 + q), with q = e^r − 1 kept apart so that e^x − 1 keeps its
relative accuracy near x = 0 (what tanh needs).
"""

from __future__ import annotations

import math

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
_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(14))
# The exponent field of 2^0, to add to k shifted into the field.
_EXPONENT_ONE = np.int64(1023 << 52)


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _parts64(x):
    """(q, 2^k) with e^x = 2^k (1 + q), for one float64 x in [−708, 709].

    k = round(x / ln 2), r = x − k ln 2 (|r| ≤ ln 2 / 2, in two parts so that it is exact) and
    q = e^r − 1 from the degree-13 Taylor polynomial (remainder below 2e-16): its terms from
    r⁴ on in Estrin's scheme (a short dependency chain), the first four in Horner's (for
    accuracy). k is rounded by adding and subtracting 1.5 · 2^52, and 2^k is built from the
    last bits of the sum, shifted into the exponent field (no conversion to an integer); it
    stays a normal number on the range.
    """
    _, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = _TAYLOR
    shifted = x * _INV_LN2 + _ROUND  # k in its last bits
    k = shifted - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    tail = (c4 + c5 * r + (c6 + c7 * r) * r2) + (
        c8 + c9 * r + (c10 + c11 * r) * r2 + (c12 + c13 * r) * r4
    ) * r4
    q = r * (c1 + r * (c2 + r * (c3 + r * tail)))
    return q, _reinterpret((_reinterpret(shifted) << 52) + _EXPONENT_ONE)


_F = np.float32
_INV_LN2_F = _F(1.0 / math.log(2.0))
_LN2_HI_F = _F(0.693359375)  # 355 / 512: k * _LN2_HI_F is exact in float32 for |k| < 2**15
_LN2_LO_F = _F(math.log(2.0) - 0.693359375)
_ROUND_F = _F(12582912.0)  # 1.5 * 2**23
_EXPONENT_ONE_F = np.int32(127 << 23)
_TAYLOR_F = tuple(_F(1.0 / math.factorial(k)) for k in range(8))


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always")
def _parts32(x):
    """(q, 2^k) with e^x = 2^k (1 + q), for one float32 x in [−87, 88], in float32 arithmetic:
    as :func:`_parts64`, with the degree-7 Taylor polynomial in Horner's scheme (remainder
    below 6e-9, a tenth of float32's unit roundoff)."""
    _, c1, c2, c3, c4, c5, c6, c7 = _TAYLOR_F
    shifted = x * _INV_LN2_F + _ROUND_F  # k in its last bits
    k = shifted - _ROUND_F
    r = (x - k * _LN2_HI_F) - k * _LN2_LO_F
    q = ((((((c7 * r + c6) * r + c5) * r + c4) * r + c3) * r + c2) * r + c1) * r
    return q, _reinterpret(np.int32((_reinterpret(shifted) << 23) + _EXPONENT_ONE_F))


def expm1_parts(x):
    """(q, 2^k) with e^x = 2^k (1 + q) for one float64 in [−708, 709] or float32 in
    [−87, 88], computed in its own precision (:func:`_parts64`, :func:`_parts32`); compiled
    code only. The caller clamps x to the range (a NaN passes through as NaN)."""
    raise NotImplementedError


@overload(expm1_parts, inline="always")
def _expm1_parts_typed(x):
    if x == types.float32:
        return lambda x: _parts32(x)
    if x == types.float64:
        return lambda x: _parts64(x)
    return None

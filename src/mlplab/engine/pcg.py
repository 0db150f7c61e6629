"""NumPy's PCG64 generator inside the compiled loops, without a call per draw.

A compiled loop draws its row orders from the fit's ``numpy.random.Generator``
(:mod:`mlplab.engine.orders`). Numba reaches the generator through a function pointer, one
call per 32-bit draw: a 2048-row permutation took 30 µs, as long as a sixth of a ``cos4``
epoch's cost. When the generator is PCG64 (NumPy's default), :func:`draws` hands the loops
its state instead, as a small array (:data:`STATE_SIZE` words), and the draws here advance
it in place: the same 128-bit step, output and buffered 32-bit halves as NumPy's C code, so
the same numbers come out, and the generator is left as NumPy's own draws would leave it
(14 µs for the same permutation).

The state array stands in for a bit generator wherever Numba's bounded draws take one
(``random_interval`` and Lemire's methods): ``next_uint32`` and ``next_uint64`` are
overloaded for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.random.generator_core import next_uint32, next_uint64

#: PCG's default 128-bit multiplier (NumPy's ``PCG_DEFAULT_MULTIPLIER_128``).
MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
#: The state's words: the 128-bit state and increment (low word first), whether half of
#: the last 64-bit draw is kept for the next 32-bit one, and that half.
STATE_LO, STATE_HI, INC_LO, INC_HI, HAS_UINT32, UINTEGER = range(6)
STATE_SIZE = 6
_MASK64 = (1 << 64) - 1
#: The Numba type of a state array.
STATE_TYPE = types.Array(types.uint64, 1, "C")


@intrinsic
def _advance(typingctx, s):
    """Step the 128-bit state in ``s`` (state ← state · MULTIPLIER + inc, modulo 2^128) and
    return the XSL-RR output of the new state: (high ⊕ low) rotated right by high >> 58."""
    if s != STATE_TYPE:
        return None

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        i64, i128 = ir.IntType(64), ir.IntType(128)
        words = [cgutils.gep(builder, arr.data, k) for k in range(INC_HI + 1)]
        lo, hi, inc_lo, inc_hi = (builder.load(w) for w in words)

        def wide(low, high):
            return builder.or_(
                builder.zext(low, i128), builder.shl(builder.zext(high, i128), i128(64))
            )

        state = builder.add(builder.mul(wide(lo, hi), i128(MULTIPLIER)), wide(inc_lo, inc_hi))
        new_lo = builder.trunc(state, i64)
        new_hi = builder.trunc(builder.lshr(state, i128(64)), i64)
        builder.store(new_lo, words[STATE_LO])
        builder.store(new_hi, words[STATE_HI])
        mixed = builder.xor(new_hi, new_lo)
        rotate = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64, i64, i64]), "llvm.fshr.i64"
        )
        return builder.call(rotate, [mixed, mixed, builder.lshr(new_hi, i64(58))])

    return types.uint64(s), codegen


@overload(next_uint64, inline="always")
def _next_uint64(bitgen):
    """A 64-bit draw from a PCG64 state array (NumPy's ``pcg64_next64``)."""
    if bitgen == STATE_TYPE:
        return lambda bitgen: _advance(bitgen)
    return None


@overload(next_uint32, inline="always")
def _next_uint32(bitgen):
    """A 32-bit draw from a PCG64 state array (NumPy's ``pcg64_next32``): the low half of a
    64-bit draw, whose high half the next 32-bit draw takes."""
    if bitgen != STATE_TYPE:
        return None

    def impl(bitgen):
        if bitgen[HAS_UINT32]:
            bitgen[HAS_UINT32] = 0
            return types.uint32(bitgen[UINTEGER])
        x = _advance(bitgen)
        bitgen[HAS_UINT32] = 1
        bitgen[UINTEGER] = x >> types.uint64(32)
        return types.uint32(x & types.uint64(0xFFFFFFFF))

    return impl


def state_of(rng: np.random.Generator) -> np.ndarray | None:
    """The state of ``rng``'s bit generator as a state array, or None where it is not PCG64.

    Returns
    -------
    ndarray of uint64, shape (STATE_SIZE,), or None
    """
    bits = rng.bit_generator
    if type(bits) is not np.random.PCG64:
        return None
    st = bits.state
    state, inc = st["state"]["state"], st["state"]["inc"]
    words = [state & _MASK64, state >> 64, inc & _MASK64, inc >> 64]
    return np.array([*words, st["has_uint32"], st["uinteger"]], np.uint64)


def set_state(rng: np.random.Generator, s: np.ndarray) -> None:
    """Give ``rng``'s PCG64 bit generator the state array ``s``."""
    w = [int(x) for x in s]
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": w[STATE_LO] | w[STATE_HI] << 64, "inc": w[INC_LO] | w[INC_HI] << 64},
        "has_uint32": w[HAS_UINT32],
        "uinteger": w[UINTEGER],
    }


@contextmanager
def draws(rng: np.random.Generator) -> Iterator[np.random.Generator | np.ndarray]:
    """What a compiled loop draws from in place of ``rng``: its PCG64 state array, which goes
    back into ``rng`` at the end (whatever happens), or ``rng`` itself for another bit
    generator."""
    s = state_of(rng)
    if s is None:
        yield rng
        return
    try:
        yield s
    finally:
        set_state(rng, s)

"""An epoch's row order for the compiled loops, drawn as :func:`mlplab.fit` draws it.

A permutation of the rows per epoch (``rng.permutation(n)``) or draws with replacement
(``rng.integers(0, n, size)``): the same numbers from the same generator calls as NumPy's, into
a buffer kept across epochs (a new array per epoch was 8% of an epoch of the paper's 10-point
example). With a cost thread (:mod:`mlplab.engine.lane`) that thread draws them, ahead of the
training.

``rng`` is the Generator itself, or the state array of its PCG64 bit generator
(:func:`mlplab.engine.pcg.draws`), which gives the same numbers without a call per draw.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np.random.generator_core import next_uint32, next_uint64
from numba.np.random.random_methods import bounded_lemire_uint64, buffered_bounded_lemire_uint32

from mlplab.engine.pcg import STATE_TYPE


def _bits(rng):
    """What the draws take from ``rng``: a Generator's bit generator, or a PCG64 state array
    itself (compiled code only)."""
    raise NotImplementedError


@overload(_bits, inline="always")
def _bits_of(rng):
    if rng == STATE_TYPE:
        return lambda rng: rng
    return lambda rng: rng.bit_generator


@njit(cache=True, error_model="numpy", nogil=True)
def order_length(n, batch_size, shuffle):
    """The length of an epoch's row order over ``n`` rows: n for a permutation, steps ·
    batch_size (steps = ⌈n / batch_size⌉) for draws with replacement."""
    return n if shuffle else -(-n // batch_size) * batch_size


@njit(cache=True, error_model="numpy", nogil=True)
def order_buffer(n, batch_size, shuffle):
    """Room for an epoch's row order (:func:`epoch_order`), kept across epochs: shape
    (:func:`order_length`,)."""
    return np.empty(order_length(n, batch_size, shuffle), np.int64)


@njit(cache=True, error_model="numpy", nogil=True)
def epoch_order(rng, n, shuffle, order):
    """Draw an epoch's row order into ``order`` (:func:`order_buffer`): ``rng.permutation(n)``
    (:func:`permutation`), or the draws of ``rng.integers(0, n, size=order.shape[0])``
    (:func:`integers`)."""
    if shuffle:
        permutation(rng, order)
    else:
        integers(rng, n, order)


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _mask(top):
    """``top`` (uint64) with every bit below its highest set."""
    mask = top
    for shift in (1, 2, 4, 8, 16, 32):
        mask |= mask >> np.uint64(shift)
    return mask


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _draw32(bitgen):
    """A 32-bit draw, as uint64."""
    return np.uint64(next_uint32(bitgen))


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _draw64(bitgen):
    """A 64-bit draw."""
    return next_uint64(bitgen)


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _interval(bitgen, top, draw):
    """A draw from 0 .. ``top`` (≥ 1) as NumPy's ``random_interval`` makes it: draws masked to
    the bits of ``top`` until one is at most ``top``; ``draw`` is :func:`_draw32` for
    top < 2^32, else :func:`_draw64`."""
    high = np.uint64(top)
    mask = _mask(high)
    value = draw(bitgen) & mask
    while value > high:
        value = draw(bitgen) & mask
    return types.intp(value)


@njit(cache=True, error_model="numpy", nogil=True)
def permutation(rng, order):
    """order[:] = ``rng.permutation(order.shape[0])``: the same numbers from the same draws —
    NumPy's shuffle, a Fisher–Yates pass with NumPy's bounded draws (:func:`_interval`) —
    with plain swaps, where Numba's own ``permutation`` makes array views for each (2048
    rows: 12 µs against 69 µs). From a PCG64 state array it takes 11 µs; through Numba's
    port of NumPy's bounded draw, which tests the width of every draw inside its loops,
    it took 30."""
    bitgen = _bits(rng)
    for i in range(order.shape[0]):
        order[i] = i
    for i in range(order.shape[0] - 1, 0, -1):
        j = _interval(bitgen, i, _draw32) if i <= 0xFFFFFFFF else _interval(bitgen, i, _draw64)
        swap = order[i]
        order[i] = order[j]
        order[j] = swap


@njit(cache=True, error_model="numpy", nogil=True)
def integers(rng, n, out):
    """out[:] = ``rng.integers(0, n, size=out.shape[0])`` (n ≥ 1): the same numbers from the
    same draws, with the bounded draws of NumPy that Numba ports (Lemire's method; 32-bit
    draws below 2^32)."""
    bitgen = _bits(rng)
    top = n - 1
    if top == 0:  # NumPy draws nothing for a range of one
        out[:] = 0
    elif top < 0xFFFFFFFF:
        for i in range(out.shape[0]):
            out[i] = buffered_bounded_lemire_uint32(bitgen, top)
    elif top == 0xFFFFFFFF:
        for i in range(out.shape[0]):
            out[i] = next_uint32(bitgen)
    else:
        for i in range(out.shape[0]):
            out[i] = bounded_lemire_uint64(bitgen, top)

"""An epoch's row order for the compiled loops, drawn as :func:`mlplab.fit` draws it.

A permutation of the rows per epoch (``rng.permutation(n)``) or draws with replacement
(``rng.integers(0, n, size)``): the same numbers from the same generator calls as NumPy's, into
a buffer kept across epochs (a new array per epoch was 8% of an epoch of the paper's 10-point
example). With a cost thread (:mod:`mlplab.engine.lane`) that thread draws them, ahead of the
training.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.np.random.generator_core import next_uint32
from numba.np.random.random_methods import (
    bounded_lemire_uint64,
    buffered_bounded_lemire_uint32,
    random_interval,
)


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


@njit(cache=True, error_model="numpy", nogil=True)
def permutation(rng, order):
    """order[:] = ``rng.permutation(order.shape[0])``: the same numbers from the same draws —
    NumPy's shuffle, a Fisher–Yates pass with NumPy's bounded draws (``random_interval``, which
    Numba ports) — with plain swaps, where Numba's own ``permutation`` makes array views for
    each (2048 rows: 12 µs against 69 µs)."""
    bitgen = rng.bit_generator
    for i in range(order.shape[0]):
        order[i] = i
    for i in range(order.shape[0] - 1, 0, -1):
        j = types.intp(random_interval(bitgen, i))
        swap = order[i]
        order[i] = order[j]
        order[j] = swap


@njit(cache=True, error_model="numpy", nogil=True)
def integers(rng, n, out):
    """out[:] = ``rng.integers(0, n, size=out.shape[0])`` (n ≥ 1): the same numbers from the
    same draws, with the bounded draws of NumPy that Numba ports (Lemire's method; 32-bit
    draws below 2^32)."""
    bitgen = rng.bit_generator
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

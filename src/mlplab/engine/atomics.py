"""Atomic int64 operations and spin waits: how the compiled loops' two threads talk.

The two-thread loops (the cost thread of :mod:`mlplab.engine.lane`, the batch halves of
:mod:`mlplab.engine.blas_loop`) run as the two iterations of a Numba ``prange`` region and
share a small int64 array, ``state``, read and written with acquiring loads and releasing
stores. ``state[JOINED]`` says whether the second thread has started (:func:`partner`,
:func:`join`): the region must run both iterations at once for either to wait on the other
(see :func:`mlplab.engine.threads.two_at_once`), and should it not, the first finds no
partner within :data:`PATIENCE` spins and works alone, and the second, when it starts, finds
that and returns. Two threads that share each step's work wait for each other at
:func:`meet`.
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Spins the first thread waits for the second to start.
PATIENCE = 1 << 20
#: ``state[JOINED]``: whether the second thread has joined (``_WAITING``, ``_TOGETHER``,
#: ``_ALONE``).
JOINED = 0
_WAITING, _TOGETHER, _ALONE = 0, 1, 2


def _pointer(context, builder, signature, args):
    """The address of ``arr[i]`` (the first two arguments of an intrinsic)."""
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


@intrinsic
def load(typingctx, arr, i):
    """arr[i], an acquiring atomic load (int64 array)."""

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_pointer(context, builder, signature, args), "acquire", 8)

    return types.int64(arr, i), codegen


@intrinsic
def store(typingctx, arr, i, value):
    """arr[i] = value, a releasing atomic store (int64 array)."""

    def codegen(context, builder, signature, args):
        ptr = _pointer(context, builder, signature, args)
        builder.store_atomic(args[2], ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(arr, i, types.int64), codegen


@intrinsic
def swap(typingctx, arr, i, expected, value):
    """arr[i] = value if arr[i] == expected, atomically; whether it was."""

    def codegen(context, builder, signature, args):
        ptr = _pointer(context, builder, signature, args)
        pair = builder.cmpxchg(ptr, args[2], args[3], "acq_rel", "acquire")
        return builder.extract_value(pair, 1)

    return types.boolean(arr, i, types.int64, types.int64), codegen


@intrinsic
def fetch_add(typingctx, arr, i, value):
    """arr[i] += value, atomically; the value before (int64 array)."""

    def codegen(context, builder, signature, args):
        ptr = _pointer(context, builder, signature, args)
        return builder.atomic_rmw("add", ptr, args[2], "acq_rel")

    return types.int64(arr, i, types.int64), codegen


#: x86's spin-wait hint (``pause``); elsewhere the spins go without a hint.
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@intrinsic
def pause(typingctx):
    """The processor's spin-wait hint, where it has one that LLVM names (x86's ``pause``)."""

    def codegen(context, builder, signature, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@njit(cache=True, nogil=True)
def partner(state):
    """The first thread: whether the second has started (waiting at most :data:`PATIENCE`
    spins; after that the first works alone, and the second will not join)."""
    for _ in range(PATIENCE):
        if load(state, JOINED) == _TOGETHER:
            return True
        pause()
    return not swap(state, JOINED, _WAITING, _ALONE)


@njit(cache=True, nogil=True)
def join(state):
    """The second thread: whether it starts (the first has not yet given up waiting)."""
    return swap(state, JOINED, _WAITING, _TOGETHER)


#: ``state[MEETINGS * (1 + h)]`` counts thread ``h``'s meetings (:func:`meet`): the two counts
#: a cache line apart, so that neither thread's writes evict the line the other spins on.
MEETINGS = 8
#: ``state[CLAIMS]``: a counter that two threads draw pieces of work from (:func:`fetch_add`),
#: on a cache line of its own.
CLAIMS = 3 * MEETINGS


@njit(cache=True, nogil=True)
def meeting_state():
    """A fresh ``state`` for two threads that :func:`meet` and share work through
    ``state[CLAIMS]``."""
    return np.zeros(CLAIMS + MEETINGS, np.int64)


@njit(cache=True, nogil=True)
def meet(state, h, met):
    """Thread ``h`` (0 or 1) at its meeting number ``met + 1``: wait until the other thread has
    reached that meeting too (at once where ``state`` is empty: a thread that works alone).
    Both threads count their meetings alike, so none needs resetting. Returns ``met + 1``."""
    met += 1
    if state.shape[0] > 0:
        store(state, MEETINGS * (1 + h), met)
        while load(state, MEETINGS * (2 - h)) < met:
            pause()
    return met

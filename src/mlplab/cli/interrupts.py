"""Ctrl-C and SIGTERM stop a command the same way: an exception where the program is, so that
``finally`` blocks run (a run folder being written keeps its earlier run, temporary files go).

Python raises ``KeyboardInterrupt`` for Ctrl-C wherever the main thread is, including places
where an exception is printed and ignored (a finaliser, a callback from C) or leaves work
half-done (Numba's compiler, Dask's cluster while it starts): there the signal would be lost,
or the command would leave a mess. The handler here defers the signal in those places: it sends
the signal again a moment later, until the program is back in code where the exception
propagates.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: Top-level packages in whose code a signal waits (a compiler, and its callbacks from C).
DEFER_IN = ("numba", "llvmlite")
#: Top-level packages in whose constructors a signal waits: Dask's local cluster, interrupted
#: while it starts, is left half-made, and fails with a traceback when Python closes it at exit.
DEFER_IN_INIT = ("distributed",)
#: Seconds between tries of a deferred signal.
RETRY = 0.05


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt."""


def must_wait(frame: FrameType | None) -> bool:
    """True when an exception raised in ``frame`` would be swallowed or leave a compiler or a
    cluster half-made: inside a ``__del__``, in the code of :data:`DEFER_IN` or a constructor
    of :data:`DEFER_IN_INIT`, at any depth."""
    while frame is not None:
        package = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        name = frame.f_code.co_name
        if name == "__del__" or package in DEFER_IN:
            return True
        if name == "__init__" and package in DEFER_IN_INIT:
            return True
        frame = frame.f_back
    return False


def _stop(signum: int, frame: FrameType | None) -> None:
    if must_wait(frame):
        retry = threading.Timer(RETRY, os.kill, (os.getpid(), signum))
        retry.daemon = True
        retry.start()
        return
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


@contextmanager
def interrupts() -> Iterator[None]:
    """While the block runs, SIGINT raises ``KeyboardInterrupt`` and SIGTERM :class:`Terminated`
    (main thread only; elsewhere signals are left as they are)."""
    try:
        previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

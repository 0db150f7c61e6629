"""How mlplab runs its many small array products: BLAS on one thread, freed memory kept, and
independent blocks of points spread over the cores.

Training a small network and the forward recursion of second derivatives are long chains of
products of a few thousand entries. Two things decide their speed beyond the arithmetic:
threads that wait for each other, and memory handed back to the system only to be faulted in
again at the next step. :func:`small_products` removes both. Where the work falls into blocks
of points that do not depend on each other (derivatives at many points), :func:`each_block`
hands the blocks to one thread per core, each taking the next block when it is done: no thread
waits for another, so a core that is busy with other work slows only the blocks it takes.
:func:`each_task` does the same for any independent tasks, such as the training runs of a
study. :func:`matmul` is the product of every pass through a network, taken off NumPy's slow
loop where a layer has one unit.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

#: glibc's ``mallopt`` parameters, and the values :func:`keep_freed_memory` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

#: Contexts of :func:`small_products` open in this process, and the lock that counts them.
_open = 0
_limit_lock = threading.Lock()

#: The BLAS libraries threadpoolctl found, with the number of imported modules they were
#: found at (see :func:`_blas`).
_found: tuple[int, Any] | None = None

#: Whether this thread runs a task of :func:`each_task` (whose own tasks then run inline).
_inside = threading.local()

#: Most threads :func:`each_task` starts: each keeps a C heap of its own, and a container's CPU
#: quota does not show in the affinity mask that :func:`threads` reads.
MAX_THREADS = 8


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (as ``np.matmul``, stacked over leading axes), into ``out`` if given.

    Where the inner dimension is 1 — the first layer of a network with one input, the last of
    one with one output — the product is the broadcast ``a * b``, the same numbers: NumPy's
    matmul then leaves BLAS for a slower loop of its own.

    Parameters
    ----------
    a : ndarray, shape (..., m, k)
    b : ndarray, shape (..., k, n)
    out : ndarray, shape (..., m, n), optional

    Returns
    -------
    ndarray, shape (..., m, n)
    """
    if a.shape[-1] == 1 and b.shape[-2] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)


@contextmanager
def small_products() -> Iterator[None]:
    """A context for work made of many small products (training, the derivative sweeps): BLAS
    held to one thread, and freed memory kept for reuse (:func:`keep_freed_memory`).

    Threaded BLAS wins only on an idle machine: beside one busy process its threads wait for
    each other (``benchmarks/LOG.md`` has the runge study both ways). The limit is the
    process's: the first context to open sets it, and undoes it when it closes; contexts
    opened while it is in force (by the tasks of :func:`each_task`, or a second training
    thread) leave it alone. So the BLAS threads are back as they were when the outermost
    context closes, whatever order threads close theirs in. The thread that set the limit
    must be the one to undo it: OpenBLAS (0.3.31) keeps a limit set on one thread when
    another sets the old number back. A training that outlives the one that opened first, on
    a thread of its own, has BLAS's threads back for the rest of its run.
    """
    global _open
    keep_freed_memory()
    with _limit_lock:
        first = _open == 0
        _open += 1
        if first:
            limiter = _blas().limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        with _limit_lock:
            _open -= 1
            if first:
                limiter.restore_original_limits()


def _blas() -> Any:
    """threadpoolctl's controller of the thread pools loaded in this process, found again only
    after a module has been imported since the last time (finding them reads the list of
    loaded libraries, a large part of a short training run); call with ``_limit_lock`` held."""
    global _found
    if _found is None or _found[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _found = (len(sys.modules), ThreadpoolController())
    return _found[1]


@functools.cache
def keep_freed_memory() -> bool:
    """Let the C heap keep freed blocks for reuse (glibc on Linux; once per process).

    A training step allocates arrays of the batch's size (σ(z), σ'(z), the update's
    temporaries) and frees them. glibc hands blocks over 128 KiB back to the system at once
    (``mmap``), or whenever 2 × the largest such block lies free at the top of the heap, so each
    step faults the same pages in again. This raises the block size served from the heap to
    :data:`MMAP_THRESHOLD` and the free memory kept at its top to :data:`TRIM_THRESHOLD`. A
    process that sets ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` keeps its own
    values.

    Returns
    -------
    bool
        Whether the thresholds were set.
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    if {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & os.environ.keys():
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def threads() -> int:
    """Threads for :func:`each_task`: ``OMP_NUM_THREADS`` where it is set to a whole number (a
    Dask worker or a batch scheduler sets it to the process's share), else the cores this
    process may run on; at most :data:`MAX_THREADS`."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) >= 1:
        return min(int(given), MAX_THREADS)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_THREADS)


def each_block(n: int, rows: int, work: Callable[[slice], object]) -> None:
    """``work(block)`` for each slice of ``rows`` consecutive indices of ``range(n)``, as the
    tasks of :func:`each_task`: the blocks must be independent, each writing its own part of
    the output, and the results are then those of running them in order."""
    if rows < 1:
        raise ValueError(f"blocks need at least one row, got rows={rows}")
    each_task(-(-n // rows), lambda k: work(slice(k * rows, (k + 1) * rows)))


def each_task(n: int, work: Callable[[int], object]) -> None:
    """``work(k)`` for each ``k`` in ``range(n)``: independent tasks on up to :func:`threads`
    threads, each taking the next task when it finishes one.

    With more than one task they run under :func:`small_products` and under the caller's NumPy
    error settings (``np.errstate``); one task, or tasks started from inside a task (a
    derivative in a training run of a study), run on the calling thread. Tasks start in
    order of ``k``, so put the longest first. An exception in a task stops the tasks not yet
    started and is raised here once the running ones end; an interrupt (Ctrl-C) is raised at
    once, and the running tasks end in the background without starting others.
    """
    if n <= 1 or getattr(_inside, "task", False):
        for k in range(n):
            work(k)
        return
    errors = np.geterr()
    left = iter(range(n))
    take = threading.Lock()
    stop = threading.Event()

    def run_tasks() -> None:
        _inside.task = True
        try:
            with np.errstate(**errors):
                while not stop.is_set():
                    with take:
                        k = next(left, None)
                    if k is None:
                        return
                    try:
                        work(k)
                    except BaseException:
                        stop.set()
                        raise
        finally:
            _inside.task = False

    with small_products():
        workers = min(threads(), n)
        if workers == 1:
            run_tasks()
            return
        failed: list[BaseException] = []

        def worker() -> None:
            try:
                run_tasks()
            except BaseException as error:
                failed.append(error)

        # daemon threads: an interrupt returns at once; a task running then ends in the
        # background (or with the process) and starts no other
        pool = [threading.Thread(target=worker, name=f"mlplab-task-{i}", daemon=True)
                for i in range(workers)]  # fmt: skip
        try:
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
        except BaseException:
            stop.set()
            raise
        if failed:
            raise failed[0]

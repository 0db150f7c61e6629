"""How mlplab runs its many small array products: BLAS on one thread, freed memory kept, and
independent blocks of points spread over the cores.

Training a small network and the forward recursion of second derivatives are long chains of
products of a few thousand entries. Two things decide their speed beyond the arithmetic:
threads that wait for each other, and memory handed back to the system only to be faulted in
again at the next step. :func:`small_products` removes both. Where the work falls into blocks
of points that do not depend on each other (derivatives at many points), :func:`each_block`
hands the blocks to one thread per core, each taking the next block when it is done: no thread
waits for another, so a core that is busy with other work slows only the blocks it takes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

import numpy as np

#: glibc's ``mallopt`` parameters, and the values :func:`keep_freed_memory` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

#: Most threads :func:`each_block` starts: each keeps a C heap of its own, and a container's CPU
#: quota does not show in the affinity mask that :func:`threads` reads.
MAX_THREADS = 8


def small_products() -> AbstractContextManager:
    """A context for work made of many small products (training, the derivative sweeps): BLAS
    held to one thread, and freed memory kept for reuse (:func:`keep_freed_memory`).

    Threaded BLAS wins only on an idle machine: beside one busy process its threads wait for
    each other (``benchmarks/LOG.md`` has the runge study both ways). The limit is the
    process's, set on entering and undone on leaving, by the thread that entered.
    """
    from threadpoolctl import threadpool_limits

    keep_freed_memory()
    return threadpool_limits(1, user_api="blas")


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
    """Threads for :func:`each_block`: ``OMP_NUM_THREADS`` where it is set to a whole number
    (a Dask worker or a batch scheduler sets it to the process's share), else the cores this
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
    """``work(block)`` for each slice of ``rows`` consecutive indices of ``range(n)``.

    With more than one block they run under :func:`small_products` on up to :func:`threads`
    threads, each taking the next block when it finishes one, under the caller's NumPy error
    settings (``np.errstate``). The blocks must be independent, each writing its own part of
    the output: the results are then those of running them in order. An exception in a block
    (or an interrupt) stops the blocks not yet started and is raised here.
    """
    starts = range(0, n, rows)
    if len(starts) <= 1:
        for start in starts:
            work(slice(start, start + rows))
        return
    errors = np.geterr()
    left = iter(starts)
    take = threading.Lock()
    stop = threading.Event()

    def run_blocks() -> None:
        with np.errstate(**errors):
            while not stop.is_set():
                with take:
                    start = next(left, None)
                if start is None:
                    return
                try:
                    work(slice(start, start + rows))
                except BaseException:
                    stop.set()
                    raise

    with small_products():
        workers = min(threads(), len(starts))
        if workers == 1:
            run_blocks()
            return
        pool = ThreadPoolExecutor(workers)
        try:
            for future in [pool.submit(run_blocks) for _ in range(workers)]:
                future.result()
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True)

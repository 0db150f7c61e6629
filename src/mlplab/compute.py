"""How mlplab runs its many small array products: BLAS on one thread, freed memory kept.

Training a small network and the forward recursion of second derivatives are long chains of
products of a few thousand entries. Two things decide their speed beyond the arithmetic:
threads that wait for each other, and memory handed back to the system only to be faulted in
again at the next step. :func:`small_products` removes both.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
from contextlib import AbstractContextManager

#: glibc's ``mallopt`` parameters, and the values :func:`keep_freed_memory` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20


def small_products() -> AbstractContextManager:
    """A context for work made of many small products (training, the derivative sweeps): BLAS
    held to one thread, and freed memory kept for reuse (:func:`keep_freed_memory`).

    Threaded BLAS wins only on an idle machine: beside one busy process its threads wait for
    each other (``benchmarks/LOG.md`` has the runge study both ways).
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

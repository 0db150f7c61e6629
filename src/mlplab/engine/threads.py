"""Whether the compiled loops may run two threads at once.

:mod:`mlplab.engine.blas_loop` can split each batch into two halves that two threads take
(and share each end-of-epoch cost between them), and the small-network loops can compute
their end-of-epoch costs in a second thread (:mod:`mlplab.engine.lane`). Both run in a Numba
parallel region, which pays only where starting one takes about a microsecond: Numba's OpenMP
or TBB threading layer does, its fallback ``workqueue`` (where neither is installed) takes
about 90 µs, more than a whole step of a 1-64-64-1 network at batch 128. GNU OpenMP also
cannot go on in a process forked from one that has started its threads. Where two threads
cannot run at once, the halves run one after the other and the costs in the training thread,
with the same numbers. ``NUMBA_NUM_THREADS=1`` or ``OMP_NUM_THREADS=1`` keeps them on one
thread (Dask sets the latter in its workers, which already take one core each).
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

#: Threading layers that start a parallel region fast enough.
FAST_LAYERS = ("omp", "tbb")


def prange_only() -> dict:
    """Numba's ``parallel=`` option that runs ``prange`` loops in parallel and nothing else:
    no array expression or allocation becomes a parallel region, so code that does not take
    its ``prange`` branch starts no threads (as a forked child must not)."""
    passes = ("comprehension", "reduction", "inplace_binop", "setitem", "numpy", "stencil",
              "fusion")  # fmt: skip
    return {**dict.fromkeys(passes, False), "prange": True}


_started_in: int | None = None  # the process that started the layer's threads


@njit(cache=True, nogil=True, parallel=prange_only())
def _start(x):
    """A parallel region that does nothing but start the threading layer."""
    for h in prange(x.shape[0]):
        x[h] = h


def two_at_once() -> bool:
    """Whether two halves of work can run at once on Numba's threads, fast (see the module)."""
    global _started_in
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) < 2:
        return False
    if numba.get_num_threads() < 2 or (os.cpu_count() or 1) < 2:
        return False
    if _started_in is not None and _started_in != os.getpid():
        return False  # a forked child: the parent's threads are not here
    if _started_in is None:
        _start(np.zeros(2))
        _started_in = os.getpid()
    return numba.threading_layer() in FAST_LAYERS

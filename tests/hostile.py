"""Helpers for the property tests that feed mlplab's readers random and hostile input.

:func:`outcome` runs a reader under a memory bound: ``MLPLAB_MAX_BYTES`` is lowered so that a
declared size above it must be refused, and :mod:`tracemalloc` (which NumPy reports to)
measures the peak of what the reader allocated. The reader must return or raise mlplab's own
error type; anything else fails the test.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

from mlplab.errors import MlplabError

#: ``MLPLAB_MAX_BYTES`` during the property tests.
LIMIT = 8 * 2**20
#: Most any one reader call may allocate (the limit plus room for the reader's own objects).
PEAK = 4 * LIMIT

#: Settings of the property tests: a bound on each example's time, no complaint about the
#: function-scoped tmp_path (each example overwrites its one file).
FUZZ = settings(
    max_examples=150,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def _limit() -> Iterator[None]:
    old = os.environ.get("MLPLAB_MAX_BYTES")
    os.environ["MLPLAB_MAX_BYTES"] = str(LIMIT)
    try:
        yield
    finally:
        if old is None:
            del os.environ["MLPLAB_MAX_BYTES"]
        else:
            os.environ["MLPLAB_MAX_BYTES"] = old


def outcome(read: Callable[[], object]) -> object:
    """``read()``'s result, or the :class:`MlplabError` it raised, after checking that it
    allocated at most :data:`PEAK` bytes; any other exception propagates (a failed test)."""
    with _limit():
        tracemalloc.start()
        try:
            result = read()
        except MlplabError as exc:
            assert str(exc), "an error without a message"
            result = exc
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert peak <= PEAK, f"the reader allocated {peak} bytes"
    return result

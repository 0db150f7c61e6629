"""Small products: one BLAS thread and the C heap keeping freed blocks."""

import platform
import sys

from mlplab.compute import keep_freed_memory, small_products


def test_freed_memory_is_kept_unless_the_user_set_the_thresholds(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory.__wrapped__() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    glibc = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory.__wrapped__() is glibc


def test_small_products_hold_blas_to_one_thread():
    from threadpoolctl import threadpool_info

    with small_products():
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)

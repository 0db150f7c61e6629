"""Small products: one BLAS thread and the C heap keeping freed blocks; independent tasks on
the cores."""

import os
import platform
import signal
import sys
import threading

import numpy as np
import pytest

import mlplab
from mlplab.compute import each_block, each_task, keep_freed_memory, small_products


def test_freed_memory_is_kept_unless_the_user_set_the_thresholds(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory.__wrapped__() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    glibc = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory.__wrapped__() is glibc


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((7, 1), (1, 5)), ((3, 7, 1), (3, 1, 5)), ((7, 1), (3, 1, 5)), ((7, 4), (4, 5)),
     ((3, 7, 4), (4, 5)), ((1, 4), (4, 1))],
)  # fmt: skip
def test_matmul_gives_numpys_numbers(a_shape, b_shape):
    from mlplab.compute import matmul

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    expected = np.matmul(a, b)
    np.testing.assert_array_equal(matmul(a, b), expected)
    out = np.empty_like(expected)
    assert matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_small_products_hold_blas_to_one_thread():
    from threadpoolctl import threadpool_info

    with small_products():
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)


def test_blas_libraries_are_found_again_after_an_import(monkeypatch):
    # finding the loaded BLAS libraries takes longer than a short training run, so it is done
    # once, and again only when a module imported since may have loaded another one
    import types

    from mlplab import compute

    def found():
        with small_products(), compute._limit_lock:
            return compute._blas()

    first = found()
    assert found() is first
    monkeypatch.setitem(sys.modules, "mlplab_test_new_module", types.ModuleType("m"))
    again = found()
    assert again is not first
    assert [p["user_api"] for p in again.info()] == [p["user_api"] for p in first.info()]


def test_threads_follow_omp_num_threads_where_set(monkeypatch):
    from mlplab.compute import MAX_THREADS, threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    default = threads()
    assert 1 <= default <= MAX_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads() == min(3, MAX_THREADS)
    monkeypatch.setenv("OMP_NUM_THREADS", "1000")
    assert threads() == MAX_THREADS
    for unusable in ("0", "two", ""):
        monkeypatch.setenv("OMP_NUM_THREADS", unusable)
        assert threads() == default


@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_each_block_covers_every_row_once(monkeypatch, workers):
    monkeypatch.setenv("OMP_NUM_THREADS", workers)
    seen = np.zeros(1000, int)

    def work(block):
        seen[block] += 1

    each_block(1000, 64, work)
    assert np.all(seen == 1)


def test_each_block_raises_a_blocks_error_and_starts_no_more(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    started = []

    def work(block):
        started.append(block.start)
        if block.start == 0:
            raise ValueError("block 0 failed")

    with pytest.raises(ValueError, match="block 0 failed"):
        each_block(10_000, 1, work)
    assert len(started) <= 10  # the other thread stops after the block it is in


def test_each_block_runs_under_the_callers_numpy_error_settings(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")

    def work(block):
        np.exp(np.full(4, 1000.0))  # overflows

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        each_block(64, 1, work)
    with np.errstate(over="ignore"):
        each_block(64, 1, work)  # no RuntimeWarning (an error under this project's pytest)


@pytest.mark.parametrize("method", ["laplacian", "input_hessian", "input_gradient"])
def test_threaded_blocks_give_the_one_thread_numbers(monkeypatch, method):
    net = mlplab.MLP([3, 16, 16, 1], "tanh", seed=4)
    X = np.random.default_rng(0).uniform(-1, 1, (5000, 3))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    alone = getattr(net, method)(X)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert np.array_equal(getattr(net, method)(X), alone)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_interrupt_returns_at_once_and_the_running_task_starts_no_other(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    release, running, done = threading.Event(), threading.Event(), []

    def work(k):
        if k == 0:
            running.set()
            release.wait(60)
        elif k == 1:
            running.wait(60)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, raised in the main thread
            release.wait(60)
        done.append(k)

    # Python's own Ctrl-C handler, as in a terminal: a test run started in the background
    # inherits SIGINT ignored, and would never see the interrupt
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            each_task(10, work)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == []  # the main thread did not wait for the running tasks
    release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("mlplab-task-"):
            thread.join(60)
    assert sorted(done) == [0, 1]  # they ended without starting tasks 2..9


def test_tasks_started_inside_a_task_run_on_its_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    threads_of = {}

    def inner(k):
        threads_of.setdefault(k, set()).add(threading.get_ident())

    def outer(k):
        here = threading.get_ident()
        each_task(4, lambda j: inner((k, j)))
        assert all(threads_of[(k, j)] == {here} for j in range(4))

    each_task(2, outer)
    assert len(threads_of) == 8
    # the calling thread is not left marked as inside a task: these run on the worker threads
    each_task(2, inner)
    assert threading.get_ident() not in threads_of[0] | threads_of[1]


def test_blas_threads_are_restored_whatever_order_threads_close_their_contexts_in():
    from threadpoolctl import threadpool_info

    def blas():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas()
    inside, leave = threading.Event(), threading.Event()

    def second():
        with small_products():
            inside.set()
            leave.wait(60)

    with small_products():
        worker = threading.Thread(target=second)
        worker.start()
        inside.wait(60)
    assert blas() == before  # the first context closed first and restored the threads
    leave.set()
    worker.join(60)
    assert blas() == before  # the second one, closing last, changed nothing

"""When the BLAS loop runs the halves of a batch at once."""

from __future__ import annotations

import os
import subprocess
import sys

import numba

from mlplab.engine import threads


def test_two_threads_on_a_fast_layer_run_at_once(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    assert threads.two_at_once()
    assert threads._started_in == os.getpid()


def test_one_thread_one_core_a_slow_layer_or_omp_num_threads_1_do_not(monkeypatch):
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    assert not threads.two_at_once()
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not threads.two_at_once()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
    assert not threads.two_at_once()
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as in a Dask worker
    assert not threads.two_at_once()


def test_a_forked_child_of_a_process_with_threads_does_not(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    assert threads.two_at_once()  # started here
    monkeypatch.setattr(os, "getpid", lambda: threads._started_in + 1)  # as a forked child
    assert not threads.two_at_once()


def test_a_forked_child_trains_after_its_parent_ran_halves_at_once(tmp_path):
    # GNU OpenMP ends a forked child that starts a parallel region; the child trains anyway
    code = """
import os, sys
import numpy as np
from mlplab import MLP, SGD, fit
x = np.linspace(-1, 1, 256).reshape(-1, 1)
def train():
    net = MLP([1, 64, 64, 1], "sigmoid", seed=0)
    fit(net, x, np.cos(x), optimizer=SGD(0.1), epochs=2, batch_size=128, progress=False,
        seed=0)
    return net.params
parent = train()
pid = os.fork()
if pid == 0:
    os._exit(0 if np.array_equal(train(), parent) else 3)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    script = tmp_path / "fork.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]

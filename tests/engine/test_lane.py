"""The small-network loops with their costs in a second thread: the one-thread numbers, bit for
bit, on every path (a ring shorter than the run, a divergence stop, no second thread)."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from tests.engine.test_unrolled import (
    ARCHITECTURES,
    _cases,
    _codes,
    _data,
    _run,
    assert_paper_example_matches_reference,
)

import mlplab
from mlplab import MLP, SGD, fit
from mlplab.engine import kernels, lane, unrolled
from mlplab.engine.threads import two_at_once

pytestmark = pytest.mark.skipif(not two_at_once(), reason="needs two threads at once")


def _with_lane(kernel):
    """``train_epochs_with_lane`` called as ``train_epochs`` is, with a fresh state."""
    return lambda *args: kernel(*args, lane.new_state())


def _loops(net, loss):
    codes, alphas = _codes(net)
    return unrolled.loops(net.sizes, codes, alphas, kernels.LOSS_CODES[loss])


def _assert_same(one, two, but=()):
    for name, value in one.items():
        if name not in but:
            assert np.array_equal(two[name], value, equal_nan=True), name


@pytest.mark.parametrize("arch", ARCHITECTURES[:3], ids=lambda a: "-".join(map(str, a[0])))
def test_costs_in_a_second_thread_give_the_one_thread_numbers(arch):
    sizes, hidden, output, loss = arch
    net = MLP(sizes, hidden, output, seed=3)
    # 40 epochs each: the trainer runs ahead of the cost thread by up to SLOTS < 40 epochs
    for args in _cases(net, loss):
        alone = _run(kernels.train_epochs, *args)
        _assert_same(alone, _run(_with_lane(kernels.train_epochs_with_lane), *args))
        _assert_same(alone, _run(_with_lane(_loops(net, loss).train_epochs_with_lane), *args))


@pytest.mark.parametrize(
    "opt", [lambda: SGD(3.0), lambda: SGD(1.0, momentum=0.9)], ids=["sgd", "momentum"]
)
def test_a_non_finite_cost_stops_the_run_where_one_thread_stops(opt):
    sizes = [1, 5, 1]
    net = MLP(sizes, "tanh", "identity", seed=0)
    X, y, Xv, yv = _data(sizes)
    args = (net, "mse", opt(), X, y * 1e3, Xv, yv, 200, 4, True, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = _run(kernels.train_epochs, *args)
        generic = _run(_with_lane(kernels.train_epochs_with_lane), *args)
        rolled = _run(_with_lane(_loops(net, "mse").train_epochs_with_lane), *args)
    assert alone["done"] < 200 and not np.isfinite(alone["train"][alone["done"] - 1])
    # parameters, optimiser state and step count go back to the end of the stopping epoch;
    # the generator has drawn the row orders of epochs past it (fit's own generator)
    _assert_same(alone, generic, but=("next draw",))
    _assert_same(alone, rolled, but=("next draw",))


def test_without_a_second_thread_the_trainer_computes_the_costs_itself():
    # one Numba thread: the region runs its two iterations one after the other, so the trainer
    # finds no partner, trains alone, and the cost thread then finds it has nothing to do
    net = MLP([2, 2, 3, 2], "sigmoid", "sigmoid", seed=3)
    X, y, Xv, yv = _data(net.sizes)
    args = (net, "half_sse", SGD(0.1), X, y, Xv, yv, 30, 1, False, 0)
    alone = _run(kernels.train_epochs, *args)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        solo = _run(_with_lane(kernels.train_epochs_with_lane), *args)
    finally:
        numba.set_num_threads(threads)
    _assert_same(alone, solo)


def test_fit_computes_small_network_costs_in_the_second_thread(monkeypatch):
    states = []
    new_state = lane.new_state
    monkeypatch.setattr(lane, "new_state", lambda: states.append(1) or new_state())
    assert_paper_example_matches_reference(epochs=300)
    assert states  # the fast engine took the lane


def test_one_thread_leaves_the_lane_out(monkeypatch):
    monkeypatch.setattr(mlplab.engine.threads, "two_at_once", lambda: False)
    states = []
    monkeypatch.setattr(lane, "new_state", lambda: states.append(1) or np.zeros(4, np.int64))
    net = MLP([1, 5, 1], "tanh", "identity", seed=0)
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    fit(net, x, np.sin(3 * x), optimizer=SGD(0.1), epochs=5, progress=False)
    assert states == []

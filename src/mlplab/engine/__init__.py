"""The fast training engine behind :func:`mlplab.fit`.

The reference path (:meth:`MLP.forward`, :meth:`MLP.backward` and the optimisers' ``step``) is
the readable oracle. The fast engine computes the same training — same initial parameters, same
batch draws from the same ``numpy.random.Generator``, same operations per step — without the
per-step Python cost:

- small networks (hidden layers up to :data:`~mlplab.engine.spec.COMPILED_WIDTH` wide, squared
  error losses) run whole epochs in one compiled Numba call (:mod:`mlplab.engine.kernels`);
  tiny ones on long runs, in that loop unrolled for their architecture
  (:mod:`mlplab.engine.unrolled`);
- wider sigmoid, ReLU / leaky ReLU and identity networks with squared error losses run whole
  epochs in one compiled call that hands the products to BLAS (:mod:`mlplab.engine.blas_loop`);
- the others run BLAS products and NumPy ufuncs on preallocated buffers
  (:mod:`mlplab.engine.dense`).

``fit(..., engine="auto")`` picks the fast engine whenever it supports the configuration (SGD or
Adam, built-in activations and losses) and the reference path otherwise; ``engine="fast"``
insists (and says why it cannot), ``engine="reference"`` always takes the reference path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from itertools import pairwise
from types import ModuleType

import numpy as np

from mlplab.engine import unrolled
from mlplab.engine.pcg import draws
from mlplab.engine.spec import (
    blas_loop_fits,
    compiled_fits,
    optimizer_code,
    optimizer_state,
    unsupported_reason,
)
from mlplab.losses import Loss
from mlplab.network import MLP
from mlplab.optim import Adam, Optimizer

ENGINES = ("auto", "fast", "reference")
#: The kinds of the fast engine that run whole epochs in one compiled call.
COMPILED_KINDS = ("compiled", "blas")


def choose(engine: str, net: MLP, loss: Loss, optimizer: object) -> str:
    """``"compiled"``, ``"blas"``, ``"dense"`` or ``"reference"`` for a configuration.

    Raises
    ------
    ValueError
        For an unknown engine name, or ``engine="fast"`` on a configuration it cannot run.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid names are: {', '.join(ENGINES)}")
    if engine == "reference":
        return "reference"
    reason = unsupported_reason(net, loss, optimizer)
    if reason is not None:
        if engine == "fast":
            raise ValueError(f"{reason}; use engine='auto' or engine='reference'")
        return "reference"
    if compiled_fits(net, loss):
        return "compiled"
    return "blas" if blas_loop_fits(net, loss) else "dense"


#: Largest rows × n_in × n_out product for which one BLAS thread is faster than several: small
#: products are dominated by thread start-up and hand-off (measured 2-3x slower per step on a
#: 1-64-64-1 network at batch 128 with two OpenBLAS threads on two cores).
SMALL_PRODUCT = 1 << 22


#: Multiply-adds of one end-of-epoch cost below which computing it in a second thread does not
#: pay: the hand-off and the GIL cost more than they save (measured on a 1-64-64-1 network:
#: 1.1M multiply-adds 25% slower, 2.2M even, 4.3M and 8.6M 10-15% faster).
OVERLAP_COST_WORK = 1 << 22


#: Multiply-adds of one batch (rows × Σ n_{l-1} n_l) from which the BLAS loop splits it in two
#: halves, run at once on two threads (:mod:`mlplab.engine.threads`): on a 1-64-64-1 network,
#: batch 32 (135k) trains 25% faster that way, batch 16 no faster.
SPLIT_WORK = 1 << 17


def halves(sizes: list[int], rows: int) -> bool:
    """Whether the BLAS loop splits batches of ``rows`` points in two halves: work enough for two
    threads, in products small enough that BLAS runs them on one (:func:`small_products`)."""
    work = rows * sum(a * b for a, b in pairwise(sizes))
    return work >= SPLIT_WORK and small_products(sizes, rows)


def small_products(sizes: list[int], rows: int) -> bool:
    """Whether a batch of ``rows`` points makes only small BLAS products (one thread best)."""
    return max(a * b for a, b in pairwise(sizes)) * rows <= SMALL_PRODUCT


def blas_threads(sizes: list[int], rows: int) -> AbstractContextManager:
    """A context that runs BLAS on one thread when the network's products are small."""
    if not small_products(sizes, rows):
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def needs_compiling(function: Callable) -> bool:
    """Whether the first call of a Numba-compiled ``function`` will compile it: it is not
    compiled in this process, and Numba's on-disk cache holds nothing valid for it (read from
    the cache's index; where that cannot be read, False: better no notice than a wrong one)."""
    if function.signatures:
        return False
    try:
        return not function._cache._cache_file._load_index()
    except Exception:  # the index's layout is Numba's own
        return False


class _CostLane:
    """Computes an epoch's costs on a snapshot of the parameters, in a thread of its own.

    It keeps the snapshot's optimiser state too, so the training can go back to it.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.params, self.m, self.v = (x.copy() for x in trainer._state())
        self.t = trainer.step_count
        self.costs = trainer._cost_function(self.params)
        self.pool = ThreadPoolExecutor(1)

    def submit(self) -> Future:
        """Snapshot the training's parameters and state; the future gives (train, val) costs."""
        for snap, now in zip((self.params, self.m, self.v), self.trainer._state(), strict=True):
            np.copyto(snap, now)
        self.t = self.trainer.step_count
        return self.pool.submit(self.costs)

    def restore(self) -> None:
        """Put the training back to the last snapshot."""
        for now, snap in zip(self.trainer._state(), (self.params, self.m, self.v), strict=True):
            np.copyto(now, snap)
        self.trainer.step_count = self.t

    def close(self) -> None:
        self.pool.shutdown()


def _store_state(optimizer: Optimizer, t: int, m: np.ndarray, v: np.ndarray) -> None:
    """Leave the optimiser as its own ``step`` calls would have."""
    optimizer.t = t
    if isinstance(optimizer, Adam):
        optimizer.m, optimizer.v = m, v
    elif optimizer.momentum != 0.0:
        optimizer.velocity = m


class Trainer:
    """Runs epochs of :func:`mlplab.fit` on one network, fast.

    Parameters
    ----------
    kind : {"compiled", "blas", "dense"}
        The scalar compiled loop, the compiled loop with BLAS products, or the NumPy stepper.
    net : MLP
        Trained in place.
    X, y : ndarray
        Checked training data, shapes (N, n_1) and (N, n_L) (or (N,) labels).
    Xv, yv : ndarray or None
        Checked validation data.
    loss, optimizer, batch_size, sampling, rng
        As :func:`mlplab.fit` resolved them; ``rng`` is the generator of the batch draws.
    last_finite : ndarray, shape (p,), optional
        Where to keep the parameters after the last epoch with a finite cost (default: a
        new copy of the parameters).
    epochs : int, optional
        Epochs the run will take, where known: a tiny network on a long enough run trains in a
        loop unrolled for its architecture (:func:`mlplab.engine.unrolled.worth_it`).
    """

    def __init__(
        self, kind, net, X, y, Xv, yv, loss, optimizer, batch_size, sampling, rng,
        last_finite=None, epochs=None,
    ):  # fmt: skip
        self.kind, self.net, self.X, self.y, self.Xv, self.yv = kind, net, X, y, Xv, yv
        self.loss, self.optimizer, self.batch_size, self.rng = loss, optimizer, batch_size, rng
        self.shuffle = sampling == "shuffle"
        self.last_finite = net.params.copy() if last_finite is None else last_finite
        self.unrolled: ModuleType | None = None
        self.parts = 2 if kind == "blas" and halves(net.sizes, batch_size) else 1
        if kind in COMPILED_KINDS:
            self._setup_compiled(*optimizer_state(optimizer, net.params))
            points = 0 if epochs is None else epochs * X.shape[0]
            if kind == "compiled" and unrolled.worth_it(net.sizes, net.params.dtype, points):
                self.unrolled = unrolled.loops(self.sizes, self.codes, self.alphas, self.loss_code)
        else:
            from mlplab.engine.dense import DenseStepper

            self.stepper = DenseStepper(net, net.params, loss, optimizer)
            self.stepper.t = optimizer.t
        self._lane: _CostLane | None = None

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.X.shape[0] / self.batch_size)

    def blas_limit(self) -> AbstractContextManager:
        """The BLAS thread limit for the run (:func:`blas_threads`): none for the small-network
        loop, which calls no BLAS (setting one takes about 2 ms, 2% of the paper's example)."""
        if self.kind == "compiled":
            return nullcontext()
        return blas_threads(self.net.sizes, self.batch_size)

    def _setup_compiled(self, m: np.ndarray, v: np.ndarray) -> None:
        from mlplab.engine.kernels import ACT_CODES, LOSS_CODES
        from mlplab.engine.spec import activation_code

        net = self.net
        codes = [activation_code(act) for act in net.activations]
        self.sizes = np.array(net.sizes, np.int64)
        self.codes = np.array([ACT_CODES[name] for name, _ in codes], np.int64)
        self.alphas = np.array([alpha for _, alpha in codes], np.float64)
        self.loss_code = LOSS_CODES[self.loss.name]
        self.opt_code, self.hyper = optimizer_code(self.optimizer)
        if m.size == 0:  # the kernel indexes m and v only for the optimisers that keep them
            m = np.zeros_like(net.params)
        if v.size == 0:
            v = np.zeros_like(net.params)
        self.m, self.v = m, v
        self.t_arr = np.array([self.optimizer.t], np.int64)
        dt = net.params.dtype
        self.Xc = np.ascontiguousarray(self.X)
        self.yc = np.ascontiguousarray(self.y)
        n_in, n_out = net.sizes[0], net.sizes[-1]
        self.Xvc = np.zeros((0, n_in), dt) if self.Xv is None else np.ascontiguousarray(self.Xv)
        self.yvc = np.zeros((0, n_out), dt) if self.yv is None else np.ascontiguousarray(self.yv)

    def run(self, lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Run one epoch per learning rate in ``lrs``; stop after a non-finite cost.

        Returns
        -------
        train_loss, val_loss : ndarray, shape (E,)
            Cost after each epoch run (``val_loss`` is unset without validation data).
        done : int
            Epochs run; ``self.last_finite`` holds the parameters after the last finite one.
        """
        lrs = np.asarray(lrs, np.float64)
        tl, vl = np.zeros(len(lrs)), np.zeros(len(lrs))
        lane = self._cost_lane() if len(lrs) > 1 else None
        if self.kind == "dense" or lane is not None:
            return self._run_epochwise(lrs, tl, vl, lane)
        state = self._lane_state()
        with draws(self.rng) as rng:
            done = self._kernel(bool(state))(
                self.net.params, self.sizes, self.codes, self.alphas, self.Xc, self.yc,
                self.Xvc, self.yvc, self.loss_code, self.opt_code, self.hyper, self.m, self.v,
                self.t_arr, lrs, self.batch_size, self.shuffle, rng, tl, vl, self.last_finite,
                *self._split(True), *state,
            )  # fmt: skip
        return tl, vl, int(done)

    def compiles_first(self) -> bool:
        """Whether the first epochs will wait for a compiled loop to compile (see
        :func:`needs_compiling`)."""
        if self.kind not in COMPILED_KINDS:
            return False
        return needs_compiling(self._kernel(bool(self._lane_state())))

    def _split(self, with_cost: bool) -> tuple:
        """The BLAS loop's last arguments: ``with_cost``, and how it splits its batches and costs
        (:func:`halves`, :func:`mlplab.engine.threads.two_at_once`); none for the other loops,
        which always compute their costs."""
        if self.kind != "blas":
            return ()
        from mlplab.engine.threads import two_at_once

        return with_cost, self.parts, self.parts == 2 and two_at_once()

    def _lane_state(self) -> tuple:
        """The small-network loop's last argument: a cost thread's state, where two threads run
        at once (:mod:`mlplab.engine.lane`); none for the BLAS loop, or on one thread."""
        if self.kind != "compiled":
            return ()
        from mlplab.engine.lane import new_state
        from mlplab.engine.threads import two_at_once

        return (new_state(),) if two_at_once() else ()

    def _kernel(self, lane: bool = False):
        """The compiled loop's ``train_epochs`` (``train_epochs_with_lane`` with ``lane``)."""
        if self.kind == "compiled":
            from mlplab.engine import kernels

            loops = kernels if self.unrolled is None else self.unrolled
            return loops.train_epochs_with_lane if lane else loops.train_epochs
        from mlplab.engine.blas_loop import train_epochs

        return train_epochs

    def _run_epochwise(self, lrs, tl, vl, lane) -> tuple[np.ndarray, np.ndarray, int]:
        """Epochs one at a time. With a ``lane`` (a spare core), the cost of epoch e is computed
        on a snapshot of its parameters while epoch e + 1 trains; a non-finite cost found that
        way rolls the training back to the end of epoch e (parameters and optimiser state)."""
        costs_now = self._cost_function(self.net.params)
        pending = None
        for e, lr in enumerate(lrs):
            self._epoch_steps(float(lr))
            if pending is not None:
                if not self._finite(*pending.result(), e - 1, tl, vl):
                    lane.restore()
                    return tl, vl, e
                np.copyto(self.last_finite, lane.params)
            if lane is not None and e < len(lrs) - 1:
                pending = lane.submit()
                continue
            if not self._finite(*costs_now(), e, tl, vl):
                return tl, vl, e + 1
            np.copyto(self.last_finite, self.net.params)
        return tl, vl, len(lrs)

    def _epoch_steps(self, lr: float) -> None:
        """One epoch of minibatch steps (no cost)."""
        if self.kind != "dense":
            unused = np.zeros(1)
            with draws(self.rng) as rng:
                self._kernel()(
                    self.net.params, self.sizes, self.codes, self.alphas, self.Xc, self.yc,
                    self.Xvc, self.yvc, self.loss_code, self.opt_code, self.hyper, self.m,
                    self.v, self.t_arr, np.array([lr]), self.batch_size, self.shuffle, rng,
                    unused, unused, self.last_finite, *self._split(False),
                )  # fmt: skip
            return
        stepper, X, y, n, bs = self.stepper, self.X, self.y, self.X.shape[0], self.batch_size
        if self.shuffle:
            perm = self.rng.permutation(n)
            batches = [perm[k * bs : (k + 1) * bs] for k in range(self.steps_per_epoch)]
        else:
            batches = self.rng.integers(0, n, size=(self.steps_per_epoch, bs))
        for idx in batches:
            buf = stepper.buffers(len(idx))
            np.take(X, idx, axis=0, out=buf.a[0])
            stepper.gradient(buf, y[idx])
            stepper.update(lr)

    def _cost_function(self, params: np.ndarray) -> Callable[[], tuple[float, float]]:
        """A function giving the training and validation costs (nan without validation) at
        ``params`` (the training's own parameters, or a snapshot's)."""
        if self.kind == "dense":
            from mlplab.engine.dense import DenseStepper

            stepper = self.stepper
            if params is not stepper.params:
                stepper = DenseStepper(self.net, params, self.loss, self.optimizer)
            train = partial(stepper.cost, self.X, self.y)
            val = None if self.Xv is None else partial(stepper.cost, self.Xv, self.yv)
        else:
            from mlplab.engine.blas_loop import cost

            args = (self.sizes, self.codes, self.alphas)
            train = partial(cost, params, *args, self.Xc, self.yc, self.loss_code, self.parts)
            val = (
                None
                if self.Xv is None
                else partial(cost, params, *args, self.Xvc, self.yvc, self.loss_code, self.parts)
            )

        def costs() -> tuple[float, float]:
            with np.errstate(over="ignore", invalid="ignore"):  # per thread
                return float(train()), math.nan if val is None else float(val())

        return costs

    def _state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The training's parameters and optimiser state arrays (p,): params, m, v."""
        if self.kind == "dense":
            return self.stepper.params, self.stepper.m, self.stepper.v
        return self.net.params, self.m, self.v

    @property
    def step_count(self) -> int:
        """Optimiser steps taken so far."""
        return self.stepper.t if self.kind == "dense" else int(self.t_arr[0])

    @step_count.setter
    def step_count(self, t: int) -> None:
        if self.kind == "dense":
            self.stepper.t = t
        else:
            self.t_arr[0] = t

    def _finite(self, train: float, val: float, e: int, tl, vl) -> bool:
        """Record epoch ``e``'s costs; whether they are finite."""
        tl[e], vl[e] = train, val
        return math.isfinite(train) and (self.Xv is None or math.isfinite(val))

    def _cost_lane(self) -> _CostLane | None:
        """The background cost evaluator, where a second core and single-threaded BLAS (small
        products, see :func:`blas_threads`) leave room for it and the cost is worth a thread.
        The small-network loop keeps its costs inside its own compiled call, as does the BLAS
        loop where it splits its batches in halves (both cores then train)."""
        if self.kind == "compiled" or self.parts == 2:
            return None
        sizes = self.net.sizes
        points = self.X.shape[0] + (0 if self.Xv is None else self.Xv.shape[0])
        work = points * sum(a * b for a, b in pairwise(sizes))
        if (
            (os.cpu_count() or 1) < 2
            or work < OVERLAP_COST_WORK
            or not small_products(sizes, self.batch_size)
        ):
            return None
        if self._lane is None:
            self._lane = _CostLane(self)
        return self._lane

    def finish(self) -> None:
        """Write the optimiser state back (step count, moments or velocity)."""
        if self._lane is not None:
            self._lane.close()
            self._lane = None
        _store_state(self.optimizer, self.step_count, *self._state()[1:])

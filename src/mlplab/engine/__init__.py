"""The fast training engine behind :func:`mlplab.fit`.

The reference path (:meth:`MLP.forward`, :meth:`MLP.backward` and the optimisers' ``step``) is
the readable oracle. The fast engine computes the same training — same initial parameters, same
batch draws from the same ``numpy.random.Generator``, same operations per step — without the
per-step Python cost:

- small networks (hidden layers up to :data:`~mlplab.engine.spec.COMPILED_WIDTH` wide, squared
  error losses) run whole epochs in one compiled Numba call (:mod:`mlplab.engine.kernels`);
- wider ones run BLAS products and NumPy ufuncs on preallocated buffers
  (:mod:`mlplab.engine.dense`).

``fit(..., engine="auto")`` picks the fast engine whenever it supports the configuration (SGD or
Adam, built-in activations and losses) and the reference path otherwise; ``engine="fast"``
insists (and says why it cannot), ``engine="reference"`` always takes the reference path.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from itertools import pairwise

import numpy as np

from mlplab.engine.spec import (
    compiled_fits,
    optimizer_code,
    optimizer_state,
    unsupported_reason,
)
from mlplab.losses import Loss
from mlplab.network import MLP
from mlplab.optim import Adam, Optimizer

ENGINES = ("auto", "fast", "reference")


def choose(engine: str, net: MLP, loss: Loss, optimizer: object) -> str:
    """``"compiled"``, ``"dense"`` or ``"reference"`` for a configuration.

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
    return "compiled" if compiled_fits(net, loss) else "dense"


#: Largest rows × n_in × n_out product for which one BLAS thread is faster than several: small
#: products are dominated by thread start-up and hand-off (measured 2-3x slower per step on a
#: 1-64-64-1 network at batch 128 with two OpenBLAS threads on two cores).
SMALL_PRODUCT = 1 << 22


def blas_threads(sizes: list[int], rows: int) -> AbstractContextManager:
    """A context that runs BLAS on one thread when the network's products are small."""
    largest = max(a * b for a, b in pairwise(sizes)) * rows
    if largest > SMALL_PRODUCT:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


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
    kind : {"compiled", "dense"}
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
    """

    def __init__(
        self, kind, net, X, y, Xv, yv, loss, optimizer, batch_size, sampling, rng, last_finite=None
    ):
        self.kind, self.net, self.X, self.y, self.Xv, self.yv = kind, net, X, y, Xv, yv
        self.loss, self.optimizer, self.batch_size, self.rng = loss, optimizer, batch_size, rng
        self.shuffle = sampling == "shuffle"
        self.last_finite = net.params.copy() if last_finite is None else last_finite
        self.t = optimizer.t
        if kind == "compiled":
            self._setup_compiled(*optimizer_state(optimizer, net.params))
        else:
            from mlplab.engine.dense import DenseStepper

            self.stepper = DenseStepper(net, net.params, loss, optimizer)
            self.stepper.t = self.t

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.X.shape[0] / self.batch_size)

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
        self.t_arr = np.array([self.t], np.int64)
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
        if self.kind == "compiled":
            from mlplab.engine.kernels import train_epochs

            done = train_epochs(
                self.net.params, self.sizes, self.codes, self.alphas, self.Xc, self.yc, self.Xvc,
                self.yvc, self.loss_code, self.opt_code, self.hyper, self.m, self.v, self.t_arr,
                lrs, self.batch_size, self.shuffle, self.rng, tl, vl, self.last_finite,
            )  # fmt: skip
            self.t = int(self.t_arr[0])
            return tl, vl, int(done)
        return self._run_dense(lrs, tl, vl)

    def _run_dense(self, lrs, tl, vl) -> tuple[np.ndarray, np.ndarray, int]:
        stepper, X, y, n, bs = self.stepper, self.X, self.y, self.X.shape[0], self.batch_size
        steps = self.steps_per_epoch
        for e, lr in enumerate(lrs):
            lr = float(lr)
            if self.shuffle:
                perm = self.rng.permutation(n)
                batches = [perm[k * bs : (k + 1) * bs] for k in range(steps)]
            else:
                batches = self.rng.integers(0, n, size=(steps, bs))
            for idx in batches:
                buf = stepper.buffers(len(idx))
                np.take(X, idx, axis=0, out=buf.a[0])
                stepper.gradient(buf, y[idx])
                stepper.update(lr)
            tl[e] = float(stepper.cost(X, y))
            finite = math.isfinite(tl[e])
            if self.Xv is not None:
                vl[e] = float(stepper.cost(self.Xv, self.yv))
                finite = finite and math.isfinite(vl[e])
            if not finite:
                return tl, vl, e + 1
            np.copyto(self.last_finite, self.net.params)
        self.t = stepper.t
        return tl, vl, len(lrs)

    def finish(self) -> None:
        """Write the optimiser state back (step count, moments or velocity)."""
        if self.kind == "compiled":
            _store_state(self.optimizer, self.t, self.m, self.v)
        else:
            s = self.stepper
            _store_state(self.optimizer, s.t, s.m, s.v)

"""The fast training engine behind :func:`mlplab.fit`: which path runs, and why.

The reference path (:meth:`MLP.forward`, :meth:`MLP.backward`, the optimiser's ``step``) is the
readable oracle. The engine computes the same training — same batches, drawn by
:class:`mlplab.train.BatchDraws`, same operations per step, the same definitions — with less
overhead, on one of two paths:

``"compiled"`` (:mod:`mlplab.engine.compiled`)
    Whole epochs in one Numba call, for small networks on long runs, where a step costs more in
    NumPy calls than in arithmetic. It compiles the configuration's own definitions of σ, σ',
    the loss and the optimiser's update (:mod:`mlplab.engine.jit`).
``"numpy"`` (:mod:`mlplab.engine.stepper`)
    BLAS products and the definitions' NumPy functions on preallocated buffers: wide layers,
    short runs, and every definition Numba cannot compile.

Both run on one thread, with BLAS held to one thread and freed memory kept for reuse
(:func:`mlplab.compute.small_products`): on a busy machine a thread that waits for another is
the slowest thing there is. L-BFGS runs full-batch on the reference gradient (scipy's L-BFGS-B),
under the same limit. :func:`explain` says before training which path a configuration takes
and why; ``History.engine`` and ``History.engine_reason`` say it after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP
from mlplab.optim import LBFGS, Adam, Optimizer

#: Values of ``fit(engine=...)``: "fast" is the best of "compiled" and "numpy".
ENGINES = ("auto", "fast", "compiled", "numpy", "reference")

#: Largest multiply-adds of one step (batch rows × Σ n_{l-1} n_l) for which the compiled loops
#: beat BLAS calls on buffers (see docs/speed.md for the measurement).
COMPILED_WORK = 1 << 14

#: Fewest optimiser steps of a run for which compiling a loop (once per configuration and
#: process) pays: the compile time over what a step saves (both measured in docs/speed.md).
COMPILED_STEPS = 200_000


@dataclass(frozen=True)
class Plan:
    """The path a training configuration takes, and why.

    Attributes
    ----------
    path : {"compiled", "numpy", "reference"}
    reason : str
        One sentence a user can act on.
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _not_compilable(net: MLP, loss: Loss, optimizer: Optimizer) -> str | None:
    """Why Numba cannot compile one of the configuration's definitions (None if it can).

    Each definition is compiled and called once on small arrays of the network's dtype.
    """
    from mlplab.engine.jit import compile_definition, first_line

    dt = net.params.dtype
    sigmoid_bce = loss.name == "bce" and net.activations[-1].name == "sigmoid"  # in [0, 1]
    if loss.outputs is not None and not sigmoid_bce:
        return f"{loss.name} checks its outputs at every step (no sigmoid output)"
    if optimizer.update is Optimizer.update:
        return f"{type(optimizer).__name__} defines step() but no update() formula"
    a = np.full((2, net.sizes[-1]), 0.25, dt)
    x = dt.type(0.5)
    trials = [(f"activation {act.name!r}", fn, (x,))  # the functions the loop compiles
              for act in net.activations for fn in (act.f, act.dfa or act.df)]  # fmt: skip
    trials += [(f"loss {loss.name!r}", fn, (a, a)) for fn in (loss.cost, loss.dcost)]
    state = (x,) * len(optimizer.state_names)
    trials.append((f"optimizer {type(optimizer).__name__}", optimizer.update,
                   (x, x, 0.1, 1, *state, *map(float, optimizer.hyper()))))  # fmt: skip
    for what, fn, args in trials:
        try:
            compile_definition(fn)(*args)
        except Exception as error:  # a typing error, or a definition that fails on numbers
            return f"the {what} cannot be compiled: {first_line(error)}"
    return None


def explain(
    net: MLP,
    loss: str | Loss = "mse",
    optimizer: Optimizer | LBFGS | None = None,
    batch_size: int | None = 32,
    n_points: int = 1024,
    epochs: int = 100,
    engine: str = "auto",
) -> Plan:
    """The path :func:`mlplab.fit` takes for this configuration, and why.

    Parameters
    ----------
    net : MLP
    loss, optimizer, batch_size, epochs, engine
        As for :func:`mlplab.fit` (default optimiser ``Adam()``).
    n_points : int, default 1024
        Training points N (the number of steps per epoch is ceil(N / batch_size)).

    Returns
    -------
    Plan

    Raises
    ------
    MlplabError
        For an unknown engine, or an engine this configuration cannot run on.
    """
    if engine not in ENGINES:
        raise MlplabError(f"unknown engine {engine!r}; valid names are: {', '.join(ENGINES)}")
    loss = get_loss(loss)
    optimizer = Adam() if optimizer is None else optimizer
    if engine == "reference":
        return Plan("reference", "engine='reference' was asked for")
    if isinstance(optimizer, LBFGS):
        if engine != "auto":
            raise MlplabError(
                "L-BFGS runs full-batch on the reference gradient only; use engine='auto'"
            )
        return Plan("reference", "L-BFGS runs full-batch on the reference gradient (scipy)")
    if engine == "numpy":
        return Plan("numpy", "engine='numpy' was asked for")
    rows = n_points if batch_size is None else min(batch_size, n_points)
    work = rows * sum(a * b for a, b in pairwise(net.sizes))
    steps = epochs * math.ceil(n_points / max(rows, 1))
    if engine == "auto" or engine == "fast":
        if work > COMPILED_WORK:
            return Plan("numpy", f"a step is {work:,} multiply-adds: BLAS products win")
        if steps < COMPILED_STEPS:
            return Plan("numpy", f"{steps:,} steps do not repay compiling a loop")
    why_not = _not_compilable(net, loss, optimizer)
    if why_not is None:
        return Plan("compiled", f"a small network ({work:,} multiply-adds a step) on "
                                f"{steps:,} steps: whole epochs in one compiled call")  # fmt: skip
    if engine == "compiled":
        raise MlplabError(f"{why_not}; use engine='auto' or engine='numpy'")
    return Plan("numpy", why_not)


class Trainer:
    """Runs epochs of :func:`mlplab.fit` on the path a :class:`Plan` names.

    Parameters
    ----------
    plan : Plan
        ``"compiled"`` or ``"numpy"``.
    net : MLP
        Trained in place.
    X, T : ndarray
        Training inputs (N, n_1) and targets as the loss's ``cost`` takes them (N, n_L).
    Xv, Tv : ndarray or None
        Validation data, likewise.
    loss, optimizer, batch_size
        As :func:`mlplab.fit` resolved them.
    last_finite : ndarray, shape (p,)
        Receives the parameters after each epoch whose costs are finite.
    shuffled : bool
        Whether every epoch is a permutation of the points (``batch_sampling="shuffle"``).
    """

    def __init__(self, plan, net, X, T, Xv, Tv, loss, optimizer, batch_size, last_finite,
                 shuffled):  # fmt: skip
        self.plan, self.net, self.X, self.T, self.Xv, self.Tv = plan, net, X, T, Xv, Tv
        self.optimizer, self.batch_size, self.last_finite = optimizer, batch_size, last_finite
        self.shuffled = shuffled
        if plan.path == "compiled":
            from mlplab.engine.compiled import CompiledLoop

            self.loop = CompiledLoop(net, X, T, Xv, Tv, loss, optimizer, batch_size, last_finite)
        else:
            from mlplab.engine.stepper import Stepper

            self.stepper = Stepper(net, net.params, loss, optimizer)

    def run(self, order: np.ndarray, lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """One epoch per row of ``order`` (point indices, drawn by
        :class:`mlplab.train.BatchDraws`) at the learning rates ``lrs``.

        Returns
        -------
        train_loss, val_loss : ndarray, shape (E,)
            The costs after each epoch run (nan where not run, or without validation data).
        done : int
            Epochs run: it stops after the first epoch with a non-finite cost.
        """
        if self.plan.path == "compiled":
            return self.loop.run(order, lrs)
        stepper, bs = self.stepper, self.batch_size
        tl, vl = np.full(len(lrs), np.nan), np.full(len(lrs), np.nan)
        for e, (idx, lr) in enumerate(zip(order, lrs, strict=True)):
            stepper.epoch(self.X, self.T, idx, bs, float(lr), self.shuffled)
            tl[e] = stepper.cost(self.X, self.T)
            finite = math.isfinite(tl[e])
            if self.Xv is not None:
                vl[e] = stepper.cost(self.Xv, self.Tv)
                finite = finite and math.isfinite(vl[e])
            if not finite:
                return tl, vl, e + 1
            np.copyto(self.last_finite, self.net.params)
        return tl, vl, len(lrs)

    def finish(self) -> None:
        """Leave the optimiser's step count as its own ``step`` calls would have."""
        if self.plan.path == "numpy" and self.optimizer.t != self.stepper.t:
            self.optimizer.t = self.stepper.t

"""Ensembles: M networks of one architecture trained together on a leading model axis.

Multi-seed studies train the same architecture many times. :func:`fit_ensemble` stacks the M
flat parameter vectors into one ``(M, p)`` array and runs every step as stacked BLAS products,
so one call serves all M networks. Each member keeps its own seed (initial parameters and batch
order) and, optionally, its own learning rate; its result equals training it alone with
:func:`mlplab.fit` and that seed (to rounding), and it gets its own :class:`~mlplab.History`:
divergence, early stopping and callbacks act per member, exactly as in :func:`mlplab.fit`.

Examples
--------
>>> ens = Ensemble([1, 64, 64, 1], seeds=range(8), activation="tanh")
>>> histories = fit_ensemble(ens, x, y, optimizer=Adam(1e-3), epochs=500, batch_size=32)
>>> net3 = ens.member(3)          # an MLP (a live view into the stack)
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from mlplab.engine import blas_threads, choose
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP
from mlplab.optim import SGD, Adam, Optimizer, Schedule, get_schedule
from mlplab.progress import EpochProgress
from mlplab.train import Callback, DivergenceWarning, History, _Watch, check_schedule

if TYPE_CHECKING:
    from mlplab.engine.dense import DenseStepper


def _view(net: MLP, params: np.ndarray) -> MLP:
    """``net`` with its parameters living in ``params`` (a row of a stack)."""
    twin = MLP.__new__(MLP)
    twin.__dict__.update(net.__dict__)
    twin.params = params
    twin.weights, twin.biases = twin.unflatten(params)
    return twin


class Ensemble:
    """M networks of one architecture whose parameters form one ``(M, p)`` array.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``[n_1, ..., n_L]``, as for :class:`~mlplab.MLP`.
    seeds : sequence of int
        One seed per member: member i is ``MLP(sizes, seed=seeds[i], **kwargs)``.
    **kwargs
        Any other :class:`~mlplab.MLP` argument (activation, init, dtype, ...).

    Attributes
    ----------
    params : ndarray, shape (M, p)
        Row i is member i's flat parameter vector.
    seeds : list of int
    """

    def __init__(self, sizes: Sequence[int], seeds: Sequence[int], **kwargs) -> None:
        self.seeds = [int(s) for s in seeds]
        nets = [MLP(sizes, seed=s, **kwargs) for s in self.seeds]
        self._adopt(nets)

    @classmethod
    def from_nets(cls, nets: Sequence[MLP], seeds: Sequence[int] | None = None) -> Ensemble:
        """Stack copies of existing networks (one architecture, activations and dtype)."""
        nets = list(nets)
        if not nets:
            raise ValueError("an ensemble needs at least one network")
        first = nets[0]
        for k, net in enumerate(nets):
            if net.config() != first.config():
                raise ValueError(
                    f"every network of an ensemble needs one architecture; network {k} is "
                    f"{net.config()} but network 0 is {first.config()}"
                )
        ens = cls.__new__(cls)
        ens.seeds = [net.seed for net in nets] if seeds is None else [int(s) for s in seeds]
        if len(ens.seeds) != len(nets):
            raise ValueError(f"got {len(ens.seeds)} seeds for {len(nets)} networks")
        ens._adopt(nets)
        return ens

    def _adopt(self, nets: list[MLP]) -> None:
        self.params = np.stack([net.params for net in nets])
        self._members = [_view(net, row) for net, row in zip(nets, self.params, strict=True)]

    def __len__(self) -> int:
        return len(self._members)

    @property
    def prototype(self) -> MLP:
        """Member 0 (it gives the architecture)."""
        return self._members[0]

    def member(self, i: int) -> MLP:
        """Member i as an :class:`~mlplab.MLP` whose parameters are a view into :attr:`params`
        (use ``.copy()`` for an independent network)."""
        return self._members[i]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Every member's output, shape ``(M, N, n_L)``."""
        return np.stack([net(X) for net in self._members])


def fit_ensemble(
    ensemble: Ensemble | Sequence[MLP],
    X: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    sampling: str = "shuffle",
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    seeds: Sequence[int] | None = None,
    lrs: Sequence[float] | None = None,
    schedule: str | Schedule | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: int | None = None,
    progress: bool = True,
    threads: int | None = None,
) -> list[History]:
    """Train every member as :func:`mlplab.fit` would, all together; returns one History each.

    Parameters
    ----------
    ensemble : Ensemble or list of MLP
        Trained in place (a list's networks get their trained parameters back).
    X, y, loss, epochs, batch_size, sampling, schedule, early_stopping, progress
        As for :func:`mlplab.fit`; ``loss`` must be ``"mse"`` or ``"half_sse"``.
    optimizer : SGD or Adam, optional
        The hyper-parameters every member uses (default ``Adam(lr=1e-3)``); each member gets a
        fresh copy of its state.
    validation : (X_val, y_val), optional
        A validation set shared by the members.
    seeds : sequence of int, optional
        Member i's batch-order seed (the ``seed`` of :func:`mlplab.fit`); default the
        ensemble's seeds (those of the initial parameters).
    lrs : sequence of float, optional
        One learning rate per member (default ``optimizer.lr`` for all).
    callbacks : sequence of callable
        ``callback(epoch, history_i, net_i)`` per member after every epoch; True stops that
        member.
    threads : int, optional
        Threads that train groups of members side by side (default: the number of CPUs);
        results do not depend on it.

    Returns
    -------
    list of History
        Member i's history, as :func:`mlplab.fit` would return it.
    """
    nets = None if isinstance(ensemble, Ensemble) else list(ensemble)
    ens = ensemble if nets is None else Ensemble.from_nets(nets)
    loss = get_loss(loss)
    optimizer = Adam() if optimizer is None else optimizer
    schedule = get_schedule(schedule)
    proto, M = ens.prototype, len(ens)
    choose("fast", proto, loss, optimizer)  # raises for what the fast engine cannot run
    if loss.name not in ENSEMBLE_LOSSES:
        raise ValueError(f"fit_ensemble trains with 'mse' or 'half_sse', not {loss.name!r}")
    check_schedule(epochs, sampling, early_stopping)
    seeds = ens.seeds if seeds is None else [int(s) for s in seeds]
    base = np.full(M, optimizer.lr) if lrs is None else np.array(lrs, dtype=np.float64)
    if len(seeds) != M or base.shape != (M,):
        raise ValueError(f"an ensemble of {M} needs {M} seeds and {M} learning rates")
    if not np.all(np.isfinite(base) & (base > 0)):
        raise ValueError(f"learning rates must be finite numbers > 0, got {base.tolist()}")
    rngs = [np.random.default_rng(s) for s in seeds]
    X = proto.check_input(X)
    y = proto.check_target(y, loss, X.shape[0])
    Xv = yv = None
    if validation is not None:
        Xv = proto.check_input(validation[0], "X_val")
        yv = proto.check_target(validation[1], loss, Xv.shape[0], "y_val")
    n = X.shape[0]
    batch_size = n if batch_size is None or batch_size >= n else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    steps = math.ceil(n / batch_size)

    histories = [History() for _ in range(M)]
    members = [ens.member(i) for i in range(M)]
    watches = [
        _Watch(net, h, early_stopping, Xv is not None)
        for net, h in zip(members, histories, strict=True)
    ]
    active = np.ones(M, bool)
    lanes = _lanes(proto, ens.params, loss, optimizer, threads)
    start = time.perf_counter()
    with (
        EpochProgress(epochs, enabled=progress) as bar,
        np.errstate(over="ignore", invalid="ignore"),
        blas_threads(proto.sizes, batch_size * M),
        ThreadPoolExecutor(len(lanes)) as pool,
    ):
        for epoch in range(epochs):
            lr = base * schedule(epoch, epochs)
            idx = _epoch_batches(rngs, active, n, batch_size, steps, sampling)
            frozen = ens.params[~active].copy()

            def epoch_of(lane, idx=idx, lr=lr) -> tuple[np.ndarray, np.ndarray | None]:
                """One epoch of steps for a group of members, then their costs."""
                rows, stepper = lane
                with np.errstate(over="ignore", invalid="ignore"):  # per thread
                    for s in range(steps):
                        batch = idx[rows, s * batch_size : (s + 1) * batch_size]
                        buf = stepper.buffers(batch.shape[1])
                        np.take(X, batch, axis=0, out=buf.a[0])
                        stepper.gradient(buf, y[batch])
                        stepper.update(lr[rows, None])
                    val = stepper.cost(Xv, yv) if Xv is not None else None
                    return stepper.cost(X, y), val

            parts = list(pool.map(epoch_of, lanes))
            train = np.concatenate([t for t, _ in parts])
            val = None if Xv is None else np.concatenate([v for _, v in parts])
            ens.params[~active] = frozen
            for i in np.flatnonzero(active):
                h = histories[i]
                h.train_loss.append(float(train[i]))
                if val is not None:
                    h.val_loss.append(float(val[i]))
                h.lr.append(float(lr[i]))
                h.steps += steps
                stop = watches[i].stop(epoch) or (
                    any(cb(epoch, h, members[i]) for cb in callbacks) and watches[i].by_callback()
                )
                active[i] = not stop
            bar.update(epoch + 1, histories[0])
            if not active.any():
                break
    seconds = time.perf_counter() - start
    for i, (h, w) in enumerate(zip(histories, watches, strict=True)):
        h.seconds = seconds
        w.finish()
        if h.status == "diverged":
            warnings.warn(f"member {i}: {h.message}", DivergenceWarning, stacklevel=2)
    if nets is not None:
        for net, row in zip(nets, ens.params, strict=True):
            net.params[...] = row
    return histories


#: The losses that :func:`fit_ensemble` trains (with SGD or Adam).
ENSEMBLE_LOSSES = ("mse", "half_sse")


def prefer_ensemble(net: MLP, members: int, loss: str | Loss, optimizer: object) -> bool:
    """Whether :func:`fit_ensemble` trains ``members`` networks like ``net`` faster than
    :func:`mlplab.fit` one by one (with the same results either way).

    Stacking pays where a single network runs on the NumPy ("dense") stepper. Networks that a
    compiled per-network loop trains — the small ones (e.g. the paper's 2-2-3-2) and the wider
    sigmoid / ReLU / identity ones — train faster alone (8 seeds of a 1-64-64-1 sigmoid
    network on 256 points, batch 32: 0.33 s one by one, 0.44 s stacked). False where
    :func:`fit_ensemble` cannot train the configuration (one member, L-BFGS, other losses).

    Parameters
    ----------
    net : MLP
        One of the networks (they share its architecture).
    members : int
        How many networks.
    loss : str or Loss
    optimizer : SGD, Adam or LBFGS
    """
    loss = get_loss(loss)
    if members < 2 or loss.name not in ENSEMBLE_LOSSES or not isinstance(optimizer, (SGD, Adam)):
        return False
    return choose("auto", net, loss, optimizer) == "dense"


def _lanes(proto, params, loss, optimizer, threads) -> list[tuple[slice, DenseStepper]]:
    """Split the members into contiguous groups, one stepper (and thread) each."""
    from mlplab.engine.dense import DenseStepper  # loads Numba: only when training

    M = params.shape[0]
    k = max(1, min(threads or os.cpu_count() or 1, M))
    bounds = np.linspace(0, M, k + 1).round().astype(int)
    return [
        (slice(a, b), DenseStepper(proto, params[a:b], loss, optimizer))
        for a, b in pairwise(bounds)
    ]


def _epoch_batches(rngs, active, n, batch_size, steps, sampling) -> np.ndarray:
    """Each active member's batch indices for one epoch, from its own generator, as
    :func:`mlplab.fit` draws them: shape ``(M, steps * batch_size)`` (shuffle: ``(M, n)``)."""
    width = n if sampling == "shuffle" else steps * batch_size
    idx = np.zeros((len(rngs), width), np.intp)
    for i in np.flatnonzero(active):
        if sampling == "shuffle":
            idx[i] = rngs[i].permutation(n)
        else:
            idx[i] = rngs[i].integers(0, n, size=(steps, batch_size)).reshape(-1)
    return idx

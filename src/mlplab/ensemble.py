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
import time
from collections.abc import Iterable, Sequence

import numpy as np

from mlplab.compute import small_products
from mlplab.engine import explain
from mlplab.engine.stepper import Stepper
from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP
from mlplab.optim import Adam, Optimizer, Schedule, get_optimizer, get_schedule
from mlplab.progress import EpochProgress
from mlplab.train import (
    BatchDraws,
    Callback,
    History,
    _Watch,
    check_callbacks,
    check_points,
    check_schedule,
    check_validation,
    renamed_sampling,
    warn_divergence,
)
from mlplab.values import as_real, check_seed


class Ensemble:
    """M networks of one architecture whose parameters form one ``(M, p)`` array.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``[n_1, ..., n_L]``, as for :class:`~mlplab.MLP`.
    seeds : sequence of int or None
        One seed per member: member i is ``MLP(sizes, seed=seeds[i], **kwargs)`` (None draws
        fresh entropy, as for :class:`~mlplab.MLP`).
    **kwargs
        Any other :class:`~mlplab.MLP` argument (activation, init, dtype, ...).

    Raises
    ------
    MlplabError
        For no seeds, or a seed that :class:`~mlplab.MLP` refuses (not a whole number >= 0).

    Attributes
    ----------
    params : ndarray, shape (M, p)
        Row i is member i's flat parameter vector.
    seeds : list of int
    """

    def __init__(self, sizes: Sequence[int], seeds: Sequence[int | None], **kwargs) -> None:
        self.seeds = _member_seeds(seeds)
        nets = [MLP(sizes, seed=s, **kwargs) for s in self.seeds]
        self._adopt(nets)

    @classmethod
    def from_nets(cls, nets: Sequence[MLP], seeds: Sequence[int] | None = None) -> Ensemble:
        """Stack copies of existing networks (one architecture, activations and dtype)."""
        nets = list(nets)
        if not nets:
            raise MlplabError("an ensemble needs at least one network")
        first = nets[0]
        for k, net in enumerate(nets):
            if net.config() != first.config():
                raise MlplabError(
                    f"every network of an ensemble needs one architecture; network {k} is "
                    f"{net.config()} but network 0 is {first.config()}"
                )
        ens = cls.__new__(cls)
        ens.seeds = [net.seed for net in nets] if seeds is None else _member_seeds(seeds)
        if len(ens.seeds) != len(nets):
            raise MlplabError(f"got {len(ens.seeds)} seeds for {len(nets)} networks")
        ens._adopt(nets)
        return ens

    def _adopt(self, nets: list[MLP]) -> None:
        self.params = np.stack([net.params for net in nets])
        self._members = [net.with_params(row) for net, row in zip(nets, self.params, strict=True)]

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


def _member_seeds(seeds: Iterable[int | None]) -> list[int | None]:
    """``seeds`` as a list, each checked as :class:`~mlplab.MLP` checks its seed.

    Raises
    ------
    MlplabError
        For ``seeds`` that is not a collection of seeds or is empty, or a seed that is not a
        whole number >= 0 or None.
    """
    listed = not isinstance(seeds, (str, bytes)) and isinstance(seeds, Iterable)
    checked = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)] if listed else []
    if not checked:
        got = "none" if listed else repr(seeds)
        raise MlplabError(f"seeds must list one seed per member, e.g. seeds=range(8); got {got}")
    return checked


def fit_ensemble(
    ensemble: Ensemble | Sequence[MLP],
    X: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "mse",
    optimizer: Optimizer | str | None = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    batch_sampling: str = "shuffle",
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    seeds: Sequence[int] | None = None,
    lrs: Sequence[float] | None = None,
    schedule: str | Schedule | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: int | None = None,
    progress: bool = True,
    sampling: str | None = None,
) -> list[History]:
    """Train every member as :func:`mlplab.fit` would, all together; returns one History each.

    Parameters
    ----------
    ensemble : Ensemble or list of MLP
        Trained in place (a list's networks get their trained parameters back).
    X, y, loss, epochs, batch_size, batch_sampling, schedule, early_stopping, progress, sampling
        As for :func:`mlplab.fit`.
    optimizer : Optimizer or str, optional
        The hyper-parameters every member uses (default ``Adam(lr=1e-3)``; a name means that
        optimiser with its default settings, as in :func:`mlplab.fit`); each member gets a
        fresh copy of its state.
    validation : (X_val, y_val), optional
        A validation set shared by the members (not a fraction, unlike :func:`mlplab.fit`:
        hold the points out first with :func:`mlplab.train.split_validation`).
    seeds : sequence of int, optional
        Member i's batch-order seed (the ``seed`` of :func:`mlplab.fit`); default the
        ensemble's seeds (those of the initial parameters).
    lrs : sequence of float, optional
        One learning rate per member (default ``optimizer.lr`` for all).
    callbacks : list or tuple of callable
        ``callback(epoch, history_i, net_i)`` per member after every epoch; True stops that
        member.

    Returns
    -------
    list of History
        Member i's history, as :func:`mlplab.fit` would return it.

    Raises
    ------
    MlplabError
        For bad input, named with its fix: seeds as :class:`~mlplab.MLP` refuses them, learning
        rates that are not M finite real numbers > 0, and what :func:`mlplab.fit` refuses.
    """
    nets = None if isinstance(ensemble, Ensemble) else list(ensemble)
    ens = ensemble if nets is None else Ensemble.from_nets(nets)
    loss = get_loss(loss)
    optimizer = Adam() if optimizer is None else get_optimizer(optimizer)
    schedule = get_schedule(schedule)
    proto, M = ens.prototype, len(ens)
    if not isinstance(optimizer, Optimizer) or optimizer.update is Optimizer.update:
        raise MlplabError(
            "fit_ensemble needs a first-order optimiser with an update() formula (SGD, Adam, or "
            "one of your own); train L-BFGS runs one by one with mlplab.fit"
        )
    batch_sampling = renamed_sampling(batch_sampling, sampling)
    check_schedule(epochs, batch_sampling, early_stopping, batch_size)
    check_callbacks(callbacks)
    seeds = ens.seeds if seeds is None else _member_seeds(seeds)
    base = np.full(M, optimizer.lr) if lrs is None else as_real(lrs, np.dtype(np.float64), "lrs")
    if len(seeds) != M or base.shape != (M,):
        raise MlplabError(f"an ensemble of {M} needs {M} seeds and {M} learning rates")
    if not np.all(np.isfinite(base) & (base > 0)):
        raise MlplabError(f"learning rates must be finite numbers > 0, got {base.tolist()}")
    X = proto.check_input(X)
    y = proto.check_target(y, loss, X.shape[0])
    Xv = yv = Tv = None
    if check_validation(validation, "fit_ensemble", fraction=False) is not None:
        Xv = proto.check_input(validation[0], "X_val")
        yv = proto.check_target(validation[1], loss, Xv.shape[0], "y_val")
    check_points(proto, X, Xv)
    n = X.shape[0]
    batch_size = n if batch_size is None else min(int(batch_size), n)
    draws = [BatchDraws(n, batch_size, batch_sampling, np.random.default_rng(s)) for s in seeds]
    steps = math.ceil(draws[0].width / batch_size)

    reason = f"fit_ensemble: {M} networks on one model axis, BLAS products on stacks"
    histories = [History(engine="numpy", engine_reason=reason) for _ in range(M)]
    members = [ens.member(i) for i in range(M)]
    watches = [
        _Watch(net, h, early_stopping, Xv is not None)
        for net, h in zip(members, histories, strict=True)
    ]
    active = np.ones(M, bool)
    stepper = Stepper(proto, ens.params, loss, optimizer)
    start = time.perf_counter()
    with (
        EpochProgress(epochs, enabled=progress) as bar,
        np.errstate(over="ignore", invalid="ignore"),
        small_products(),
    ):
        # the targets as the loss takes them, from forward passes under the same BLAS limit
        T = loss.prepare(proto(X), y)
        if Xv is not None:
            Tv = loss.prepare(proto(Xv), yv)
        for epoch in range(epochs):
            lr = (base * schedule(epoch, epochs))[:, None]
            # every member draws its epoch, as fit would; the stopped ones' draws go unused
            idx = np.concatenate([d.take(1) for d in draws])
            frozen = ens.params[~active].copy()
            stepper.epoch(X, T, idx, batch_size, lr, draws[0].shuffle)
            ens.params[~active] = frozen
            train = stepper.cost(X, T)
            val = None if Xv is None else stepper.cost(Xv, Tv)
            for i in np.flatnonzero(active):
                h = histories[i]
                h.train_loss.append(float(train[i]))
                if val is not None:
                    h.val_loss.append(float(val[i]))
                h.lr.append(float(lr[i, 0]))
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
            warn_divergence(f"member {i}: {h.message}")
    if nets is not None:
        for net, row in zip(nets, ens.params, strict=True):
            net.params[...] = row
    return histories


def prefer_ensemble(
    net: MLP,
    members: int,
    loss: str | Loss,
    optimizer: object,
    batch_size: int | None = 32,
    n_points: int = 1024,
    epochs: int = 100,
) -> bool:
    """Whether :func:`fit_ensemble` trains ``members`` networks like ``net`` faster than
    :func:`mlplab.fit` one by one (with the same results either way, up to the rounding of sums
    taken in another order).

    Stacking pays where a single network runs on the NumPy stepper: each product then serves
    every member. Networks that the compiled loop trains (small ones on long runs, such as the
    paper's 2-2-3-2) train faster alone. False where :func:`fit_ensemble` cannot train the
    configuration (one member, L-BFGS, an optimiser without an ``update`` formula).

    Parameters
    ----------
    net : MLP
        One of the networks (they share its architecture).
    members : int
        How many networks.
    loss, optimizer, batch_size, n_points, epochs
        As for :func:`mlplab.engine.explain`.
    """
    if members < 2 or not isinstance(optimizer, Optimizer) or optimizer.update is Optimizer.update:
        return False
    return explain(net, loss, optimizer, batch_size, n_points, epochs).path == "numpy"

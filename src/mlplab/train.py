"""Training: :func:`fit` runs minibatch optimisation and returns a :class:`History`.

Each epoch makes ceil(N / batch_size) optimiser steps, then evaluates the cost on the whole
training set (and on the validation set), so ``History.train_loss[k]`` is the paper's cost after
epoch k + 1. Minibatches come from a fresh permutation of the points every epoch
(``batch_sampling="shuffle"``) or are drawn with replacement (``batch_sampling="replacement"``; with
``batch_size=1`` this is the paper's SGD step on one random point).

A non-finite cost stops training: the parameters go back to the end of the last finite epoch,
a :class:`DivergenceWarning` says what happened and how to fix it, and ``History.status`` is
``"diverged"``.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

from mlplab.compute import small_products
from mlplab.engine import Trainer, explain
from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP
from mlplab.optim import LBFGS, Adam, Optimizer, Schedule, get_optimizer, get_schedule
from mlplab.progress import EpochProgress
from mlplab.values import check_seed, check_whole

SAMPLINGS = ("shuffle", "replacement")

Callback = Callable[[int, "History", MLP], "bool | None"]


class DivergenceWarning(RuntimeWarning):
    """Training produced a non-finite cost and was stopped."""


#: Whether a diverged run on this thread leaves its warning out (see :func:`quiet_divergence`).
_quiet = threading.local()


@contextmanager
def quiet_divergence() -> Iterator[None]:
    """Within the block, on this thread, a diverged run says so in its ``History.status`` and
    ``History.message`` only, without a :class:`DivergenceWarning`: for callers that read the
    status (a study, a sweep). Unlike ``warnings.catch_warnings`` it changes nothing that other
    threads share, so it is safe in runs on several threads."""
    before = getattr(_quiet, "on", False)
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = before


def warn_divergence(message: str) -> None:
    """Warn with :class:`DivergenceWarning`, pointing at the caller of the training function
    that calls this, unless :func:`quiet_divergence` is in force on this thread."""
    if not getattr(_quiet, "on", False):
        warnings.warn(message, DivergenceWarning, stacklevel=3)


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    Attributes
    ----------
    train_loss, val_loss : list of float
        Cost on the whole training / validation set after each epoch (``val_loss`` is empty
        without validation data).
    lr : list of float
        Learning rate used in each epoch (nan for L-BFGS, whose line search picks the step).
    steps : int
        Optimiser steps taken (L-BFGS: iterations, one per epoch).
    seconds : float
        Wall time of the training loop.
    status : str
        ``"completed"``, ``"early_stopping"``, ``"stopped"`` (a callback), ``"converged"``
        (L-BFGS) or ``"diverged"``.
    message : str
        A sentence about how the run ended.
    engine : str
        The path that trained: ``"compiled"``, ``"numpy"`` or ``"reference"``
        (see :func:`mlplab.engine.explain`).
    engine_reason : str
        Why that path.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    status: str = "running"
    message: str = ""
    engine: str = ""
    engine_reason: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    @property
    def best_epoch(self) -> int:
        """0-based epoch with the lowest validation cost (training cost without validation)."""
        losses = self.val_loss or self.train_loss
        return int(np.argmin(losses)) if losses else -1

    def to_csv(self) -> str:
        """The history as CSV text: ``epoch,train_loss,val_loss,lr`` (epochs from 1)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["epoch", "train_loss", "val_loss", "lr"])
        for k, tl in enumerate(self.train_loss):
            vl = self.val_loss[k] if k < len(self.val_loss) else ""
            w.writerow([k + 1, repr(tl), repr(vl) if vl != "" else "", repr(self.lr[k])])
        return buf.getvalue()

    def __repr__(self) -> str:
        """One line: epochs, steps, the last costs, how the run ended and the path that ran
        (the per-epoch lists are the attributes)."""
        parts = [f"{n} {word}{'' if n == 1 else 's'}"
                 for n, word in ((self.epochs, "epoch"), (self.steps, "step"))]  # fmt: skip
        for name, losses in (("train_loss", self.train_loss), ("val_loss", self.val_loss)):
            if losses:
                parts.append(f"{name} {losses[-1]:.4g}")
        parts += [f"status {self.status!r}", f"engine {self.engine!r}", f"{self.seconds:.3g} s"]
        return f"History({', '.join(parts)})"

    def _repr_html_(self) -> str:
        from mlplab.display import history_html

        return history_html(self)

    def save_csv(self, path: str | Path) -> Path:
        """Write :meth:`to_csv` to ``path`` atomically."""
        from mlplab.io import write_text

        return write_text(path, self.to_csv())


def split_validation(
    X: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out a random ``fraction`` of the rows: returns ``X_train, y_train, X_val, y_val``."""
    if not 0.0 < fraction < 1.0:
        raise MlplabError(f"a validation fraction must be between 0 and 1, got {fraction}")
    n = X.shape[0]
    n_val = round(fraction * n)
    if n_val < 1 or n_val >= n:
        raise MlplabError(f"validation fraction {fraction} of {n} points leaves an empty set")
    perm = rng.permutation(n)
    val, tr = perm[:n_val], perm[n_val:]
    return X[tr], y[tr], X[val], y[val]


class BatchDraws:
    """The points of every epoch's minibatches, drawn from ``rng`` — the one definition of the
    batch order that every training path follows.

    Epochs are drawn in blocks (of about :data:`DRAW_BLOCK` indices) in one generator call each,
    so the order depends only on the seed, never on how a path groups its epochs. A block of E
    epochs is an ``(E, M)`` array: with ``sampling="shuffle"`` each row is a permutation of the
    N points (M = N, batch k is ``row[k*B:(k+1)*B]``, the last one shorter); with
    ``"replacement"`` each row holds ceil(N/B) batches of B points drawn with replacement.
    """

    def __init__(self, n: int, batch_size: int, sampling: str, rng: np.random.Generator):
        self.n, self.rng, self.shuffle = n, rng, sampling == "shuffle"
        self.width = n if self.shuffle else math.ceil(n / batch_size) * batch_size
        self.block = max(1, DRAW_BLOCK // self.width)
        self._left = np.zeros((0, self.width), np.int64)

    def take(self, epochs: int) -> np.ndarray:
        """The next ``epochs`` epochs' point indices, shape ``(epochs, M)``."""
        parts, need = [], epochs
        while need > 0:
            if not len(self._left):
                self._left = self._draw()
            part, self._left = self._left[:need], self._left[need:]
            parts.append(part)
            need -= len(part)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _draw(self) -> np.ndarray:
        if self.shuffle:
            return self.rng.permuted(np.tile(np.arange(self.n, dtype=np.int64), (self.block, 1)),
                                     axis=1)  # fmt: skip
        return self.rng.integers(0, self.n, size=(self.block, self.width), dtype=np.int64)


#: Indices drawn per generator call by :class:`BatchDraws`.
DRAW_BLOCK = 1 << 16


def fit(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "mse",
    optimizer: Optimizer | LBFGS | str | None = None,
    epochs: int = 100,
    batch_size: int | None = 32,
    batch_sampling: str = "shuffle",
    validation: tuple[np.ndarray, np.ndarray] | float | None = None,
    seed: int | None = None,
    schedule: str | Schedule | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: int | None = None,
    progress: bool = True,
    engine: str = "auto",
    sampling: str | None = None,
) -> History:
    """Train ``net`` in place.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
    y : ndarray, shape (N, n_L), or (N,) integer labels for cross-entropy
    loss : str or Loss, default "mse"
    optimizer : Optimizer, LBFGS or str, optional
        Default ``Adam(lr=1e-3)``; a name (``"adam"``, ``"sgd"``, ``"lbfgs"``, or one given to
        :func:`mlplab.optim.register`) means that optimiser with its default settings.
        :class:`~mlplab.optim.LBFGS` trains full-batch, one iteration per epoch.
    epochs : int, default 100
    batch_size : int or None, default 32
        Points per step; None (or a size >= N) means the full batch.
    batch_sampling : {"shuffle", "replacement"}, default "shuffle"
        A fresh permutation of the points every epoch, or points drawn with replacement (as
        ``mlplab train --batch-sampling``).
    validation : (X_val, y_val) or float, optional
        A validation set, or the fraction of ``X`` to hold out at random.
    seed : int, optional
        Seeds the batch order (and the validation split).
    schedule : str or Schedule, optional
        Learning-rate schedule by epoch (see :mod:`mlplab.optim`); default constant.
    callbacks : list or tuple of callable
        ``callback(epoch, history, net)`` after every epoch (epoch from 0); True stops training.
    early_stopping : int, optional
        Stop when the validation cost (training cost without validation) has not improved for
        this many epochs, and restore the best parameters.
    progress : bool, default True
        Show a progress bar with the epoch and the losses.
    engine : {"auto", "fast", "compiled", "numpy", "reference"}, default "auto"
        ``"reference"`` runs :meth:`MLP.forward` / :meth:`MLP.backward` and the optimiser's
        ``step`` per batch; ``"compiled"`` and ``"numpy"`` run the same training (same batches,
        same parameters to rounding) on a path of :mod:`mlplab.engine`; ``"auto"`` (or
        ``"fast"``) picks the path :func:`mlplab.engine.explain` names. ``History.engine``
        and ``History.engine_reason`` say which path ran and why.
    sampling : {"shuffle", "replacement"}, optional
        The former name of ``batch_sampling``: still read, with a FutureWarning.

    Returns
    -------
    History

    Raises
    ------
    MlplabError
        For bad input, named with its fix: data that do not fit the network, a seed that is not
        a whole number >= 0, ``validation`` that is neither an (X_val, y_val) pair nor a
        fraction, and bad training options.
    """
    loss = get_loss(loss)
    optimizer = Adam() if optimizer is None else get_optimizer(optimizer)
    schedule = get_schedule(schedule)
    batch_sampling = renamed_sampling(batch_sampling, sampling)
    check_schedule(epochs, batch_sampling, early_stopping, batch_size)
    check_callbacks(callbacks)
    rng = np.random.default_rng(check_seed(seed))
    X = net.check_input(X)
    y = net.check_target(y, loss, X.shape[0])
    validation = check_validation(validation, "fit", fraction=True)
    if isinstance(validation, numbers.Real):
        X, y, Xv, yv = split_validation(X, y, validation, rng)
    elif validation is not None:
        Xv = net.check_input(validation[0], "X_val")
        yv = net.check_target(validation[1], loss, Xv.shape[0], "y_val")
    else:
        Xv = yv = None
    check_points(net, X, Xv)
    n = X.shape[0]
    batch_size = n if batch_size is None else min(int(batch_size), n)
    plan = explain(net, loss, optimizer, batch_size, n, epochs, engine)

    history = History(engine=plan.path, engine_reason=plan.reason)
    watch = _Watch(net, history, early_stopping, Xv is not None)
    draws = BatchDraws(n, batch_size, batch_sampling, rng)
    base_lr = optimizer.lr
    start = time.perf_counter()
    with (
        EpochProgress(epochs, enabled=progress) as bar,
        np.errstate(over="ignore", invalid="ignore"),
        small_products(),
    ):

        def end_epoch(
            epoch: int, lr: float, train: float | None = None, val: float | None = None
        ) -> bool:
            """Record the epoch (computing the costs unless given); True when training must stop."""
            history.train_loss.append(net.loss(X, y, loss) if train is None else train)
            if Xv is not None:
                history.val_loss.append(net.loss(Xv, yv, loss) if val is None else val)
            history.lr.append(lr)
            bar.update(epoch + 1, history)
            if watch.stop(epoch):
                return True
            return any(cb(epoch, history, net) for cb in callbacks) and watch.by_callback()

        try:
            if plan.path != "reference":
                T = loss.prepare(net(X), y)
                Tv = None if Xv is None else loss.prepare(net(Xv), yv)
                if plan.path == "compiled" and progress:
                    bar.note("compiling the training loop (once per configuration and process)")
                trainer = Trainer(plan, net, X, T, Xv, Tv, loss, optimizer, batch_size,
                                  watch.last_finite, draws.shuffle)  # fmt: skip
                per_epoch = bool(callbacks) or early_stopping is not None
                _fit_fast(trainer, draws, epochs, base_lr, schedule, history, end_epoch, per_epoch)
            elif isinstance(optimizer, LBFGS):
                _fit_lbfgs(net, X, y, loss, optimizer, epochs, history, end_epoch)
            else:
                grad = np.empty_like(net.params)
                for epoch in range(epochs):
                    optimizer.lr = base_lr * schedule(epoch, epochs)
                    order = draws.take(1)[0]
                    for k in range(0, len(order), batch_size):
                        idx = order[k : k + batch_size]
                        net.loss_gradient(X[idx], y[idx], loss, out=grad)
                        optimizer.step(net.params, grad)
                    history.steps += math.ceil(len(order) / batch_size)
                    if end_epoch(epoch, optimizer.lr):
                        break
        except KeyboardInterrupt:
            net.params[...] = watch.last_finite  # never leave a half-applied step behind
            raise
        finally:
            optimizer.lr = base_lr
    history.seconds = time.perf_counter() - start
    watch.finish()
    if history.status == "diverged":
        warn_divergence(history.message)
    return history


def renamed_sampling(batch_sampling: str, sampling: str | None) -> str:
    """``batch_sampling``, or the value given under its former name ``sampling`` (with a
    FutureWarning that says the new name)."""
    if sampling is None:
        return batch_sampling
    if batch_sampling not in ("shuffle", sampling):  # both given, and they differ
        raise MlplabError(
            f"batch_sampling={batch_sampling!r} and sampling={sampling!r} disagree; give "
            f"batch_sampling alone (sampling is its former name)"
        )
    warnings.warn(
        "the keyword 'sampling' of fit and fit_ensemble is now 'batch_sampling' (as "
        "--batch-sampling of mlplab train); 'sampling' will be removed",
        FutureWarning,
        stacklevel=3,
    )
    return sampling


def check_schedule(
    epochs: int, batch_sampling: str, early_stopping: int | None, batch_size: int | None = None
) -> None:
    """Refuse an epoch count, batch sampling, early-stopping patience or batch size that
    :func:`fit` (and :func:`mlplab.fit_ensemble`) cannot run, with a message naming the valid
    values."""
    check_whole(batch_size, "batch_size", 1, optional=True)
    check_whole(epochs, "epochs", 1)
    if batch_sampling not in SAMPLINGS:
        raise MlplabError(
            f"unknown batch_sampling {batch_sampling!r}; valid names are: {', '.join(SAMPLINGS)}"
        )
    check_whole(early_stopping, "early_stopping (a patience in epochs)", 1, optional=True)


def check_callbacks(callbacks: Sequence[Callback]) -> None:
    """Refuse ``callbacks`` that are not a list (or tuple) of callables, before the first
    epoch runs (a single function would fail only when the first epoch ends)."""
    if not isinstance(callbacks, (list, tuple)):
        raise MlplabError(
            f"callbacks must be a list of functions, e.g. callbacks=[my_callback]; got "
            f"{callbacks!r}"
        )
    for cb in callbacks:
        if not callable(cb):
            raise MlplabError(f"callbacks must be functions (epoch, history, net); got {cb!r}")


def check_validation(
    validation: tuple[np.ndarray, np.ndarray] | float | None, caller: str, fraction: bool
) -> tuple[np.ndarray, np.ndarray] | float | None:
    """``validation`` as the function ``caller`` takes it: an (X_val, y_val) pair, None, or
    where ``fraction`` (:func:`fit`) also a fraction of X to hold out.

    Raises
    ------
    MlplabError
        For anything else, naming what ``caller`` takes.
    """
    if validation is None or (isinstance(validation, (tuple, list)) and len(validation) == 2):
        return validation
    if isinstance(validation, numbers.Real):
        if fraction:
            return validation
        raise MlplabError(
            f"{caller} takes validation as an (X_val, y_val) pair, not a fraction "
            f"({validation!r}): hold the points out first, e.g. X, y, X_val, y_val = "
            f"mlplab.train.split_validation(X, y, {validation!r}, np.random.default_rng(0))"
        )
    got = f"a value of type {type(validation).__name__!r}"
    if isinstance(validation, (tuple, list)):
        n = len(validation)
        got = f"a {type(validation).__name__} of {n} item{'' if n == 1 else 's'}"
    takes = " or a fraction of X to hold out (0 < f < 1)" if fraction else ""
    raise MlplabError(f"validation takes an (X_val, y_val) pair{takes}; got {got}")


def check_points(net: MLP, X: np.ndarray, Xv: np.ndarray | None) -> None:
    """Refuse an empty training or validation set, and one whose forward pass (z^[l] and a^[l]
    for every point) would not fit the memory limit."""
    if X.shape[0] == 0 or (Xv is not None and Xv.shape[0] == 0):
        empty = "training" if X.shape[0] == 0 else "validation"
        raise MlplabError(f"the {empty} set has no points; give at least one row")
    net.check_batch(X.shape[0] + (0 if Xv is None else Xv.shape[0]), "the training data")


def _fit_fast(
    trainer: Trainer,
    draws: BatchDraws,
    epochs: int,
    base_lr: float,
    schedule: Schedule,
    history: History,
    end_epoch: Callable[..., bool],
    per_epoch: bool,
) -> None:
    """The epoch loop of :func:`fit` on the engine, in chunks of epochs.

    A chunk runs in one engine call; only its last epoch goes through the divergence guard
    (the engine stops a chunk at the first non-finite cost and keeps the parameters before it).
    With callbacks or early stopping every epoch is its own chunk, so they see every epoch.
    """
    epoch, chunk, target = 0, 1, 0.1  # grow chunks to about 0.1 s (progress bar refresh)
    constant = schedule.name == "constant"
    steps_per_epoch = math.ceil(draws.width / trainer.batch_size)
    try:
        while epoch < epochs:
            k = min(chunk, epochs - epoch)
            if constant:
                lrs = np.full(k, base_lr)
            else:
                lrs = np.array([base_lr * schedule(e, epochs) for e in range(epoch, epoch + k)])
            start = time.perf_counter()
            tl, vl, done = trainer.run(draws.take(k), lrs)
            if not per_epoch and time.perf_counter() - start < target:
                chunk *= 2
            history.steps += done * steps_per_epoch
            history.train_loss.extend(tl[: done - 1].tolist())
            if trainer.Xv is not None:
                history.val_loss.extend(vl[: done - 1].tolist())
            # a constant rate as one float repeated, not a list made from the array
            history.lr.extend(
                repeat(float(base_lr), done - 1) if constant else lrs[: done - 1].tolist()
            )
            last = epoch + done - 1
            trainer.optimizer.lr = float(lrs[done - 1])
            if end_epoch(last, float(lrs[done - 1]), float(tl[done - 1]), float(vl[done - 1])):
                break
            epoch += done
    finally:
        trainer.finish()


def _fit_lbfgs(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    optimizer: LBFGS,
    epochs: int,
    history: History,
    end_epoch: Callable[[int, float], bool],
) -> None:
    """Full-batch L-BFGS, one iteration per epoch and step (computed in float64); the
    recorded learning rate is nan (the line search picks each step)."""
    work = net.astype("float64")
    X64 = X.astype(np.float64)
    y64 = y if y.dtype.kind in "iu" else y.astype(np.float64)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        work.params[...] = theta
        return work.loss_gradient(X64, y64, loss)

    def callback(theta: np.ndarray) -> bool:
        net.params[...] = theta
        history.steps += 1
        return end_epoch(history.epochs, math.nan)

    result = optimizer.minimize(fun, work.params.copy(), epochs, callback)
    if history.status == "running" and not math.isfinite(result.fun):
        history.status = "diverged"  # the parameters stay those of the last finite iteration
        history.message = (
            f"L-BFGS stopped after {history.epochs} iterations: the cost became {result.fun}. "
            f"Check the data and the initial weights (their scale) for values that overflow."
        )
    if history.status == "running":
        net.params[...] = result.x
        if history.epochs < epochs:
            history.status = "converged" if result.success else "completed"
            history.message = (
                f"L-BFGS {'converged' if result.success else 'stopped'} after "
                f"{history.epochs} iterations ({result.nfev} cost evaluations): {result.message}"
            )


class _Watch:
    """Divergence guard and early stopping: keeps the parameters worth going back to."""

    def __init__(self, net: MLP, history: History, patience: int | None, has_val: bool) -> None:
        self.net, self.history, self.patience, self.has_val = net, history, patience, has_val
        self.last_finite = net.params.copy()
        self.best = net.params.copy() if patience else None
        self.best_loss = math.inf
        self.best_epoch = -1

    def stop(self, epoch: int) -> bool:
        h = self.history
        current = h.val_loss[-1] if self.has_val else h.train_loss[-1]
        if not (math.isfinite(h.train_loss[-1]) and math.isfinite(current)):
            self.net.params[...] = self.last_finite
            h.status = "diverged"
            h.message = (
                f"training diverged at epoch {epoch + 1}: the cost became {h.train_loss[-1]}. "
                f"The parameters are those of epoch {epoch} (the last finite cost). "
                f"Try a smaller learning rate."
            )
            return True
        np.copyto(self.last_finite, self.net.params)
        if self.patience is None:
            return False
        if current < self.best_loss:
            self.best_loss, self.best_epoch = current, epoch
            np.copyto(self.best, self.net.params)
        elif epoch - self.best_epoch >= self.patience:
            self.net.params[...] = self.best
            h.status = "early_stopping"
            h.message = (
                f"stopped early at epoch {epoch + 1}: no improvement for {self.patience} epochs; "
                f"restored the parameters of epoch {self.best_epoch + 1}"
            )
            return True
        return False

    def by_callback(self) -> bool:
        self.history.status = "stopped"
        self.history.message = f"stopped by a callback after epoch {self.history.epochs}"
        return True

    def finish(self) -> None:
        h = self.history
        if h.status == "running":
            h.status = "completed"
        if not h.message:
            last = f"{h.train_loss[-1]:.3e}" if h.train_loss else "n/a"
            h.message = f"{h.status} after {h.epochs} epochs ({h.steps} steps); train loss {last}"

"""What the studies share: one helper that trains a configuration over several seeds, progress
bars and small numeric helpers.

Every "run this configuration over K seeds" in the studies goes through :func:`train_seeds`, so
a faster engine (many networks on a leading axis) can replace the per-seed loop in one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from mlplab.engine import explain
from mlplab.ensemble import Ensemble, fit_ensemble
from mlplab.losses import get_loss
from mlplab.network import MLP
from mlplab.optim import LBFGS, SGD, Adam
from mlplab.progress import task_progress
from mlplab.train import DivergenceWarning, History, fit


@dataclass(frozen=True)
class Arch:
    """A network architecture: the arguments of :class:`mlplab.MLP` except the seed."""

    sizes: tuple[int, ...]
    activation: str = "tanh"
    output_activation: str = "identity"
    init: str = "xavier_normal"
    bias_init: float | str = 0.0

    def build(self, seed: int) -> MLP:
        """The network with weights drawn from ``seed``."""
        return MLP(
            list(self.sizes),
            activation=self.activation,
            output_activation=self.output_activation,
            init=self.init,
            bias_init=self.bias_init,
            seed=seed,
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "sizes": list(self.sizes)}


@dataclass(frozen=True)
class Training:
    """Optimiser settings for :func:`mlplab.fit`.

    ``optimizer`` is ``"sgd"`` (with ``momentum``), ``"adam"`` or ``"lbfgs"`` (full batch, one
    iteration per epoch; ``lr`` unused).
    """

    loss: str = "mse"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    epochs: int = 100
    batch_size: int | None = 32
    sampling: str = "shuffle"

    def make_optimizer(self) -> SGD | Adam | LBFGS:
        if self.optimizer == "sgd":
            return SGD(self.lr, momentum=self.momentum)
        if self.optimizer == "adam":
            return Adam(self.lr)
        if self.optimizer == "lbfgs":
            return LBFGS()
        raise ValueError(f"unknown optimizer {self.optimizer!r}; use 'sgd', 'adam' or 'lbfgs'")

    def to_dict(self) -> dict:
        return asdict(self)


class SeedRun(NamedTuple):
    """One trained network: the net, its :class:`~mlplab.History`, and the monitor's values
    after every epoch (empty without a monitor)."""

    net: MLP
    history: History
    monitor: list


def train_seeds(
    arch: Arch,
    training: Training,
    X: np.ndarray,
    y: np.ndarray,
    seeds: list[int],
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    monitor: Callable[[MLP], object] | None = None,
    start: list[MLP] | None = None,
    advance: Callable[[], object] | None = None,
) -> list[SeedRun]:
    """Train ``arch`` with ``training`` on ``(X, y)`` once per seed.

    Seed s draws the initial weights and the minibatch order. Several seeds with SGD or Adam
    on ``mse``/``half_sse`` on the BLAS engine train together as one :class:`~mlplab.Ensemble`
    (the same results as seed by seed, in one pass); other settings train seed by seed with
    :func:`mlplab.fit`.
    A diverging run stops at its last finite epoch with ``history.status == "diverged"`` (no
    warning is raised here: the caller reads the status).

    Parameters
    ----------
    arch : Arch
    training : Training
    X : ndarray, shape (N, n_1)
    y : ndarray, shape (N, n_L), or (N,) labels for cross-entropy
    seeds : list of int
    validation : (X_val, y_val), optional
    monitor : callable, optional
        ``monitor(net)`` is called before training and after every epoch; its values are kept
        in :attr:`SeedRun.monitor` (epochs + 1 values).
    start : list of MLP, optional
        Networks to continue training (one per seed, trained in place) instead of new ones.
    advance : callable, optional
        Called after each seed (a progress bar's ``advance``).

    Returns
    -------
    list of SeedRun
        One per seed, in order.
    """
    nets = [arch.build(seed) for seed in seeds] if start is None else list(start)
    values: list[list] = [[monitor(net)] if monitor is not None else [] for net in nets]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        if _together_is_faster(nets, training):
            histories = _train_together(nets, training, X, y, seeds, validation, monitor, values)
            if advance is not None:
                for _ in nets:
                    advance()
        else:
            histories = []
            for k, (net, seed) in enumerate(zip(nets, seeds, strict=True)):
                histories.append(
                    fit(
                        net,
                        X,
                        y,
                        seed=seed,
                        callbacks=_recorder(monitor, values[k]),
                        progress=False,
                        validation=validation,
                        **_fit_arguments(training),
                    )
                )
                if advance is not None:
                    advance()
    return [SeedRun(*run) for run in zip(nets, histories, values, strict=True)]


#: What :func:`mlplab.fit_ensemble` trains: other settings train seed by seed.
ENSEMBLE_OPTIMIZERS = ("sgd", "adam")
ENSEMBLE_LOSSES = ("mse", "half_sse")


def _together_is_faster(nets: list[MLP], training: Training) -> bool:
    """Whether one ensemble beats seed-by-seed :func:`mlplab.fit` for these networks.

    Stacking pays where a single network runs on the NumPy stepper (its products then serve all
    members at once); networks that the compiled loop trains (small ones on long runs, e.g. the
    paper's 2-2-3-2) train faster alone.
    """
    if len(nets) < 2 or training.optimizer not in ENSEMBLE_OPTIMIZERS:
        return False
    if training.loss not in ENSEMBLE_LOSSES:
        return False
    plan = explain(nets[0], get_loss(training.loss), training.make_optimizer(),
                   training.batch_size, epochs=training.epochs)  # fmt: skip
    return plan.path == "numpy"


def _fit_arguments(training: Training) -> dict:
    return {
        "loss": training.loss,
        "optimizer": training.make_optimizer(),
        "epochs": training.epochs,
        "batch_size": training.batch_size,
        "sampling": training.sampling,
    }


def _recorder(monitor: Callable[[MLP], object] | None, values: list) -> list:
    """Callbacks that append ``monitor(net)`` to ``values`` after every epoch."""
    if monitor is None:
        return []
    return [lambda epoch, history, net: values.append(monitor(net))]


def _train_together(
    nets: list[MLP],
    training: Training,
    X: np.ndarray,
    y: np.ndarray,
    seeds: list[int],
    validation: tuple[np.ndarray, np.ndarray] | None,
    monitor: Callable[[MLP], object] | None,
    values: list[list],
) -> list[History]:
    """All seeds as one ensemble (members on a leading axis); ``nets`` get the results.

    Each member's result equals training it alone with :func:`mlplab.fit` and its seed.
    """
    ensemble = Ensemble.from_nets(nets, seeds)
    callbacks = []
    if monitor is not None:
        row = {id(ensemble.member(i)): i for i in range(len(nets))}
        callbacks.append(lambda epoch, history, net: values[row[id(net)]].append(monitor(net)))
    histories = fit_ensemble(
        ensemble,
        X,
        y,
        seeds=seeds,
        validation=validation,
        callbacks=callbacks,
        progress=False,
        **_fit_arguments(training),
    )
    for net, params in zip(nets, ensemble.params, strict=True):
        net.params[...] = params
    return histories


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[..., None]]:
    """A progress bar over ``total`` items; yields ``advance(info="")``."""
    bar = task_progress(description, total, enabled)
    with bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda info="": bar.update(task, advance=1, info=info)


def over_seeds(seeds: int, lead: str = "median of", band: bool = False) -> str:
    """``"median of 3 seeds (band: min–max)"``, or ``"1 seed"`` where there is one (no median)."""
    if seeds == 1:
        return "One seed" if lead[:1].isupper() else "1 seed"
    return f"{lead} {seeds} seeds" + (" (band: min–max)" if band else "")


def plural(n: int, word: str) -> str:
    """``"1 seed"``, ``"3 seeds"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def seed_list(seeds: int) -> list[int]:
    """The seeds 0, 1, ..., seeds − 1."""
    return list(range(seeds))


def stack(runs: list[SeedRun], attr: str) -> np.ndarray:
    """``history.<attr>`` (or ``"monitor"``) of every run as rows of one array (runs, epochs).

    Runs that stopped early (diverged) are padded with their last value.
    """
    rows = [run.monitor if attr == "monitor" else getattr(run.history, attr) for run in runs]
    n = max(len(r) for r in rows)
    return np.array([list(r) + [r[-1]] * (n - len(r)) for r in rows], dtype=float)


def fmt(x: float, digits: int = 3) -> str:
    """A number in short scientific notation, e.g. ``3.14e-05``."""
    return f"{x:.{digits - 1}e}"

"""One training run (what ``mlplab train`` does): from a :class:`~mlplab.config.TrainConfig` to
a run folder.

:func:`train_run` builds the data and the network, trains, and writes ``config.json``,
``model.npz``, ``history.csv``, ``fit.png``, ``loss.png`` and ``metrics.json`` into a staging
folder that is moved into place whole (:mod:`mlplab.runfolder`). Rerunning a ``config.json``
reproduces the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlplab.config import TrainConfig
from mlplab.config_check import check_config
from mlplab.data import get_target, load_data, sample, target_values
from mlplab.errors import MlplabError
from mlplab.io import write_json
from mlplab.limits import check_bytes
from mlplab.losses import get_loss
from mlplab.network import MLP
from mlplab.run_figures import GRID_POINTS, write_figures
from mlplab.runfolder import holds_run, staged
from mlplab.train import History, fit, quiet_divergence, split_validation

#: A data set of at most this many points is not split for validation unless asked.
SMALL_DATA = 20
#: The validation share of a larger data file, unless asked otherwise.
VAL_FRACTION = 0.2


def make_data(cfg: TrainConfig) -> tuple[np.ndarray, ...]:
    """Training and validation arrays ``x, y, x_val, y_val`` for ``cfg``.

    A data set is split at random by ``cfg.val_fraction`` (0: no validation set, empty arrays);
    unset, it holds out 20 % of a data set of more than :data:`SMALL_DATA` points and nothing of a
    smaller one.
    """
    rng = np.random.default_rng(cfg.seed)
    if cfg.data:
        x, y = load_data(cfg.data)
        fraction = cfg.val_fraction
        if fraction is None:
            fraction = 0.0 if len(x) <= SMALL_DATA else VAL_FRACTION
        if fraction == 0.0:
            return x, y, x[:0], y[:0]  # no validation set
        return split_validation(x, y, fraction, rng)
    f = get_target(cfg.target)
    x = sample(cfg.n_train, cfg.domain, cfg.sampling, rng)
    x_val = sample(cfg.n_val, cfg.domain, cfg.sampling, rng)
    target_values(cfg.target, grid_of(cfg), f)  # finite where max_abs_error is measured
    clean = target_values(cfg.target, x, f)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named just below
        y = clean + cfg.noise * rng.standard_normal(x.shape)
    if np.all(np.isfinite(clean)) and not np.all(np.isfinite(y)):
        raise MlplabError(
            f"--noise {cfg.noise:g} makes the labels overflow; give a smaller --noise"
        )
    return x, y, x_val, target_values(cfg.target, x_val, f)


def grid_of(cfg: TrainConfig) -> np.ndarray:
    """The dense grid of ``cfg.domain`` on which a target run's ``max_abs_error`` is measured,
    shape (:data:`GRID_POINTS`, 1)."""
    return np.linspace(cfg.domain[0], cfg.domain[1], GRID_POINTS).reshape(-1, 1)


def class_labels(y: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer class labels from one target column: ``(labels, val_labels, n_classes)``.

    Raises
    ------
    ValueError
        Unless the single column holds whole numbers >= 0 (and at least two classes).
    """
    if y.shape[1] != 1:
        raise ValueError(
            f"cross_entropy in a run takes one column of integer class labels, got {y.shape[1]}"
        )
    both = np.concatenate([y[:, 0], y_val[:, 0]])
    if np.any(both < 0) or np.any(both != np.round(both)):
        raise ValueError("cross_entropy needs class labels 0, 1, 2, ... in the target column")
    largest = float(both.max())
    check_bytes(
        f"class label {largest:g} (cross_entropy makes one output per class 0..{largest:g}, "
        f"for each of {len(both)} points)",
        8.0 * (largest + 1) * len(both),
        hint="number the classes 0, 1, 2, ... without gaps",
    )
    n_classes = max(int(largest) + 1, 2)
    return y[:, 0].astype(np.intp), y_val[:, 0].astype(np.intp), n_classes


def _one_hot(y: np.ndarray) -> bool:
    """Whether targets are one-hot rows of two or more classes (accuracy is then reported)."""
    return (
        y.ndim == 2
        and y.shape[1] >= 2
        and bool(np.all((y == 0) | (y == 1)))
        and bool(np.all(y.sum(axis=1) == 1))
    )


@dataclass
class RunResult:
    """What :func:`train_run` produced."""

    net: MLP
    history: History
    metrics: dict
    out: Path | None


def train_run(
    cfg: TrainConfig,
    out: str | Path | None = None,
    progress: bool = True,
    on_replace: Callable[[], object] | None = None,
) -> RunResult:
    """Train the network of ``cfg``; with ``out``, write the run folder whole.

    The files are written to a staging folder beside ``out`` which then replaces ``out`` in one
    step (see :mod:`mlplab.runfolder`): an interrupted or failed run leaves ``out`` as it was.
    ``on_replace()`` is called before training when ``out`` holds an earlier run (once this
    run holds the folder's lock).

    Raises
    ------
    mlplab.runfolder.RunFolderBusyError
        When another process is writing ``out``.

    Returns
    -------
    RunResult
        As :func:`train_into`, with ``out`` the run folder.
    """
    check_config(cfg)
    if out is None:
        return train_into(cfg, None, progress)
    with staged(out) as stage:
        if on_replace is not None and holds_run(out):
            on_replace()
        result = train_into(cfg, stage.path, progress)
    result.out = Path(out)
    return result


def train_into(cfg: TrainConfig, folder: Path | None, progress: bool = True) -> RunResult:
    """Train the network of ``cfg``; with ``folder``, write the run's files into it.

    ``folder`` is written file by file: give it a staging folder (:func:`train_run` does).

    Returns
    -------
    RunResult
        ``metrics`` has ``train_mse``, ``val_mse``, ``max_abs_error`` (on a dense grid of the
        domain, for a target function), ``seconds``, ``epochs``, ``status``; with
        ``cross_entropy`` (integer class labels in the last column) ``train_accuracy`` and
        ``val_accuracy`` instead of the squared errors.
    """
    x, y, x_val, y_val = make_data(cfg)
    classes = get_loss(cfg.loss).integer_targets
    if classes:
        y, y_val, n_out = class_labels(y, y_val)
    else:
        n_out = y.shape[1]
    net = cfg.build_network(x.shape[1], n_out)
    optimizer = cfg.build_optimizer()
    start = time.perf_counter()
    with quiet_divergence():  # reported by metrics["status"]
        history = fit(
            net,
            x,
            y,
            optimizer=optimizer,
            validation=(x_val, y_val) if len(x_val) else None,
            seed=cfg.seed,
            progress=progress,
            **cfg.fit_arguments(),
        )
    seconds = time.perf_counter() - start
    scores = {}
    for key, X_, Y_ in (("train", x, y), ("val", x_val, y_val)):
        if not classes:
            scores[f"{key}_mse"] = float(np.mean((net(X_) - Y_) ** 2)) if len(X_) else None
        if classes or _one_hot(y):
            labels = Y_ if classes else Y_.argmax(axis=1)
            accuracy = np.mean(net(X_).argmax(axis=1) == labels) if len(X_) else None
            scores[f"{key}_accuracy"] = None if accuracy is None else float(accuracy)
    metrics = {
        **scores,
        "max_abs_error": None,
        "seconds": seconds,
        "epochs": history.epochs,
        "steps": history.steps,
        "status": history.status,
        "parameters": net.num_parameters,
    }
    grid = None
    if not cfg.data and not classes:
        grid = grid_of(cfg)
        truth = target_values(cfg.target, grid)
        metrics["max_abs_error"] = float(np.max(np.abs(net(grid) - truth)))
    if folder is not None:
        write_json(folder / "config.json", cfg.to_dict())
        net.save(folder / "model.npz")
        history.save_csv(folder / "history.csv")
        write_figures(cfg, net, history, x, y, folder)
        write_json(folder / "metrics.json", metrics)  # last: its presence marks a finished run
    return RunResult(net, history, metrics, folder)

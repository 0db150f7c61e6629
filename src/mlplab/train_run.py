"""One training run (what ``mlplab train`` does): from a :class:`~mlplab.config.TrainConfig` to
a run folder.

:func:`train_run` builds the data and the network, trains, and writes ``config.json``,
``model.npz``, ``history.csv``, ``fit.png``, ``loss.png`` and ``metrics.json`` into a staging
folder that is moved into place whole (:mod:`mlplab.runfolder`). Rerunning a ``config.json``
reproduces the run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlplab.config import TrainConfig
from mlplab.data import get_target, load_xy, sample
from mlplab.io import write_json
from mlplab.losses import get_loss
from mlplab.network import MLP
from mlplab.runfolder import holds_run, staged
from mlplab.train import DivergenceWarning, History, fit, split_validation

GRID_POINTS = 2001


def make_data(cfg: TrainConfig) -> tuple[np.ndarray, ...]:
    """Training and validation arrays ``x, y, x_val, y_val`` for ``cfg``."""
    rng = np.random.default_rng(cfg.seed)
    if cfg.data:
        x, y = load_xy(cfg.data)
        return split_validation(x, y, cfg.val_fraction, rng)
    f = get_target(cfg.target)
    x = sample(cfg.n_train, cfg.domain, cfg.sampling, rng)
    x_val = sample(cfg.n_val, cfg.domain, cfg.sampling, rng)
    y = f(x) + cfg.noise * rng.standard_normal(x.shape)
    return x, y, x_val, f(x_val)


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
    n_classes = max(int(both.max()) + 1, 2)
    return y[:, 0].astype(np.intp), y_val[:, 0].astype(np.intp), n_classes


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # reported by metrics["status"]
        history = fit(
            net,
            x,
            y,
            optimizer=optimizer,
            validation=(x_val, y_val),
            seed=cfg.seed,
            progress=progress,
            **cfg.fit_arguments(),
        )
    seconds = time.perf_counter() - start
    if classes:
        scores = {
            "train_accuracy": float(np.mean(net(x).argmax(axis=1) == y)),
            "val_accuracy": float(np.mean(net(x_val).argmax(axis=1) == y_val)),
        }
    else:
        scores = {
            "train_mse": float(np.mean((net(x) - y) ** 2)),
            "val_mse": float(np.mean((net(x_val) - y_val) ** 2)),
        }
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
        grid = np.linspace(cfg.domain[0], cfg.domain[1], GRID_POINTS).reshape(-1, 1)
        truth = get_target(cfg.target)(grid)
        metrics["max_abs_error"] = float(np.max(np.abs(net(grid) - truth)))
    if folder is not None:
        write_json(folder / "config.json", cfg.to_dict())
        net.save(folder / "model.npz")
        history.save_csv(folder / "history.csv")
        _write_figures(cfg, net, history, x, y, grid, folder)
        write_json(folder / "metrics.json", metrics)  # last: its presence marks a finished run
    return RunResult(net, history, metrics, folder)


def _write_figures(
    cfg: TrainConfig,
    net: MLP,
    history: History,
    x: np.ndarray,
    y: np.ndarray,
    grid: np.ndarray | None,
    out: Path,
) -> None:
    from mlplab import plots

    name = cfg.target if not cfg.data else Path(cfg.data).name
    arch = "-".join(map(str, net.sizes))
    if x.shape[1] == 1 and y.ndim == 2 and y.shape[1] == 1:
        if grid is None:
            grid = np.linspace(x.min(), x.max(), GRID_POINTS).reshape(-1, 1)
            truth = None
        else:
            truth = get_target(cfg.target)(grid)
        fig, (ax,) = plots.new_figure()
        plots.plot_fit(
            grid,
            truth,
            net(grid),
            x,
            y,
            ax=ax,
            title=f"{name}: {arch} {cfg.activation} network, {cfg.optimizer}",
        )
        plots.save_figure(fig, out / "fit.png")
    fig, (ax,) = plots.new_figure()
    plots.plot_losses(
        history.train_loss,
        history.val_loss,
        ax=ax,
        ylabel=f"{cfg.loss} loss",
        title=f"{name}: loss per epoch ({cfg.optimizer}"
        + (")" if cfg.optimizer.lower() == "lbfgs" else f", lr {cfg.lr:g})"),
    )
    plots.save_figure(fig, out / "loss.png")

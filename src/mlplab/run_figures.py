"""The figures of a training run: the fit, its error and input gradient, decision regions, loss.

For one input and one output, ``fit.png`` has three panels over a range that covers the
training points and the target's domain: the fit (truth, points, network), the error
a^[L](x) − f(x) with the residuals at the training points, and the network's input gradient
∇a^[L](x) against the target's derivative f′(x) (symbolic, :func:`mlplab.data.target_derivative`).
For two inputs and a class per output (integer labels or one-hot targets), ``regions.png`` shows
the decision regions (argmax of a^[L]) with the training points. ``loss.png`` shows the training
and validation loss per epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab.data import get_target, target_derivative

if TYPE_CHECKING:
    from mlplab.config import TrainConfig
    from mlplab.network import MLP
    from mlplab.train import History

#: Points of the dense grid of x that a run's figures and its max_abs_error use.
GRID_POINTS = 2001


def plot_range(x: np.ndarray, domain: tuple[float, float] | None) -> tuple[float, float]:
    """The x range of the figures: the training points and (for a target) its domain."""
    low, high = float(np.min(x)), float(np.max(x))
    if domain is not None:
        low, high = min(low, domain[0]), max(high, domain[1])
    return low, high


def write_figures(
    cfg: TrainConfig, net: MLP, history: History, x: np.ndarray, y: np.ndarray, out: Path
) -> None:
    """Write ``fit.png`` (one input and one output), ``regions.png`` (two inputs, classes) and
    ``loss.png`` into ``out``."""
    from mlplab import plots

    name = cfg.target if not cfg.data else Path(cfg.data).name
    arch = "-".join(map(str, net.sizes))
    if x.shape[1] == 1 and y.ndim == 2 and y.shape[1] == 1:
        domain = None if cfg.data else cfg.domain
        # within what a figure can draw, so that the grid's width stays finite
        span = np.clip(plot_range(x, domain), -plots.LARGEST_DRAWN, plots.LARGEST_DRAWN)
        grid = np.linspace(*span, GRID_POINTS).reshape(-1, 1)
        truth = derivative = label = None
        if not cfg.data:
            truth = get_target(cfg.target)(grid)
            df = target_derivative(cfg.target)
            derivative = None if df is None else df(grid)
            label = "f′(x), symbolic" if df is not None else "f′(x): none (a jump)"
        fig, axes = plots.new_figure(ncols=3, width=5.2)
        plots.plot_fit(
            grid,
            truth,
            net(grid),
            x,
            y,
            ax=axes[0],
            title=f"{name}: {arch} {cfg.activation} network, {cfg.optimizer}",
        )
        plots.plot_error(
            grid,
            None if truth is None else net(grid) - truth,
            x,
            net(x) - y,
            ax=axes[1],
            title="Error of the network",
        )
        plots.plot_input_gradient(grid, net.input_gradient(grid), derivative, label, ax=axes[2])
        plots.save_figure(fig, out / "fit.png")
    if x.shape[1] == 2 and net.sizes[-1] >= 2 and (y.ndim == 1 or y.shape[1] == net.sizes[-1]):
        labels = y if y.ndim == 1 else y.argmax(axis=1)
        fig, (ax,) = plots.new_figure(width=5.6, height=5.2)
        accuracy = plots.plot_regions(ax, lambda P: net(P).argmax(axis=1), x, labels, net.sizes[-1])
        ax.set_title(
            f"{name}: {arch} {cfg.activation} network\n"
            f"regions of argmax $a^{{[L]}}$; {round(accuracy * len(x))}/{len(x)} points in "
            "their class's region"
        )
        plots.save_figure(fig, out / "regions.png")
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

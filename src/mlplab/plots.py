"""Figures as PNG files (matplotlib's Agg canvas: no display needed, no global pyplot state).

The core of mlplab never imports this module; the CLI and the experiments do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mlplab.files import atomic_open

COLORS = {
    "truth": "black",
    "net": "tab:blue",
    "data": "tab:orange",
    "train": "tab:blue",
    "val": "tab:red",
}


#: Largest magnitude a figure draws. Values beyond it, up to float64's largest (1.8e308),
#: overflow matplotlib's arithmetic of axis limits and ticks: they are left out of a curve, as
#: NaN and inf are, and its label says how many (see :func:`drawable`).
LARGEST_DRAWN = 1e300


def drawable(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The points of a curve as flat float arrays, ready for matplotlib.

    A point with a coordinate that is NaN, ±inf or beyond ±:data:`LARGEST_DRAWN` is set to NaN
    in both, which leaves a gap in a line (and no marker).

    Parameters
    ----------
    x, y : array_like
        The same number of values each (the shape does not matter).

    Returns
    -------
    x, y : ndarray, shape (M,)
    hidden : int
        The number of points set to NaN that were not NaN already (a NaN marks a missing value).
    """
    x = np.array(np.ravel(x), dtype=float)
    y = np.array(np.ravel(y), dtype=float)
    bad = ~(np.abs(x) <= LARGEST_DRAWN) | ~(np.abs(y) <= LARGEST_DRAWN)
    hidden = int(np.count_nonzero(bad & ~np.isnan(x) & ~np.isnan(y)))
    x[bad] = y[bad] = np.nan
    return x, y, hidden


def hidden_note(label: str, hidden: int, total: int) -> str:
    """``label``, followed, when ``hidden`` of its ``total`` points could not be drawn (see
    :func:`drawable`), by a note that says so."""
    if not hidden:
        return label
    return f"{label} ({hidden} of {total} not drawn: too large or infinite)"


def _curve(ax: Axes, x: np.ndarray, y: np.ndarray, *fmt: str, label: str, **style) -> None:
    """Plot ``y`` against ``x`` on ``ax`` as :func:`drawable` leaves them, the label noting
    any point left out; the x-axis covers all of ``x`` that can be drawn."""
    xs, ys, hidden = drawable(x, y)
    ax.plot(xs, ys, *fmt, label=hidden_note(label, hidden, xs.size), **style)
    if hidden:  # the x-axis still spans the curve's x
        along = np.ravel(np.asarray(x, dtype=float))
        along = along[np.abs(along) <= LARGEST_DRAWN]
        if along.size:
            ax.dataLim.update_from_data_x(along, ignore=False)
            ax.autoscale_view()


def new_figure(
    ncols: int = 1, width: float = 6.4, height: float = 4.2
) -> tuple[Figure, list[Axes]]:
    """A figure with ``ncols`` axes side by side, on an Agg canvas."""
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, list(axes)


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically.

    Where matplotlib's log-axis ticks overflow float64 (a study whose cost grew to 1e278
    without overflowing), the log axes are drawn linear instead, each saying so in its label,
    rather than the figure failing.
    """
    try:
        with atomic_open(path, "wb") as fh, np.errstate(over="ignore"):  # raised below
            fig.savefig(fh, format="png", dpi=dpi)
    except OverflowError:
        logs = [(ax, a) for ax in fig.axes for a in "xy" if getattr(ax, f"get_{a}scale")() == "log"]
        if not logs:
            raise
        for ax, a in logs:
            getattr(ax, f"set_{a}scale")("linear")
            label = getattr(ax, f"get_{a}label")()
            getattr(ax, f"set_{a}label")(f"{label} (linear: too many decades for a log axis)")
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
    return Path(path)


def legend_on_top(ax: Axes, share: float = 0.25) -> None:
    """The legend of ``ax`` in a band of its own above the data, so that it covers none of it.

    The y-axis is extended upwards until the data fill the lower ``1 − share`` of it; the
    legend sits at the top centre, in the band left free.
    """
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + share / (1 - share) * (high - low))
    ax.legend(loc="upper center", fontsize=8)
    say_if_nothing_drawn(ax)


def say_if_nothing_drawn(ax: Axes) -> None:
    """Write a note across ``ax`` when none of its labelled curves has a point to draw (every
    value too large or not finite: see :func:`drawable`), instead of leaving it blank."""
    curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    if curves and not any(np.isfinite(np.asarray(c.get_ydata(), float)).any() for c in curves):
        ax.text(
            0.5,
            0.4,
            "nothing to draw:\nevery value is too large or not finite",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )


def plot_fit(
    x_grid: np.ndarray,
    truth: np.ndarray | None,
    prediction: np.ndarray,
    x_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
    title: str = "Network fit",
    ax: Axes | None = None,
) -> Axes:
    """Truth, training points and the network's output against x (1-D input, 1 output).

    Parameters
    ----------
    x_grid : ndarray, shape (M,) or (M, 1)
    truth : ndarray, shape (M,) or (M, 1), optional
    prediction : ndarray, shape (M,) or (M, 1)
    x_train, y_train : ndarray, shape (N,) or (N, 1), optional
    """
    if ax is None:
        _, (ax,) = new_figure()
    if truth is not None:
        _curve(ax, x_grid, truth, color=COLORS["truth"], lw=1.5, label="truth f(x)")
    if x_train is not None and y_train is not None:
        _curve(
            ax,
            x_train,
            y_train,
            "o",
            ms=3.5,
            color=COLORS["data"],
            alpha=0.7,
            label=f"training points (N = {np.size(x_train)})",
        )
    _curve(
        ax, x_grid, prediction, color=COLORS["net"], lw=2, ls="--", label=r"network $a^{[L]}(x)$"
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    legend_on_top(ax)
    return ax


def plot_losses(
    train_loss: Sequence[float],
    val_loss: Sequence[float] = (),
    title: str = "Loss per epoch",
    ylabel: str = "loss",
    ax: Axes | None = None,
) -> Axes:
    """Training (and validation) loss per epoch on a log axis."""
    if ax is None:
        _, (ax,) = new_figure()
    epochs = np.arange(1, len(train_loss) + 1)
    _curve(ax, epochs, train_loss, color=COLORS["train"], label="training")
    if len(val_loss):
        _curve(ax, epochs, val_loss, color=COLORS["val"], label="validation")
    drawn = np.concatenate([drawable(epochs[: len(v)], v)[1] for v in (train_loss, val_loss)])
    drawn = drawn[~np.isnan(drawn)]
    if drawn.size and np.all(drawn > 0) and _log_fits(drawn.min(), drawn.max()):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    say_if_nothing_drawn(ax)
    return ax


def _log_fits(low: float, high: float) -> bool:
    """Whether a log axis can show data from ``low`` to ``high`` (> 0): matplotlib puts its
    ticks up to the decades shown beyond each end, and they must stay within float64's
    10^±308 (else its tick arithmetic overflows and the figure fails)."""
    bottom, top = math.log10(low), math.log10(high)
    beyond = 1.1 * (top - bottom) + 5  # its margin, and a stride of ticks past it
    return bottom - beyond >= -300 and top + beyond <= 300


def band(
    ax: Axes,
    x: np.ndarray,
    runs: np.ndarray,
    label: str,
    color: str | None = None,
    marker: str | None = None,
) -> None:
    """Median over runs (rows of ``runs``) as a line, with a band from min to max.

    Parameters
    ----------
    x : ndarray, shape (M,)
    runs : ndarray, shape (R, M) or (M,)
        One row per run; NaN marks a missing value (ignored; a column of NaN is not drawn). A
        value that cannot be drawn (see :func:`drawable`) is left out too, and the label says
        how many.
    """
    runs = np.atleast_2d(np.asarray(runs, dtype=float))
    x = np.ravel(np.asarray(x, dtype=float))
    _, values, hidden = drawable(np.broadcast_to(x, runs.shape), runs)  # a bad x: a NaN column
    runs = values.reshape(runs.shape)
    keep = ~np.all(np.isnan(runs), axis=0)
    (line,) = ax.plot(
        x[keep],
        np.nanmedian(runs[:, keep], axis=0),
        color=color,
        marker=marker,
        label=hidden_note(label, hidden, runs.size),
    )
    runs, x = runs[:, keep], x[keep]
    if runs.shape[0] > 1:
        ax.fill_between(
            x,
            np.nanmin(runs, axis=0),
            np.nanmax(runs, axis=0),
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )


def plot_error(
    x_grid: np.ndarray,
    error: np.ndarray | None,
    x_train: np.ndarray,
    residual: np.ndarray,
    title: str = "Error",
    ax: Axes | None = None,
) -> Axes:
    """The network's error a^[L](x) − f(x) on a grid and its residuals at the training points.

    Parameters
    ----------
    x_grid : ndarray, shape (M,) or (M, 1)
    error : ndarray, shape (M,) or (M, 1), optional
        a^[L](x) − f(x) on the grid, where the truth f is known.
    x_train, residual : ndarray, shape (N,) or (N, 1)
        The training points and a^[L](x_i) − y_i there.
    """
    if ax is None:
        _, (ax,) = new_figure()
    ax.axhline(0.0, color="0.5", lw=0.8)
    if error is not None:
        _curve(ax, x_grid, error, color=COLORS["net"], lw=1.5, label=r"$a^{[L]}(x) - f(x)$")
    _curve(
        ax,
        x_train,
        residual,
        "o",
        ms=3,
        color=COLORS["data"],
        alpha=0.7,
        label=r"$a^{[L]}(x_i) - y_i$ at the training points",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("error")
    ax.set_title(title)
    legend_on_top(ax)
    return ax


def plot_input_gradient(
    x_grid: np.ndarray,
    gradient: np.ndarray,
    derivative: np.ndarray | None = None,
    derivative_label: str | None = None,
    title: str = r"Input gradient $\nabla a^{[L]}(x)$",
    ax: Axes | None = None,
) -> Axes:
    """The network's input gradient against the target's derivative (1-D input, 1 output).

    Parameters
    ----------
    x_grid : ndarray, shape (M,) or (M, 1)
    gradient : ndarray, shape (M,) or (M, 1)
        ∇a^[L](x) on the grid.
    derivative : ndarray, shape (M,) or (M, 1), optional
        f′(x) on the grid, labelled ``derivative_label`` (default "f′(x)").
    derivative_label : str, optional
        How the derivative was computed; without ``derivative``, a note in the legend (why
        there is none).
    """
    if ax is None:
        _, (ax,) = new_figure()
    if derivative is not None:
        label = derivative_label or "f′(x)"
        _curve(ax, x_grid, derivative, color=COLORS["truth"], lw=1.5, label=label)
    elif derivative_label:
        ax.plot([], [], " ", label=derivative_label)
    _curve(
        ax,
        x_grid,
        gradient,
        color=COLORS["net"],
        lw=2,
        ls="--",
        label=r"network $\nabla a^{[L]}(x)$",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("derivative")
    ax.set_title(title)
    legend_on_top(ax)
    return ax


def plot_regions(
    ax: Axes,
    classify,
    X: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    names: Sequence[str] | None = None,
    pad: float = 0.1,
    resolution: int = 301,
) -> float:
    """Decision regions of a classifier on the plane, with the labelled points on top.

    Parameters
    ----------
    ax : Axes
    classify : callable
        ``classify(P)`` returns the class (0 .. n_classes−1) of each row of ``P`` (M, 2).
    X : ndarray, shape (N, 2)
    labels : ndarray, shape (N,)
        The class of each point.
    n_classes : int
    names : sequence of str, optional
        A name per class for the legend (default "class 0", "class 1", ...).
    pad : float
        Margin around the points, as a share of their range; points inside [0, 1]² are shown
        on all of [0, 1]².
    resolution : int
        Grid points per axis.

    Returns
    -------
    float
        The accuracy on the points: the share whose region is their class.
    """
    X = np.asarray(X, dtype=float)
    shown = X[np.all(np.abs(X) <= LARGEST_DRAWN, axis=1)]  # the points drawn: see drawable
    low, high = (shown.min(axis=0), shown.max(axis=0)) if len(shown) else (0.0, 1.0)
    if np.all(low >= 0) and np.all(high <= 1):
        low, high = np.zeros(2), np.ones(2)
    else:
        span = np.where(high > low, high - low, 1.0)
        low, high = low - pad * span, high + pad * span
    u = np.linspace(low[0], high[0], resolution)
    v = np.linspace(low[1], high[1], resolution)
    U, V = np.meshgrid(u, v)
    regions = np.asarray(classify(np.c_[U.ravel(), V.ravel()])).reshape(U.shape)
    fills = ["#c6dbef", "#fdd0a2", "#c7e9c0", "#dadaeb", "#fcbba1", "#d9d9d9"]
    points = [
        ("o", "tab:blue"),
        ("x", "tab:red"),
        ("^", "tab:green"),
        ("s", "tab:purple"),
        ("D", "tab:brown"),
        ("v", "tab:gray"),
    ]
    ax.contourf(
        U,
        V,
        regions,
        levels=np.arange(n_classes + 1) - 0.5,
        colors=[fills[k % len(fills)] for k in range(n_classes)],
    )
    for k in range(n_classes):
        marker, color = points[k % len(points)]
        mine = X[labels == k]
        _curve(
            ax,
            mine[:, 0],
            mine[:, 1],
            marker,
            ms=8,
            mfc="none",
            mew=2,
            color=color,
            label=f"{names[k] if names else f'class {k}'} ({len(mine)} point"
            + ("s)" if len(mine) != 1 else ")"),
        )
    ax.set_xlim(u[0], u[-1])
    ax.set_ylim(v[0], v[-1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return float(np.mean(np.asarray(classify(X)) == labels))

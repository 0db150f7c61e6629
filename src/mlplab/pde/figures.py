"""Figures of a solved problem: the solution against the exact one, the error, the loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlplab.plots import COLORS, new_figure, plot_losses, save_figure


def solution_1d(path: Path, x: np.ndarray, u: np.ndarray, exact: np.ndarray, title: str) -> Path:
    """u and the exact solution against x (left), and the error u − u_exact (right)."""
    fig, (ax, ax_err) = new_figure(ncols=2, width=5.2)
    ax.plot(x, exact, color=COLORS["truth"], lw=2, label="exact")
    ax.plot(x, u, color=COLORS["net"], lw=2, ls="--", label="network")
    ax.set(xlabel="x", ylabel="u", title=title)
    ax.legend(loc="best")
    ax_err.plot(x, u - exact, color=COLORS["val"])
    ax_err.set(xlabel="x", ylabel="u − u_exact", title="error")
    ax_err.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    return save_figure(fig, path)


def solution_2d(
    path: Path,
    axes: list[np.ndarray],
    names: tuple[str, str],
    u: np.ndarray,
    exact: np.ndarray,
    title: str,
) -> Path:
    """Network, exact solution and error on a grid (``u[i, j]`` at axes[0][i], axes[1][j]).

    The first variable is drawn across (horizontal axis is the second when the first is t)."""
    fig, axs = new_figure(ncols=3, width=4.4, height=3.8)
    a, b = axes
    extent = [a[0], a[-1], b[0], b[-1]]
    lim = float(np.abs(exact).max())
    for ax, data, name in zip(axs[:2], [u, exact], ["network", "exact"], strict=True):
        im = ax.imshow(
            data.T, origin="lower", extent=extent, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim
        )
        ax.set(xlabel=names[0], ylabel=names[1], title=f"{title}: {name}")
        ax.grid(False)
        fig.colorbar(im, ax=ax)
    err = u - exact
    e = float(np.abs(err).max()) or 1.0
    im = axs[2].imshow(
        err.T, origin="lower", extent=extent, aspect="auto", cmap="RdBu_r", vmin=-e, vmax=e
    )
    axs[2].set(xlabel=names[0], ylabel=names[1], title="error u − u_exact")
    axs[2].grid(False)
    fig.colorbar(im, ax=axs[2], format="%.1e")
    return save_figure(fig, path)


def slices(
    path: Path, t_axis: np.ndarray, x: np.ndarray, u: np.ndarray, exact: np.ndarray, times
) -> Path:
    """u(t, ·) and the exact solution at the given times, one panel each."""
    fig, axs = new_figure(ncols=len(times), width=3.8, height=3.4)
    for ax, t in zip(axs, times, strict=True):
        k = int(np.argmin(np.abs(t_axis - t)))
        ax.plot(x, exact[k], color=COLORS["truth"], lw=2, label="exact")
        ax.plot(x, u[k], color=COLORS["net"], lw=2, ls="--", label="network")
        ax.set(xlabel="x", ylabel="u", title=f"t = {t_axis[k]:.2f}")
    axs[0].legend(loc="best")
    return save_figure(fig, path)


def losses(path: Path, loss: list[float], phases: list[tuple[str, int]]) -> Path:
    """The loss per step on a log axis, with the solvers' phases marked: a dotted line where
    each starts and its name at the foot of the plot, below a falling loss curve."""
    fig, (ax,) = new_figure()
    plot_losses(loss, title="Loss per step", ylabel="loss C(θ)", ax=ax)
    ax.set_xlabel("step")
    start = 0
    for name, steps in phases:
        if steps:
            ax.axvline(start + 0.5, color="grey", lw=0.8, ls=":")
            ax.text(
                start + 0.5,
                0.03,  # in axes coordinates: the foot of the plot, whatever the loss range
                f" {name} ",
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="bottom",
                fontsize=9,
                color="dimgrey",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
        start += steps
    return save_figure(fig, path)

"""``cos4``: the seed configuration exactly.

f(x) = (x − 2) cos(4x); N = 512 training and N/5 validation points from N(0, 1); a 1-64-64-1
sigmoid network with weights from N(0, 1) and biases 0.03; MSE; SGD with η = 0.1 and batches
of 128; K = 1000 epochs, each made of N/B = 4 passes over a fresh permutation of the data in
minibatches (4 steps per pass, 16 per epoch, 16,000 steps in all). :func:`mlplab.fit` counts
passes as its epochs, so the study trains 4000 of them and reports every fourth as an epoch.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.experiments.common import (
    SeedRun,
    fmt,
    over_seeds,
    progress_bar,
    seed_list,
    settings,
    stack,
    train_seeds,
)
from mlplab.experiments.report import Check, StudyResult

TITLE = "the seed configuration, (x−2)cos(4x) with a 1-64-64-1 sigmoid network and SGD"
DEFAULT_SEEDS = {False: 3, True: 2}

N_TRAIN = 512
BATCH = 128
#: The 1-64-64-1 sigmoid network and SGD, η = 0.1, batch 128 (the epochs: :func:`training`).
CONFIG = TrainConfig(
    hidden=[64, 64],
    activation="sigmoid",
    output_activation="identity",
    init="normal:0,1",
    bias_init="0.03",
    loss="mse",
    optimizer="sgd",
    lr=0.1,
    batch_size=BATCH,
)
PASSES = N_TRAIN // BATCH  # passes over the data per epoch K
DATA_SEED = 1234
GRID = np.linspace(-2.0, 2.0, 801).reshape(-1, 1)


def epochs(quick: bool) -> int:
    """K: 1000 epochs (50 with ``quick``)."""
    return 50 if quick else 1000


def training(quick: bool) -> TrainConfig:
    """:data:`CONFIG` for K epochs of N/B passes (``fit`` epochs are passes)."""
    return dataclasses.replace(CONFIG, epochs=PASSES * epochs(quick))


def per_epoch(runs: list[SeedRun], attr: str) -> np.ndarray:
    """``history.<attr>`` at the end of every epoch K (every N/B-th pass), shape (runs, K)."""
    return stack(runs, attr)[:, PASSES - 1 :: PASSES]


def make_data(noise: float = 0.0) -> tuple[np.ndarray, ...]:
    """``x, y, x_val, y_val, y_clean``: N(0, 1) inputs, labels with N(0, noise²) noise.

    The validation labels are always clean; ``y_clean`` is f at the training inputs.
    """
    rng = np.random.default_rng(DATA_SEED)
    f = get_target("cos4")
    x = sample(N_TRAIN, (-1.0, 1.0), "normal", rng)
    x_val = sample(N_TRAIN // 5, (-1.0, 1.0), "normal", rng)
    noise_draw = rng.standard_normal(x.shape)
    return x, f(x) + noise * noise_draw, x_val, f(x_val), f(x)


@functools.lru_cache(maxsize=2)
def train(quick: bool, seeds: int, progress: bool) -> tuple[SeedRun, ...]:
    """Train the seed configuration over ``seeds`` seeds (kept for ``label-noise``, which
    compares against the same runs).

    The validation set of each run is the clean validation data.
    """
    x, y, x_val, y_val, _ = make_data()
    with progress_bar("cos4 seeds", seeds, progress) as advance:
        return tuple(
            train_seeds(training(quick), x, y, seed_list(seeds), (x_val, y_val), advance=advance)
        )


def plot_fit_band(ax, runs: list[SeedRun], label: str, color: str) -> None:
    """Median network output over the seeds on :data:`GRID`, with a min–max band."""
    outputs = np.array([run.net(GRID).ravel() for run in runs])
    plots.band(ax, GRID.ravel(), outputs, label=label, color=color)


def run(out: Path, quick: bool, seeds: int, progress: bool) -> StudyResult:
    x, y, x_val, _, _ = make_data()
    runs = list(train(quick, seeds, progress))
    tr = training(quick)
    K = epochs(quick)
    p = runs[0].net.num_parameters
    val = per_epoch(runs, "val_loss")
    train_loss = per_epoch(runs, "train_loss")
    final_val = val[:, -1]
    truth = get_target("cos4")(GRID)
    abs_err = np.array([np.abs(run.net(GRID) - truth).ravel() for run in runs])
    errors = abs_err.max(axis=1)
    where = GRID.ravel()[abs_err.argmax(axis=1)]

    fig, (ax,) = plots.new_figure()
    ax.plot(GRID, truth, color="black", lw=1.5, label="truth f(x) = (x−2)cos(4x)")
    ax.plot(
        x, y, "o", ms=2.5, alpha=0.5, color="tab:orange", label=f"training points (N = {len(x)})"
    )
    plot_fit_band(ax, runs, f"network, {over_seeds(seeds, band=True)}", "tab:blue")
    ax.set_xlim(-2, 2)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("cos4: learned function on [−2, 2]")
    ax.legend(loc="upper right", fontsize=8)
    plots.save_figure(fig, out / "fit.png")

    fig, (ax,) = plots.new_figure()
    ks = np.arange(1, val.shape[1] + 1)
    plots.band(ax, ks, train_loss, label="training MSE", color="tab:blue")
    plots.band(ax, ks, val, label="validation MSE", color="tab:red")
    ax.set_yscale("log")
    ax.set_xlabel(f"epoch ({PASSES} passes of {PASSES} SGD steps with 128 points)")
    ax.set_ylabel("MSE")
    ax.set_title(f"cos4: loss per epoch, {over_seeds(seeds, band=True)}")
    ax.legend()
    plots.save_figure(fig, out / "loss.png")

    med = float(np.median(final_val))
    metrics = {
        "parameters": p,
        "n_train": len(x),
        "steps": runs[0].history.steps,
        "final_val_mse": final_val.tolist(),
        "final_val_mse_median": med,
        "final_train_mse_median": float(np.median(train_loss[:, -1])),
        "max_abs_error_on_grid": errors.tolist(),
        "x_of_max_error": where.tolist(),
        "seconds_per_seed": [run.history.seconds for run in runs],
    }
    checks = [
        Check("p = 4353 parameters", p == 4353, f"p = {p}, N = {len(x)}"),
        Check(
            f"{K} epochs of {PASSES * PASSES} steps were taken",
            all(run.history.steps == K * PASSES * PASSES for run in runs),
            f"steps = {[run.history.steps for run in runs]}",
        ),
        Check(
            "training reduced the validation MSE on every seed",
            bool(np.all(final_val < val[:, 0])),
            f"first epoch {fmt(float(np.median(val[:, 0])))} -> last {fmt(med)} (medians)",
        ),
    ]
    answer = (
        f"The network has p = {p} parameters for N = {len(x)} training points (p/N = "
        f"{p / len(x):.1f}). After {K} epochs ({runs[0].history.steps} SGD steps) the "
        f"final validation MSE ({over_seeds(seeds, 'median over')}) is {fmt(med)} (min "
        f"{fmt(final_val.min())}, max {fmt(final_val.max())}); the training MSE is "
        f"{fmt(metrics['final_train_mse_median'])}. The largest error on [−2, 2] is "
        f"{fmt(float(np.median(errors)))} (median over seeds), found at x = "
        f"{', '.join(f'{v:+.2f}' for v in where)}; {int(np.sum(np.abs(x) > 1.5))} of the "
        f"{len(x)} N(0, 1) training inputs lie beyond |x| = 1.5."
    )
    return StudyResult(
        title=TITLE,
        question="How well does the seed configuration (SGD on a p ≫ N sigmoid network) learn "
        "f(x) = (x−2)cos(4x) from 512 normal samples?",
        setup=[
            ("target", "f(x) = (x−2)cos(4x)"),
            ("data", f"N = {len(x)} training, {len(x_val)} validation, x ~ N(0, 1)"),
            ("network", "1-64-64-1, sigmoid hidden, identity output"),
            ("initialisation", "weights N(0, 1), biases 0.03"),
            ("parameters p", str(p)),
            ("loss", "MSE"),
            ("optimiser", f"SGD, η = 0.1, batch 128, K = {K} epochs of {PASSES} passes"),
            ("steps", f"{K * PASSES * PASSES} (N/B = {PASSES} per pass)"),
            ("seeds", f"{seeds} (initial weights and batch order)"),
        ],
        figures=[
            ("fit.png", "Learned function on [−2, 2] with the training data and the truth."),
            ("loss.png", "Training and validation MSE per epoch (log scale)."),
        ],
        answer=answer,
        metrics=metrics,
        checks=checks,
        config={"run": settings(tr), "data_seed": DATA_SEED},
    )

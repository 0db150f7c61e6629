"""``cos4``: the course's baseline setup, (x − 2)cos(4x) with a sigmoid network and SGD.

f(x) = (x − 2) cos(4x); N = 512 training and N/5 validation points from N(0, 1); a 1-64-64-1
sigmoid network with weights from N(0, 1) and biases 0.03; MSE; SGD with η = 0.1 and batches
of B = 128; 4000 epochs, an epoch being one pass over a fresh permutation of the N points in
⌈N/B⌉ = 4 minibatches (16,000 steps in all), as in :func:`mlplab.fit` and ``mlplab train``.
``--set n_train=N width=W epochs=E lr=η batch_size=B`` changes them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.experiments.common import (
    SeedRun,
    fmt,
    over_seeds,
    plural,
    seed_list,
    seeds_named,
    settings,
    signed,
    stack,
    train_seeds,
)
from mlplab.experiments.params import MAX_LR, Parameter
from mlplab.experiments.report import Check, StudyResult
from mlplab.progress import progress_bar

DEFAULT_SEEDS = {False: 3, True: 2}

#: The 1-64-64-1 sigmoid network and SGD, η = 0.1, batch 128 (the epochs: :meth:`Setup.training`).
CONFIG = TrainConfig(
    hidden=[64, 64],
    activation="sigmoid",
    output_activation="identity",
    init="normal:0,1",
    bias_init="0.03",
    loss="mse",
    optimizer="sgd",
    lr=0.1,
    batch_size=128,
)
DATA_SEED = 1234
GRID = np.linspace(-2.0, 2.0, 801).reshape(-1, 1)
#: Beyond |x| = SPARSE the N(0, 1) training inputs are sparse (about 13% of them).
SPARSE = 1.5
PARAMETERS = (
    Parameter("n_train", 512, "training points N (and N/5 validation points)", low=2),
    Parameter("width", 64, "width of both hidden layers"),
    Parameter("epochs", 4000, "epochs E (passes over the N points, ⌈N/B⌉ steps each)", quick=200),
    Parameter("lr", 0.1, "SGD learning rate η", low=1e-6, high=MAX_LR),
    Parameter("batch_size", 128, "batch size B (at most N)"),
)


@dataclasses.dataclass(frozen=True)
class Setup:
    """The configuration the study varies: N, the hidden width, the epochs E, η and B.

    Raises
    ------
    ValueError
        If the batch is larger than N.
    """

    n_train: int = 512
    width: int = 64
    epochs: int = 4000
    lr: float = 0.1
    batch_size: int = 128

    def __post_init__(self) -> None:
        if self.batch_size > self.n_train:
            raise ValueError(
                f"batch_size must be at most n_train = {self.n_train} (the training points), "
                f"got {self.batch_size}"
            )

    @property
    def steps_per_epoch(self) -> int:
        """SGD steps per epoch (one pass over the N points in minibatches of B): ⌈N/B⌉."""
        return math.ceil(self.n_train / self.batch_size)

    @property
    def steps(self) -> int:
        """SGD steps in all: E epochs of ⌈N/B⌉ steps."""
        return self.epochs * self.steps_per_epoch

    @property
    def sizes(self) -> str:
        """The network as ``1-64-64-1``."""
        return f"1-{self.width}-{self.width}-1"

    def parameter_count(self) -> int:
        """p = (1 + 1)w + (w + 1)w + (w + 1) = w² + 4w + 1, counted from the layer shapes."""
        w = self.width
        return 2 * w + (w + 1) * w + (w + 1)

    def training(self) -> TrainConfig:
        """:data:`CONFIG` with this width, η, B and number of epochs."""
        return dataclasses.replace(
            CONFIG,
            hidden=[self.width, self.width],
            lr=self.lr,
            batch_size=self.batch_size,
            epochs=self.epochs,
        )

    def data(self, noise: float = 0.0) -> tuple[np.ndarray, ...]:
        """``x, y, x_val, y_val, y_clean``: N(0, 1) inputs, labels with N(0, noise²) noise.

        The validation labels are always clean; ``y_clean`` is f at the training inputs.
        """
        rng = np.random.default_rng(DATA_SEED)
        f = get_target("cos4")
        x = sample(self.n_train, (-1.0, 1.0), "normal", rng)
        x_val = sample(self.n_train // 5, (-1.0, 1.0), "normal", rng)
        noise_draw = rng.standard_normal(x.shape)
        return x, f(x) + noise * noise_draw, x_val, f(x_val), f(x)


def title(sizes: str) -> str:
    """The study's title for the network ``sizes`` (``1-64-64-1``)."""
    return f"the course's baseline setup, (x−2)cos(4x) with a {sizes} sigmoid network and SGD"


TITLE = title(Setup().sizes)


def epoch_label(setup: Setup) -> str:
    """The x-axis label of a curve recorded once per epoch."""
    b = setup.batch_size
    size = f"{b}" if setup.n_train % b == 0 else f"at most {b}"
    return (
        f"epoch (one pass over the N = {setup.n_train} points: "
        f"{plural(setup.steps_per_epoch, 'SGD step')} on batches of {size})"
    )


@functools.lru_cache(maxsize=2)
def train(setup: Setup, seeds: int, progress: bool) -> tuple[SeedRun, ...]:
    """Train ``setup`` over ``seeds`` seeds (kept for ``label-noise``, which compares against
    the same runs).

    The validation set of each run is the clean validation data.
    """
    x, y, x_val, y_val, _ = setup.data()
    with progress_bar("cos4 seeds", seeds, progress) as advance:
        return tuple(
            train_seeds(setup.training(), x, y, seed_list(seeds), (x_val, y_val), advance=advance)
        )


def sparse_text(where: np.ndarray, x: np.ndarray) -> str:
    """Where the largest errors (one x per seed) lie where the training inputs ``x`` are
    sparse (beyond |x| = :data:`SPARSE`), a clause that says so and how few inputs lie there;
    an empty string where none does."""
    beyond = [seed for seed, w in zip(seed_list(len(where)), where, strict=True) if abs(w) > SPARSE]
    if not beyond:
        return ""
    if len(where) == 1:
        which = "it lies"
    elif len(beyond) == len(where):
        which = "all lie"
    else:
        which = f"{'that' if len(beyond) == 1 else 'those'} of {seeds_named(beyond)} "
        which += "lies" if len(beyond) == 1 else "lie"
    return (
        f"; {which} beyond |x| = {SPARSE:g}, where the data are sparse: only "
        f"{int(np.sum(np.abs(x) > SPARSE))} of the {len(x)} N(0, 1) training inputs lie there"
    )


def plot_fit_band(ax, runs: list[SeedRun], label: str, color: str) -> None:
    """Median network output over the seeds on :data:`GRID`, with a min–max band."""
    outputs = np.array([run.net(GRID).ravel() for run in runs])
    plots.band(ax, GRID.ravel(), outputs, label=label, color=color)


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    n_train: int = 512,
    width: int = 64,
    epochs: int = 4000,
    lr: float = 0.1,
    batch_size: int = 128,
) -> StudyResult:
    setup = Setup(n_train, width, epochs, lr, batch_size)
    x, y, x_val, y_val, _ = setup.data()
    variance = float(np.var(y_val))  # the validation MSE of the best constant, the mean of f
    runs = list(train(setup, seeds, progress))
    tr = setup.training()
    p = runs[0].net.num_parameters
    val = stack(runs, "val_loss")
    train_loss = stack(runs, "train_loss")
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
    ax.set_xlabel(epoch_label(setup))
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
        "val_target_variance": variance,
        "final_train_mse_median": float(np.median(train_loss[:, -1])),
        "max_abs_error_on_grid": errors.tolist(),
        "x_of_max_error": where.tolist(),
        "seconds_per_seed": [run.history.seconds for run in runs],
    }
    expected_p = setup.parameter_count()
    checks = [
        Check(
            f"p = w² + 4w + 1 = {expected_p} parameters",
            p == expected_p,
            f"p = {p}, N = {len(x)}",
        ),
        Check(
            f"{epochs} epochs of {setup.steps_per_epoch} steps were taken",
            all(run.history.steps == setup.steps for run in runs),
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
        f"{p / len(x):.1f}). After {epochs} epochs ({runs[0].history.steps:,} SGD steps) the "
        f"final validation MSE ({over_seeds(seeds, 'median over')}) is {fmt(med)}"
        f"{f' (min {fmt(final_val.min())}, max {fmt(final_val.max())})' if seeds > 1 else ''}, "
        f"{100 * med / variance:.2g}% of the variance of f over the validation inputs "
        f"({variance:.3g}, the MSE of always predicting the mean of f there); the training MSE "
        f"is {fmt(metrics['final_train_mse_median'])}. The largest "
        f"error on [−2, 2] is {fmt(float(np.median(errors)))} "
        f"({over_seeds(seeds, 'median over')}), found at x = {signed(where, 2)}"
        f"{f' ({seeds_named(seed_list(seeds))})' if seeds > 1 else ''}"
        f"{sparse_text(where, x)}."
    )
    return StudyResult(
        title=title(setup.sizes),
        question=f"How well does the course's baseline setup (SGD on a sigmoid network with "
        f"p = {p} parameters) learn f(x) = (x−2)cos(4x) from N = {len(x)} normal samples?",
        setup=[
            ("target", "f(x) = (x−2)cos(4x)"),
            ("data", f"N = {len(x)} training, {len(x_val)} validation, x ~ N(0, 1)"),
            ("network", f"{setup.sizes}, sigmoid hidden, identity output"),
            ("initialisation", "weights N(0, 1), biases 0.03"),
            ("parameters p", str(p)),
            ("loss", "MSE"),
            ("optimiser", f"SGD, η = {lr:g}, batch B = {batch_size}, {epochs} epochs"),
            ("epoch", "one pass over a fresh permutation of the N training points"),
            ("steps", f"{setup.steps:,} (⌈N/B⌉ = {setup.steps_per_epoch} per epoch)"),
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

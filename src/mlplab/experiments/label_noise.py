"""``label-noise``: the ``cos4`` configuration with noisy training labels y = f(x) + N(0, 0.5²)
(``--set noise=S`` sets the standard deviation; ``n_train``, ``width``, ``epochs``, ``lr`` and
``batch_size`` change the configuration as for ``cos4``).

The same seeds (initial weights and batch order) and the same inputs as ``cos4``; only the
training labels differ. During training, the "validation" loss of each noisy run is the MSE
against the *clean* labels at the training inputs, so both curves of the third figure come from
one run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.data import get_target
from mlplab.experiments import cos4
from mlplab.experiments.common import (
    fmt,
    over_seeds,
    seed_list,
    settings,
    stack,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult
from mlplab.progress import progress_bar

DEFAULT_SEEDS = cos4.DEFAULT_SEEDS
NOISE = 0.5
#: The RMS errors of the answer are taken on [−INNER, INNER], inside the data's bulk.
INNER = 1.5
PARAMETERS = (
    Parameter("noise", NOISE, "standard deviation of the label noise", low=0.01),
    *cos4.PARAMETERS,
)


def title(p: int, n: int) -> str:
    """The study's title for a network of ``p`` parameters on ``n`` points."""
    return f"does the cos4 network (p = {p}, N = {n}) fit noise on its labels?"


TITLE = title(cos4.Setup().parameter_count(), cos4.Setup().n_train)


def noise_verdict(final_mse: float, noise_mse: float) -> str:
    """What the final training MSE against the noisy labels says, from the numbers alone.

    ``noise_mse`` is the noise level: the mean squared noise (y_i − f(x_i))² of the labels
    drawn, near the nominal σ². Below half of it the network interpolates the noise; within a
    factor 2 of it, it fits f and leaves the noise; above twice the noise level it has not even
    fitted f within the budget (still underfitting).
    """
    level = f"the noise level {noise_mse:.3f} (the labels' mean squared noise)"
    if final_mse < 0.5 * noise_mse:
        return (
            f"it fits the noise: the training MSE against the noisy labels, {fmt(final_mse)}, "
            f"falls well below {level}"
        )
    if final_mse <= 2.0 * noise_mse:
        return (
            f"it does not interpolate the noise within this budget: the training MSE against "
            f"the noisy labels, {fmt(final_mse)}, stays near {level}"
        )
    return (
        f"it has not yet fitted even the clean function within this budget: the training MSE "
        f"against the noisy labels, {fmt(final_mse)}, is {final_mse / noise_mse:.1f} times "
        f"{level}, so the question of fitting the noise is not reached"
    )


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    noise: float = NOISE,
    n_train: int = 512,
    width: int = 64,
    epochs: int = 4000,
    lr: float = 0.1,
    batch_size: int = 128,
) -> StudyResult:
    setup = cos4.Setup(n_train, width, epochs, lr, batch_size)
    tr = setup.training()
    x, y_noisy, _, _, y_clean = setup.data(noise)
    clean = list(cos4.train(setup, seeds, progress))
    with progress_bar("label-noise seeds", seeds, progress) as advance:
        noisy = train_seeds(tr, x, y_noisy, seed_list(seeds), (x, y_clean), advance=advance)
    f = get_target("cos4")
    grid = cos4.GRID
    truth = f(grid)

    fig, (ax,) = plots.new_figure()
    ax.plot(grid, truth, color="black", lw=1.5, label="clean f(x)")
    ax.plot(x, y_noisy, "o", ms=2, alpha=0.35, color="tab:orange", label="noisy training labels")
    cos4.plot_fit_band(ax, clean, "trained on clean labels", "tab:blue")
    cos4.plot_fit_band(ax, noisy, "trained on noisy labels", "tab:red")
    ax.set_xlim(-2, 2)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"Learned curves, {over_seeds(seeds, band=True)}")
    ax.legend(loc="upper right", fontsize=8)
    plots.save_figure(fig, out / "curves.png")

    err_clean = np.array([np.abs(r.net(grid) - truth).ravel() for r in clean])
    err_noisy = np.array([np.abs(r.net(grid) - truth).ravel() for r in noisy])
    fig, (ax,) = plots.new_figure()
    plots.band(ax, grid.ravel(), err_clean, "trained on clean labels", "tab:blue")
    plots.band(ax, grid.ravel(), err_noisy, "trained on noisy labels", "tab:red")
    ax.set_yscale("log")
    ax.set_xlim(-2, 2)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$|a^{[L]}(x) - f(x)|$")
    ax.axvspan(
        -INNER,
        INNER,
        color="gray",
        alpha=0.1,
        lw=0,
        label=f"[−{INNER:g}, {INNER:g}]: where the RMS errors are taken",
    )
    ax.set_title("Error against the clean function on a grid of [−2, 2]")
    ax.legend(fontsize=8)
    plots.save_figure(fig, out / "error.png")

    noise_mse = float(np.mean((y_noisy - y_clean) ** 2))
    vs_noisy = stack(noisy, "train_loss")
    vs_clean = stack(noisy, "val_loss")
    clean_train = stack(clean, "train_loss")
    ks = np.arange(1, vs_noisy.shape[1] + 1)
    fig, (ax,) = plots.new_figure()
    plots.band(ax, ks, vs_noisy, "MSE against the noisy labels it is trained on", "tab:red")
    plots.band(ax, ks, vs_clean, "MSE against the clean labels f(x_i)", "tab:green")
    plots.band(ax, ks, clean_train, "clean run: its training MSE", "tab:blue")
    ax.axhline(
        noise_mse,
        color="gray",
        ls=":",
        label=f"noise level {noise_mse:.3f}: the labels' mean squared noise "
        f"(nominal σ² = {noise**2:g})",
    )
    ax.set_yscale("log")
    ax.set_xlabel(cos4.epoch_label(setup))
    ax.set_ylabel("MSE on the training inputs")
    ax.set_title("Training loss of the noisy run against noisy and clean labels")
    ax.legend(fontsize=8)
    plots.save_figure(fig, out / "train_loss.png")

    final_noisy = float(np.median(vs_noisy[:, -1]))
    final_clean = float(np.median(vs_clean[:, -1]))
    inner = np.abs(grid.ravel()) <= INNER
    rms_clean_all = np.sqrt(np.mean(err_clean[:, inner] ** 2, axis=1))
    rms_noisy_all = np.sqrt(np.mean(err_noisy[:, inner] ** 2, axis=1))
    rms_clean, rms_noisy = float(np.median(rms_clean_all)), float(np.median(rms_noisy_all))
    overlap = (
        rms_noisy_all.min() <= rms_clean_all.max() and rms_clean_all.min() <= rms_noisy_all.max()
    )
    # Interpolating the noise drives the training MSE towards 0, far below the noise variance;
    # fitting f drives it towards the noise variance and the clean MSE towards 0.
    overfits = final_noisy < 0.5 * noise_mse
    metrics = {
        "noise_std": noise,
        "noise_mse_of_labels": noise_mse,
        "final_mse_vs_noisy_labels": vs_noisy[:, -1].tolist(),
        "final_mse_vs_clean_labels": vs_clean[:, -1].tolist(),
        "final_train_mse_clean_run": clean_train[:, -1].tolist(),
        "rms_error_on_grid_abs_x_le_1.5": {
            "clean": rms_clean_all.tolist(),
            "noisy": rms_noisy_all.tolist(),
        },
        "interpolates_noise": bool(overfits),
    }
    checks = [
        Check(
            "the labels carry noise of the stated size",
            abs(noise_mse - noise**2) < 0.1 * noise**2,
            f"mean squared noise {noise_mse:.4f} (expected {noise**2:g})",
        ),
    ]
    verdict = noise_verdict(final_noisy, noise_mse)
    answer = (
        f"With p = {noisy[0].net.num_parameters} parameters and N = {len(x)} points, after "
        f"{epochs} epochs ({setup.steps:,} steps; {over_seeds(seeds, 'medians over')}) "
        f"{verdict}. Against the clean labels at the same inputs the final MSE is "
        f"{fmt(final_clean)}. On [−{INNER:g}, {INNER:g}] the "
        f"RMS error against the clean function is {fmt(rms_noisy)} when trained on noisy "
        f"labels (seeds range {fmt(rms_noisy_all.min())} to {fmt(rms_noisy_all.max())}) and "
        f"{fmt(rms_clean)} when trained on clean labels ({fmt(rms_clean_all.min())} to "
        f"{fmt(rms_clean_all.max())}), {over_seeds(seeds, 'medians over')}: "
        + (
            "the two ranges overlap, so at this budget the noise's effect on the learned "
            "function is smaller than the seed-to-seed spread."
            if overlap
            else f"the noise changes the error by a factor {rms_noisy / rms_clean:.1f}."
        )
    )
    return StudyResult(
        title=title(noisy[0].net.num_parameters, len(x)),
        question=f"The cos4 network has p = {noisy[0].net.num_parameters} parameters for "
        f"N = {len(x)} points. Given labels with N(0, {noise:g}²) noise, does it overfit "
        "(interpolate) the noise?",
        setup=[
            (
                "as cos4",
                f"{setup.sizes} sigmoid, N(0,1) weights, biases 0.03, SGD η = {lr:g}, "
                f"batch {batch_size}, N = {len(x)}",
            ),
            (
                "epochs",
                f"{epochs} passes over the N points ({setup.steps:,} steps of "
                f"⌈N/B⌉ = {setup.steps_per_epoch} per epoch)",
            ),
            (
                "training labels",
                f"y = f(x) + N(0, {noise:g}²) noise, one fixed draw: its mean squared noise "
                f"(the noise level) is {noise_mse:.3f} against the nominal σ² = {noise**2:g}",
            ),
            ("comparison", "the same inputs and seeds with clean labels"),
            ("seeds", str(seeds)),
        ],
        figures=[
            ("curves.png", "Learned curves with clean and noisy labels, overlaid."),
            (
                "error.png",
                "Pointwise error against the clean function (log scale); the RMS errors of the "
                f"answer are taken on the shaded [−{INNER:g}, {INNER:g}].",
            ),
            ("train_loss.png", "Training MSE against the noisy labels and the clean labels."),
        ],
        answer=answer,
        metrics=metrics,
        checks=checks,
        config={"noise": noise, "run": settings(tr)},
    )

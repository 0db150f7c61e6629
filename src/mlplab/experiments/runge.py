"""``runge``: a tanh network fitted to Runge's function 1/(1 + 25x²) on [−1, 1].

Part 1: 1-64-64-1 tanh, Xavier normal weights, zero biases, Adam; train and validation sets.
Then full-batch L-BFGS continues from the Adam solution (both in float64). Part 2: the error
near x = 0 against the number of training points N = 32..1024, with Xavier and with He
initialisation, for the same number of full-batch Adam steps (so the runs differ only in the
data).
``--set hidden=64,64 n_train=256 epochs=3000 lr=1e-3 ns=32,128,512 steps=3000 lbfgs=2000`` changes
the hidden widths, the training points of part 1, the Adam epochs and learning rate, the N of
part 2 and its Adam steps, and the L-BFGS iterations.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.experiments.common import (
    each_run,
    fmt,
    over_seeds,
    plural,
    seed_list,
    settings,
    signed,
    stack,
    train_seeds,
)
from mlplab.experiments.params import MAX_LR, Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.progress import progress_bar

TITLE = "a 1-64-64-1 tanh network fits 1/(1+25x²), then L-BFGS; the error near x = 0"
DEFAULT_SEEDS = {False: 3, True: 2}

#: The 1-64-64-1 tanh network, Xavier normal weights, zero biases, trained on MSE.
NETWORK = TrainConfig(
    hidden=[64, 64], activation="tanh", init="xavier_normal", bias_init="0", loss="mse"
)
#: x = −1, −0.999, ..., 1: each the nearest float to k/1000, so an x of the grid prints short.
GRID = (np.arange(-1000, 1001) / 1000).reshape(-1, 1)
NEAR_ZERO = 0.1  # "near 0" means |x| <= NEAR_ZERO
THRESHOLD = 1e-4
INITS = {"Xavier normal": "xavier_normal", "He normal": "he_normal"}
PARAMETERS = (
    Parameter("hidden", (64, 64), "hidden layer widths"),
    Parameter("n_train", 256, "training points N of part 1", low=2),
    Parameter("epochs", 3000, "Adam epochs of part 1 (batch 32)", quick=300),
    Parameter("lr", 1e-3, "Adam learning rate (both parts)", low=1e-8, high=MAX_LR),
    Parameter(
        "ns",
        (32, 64, 128, 256, 512, 1024),
        "training points N of the near-0 sweep (at least two)",
        low=2,
        quick=(32, 128, 512),
    ),
    Parameter("steps", 3000, "full-batch Adam steps of each near-0 sweep run", quick=1000),
    Parameter("lbfgs", 2000, "L-BFGS iterations at most, after Adam", quick=200),
)


def make_data(n: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """``n`` training and 256 validation points, uniform on [−1, 1], with f values."""
    rng = np.random.default_rng(seed)
    f = get_target("runge")
    x = sample(n, (-1.0, 1.0), "uniform", rng)
    x_val = sample(256, (-1.0, 1.0), "uniform", rng)
    return x, f(x), x_val, f(x_val)


def errors(net) -> tuple[float, float, float]:
    """(max |error| on [−1, 1], max |error| for |x| <= NEAR_ZERO, x of the max) on
    :data:`GRID`."""
    err = np.abs(net(GRID) - get_target("runge")(GRID)).ravel()
    near = err[np.abs(GRID.ravel()) <= NEAR_ZERO].max()
    return float(err.max()), float(near), float(GRID.ravel()[err.argmax()])


def seed_ranges_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row (one N), whether the ranges [min, max] over the seeds (columns) of ``a`` and
    ``b`` overlap."""
    return (a.min(axis=1) <= b.max(axis=1)) & (b.min(axis=1) <= a.max(axis=1))


def ratio_range(ratios: np.ndarray) -> str:
    """``"0.31 to 0.97"`` (three significant digits), or the one value where all agree."""
    low, high = f"{ratios.min():.3g}", f"{ratios.max():.3g}"
    return low if low == high else f"{low} to {high}"


def near_zero_errors(
    adam: TrainConfig,
    init: str,
    size: int,
    steps: int,
    seeds: list[int],
    advance: Callable[[], object],
) -> list[tuple[float, float, float]]:
    """:func:`errors` of the networks of ``adam`` with initialisation ``init`` after ``steps``
    full-batch steps on ``size`` points, one per seed."""
    xs, ys, _, _ = make_data(size)
    trained = dataclasses.replace(adam, init=init, epochs=steps, batch_size=None)
    found = [errors(r.net) for r in train_seeds(trained, xs, ys, seeds)]
    advance()
    return found


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    hidden: tuple[int, ...] = (64, 64),
    n_train: int = 256,
    epochs: int = 3000,
    lr: float = 1e-3,
    ns: tuple[int, ...] = (32, 64, 128, 256, 512, 1024),
    steps: int = 3000,
    lbfgs: int = 2000,
) -> StudyResult:
    ns = sorted(set(ns))
    if len(ns) < 2:
        raise ValueError(f"ns needs at least two different numbers of points, got {ns}")
    seeds_ = seed_list(seeds)
    x, y, x_val, y_val = make_data(n_train)
    network = dataclasses.replace(NETWORK, hidden=list(hidden))
    sizes = "-".join(map(str, [1, *hidden, 1]))
    adam = dataclasses.replace(network, optimizer="adam", lr=lr, epochs=epochs, batch_size=32)
    polish = dataclasses.replace(network, optimizer="lbfgs", epochs=lbfgs)
    f = get_target("runge")
    with progress_bar("runge runs", 2 * seeds + len(ns) * len(INITS), progress) as advance:
        runs = train_seeds(adam, x, y, seeds_, (x_val, y_val), advance=advance)
        after_adam = [r.net.copy() for r in runs]
        polished = train_seeds(
            polish, x, y, seeds_, (x_val, y_val), start=[r.net for r in runs], advance=advance
        )
        cases = [(init, size) for init in INITS.values() for size in ns]
        found = each_run(
            [functools.partial(near_zero_errors, adam, init, size, steps, seeds_, advance)
             for init, size in cases],
            cost=[size for _, size in cases],  # a full-batch step costs about N
        )  # fmt: skip
        sweep = {
            label: np.array(found[k * len(ns) : (k + 1) * len(ns)])  # (len(ns), seeds, 3)
            for k, label in enumerate(INITS)
        }

    val = stack(runs, "val_loss")
    first = [int(np.argmax(v < THRESHOLD)) + 1 if np.any(v < THRESHOLD) else None for v in val]
    final_val = val[:, -1]
    err_adam = np.array([errors(n) for n in after_adam])
    err_lbfgs = np.array([errors(r.net) for r in polished])
    val_lbfgs = np.array([r.history.val_loss[-1] for r in polished])

    fig, axes = plots.new_figure(ncols=2, width=5.8)
    truth = f(GRID)
    axes[0].plot(GRID, truth, color="black", lw=1.5, label="truth 1/(1+25x²)")
    axes[0].plot(x, y, "o", ms=2.5, alpha=0.5, color="tab:orange", label=f"training (N = {len(x)})")
    plots.band(
        axes[0],
        GRID.ravel(),
        np.array([n(GRID).ravel() for n in after_adam]),
        "network after Adam (median)",
        "tab:blue",
    )
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("y")
    axes[0].set_title("Fit against the truth")
    axes[0].legend(fontsize=8)
    for nets, label, color in (
        (after_adam, "after Adam", "tab:blue"),
        ([r.net for r in polished], "after L-BFGS", "tab:green"),
    ):
        e = np.array([np.abs(n(GRID) - truth).ravel() for n in nets])
        plots.band(axes[1], GRID.ravel(), e, label, color)
    axes[1].axvspan(-NEAR_ZERO, NEAR_ZERO, color="gray", alpha=0.15, label=f"|x| ≤ {NEAR_ZERO}")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("x")
    axes[1].set_ylabel(r"$|a^{[L]}(x) - f(x)|$")
    axes[1].set_title("Pointwise error")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Runge, {sizes} tanh; {over_seeds(seeds, band=True)}")
    plots.save_figure(fig, out / "fit.png")

    fig, (ax,) = plots.new_figure()
    ep = np.arange(1, val.shape[1] + 1)
    plots.band(
        ax, ep, stack(runs, "train_loss")[:, : val.shape[1]], "training MSE (Adam)", "tab:blue"
    )
    plots.band(ax, ep, val, "validation MSE (Adam)", "tab:red")
    lb = stack(polished, "val_loss")
    plots.band(
        ax,
        ep[-1] + np.arange(1, lb.shape[1] + 1),
        lb,
        "validation MSE (L-BFGS iterations)",
        "tab:green",
    )
    ax.axhline(THRESHOLD, color="gray", ls=":", label=f"MSE = {THRESHOLD:g}")
    ax.axvline(ep[-1], color="gray", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (Adam), then L-BFGS iteration")
    ax.set_ylabel("MSE")
    ax.set_title("Loss per epoch")
    ax.legend(fontsize=8)
    plots.save_figure(fig, out / "loss.png")

    fig, (ax,) = plots.new_figure(width=9.6)
    for (label, s), color in zip(sweep.items(), ("tab:blue", "tab:purple"), strict=True):
        plots.band(ax, np.array(ns), s[:, :, 1].T, f"{label}: max error, |x| ≤ {NEAR_ZERO}", color)
        ax.plot(
            ns,
            np.median(s[:, :, 0], axis=1),
            ":",
            color=color,
            label=f"{label}: max error on [−1, 1]",
        )
    part1 = f"part 1 (Adam, batch 32, {adam.epochs} epochs, N = {len(x)})"
    for errs, label, style in ((err_adam, part1, "--"), (err_lbfgs, "part 1, then L-BFGS", "-.")):
        ax.axhline(
            float(np.median(errs[:, 1])),
            color="gray",
            ls=style,
            lw=1,
            label=f"{label}: max error, |x| ≤ {NEAR_ZERO}",
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("training points N")
    ax.set_ylabel(r"max $|a^{[L]}(x) - f(x)|$")
    ax.set_title(
        f"Error near 0 against N ({steps} full-batch Adam steps each)\n"
        f"{over_seeds(seeds, band=True)}"
    )
    fig.legend(loc="outside right center", fontsize=8)
    plots.save_figure(fig, out / "near_zero.png")

    near = {k: np.median(s[:, :, 1], axis=1) for k, s in sweep.items()}
    rows = [
        [
            str(n),
            *[fmt(near[k][i]) for k in INITS],
            *[fmt(float(np.median(sweep[k][i, :, 0]))) for k in INITS],
        ]
        for i, n in enumerate(ns)
    ]
    table = "## Error near 0 against N (medians over seeds)\n\n" + markdown_table(
        ["N", *[f"{k}: |x| ≤ {NEAR_ZERO}" for k in INITS], *[f"{k}: all x" for k in INITS]],
        rows,
    )
    med_first = [v for v in first if v is not None]
    med_val = float(np.median(final_val))
    xav, he = near["Xavier normal"], near["He normal"]
    checks = [
        Check(
            f"validation MSE below {THRESHOLD:g} (median over seeds, after Adam)",
            med_val < THRESHOLD,
            f"final validation MSE {', '.join(fmt(v) for v in final_val)}",
        ),
        Check(
            "L-BFGS from the Adam solution lowers the validation MSE",
            float(np.median(val_lbfgs)) < med_val,
            f"{fmt(med_val)} -> {fmt(float(np.median(val_lbfgs)))}",
        ),
    ]
    more_points = xav[-1] < 0.5 * xav[0]  # a factor 2 from the fewest to the most points
    he_ratio = he / xav
    overlap = int(np.sum(seed_ranges_overlap(sweep["Xavier normal"][:, :, 1],
                                             sweep["He normal"][:, :, 1])))  # fmt: skip
    near_adam = float(np.median(err_adam[:, 1]))
    near_lbfgs = float(np.median(err_lbfgs[:, 1]))
    worst_near = [int(np.sum(np.abs(e[:, 2]) <= NEAR_ZERO)) for e in (err_adam, err_lbfgs)]
    swept = np.concatenate([s[:, :, 2].ravel() for s in sweep.values()])
    swept_near = int(np.sum(np.abs(swept) <= NEAR_ZERO))
    always_near = worst_near == [seeds, seeds] and swept_near == swept.size
    factors = {
        "more points": xav[0] / xav[-1],
        "He init": float(np.median(1 / he_ratio)),
        "L-BFGS": near_adam / near_lbfgs,
    }
    most = max(factors, key=factors.get)
    init_text = (
        f"He init gives {ratio_range(he_ratio)} times the Xavier error near 0 across N "
        f"(medians); the two inits' seed ranges (min to max over "
        f"{plural(seeds, 'seed')}) overlap at {overlap} of the {len(ns)} N, so "
        + (
            "the difference is mostly within the seed spread"
            if 2 * overlap > len(ns)
            else f"the difference exceeds the seed spread at {len(ns) - overlap} of them"
        )
        if seeds > 1
        else f"He init gives {ratio_range(he_ratio)} times the Xavier error near 0 across N "
        "(one seed, so no seed spread to compare with)"
    )
    answer = (
        f"With Adam (lr {lr:g}, batch 32) the validation MSE first drops below {THRESHOLD:g} at "
        f"epoch {', '.join('never' if v is None else str(v) for v in first)} "
        f"(seeds {', '.join(map(str, seeds_))}; "
        f"{len(med_first)} of {plural(seeds, 'seed')} reach it). After {adam.epochs} epochs the "
        f"median validation MSE is {fmt(med_val)} and the max error on [−1, 1] is "
        f"{fmt(float(np.median(err_adam[:, 0])))} (near 0: {fmt(near_adam)}). Full-batch "
        f"L-BFGS from that solution ({polish.epochs} iterations at most) pushes the validation "
        f"MSE to {fmt(float(np.median(val_lbfgs)))} and the max error to "
        f"{fmt(float(np.median(err_lbfgs[:, 0])))} (near 0: {fmt(near_lbfgs)}). The largest "
        f"error on [−1, 1] sits at x = {signed(err_adam[:, 2], 3)} after "
        f"Adam (within |x| ≤ {NEAR_ZERO} for {worst_near[0]} of {plural(seeds, 'seed')}) and "
        f"x = {signed(err_lbfgs[:, 2], 3)} after L-BFGS ({worst_near[1]} "
        f"of {seeds}), and within |x| ≤ {NEAR_ZERO} in {swept_near} of the {swept.size} runs of "
        f"the near-0 sweep below: "
        + (
            "the error is largest near 0 in every run. "
            if always_near
            else "the largest error is not always near 0. "
        )
        + f"Near x = 0, with {steps} full-batch Adam steps, the max error for |x| ≤ {NEAR_ZERO} "
        f"goes from {fmt(xav[0])} at N = {ns[0]} to {fmt(xav[-1])} at N = {ns[-1]} with Xavier "
        f"init, and from {fmt(he[0])} to {fmt(he[-1])} with He init. So, more points or "
        f"another init? With Xavier init, more points "
        f"{'lower it by more than a factor 2' if more_points else 'do not lower it by a factor 2'}"
        f"; {init_text}. L-BFGS from the Adam solution lowers it {factors['L-BFGS']:.3g} times "
        f"(from {fmt(near_adam)} to {fmt(near_lbfgs)}, N = {len(x)}, medians). Of the three, "
        f"{most} lowers it most ({factors[most]:.3g} times; more points "
        f"{factors['more points']:.3g}, He init {factors['He init']:.3g} as the median over N)."
    )
    return StudyResult(
        title=f"a {sizes} tanh network fits 1/(1+25x²), then L-BFGS; the error near x = 0",
        question="How well does a tanh network fit Runge's function, how much further does "
        "L-BFGS go, and what closes the error near x = 0: more points or another init?",
        setup=[
            ("target", "f(x) = 1/(1+25x²) on [−1, 1]"),
            ("data", f"{len(x)} training, {len(x_val)} validation points, uniform"),
            ("network", f"{sizes}, tanh hidden, identity output"),
            ("initialisation", "Xavier normal weights, zero biases"),
            ("Adam", f"lr {lr:g}, batch 32, {adam.epochs} epochs"),
            ("L-BFGS", f"full batch, up to {polish.epochs} iterations"),
            ("precision", f"{network.dtype} throughout (Adam and L-BFGS)"),
            (
                "near-0 sweep",
                f"N = {', '.join(map(str, ns))}; Xavier vs He normal; "
                f"{steps} full-batch Adam steps each",
            ),
            ("seeds", str(seeds)),
        ],
        figures=[
            (
                "fit.png",
                "Left: fit against the truth. Right: pointwise error after Adam and "
                "after L-BFGS (log scale).",
            ),
            ("loss.png", "Training and validation MSE per epoch, then L-BFGS iterations."),
            (
                "near_zero.png",
                "Max error near 0 (and on all of [−1, 1]) against N, "
                f"{over_seeds(seeds, band=True)}; gray lines: the error near 0 of part 1 after "
                "Adam and after L-BFGS.",
            ),
        ],
        answer=answer,
        metrics={
            "first_epoch_val_below_1e-4": first,
            "final_val_mse_adam": final_val.tolist(),
            "final_val_mse_lbfgs": val_lbfgs.tolist(),
            "max_error_adam": err_adam[:, 0].tolist(),
            "max_error_near_0_adam": err_adam[:, 1].tolist(),
            "max_error_lbfgs": err_lbfgs[:, 0].tolist(),
            "max_error_near_0_lbfgs": err_lbfgs[:, 1].tolist(),
            "x_of_max_error_adam": err_adam[:, 2].tolist(),
            "x_of_max_error_lbfgs": err_lbfgs[:, 2].tolist(),
            "sweep_n": ns,
            "sweep_near_0_median": {k: v.tolist() for k, v in near.items()},
            "sweep_near_0": {k: v[:, :, 1].tolist() for k, v in sweep.items()},
            "sweep_x_of_max_error": {k: v[:, :, 2].tolist() for k, v in sweep.items()},
            "seed_ranges_overlap_at": overlap,
        },
        checks=checks,
        config={
            "adam": settings(adam),
            "lbfgs": settings(polish),
            "sweep_steps": steps,
            "sweep_n": ns,
        },
        tables=[table],
    )

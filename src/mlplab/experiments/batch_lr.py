"""``batch-lr``: the best SGD learning rate against the batch size on the ``cos4`` data.

For each batch size B and each learning rate η on a log grid, the ``cos4`` network is trained
for a fixed number of epochs (so larger batches take fewer steps); the best η is the one with
the lowest median final validation MSE over the seeds. A least-squares line through
log η*(B) against log B gives the slope; the "linear scaling rule" says 1.
``--set batches=8,32,128 epochs=K log_lr=-3,0 per_decade=4`` changes the grid and the budget.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.experiments import cos4
from mlplab.experiments.common import TRAINS, fmt, over_seeds, progress_bar, seed_list, train_seeds
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table

TITLE = "the best SGD learning rate against the batch size (cos4 data)"
DEFAULT_SEEDS = {False: 2, True: 1}
DATA = cos4.Setup()  # the cos4 data: N = 512 points
PARAMETERS = (
    Parameter(
        "batches",
        (8, 16, 32, 64, 128, 256, 512),
        f"batch sizes B (at least two, each at most N = {DATA.n})",
        quick=(16, 64, 256),
    ),
    Parameter("epochs", 200, "epochs (passes over the data) for every run", quick=20),
    Parameter(
        "log_lr",
        (-3.0, 0.0),
        "log10 of the smallest and largest learning rate of the grid",
        low=-8,
        high=2,
        quick=(-2.5, 0.0),
    ),
    Parameter("per_decade", 4, "learning rates per factor 10 of the grid", quick=2),
)


def learning_rates(log_lr: tuple[float, ...], per_decade: int) -> np.ndarray:
    """The log grid 10^(lo + k/per_decade) from 10^lo up to 10^hi, ``log_lr = (lo, hi)``.

    Raises
    ------
    ValueError
        Unless ``log_lr`` is two numbers lo < hi that hold at least two rates.
    """
    if len(log_lr) != 2 or (log_lr[1] - log_lr[0]) * per_decade < 1:
        raise ValueError(
            "log_lr takes two numbers lo,hi with at least one grid step between them "
            f"(hi − lo >= 1/per_decade = {1 / per_decade:g}), e.g. -3,0; got "
            f"{','.join(f'{v:g}' for v in log_lr)}"
        )
    lo, hi = log_lr
    return 10.0 ** np.arange(lo, hi + 0.01 / per_decade, 1 / per_decade)


def largest_stable(lrs: np.ndarray, diverged: np.ndarray) -> float:
    """The largest rate of the grid below the first at which some seed diverged: the top of
    the grid where none did, NaN where even the smallest rate diverged."""
    if not diverged.any():
        return float(lrs[-1])
    first = int(np.argmax(diverged))
    return float(lrs[first - 1]) if first > 0 else float("nan")


def rule_verdict(slope: float) -> str:
    """Which scaling rule the fitted slope of log η* against log B is nearer: η ∝ B (1),
    η ∝ √B (0.5) or a constant η (0)."""
    rules = {1.0: 'the "η ∝ B" rule', 0.5: "the square-root rule", 0.0: "a constant η"}
    return "nearest to " + rules[min(rules, key=lambda r: abs(slope - r))]


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    batches: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512),
    epochs: int = 200,
    log_lr: tuple[float, ...] = (-3.0, 0.0),
    per_decade: int = 4,
) -> StudyResult:
    batches = sorted(set(batches))
    if len(batches) < 2 or batches[-1] > DATA.n:
        raise ValueError(
            f"batches needs at least two different sizes, each at most N = {DATA.n}, "
            f"got {','.join(map(str, batches))}"
        )
    lrs = learning_rates(log_lr, per_decade)
    x, y, x_val, y_val, _ = DATA.data()
    seeds_ = seed_list(seeds)
    val = np.full((len(batches), len(lrs), seeds), np.inf)
    diverged = np.zeros((len(batches), len(lrs)), dtype=bool)
    with progress_bar("batch-lr grid", len(batches) * len(lrs), progress) as advance:
        for i, b in enumerate(batches):
            for j, lr in enumerate(lrs):
                tr = dataclasses.replace(cos4.CONFIG, lr=float(lr), epochs=epochs, batch_size=b)
                runs = train_seeds(tr, x, y, seeds_, (x_val, y_val))
                for k, r in enumerate(runs):
                    if r.history.status == "diverged":
                        diverged[i, j] = True
                    else:
                        val[i, j, k] = r.history.val_loss[-1]
                advance()
    med = np.median(val, axis=2)
    best = lrs[np.argmin(med, axis=1)]
    stable = np.array([largest_stable(lrs, d) for d in diverged])
    var_y = float(np.var(y_val))
    # A batch size whose best run did not learn f (MSE above TRAINS × Var(y)) has no best η:
    # its "best" is the least bad of untrained runs, left out of the fit.
    trained = np.min(med, axis=1) < TRAINS * var_y
    fitted = np.array(batches)[trained]
    slope = intercept = None
    if len(fitted) >= 2:
        slope, intercept = np.polyfit(np.log10(fitted), np.log10(best[trained]), 1)

    fig, axes = plots.new_figure(ncols=2, width=5.8)
    ax = axes[0]
    ax.loglog(fitted, best[trained], "o", ms=8, color="tab:blue", label="best η on the grid")
    if not trained.all():
        ax.loglog(
            np.array(batches)[~trained],
            best[~trained],
            "o",
            ms=8,
            mfc="none",
            color="tab:blue",
            label="no run trained (left out)",
        )
    if slope is not None:
        bb = np.array([fitted[0], fitted[-1]], dtype=float)
        ax.loglog(bb, 10**intercept * bb**slope, "-", label=f"fit: η* ∝ B^{slope:.2f}")
        ax.loglog(bb, best[trained][0] * bb / bb[0], ":", color="gray", label="η ∝ B (linear rule)")
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    rates = np.unique(best)  # the grid rates that are someone's best: each one labelled
    ax.set_yticks(rates, [f"{v:.3g}" for v in rates])
    ax.set_xlabel("batch size B")
    ax.set_ylabel("best learning rate η*")
    ax.set_title(f"Best η after {epochs} epochs ({over_seeds(seeds)})")
    ax.legend()
    ax = axes[1]
    ceiling = 10.0 * float(np.var(y_val))
    shown = np.where(med < ceiling, med, np.nan)
    for i, b in enumerate(batches):
        ax.loglog(lrs, shown[i], "o-", ms=3, label=f"B = {b}")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("final validation MSE (median)")
    ax.set_title(f"Validation MSE over the grid (gaps: diverged or > {ceiling:.0f})")
    ax.legend(fontsize=7, ncols=2)
    plots.save_figure(fig, out / "best_lr.png")

    rows = [
        [
            str(b),
            f"{best[i]:.3g}" if trained[i] else f"({best[i]:.3g}: no run trained)",
            fmt(float(np.min(med[i]))),
            f"{stable[i]:.3g}" if np.isfinite(stable[i]) else "none",
        ]
        for i, b in enumerate(batches)
    ]
    table = "## Best learning rate per batch size\n\n" + markdown_table(
        ["batch size", "best η", "median validation MSE at best η", "largest η without divergence"],
        rows,
    )
    fewer = math.ceil(DATA.n / batches[0]) / math.ceil(DATA.n / batches[-1])
    at_edge = [b for i, b in enumerate(batches) if trained[i] and best[i] in (lrs[0], lrs[-1])]
    checks = [
        Check(
            "every best η lies inside the grid (not at its edge)",
            not at_edge,
            f"at the edge for B = {', '.join(map(str, at_edge))}"
            if at_edge
            else f"grid {lrs[0]:.3g}..{lrs[-1]:.3g}",
        ),
    ]
    untrained = [b for b, t in zip(batches, trained, strict=True) if not t]
    limit = (
        f"a batch size counts as trained when its best median validation MSE is below "
        f"{TRAINS:g} × Var(y) = {fmt(TRAINS * var_y)}"
    )
    if slope is None:
        fit_text = (
            f"Fewer than two batch sizes trained within the budget ({limit}), so no slope is "
            "fitted."
        )
    else:
        fit_text = (
            f"The least-squares slope of log η* against log B over the "
            f"{len(fitted)} batch sizes that trained is {slope:.2f}, "
            f"{rule_verdict(slope)} (1 for η ∝ B, 0.5 for the square-root rule, 0 for a "
            f"constant η)"
            + (
                f"; B = {', '.join(map(str, untrained))} did not train at any rate ({limit}) "
                "and are left out"
                if untrained
                else f" ({limit}; all did)"
            )
            + "."
        )
    finite = stable[np.isfinite(stable)]
    if not diverged.any():
        stable_text = (
            f"No run diverged on the grid, so the largest stable rate lies above "
            f"{lrs[-1]:.3g} for every batch size."
        )
    elif len(finite) == 0:
        stable_text = "Every batch size diverged already at the smallest rate of the grid."
    else:
        both = trained & np.isfinite(stable)
        stable_text = (
            f"The largest rate that no seed diverged at is {finite.min():.3g} to "
            f"{finite.max():.3g} across the batch sizes "
            f"({'nearly' if finite.max() <= 3.2 * finite.min() else 'not'} the same for every "
            "batch size)"
            + (
                f", and the best rates of the trained batch sizes lie at "
                f"{np.median(best[both] / stable[both]):.2g} times it (median)."
                if both.any()
                else "."
            )
        )
    answer = (
        f"For a fixed budget of {epochs} epochs, "
        + (
            "the best SGD learning rate per batch size that trained is "
            + ", ".join(f"{best[i]:.3g} (B = {b})" for i, b in enumerate(batches) if trained[i])
            if trained.any()
            else "no batch size trained at any rate of the grid"
        )
        + f". {fit_text} The grid has {len(lrs)} rates {lrs[1] / lrs[0]:.2f}× apart, so each "
        f"η* is known to that factor. {stable_text} With the same epochs, B = {batches[-1]} "
        f"takes {fewer:g}× fewer steps than B = {batches[0]}; its best median validation MSE is "
        f"{fmt(float(np.min(med[-1])))} against {fmt(float(np.min(med[0])))}."
        + (
            f" At B = {', '.join(map(str, at_edge))} the best rate lies at the edge of the grid, "
            "so the slope there is a bound."
            if at_edge
            else ""
        )
    )
    return StudyResult(
        title=TITLE,
        question="How does the best SGD learning rate for a fixed number of epochs change with "
        'the batch size, and does it follow the "learning rate ∝ batch size" rule?',
        setup=[
            (
                "data and network",
                f"as cos4: {DATA.n} N(0,1) points of (x−2)cos(4x), {DATA.sizes} "
                "sigmoid, N(0,1) weights, biases 0.03",
            ),
            ("batch sizes", ", ".join(map(str, batches))),
            ("learning rates", f"{len(lrs)} on a log grid from {lrs[0]:.3g} to {lrs[-1]:.3g}"),
            ("budget", f"{epochs} epochs (one pass over the data each)"),
            ("best η", "lowest median final validation MSE; diverged runs count as ∞"),
            ("seeds", str(seeds)),
        ],
        figures=[
            (
                "best_lr.png",
                "Left: best η against B (log-log) with the fitted slope. "
                "Right: the validation MSE over the whole grid.",
            )
        ],
        answer=answer,
        metrics={
            "batch_sizes": batches,
            "learning_rates": lrs.tolist(),
            "best_lr": best.tolist(),
            "slope": None if slope is None else float(slope),
            "trained": trained.tolist(),
            "var_y": var_y,
            "largest_stable_lr": [float(v) if np.isfinite(v) else None for v in stable],
            "median_val_mse": np.where(np.isfinite(med), med, None).tolist(),
        },
        checks=checks,
        config={
            "batch_sizes": batches,
            "learning_rates": lrs.tolist(),
            "epochs": epochs,
        },
        tables=[table],
    )

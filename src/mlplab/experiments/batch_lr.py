"""``batch-lr``: the best SGD learning rate against the batch size on the ``cos4`` data.

For each batch size B and each learning rate η on a log grid, the ``cos4`` network is trained
for a fixed number of epochs (so larger batches take fewer steps); the best η is the one with
the lowest median final validation MSE over the seeds. A least-squares line through
log η*(B) against log B gives the slope; the "linear scaling rule" says 1, the square-root rule
0.5, a constant η 0. The grid knows each η* only to a grid step, and near-ties between rates
(within the seed spread) move it by a step or more: the slope is given as the range that every
choice among the tied rates allows, and a rule is named only where that range is nearest to it
alone.
``--set batches=8,32,128 epochs=K log_lr=-3,0 per_decade=4`` changes the grid and the budget.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.experiments import cos4
from mlplab.experiments.common import (
    TRAINS,
    fmt,
    over_seeds,
    plural,
    seed_list,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.progress import progress_bar

TITLE = "the best SGD learning rate against the batch size (cos4 data)"
DEFAULT_SEEDS = {False: 2, True: 1}
DATA = cos4.Setup()  # the cos4 data: N = 512 points
PARAMETERS = (
    Parameter(
        "batches",
        (8, 16, 32, 64, 128, 256, 512),
        f"batch sizes B (at least two, each at most N = {DATA.n_train})",
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


#: A rate whose median validation MSE is within this fraction of the best rate's is tied with it.
TIE = 0.05

#: The scaling rules: the slope of log η* against log B each predicts, and its name.
RULES = {1.0: 'the "η ∝ B" rule', 0.5: "the square-root rule", 0.0: "a constant η"}


def tied_best(val: np.ndarray) -> np.ndarray:
    """The rates of one batch size that are tied with the best: ``val`` (rates, seeds) holds the
    final validation MSE of every seed (∞ where it diverged).

    The best rate has the lowest median. A rate is tied with it when its median is within
    :data:`TIE` of the best median, or at most the best rate's highest seed: the difference is
    within the best rate's own seed spread.
    """
    med = np.median(val, axis=1)
    best = int(np.argmin(med))
    return (med <= (1 + TIE) * med[best]) | (med <= val[best].max())


def slope_range(batches: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """The least and the largest least-squares slope of log10 η* against log10 B when each η*
    may be any rate from ``low`` to ``high`` (per batch size).

    The slope is Σ w_B log η*_B with w_B = (u_B − ū)/Σ(u − ū)², u = log B, so it is smallest
    with η* at ``low`` where w_B > 0 and at ``high`` where w_B < 0, and largest the other way.
    """
    u = np.log10(batches)
    w = (u - u.mean()) / np.sum((u - u.mean()) ** 2)
    lo, hi = np.log10(low), np.log10(high)
    return float(np.sum(w * np.where(w > 0, lo, hi))), float(np.sum(w * np.where(w > 0, hi, lo)))


def nearest_rules(low: float, high: float) -> list[float]:
    """The rules of :data:`RULES` that some slope from ``low`` to ``high`` is nearest to."""
    rules = sorted(RULES)
    bounds = [-np.inf, *[(a + b) / 2 for a, b in itertools.pairwise(rules)], np.inf]
    return [
        r
        for r, (a, b) in zip(rules, itertools.pairwise(bounds), strict=True)
        if low <= b and high >= a
    ]


def slope_text(slope: float) -> str:
    """A slope with two decimals, never ``-0.00``."""
    return f"{round(slope, 2) + 0.0:.2f}"


def rule_verdict(low: float, high: float) -> str:
    """What a slope between ``low`` and ``high`` says about the rules: the one it is nearest to
    over the whole range, or that the grid cannot tell apart the ones it is nearest to at its
    two ends."""
    near = nearest_rules(low, high)
    if len(near) == 1:
        return f"nearest to {RULES[near[0]]} over the whole range"
    between = f" (and to {RULES[near[1]]} between)" if len(near) == 3 else ""
    return (
        f"nearest to {RULES[near[0]]} at the low end and to {RULES[near[-1]]} at the high "
        f"end{between}, so this grid cannot tell these rules apart"
    )


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
    if len(batches) < 2 or batches[-1] > DATA.n_train:
        raise ValueError(
            f"batches needs at least two different sizes, each at most N = {DATA.n_train}, "
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
                runs = train_seeds(tr, x, y, seeds_, (x_val, y_val), expect_divergence=True)
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
    tied = np.array([tied_best(v) for v in val])  # (batches, rates)
    tied_low = np.array([lrs[t].min() for t in tied])
    tied_high = np.array([lrs[t].max() for t in tied])
    fitted = np.array(batches)[trained]
    slope = intercept = None
    if len(fitted) >= 2:
        slope, intercept = np.polyfit(np.log10(fitted), np.log10(best[trained]), 1)
        low, high = slope_range(fitted, tied_low[trained], tied_high[trained])

    fig, axes = plots.new_figure(ncols=2, width=5.8)
    ax = axes[0]
    ax.errorbar(
        fitted,
        best[trained],
        yerr=[best[trained] - tied_low[trained], tied_high[trained] - best[trained]],
        fmt="o",
        ms=8,
        capsize=4,
        color="tab:blue",
        label="best η on the grid (bar: rates tied with it)",
    )
    if not trained.all():
        ax.plot(
            np.array(batches)[~trained],
            np.zeros(int((~trained).sum())),
            "v",
            ms=9,
            mfc="none",
            color="tab:red",
            transform=ax.get_xaxis_transform(),  # x in data, y on the axis: no η* to show
            clip_on=False,
            label="no run trained: no best η",
        )
    if slope is not None:
        bb = np.array([fitted[0], fitted[-1]], dtype=float)
        fit_label = rf"fit: $\eta^* \propto B^{{{slope_text(slope)}}}$"
        ax.plot(bb, 10**intercept * bb**slope, "-", label=fit_label)
        ax.plot(bb, best[trained][0] * bb / bb[0], ":", color="gray", label="η ∝ B (linear rule)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.minorticks_off()
    rates = np.unique(np.r_[best[trained], tied_low[trained], tied_high[trained]])
    ax.set_yticks(rates, [f"{v:.3g}" for v in rates])  # every rate shown is labelled
    ax.set_xlabel("batch size B")
    ax.set_ylabel("best learning rate η*")
    ax.set_title(f"Best η after {epochs} epochs ({over_seeds(seeds)})")
    ax.legend(fontsize=8)
    ax = axes[1]
    ceiling = 10.0 * var_y
    shown = np.where(med < ceiling, med, np.nan)
    for i, b in enumerate(batches):
        ax.loglog(lrs, shown[i], "o-", ms=3, label=f"B = {b}")
    ax.axhline(TRAINS * var_y, color="black", ls="--", lw=1, label=f"{TRAINS:g} Var(y)")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("final validation MSE (median)")
    ax.set_title(
        f"Validation MSE over the grid\n(gaps: diverged, or MSE above 10 Var(y) = {ceiling:.3g})"
    )
    ax.legend(fontsize=7, ncols=2)
    plots.save_figure(fig, out / "best_lr.png")

    def tied_text(i: int) -> str:
        if tied_low[i] == tied_high[i]:
            return f"{best[i]:.3g} alone"
        return f"{tied_low[i]:.3g} to {tied_high[i]:.3g}"

    rows = [
        [
            str(b),
            f"{best[i]:.3g}" if trained[i] else "—",
            tied_text(i) if trained[i] else "—",
            fmt(float(np.min(med[i]))) + ("" if trained[i] else " (no run trained)"),
            f"{stable[i]:.3g}" if np.isfinite(stable[i]) else "none",
        ]
        for i, b in enumerate(batches)
    ]
    tie_rule = (
        f"its median validation MSE is within {TIE:.0%} of the best one's or no higher than "
        "the best rate's highest seed (within its seed spread)"
    )
    table = (
        "## Best learning rate per batch size\n\n"
        + markdown_table(
            [
                "batch size",
                "best η",
                "rates tied for best (range)",
                "lowest median validation MSE",
                "largest η without divergence",
            ],
            rows,
        )
        + f"\n\nA rate is tied for best where {tie_rule}. A batch size with no run below "
        f"{TRAINS:g} × Var(y) = {fmt(TRAINS * var_y)} has no best η (—)."
    )
    fewer = math.ceil(DATA.n_train / batches[0]) / math.ceil(DATA.n_train / batches[-1])
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
    step = lrs[1] / lrs[0]
    if slope is None:
        fit_text = (
            f"Fewer than two batch sizes trained within the budget ({limit}), so no slope is "
            "fitted."
        )
    else:
        fit_text = (
            f"The least-squares slope of log η* against log B over the {len(fitted)} batch "
            f"sizes that trained is {slope_text(slope)} (1 for η ∝ B, 0.5 for the square-root "
            f"rule, 0 for a constant η)"
            + (
                f"; B = {', '.join(map(str, untrained))} did not train at any rate ({limit}) "
                "and are left out"
                if untrained
                else f" ({limit}; all did)"
            )
            + f". But the grid knows each η* only to a factor {step:.2f}, from "
            f"{plural(seeds, 'seed')}, and some rates are near-ties. Counting a rate as tied "
            f"for best where {tie_rule}, the slope lies between {slope_text(low)} and "
            f"{slope_text(high)} over every choice among the tied rates: "
            f"{rule_verdict(low, high)}."
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
        + f". {fit_text} {stable_text} With the same epochs, B = {batches[-1]} "
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
                f"as cos4: {DATA.n_train} N(0,1) points of (x−2)cos(4x), {DATA.sizes} "
                "sigmoid, N(0,1) weights, biases 0.03",
            ),
            ("batch sizes", ", ".join(map(str, batches))),
            ("learning rates", f"{len(lrs)} on a log grid from {lrs[0]:.3g} to {lrs[-1]:.3g}"),
            ("budget", f"{epochs} epochs (one pass over the data each)"),
            ("best η", "lowest median final validation MSE; diverged runs count as ∞"),
            (
                "tied with the best",
                f"median within {TIE:.0%} of the best one's, or at most the best rate's "
                "highest seed",
            ),
            ("seeds", str(seeds)),
        ],
        figures=[
            (
                "best_lr.png",
                "Left: best η against B (log-log), the rates tied with it as a bar, and the "
                "fitted slope; batch sizes where no run trained are marked on the axis. "
                "Right: the validation MSE over the whole grid.",
            )
        ],
        answer=answer,
        metrics={
            "batch_sizes": batches,
            "learning_rates": lrs.tolist(),
            "best_lr": best.tolist(),
            "slope": None if slope is None else float(slope),
            "slope_range": None if slope is None else [low, high],
            "tied_best_lr": np.c_[tied_low, tied_high].tolist(),
            "tie_fraction": TIE,
            "trained": trained.tolist(),
            "var_y": var_y,
            "largest_stable_lr": [float(v) if np.isfinite(v) else None for v in stable],
            "median_val_mse": np.where(np.isfinite(med), med, None).tolist(),
            "val_mse": np.where(np.isfinite(val), val, None).tolist(),
        },
        checks=checks,
        config={
            "batch_sizes": batches,
            "learning_rates": lrs.tolist(),
            "epochs": epochs,
        },
        tables=[table],
    )

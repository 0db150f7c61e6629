"""``higham``: the worked example of Higham & Higham (SIAM Review 2019, section 3).

Ten points in [0, 1]², five of category A (target (1, 0)) and five of category B (target
(0, 1)); a 2-2-3-2 network with sigmoid in every layer, weights and biases from N(0, 0.5²);
the paper's cost (1/N) Σ ½‖y − a^[4]‖² (``half_sse``); SGD on one point drawn at random per
step, η = 0.05, 10^6 steps. The 11-point variant adds (0.3, 0.7) to category B.
``--set steps=S lr=η hidden=2,3 point=0.3,0.7`` changes the number of steps, the learning rate,
the hidden widths and the added point.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import paper_example
from mlplab.experiments.common import (
    SeedRun,
    fmt,
    listing,
    seeds_named,
    settings,
    train_seeds,
)
from mlplab.experiments.params import MAX_LR, Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.network import MLP
from mlplab.progress import progress_bar

DEFAULT_SEEDS = {False: 2, True: 1}

X10, _ONE_HOT = paper_example()
LABELS10 = _ONE_HOT.argmax(axis=1)  # 0 = category A, 1 = category B
CATEGORIES = ("A", "B")
#: Points of [0, 1]² (a 201 × 201 grid) on which the shares of the decision regions are measured.
SQUARE = np.stack(np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201)), -1).reshape(-1, 2)
EXTRA_POINT = (0.3, 0.7)
ETA = 0.05
STEPS = 1_000_000
PARAMETERS = (
    Parameter(
        "steps",
        STEPS,
        "single-point SGD steps (rounded down to whole epochs of N draws for N points)",
        low=11,
        quick=100_000,
    ),
    Parameter("lr", ETA, "SGD learning rate η", low=1e-6, high=MAX_LR),
    Parameter("hidden", (2, 3), "hidden layer widths"),
    Parameter("point", EXTRA_POINT, "the point x,y in [0, 1]² added to B", low=0, high=1),
)

#: The 2-2-3-2 sigmoid network (the inputs and outputs come from the data), SGD on half the
#: sum of squares, one point drawn with replacement per step (the epochs: :func:`train_variant`).
CONFIG = TrainConfig(
    hidden=[2, 3],
    activation="sigmoid",
    output_activation="sigmoid",
    init="normal:0,0.5",
    bias_init="normal:0,0.5",
    loss="half_sse",
    optimizer="sgd",
    lr=ETA,
    batch_size=1,
    batch_sampling="replacement",
)


def title(sizes: str) -> str:
    """The study's title for the network ``sizes`` (``2-2-3-2``)."""
    return f"the paper's {sizes} sigmoid example, 10 and 11 points, single-point SGD"


TITLE = title("2-2-3-2")


def points(variant: int, extra: tuple[float, ...] = EXTRA_POINT) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(N, 2)`` and labels ``(N,)`` of the 10- or 11-point problem (``extra`` added
    to category B)."""
    if variant == 10:
        return X10, LABELS10
    return np.vstack([X10, extra]), np.append(LABELS10, 1)


def steps_taken(variant: int, steps: int) -> int:
    """The steps of ``steps`` // N epochs of N draws (with replacement) for the N points of
    ``variant``."""
    return variant * (steps // variant)


def seeds_of(quick: bool, seeds: int) -> list[int]:
    """Seeds 0..K−1; the quick run uses 1..K (seed 1 classifies the 10 points in 10^5 steps)."""
    return [k + 1 for k in range(seeds)] if quick else list(range(seeds))


def train_variant(
    variant: int,
    cfg: TrainConfig,
    steps: int,
    seeds: list[int],
    advance,
    extra: tuple[float, ...] = EXTRA_POINT,
) -> list[SeedRun]:
    X, labels = points(variant, extra)
    tr = dataclasses.replace(cfg, epochs=steps // len(labels))
    return train_seeds(tr, X, np.eye(2)[labels], seeds, advance=advance)


def plot_regions(
    ax, run: SeedRun, variant: int, seed: int, extra: tuple[float, ...] = EXTRA_POINT
) -> None:
    """Decision regions (argmax of the two outputs) over [0, 1]² with the points."""
    X, labels = points(variant, extra)
    names = ["category A", "category B"]
    plots.plot_regions(ax, lambda P: run.net(P).argmax(axis=1), X, labels, 2, names=names)
    if variant == 11:
        ax.plot(*extra, "s", ms=14, mfc="none", color="black", label="added point")
    else:
        ax.plot(
            *extra,
            "s",
            ms=14,
            mfc="none",
            color="gray",
            label="point added in the 11-point problem",
        )
    wrong = run.net(X).argmax(axis=1) != labels
    if wrong.any():
        ax.plot(
            *X[wrong].T,
            "o",
            ms=20,
            mfc="none",
            mew=2,
            color="crimson",
            label=f"misclassified ({int(wrong.sum())})",
        )
    ok = int(np.sum(~wrong))
    ax.set_title(
        f"{variant} points, seed {seed}: {ok}/{len(labels)} classified\n"
        "(blue region: A, orange region: B)"
    )
    # below the square, where it hides no point
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, markerscale=0.7)


def classified_text(n: int, classified: list[int], seeds: list[int]) -> str:
    """How many of the ``n`` points each seed classifies, as a clause: seeds with the same
    count together, the best first (``"seeds 0 and 1 classify all 10 points"``, ``"seed 0
    classifies all 11 points and seed 1 classifies 10 of the 11 points"``)."""
    groups: dict[int, list[int]] = {}
    for count, seed in zip(classified, seeds, strict=True):
        groups.setdefault(count, []).append(seed)
    clauses = []
    for count in sorted(groups, reverse=True):
        what = (
            f"all {n} points"
            if count == n
            else "none of them"
            if count == 0
            else f"{count} of the {n} points"
        )
        verb = "classify" if len(groups[count]) > 1 else "classifies"
        clauses.append(f"{seeds_named(groups[count])} {verb} {what}")
    return listing(clauses)


def costs_text(costs: list[float], seeds: list[int]) -> str:
    """``"5.06e-05 (seed 0) and 5.26e-05 (seed 1)"``."""
    return listing([f"{fmt(c)} (seed {s})" for c, s in zip(costs, seeds, strict=True)])


def category(net: MLP, point: tuple[float, ...]) -> str:
    """The category, A or B, of the region ``net`` puts ``point`` in."""
    return CATEGORIES[int(net(np.array([point])).argmax(axis=1)[0])]


def misclassified(net: MLP, variant: int, extra: tuple[float, ...]) -> list[str]:
    """The points of ``variant`` that ``net`` puts in the other region, as
    ``"(0.6, 0.9) of category A"``."""
    X, labels = points(variant, extra)
    wrong = net(X).argmax(axis=1) != labels
    return [
        f"({x:g}, {y:g}) of category {CATEGORIES[k]}"
        for (x, y), k in zip(X[wrong], labels[wrong], strict=True)
    ]


def region_change(net10: MLP, net11: MLP, extra: tuple[float, ...]) -> dict:
    """What adding ``extra`` to B changes between the networks of the two regions figures:
    the region each puts the added point in, the share of [0, 1]² in region B for each, the
    share of the square whose region changes, and the points each misclassifies."""
    b10, b11 = (net(SQUARE).argmax(axis=1) == 1 for net in (net10, net11))
    return {
        "added_point_region": {"10": category(net10, extra), "11": category(net11, extra)},
        "region_b_share": {"10": float(b10.mean()), "11": float(b11.mean())},
        "changed_share": float(np.mean(b10 != b11)),
        "misclassified": {
            "10": misclassified(net10, 10, extra),
            "11": misclassified(net11, 11, extra),
        },
    }


def change_text(change: dict, seeds: dict[int, int], added: str) -> str:
    """The change from ``regions_10.png`` to ``regions_11.png`` in words, from
    :func:`region_change` and the seed each figure shows."""
    where, share = change["added_point_region"], change["region_b_share"]
    wrong = {v: change["misclassified"][str(v)] for v in (10, 11)}
    shown = (
        f"seed {seeds[10]} for both"
        if seeds[10] == seeds[11]
        else f"seed {seeds[10]} for 10 points, seed {seeds[11]} for 11"
    )
    after = (
        f"leaves it in region {where['11']}"
        if where["11"] == where["10"]
        else f"moves it to region {where['11']}"
    )
    errors = " ".join(
        f"The {v}-point network misclassifies {listing(wrong[v])}." for v in (10, 11) if wrong[v]
    )
    return (
        f"In the figures (the lowest-cost seed of each problem: {shown}), the 10-point network "
        f"puts {added} in region {where['10']}, and training with it in category B {after}. "
        f"Region B covers {share['10']:.0%} of [0, 1]² before and {share['11']:.0%} after; "
        f"{change['changed_share']:.0%} of the square changes region. "
        + (errors or "Both networks classify all their points.")
    )


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    steps: int = STEPS,
    lr: float = ETA,
    hidden: tuple[int, ...] = (2, 3),
    point: tuple[float, ...] = EXTRA_POINT,
) -> StudyResult:
    if len(point) != 2:
        raise ValueError(f"point takes two numbers x,y, e.g. 0.3,0.7; got {len(point)}")
    seed_ids = seeds_of(quick, seeds)
    cfg = dataclasses.replace(CONFIG, hidden=list(hidden), lr=lr)
    sizes = "-".join(map(str, [2, *hidden, 2]))
    added = f"({point[0]:g}, {point[1]:g})"
    results: dict[int, list[SeedRun]] = {}
    with progress_bar("higham runs", 2 * len(seed_ids), progress) as advance:
        for variant in (10, 11):
            results[variant] = train_variant(variant, cfg, steps, seed_ids, advance, point)

    fig, (ax,) = plots.new_figure(width=7.0)
    for variant, color in ((10, "tab:blue"), (11, "tab:red")):
        n = len(points(variant, point)[1])
        for k, (r, seed) in enumerate(zip(results[variant], seed_ids, strict=True)):
            it = n * np.arange(1, r.history.epochs + 1)
            ax.plot(
                it,
                r.history.train_loss,
                color=color,
                lw=1,
                alpha=1.0 if k == 0 else 0.5,
                ls="-" if k == 0 else "--",
                label=f"{variant} points, seed {seed}",
            )
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("SGD iteration (one point per step)")
    ax.set_ylabel(r"cost $(1/N) \sum \frac{1}{2} \| y - a^{[4]} \|_2^2$")
    ax.set_title("Cost against iteration (recorded every N iterations)")
    ax.legend(fontsize=8)
    plots.save_figure(fig, out / "cost.png")

    classified: dict[int, list[int]] = {}
    final_cost: dict[int, list[float]] = {}
    shown: dict[int, SeedRun] = {}  # the run each regions figure shows, and its seed
    shown_seed: dict[int, int] = {}
    for variant in (10, 11):
        X, labels = points(variant, point)
        classified[variant] = [int(np.sum(r.net(X).argmax(1) == labels)) for r in results[variant]]
        final_cost[variant] = [r.history.train_loss[-1] for r in results[variant]]
        best = int(np.argmin(final_cost[variant]))
        shown[variant], shown_seed[variant] = results[variant][best], seed_ids[best]
        fig, (ax,) = plots.new_figure(width=5.2, height=6.0)
        plot_regions(ax, shown[variant], variant, shown_seed[variant], point)
        plots.save_figure(fig, out / f"regions_{variant}.png")

    rows = [
        [str(v), str(s), fmt(final_cost[v][k]), f"{classified[v][k]}/{v}"]
        for v in (10, 11)
        for k, s in enumerate(seed_ids)
    ]
    all10 = [c == 10 for c in classified[10]]
    n_steps, n_steps11 = steps_taken(10, steps), steps_taken(11, steps)
    layers = len(hidden) + 2
    checks = [
        Check(
            "the 10 points are all classified (every seed)"
            if quick
            else "the 10 points are all classified (by at least one seed)",
            all(all10) if quick else any(all10),
            f"classified per seed: {classified[10]}",
        ),
        Check(
            f"{n_steps:,} single-point steps were taken",
            all(r.history.steps == n_steps for r in results[10]),
            f"steps: {[r.history.steps for r in results[10]]}",
        ),
    ]
    change = region_change(shown[10].net, shown[11].net, point)
    answer = (
        f"After {n_steps:,} steps of SGD with η = {lr:g} on single points, the 10-point "
        f"problem ends with cost {costs_text(final_cost[10], seed_ids)}, and "
        f"{classified_text(10, classified[10], seed_ids)}. With {added} added to category B, "
        f"after {n_steps11:,} steps the cost ends at {costs_text(final_cost[11], seed_ids)}, "
        f"and {classified_text(11, classified[11], seed_ids)}. "
        + change_text(change, shown_seed, added)
    )
    return StudyResult(
        title=title(sizes),
        question="Does the paper's small sigmoid network, trained by single-point SGD, separate "
        "the two categories, and what happens when a point is added that makes the boundary "
        "bend?",
        setup=[
            ("data", f"10 points in [0,1]² (5 of A, 5 of B); variant: {added} added to B"),
            ("network", f"{sizes}, sigmoid in every layer"),
            ("initialisation", "weights and biases N(0, 0.5²)"),
            ("cost", f"(1/N) Σ ½‖y − a^[{layers}]‖², targets (1,0) for A and (0,1) for B"),
            (
                "optimiser",
                f"SGD on one random point per step, η = {lr:g}, {n_steps:,} steps "
                f"({n_steps11:,} for 11 points: whole epochs of N draws)",
            ),
            ("seeds", f"{len(seed_ids)} ({seeds_named(seed_ids)})"),  # count, then which
            ("classified", "argmax of the two outputs equals the category"),
        ],
        figures=[
            ("cost.png", "Cost against iteration (log-log)."),
            (
                "regions_10.png",
                "Decision regions of the 10-point problem (lowest-cost seed); a red ring marks "
                "a misclassified point.",
            ),
            (
                "regions_11.png",
                "Decision regions with the added point (lowest-cost seed); a red ring marks a "
                "misclassified point.",
            ),
        ],
        answer=answer,
        metrics={
            "steps": n_steps,
            "seeds": seed_ids,
            "final_cost": final_cost,
            "classified": classified,
            "figure_seeds": shown_seed,
            **change,
        },
        checks=checks,
        config={
            # the length is "steps" (epochs of N draws: steps // N for N points), not cfg's epochs
            "run": {k: v for k, v in settings(cfg).items() if k != "epochs"},
            "steps": n_steps,
            "point": list(point),
            "seeds": seed_ids,
        },
        tables=[
            "## Per seed\n\n" + markdown_table(["points", "seed", "final cost", "classified"], rows)
        ],
    )

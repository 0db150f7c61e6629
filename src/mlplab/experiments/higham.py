"""``higham``: the worked example of Higham & Higham (SIAM Review 2019, section 3).

Ten points in [0, 1]², five of category A (target (1, 0)) and five of category B (target
(0, 1)); a 2-2-3-2 network with sigmoid in every layer, weights and biases from N(0, 0.5²);
the paper's cost (1/N) Σ ½‖y − a^[4]‖² (``half_sse``); SGD on one point drawn at random per
step, η = 0.05, 10^6 steps. The 11-point variant adds (0.3, 0.7) to category B.
``--set steps=S eta=η hidden=2,3 point=0.3,0.7`` changes the number of steps, the learning rate,
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
    plural,
    progress_bar,
    settings,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table

TITLE = "the paper's 2-2-3-2 sigmoid example, 10 and 11 points, single-point SGD"
DEFAULT_SEEDS = {False: 2, True: 1}

X10, _ONE_HOT = paper_example()
LABELS10 = _ONE_HOT.argmax(axis=1)  # 0 = category A, 1 = category B
EXTRA_POINT = (0.3, 0.7)
ETA = 0.05
STEPS = 1_000_000
PARAMETERS = (
    Parameter(
        "steps",
        STEPS,
        "single-point SGD steps (rounded down to whole passes over the N points)",
        low=11,
        quick=100_000,
    ),
    Parameter("eta", ETA, "SGD learning rate η", low=1e-6),
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


def points(variant: int, extra: tuple[float, ...] = EXTRA_POINT) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(N, 2)`` and labels ``(N,)`` of the 10- or 11-point problem (``extra`` added
    to category B)."""
    if variant == 10:
        return X10, LABELS10
    return np.vstack([X10, extra]), np.append(LABELS10, 1)


def steps_taken(variant: int, steps: int) -> int:
    """The steps of ``steps`` // N whole passes over the N points of ``variant``."""
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
    ok = int(np.sum(run.net(X).argmax(axis=1) == labels))
    ax.set_title(
        f"{variant} points, seed {seed}: {ok}/{len(labels)} classified\n"
        "(blue region: A, orange region: B)"
    )
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    steps: int = STEPS,
    eta: float = ETA,
    hidden: tuple[int, ...] = (2, 3),
    point: tuple[float, ...] = EXTRA_POINT,
) -> StudyResult:
    if len(point) != 2:
        raise ValueError(f"point takes two numbers x,y, e.g. 0.3,0.7; got {len(point)}")
    seed_ids = seeds_of(quick, seeds)
    cfg = dataclasses.replace(CONFIG, hidden=list(hidden), lr=eta)
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
    ax.set_ylabel("cost (1/N) Σ ½‖y − a‖²")
    ax.set_title("Cost against iteration (recorded every N iterations)")
    ax.legend(fontsize=8)
    plots.save_figure(fig, out / "cost.png")

    classified: dict[int, list[int]] = {}
    final_cost: dict[int, list[float]] = {}
    for variant in (10, 11):
        X, labels = points(variant, point)
        classified[variant] = [int(np.sum(r.net(X).argmax(1) == labels)) for r in results[variant]]
        final_cost[variant] = [r.history.train_loss[-1] for r in results[variant]]
        best = int(np.argmin(final_cost[variant]))
        fig, (ax,) = plots.new_figure(width=5.2, height=5.2)
        plot_regions(ax, results[variant][best], variant, seed_ids[best], point)
        plots.save_figure(fig, out / f"regions_{variant}.png")

    rows = [
        [str(v), str(s), fmt(final_cost[v][k]), f"{classified[v][k]}/{v}"]
        for v in (10, 11)
        for k, s in enumerate(seed_ids)
    ]
    all10 = [c == 10 for c in classified[10]]
    all11 = [c == 11 for c in classified[11]]
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
    answer = (
        f"After {n_steps:,} steps of SGD with η = {eta:g} on single points, the 10-point "
        f"problem ends with cost {', '.join(fmt(c) for c in final_cost[10])} and "
        f"{', '.join(map(str, classified[10]))} of 10 points classified (seeds "
        f"{', '.join(map(str, seed_ids))}); every point is classified by {sum(all10)} of "
        f"{plural(len(all10), 'seed')}. With {added} added to category B, after "
        f"{n_steps11:,} steps the cost ends at "
        f"{', '.join(fmt(c) for c in final_cost[11])} with "
        f"{', '.join(map(str, classified[11]))} of 11 classified (all 11 by {sum(all11)} of "
        f"{plural(len(all11), 'seed')})."
    )
    return StudyResult(
        title=f"the paper's {sizes} sigmoid example, 10 and 11 points, single-point SGD",
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
                f"SGD on one random point per step, η = {eta:g}, {n_steps:,} steps "
                f"({n_steps11:,} for 11 points: whole passes over the N points)",
            ),
            ("seeds", ", ".join(map(str, seed_ids))),
            ("classified", "argmax of the two outputs equals the category"),
        ],
        figures=[
            ("cost.png", "Cost against iteration (log-log)."),
            ("regions_10.png", "Decision regions of the 10-point problem (lowest-cost seed)."),
            ("regions_11.png", "Decision regions with the added point (lowest-cost seed)."),
        ],
        answer=answer,
        metrics={
            "steps": n_steps,
            "seeds": seed_ids,
            "final_cost": final_cost,
            "classified": classified,
        },
        checks=checks,
        config={
            "run": settings(cfg),
            "eta": eta,
            "steps": n_steps,
            "point": list(point),
            "seeds": seed_ids,
        },
        tables=[
            "## Per seed\n\n" + markdown_table(["points", "seed", "final cost", "classified"], rows)
        ],
    )

"""``dead-relu``: a ReLU unit that is off on every training point never learns; a leaky one does.

Part 1 builds a 1-20-1 network and kills a chosen set of hidden units j by setting their bias
below −|w_j| max|x|, so z_j = w_j x + b_j < 0 on every training point. Under SGD such a unit
gets ∂C/∂w_j = ∂C/∂b_j = 0 (σ'(z_j) = 0) and its outgoing weight gets 0 too (a_j = 0): all its
parameters stay bitwise equal to their initial values. The same network with leaky ReLU
(α = 0.01) gets gradients α times as large, and the units move.

Part 2 follows the fraction of dead units (off on every training point) during training of a
deeper ReLU network with He weights and biases 0, and with a harmful start (biases −1).

``--set width=20 dead=6 alpha=0.01 deep=32,32,32 bias=-1`` changes the part 1 width, the number
of units killed, the leaky slope, the hidden widths of part 2 and its harmful bias.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.diagnostics import dead_units
from mlplab.experiments.common import (
    fmt,
    over_seeds,
    plural,
    seed_list,
    settings,
    stack,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult
from mlplab.network import MLP
from mlplab.progress import progress_bar

TITLE = "dead ReLU units never change under SGD; leaky ReLU units do"
DEFAULT_SEEDS = {False: 5, True: 2}

WIDTH = 20
DEAD = 6  # units 0..DEAD−1 are made dead
ALPHA = 0.01
MARGIN = 1e-3  # b_j = −(|w_j| max|x| + MARGIN)
DEEP = (32, 32, 32)  # the hidden widths of part 2
HARMFUL_BIAS = -1.0
PARAMETERS = (
    Parameter("width", WIDTH, "hidden width of the part 1 network 1-W-1"),
    Parameter("dead", DEAD, "units made dead in part 1 (at most the width)"),
    Parameter("alpha", ALPHA, "slope α of the leaky ReLU for z < 0", low=1e-6, high=1),
    Parameter("deep", DEEP, "hidden widths of the part 2 ReLU network"),
    Parameter(
        "bias", HARMFUL_BIAS, "the bias of every unit in part 2's harmful start", low=-10, high=10
    ),
)


def minus(value: float) -> str:
    """``value`` with a typographic minus sign, as the reports write numbers."""
    return f"{value:g}".replace("-", "−")


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """128 points of sin(πx), x uniform on [−1, 1]."""
    x = sample(128, (-1.0, 1.0), "uniform", np.random.default_rng(99))
    return x, get_target("sin")(x)


def kill_units(net: MLP, x: np.ndarray, dead: int) -> None:
    """Set the bias of the first hidden units 0..dead−1 so that z_j < 0 on every row of ``x``."""
    W, b = net.weights[0], net.biases[0]
    b[:dead] = -(np.abs(W[:dead, 0]) * np.max(np.abs(x)) + MARGIN)


def unit_numbers(dead: int) -> str:
    """The killed units as the paper numbers the units of a layer, from j = 1:
    ``"units j = 1, …, 6"`` (the code's rows 0 .. dead − 1)."""
    if dead == 1:
        return "unit j = 1"
    numbers = ", ".join(map(str, range(1, dead + 1))) if dead <= 3 else f"1, …, {dead}"
    return f"units j = {numbers}"


def active_units(net: MLP, x: np.ndarray) -> int:
    """Hidden units with z > 0 on at least one row of ``x`` (all hidden layers).

    The hidden layers are (leaky) ReLU with slope α for z ≤ 0 (α = 0 for ReLU), where σ' = α,
    and σ' = 1 = σ'_max for z > 0: the units with z ≤ 0 on every row are the dead units of
    :func:`mlplab.diagnostics.dead_units` with threshold α.
    """
    alpha = float(net.activations[0].df(np.array(-1.0)))
    dead = dead_units(net, x, threshold=alpha)[:-1]
    return sum(int(np.count_nonzero(~d)) for d in dead)


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    width: int = WIDTH,
    dead: int = DEAD,
    alpha: float = ALPHA,
    deep: tuple[int, ...] = DEEP,
    bias: float = HARMFUL_BIAS,
) -> StudyResult:
    if dead > width:
        raise ValueError(f"dead must be at most width = {width} (the units there are), got {dead}")
    if bias == 0:
        raise ValueError("bias must not be 0: part 2 compares it with the He start, biases 0")
    x, y = make_data()
    seeds_ = seed_list(seeds)
    killed = np.arange(dead)
    leaky_name = f"leaky_relu:{alpha:g}"
    deep_sizes = "-".join(map(str, [1, *deep, 1]))
    tr = TrainConfig(
        hidden=[width],
        init="he_normal",
        loss="mse",
        optimizer="sgd",
        lr=0.1,
        epochs=100 if quick else 1000,
        batch_size=16,
    )
    parts: dict[str, list] = {}
    start: dict[str, list[MLP]] = {}
    good, harmful = "biases 0", f"biases {minus(bias)}"  # both with He weights
    with progress_bar("dead-relu runs", 4 * seeds, progress) as advance:
        for act in ("relu", leaky_name):
            cfg = dataclasses.replace(tr, activation=act)
            nets = [cfg.build_network(1, 1, seed=s) for s in seeds_]
            for net in nets:
                kill_units(net, x, dead)
            start[act] = [net.copy() for net in nets]
            parts[act] = train_seeds(
                cfg,
                x,
                y,
                seeds_,
                monitor=lambda n: active_units(n, x),
                start=nets,
                advance=advance,
            )
        deep_tr = dataclasses.replace(tr, hidden=list(deep), activation="relu", lr=0.05)
        for label, b in ((good, 0.0), (harmful, bias)):
            cfg = dataclasses.replace(deep_tr, bias_init=str(b))
            parts[label] = train_seeds(
                cfg, x, y, seeds_, monitor=lambda n: active_units(n, x), advance=advance
            )
    steps = parts["relu"][0].history.steps

    # Part 1: bitwise comparison of the dead units' parameters.
    def unchanged(before: MLP, after: MLP) -> tuple[bool, bool]:
        inc = np.array_equal(
            before.weights[0][killed], after.weights[0][killed]
        ) and np.array_equal(before.biases[0][killed], after.biases[0][killed])
        outgoing = np.array_equal(before.weights[1][:, killed], after.weights[1][:, killed])
        return inc, outgoing

    relu_same = [unchanged(b, r.net) for b, r in zip(start["relu"], parts["relu"], strict=True)]
    leaky = parts[leaky_name]
    leaky_moved = [
        [
            not (
                np.array_equal(b.weights[0][j], r.net.weights[0][j])
                or np.array_equal(b.biases[0][j], r.net.biases[0][j])
            )
            for j in killed
        ]
        for b, r in zip(start[leaky_name], leaky, strict=True)
    ]
    bias_shift = [
        float(np.max(np.abs(r.net.biases[0][killed] - b.biases[0][killed])))
        for b, r in zip(start[leaky_name], leaky, strict=True)
    ]
    relu_active = stack(parts["relu"], "monitor")
    leaky_active = stack(leaky, "monitor")
    rose = [int(a[-1]) > int(a[0]) for a in leaky_active]

    fig, axes = plots.new_figure(ncols=2, width=6.0)
    ep = np.arange(relu_active.shape[1])
    plots.band(axes[0], ep, leaky_active, f"leaky ReLU (α = {alpha:g})", "tab:red")
    plots.band(axes[0], ep, relu_active, "ReLU (drawn on top)", "tab:blue")
    axes[0].axhline(width, color="gray", ls=":", label=f"all {width} units")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("units active on ≥ 1 training point")
    axes[0].set_title(f"1-{width}-1 network, {dead} units dead at the start")
    axes[0].legend(loc="center right")
    total = sum(deep)
    dead_frac = {}
    for color, label in zip(("tab:green", "tab:purple"), (good, harmful), strict=True):
        frac = 1.0 - stack(parts[label], "monitor") / total
        dead_frac[label] = frac
        plots.band(axes[1], np.arange(frac.shape[1]), frac, label, color)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("fraction of dead hidden units")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_title(f"ReLU {deep_sizes}, He weights: dead units during training")
    axes[1].legend(loc="upper right")
    fig.suptitle(f"{over_seeds(seeds, 'Median of', band=True)}; SGD on sin(πx), 128 points")
    plots.save_figure(fig, out / "active_units.png")

    he, harm = (dead_frac[k] for k in dead_frac)
    checks = [
        Check(
            "dead ReLU units: incoming weights and biases bitwise equal after training",
            all(inc for inc, _ in relu_same),
            f"{sum(inc for inc, _ in relu_same)}/{plural(seeds, 'seed')}, {dead} units each, "
            f"{steps} SGD steps",
        ),
        Check(
            "dead ReLU units: outgoing weights bitwise equal after training",
            all(o for _, o in relu_same),
            f"{sum(o for _, o in relu_same)}/{plural(seeds, 'seed')}",
        ),
        Check(
            "leaky ReLU units in the same place moved",
            all(all(m) for m in leaky_moved),
            f"moved units per seed: {[sum(m) for m in leaky_moved]} of {dead}; largest "
            f"bias change per seed {', '.join(fmt(s) for s in bias_shift)}",
        ),
        Check(
            "units active on some point: rose with leaky ReLU (some seed), never with ReLU",
            any(rose) and all(int(a[-1]) == int(a[0]) for a in relu_active),
            f"leaky start -> end per seed: "
            f"{', '.join(f'{int(a[0])}->{int(a[-1])}' for a in leaky_active)}; ReLU: "
            f"{', '.join(f'{int(a[0])}->{int(a[-1])}' for a in relu_active)}",
        ),
    ]
    metrics = {
        "dead_units": dead,
        "relu_active_start_end": [[int(a[0]), int(a[-1])] for a in relu_active],
        "leaky_active_start_end": [[int(a[0]), int(a[-1])] for a in leaky_active],
        "leaky_max_bias_change": bias_shift,
        "dead_fraction_he": {
            "start": float(np.median(he[:, 0])),
            "end": float(np.median(he[:, -1])),
        },
        "dead_fraction_harmful": {
            "start": float(np.median(harm[:, 0])),
            "end": float(np.median(harm[:, -1])),
        },
    }
    kept = sum(inc and o for inc, o in relu_same)
    moved = sum(map(sum, leaky_moved))
    relu_ends = ", ".join(f"{int(a[0])}->{int(a[-1])}" for a in relu_active)
    answer = (
        (
            f"In every one of the {plural(seeds, 'seed')} the {dead} dead ReLU units kept"
            if kept == seeds
            else f"In only {kept} of the {plural(seeds, 'seed')} did the {dead} dead ReLU units "
            "keep"
        )
        + " their incoming weights, biases and outgoing weights bitwise equal to the initial "
        f"values through {steps} SGD steps, and the count of active units "
        + (
            f"stayed at {int(relu_active[0, 0])} of {width}"
            if np.all(relu_active == relu_active[0, 0])
            else f"went from start to end {relu_ends} of {width}"
        )
        + f". With leaky ReLU (α = {alpha:g}) "
        + (
            "every one of them moved"
            if moved == dead * seeds
            else f"{moved} of the {dead} × {seeds} units moved"
        )
        + f" (largest bias change per seed from {fmt(min(bias_shift))} to "
        f"{fmt(max(bias_shift))}); the count of active units rose in {sum(rose)} of {seeds} "
        f"seeds (start -> end: "
        f"{', '.join(f'{int(a[0])}->{int(a[-1])}' for a in leaky_active)}). A leaky unit that "
        f"is off everywhere acts as the linear map α(w_j x + b_j); its gradient is α = "
        f"{alpha:g} times that of a live unit and can push b_j either way, so it revives only "
        f"when the cost pulls z_j upwards. In the {deep_sizes} ReLU network with He weights "
        f"and biases 0, {metrics['dead_fraction_he']['start']:.0%} of the hidden units are "
        f"dead at the start and {metrics['dead_fraction_he']['end']:.0%} at the end; with "
        f"biases {minus(bias)}, {metrics['dead_fraction_harmful']['start']:.0%} at the start "
        f"and {metrics['dead_fraction_harmful']['end']:.0%} at the end (medians over seeds)."
    )
    return StudyResult(
        title=TITLE,
        question="A ReLU unit with w_j x_i + b_j < 0 for every training point gets zero "
        "gradient: does it really never change under SGD, and does a leaky ReLU unit in the same "
        "place recover? How many units die with a good and a harmful initialisation?",
        setup=[
            ("data", "128 points x uniform on [−1, 1], y = sin(πx)"),
            ("part 1 network", f"1-{width}-1, ReLU or leaky ReLU (α = {alpha:g}), He init"),
            ("dead units", f"{unit_numbers(dead)}: b_j = −(|w_j| max|x| + {MARGIN})"),
            ("part 2 network", f"{deep_sizes} ReLU, He init, biases 0 or {minus(bias)}"),
            (
                "training",
                f"MSE, SGD batch 16, η = {tr.lr} (part 1) / {deep_tr.lr} (part 2), "
                f"{tr.epochs} epochs",
            ),
            ("dead", "z_j ≤ 0 on every training point"),
            ("seeds", str(seeds)),
        ],
        figures=[
            (
                "active_units.png",
                "Left: active units per epoch, ReLU vs leaky ReLU. Right: "
                f"fraction of dead units per epoch, biases 0 vs biases {minus(bias)} (both He "
                "init).",
            )
        ],
        answer=answer,
        metrics=metrics,
        checks=checks,
        config={
            "training": settings(tr, "training"),
            "deep_training": settings(deep_tr, "training"),
            "dead_units": killed.tolist(),
            "alpha": alpha,
            "deep_hidden": list(deep),
            "harmful_bias": bias,
            "margin": MARGIN,
        },
    )

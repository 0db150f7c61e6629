"""``dead-relu``: a ReLU unit that is off on every training point never learns; a leaky one does.

Part 1 builds a 1-20-1 network and kills a chosen set of hidden units j by setting their bias
below −|w_j| max|x|, so z_j = w_j x + b_j < 0 on every training point. Under SGD such a unit
gets ∂C/∂w_j = ∂C/∂b_j = 0 (σ'(z_j) = 0) and its outgoing weight gets 0 too (a_j = 0): all its
parameters stay bitwise equal to their initial values. The same network with leaky ReLU
(α = 0.01) gets gradients α times as large, and the units move.

Part 2 follows the fraction of dead units (off on every training point) during training of a
deeper ReLU network with He initialisation and with a harmful one (biases −1).
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
    progress_bar,
    seed_list,
    settings,
    stack,
    train_seeds,
)
from mlplab.experiments.report import Check, StudyResult
from mlplab.network import MLP

TITLE = "dead ReLU units never change under SGD; leaky ReLU units do"
DEFAULT_SEEDS = {False: 5, True: 2}

WIDTH = 20
DEAD = np.arange(6)  # the hidden units made dead
MARGIN = 1e-3  # b_j = −(|w_j| max|x| + MARGIN)
DEEP = (1, 32, 32, 32, 1)
HARMFUL_BIAS = -1.0
HARMFUL_TEXT = f"{HARMFUL_BIAS:g}".replace("-", "−")


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """128 points of sin(πx), x uniform on [−1, 1]."""
    x = sample(128, (-1.0, 1.0), "uniform", np.random.default_rng(99))
    return x, get_target("sin")(x)


def kill_units(net: MLP, x: np.ndarray) -> None:
    """Set the bias of each unit in :data:`DEAD` so that z_j < 0 on every row of ``x``."""
    W, b = net.weights[0], net.biases[0]
    b[DEAD] = -(np.abs(W[DEAD, 0]) * np.max(np.abs(x)) + MARGIN)


def active_units(net: MLP, x: np.ndarray) -> int:
    """Hidden units with z > 0 on at least one row of ``x`` (all hidden layers).

    The hidden layers are (leaky) ReLU with slope α for z ≤ 0 (α = 0 for ReLU), where σ' = α,
    and σ' = 1 = σ'_max for z > 0: the units with z ≤ 0 on every row are the dead units of
    :func:`mlplab.diagnostics.dead_units` with threshold α.
    """
    alpha = float(net.activations[0].df(np.array(-1.0)))
    dead = dead_units(net, x, threshold=alpha)[:-1]
    return sum(int(np.count_nonzero(~d)) for d in dead)


def run(out: Path, quick: bool, seeds: int, progress: bool) -> StudyResult:
    x, y = make_data()
    seeds_ = seed_list(seeds)
    tr = TrainConfig(
        hidden=[WIDTH],
        init="he_normal",
        loss="mse",
        optimizer="sgd",
        lr=0.1,
        epochs=100 if quick else 1000,
        batch_size=16,
    )
    parts: dict[str, list] = {}
    start: dict[str, list[MLP]] = {}
    with progress_bar("dead-relu runs", 4 * seeds, progress) as advance:
        for act in ("relu", "leaky_relu:0.01"):
            cfg = dataclasses.replace(tr, activation=act)
            nets = [cfg.build_network(1, 1, seed=s) for s in seeds_]
            for net in nets:
                kill_units(net, x)
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
        deep_tr = dataclasses.replace(tr, hidden=list(DEEP[1:-1]), activation="relu", lr=0.05)
        for label, bias in (
            ("He init, biases 0", 0.0),
            (f"He init, biases {HARMFUL_TEXT}", HARMFUL_BIAS),
        ):
            cfg = dataclasses.replace(deep_tr, bias_init=str(bias))
            parts[label] = train_seeds(
                cfg, x, y, seeds_, monitor=lambda n: active_units(n, x), advance=advance
            )

    # Part 1: bitwise comparison of the dead units' parameters.
    def unchanged(before: MLP, after: MLP) -> tuple[bool, bool]:
        inc = np.array_equal(before.weights[0][DEAD], after.weights[0][DEAD]) and np.array_equal(
            before.biases[0][DEAD], after.biases[0][DEAD]
        )
        outgoing = np.array_equal(before.weights[1][:, DEAD], after.weights[1][:, DEAD])
        return inc, outgoing

    relu_same = [unchanged(b, r.net) for b, r in zip(start["relu"], parts["relu"], strict=True)]
    leaky = parts["leaky_relu:0.01"]
    leaky_moved = [
        [
            not (
                np.array_equal(b.weights[0][j], r.net.weights[0][j])
                or np.array_equal(b.biases[0][j], r.net.biases[0][j])
            )
            for j in DEAD
        ]
        for b, r in zip(start["leaky_relu:0.01"], leaky, strict=True)
    ]
    bias_shift = [
        float(np.max(np.abs(r.net.biases[0][DEAD] - b.biases[0][DEAD])))
        for b, r in zip(start["leaky_relu:0.01"], leaky, strict=True)
    ]
    relu_active = stack(parts["relu"], "monitor")
    leaky_active = stack(leaky, "monitor")
    rose = [int(a[-1]) > int(a[0]) for a in leaky_active]

    fig, axes = plots.new_figure(ncols=2, width=6.0)
    ep = np.arange(relu_active.shape[1])
    plots.band(axes[0], ep, leaky_active, "leaky ReLU (α = 0.01)", "tab:red")
    plots.band(axes[0], ep, relu_active, "ReLU (drawn on top)", "tab:blue")
    axes[0].axhline(WIDTH, color="gray", ls=":", label=f"all {WIDTH} units")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("units active on ≥ 1 training point")
    axes[0].set_title(f"1-{WIDTH}-1 network, {len(DEAD)} units dead at the start")
    axes[0].legend(loc="center right")
    total = sum(DEEP[1:-1])
    colors = ("tab:green", "tab:purple")
    dead_frac = {}
    for color, label in zip(colors, [k for k in parts if k.startswith("He")], strict=True):
        frac = 1.0 - stack(parts[label], "monitor") / total
        dead_frac[label] = frac
        plots.band(axes[1], np.arange(frac.shape[1]), frac, label, color)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("fraction of dead hidden units")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_title(f"ReLU {'-'.join(map(str, DEEP))}: dead units during training")
    axes[1].legend(loc="upper right")
    fig.suptitle(f"{over_seeds(seeds, 'Median of', band=True)}; SGD on sin(πx), 128 points")
    plots.save_figure(fig, out / "active_units.png")

    he, harm = (dead_frac[k] for k in dead_frac)
    checks = [
        Check(
            "dead ReLU units: incoming weights and biases bitwise equal after training",
            all(inc for inc, _ in relu_same),
            f"{sum(inc for inc, _ in relu_same)}/{plural(seeds, 'seed')}, {len(DEAD)} units each, "
            f"{tr.epochs * 8} SGD steps",
        ),
        Check(
            "dead ReLU units: outgoing weights bitwise equal after training",
            all(o for _, o in relu_same),
            f"{sum(o for _, o in relu_same)}/{plural(seeds, 'seed')}",
        ),
        Check(
            "leaky ReLU units in the same place moved",
            all(all(m) for m in leaky_moved),
            f"moved units per seed: {[sum(m) for m in leaky_moved]} of {len(DEAD)}; largest "
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
        "dead_units": len(DEAD),
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
    answer = (
        f"In every one of the {plural(seeds, 'seed')} the {len(DEAD)} dead ReLU units kept their "
        f"incoming weights, "
        f"biases and outgoing weights bitwise equal to the initial values through "
        f"{tr.epochs * 8} SGD steps, and the count of active units stayed at "
        f"{int(np.median(relu_active[:, -1]))} of {WIDTH}. With leaky ReLU (α = 0.01) every one "
        f"of them moved (largest bias change per seed from {fmt(min(bias_shift))} to "
        f"{fmt(max(bias_shift))}); the count of active units rose in {sum(rose)} of {seeds} "
        f"seeds (start -> end: "
        f"{', '.join(f'{int(a[0])}->{int(a[-1])}' for a in leaky_active)}). A leaky unit that "
        f"is off everywhere acts as the linear map α(w_j x + b_j); its gradient is α = 0.01 "
        f"times that of a live unit and can push b_j either way, so it revives only when the "
        f"cost pulls z_j upwards. In the {'-'.join(map(str, DEEP))} ReLU network, He "
        f"initialisation starts "
        f"with {metrics['dead_fraction_he']['start']:.0%} dead hidden units and ends with "
        f"{metrics['dead_fraction_he']['end']:.0%}; biases of {HARMFUL_TEXT} start with "
        f"{metrics['dead_fraction_harmful']['start']:.0%} and end with "
        f"{metrics['dead_fraction_harmful']['end']:.0%} (medians over seeds)."
    )
    return StudyResult(
        title=TITLE,
        question="A ReLU unit with w_j x_i + b_j < 0 for every training point gets zero "
        "gradient: does it really never change under SGD, and does a leaky ReLU unit in the same "
        "place recover? How many units die with a good and a harmful initialisation?",
        setup=[
            ("data", "128 points x uniform on [−1, 1], y = sin(πx)"),
            ("part 1 network", f"1-{WIDTH}-1, ReLU or leaky ReLU (α = 0.01), He init"),
            ("dead units", f"units {DEAD[0]}..{DEAD[-1]}: b_j = −(|w_j| max|x| + {MARGIN})"),
            (
                "part 2 network",
                f"{'-'.join(map(str, DEEP))} ReLU, He init, biases 0 or {HARMFUL_TEXT}",
            ),
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
                "fraction of dead units per epoch, He init vs biases −1.",
            )
        ],
        answer=answer,
        metrics=metrics,
        checks=checks,
        config={
            "training": settings(tr, "training"),
            "deep_training": settings(deep_tr, "training"),
            "dead_units": DEAD.tolist(),
            "margin": MARGIN,
        },
    )

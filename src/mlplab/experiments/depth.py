"""``depth``: vanishing gradients. For networks of 2 to 32 hidden layers of width 32 with
sigmoid, tanh and ReLU (Xavier, Xavier and He initialisation), measure ‖∂C/∂W^[l]‖ per layer at
initialisation and the training loss after a fixed budget, on Runge's function.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.diagnostics import gradient_norms
from mlplab.experiments.common import (
    TRAINS,
    fmt,
    over_seeds,
    progress_bar,
    seed_list,
    settings,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table

TITLE = "vanishing gradients with sigmoid, tanh and ReLU as the network deepens"
DEFAULT_SEEDS = {False: 3, True: 2}

WIDTH = 32
ACTIVATIONS = {"sigmoid": "xavier_normal", "tanh": "xavier_normal", "relu": "he_normal"}
COLORS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}


PARAMETERS = (
    Parameter("width", WIDTH, "width of every hidden layer"),
    Parameter("depths", (2, 4, 8, 16, 32), "numbers of hidden layers", quick=(2, 4, 8)),
)


def config(activation: str, depth: int, quick: bool, width: int = WIDTH) -> TrainConfig:
    """``depth`` hidden layers of ``width`` units with ``activation`` and its initialiser;
    Adam, η = 0.01, batch 32."""
    return TrainConfig(
        hidden=[width] * depth,
        activation=activation,
        init=ACTIVATIONS[activation],
        loss="mse",
        optimizer="adam",
        lr=1e-2,
        epochs=25 if quick else 200,
        batch_size=32,
    )


def decay_per_layer(norms: np.ndarray) -> float:
    """The factor that multiplies ‖∂C/∂W^[l]‖ per layer going towards the input: 10^(−slope)
    of a least-squares line through log10 of the hidden layers' norms against l (the output
    layer left out). Below 1 the gradients vanish towards the input."""
    hidden = norms[:-1]
    slope = np.polyfit(np.arange(len(hidden)), np.log10(hidden), 1)[0]
    return float(10.0 ** (-slope))


def best_depth_text(best: dict, med_final: dict) -> str:
    """The best depth of each activation, named only where some depth trains."""
    parts = [
        f"{best[a]} for {a} (median MSE {fmt(med_final[a].min())})"
        if best[a] is not None
        else f"none for {a}, where no depth trains (lowest median MSE {fmt(med_final[a].min())})"
        for a in best
    ]
    return "The best depth for this budget is " + "; ".join(parts) + "."


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    width: int = WIDTH,
    depths: tuple[int, ...] = (2, 4, 8, 16, 32),
) -> StudyResult:
    rng = np.random.default_rng(5)
    x = sample(256, (-1.0, 1.0), "uniform", rng)
    y = get_target("runge")(x)
    var_y = float(np.var(y))
    ds = sorted(set(depths))
    if len(ds) < 2:
        raise ValueError(f"depths needs at least two different depths, got {list(ds)}")
    seeds_ = seed_list(seeds)
    tr = config("tanh", ds[0], quick, width)  # the training settings, the same for every network
    norms: dict[str, dict[int, np.ndarray]] = {a: {} for a in ACTIVATIONS}
    final: dict[str, np.ndarray] = {}
    with progress_bar("depth runs", len(ACTIVATIONS) * len(ds), progress) as advance:
        for act in ACTIVATIONS:
            losses = []
            for d in ds:
                cfg = config(act, d, quick, width)
                norms[act][d] = np.array(
                    [gradient_norms(cfg.build_network(1, 1, seed=s), x, y)[0] for s in seeds_]
                )
                runs = train_seeds(cfg, x, y, seeds_)
                losses.append([r.history.train_loss[-1] for r in runs])
                advance()
            final[act] = np.array(losses).T  # (seeds, depths)

    fig, axes = plots.new_figure(ncols=3, width=4.6, height=4.0)
    for ax, act in zip(axes, ACTIVATIONS, strict=True):
        for d in ds:
            layers = np.arange(2, d + 3)
            plots.band(ax, layers, norms[act][d], f"{d} hidden layers")
        ax.set_yscale("log")
        ax.set_xlabel("layer l (2 = first hidden, L = output)")
        ax.set_ylabel("‖∂C/∂W^[l]‖ at initialisation")
        ax.set_title(f"{act}, {ACTIVATIONS[act]} init")
        ax.legend(fontsize=7)
    fig.suptitle(f"Gradient norm per layer, width {width}, {over_seeds(seeds, band=True)}")
    plots.save_figure(fig, out / "grad_norms.png")

    fig, (ax,) = plots.new_figure()
    for act in ACTIVATIONS:
        plots.band(ax, np.array(ds), final[act], act, COLORS[act])
    ax.axhline(var_y, color="gray", ls=":", label="Var(y): the best constant's MSE")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.set_xlabel(f"hidden layers (width {width})")
    ax.set_ylabel("training MSE after the budget")
    ax.set_title(
        f"Runge, Adam lr {tr.lr:g}, {tr.epochs} epochs ({tr.epochs * 8} steps), {over_seeds(seeds)}"
    )
    ax.legend()
    plots.save_figure(fig, out / "final_loss.png")

    first_layer = {a: [float(np.median(norms[a][d][:, 0])) for d in ds] for a in ACTIVATIONS}
    decay = {a: decay_per_layer(np.median(norms[a][ds[-1]], axis=0)) for a in ACTIVATIONS}
    med_final = {a: np.median(final[a], axis=0) for a in ACTIVATIONS}
    stops = {
        a: next((d for d, v in zip(ds, med_final[a], strict=True) if v > TRAINS * var_y), None)
        for a in ACTIVATIONS
    }
    best = {
        a: ds[int(np.argmin(med_final[a]))] if med_final[a].min() <= TRAINS * var_y else None
        for a in ACTIVATIONS
    }
    sig = first_layer["sigmoid"]
    rows = [
        [a, *[fmt(v) for v in first_layer[a]], f"{decay[a]:.2f}", *[fmt(v) for v in med_final[a]]]
        for a in ACTIVATIONS
    ]
    table = "## Numbers (medians over seeds)\n\n" + markdown_table(
        [
            "activation",
            *[f"‖∂C/∂W^[2]‖, {d} layers" for d in ds],
            f"factor per layer towards input ({ds[-1]} layers)",
            *[f"final MSE, {d} layers" for d in ds],
        ],
        rows,
    )
    checks = [
        Check(
            "sigmoid: first-layer gradient norm decreases with depth",
            all(b < a for a, b in itertools.pairwise(sig)),
            "‖∂C/∂W^[2]‖ = " + ", ".join(f"{fmt(v)} ({d})" for v, d in zip(sig, ds, strict=True)),
        ),
        Check(
            f"sigmoid: norms shrink towards the input in the {ds[-1]}-layer network",
            decay["sigmoid"] < 1.0,
            f"multiplied by {decay['sigmoid']:.3f} per layer towards the input",
        ),
    ]
    stop_text = "; ".join(
        f"{a}: {'every depth trains' if stops[a] is None else f'{stops[a]} layers do not'}"
        for a in ACTIVATIONS
    )
    answer = (
        f"At initialisation the sigmoid gradient norm is multiplied by "
        f"{decay['sigmoid']:.2f} per layer going towards the input in the {ds[-1]}-layer "
        f"network, so "
        f"‖∂C/∂W^[2]‖ falls from {fmt(sig[0])} with {ds[0]} hidden layers to {fmt(sig[-1])} "
        f"with {ds[-1]}; the factor is {decay['tanh']:.2f} for tanh and {decay['relu']:.2f} for "
        f"ReLU with He init. After the budget ({tr.epochs * 8} Adam steps), a network "
        f'"trains" if its MSE is below {TRAINS:g} × Var(y) = {fmt(TRAINS * var_y)}: '
        f"{stop_text}. {best_depth_text(best, med_final)}"
    )
    return StudyResult(
        title=TITLE,
        question="How fast do gradients vanish with depth for sigmoid, tanh and ReLU, which "
        "depth stops training within a fixed budget, and which depth is best?",
        setup=[
            ("data", "256 points x uniform on [−1, 1], y = 1/(1+25x²)"),
            ("networks", f"1-{width}-…-{width}-1 with {', '.join(map(str, ds))} hidden layers"),
            (
                "activations",
                "sigmoid (Xavier), tanh (Xavier), ReLU (He); identity output; biases 0",
            ),
            ("gradient norm", "‖∂C/∂W^[l]‖_F of the full-batch MSE at initialisation"),
            ("training budget", f"Adam, lr {tr.lr:g}, batch 32, {tr.epochs} epochs"),
            ("seeds", str(seeds)),
        ],
        figures=[
            ("grad_norms.png", "Gradient norm per layer at initialisation (log scale)."),
            ("final_loss.png", "Training MSE after the budget against depth."),
        ],
        answer=answer,
        metrics={
            "depths": ds,
            "first_layer_grad_norm": first_layer,
            "decay_per_layer": decay,
            "final_mse_median": {a: med_final[a].tolist() for a in ACTIVATIONS},
            "var_y": var_y,
            "first_depth_not_training": stops,
            "best_depth": best,
            "grad_norms_median": {
                a: {str(d): np.median(norms[a][d], axis=0).tolist() for d in ds}
                for a in ACTIVATIONS
            },
        },
        checks=checks,
        config={
            "width": width,
            "depths": ds,
            "training": settings(tr, "training"),
            "inits": ACTIVATIONS,
        },
        tables=[table],
    )

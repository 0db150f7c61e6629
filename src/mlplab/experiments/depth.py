"""``depth``: vanishing gradients. For networks of 2 to 32 hidden layers of width 32 with
sigmoid, tanh and ReLU (Xavier, Xavier and He initialisation), measure the backpropagated error
per layer at initialisation, the mean over the points of ‖δ^[l]‖, and the training loss after a
fixed budget, on Runge's function.

The error is measured by ‖δ^[l]‖ rather than by ‖∂C/∂W^[l]‖: on x spread symmetrically over
[−1, 1] with an even target, the terms of ∂C/∂W^[2] = (1/N) Σ_x δ^[2](x) xᵀ nearly cancel, so
‖∂C/∂W^[2]‖ is small even where δ^[2] is not (:func:`mlplab.diagnostics.delta_norms`).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, sample
from mlplab.diagnostics import delta_norms
from mlplab.experiments.common import (
    TRAINS,
    fmt,
    over_seeds,
    seed_list,
    settings,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.progress import progress_bar

TITLE = "vanishing gradients with sigmoid, tanh and ReLU as the network deepens"
DEFAULT_SEEDS = {False: 3, True: 2}

WIDTH = 32
ACTIVATIONS = {"sigmoid": "xavier_normal", "tanh": "xavier_normal", "relu": "he_normal"}
#: How the report and the figures name each activation and initialiser.
NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
INIT_NAMES = {"xavier_normal": "Xavier normal", "he_normal": "He normal"}
COLORS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}
#: The measure, in words (report) and in mathtext (figures).
MEASURE = "mean over the points of ‖δ^[l]‖"
MEASURE_TEX = r"mean over the points of $\|\delta^{[l]}\|_2$"


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
    """The factor that multiplies a per-layer norm going towards the input: 10^(−slope) of a
    least-squares line through log10 of the hidden layers' norms against l (the output layer
    left out). Below 1 the gradients vanish towards the input."""
    hidden = norms[:-1]
    slope = np.polyfit(np.arange(len(hidden)), np.log10(hidden), 1)[0]
    return float(10.0 ** (-slope))


def listing(items: list, last: str = "and") -> str:
    """``"2"``, ``"2 and 4"``, ``"2, 4 and 8"`` (``last`` joins the last two)."""
    words = [str(v) for v in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def trains_text(act: str, depths: list[int], trains: list[bool]) -> str:
    """Which depths train, in words that read the same whichever depths they are."""
    yes = [d for d, t in zip(depths, trains, strict=True) if t]
    no = [d for d, t in zip(depths, trains, strict=True) if not t]
    name = NAMES[act]
    if not no:
        return f"{name} trains at every depth ({listing(depths)} hidden layers)"
    if not yes:
        return f"{name} trains at no depth ({listing(depths)} hidden layers)"
    return f"{name} trains with {listing(yes)} hidden layers and not with {listing(no, 'or')}"


#: A factor per layer at least this close to 1 is not a vanishing error.
NOT_VANISHING = 0.9


def other_cause_text(decay: dict, trains: dict, depths: list[int]) -> str:
    """For an activation whose error does not vanish but which fails to train at some depth:
    that vanishing gradients are not the cause there ("" where there is none)."""
    parts = [
        f" {NAMES[a]}'s error does not vanish (a factor {decay[a]:.3g} per layer), so its "
        f"failure with {listing([d for d, t in zip(depths, trains[a], strict=True) if not t])} "
        f"hidden layers has another cause than vanishing gradients at initialisation: the "
        f"same budget and learning rate serve every depth."
        for a in decay
        if decay[a] >= NOT_VANISHING and not all(trains[a])
    ]
    return "".join(parts)


def seeds_text(final: dict, trains: dict, limit: float, depths: list[int]) -> str:
    """Where the median trains but some seed does not: which depths, and how many seeds."""
    parts = [
        f"{NAMES[a]} with {d} hidden layers ({int(np.sum(final[a][:, i] >= limit))} of "
        f"{final[a].shape[0]} seeds)"
        for a in final
        for i, d in enumerate(depths)
        if trains[a][i] and np.any(final[a][:, i] >= limit)
    ]
    if not parts:
        return ""
    return (
        ' "Trains" is said of the median: some seeds do not train for '
        + listing(parts)
        + " (metrics.json holds every seed's MSE)."
    )


def best_depth_text(best: dict, med_final: dict) -> str:
    """The best depth of each activation, named only where some depth trains."""
    parts = [
        f"{best[a]} hidden layers for {NAMES[a]} (median MSE {fmt(med_final[a].min())})"
        if best[a] is not None
        else f"none for {NAMES[a]}, where no depth trains (lowest median MSE "
        f"{fmt(med_final[a].min())})"
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
    limit = TRAINS * var_y
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
                    [delta_norms(cfg.build_network(1, 1, seed=s), x, y) for s in seeds_]
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
        ax.set_ylabel(MEASURE_TEX)
        ax.set_title(f"{NAMES[act]}, {INIT_NAMES[ACTIVATIONS[act]]} init")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    fig.suptitle(
        f"Backpropagated error per layer at initialisation, width {width}, "
        f"{over_seeds(seeds, band=True)}"
    )
    plots.save_figure(fig, out / "grad_norms.png")

    fig, (ax,) = plots.new_figure(width=8.6)
    for act in ACTIVATIONS:
        plots.band(ax, np.array(ds), final[act], NAMES[act], COLORS[act])
    ax.axhline(var_y, color="gray", ls=":", label="Var(y): the best constant's MSE")
    ax.axhline(limit, color="black", ls="--", lw=1, label=f"{TRAINS:g} Var(y): trains below")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ds, [str(d) for d in ds])
    ax.set_xlabel(f"hidden layers (width {width})")
    ax.set_ylabel("training MSE after the budget")
    ax.set_title(
        f"Runge, Adam lr {tr.lr:g}, {tr.epochs} epochs ({tr.epochs * 8} steps), {over_seeds(seeds)}"
    )
    fig.legend(loc="outside right center", fontsize=9)
    plots.save_figure(fig, out / "final_loss.png")

    med_norms = {a: {d: np.median(norms[a][d], axis=0) for d in ds} for a in ACTIVATIONS}
    first_layer = {a: [float(med_norms[a][d][0]) for d in ds] for a in ACTIVATIONS}
    decay = {a: decay_per_layer(med_norms[a][ds[-1]]) for a in ACTIVATIONS}
    med_final = {a: np.median(final[a], axis=0) for a in ACTIVATIONS}
    trains = {a: [bool(v < limit) for v in med_final[a]] for a in ACTIVATIONS}
    best = {
        a: ds[int(np.argmin(med_final[a]))] if med_final[a].min() < limit else None
        for a in ACTIVATIONS
    }
    sig = first_layer["sigmoid"]
    factors = ", ".join(f"{NAMES[a]} {decay[a]:.3g}" for a in ACTIVATIONS)
    norm_table = (
        f"## Error at the first hidden layer at initialisation (medians over seeds)\n\n"
        f"The {MEASURE} for l = 2, the first hidden layer.\n\n"
        + markdown_table(
            ["hidden layers", *[NAMES[a] for a in ACTIVATIONS]],
            [[str(d), *[fmt(first_layer[a][i]) for a in ACTIVATIONS]] for i, d in enumerate(ds)],
        )
        + f"\n\nFactor per layer towards the input in the {ds[-1]}-hidden-layer network "
        f"(least-squares fit over its hidden layers): {factors}."
    )
    mse_table = (
        "## Training MSE after the budget (medians over seeds)\n\n"
        f"A network trains when its median MSE is below {TRAINS:g} × Var(y) = {fmt(limit)}.\n\n"
        + markdown_table(
            ["hidden layers", *[NAMES[a] for a in ACTIVATIONS]],
            [
                [
                    str(d),
                    *[
                        fmt(med_final[a][i]) + ("" if trains[a][i] else " (does not train)")
                        for a in ACTIVATIONS
                    ],
                ]
                for i, d in enumerate(ds)
            ],
        )
    )
    checks = [
        Check(
            "sigmoid: the error at the first hidden layer decreases with depth",
            all(b < a for a, b in itertools.pairwise(sig)),
            "mean ‖δ^[2]‖ = "
            + ", ".join(f"{fmt(v)} ({d} hidden layers)" for v, d in zip(sig, ds, strict=True)),
        ),
        Check(
            f"sigmoid: the error shrinks towards the input in the {ds[-1]}-hidden-layer network",
            decay["sigmoid"] < 1.0,
            f"multiplied by {decay['sigmoid']:.3g} per layer towards the input",
        ),
    ]
    answer = (
        f"At initialisation the {MEASURE}, the error backpropagation gives layer l, is "
        f"multiplied by {decay['sigmoid']:.3g} per layer going towards the input in the "
        f"{ds[-1]}-hidden-layer sigmoid network, and at the first hidden layer (l = 2) it is "
        f"{fmt(sig[0])} with {ds[0]} hidden layers and {fmt(sig[-1])} with {ds[-1]}; the factor "
        f"is {decay['tanh']:.3g} for tanh and {decay['relu']:.3g} for ReLU with He init. "
        f"(‖∂C/∂W^[2]‖ is not the measure: it is the norm of a sum, (1/N) Σ_x δ^[2](x) xᵀ, "
        f"whose terms can cancel on points spread over [−1, 1] about 0 with an even target, so "
        f"it can be small where δ^[2] is not.) After the budget ({tr.epochs * 8} Adam steps), "
        f'a network "trains" if its median MSE is below {TRAINS:g} × Var(y) = {fmt(limit)}: '
        + "; ".join(trains_text(a, ds, trains[a]) for a in ACTIVATIONS)
        + f". {best_depth_text(best, med_final)}"
        + other_cause_text(decay, trains, ds)
        + seeds_text(final, trains, limit, ds)
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
                ", ".join(f"{NAMES[a]} ({INIT_NAMES[i]})" for a, i in ACTIVATIONS.items())
                + "; identity output; biases 0",
            ),
            (
                "error per layer",
                f"{MEASURE}_2 at initialisation, δ^[l] = ∂C_x/∂z^[l] for the MSE C_x of "
                "each point x",
            ),
            ("training budget", f"Adam, lr {tr.lr:g}, batch 32, {tr.epochs} epochs"),
            ("seeds", str(seeds)),
        ],
        figures=[
            (
                "grad_norms.png",
                f"The {MEASURE} per layer at initialisation (log scale).",
            ),
            (
                "final_loss.png",
                f"Training MSE after the budget against depth, with Var(y) and the "
                f"{TRAINS:g} Var(y) below which a network trains.",
            ),
        ],
        answer=answer,
        metrics={
            "depths": ds,
            "first_layer_delta_norm": first_layer,
            "decay_per_layer": decay,
            "final_mse_median": {a: med_final[a].tolist() for a in ACTIVATIONS},
            "final_mse": {a: final[a].T.tolist() for a in ACTIVATIONS},  # [depth][seed]
            "var_y": var_y,
            "trains": trains,
            "best_depth": best,
            "delta_norms_median": {
                a: {str(d): med_norms[a][d].tolist() for d in ds} for a in ACTIVATIONS
            },
        },
        checks=checks,
        config={
            "width": width,
            "depths": ds,
            "training": settings(tr, "training"),
            "inits": ACTIVATIONS,
        },
        tables=[norm_table, mse_table],
    )

"""``mse-vs-ce``: one-hot classification with MSE on sigmoid outputs vs softmax cross-entropy.

Two interleaved moons in 2-D (generated here) and, when scikit-learn is installed, its 8×8
digits (shipped with the package, no download). The MSE networks end in sigmoid units and are
trained on one-hot targets; the cross-entropy networks output logits and take softmax inside
the loss. Same architecture, initialisation, seeds and SGD settings for both.

Why they differ at a confidently wrong output: with z the output layer's weighted input,
δ^[L] = σ'(z) ∘ ∂C/∂a for MSE on sigmoids, and σ'(z) ≈ e^{−|z|} vanishes when the unit is
saturated on the wrong side; for softmax cross-entropy δ^[L] = softmax(z) − y, of size about 1.

``--set hidden=16,16 n_train=400 noise=0.15 lr=0.1 epochs=300`` changes the moons network and
data (the digits network stays 64-32-10) and the SGD settings of both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.activations import get_activation
from mlplab.config import TrainConfig
from mlplab.experiments.common import (
    SeedRun,
    fmt,
    over_seeds,
    seed_list,
    settings,
    stack,
    train_seeds,
)
from mlplab.experiments.params import MAX_LR, Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.losses import get_loss
from mlplab.progress import progress_bar

TITLE = "one-hot MSE on sigmoid outputs vs softmax cross-entropy for classification"
DEFAULT_SEEDS = {False: 5, True: 2}
TARGET_ACCURACY = 0.95
MARGINS = (2.0, 5.0, 10.0, 20.0)
EARLY = 10  # the accuracy "after 10 epochs" compares the early progress
PARAMETERS = (
    Parameter("hidden", (16, 16), "hidden widths of the moons network"),
    Parameter("n_train", 400, "moons training points (and as many test points)", low=4),
    Parameter("noise", 0.15, "standard deviation of the noise on the moons", low=0, high=1),
    Parameter("lr", 0.1, "SGD learning rate η of every run", low=1e-6, high=MAX_LR),
    Parameter("epochs", 300, "epochs of every run", quick=30),
)


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles: ``X`` (n, 2) and labels (n,) in {0, 1}."""
    k = n // 2
    t0, t1 = rng.uniform(0, np.pi, k), rng.uniform(0, np.pi, n - k)
    a = np.c_[np.cos(t0), np.sin(t0)]
    b = np.c_[1.0 - np.cos(t1), 0.5 - np.sin(t1)]
    X = np.vstack([a, b]) + noise * rng.standard_normal((n, 2))
    return X, np.r_[np.zeros(k, int), np.ones(n - k, int)]


def load_digits_split() -> tuple[np.ndarray, ...] | None:
    """sklearn's digits, pixels scaled to [0, 1], 80/20 split; None without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    data = load_digits()
    X, labels = data.data / 16.0, data.target.astype(int)
    perm = np.random.default_rng(0).permutation(len(labels))
    n = int(0.8 * len(labels))
    tr, te = perm[:n], perm[n:]
    return X[tr], labels[tr], X[te], labels[te]


def accuracy_monitor(X: np.ndarray, labels: np.ndarray):
    return lambda net: float(np.mean(net(X).argmax(axis=1) == labels))


def train_pair(
    sizes: tuple[int, ...], data: tuple[np.ndarray, ...], tr: TrainConfig, seeds: list[int], advance
) -> dict[str, list[SeedRun]]:
    """MSE (sigmoid outputs, one-hot) and CE (logits) runs on the same data and seeds."""
    X, labels, Xt, lt = data
    onehot = np.eye(sizes[-1])[labels]
    runs = {}
    for name, out_act, loss, y in (
        ("MSE + sigmoid", "sigmoid", "mse", onehot),
        ("softmax CE", "identity", "cross_entropy", labels),
    ):
        cfg = dataclasses.replace(
            tr, hidden=list(sizes[1:-1]), output_activation=out_act, loss=loss
        )
        runs[name] = train_seeds(
            cfg, X, y, seeds, monitor=accuracy_monitor(Xt, lt), advance=advance, n_out=sizes[-1]
        )
    return runs


def epochs_to(acc: np.ndarray, level: float) -> list[int | None]:
    """First epoch (1-based; 0 = at initialisation) with accuracy >= level, per run."""
    return [int(np.argmax(a >= level)) if np.any(a >= level) else None for a in acc]


def ce_faster(summary: dict) -> bool:
    """Whether cross-entropy reaches the target accuracy in fewer epochs than MSE: the median
    over all seeds of ``epochs_to_target``, a seed that never reaches it counted as ∞."""

    def median(label: str) -> float:
        reach = summary[label]["epochs_to_target"]
        return float(np.median([np.inf if v is None else v for v in reach]))

    return median("softmax CE") < median("MSE + sigmoid")


def gradient_at_wrong(margin: float, classes: int = 2) -> dict[str, float]:
    """‖δ^[L]‖ for one point whose output layer is confidently wrong by ``margin``.

    The true class is 0; z = (−margin, +margin, −margin, ...). Computed with mlplab's own
    sigmoid derivative and losses (for one point, N = 1).
    """
    z = np.full((1, classes), -margin)
    z[0, 1] = margin
    y = np.zeros((1, classes))
    y[0, 0] = 1.0
    sig = get_activation("sigmoid")
    delta_mse = sig.df(z) * get_loss("mse").grad(sig.f(z), y)
    delta_ce = get_loss("cross_entropy").grad(z, y)
    return {"mse": float(np.linalg.norm(delta_mse)), "ce": float(np.linalg.norm(delta_ce))}


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    hidden: tuple[int, ...] = (16, 16),
    n_train: int = 400,
    noise: float = 0.15,
    lr: float = 0.1,
    epochs: int = 300,
) -> StudyResult:
    seeds_ = seed_list(seeds)
    rng = np.random.default_rng(3)
    Xm, lm = moons(n_train, noise, rng)
    Xmt, lmt = moons(n_train, noise, rng)
    moons_sizes = (2, *hidden, 2)
    sets = {"moons": (moons_sizes, (Xm, lm, Xmt, lmt))}
    digits = load_digits_split()
    if digits is not None:
        sets["digits"] = ((64, 32, 10), digits)
    tr = TrainConfig(activation="tanh", optimizer="sgd", lr=lr, epochs=epochs, batch_size=32)
    early = min(EARLY, epochs)
    results: dict[str, dict[str, list[SeedRun]]] = {}
    with progress_bar("mse-vs-ce runs", 2 * len(sets) * seeds, progress) as advance:
        for name, (sizes, data) in sets.items():
            results[name] = train_pair(sizes, data, tr, seeds_, advance)

    fig, axes = plots.new_figure(ncols=len(sets), width=5.6)
    fig_l, axes_l = plots.new_figure(ncols=len(sets), width=5.6)
    summary = {}
    for ax, ax_l, (name, runs) in zip(axes, axes_l, results.items(), strict=True):
        summary[name] = {}
        for (label, rs), color in zip(runs.items(), ("tab:blue", "tab:red"), strict=True):
            acc = stack(rs, "monitor")
            plots.band(ax, np.arange(acc.shape[1]), acc, label, color)
            loss = stack(rs, "train_loss")
            plots.band(ax_l, np.arange(1, loss.shape[1] + 1), loss, label, color)
            reach = epochs_to(acc, TARGET_ACCURACY)
            summary[name][label] = {
                "final_test_accuracy": acc[:, -1].tolist(),
                "epochs_to_target": reach,
                "accuracy_early": acc[:, early].tolist(),
            }
        ax.axhline(TARGET_ACCURACY, color="gray", ls=":", lw=1, label=f"{TARGET_ACCURACY:.0%}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{name}: test accuracy per epoch")
        ax.legend(loc="lower right")
        ax_l.set_yscale("log")
        ax_l.set_xlabel("epoch")
        ax_l.set_ylabel("training loss (each model's own cost)")
        ax_l.set_title(f"{name}: MSE and cross-entropy are on different scales")
        ax_l.legend()
    fig.suptitle(f"SGD η = {tr.lr}, batch {tr.batch_size}; {over_seeds(seeds, band=True)}")
    fig_l.suptitle(f"Training loss per epoch, {over_seeds(seeds, band=True)}")
    plots.save_figure(fig, out / "accuracy.png")
    plots.save_figure(fig_l, out / "loss.png")

    grads = {m: gradient_at_wrong(m) for m in MARGINS}
    rows = [
        [f"{m:g}", fmt(g["mse"]), fmt(g["ce"]), f"{g['ce'] / g['mse']:.1e}"]
        for m, g in grads.items()
    ]
    tables = [
        "## Gradient at a confidently wrong prediction\n\nOne point of class 0 with output "
        "weighted inputs z = (−m, +m): ‖δ^[L]‖ = ‖∂C/∂z^[L]‖ for each cost.\n\n"
        + markdown_table(["margin m", "MSE + sigmoid", "softmax CE", "CE / MSE"], rows)
    ]

    def med_reach(name: str, label: str) -> str:
        """Median epochs to the target over the seeds that reach it, and how many do."""
        r = summary[name][label]["epochs_to_target"]
        hit = [v for v in r if v is not None]
        if not hit:
            return f"more than {tr.epochs} epochs (no seed reaches it)"
        return f"{int(np.median(hit))} epochs ({len(hit)}/{len(r)} seeds reach it)"

    def reaches(name: str, label: str) -> str:
        """What the answer says of one model: it reaches the target after the median epochs
        (of the seeds that do, counted only where some do not), or it does not reach it."""
        r = summary[name][label]["epochs_to_target"]
        hit = [v for v in r if v is not None]
        target = f"{TARGET_ACCURACY:.0%} test accuracy"
        if not hit:
            return f"does not reach {target} within {tr.epochs} epochs"
        counted = "" if len(hit) == len(r) else f" ({len(hit)}/{len(r)} seeds reach it)"
        return f"reaches {target} after {int(np.median(hit))} epochs{counted}"

    rows2 = [
        [
            name,
            label,
            med_reach(name, label),
            f"{np.median(s['accuracy_early']):.3f}",
            f"{np.median(s['final_test_accuracy']):.3f}",
        ]
        for name in summary
        for label, s in summary[name].items()
    ]
    tables.append(
        "## Convergence (medians over seeds)\n\n"
        + markdown_table(
            [
                "data",
                "model",
                f"epochs to {TARGET_ACCURACY:.0%} test accuracy",
                f"accuracy after {early} epochs",
                "final accuracy",
            ],
            rows2,
        )
    )
    g10 = grads[10.0]
    checks = [
        Check(
            "cross-entropy's output gradient at a confidently wrong point is the larger",
            all(g["ce"] > g["mse"] for g in grads.values()),
            f"at m = 10: CE {fmt(g10['ce'])}, MSE {fmt(g10['mse'])}",
        ),
    ]
    skipped = (
        ""
        if digits is not None
        else " The digits part was skipped: scikit-learn is not "
        "installed (pip install scikit-learn)."
    )
    parts = []
    for name in summary:
        ce, mse = reaches(name, "softmax CE"), reaches(name, "MSE + sigmoid")
        lead = f"reaches {TARGET_ACCURACY:.0%} test accuracy after "
        if ce.startswith(lead) and mse.startswith(lead):  # said once: "... and MSE after 241"
            mse = "after " + mse.removeprefix(lead)
        parts.append(
            f"on {name}, cross-entropy {ce} and MSE {mse} (accuracy after {early} epochs "
            f"{np.median(summary[name]['softmax CE']['accuracy_early']):.3f} vs "
            f"{np.median(summary[name]['MSE + sigmoid']['accuracy_early']):.3f})"
        )
    every_seed = all(
        v is not None for s in summary.values() for r in s.values() for v in r["epochs_to_target"]
    )
    reached = (
        (
            f" Every one of the {seeds} seeds reaches {TARGET_ACCURACY:.0%} with both costs on "
            + ("both data sets." if len(summary) == 2 else "every data set.")
        )
        if every_seed and seeds > 1
        else ""
    )
    faster = {name: ce_faster(summary[name]) for name in summary}
    if all(faster.values()):
        verdict = (
            "Cross-entropy converges faster on every data set here. The reason is the size of "
            "the output error δ^[L]"
        )
    else:
        verdict = (
            f"Cross-entropy does not converge faster on "
            f"{' and '.join(n for n, f in faster.items() if not f)} (median epochs to "
            f"{TARGET_ACCURACY:.0%} over all seeds, a seed that never gets there counted as "
            "never), though the size of the output error δ^[L] still differs"
        )
    answer = (
        f"With the same network, seeds and SGD (η = {tr.lr:g}), and "
        f"{over_seeds(seeds, 'medians over')}, " + "; ".join(parts) + "." + reached + " "
        f"{verdict}: at a prediction wrong by a margin of "
        f"10 in the output's weighted input, ‖δ^[L]‖ is {fmt(g10['ce'])} for softmax "
        f"cross-entropy but {fmt(g10['mse'])} for MSE on sigmoid outputs, a factor "
        f"{g10['ce'] / g10['mse']:.0e} smaller, because σ'(z) ≈ e^(−|z|) multiplies the MSE "
        f"error while cross-entropy's δ = softmax(z) − y stays of size 1 until the point is "
        f"right." + skipped
    )
    return StudyResult(
        title=TITLE,
        question="For classification with one-hot targets, which converges faster: MSE on "
        "sigmoid outputs or softmax cross-entropy, and why?",
        setup=[
            (
                "moons",
                f"2 classes, {n_train} training and {n_train} test points, noise {noise:g}; "
                + "-".join(map(str, moons_sizes)),
            ),
            (
                "digits",
                "sklearn 8×8 digits, 1437 train / 360 test, pixels/16; 64-32-10"
                if digits is not None
                else "skipped (scikit-learn not installed)",
            ),
            ("hidden", "tanh, Xavier normal, biases 0"),
            ("MSE model", "sigmoid outputs, one-hot targets, MSE"),
            ("CE model", "identity outputs (logits), softmax cross-entropy"),
            ("training", f"SGD η = {tr.lr}, batch {tr.batch_size}, {tr.epochs} epochs"),
            ("seeds", str(seeds)),
        ],
        figures=[
            ("accuracy.png", "Test accuracy per epoch for both costs."),
            ("loss.png", "Each model's training loss per epoch (log scale)."),
        ],
        answer=answer,
        metrics={
            "summary": summary,
            "gradient_at_wrong": {str(m): g for m, g in grads.items()},
            "digits_skipped": digits is None,
            "early_epoch": early,
            "ce_faster": faster,
        },
        checks=checks,
        config={"training": settings(tr, "training"), "target_accuracy": TARGET_ACCURACY},
        tables=tables,
    )

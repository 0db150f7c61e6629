"""``monomials``: a shallow tanh network fitted to all monomials x^0, ..., x^s at once.

For s = 5 a 1-9-6 network (width 3(s+1)/2 = 9, tanh hidden, identity output) is trained on all
six monomials together (MSE, Adam then L-BFGS in float64), on [−1, 1] and on [−10, 10] with
the raw input and with the input rescaled to [−1, 1] (the network sees x/10; the targets stay
x^k). The error of output k is max_x |a_k(x) − x^k| / max_x |x^k| on a fine grid. The power is
k, not p, which the other studies use for the number of parameters.
``--set width=W domain=D`` changes the width and the wide domain [−D, D].
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.experiments.common import (
    over_seeds,
    seed_list,
    settings,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.progress import progress_bar

TITLE = "a shallow tanh network approximating the monomials x^0..x^5 at once"
DEFAULT_SEEDS = {False: 3, True: 1}

S = 5
WIDTH = 3 * (S + 1) // 2
DOMAIN = 10.0
POWERS = np.arange(S + 1)
PARAMETERS = (
    Parameter("width", WIDTH, "hidden width (3(s+1)/2 = 9 for s = 5)"),
    Parameter("domain", DOMAIN, "half-width D of the wide domain [−D, D]", low=1.0),
)


def cases(domain: float) -> dict[str, tuple[float, float]]:
    """Each case's name and (half-width of its domain, factor dividing the input)."""
    wide = f"[−{domain:g}, {domain:g}]"
    return {
        "[−1, 1]": (1.0, 1.0),
        f"{wide} raw": (domain, 1.0),
        f"{wide} rescaled": (domain, domain),
    }


def targets(x: np.ndarray) -> np.ndarray:
    """x^k for k = 0..S as columns, shape (N, S + 1)."""
    return np.power(x, POWERS)


def relative_errors(net, half: float, scale: float) -> np.ndarray:
    """max |a_k − x^k| / max |x^k| for each k on a grid of 2001 points."""
    x = np.linspace(-half, half, 2001).reshape(-1, 1)
    t = targets(x)
    return np.max(np.abs(net(x / scale) - t), axis=0) / np.max(np.abs(t), axis=0)


def run(
    out: Path, quick: bool, seeds: int, progress: bool, width: int = WIDTH, domain: float = DOMAIN
) -> StudyResult:
    seeds_ = seed_list(seeds)
    domains = cases(domain)
    wide = f"[−{domain:g}, {domain:g}]"
    adam = TrainConfig(
        hidden=[width],
        activation="tanh",
        loss="mse",
        optimizer="adam",
        lr=1e-2,
        epochs=1000 if quick else 3000,
        batch_size=None,
    )
    lbfgs = dataclasses.replace(adam, optimizer="lbfgs", epochs=1500 if quick else 10000)
    errors: dict[str, np.ndarray] = {}
    best_nets = {}
    with progress_bar("monomial fits", len(domains) * seeds, progress) as advance:
        for case, (half, scale) in domains.items():
            x = np.linspace(-half, half, 401).reshape(-1, 1)
            runs = train_seeds(adam, x / scale, targets(x), seeds_)
            runs = train_seeds(
                lbfgs,
                x / scale,
                targets(x),
                seeds_,
                start=[r.net for r in runs],
                advance=advance,
            )
            errs = np.array([relative_errors(r.net, half, scale) for r in runs])
            errors[case] = errs
            best_nets[case] = runs[int(np.argmin(errs.max(axis=1)))].net

    med = {case: np.median(e, axis=0) for case, e in errors.items()}
    fig, (ax,) = plots.new_figure()
    for k, case in enumerate(domains):
        ax.plot(POWERS + (k - 1) * 0.08, med[case], "o-", label=case)
    ax.set_yscale("log")
    ax.set_xticks(POWERS)
    ax.set_xlabel("power k of the monomial x^k")
    ax.set_ylabel("max |a_k(x) − x^k| / max |x^k|")
    ax.set_title(f"1-{width}-{S + 1} tanh network, {over_seeds(seeds)}")
    ax.legend()
    plots.save_figure(fig, out / "errors.png")

    fig, axes = plots.new_figure(ncols=3, width=4.4, height=3.8)
    for ax, (case, (half, scale)) in zip(axes, domains.items(), strict=True):
        x = np.linspace(-half, half, 801).reshape(-1, 1)
        a = best_nets[case](x / scale)
        t = targets(x)
        for k in POWERS:
            norm = np.max(np.abs(t[:, k]))
            (line,) = ax.plot(x, t[:, k] / norm, lw=1, label=f"k = {k}")
            ax.plot(x, a[:, k] / norm, "--", lw=1.5, color=line.get_color())
        ax.set_xlabel("x")
        ax.locator_params(axis="x", nbins=5)  # room for the tick labels of [−1, 1]
        ax.set_title(case)
    axes[0].set_ylabel("x^k / max|x^k| (solid), network (dashed)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Monomials and the network's outputs (best seed), each divided by max |x^k|")
    plots.save_figure(fig, out / "fits.png")

    rows = [[case, *[f"{v:.1e}" for v in med[case]]] for case in domains]
    table = "## Max relative error per power (median over seeds)\n\n" + markdown_table(
        ["domain", *[f"k = {k}" for k in POWERS]], rows
    )
    narrow, raw, resc = (float(med[c].max()) for c in domains)
    checks = [
        Check(
            f"the fit on [−1, 1] is at least 10 times better than on {wide} with raw input",
            narrow < 0.1 * raw,
            f"largest relative error {narrow:.1e} on [−1, 1], {raw:.1e} on {wide} raw",
        ),
    ]
    if resc < raw:
        versus = "stays far above" if resc > 10 * narrow else "comes close to"
        rescaling = f"lowers it, and it {versus} the [−1, 1] result"
    else:
        rescaling = "does not lower it"
    worst_narrow, worst_raw, worst_resc = (int(np.argmax(med[c])) for c in domains)
    span = f"{domain:g}^{S}"
    if not math.log10(domain).is_integer():  # 10^5 reads as it is; 7.5^5 needs its value
        span += f" ≈ {domain**S:.3g}"
    per_power = {c: ", ".join(f"{v:.1e}" for v in med[c]) for c in domains}
    answer = (
        f"On [−1, 1] the width-{width} tanh network fits all six monomials at once with a "
        f"largest relative error of {narrow:.1e} ({over_seeds(seeds, 'median over')}; per "
        f"power k = 0, …, {S}: {per_power['[−1, 1]']}). On {wide} with the raw input "
        f"{'it does not work' if raw > 0.5 else 'it still works'}: the largest relative "
        f"error is {raw:.1e} (per power {per_power[f'{wide} raw']}). With the input rescaled "
        f"to [−1, 1] the largest relative error is {resc:.1e} "
        f"({per_power[f'{wide} rescaled']}): rescaling the input {rescaling}. The targets "
        f"still span 1 to {span} in one MSE, so the cost is dominated by the high powers. The "
        f"largest relative error is that of x^{worst_raw} with the raw input and of "
        f"x^{worst_resc} with the rescaled input; on [−1, 1] it is that of x^{worst_narrow}. "
        f"Dividing each output x^k by {domain:g}^k as well turns the problem into the [−1, 1] one "
        f"exactly."
    )
    return StudyResult(
        title=TITLE,
        question=f"Can a shallow tanh network of width {width} approximate all monomials x^k, "
        f"k ≤ s = 5, at once, on [−1, 1] and on {wide}, and what does rescaling the input do?",
        setup=[
            ("network", f"1-{width}-{S + 1}, tanh hidden, identity outputs (one per power)"),
            ("initialisation", "Xavier normal, biases 0"),
            ("data", "401 evenly spaced points of the domain; targets x^0..x^5"),
            (
                "training",
                f"MSE; Adam lr 1e-2 full batch, {adam.epochs} epochs, then L-BFGS "
                f"(float64) up to {lbfgs.epochs} iterations",
            ),
            ("rescaled", f"the network sees x/{domain:g} ∈ [−1, 1]; targets unchanged"),
            ("error", "max |a_k(x) − x^k| / max |x^k| on 2001 grid points"),
            ("seeds", str(seeds)),
        ],
        figures=[
            ("errors.png", "Max relative error per power, three domains (log scale)."),
            ("fits.png", "Each monomial (solid) and the network's output (dashed), best seed."),
        ],
        answer=answer,
        metrics={
            "relative_error_median": {c: med[c].tolist() for c in domains},
            "relative_error_all_seeds": {c: errors[c].tolist() for c in domains},
        },
        checks=checks,
        config={
            "s": S,
            "width": width,
            "domain": domain,
            "adam": settings(adam),
            "lbfgs": settings(lbfgs),
        },
        tables=[table],
    )

"""``properties``: the small facts of the lectures, checked numerically with mlplab's own code.

Cross-entropy bounds and its limit at scaled one-hot logits; naive against stable softmax;
ReLU∘ReLU = ReLU; Lipschitz constants sup|σ'| of sigmoid, tanh and ReLU, and that ReLU' is
not Lipschitz; the exact tanh twin of a sigmoid network; two stacked linear layers collapse
into one; the derivative of max{f_1, ..., f_k} is f_I' where the maximiser I is unique.
``--set classes=K twin=16,16 outputs=k`` changes the number of classes of the cross-entropy
facts, the hidden widths of the tanh-twin networks and the k outputs of the max network.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np

from mlplab import plots
from mlplab.activations import get_activation
from mlplab.experiments.common import fmt, listing
from mlplab.experiments.params import Parameter
from mlplab.experiments.report import Check, StudyResult, markdown_table
from mlplab.gradcheck import relative_error
from mlplab.losses import cross_entropy, softmax
from mlplab.network import MLP
from mlplab.transforms import sigmoid_to_tanh

TITLE = "cross-entropy, softmax, ReLU, Lipschitz constants, tanh twins, max'"
DEFAULT_SEEDS = {False: 5, True: 2}
CLASSES = 10
LAMBDAS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 35.0, 36.0, 37.0, 38.0, 40.0, 50.0, 100.0, 1e3)
STEPS_H = 10.0 ** -np.arange(1, 13)
PARAMETERS = (
    Parameter("classes", CLASSES, "classes K of the cross-entropy facts", low=2),
    Parameter("twin", (16, 16), "hidden widths of the sigmoid networks given tanh twins"),
    Parameter("outputs", 5, "outputs k of the network whose max is differentiated", low=2),
)


def ce_scaled_onehot(lam: float, classes: int = CLASSES) -> float:
    """CE(λ e_y, y) for K = ``classes`` classes (y the first), with mlplab's cross-entropy."""
    z = np.zeros((1, classes))
    z[0, 0] = lam
    return cross_entropy.value(z, np.array([0]))


def ce_exact(lam: float, classes: int = CLASSES) -> Decimal:
    """CE(λ e_y, y) = log(1 + (K−1)e^(−λ)) to 30 significant digits, for any λ (in decimal
    arithmetic, which neither cancels in 1 + (K−1)e^(−λ) nor underflows)."""
    with localcontext() as ctx:
        ctx.prec = 30
        u = (classes - 1) * Decimal(-lam).exp()
        ctx.prec = 30 + max(0, -u.adjusted())  # enough digits to keep u in 1 + u
        return (1 + u).ln()


def underflow_point(classes: int = CLASSES) -> float:
    """The λ beyond which log(1 + (K−1)e^(−λ)) ≈ (K−1)e^(−λ) is below the smallest positive
    float64 number (about 4.9e-324): up to there the loss has a float64 value above 0."""
    return math.log(classes - 1) - math.log(np.nextafter(0.0, 1.0))


def scientific(value: Decimal | float, digits: int = 7) -> str:
    """``value`` as ``1.234568e-05``, also beyond float64's range (``4.568363e-434``)."""
    mantissa, exponent = format(Decimal(value), f".{digits - 1}e").split("e")
    return f"{mantissa}e{int(exponent):+03d}"


def ce_zero_point(classes: int = CLASSES) -> float:
    """The smallest λ (to 1e-12 relative) at which mlplab's CE(λ e_y, y) is exactly 0."""
    lo, hi = 1.0, 1e3
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ce_scaled_onehot(mid, classes) == 0.0 else (mid, hi)
    return hi


def check_ce(
    rng: np.random.Generator, checks: list[Check], tables: list[str], classes: int
) -> dict:
    z = rng.normal(0.0, 5.0, size=(500, classes))
    labels = rng.integers(0, classes, size=500)
    per_point = np.array([cross_entropy.value(z[i : i + 1], labels[i : i + 1]) for i in range(500)])
    checks.append(
        Check(
            "0 < CE(f, y) < ∞ at random logits",
            bool(np.all(per_point > 0) and np.all(np.isfinite(per_point))),
            f"500 points: min {fmt(per_point.min())}, max {fmt(per_point.max())}",
        )
    )
    values = [ce_scaled_onehot(lam, classes) for lam in LAMBDAS]
    exact = [ce_exact(lam, classes) for lam in LAMBDAS]
    lam0, lam_under = ce_zero_point(classes), underflow_point(classes)
    # relative error of mlplab's value where the exact value is a float64 number above 0
    error = [
        float(abs(Decimal(v) - e) / e) if lam < lam_under else None
        for lam, v, e in zip(LAMBDAS, values, exact, strict=True)
    ]
    checks.append(
        Check(
            "CE(λ e_y, y) decreases to 0 as λ grows",
            all(b <= a for a, b in itertools.pairwise(values)) and values[-1] == 0.0,
            f"CE = {fmt(values[0])} at λ = 1, {fmt(values[4])} at λ = 20; mlplab's value is 0 "
            f"from λ = {lam0:.4f}",
        )
    )
    rows = [
        [
            f"{lam:g}",
            f"{v:.6e}",
            scientific(e),
            "below float64's range" if r is None else f"{r:.1e}",
        ]
        for lam, v, e, r in zip(LAMBDAS, values, exact, error, strict=True)
    ]
    tables.append(
        f"## Cross-entropy at λ e_y ({classes} classes)\n\nmlplab's float64 value next to the "
        "exact value log(1 + (K−1)e^(−λ)), computed in 30-digit decimal arithmetic, and the "
        f"relative error of mlplab's value. mlplab's value is exactly 0 from λ = {lam0:.4f}; "
        f"the exact value is a float64 number above 0 up to λ = {lam_under:.1f}.\n\n"
        + markdown_table(["λ", "mlplab CE", "exact", "relative error"], rows)
    )
    return {
        "ce_values": values,
        "ce_exact": [float(e) for e in exact],  # 0.0 where float64 underflows
        "ce_exact_text": [scientific(e) for e in exact],
        "ce_relative_error": error,
        "ce_absolute_error": max(
            float(abs(Decimal(v) - e)) for v, e in zip(values, exact, strict=True)
        ),
        "ce_zero_from_lambda": lam0,
        "ce_underflow_from_lambda": lam_under,
    }


def ce_zero_text(metrics: dict, classes: int) -> str:
    """What the answer says of CE(λ e_y, y) near 0, from the numbers of :func:`check_ce`."""
    lam0, lam_under = metrics["ce_zero_from_lambda"], metrics["ce_underflow_from_lambda"]
    texts = metrics["ce_exact_text"]
    exact = {lam: scientific(Decimal(e), 3) for lam, e in zip(LAMBDAS, texts, strict=True)}
    error = dict(zip(LAMBDAS, metrics["ce_relative_error"], strict=True))
    text = (
        f"For K = {classes} classes, CE(λ e_y, y) = log(1 + (K−1)e^(−λ)) falls towards 0 as λ "
        f"grows but stays above it: {exact[40.0]} at λ = 40 and {exact[1e3]} at λ = 1000; it is "
        f"a float64 number above 0 up to λ = {lam_under:.1f}. "
    )
    if lam0 < 0.9 * lam_under:  # far before the exact value underflows: lost digits
        shown = [f"{error[lam]:.1e} at λ = {lam:g}" for lam in (30.0, 35.0, 38.0)]
        return text + (
            f"mlplab's cross_entropy returns exactly 0 from λ = {lam0:.2f} and loses relative "
            f"accuracy before that (relative error {listing(shown)}). The cause is cancellation "
            "in the formula as written, not float64's range: it takes the log of "
            "1 + Σ_{j≠y} e^(z_j − z_y), and float64 numbers near 1 are 2.2e-16 apart, so the "
            "small terms are lost against the 1; log1p of their sum would keep the value "
            f"accurate. Over the table its absolute error is at most "
            f"{fmt(metrics['ce_absolute_error'])}."
        )
    worst = max(r for r in metrics["ce_relative_error"] if r is not None)
    return text + (
        f"mlplab's cross_entropy agrees with it to a relative error of {worst:.1e} and returns "
        f"0 only from λ = {lam0:.1f}, close to where the exact value leaves float64's range "
        f"(λ = {lam_under:.1f})."
    )


def check_softmax(checks: list[Check]) -> dict:
    z = np.array([[1000.0, 0.0, -1000.0], [710.0, 709.0, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        naive = e / e.sum(axis=1, keepdims=True)
    stable = softmax(z)
    expected = np.array([[1.0, 0.0, 0.0], [1 / (1 + np.exp(-1.0)), 1 / (1 + np.e), 0.0]])
    ce = cross_entropy.value(z, np.array([2, 2]))
    checks.append(
        Check(
            "naive softmax exp(z)/Σexp(z) overflows at large logits; mlplab's softmax does not",
            bool(
                not np.all(np.isfinite(naive))
                and np.all(np.isfinite(stable))
                and np.allclose(stable, expected, rtol=1e-12, atol=1e-300)
                and np.isfinite(ce)
            ),
            f"naive row 1 = {naive[0].tolist()}; "
            f"mlplab = {[float(f'{v:.6g}') for v in stable[0]]}; "
            f"CE at these logits {ce:.1f}",
        )
    )
    return {
        "naive_softmax": np.where(np.isfinite(naive), naive, None).tolist(),
        "stable_softmax": stable.tolist(),
        "ce_large_logits": ce,
    }


def check_relu(rng: np.random.Generator, checks: list[Check]) -> dict:
    relu = get_activation("relu")
    z = np.concatenate([rng.normal(0, 10, 100_000), [0.0, -0.0, 1e308, -1e308, 5e-324]])
    same = np.array_equal(relu.f(relu.f(z)), relu.f(z))
    checks.append(Check("ReLU∘ReLU = ReLU (bitwise)", bool(same), f"{z.size} points"))
    return {"relu_idempotent": bool(same)}


def derivative_quotient(name: str) -> np.ndarray:
    """|σ'(h) − σ'(0)| / h for h in :data:`STEPS_H` (mlplab takes ReLU'(0) = 0)."""
    d = get_activation(name).df
    return np.abs(d(STEPS_H) - d(np.zeros(1))) / STEPS_H


def check_lipschitz(checks: list[Check], tables: list[str]) -> dict:
    z = np.linspace(-50.0, 50.0, 1_000_001)  # includes 0
    exact = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}
    sup = {name: float(np.max(np.abs(get_activation(name).df(z)))) for name in exact}
    checks.append(
        Check(
            "Lipschitz constants sup|σ'|: sigmoid 1/4, tanh 1, ReLU 1",
            all(abs(sup[k] - exact[k]) < 1e-12 for k in exact),
            ", ".join(f"{k} {sup[k]:.12g}" for k in exact),
        )
    )
    quotient = derivative_quotient("relu")
    checks.append(
        Check(
            "ReLU' is not Lipschitz: |ReLU'(h) − ReLU'(0)| / h = 1/h grows without bound",
            bool(np.allclose(quotient, 1 / STEPS_H, rtol=1e-12)),
            f"{fmt(quotient[0])} at h = {STEPS_H[0]:g}, {fmt(quotient[-1])} at h = {STEPS_H[-1]:g}",
        )
    )
    tables.append(
        "## Lipschitz constants (sup of |σ'| on 10^6 points of [−50, 50])\n\n"
        + markdown_table(
            ["σ", "measured", "exact"], [[k, f"{sup[k]:.15g}", f"{exact[k]:g}"] for k in exact]
        )
    )
    return {"sup_derivative": sup, "relu_prime_quotient": quotient.tolist()}


def check_twin(
    seeds: int, rng: np.random.Generator, checks: list[Check], widths: tuple[int, ...]
) -> dict:
    X = rng.normal(0, 3, size=(1000, 2))
    diffs = []
    for s in range(seeds):
        net = MLP([2, *widths, 1], "sigmoid", init="normal:0,2", bias_init="normal:0,1", seed=s)
        twin = sigmoid_to_tanh(net)
        hidden = {a.name for a in twin.activations[:-1]}
        diffs.append(float(np.max(np.abs(twin(X) - net(X)))) if hidden == {"tanh"} else np.inf)
    checks.append(
        Check(
            "every sigmoid network has an exact tanh twin (mlplab.transforms.sigmoid_to_tanh)",
            max(diffs) <= 1e-12,
            f"max |twin − net| over {seeds} networks × 1000 points: {fmt(max(diffs))}",
        )
    )
    return {"tanh_twin_max_difference": diffs}


def check_linear(rng: np.random.Generator, checks: list[Check]) -> dict:
    deep = MLP([3, 7, 2], "identity", bias_init="normal:0,1", seed=11)
    (W2, W3), (b2, b3) = deep.weights, deep.biases
    one = MLP([3, 2], "identity")
    one.weights[0][...] = W3 @ W2
    one.biases[0][...] = W3 @ b2 + b3
    X = rng.normal(size=(1000, 3))
    diff = float(np.max(np.abs(one(X) - deep(X))))
    checks.append(
        Check(
            "two stacked linear layers are one: W = W^[3]W^[2], b = W^[3]b^[2] + b^[3]",
            diff <= 1e-12,
            f"max difference {fmt(diff)}",
        )
    )
    return {"linear_collapse_difference": diff}


def check_max_derivative(rng: np.random.Generator, checks: list[Check], outputs: int) -> dict:
    net = MLP([1, 8, outputs], "tanh", init="normal:0,2", bias_init="normal:0,1", seed=3)
    x = rng.uniform(-2, 2, size=(400, 1))
    f = net(x)
    top2 = np.sort(f, axis=1)[:, -2:]
    unique = top2[:, 1] - top2[:, 0] > 1e-3  # the maximiser is unique with room for FD steps
    x = x[unique]
    best = net(x).argmax(axis=1)
    analytic = net.input_jacobian(x)[np.arange(len(x)), best, 0]
    h = 1e-6
    numeric = (net(x + h).max(axis=1) - net(x - h).max(axis=1)) / (2 * h)
    err = relative_error(analytic, numeric)
    checks.append(
        Check(
            "d/dx max_i f_i(x) = f_I'(x) where the maximiser I is unique (finite differences)",
            err < 1e-7,
            f"{len(x)} random points, relative error {fmt(err)}",
        )
    )
    return {"max_derivative_points": len(x), "max_derivative_relative_error": err}


def run(
    out: Path,
    quick: bool,
    seeds: int,
    progress: bool,
    classes: int = CLASSES,
    twin: tuple[int, ...] = (16, 16),
    outputs: int = 5,
) -> StudyResult:
    rng = np.random.default_rng(2019)
    checks: list[Check] = []
    tables: list[str] = []
    metrics: dict = {}
    metrics |= check_ce(rng, checks, tables, classes)
    metrics |= check_softmax(checks)
    metrics |= check_relu(rng, checks)
    metrics |= check_lipschitz(checks, tables)
    metrics |= check_twin(seeds, rng, checks, twin)
    metrics |= check_linear(rng, checks)
    metrics |= check_max_derivative(rng, checks, outputs)

    fig, axes = plots.new_figure(ncols=2, width=5.6)
    lam = np.linspace(0.5, 45, 400)
    ce = np.array([ce_scaled_onehot(v, classes) for v in lam])
    axes[0].semilogy(lam, np.where(ce > 0, ce, np.nan), label="mlplab cross_entropy")
    axes[0].semilogy(
        lam,
        np.log1p((classes - 1) * np.exp(-lam)),
        ":",
        color="black",
        label="exact log(1 + (K−1)e^(−λ))",
    )
    if metrics["ce_zero_from_lambda"] <= lam[-1]:
        axes[0].axvline(
            metrics["ce_zero_from_lambda"],
            color="tab:red",
            ls="--",
            label=f"mlplab's value is 0 from λ = {metrics['ce_zero_from_lambda']:.2f}",
        )
    axes[0].set_xlabel("λ")
    axes[0].set_ylabel("CE(λ e_y, y)")
    axes[0].set_title(f"Cross-entropy at scaled one-hot logits (K = {classes})")
    axes[0].legend(fontsize=8)
    axes[1].loglog(STEPS_H, metrics["relu_prime_quotient"], "o-", label="ReLU': 1/h")
    for name in ("sigmoid", "tanh"):
        q = derivative_quotient(name)
        axes[1].loglog(STEPS_H, np.where(q > 0, q, np.nan), "s--", ms=4, label=f"{name}'")
    axes[1].text(
        0.03,
        0.45,
        "sigmoid', tanh': 0 in float64 below h ≈ 1e-8 (not drawn)",
        transform=axes[1].transAxes,
        fontsize=8,
    )
    axes[1].set_xlabel("h")
    axes[1].set_ylabel("|σ'(h) − σ'(0)| / h")
    axes[1].set_title("Difference quotients of σ' at 0: ReLU' jumps")
    axes[1].legend(fontsize=8)
    plots.save_figure(fig, out / "properties.png")

    ok = sum(c.passed for c in checks)
    answer = (
        f"{ok} of {len(checks)} facts hold numerically. Cross-entropy is strictly between 0 and "
        f"∞ at random logits. {ce_zero_text(metrics, classes)} The naive softmax returns NaN "
        f"at logits of size 1000 while mlplab's "
        f"shifted softmax returns (1, 0, 0). ReLU∘ReLU equals ReLU bitwise. sup|σ'| is "
        f"{metrics['sup_derivative']['sigmoid']:g} for sigmoid, "
        f"{metrics['sup_derivative']['tanh']:g} for tanh and "
        f"{metrics['sup_derivative']['relu']:g} for ReLU, while ReLU' has difference quotients "
        f"|ReLU'(h) − ReLU'(0)|/h = 1/h up to {fmt(metrics['relu_prime_quotient'][-1])}. "
        f"The tanh twins agree with "
        f"their sigmoid networks to {fmt(max(metrics['tanh_twin_max_difference']))}, the "
        f"collapsed linear layer to {fmt(metrics['linear_collapse_difference'])}, and "
        f"d/dx max_i f_i = f_I' to a relative error of "
        f"{fmt(metrics['max_derivative_relative_error'])} at "
        f"{metrics['max_derivative_points']} points."
    )
    return StudyResult(
        title=TITLE,
        question="Do the small facts of the lectures hold numerically, in float64, with "
        "mlplab's own losses, activations and networks?",
        setup=[
            (
                "cross-entropy",
                f"mlplab.losses.cross_entropy, K = {classes} classes, 500 "
                "random N(0, 5²) logit rows",
            ),
            ("softmax", "mlplab.losses.softmax against exp(z)/Σexp(z), logits ±1000 and 710"),
            ("Lipschitz", "sup|σ'| on 10^6 evenly spaced points of [−50, 50] (0 included)"),
            (
                "tanh twin",
                f"{seeds} random {'-'.join(map(str, [2, *twin, 1]))} sigmoid networks, 1000 points",
            ),
            ("linear layers", "3-7-2 identity network against one 3-2 layer"),
            (
                "max derivative",
                f"{outputs} outputs of a random 1-8-{outputs} tanh network, h = 1e-6",
            ),
        ],
        figures=[
            (
                "properties.png",
                "Left: CE(λ e_y, y) against λ. Right: difference quotients of σ' at 0.",
            )
        ],
        answer=answer,
        metrics=metrics,
        checks=checks,
        config={"classes": classes, "lambdas": list(LAMBDAS), "seed": 2019},
        tables=tables,
    )

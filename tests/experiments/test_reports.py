"""Reports say what their own numbers say: no sentence a study's metrics contradict, in the
quick reports and in the full-size ones (which take minutes: marked slow, run in CI)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from mlplab.experiments import STUDIES
from mlplab.experiments.common import TRAINS
from mlplab.experiments.depth import best_depth_text, trains_text
from mlplab.experiments.higham import classified_text
from mlplab.experiments.label_noise import noise_verdict
from mlplab.experiments.mse_vs_ce import ce_faster
from mlplab.experiments.report import QUICK_NOTE


def test_the_noise_verdict_follows_the_numbers():
    assert "stays near the noise level" not in noise_verdict(0.851, 0.241)  # the old report
    assert "not yet fitted even the clean function" in noise_verdict(0.851, 0.241)
    assert "stays near the noise level" in noise_verdict(0.30, 0.25)
    assert "fits the noise" in noise_verdict(0.05, 0.25)


def test_a_depth_that_does_not_train_is_not_called_best():
    text = best_depth_text(
        {"sigmoid": None, "relu": 4}, {"sigmoid": np.array([0.5, 0.4]), "relu": np.array([1, 0.01])}
    )
    assert "none for sigmoid, where no depth trains" in text
    assert "4 hidden layers for relu" not in text and "4 hidden layers for ReLU" in text


def said(report: str, text: str, true: bool, why: str) -> list[str]:
    """``[why]`` when ``report`` says ``text`` and the numbers say otherwise (``true`` False),
    or does not say it where they say so; else ``[]``."""
    if (text in report) == true:
        return []
    return [f"{'says' if text in report else 'does not say'} {text!r}: {why}"]


def _generic(report: str, metrics: dict, quick: bool) -> list[str]:
    """What every report must get right: quick or not, the steps it names, each check's row."""
    found = []
    if quick != (QUICK_NOTE in report) or quick != report.splitlines()[0].endswith("(quick run)"):
        found.append("a quick report must say its numbers are not converged; a full one must not")
    if re.search(r"10\^6|1,000,000|10⁶", report) and metrics.get("steps", 10**6) != 10**6:
        found.append(f"names 10^6 steps but took {metrics.get('steps')}")
    for check in metrics["checks"]:
        row = f"| {check['name'].replace('|', chr(92) + '|')} | "
        row += "pass |" if check["passed"] else "**FAIL** |"
        if row not in report:
            found.append(f"the checks table misreports {check['name']!r}")
    return found


def _by_name(metrics: dict, start: str) -> bool:
    """Whether the check whose name starts with ``start`` passed."""
    (check,) = [c for c in metrics["checks"] if c["name"].startswith(start)]
    return check["passed"]


def _runge(report: str, metrics: dict) -> list[str]:
    xavier = metrics["sweep_near_0_median"]["Xavier normal"]
    reached = sum(v is not None for v in metrics["first_epoch_val_below_1e-4"])
    seeds = len(metrics["first_epoch_val_below_1e-4"])
    return [
        *said(
            report,
            "more points lower it by more than a factor 2",
            xavier[-1] < 0.5 * xavier[0],
            f"Xavier error near 0 {xavier[0]:.3g} -> {xavier[-1]:.3g}",
        ),
        *said(report, f"{reached} of {seeds} seed", True, "seeds below 1e-4"),
        *said(
            report,
            "the difference is mostly within the seed spread",
            seeds > 1 and 2 * _overlaps(metrics) > len(metrics["sweep_n"]),
            f"seed ranges of the two inits overlap at {_overlaps(metrics)} N",
        ),
        *said(
            report,
            "the error is largest near 0 in every run",
            all(abs(x) <= 0.1 for x in _x_of_max(metrics)),
            f"x of the largest error {_x_of_max(metrics)}",
        ),
    ]


def _overlaps(metrics: dict) -> int:
    """At how many N the two inits' errors near 0, min to max over the seeds, overlap."""
    xavier, he = (np.array(v) for v in metrics["sweep_near_0"].values())
    return int(np.sum((xavier.min(1) <= he.max(1)) & (he.min(1) <= xavier.max(1))))


def _x_of_max(metrics: dict) -> list[float]:
    """The x of the largest error of every run: part 1 after Adam and L-BFGS, and the sweep."""
    sweep = [x for rows in metrics["sweep_x_of_max_error"].values() for r in rows for x in r]
    return metrics["x_of_max_error_adam"] + metrics["x_of_max_error_lbfgs"] + sweep


def _label_noise(report: str, metrics: dict) -> list[str]:
    final = float(np.median(metrics["final_mse_vs_noisy_labels"]))
    noise = metrics["noise_mse_of_labels"]
    rms = metrics["rms_error_on_grid_abs_x_le_1.5"]
    overlap = min(rms["noisy"]) <= max(rms["clean"]) and min(rms["clean"]) <= max(rms["noisy"])
    found = said(report, "the two ranges overlap", overlap, f"RMS ranges {rms}")
    if "near the noise level" in report and not 0.5 * noise <= final <= 2 * noise:
        found.append(f"says 'near the noise level' at {final:.3g} against {noise:.3g}")
    if "well below the noise level" in report and not final < 0.5 * noise:
        found.append(f"says 'well below the noise level' at {final:.3g} against {noise:.3g}")
    return found


def _dead_relu(report: str, metrics: dict) -> list[str]:
    ends = metrics["leaky_active_start_end"]
    rose = sum(end > start for start, end in ends)
    kept = _by_name(metrics, "dead ReLU units: incoming") and _by_name(
        metrics, "dead ReLU units: outgoing"
    )
    return [
        *said(report, "In every one of the", kept, "the dead units' bitwise checks"),
        *said(
            report,
            "every one of them moved",
            _by_name(metrics, "leaky ReLU units"),
            "the leaky units' check",
        ),
        *said(report, f"rose in {rose} of {len(ends)} seeds", True, f"leaky counts {ends}"),
    ]


def _depth(report: str, metrics: dict) -> list[str]:
    found = []
    limit = TRAINS * metrics["var_y"]
    names = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
    for depth, name in re.findall(r"(\d+) hidden layers for (\w+) \(median MSE", report):
        (act,) = [a for a, n in names.items() if n == name]
        mse = min(metrics["final_mse_median"][act])
        if mse > limit:
            found.append(f"names best depth {depth} ({act}) whose MSE {mse:.3g} > {limit:.3g}")
    depths = metrics["depths"]
    for act, values in metrics["final_mse_median"].items():
        trains = [v < limit for v in values]
        found += said(report, trains_text(act, depths, trains), True, f"MSEs {values}")
    return found


def _monomials(report: str, metrics: dict) -> list[str]:
    narrow, raw, rescaled = (max(v) for v in metrics["relative_error_median"].values())
    k_narrow, k_raw, k_rescaled = (
        int(np.argmax(v)) for v in metrics["relative_error_median"].values()
    )
    worst = (
        f"largest relative error is that of x^{k_raw} with the raw input and of x^{k_rescaled} "
        f"with the rescaled input; on [−1, 1] it is that of x^{k_narrow}."
    )
    return [
        *said(report, worst, True, f"relative errors {metrics['relative_error_median']}"),
        *said(report, "it does not work", raw > 0.5, f"raw wide-domain error {raw:.3g}"),
        *said(
            report,
            "rescaling the input lowers it",
            rescaled < raw,
            f"rescaled {rescaled:.3g} against raw {raw:.3g}",
        ),
        *said(
            report,
            "stays far above the [−1, 1] result",
            rescaled < raw and rescaled > 10 * narrow,
            f"rescaled {rescaled:.3g} against [−1, 1] {narrow:.3g}",
        ),
    ]


def _mse_vs_ce(report: str, metrics: dict) -> list[str]:
    faster = [ce_faster(s) for s in metrics["summary"].values()]
    reach = [r["epochs_to_target"] for s in metrics["summary"].values() for r in s.values()]
    hits = [sum(v is not None for v in r) for r in reach]
    partly = sum(0 < h < len(r) for h, r in zip(hits, reach, strict=True))
    answer = report.split("## Answer")[1].split("## Checks")[0]
    found = said(
        report,
        "Cross-entropy converges faster on every data set",
        all(faster),
        f"epochs to the target: {metrics['summary']}",
    )
    found += said(
        answer,
        f"Every one of the {len(reach[0])} seeds reaches",
        all(h == len(r) for h, r in zip(hits, reach, strict=True)) and len(reach[0]) > 1,
        f"seeds reaching the target: {hits}",
    )
    if answer.count("seeds reach it)") != partly:  # the count only where some seeds fall short
        found.append(f"the answer counts the seeds that reach the target {partly} times: {hits}")
    return found


def _batch_lr(report: str, metrics: dict) -> list[str]:
    lrs, best, slope = metrics["learning_rates"], metrics["best_lr"], metrics["slope"]
    trained = [
        min((v for v in row if v is not None), default=np.inf) < TRAINS * metrics["var_y"]
        for row in metrics["median_val_mse"]
    ]
    stable = [v for v in metrics["largest_stable_lr"] if v is not None]
    edge = any(t and b in (lrs[0], lrs[-1]) for b, t in zip(best, trained, strict=True))
    found = [
        *said(
            report,
            "(nearly the same for every batch size)",
            bool(stable) and max(stable) <= 3.2 * min(stable),
            f"largest stable rates {stable}",
        ),
        *said(report, "lies at the edge of the grid", edge, f"best rates {best} on {lrs}"),
        *said(report, "no slope is fitted", sum(trained) < 2, f"trained batch sizes {trained}"),
    ]
    if trained != metrics["trained"]:
        found.append(f"calls {metrics['trained']} trained, its MSEs say {trained}")
    if slope is not None:
        found += said(report, f"trained is {round(slope, 2) + 0.0:.2f}", True, "the slope")
        low, high = _tied_slopes(metrics, trained)
        rules = {1.0: 'the "η ∝ B" rule', 0.5: "the square-root rule", 0.0: "a constant η"}
        nearest = {rules[min(rules, key=lambda r: abs(s - r))] for s in (low, high)}
        for name in rules.values():
            found += said(
                report,
                f"nearest to {name} over the whole range",
                nearest == {name},
                f"slopes {low:.3g} to {high:.3g} over the tied rates",
            )
        found += said(
            report, "cannot tell these rules apart", len(nearest) > 1, f"slopes {low} to {high}"
        )
    return found


def _tied_slopes(metrics: dict, trained: list[bool]) -> tuple[float, float]:
    """The least and the largest slope over every choice of tied best rates: a rate is tied
    when its median is within the tie fraction of the best median or at most the best rate's
    highest seed."""
    lrs = np.array(metrics["learning_rates"])
    choices = []
    for seeds, t in zip(metrics["val_mse"], trained, strict=True):
        if not t:
            continue
        val = np.array([[np.inf if v is None else v for v in row] for row in seeds])
        med = np.median(val, axis=1)
        j = int(np.argmin(med))
        tie = (med <= (1 + metrics["tie_fraction"]) * med[j]) | (med <= val[j].max())
        choices.append(lrs[tie])
    b = np.log10([b for b, t in zip(metrics["batch_sizes"], trained, strict=True) if t])
    slopes = [np.polyfit(b, np.log10(c), 1)[0] for c in itertools.product(*choices)]
    return min(slopes), max(slopes)


def _higham(report: str, metrics: dict) -> list[str]:
    c10, c11, seeds = metrics["classified"]["10"], metrics["classified"]["11"], metrics["seeds"]
    where, share = metrics["added_point_region"], metrics["region_b_share"]
    return [
        *said(report, classified_text(10, c10, seeds), True, f"classified {c10}"),
        *said(report, classified_text(11, c11, seeds), True, f"classified {c11}"),
        *said(report, f"in region {where['10']}, and training", True, f"regions {where}"),
        *said(report, f"it to region {where['11']}", where["10"] != where["11"], str(where)),
        *said(report, f"B covers {share['10']:.0%} of [0, 1]² before and", True, str(share)),
        *said(
            report,
            "The 11-point network misclassifies",
            bool(metrics["misclassified"]["11"]),
            f"misclassified {metrics['misclassified']['11']}",
        ),
    ]


def _properties(report: str, metrics: dict) -> list[str]:
    ok = sum(c["passed"] for c in metrics["checks"])
    early = metrics["ce_zero_from_lambda"] < 0.9 * metrics["ce_underflow_from_lambda"]
    return [
        *said(report, f"{ok} of {len(metrics['checks'])} facts hold", True, "checks passed"),
        *said(
            report,
            "cancellation in the formula as written",
            early,
            f"mlplab's CE is 0 from λ = {metrics['ce_zero_from_lambda']:.4g}, the exact value "
            f"underflows from λ = {metrics['ce_underflow_from_lambda']:.4g}",
        ),
    ]


def _cos4(report: str, metrics: dict) -> list[str]:
    ratio = metrics["parameters"] / metrics["n_train"]
    share = 100 * metrics["final_val_mse_median"] / metrics["val_target_variance"]
    sparse = any(abs(x) > 1.5 for x in metrics["x_of_max_error"])
    return [
        *said(report, f"(p/N = {ratio:.1f})", True, "p and N"),
        *said(report, f"{share:.2g}% of the variance of f", True, "validation MSE / variance"),
        *said(
            report, "where the data are sparse", sparse, f"maxima at {metrics['x_of_max_error']}"
        ),
    ]


#: Each study's own kinds of statement: a function (report, metrics) -> contradictions.
STATEMENTS = {
    "runge": _runge,
    "cos4": _cos4,
    "label-noise": _label_noise,
    "dead-relu": _dead_relu,
    "depth": _depth,
    "monomials": _monomials,
    "mse-vs-ce": _mse_vs_ce,
    "batch-lr": _batch_lr,
    "higham": _higham,
    "properties": _properties,
}


def contradictions(name: str, report: str, metrics: dict, quick: bool = True) -> list[str]:
    """Statements of ``report`` that its ``metrics`` contradict: every sentence with a verdict
    is checked against the numbers it is derived from."""
    return _generic(report, metrics, quick) + STATEMENTS[name](report, metrics)


def test_every_study_has_its_statements_checked():
    assert set(STATEMENTS) == set(STUDIES)


def test_a_contradicted_statement_is_found():
    metrics = {
        "checks": [{"name": "sup|σ'| is 1/4", "passed": True, "measured": ""}],
        "relative_error_median": {"a": [1e-3], "b": [0.9], "c": [0.95]},
    }
    report = f"# monomials: x (quick run)\n\n{QUICK_NOTE}\n\n| sup\\|σ'\\| is 1/4 | pass | |\n"
    report += (
        "The largest relative error is that of x^0 with the raw input and of x^0 with the "
        "rescaled input; on [−1, 1] it is that of x^0.\n"
    )
    assert contradictions("monomials", report, metrics) == [
        "does not say 'it does not work': raw wide-domain error 0.9"
    ]
    report += "On the wide domain it does not work; rescaling the input lowers it."
    assert contradictions("monomials", report, metrics) == [
        "says 'rescaling the input lowers it': rescaled 0.95 against raw 0.9"
    ]
    metrics["checks"][0]["passed"] = False
    assert contradictions("monomials", report, metrics, quick=False)[:2] == [
        "a quick report must say its numbers are not converged; a full one must not",
        'the checks table misreports "sup|σ\'| is 1/4"',
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STUDIES))
def test_quick_reports_contradict_none_of_their_numbers(quick_run, name):
    run = quick_run(name)
    report = (run.out / "report.md").read_text()
    assert contradictions(name, report, run.metrics, quick=True) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STUDIES))
def test_full_reports_contradict_none_of_their_numbers(full_run, name):
    """The full-size study (default sizes and seeds, as ``mlplab experiment run all``): its
    checks pass and its report says what its numbers say."""
    run = full_run(name)
    report = (run.out / "report.md").read_text()
    assert run.metrics["passed"], [c for c in run.metrics["checks"] if not c["passed"]]
    assert contradictions(name, report, run.metrics, quick=False) == []

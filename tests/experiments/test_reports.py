"""Reports say what their own numbers say: no sentence a study's metrics contradict."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlplab.experiments import STUDIES
from mlplab.experiments.depth import TRAINS, best_depth_text
from mlplab.experiments.label_noise import noise_verdict
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
    assert "none for sigmoid, where no depth trains" in text and "4 for relu" in text


def contradictions(name: str, report: str, metrics: dict) -> list[str]:
    """Statements of ``report`` that its ``metrics`` contradict (the known kinds)."""
    found = []
    if QUICK_NOTE not in report:
        found.append("a quick report that does not say its numbers are not converged")
    if re.search(r"10\^6|1,000,000|10⁶", report) and metrics.get("steps", 10**6) != 10**6:
        found.append(f"names 10^6 steps but took {metrics.get('steps')}")
    if name == "label-noise":
        final = float(np.median(metrics["final_mse_vs_noisy_labels"]))
        noise = metrics["noise_mse_of_labels"]
        if "near the noise level" in report and not 0.5 * noise <= final <= 2 * noise:
            found.append(f"says 'near the noise level' at {final:.3g} against {noise:.3g}")
        if "well below the noise level" in report and not final < 0.5 * noise:
            found.append(f"says 'well below the noise level' at {final:.3g} against {noise:.3g}")
    if name == "depth":
        limit = TRAINS * metrics["var_y"]
        for depth, act in re.findall(r"(\d+) for (\w+) \(median MSE", report):
            mse = min(metrics["final_mse_median"][act])
            if mse > limit:
                found.append(f"names best depth {depth} ({act}) whose MSE {mse:.3g} > {limit:.3g}")
        for act, first in metrics["first_depth_not_training"].items():
            if first is None and f"{act}: every depth trains" not in report:
                found.append(f"does not say every {act} depth trains")
    if name == "monomials":
        raw = max(list(metrics["relative_error_median"].values())[1])
        if ("it does not work" in report) != (raw > 0.5):
            found.append(f"says whether the raw wide domain works against error {raw:.3g}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STUDIES))
def test_quick_reports_contradict_none_of_their_numbers(quick_run, name):
    run = quick_run(name)
    report = (run.out / "report.md").read_text()
    assert report.splitlines()[0].endswith("(quick run)")
    assert contradictions(name, report, run.metrics) == []

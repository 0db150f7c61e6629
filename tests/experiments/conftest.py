"""Run a study in its quick (or full) form once per test session and share the result; run
one with changed parameters from the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlplab.cli import main
from mlplab.experiments.execute import run_study
from mlplab.experiments.report import StudyResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class StudyRun:
    """A study run (quick or full size, default seeds): its folder, result and metrics.json."""

    out: Path
    result: StudyResult
    metrics: dict

    def check(self, start: str):
        """The check whose name starts with ``start`` (exactly one must match)."""
        found = [c for c in self.result.checks if c.name.startswith(start)]
        assert len(found) == 1, [c.name for c in self.result.checks]
        return found[0]


def _runs(tmp_path_factory: pytest.TempPathFactory, quick: bool):
    """``get(name)`` runs the study ``name`` (``quick`` or full size) once per session."""
    cache: dict[str, StudyRun] = {}

    def get(name: str) -> StudyRun:
        if name not in cache:
            out = tmp_path_factory.mktemp(name)
            result = run_study(name, out, quick=quick, progress=False)
            metrics = json.loads((out / "metrics.json").read_text())
            cache[name] = StudyRun(out, result, metrics)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """``quick_run(name)`` runs the study ``name`` quickly (once per session)."""
    return _runs(tmp_path_factory, quick=True)


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    """``full_run(name)`` runs the study ``name`` at full size (once per session; minutes)."""
    return _runs(tmp_path_factory, quick=False)


def assert_report_files(run: StudyRun) -> None:
    """report.md, metrics.json, config.json and every figure exist; PNGs are real and non-empty."""
    report = (run.out / "report.md").read_text()
    for heading in ("**Question.**", "## Setup", "## Figures", "## Answer", "## Rerun"):
        assert heading in report
    assert "mlplab experiment run" in report
    assert json.loads((run.out / "config.json").read_text())["quick"] is True
    assert run.metrics["checks"] == [c.to_dict() for c in run.result.checks]
    assert run.result.figures
    for name, _ in run.result.figures:
        data = (run.out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
        assert f"]({name})" in report
    assert not [p for p in run.out.iterdir() if p.name.startswith(".")]


@dataclass
class SetRun:
    """A quick one-seed run from ``mlplab experiment run NAME --set ...``: its files."""

    report: str
    config: dict
    metrics: dict


def run_with_settings(out: Path, name: str, *settings: str) -> SetRun:
    """Run ``mlplab experiment run NAME --quick --seeds 1 --set SETTINGS`` into ``out``.

    The exit status is 0 or 1 (a check may fail at tiny sizes); the run's files are returned.
    """
    args = ["experiment", "run", name, "--quick", "--quiet", "--seeds", "1", "--out", str(out)]
    assert main([*args, "--set", *settings]) in (0, 1)
    return SetRun(
        (out / "report.md").read_text(),
        json.loads((out / "config.json").read_text()),
        json.loads((out / "metrics.json").read_text()),
    )


def assert_one_line_error(capsys, out: Path, name: str, *settings: str, message: str) -> None:
    """``--set SETTINGS`` is refused before any training with exit 2 and one line naming
    ``message``; no report is written."""
    args = ["experiment", "run", name, "--quick", "--quiet", "--out", str(out)]
    assert main([*args, "--set", *settings]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    assert not (out / "report.md").exists()

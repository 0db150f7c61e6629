"""The summary of a sweep: ``summary.md`` with a table of medians and one figure per metric.

Each figure ``figures/<metric>.png`` has one panel per swept parameter: the metric against that
parameter, one line per setting of the other swept parameters (pooled when there are more than
:data:`MAX_LINES`), median over seeds with a min–max band. An axis is logarithmic when its values
are positive and span a decade or more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mlplab.io import write_text

METRICS = {
    "train_mse": "training MSE",
    "val_mse": "validation MSE",
    "max_abs_error": "max |network − target| on the domain",
    "seconds": "training time (s)",
}
MAX_LINES = 6


def label(value: object) -> str:
    """A short text for a parameter value (lists as JSON, floats in %g)."""
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wide(values: np.ndarray) -> bool:
    """True for positive values spanning a decade or more (worth a log axis)."""
    values = values[np.isfinite(values)]
    return values.size > 1 and bool(np.all(values > 0)) and values.max() >= 10 * values.min()


def _setting(row: dict, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(label(row[name]) for name in names)


def _present(rows: Sequence[dict]) -> list[str]:
    return [m for m in METRICS if any(_is_number(r.get(m)) for r in rows)]


def plot_metric(rows: Sequence[dict], metric: str, swept: Sequence[str], path: Path) -> Path:
    """Write the figure of ``metric`` against each swept parameter (rows with status ok)."""
    from mlplab import plots

    fig, axes = plots.new_figure(ncols=len(swept), width=5.2, height=4.0)
    for ax, name in zip(axes, swept, strict=True):
        others = [q for q in swept if q != name]
        xs = list(dict.fromkeys(label(r[name]) for r in rows))
        raw = {label(r[name]): r[name] for r in rows}
        numeric = all(_is_number(raw[x]) for x in xs)
        if numeric:
            xs.sort(key=lambda x: raw[x])
            positions = np.array([raw[x] for x in xs], dtype=float)
        else:
            positions = np.arange(len(xs), dtype=float)
        groups: dict[tuple, list[dict]] = {}
        for r in rows:
            groups.setdefault(_setting(r, others), []).append(r)
        if len(groups) > MAX_LINES:
            groups = {("all settings of " + ", ".join(others) + " pooled",): list(rows)}
        values = []
        for key, members in groups.items():
            columns = [[r[metric] for r in members if label(r[name]) == x] for x in xs]
            depth = max(len(c) for c in columns)
            runs = np.full((depth, len(xs)), np.nan)
            for j, col in enumerate(columns):
                runs[: len(col), j] = col
            values.append(runs[np.isfinite(runs)])
            text = ", ".join(f"{q} = {v}" for q, v in zip(others, key, strict=False))
            plots.band(ax, positions, runs, label=text or "median", marker="o")
        if numeric and _wide(positions):
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(positions, xs)
        if _wide(np.concatenate(values)):
            ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(METRICS[metric])
        ax.set_title(f"{metric} against {name}")
        if others:
            ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"{METRICS[metric]}: median over seeds, band from min to max")
    return plots.save_figure(fig, path)


def write_summary(rows: Sequence[dict], swept: Sequence[str], out: Path, title: str) -> Path:
    """Write ``out/summary.md`` and ``out/figures/<metric>.png``; returns the summary path."""
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    metrics = _present(ok)
    settings: dict[tuple, list[dict]] = {}
    for r in rows:
        settings.setdefault(_setting(r, swept), []).append(r)
    lines = [
        f"# Sweep {title}",
        "",
        f"{len(rows)} runs ({len(settings)} settings); {len(ok)} ok, {len(failed)} failed. "
        f"Swept: {', '.join(swept) or 'nothing (seeds only)'}. Each run's folder is "
        f"`<run_id>/`; `results.csv` has every configuration field and metric of every run.",
        "",
        "## Median over seeds",
        "",
        "| " + " | ".join([*swept, "runs ok", *metrics]) + " |",
        "|" + "---|" * (len(swept) + 1 + len(metrics)),
    ]
    for key, members in settings.items():
        good = [r for r in members if r["status"] == "ok"]
        cells = [*key, f"{len(good)}/{len(members)}"]
        for m in metrics:
            vals = [r[m] for r in good if _is_number(r.get(m))]
            cells.append(f"{np.median(vals):.3g}" if vals else "–")
        lines.append("| " + " | ".join(cells) + " |")
    if swept and ok:
        lines += ["", "## Figures", ""]
        for m in metrics:
            path = plot_metric(ok, m, swept, out / "figures" / f"{m}.png")
            lines += [f"![{METRICS[m]} against {', '.join(swept)}](figures/{path.name})", ""]
    if failed:
        lines += ["", "## Failed runs", "", "| run id | setting | error |", "|---|---|---|"]
        for r in failed:
            setting = ", ".join(f"{k} = {label(r[k])}" for k in swept) + f", seed = {r['seed']}"
            error = str(r["error"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['run_id']} | {setting.lstrip(', ')} | {error} |")
    return write_text(out / "summary.md", "\n".join(lines).rstrip() + "\n")

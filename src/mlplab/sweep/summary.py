"""The summary of a sweep: ``summary.md`` with a table of medians and one figure per metric.

Each run has a value on each axis of the sweep (a swept parameter). Each figure
``figures/<metric>.png`` has one panel per axis: the metric against that axis, one line per
setting of the other axes (pooled when there are more than :data:`MAX_LINES`), median over
seeds with a min–max band. An axis is logarithmic when its values are positive and span a
decade or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.transforms import ScaledTranslation

from mlplab.io import write_text
from mlplab.sweep.spec import label

METRICS = {
    "train_mse": "training MSE",
    "val_mse": "validation MSE",
    "max_abs_error": "max |network − target| on the domain",
    "seconds": "training time (s)",
}
AXIS_NAMES = {
    "hidden": "hidden layer widths",
    "lr": "learning rate",
    "batch_size": "batch size",
    "n_train": "training points",
    "epochs": "epochs",
    "runs": "[[runs]] entry",
}
MAX_LINES = 6


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wide(values: np.ndarray) -> bool:
    """True for positive values spanning a decade or more (worth a log axis)."""
    values = values[np.isfinite(values)]
    return values.size > 1 and bool(np.all(values > 0)) and values.max() >= 10 * values.min()


def _key(params: dict, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(label(params[name]) for name in names)


def plot_metric(
    points: Sequence[tuple[dict, dict]], metric: str, axes: Sequence[str], path: Path
) -> Path:
    """Write the figure of ``metric`` against each axis.

    Parameters
    ----------
    points : sequence of (params, row)
        A run's value on each axis and its results row (status ok).
    """
    from mlplab import plots

    fig, panels = plots.new_figure(ncols=len(axes), width=5.6, height=4.4)
    for ax, name in zip(panels, axes, strict=True):
        others = [q for q in axes if q != name]
        raw = {label(p[name]): p[name] for p, _ in points}
        xs = list(raw)
        numeric = all(_is_number(v) for v in raw.values())
        if numeric:
            xs.sort(key=lambda x: raw[x])
        positions = np.array([raw[x] for x in xs] if numeric else range(len(xs)), dtype=float)
        groups: dict[str, list] = {}
        for p, row in points:
            text = ", ".join(f"{q} = {v}" for q, v in zip(others, _key(p, others), strict=True))
            groups.setdefault(text, []).append((p, row))
        if len(groups) > MAX_LINES:
            groups = {f"pooled over {', '.join(others)} (and seeds)": list(points)}
        values = []
        for text, members in groups.items():
            columns = [[row[metric] for p, row in members if label(p[name]) == x] for x in xs]
            runs = np.full((max(len(c) for c in columns), len(xs)), np.nan)
            for j, col in enumerate(columns):
                runs[: len(col), j] = col
            values.append(runs[np.isfinite(runs)])
            plots.band(ax, positions, runs, label=text or "median", marker="o")
        if numeric and _wide(positions):
            ax.set_xscale("log")
        ticks = [x.replace("; ", "\n") for x in xs]  # a [[runs]] entry: one setting a line
        if not numeric:
            ax.set_xticks(positions, ticks)
            ax.margins(x=0.15)
        if _wide(np.concatenate(values)):
            ax.set_yscale("log")
        ax.set_xlabel(f"{name} ({AXIS_NAMES[name]})" if name in AXIS_NAMES else name)
        ax.set_ylabel(METRICS[metric])
        ax.set_title(f"{metric} against {name}")
        if others and len(groups) <= 2:
            ax.legend(loc="best", fontsize="small")
        elif others:  # below the panel, clear of the tick labels and the axis label
            below = 0.33 + 0.17 * max(t.count("\n") + 1 for t in ticks)
            shift = ScaledTranslation(0, -below, fig.dpi_scale_trans)
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, 0),
                bbox_transform=ax.transAxes + shift,
                fontsize="small",
            )
    fig.suptitle(f"{METRICS[metric]}: median over seeds, band from min to max")
    return plots.save_figure(fig, path)


def write_summary(rows: Sequence[dict], params: Sequence[dict], out: Path, title: str) -> Path:
    """Write ``out/summary.md`` and ``out/figures/<metric>.png``; returns the summary path.

    Parameters
    ----------
    rows : sequence of dict
        Results rows (:func:`mlplab.sweep.tasks.result_row`).
    params : sequence of dict
        For each row, its value on each axis of the sweep (the same keys for every row).
    """
    axes = list(params[0]) if params else []
    ok = [(p, r) for p, r in zip(params, rows, strict=True) if r["status"] == "ok"]
    failed = [(p, r) for p, r in zip(params, rows, strict=True) if r["status"] != "ok"]
    metrics = [m for m in METRICS if any(_is_number(r.get(m)) for _, r in ok)]
    settings: dict[tuple, list[dict]] = {}
    for p, r in zip(params, rows, strict=True):
        settings.setdefault(_key(p, axes), []).append(r)
    lines = [
        f"# Sweep {title}",
        "",
        f"{len(rows)} runs ({len(settings)} settings); {len(ok)} ok, {len(failed)} failed. "
        f"Swept: {', '.join(axes) or 'nothing (seeds only)'}. Each run's folder is "
        f"`<run_id>/`; `results.csv` has every configuration field and metric of every run.",
        "",
        "## Median over seeds",
        "",
        "| " + " | ".join([*axes, "runs ok", *metrics]) + " |",
        "|" + "---|" * (len(axes) + 1 + len(metrics)),
    ]
    for key, members in settings.items():
        good = [r for r in members if r["status"] == "ok"]
        cells = [*key, f"{len(good)}/{len(members)}"]
        for m in metrics:
            vals = [r[m] for r in good if _is_number(r.get(m))]
            cells.append(f"{np.median(vals):.3g}" if vals else "–")
        lines.append("| " + " | ".join(cells) + " |")
    if axes and ok:
        lines += ["", "## Figures", ""]
        for m in metrics:
            path = plot_metric(ok, m, axes, out / "figures" / f"{m}.png")
            lines += [f"![{METRICS[m]} against {', '.join(axes)}](figures/{path.name})", ""]
    if failed:
        lines += ["", "## Failed runs", "", "| run id | setting | error |", "|---|---|---|"]
        for p, r in failed:
            setting = ", ".join(
                [*(f"{k} = {label(v)}" for k, v in p.items()), f"seed = {r['seed']}"]
            )
            error = str(r["error"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['run_id']} | {setting} | {error} |")
    return write_text(out / "summary.md", "\n".join(lines).rstrip() + "\n")

"""A whole sweep: expand the spec, run it on Dask, write ``results.csv`` and ``summary.md``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlplab.sweep.results import write_results
from mlplab.sweep.spec import SweepSpec
from mlplab.sweep.summary import write_summary
from mlplab.sweep.tasks import run_configs


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 10.0,
    force: bool = False,
    progress: bool = False,
    on_start: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every run of ``spec`` into ``out`` (see :func:`run_configs` for the arguments).

    Writes ``out/<run id>/`` for each run, then ``out/results.csv`` (rows in the spec's order)
    and ``out/summary.md`` with ``out/figures/``. Returns the rows.
    """
    out = Path(out)
    rows = run_configs(
        [r.config for r in spec.runs],
        out,
        workers=workers,
        scheduler=scheduler,
        timeout=timeout,
        force=force,
        progress=progress,
        on_start=on_start,
    )
    write_results(rows, out / "results.csv")
    write_summary(rows, [r.params for r in spec.runs], out, spec.name)
    return rows

"""``mlplab sweep SPEC.toml``: the command line of sweeps."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
from pathlib import Path

from rich.markup import escape

from mlplab.cli.common import UsageError, add_quiet, console, err_console, writable_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to the ``mlplab`` parser."""
    p = sub.add_parser(
        "sweep",
        help="run a grid of training runs in parallel (Dask)",
        description="Run every configuration of a TOML sweep spec, each into OUT/<run id>/, "
        "then write OUT/results.csv and OUT/summary.md with figures. Runs whose folders are "
        "complete are skipped (rerun the same command to resume). Without --scheduler the "
        "runs go to a local Dask cluster of --workers processes. See docs/sweeps.md.",
    )
    p.add_argument("spec", help="sweep spec (TOML), e.g. examples/sweep.toml")
    p.add_argument("--out", default=None, help="output folder (default: runs/<spec name>)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"worker processes of the local cluster (default: the core count, {os.cpu_count()})",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="address of a running Dask scheduler (`dask scheduler`) instead of a local cluster",
    )
    p.add_argument("--force", action="store_true", help="rerun runs that are already complete")
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the scheduler and its first worker (default: 10)",
    )
    add_quiet(p)
    p.add_argument(
        "--yes", action="store_true", help="run a sweep of more than 10,000 runs without asking"
    )
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from mlplab.sweep import ClusterError, load_spec, run_sweep
    from mlplab.sweep.spec import MAX_RUNS

    most = 4 * (os.cpu_count() or 1)  # each worker is a process with its own memory
    if args.workers is not None and not 1 <= args.workers <= most:
        raise UsageError(
            f"--workers must be from 1 to {most} (4 per core of this machine), got "
            f"{args.workers}; for more, start a Dask cluster and give --scheduler"
        )
    if args.workers is not None and args.scheduler:
        raise UsageError(
            "--workers sets the size of the local cluster; with --scheduler the cluster's own "
            "workers run the sweep: drop one of the two"
        )
    if not 0 < args.timeout < float("inf"):
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    spec = load_spec(
        args.spec,
        max_runs=None if args.yes else MAX_RUNS,
        on_count=lambda n: console.print(f"{args.spec}: {n} runs; checking them", highlight=False),
    )
    out = Path(args.out or f"runs/{spec.name}")
    new = not out.exists()
    out = writable_dir(out)
    where = (
        f"the Dask scheduler at {args.scheduler}"
        if args.scheduler
        else f"a local Dask cluster of {args.workers or os.cpu_count()} worker processes"
    )
    seeds = f" × {len(spec.seeds)} seeds" if spec.seeds else ""

    def on_start(plan: dict) -> None:
        console.print(
            f"sweep [bold]{spec.name}[/]: {plan['runs']} runs ({spec.settings} settings{seeds}) "
            f"into {out}",
            highlight=False,
            soft_wrap=True,
        )
        if plan["removed_partial"]:
            console.print(
                f"removed {plan['removed_partial']} unfinished run folder(s) left by an "
                f"interrupted sweep",
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"{plan['complete']} complete already (skipped), {plan['to_run']} to run"
            + (f" on {where}" if plan["to_run"] else ""),
            highlight=False,
            soft_wrap=True,
        )
        if plan["dashboard"]:
            console.print(f"Dask dashboard: {plan['dashboard']}", highlight=False)

    # Dask's own log lines (here and in the worker processes it starts) would break the bar
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    try:
        rows = run_sweep(
            spec,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            timeout=args.timeout,
            force=args.force,
            progress=not args.quiet,
            on_start=on_start,
        )
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if new:
            _remove_unfinished(out, local=args.scheduler is None)
    failed = [r for r in rows if r["status"] != "ok"]
    console.print(
        f"{len(rows) - len(failed)} ok, {len(failed)} failed; wrote {out / 'results.csv'} and "
        f"{out / 'summary.md'}",
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        for r in failed:
            err_console.print(
                f"[red]failed[/red] {r['run_id']}: {escape(r['error'])}", highlight=False
            )
        names = ", ".join(r["run_id"] for r in failed)
        err_console.print(f"{len(failed)} run(s) failed: {names}", highlight=False)
        return 1
    return 0


def _remove_unfinished(out: Path, local: bool) -> None:
    """Remove the folder ``out`` this sweep made if it holds no complete run (the sweep stopped
    before its first): an empty one, or on the local cluster, whose workers have stopped, one
    that holds only staging files (the runs of a ``--scheduler`` cluster may still write theirs).
    """
    if not out.is_dir() or any(not p.name.startswith(".") for p in out.iterdir()):
        return
    if local:
        shutil.rmtree(out, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            out.rmdir()  # only when empty

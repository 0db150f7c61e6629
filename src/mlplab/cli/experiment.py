"""The ``experiment`` command: ``mlplab experiment list``, ``mlplab experiment show NAME`` and
``mlplab experiment run NAME|all [--quick] [--seeds K] [--out DIR] [--set KEY=VALUE ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from mlplab.cli.common import UsageError, add_quiet, console, err_console, writable_parent
from mlplab.experiments import STUDIES, get_study


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``experiment`` command (with ``list`` and ``run``) to the ``mlplab`` parser."""
    p = sub.add_parser(
        "experiment",
        help="run the classic studies and write a report for each",
        description="The classic studies of the lectures, one command each. Every run writes "
        "report.md (question, setup, figures, measured answer), the figures, metrics.json and "
        "config.json.",
    )
    p.set_defaults(func=lambda args: _usage(p))
    cmds = p.add_subparsers(dest="experiment_command", metavar="ACTION")
    cmds.add_parser("list", help="list the studies").set_defaults(func=_cmd_list)
    r = cmds.add_parser(
        "run",
        help="run one study (or all)",
        description="Run a study and write its folder. 'all' runs every study into "
        "OUT/NAME and writes an index report OUT/report.md.",
    )
    r.add_argument("name", metavar="NAME", help=f"one of: {', '.join(STUDIES)}, or 'all'")
    r.add_argument("--quick", action="store_true", help="the small version (seconds), as CI runs")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the study's)")
    r.add_argument("--out", default=None, help="output folder (default runs/experiments/NAME)")
    add_quiet(r)
    r.add_argument(
        "--workers",
        type=int,
        default=None,
        help="run the studies as tasks on a local Dask cluster of this many workers "
        "(the machinery of 'mlplab sweep'; needs mlplab[dist])",
    )
    r.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the studies as tasks on this running Dask scheduler",
    )
    r.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="change a parameter of the study, e.g. --set width=11 domain=10 "
        "(mlplab experiment show NAME lists them)",
    )
    r.set_defaults(func=_cmd_run)
    s = cmds.add_parser("show", help="a study's title and the parameters --set may change")
    s.add_argument("name", metavar="NAME", help=f"one of: {', '.join(STUDIES)}")
    s.set_defaults(func=_cmd_show)


def _usage(parser: argparse.ArgumentParser) -> int:
    """``mlplab experiment`` without an action: print its help, exit status 2."""
    parser.print_help()
    return 2


def _cmd_list(args: argparse.Namespace) -> int:
    table = Table(title="mlplab experiments")
    table.add_column("name")
    table.add_column("title")
    for name in STUDIES:
        table.add_row(name, get_study(name).TITLE)
    console.print(table)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from mlplab.experiments.params import parameters, written

    study = get_study(args.name)
    console.print(f"{args.name}: {escape(study.TITLE)}", highlight=False)
    table = Table(
        title="parameters (--set KEY=VALUE)",
        caption="--quick uses the quick column's value where there is one; "
        "a value given with --set is used as given, with or without --quick",
    )
    for column in ("parameter", "default", "quick", "what it sets"):
        table.add_column(column)
    for p in parameters(study):
        quick = "" if p.quick is None else written(p.quick)
        table.add_row(p.name, p.shown(), quick, escape(p.help))
    console.print(table)
    return 0


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path) -> Iterator[None]:
    """Remove ``folder`` if it did not exist before and is empty when the block fails or is
    interrupted (no study finished into it)."""
    new = not os.path.lexists(folder)
    try:
        yield
    except BaseException:
        if new:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty
        raise


def _cmd_run(args: argparse.Namespace) -> int:
    from mlplab.cluster import ClusterError
    from mlplab.experiments.execute import check_seeds, run_all, run_studies
    from mlplab.experiments.params import parse_settings

    try:
        params = {}
        if args.name != "all":
            params = parse_settings(args.name, get_study(args.name), args.set)
        elif args.set:
            raise ValueError("--set changes one study's parameters; name the study, not 'all'")
        check_seeds(args.seeds)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        raise UsageError(
            "give --workers (a local cluster) or --scheduler (a running one), not both"
        )
    # a study's folder is written whole, beside itself (mlplab.runfolder): only its parent is
    # made here, so that a run that never finishes leaves nothing
    out = writable_parent(args.out or f"runs/experiments/{args.name}")
    cluster = None
    if args.workers is not None or args.scheduler is not None:
        cluster = {"workers": args.workers, "scheduler": args.scheduler}
    try:
        if args.name == "all":
            with _removed_if_left_empty(out):  # the folder of the studies' folders
                results = run_all(out, args.quick, args.seeds, not args.quiet, cluster=cluster)
        else:
            results = run_studies(
                {args.name: out}, args.quick, args.seeds, not args.quiet, cluster, params
            )
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    table = Table(title="mlplab experiment run")
    table.add_column("study")
    table.add_column("checks", justify="right")
    table.add_column("report")
    failed = []
    for name, res in results.items():
        ok = sum(c.passed for c in res.checks)
        table.add_row(
            name,
            f"{ok}/{len(res.checks)}",
            str(out / name / "report.md") if args.name == "all" else str(out / "report.md"),
        )
        failed += [f"{name}: {c.name} ({c.measured})" for c in res.checks if not c.passed]
    console.print(table)
    for line in failed:
        err_console.print(f"[red]check failed[/red] {escape(line)}", highlight=False)
    return 1 if failed else 0

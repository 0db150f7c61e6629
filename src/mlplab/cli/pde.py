"""The ``pde`` command: ``mlplab pde list`` and ``mlplab pde run NAME [--quick] [--out DIR]``."""

from __future__ import annotations

import argparse

from rich.table import Table

from mlplab.cli.common import add_quiet, console
from mlplab.pde.problems import BUILTINS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``pde`` command (with ``list`` and ``run``) to the ``mlplab`` parser."""
    p = sub.add_parser(
        "pde",
        help="solve differential equations with a network (physics-informed)",
        description="Built-in differential equations with exact solutions, solved by a network "
        "whose input derivatives come from the forward recursion. Every run writes report.md, "
        "metrics.json (rel_l2_error against the exact solution), the figures, history.csv, "
        "config.json and model.npz.",
    )
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    cmds = p.add_subparsers(dest="pde_command", metavar="ACTION")
    cmds.add_parser("list", help="list the problems").set_defaults(func=_cmd_list)
    r = cmds.add_parser(
        "run",
        help="solve one problem and write its folder",
        description="Solve a built-in problem (mlplab pde list names them) and write its "
        "folder: report.md, metrics.json, the figures, history.csv, config.json and model.npz.",
    )
    r.add_argument("name", metavar="NAME", help=f"one of: {', '.join(BUILTINS)}")
    r.add_argument("--quick", action="store_true", help="the small version (seconds), as CI runs")
    r.add_argument("--out", default=None, help="output folder (default runs/pde/NAME)")
    add_quiet(r)
    r.set_defaults(func=_cmd_run)


def _cmd_list(args: argparse.Namespace) -> int:
    table = Table("name", "problem")
    for b in BUILTINS.values():
        table.add_row(b.name, b.title)
    console.print(table)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from mlplab.pde.run import run_problem

    out = args.out or f"runs/pde/{args.name}"
    m = run_problem(args.name, out, quick=args.quick, progress=not args.quiet)
    console.print(  # one line, however narrow the terminal or pipe
        f"{args.name}: relative L2 error {m['rel_l2_error']:.3e}, {m['steps']} steps, "
        f"{m['seconds']:.3g} s ({m['status']}); wrote {out}/report.md",
        highlight=False,
        soft_wrap=True,
    )
    return 0

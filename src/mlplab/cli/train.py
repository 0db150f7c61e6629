"""``mlplab train``: fit a target function (or a data file) and write a run folder.

The options are generated from :class:`mlplab.config.TrainConfig`; the run is
:func:`mlplab.train_run.train_run`.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from mlplab.cli.common import (
    DefaultsHelpFormatter,
    add_quiet,
    console,
    err_console,
    say_replacing,
    writable_parent,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the ``mlplab`` parser."""
    from mlplab.config import add_options

    p = sub.add_parser(
        "train",
        help="train a network on a target function or data file",
        description="Train an MLP and write config.json, model.npz, history.csv, metrics.json, "
        "fit.png and loss.png into --out.",
        formatter_class=DefaultsHelpFormatter,
    )
    add_options(p)
    p.add_argument("--out", default="runs/train", help="run folder to write")
    add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, write the run folder, print a table of the results; returns the exit status."""
    from mlplab.config import TrainConfig
    from mlplab.train_run import train_run

    cfg = TrainConfig.from_args(args)
    out = writable_parent(args.out)
    result = train_run(
        cfg, out, progress=not args.quiet, on_replace=lambda: say_replacing(out, "run")
    )
    table = Table(title=f"mlplab train: {cfg.target if not cfg.data else cfg.data}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    shape = "-".join(map(str, result.net.sizes))
    act = cfg.activation if cfg.hidden else f"no hidden layer, {cfg.output_activation} output"
    table.add_row("network", f"{shape} {act}" if cfg.hidden else f"{shape} ({act})")
    table.add_row("parameters p", str(result.net.num_parameters))
    for key in ("train_mse", "val_mse", "train_accuracy", "val_accuracy", "max_abs_error"):
        if key in result.metrics:
            value = result.metrics[key]
            if value is None:
                table.add_row(key, "n/a")
            else:
                table.add_row(key, f"{value:.1%}" if key.endswith("accuracy") else f"{value:.3e}")
    table.add_row("epochs", f"{result.history.epochs} ({result.history.steps} steps)")
    table.add_row("seconds", f"{result.metrics['seconds']:.2f}")
    table.add_row("status", result.history.status)
    table.add_row("run folder", str(out))
    console.print(table)
    if result.history.status == "diverged":
        err_console.print(result.history.message, style="red", soft_wrap=True)
        return 1
    return 0

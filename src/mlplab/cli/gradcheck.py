"""``mlplab gradcheck``: backprop and input derivatives of a random network against central
finite differences (float64); exit status 1 when a relative error exceeds ``--tol``.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
from rich.markup import escape
from rich.table import Table

from mlplab.cli.common import DefaultsHelpFormatter, UsageError, console
from mlplab.config import WidthsAction
from mlplab.gradcheck import DEFAULT_H
from mlplab.losses import NAMES as LOSS_NAMES
from mlplab.values import WIDTHS_FORMAT


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``gradcheck`` command to the ``mlplab`` parser."""
    p = sub.add_parser(
        "gradcheck",
        help="check backprop and input derivatives against finite differences",
        description="Compare backprop gradients, the input gradient and the input Jacobian of a "
        "random network with centred finite differences (float64). Exits 1 when "
        "any relative error exceeds --tol.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        action=WidthsAction,
        default=[3, 5, 4, 1],
        metavar="N",
        help=f"layer widths n_1 ... n_L, {WIDTHS_FORMAT}",
    )
    p.add_argument(
        "--activation",
        default="tanh",
        help="σ of the hidden layers: sigmoid, tanh, relu, leaky_relu[:alpha], elu[:alpha], "
        "softplus, gelu, sin, identity",
    )
    p.add_argument(
        "--output-activation",
        default=None,
        help="σ of the output layer (default: sigmoid for bce, identity otherwise)",
    )
    p.add_argument("--loss", default="mse", help=f"one of: {', '.join(LOSS_NAMES)}")
    p.add_argument("--points", type=int, default=8, help="number of random input points")
    p.add_argument("--h", type=float, default=DEFAULT_H, help="finite-difference step")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error accepted")
    p.add_argument("--seed", type=int, default=0, help="seeds the network and the points")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlplab.gradcheck import check_cost, check_gradients
    from mlplab.losses import get_loss
    from mlplab.network import MLP

    loss = get_loss(args.loss)
    net = MLP(
        args.sizes,
        activation=args.activation,
        output_activation=args.output_activation
        or ("sigmoid" if loss.name == "bce" else "identity"),
        seed=args.seed,
        bias_init="normal:0,0.5",
    )
    rng = np.random.default_rng(args.seed + 1)
    if args.points < 1:
        raise UsageError(f"--points must be >= 1, got {args.points}")
    if not (args.h > 0 and args.tol > 0):
        raise UsageError(f"--h and --tol must be > 0, got {args.h:g} and {args.tol:g}")
    net.check_batch(args.points, "--points")
    check_cost(net, args.points)  # before the points are drawn
    X = rng.standard_normal((args.points, net.sizes[0]))
    if loss.integer_targets:
        y = rng.integers(0, net.sizes[-1], size=args.points)
    elif loss.name == "bce":
        y = rng.uniform(size=(args.points, net.sizes[-1]))
    else:
        y = rng.standard_normal((args.points, net.sizes[-1]))
    result = check_gradients(net, X, y, args.loss, h=args.h, tol=args.tol)
    arch = "-".join(map(str, net.sizes))
    title = f"gradcheck {arch} {args.activation}, loss {loss.name}"
    table = Table(title=title, min_width=len(title))  # as wide as its title: never wrapped
    table.add_column("array")
    table.add_column("relative error", justify="right")
    table.add_column("ok", justify="center")
    for name, err in result.errors.items():
        shown = re.sub(r"^([Wb])(\d+)$", r"\1^[\2]", name)  # W2 -> W^[2], the paper's name
        table.add_row(escape(shown), f"{err:.2e}", "yes" if err <= args.tol else "[red]NO[/red]")
    console.print(table)
    verdict = "passed" if result.passed else "FAILED"
    console.print(
        f"max relative error {result.max_error:.2e} (step h = {args.h:g}, tolerance "
        f"{args.tol:g}): {verdict}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "relative error of an array: ‖backprop − central differences‖₂ / the larger of the "
        "two norms",
        highlight=False,
        soft_wrap=True,
    )
    if not result.passed and args.h != DEFAULT_H:
        console.print(
            f"a central difference errs by about h² + 1e-16/h, so with --h {args.h:g} its own "
            f"error can exceed --tol: rerun with the default --h {DEFAULT_H:g} before doubting "
            f"backprop",
            highlight=False,
            soft_wrap=True,
        )
    return 0 if result.passed else 1

"""``mlplab diagnose``: dead units, saturation, gradient and error norms of a saved model, per
layer."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich import box
from rich.markup import escape
from rich.table import Table

from mlplab.cli.common import DefaultsHelpFormatter, UsageError, console
from mlplab.losses import NAMES as LOSS_NAMES

#: Where ``diagnose --target`` puts its points unless told otherwise.
_DIAGNOSE_POINTS = {"domain": [-1.0, 1.0], "n_points": 256, "sampling": "uniform", "seed": 0}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` command to the ``mlplab`` parser."""
    from mlplab.data import SAMPLINGS, TARGET_NAMES
    from mlplab.diagnostics import THRESHOLD

    p = sub.add_parser(
        "diagnose",
        help="dead units, saturation, gradient and error norms of a saved model",
        description="For every layer l = 2..L of a saved model, on the given points: the dead "
        "units (σ' = 0 at every point), the fraction of saturated (point, unit) pairs "
        "(|σ'| <= threshold * largest |σ'|) and, with targets, the gradient norms "
        "||dC/dW^[l]||_F and ||dC/db^[l]||_2 of the cost over all the points, and the mean "
        "over the points of the error norm ||δ^[l](x)||_2.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("model", help="a model.npz written by mlplab")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--data",
        help="CSV (x columns then y) or NPZ (x, y) of points and targets, or 'higham': the "
        "paper's 10 points",
    )
    src.add_argument(
        "--input", help="CSV or NPZ ('x') of points without targets: no gradient or error norms"
    )
    src.add_argument(
        "--target",
        help=f"registered target ({', '.join(TARGET_NAMES)}) or a formula in x such as "
        "'sin(3*x) + x**2', for a model with one input and one output",
    )
    g = p.add_argument_group("points for --target")
    g.add_argument(
        "--domain",
        nargs=2,
        type=float,
        default=_DIAGNOSE_POINTS["domain"],
        metavar=("LOW", "HIGH"),
        help="interval of x",
    )
    g.add_argument(
        "--n-points", type=int, default=_DIAGNOSE_POINTS["n_points"], help="number of points"
    )
    g.add_argument(
        "--sampling",
        default=_DIAGNOSE_POINTS["sampling"],
        choices=SAMPLINGS,
        help="how x is drawn; 'normal' uses mean and half-width of --domain",
    )
    g.add_argument("--seed", type=int, default=_DIAGNOSE_POINTS["seed"], help="seeds the points")
    p.add_argument(
        "--loss",
        default=None,
        help=f"one of: {', '.join(LOSS_NAMES)} (default: with --data, the loss of the run "
        "whose config.json is beside the model; else mse)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help="saturated where |σ'| <= threshold * largest |σ'| (a number in [0, 1))",
    )
    p.set_defaults(func=run)


def _diagnose_points(
    args: argparse.Namespace, n_in: int, n_out: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The points ``X`` and targets ``y`` (None for ``--input``) that ``diagnose`` was given."""
    from mlplab.data import load_data, load_x, sample, target_values
    from mlplab.losses import get_loss

    if args.target is None:
        given = [
            f"--{k.replace('_', '-')}"
            for k, default in _DIAGNOSE_POINTS.items()
            if getattr(args, k) != default
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} describe the points of --target and do nothing with "
                f"--data or --input; drop them"
            )
        if args.input is not None:
            return load_x(args.input, n_in), None
        x, y = load_data(args.data, n_in)
        if get_loss(args.loss).integer_targets and y.shape[1] == 1 and n_out > 1:
            y = y[:, 0]  # one column of class labels, as train reads it
        return x, y
    if (n_in, n_out) != (1, 1):
        raise UsageError(
            f"--target is a function of one variable with one value, but the model has "
            f"{n_in} input(s) and {n_out} output(s): give points with --data or --input"
        )
    x = sample(args.n_points, tuple(args.domain), args.sampling, args.seed)
    return x, target_values(args.target, x)


def run(args: argparse.Namespace) -> int:
    from mlplab.diagnostics import COLUMNS, diagnose
    from mlplab.io import model_meta
    from mlplab.pde.problems import load_model

    net, problem = load_model(args.model)  # refuses a PDE model that does not fit its problem
    if args.loss is None:  # the run's loss on data like the run's, else mse (a target's values)
        given = args.data is not None
        args.loss = _run_loss(Path(args.model).parent / "config.json") if given else "mse"
    X, y = _diagnose_points(args, net.sizes[0], net.sizes[-1])
    result = diagnose(net, X, y, loss=args.loss, threshold=args.threshold)
    caption = result.summary()
    if problem is not None:
        caption += (
            f"; the network's output a^[L], not the solution u of the PDE problem "
            f"{model_meta(args.model)['pde_problem']} (mlplab predict gives u)"
        )
    table = Table(  # rules under the header only, so that 80 columns hold every number
        title=escape(f"mlplab diagnose: {args.model}, {'-'.join(map(str, net.sizes))}"),
        caption=escape(caption),
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for name, justify in COLUMNS:
        table.add_column(escape(name), justify=justify, overflow="fold")
    for row in result.rows():
        table.add_row(*map(escape, row))
    console.print(table)
    return 0


def _run_loss(config: Path) -> str:
    """The loss named in a run folder's ``config.json`` (read with bounds), or ``"mse"`` where
    there is none or it names none."""
    from mlplab.errors import MlplabError
    from mlplab.io import read_json

    if not config.is_file():
        return "mse"
    try:
        values = read_json(config, MlplabError)
    except MlplabError:
        return "mse"
    loss = values.get("loss") if isinstance(values, dict) else None
    return loss if isinstance(loss, str) else "mse"

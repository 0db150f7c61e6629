"""``mlplab predict``: the output of a saved model at given points, as CSV."""

from __future__ import annotations

import argparse

import numpy as np

from mlplab.cli.common import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command to the ``mlplab`` parser."""
    p = sub.add_parser(
        "predict",
        help="evaluate a saved model",
        description="Print the network output for inputs given with --x (numbers, row by row) "
        "or --input (a CSV or NPZ file of x values), as CSV: every number in the shortest form "
        "that reads back as the same float64.",
    )
    p.add_argument("model", help="a model.npz written by mlplab")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--x", nargs="+", type=float, metavar="X", help="input values; n_1 numbers make one point"
    )
    src.add_argument("--input", help="CSV file of inputs (one point per row) or NPZ with 'x'")
    p.add_argument(
        "--gradient",
        action="store_true",
        help="also print the input gradient ∇a^[L](x) (columns dy1/dx1, ...; the Jacobian "
        "dyi/dxj when the model has several outputs)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlplab.data import load_x
    from mlplab.network import MLP

    net = MLP.load(args.model)
    n_in = net.sizes[0]
    if args.x is not None:
        if len(args.x) % n_in:
            raise UsageError(f"the model takes {n_in} inputs per point; got {len(args.x)} numbers")
        X = np.array(args.x).reshape(-1, n_in)
    else:
        X = load_x(args.input, n_in)
    Y = net(X)
    cols = [f"x{j + 1}" for j in range(n_in)] + [f"y{j + 1}" for j in range(Y.shape[1])]
    blocks = [X, Y]
    if args.gradient:
        blocks.append(net.input_jacobian(X).reshape(len(X), -1))  # row i: dyi/dx1 ... dyi/dxn
        cols += [f"dy{i + 1}/dx{j + 1}" for i in range(Y.shape[1]) for j in range(n_in)]
    print(",".join(cols))
    for row in np.hstack(blocks):
        print(",".join(repr(float(v)) for v in row))  # shortest text that round-trips
    return 0

"""``mlplab predict``: the output of a saved model at given points, as CSV; for a model written by
``mlplab pde run``, the solution u of its problem."""

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
        "that reads back as the same float64. For a model written by 'mlplab pde run' it "
        "prints the solution u (the network output through the problem's output transform, as "
        "the run's report shows it), the inputs being the problem's variables in order (t, x "
        "for burgers).",
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
        "dyi/dxj when the model has several outputs; ∇u for a PDE model)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlplab.data import load_x
    from mlplab.pde.problems import load_model

    net, problem = load_model(args.model)
    n_in = net.sizes[0]
    if problem is None:  # the network's output is the answer
        ins, outs = [f"x{j + 1}" for j in range(n_in)], [f"y{j + 1}" for j in range(net.sizes[-1])]
    else:
        ins, outs = list(problem.domain.names), ["u"]
    if args.x is not None:
        if len(args.x) % n_in:
            raise UsageError(
                f"the model takes {n_in} inputs per point ({', '.join(ins)}); got "
                f"{len(args.x)} numbers"
            )
        X = np.array(args.x).reshape(-1, n_in)
    else:
        X = load_x(args.input, n_in)
    blocks = [X, net(X) if problem is None else problem.solution(net, X)[:, None]]
    if args.gradient:  # row i: dyi/dx1 ... dyi/dxn
        J = net.input_jacobian(X) if problem is None else problem.solution_gradient(net, X)
        blocks.append(J.reshape(len(X), -1))
    cols = ins + outs + [f"d{o}/d{i}" for o in outs for i in ins] * args.gradient
    print(",".join(cols))
    for row in np.hstack(blocks):
        print(",".join(repr(float(v)) for v in row))  # shortest text that round-trips
    return 0

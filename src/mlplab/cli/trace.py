"""The ``trace`` command: every number of one gradient step, or a backpropagation exercise.

``mlplab trace MODEL.npz --x ... --y ...`` traces a saved model; ``mlplab trace --sizes ...
[--weights FILE] --x ... --y ...`` a network given on the command line; ``mlplab trace --random
--sizes 2 3 1 --seed 5`` writes an exercise (``exercise.md``, ``solution.md``, ``network.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from collections.abc import Iterator

import numpy as np

from mlplab.cli.common import UsageError, say_replacing, writable_file, writable_parent
from mlplab.config import WidthsAction
from mlplab.losses import NAMES as LOSS_NAMES
from mlplab.values import WIDTHS_FORMAT

FORMATS = ("text", "md", "html", "json")
#: The file of an exercise's network; it marks a folder as an exercise that may be replaced.
NETWORK_FILE = "network.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``trace`` command to the ``mlplab`` parser."""
    p = sub.add_parser(
        "trace",
        help="every number of one forward pass, backward pass and gradient step, with formulas",
        description="Run one point (or a few) through the forward pass, the cost, backprop, "
        "the input-gradient recursion (n_L = 1) and one gradient step, and print every "
        "quantity with the formula it comes from (the notation of Higham & Higham). The "
        "network is a model file, or --sizes with --weights (JSON or NPZ holding W2, b2, W3, "
        "...; without it, weights drawn from --seed). With --random, write an exercise: a small "
        "random network and point, the questions and a separate worked solution.",
    )
    p.add_argument("model", nargs="?", default=None, help="a model.npz written by mlplab")
    g = p.add_argument_group("a network given inline")
    g.add_argument(
        "--sizes",
        nargs="+",
        action=WidthsAction,
        metavar="N",
        help=f"layer widths n_1 ... n_L, {WIDTHS_FORMAT}",
    )
    g.add_argument("--activation", default=None, help="σ of the hidden layers (default: sigmoid)")
    g.add_argument(
        "--output-activation",
        default=None,
        help="σ of the output layer (default: identity for cross_entropy and bce_logits, which "
        "take logits; sigmoid for bce; otherwise --activation where it is sigmoid or tanh, as in "
        "the paper, and identity for others, such as relu, whose output would be 0 wherever z < 0)",
    )
    g.add_argument("--weights", default=None, help="JSON or NPZ file of W2, b2, W3, b3, ...")
    g.add_argument(
        "--seed",
        type=int,
        default=None,
        help="draws the weights (no --weights) or the exercise (default: 0)",
    )
    g = p.add_argument_group("the step")
    g.add_argument("--x", nargs="+", type=float, metavar="X", help="n_1 numbers per point")
    g.add_argument(
        "--y",
        nargs="+",
        type=float,
        metavar="Y",
        help="n_L numbers per point (a label each for cross_entropy)",
    )
    g.add_argument(
        "--loss", default="half_sse", help=f"one of: {', '.join(LOSS_NAMES)} (default: half_sse)"
    )
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate η of the step (default: the paper's 0.05; 0.5 for an exercise)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--format",
        default=None,
        choices=FORMATS,
        help="how to print the trace (default: text; an exercise is always Markdown)",
    )
    g.add_argument("--digits", type=int, default=6, help="significant digits shown (default: 6)")
    g.add_argument(
        "--out",
        default=None,
        help="write to this file instead of printing (with --random: the exercise folder, "
        "default exercise-SEED, written whole; an earlier exercise there is replaced)",
    )
    g.add_argument(
        "--random",
        action="store_true",
        help="write an exercise (exercise.md, solution.md, network.json) from --sizes, "
        "--seed, --activation, --output-activation, --loss and --lr: a network and point drawn "
        "so that every layer's σ'(z) and gradient are not all 0",
    )
    p.set_defaults(func=run)


def _network(args: argparse.Namespace):
    """The MLP the arguments name: a model file, or --sizes with --weights or --seed."""
    from mlplab.io import read_parameters
    from mlplab.network import MLP
    from mlplab.trace import default_output_activation

    if args.model is not None:
        inline = [
            option
            for option, value in (
                ("--sizes", args.sizes),
                ("--weights", args.weights),
                ("--activation", args.activation),
                ("--output-activation", args.output_activation),
                ("--seed", args.seed),
            )
            if value is not None
        ]
        if inline:
            raise UsageError(
                f"{args.model} holds the whole network (sizes, activations, weights): drop "
                f"{', '.join(inline)} (for a network given inline with --sizes)"
            )
        return MLP.load(args.model)
    if args.sizes is None:
        raise ValueError("name the network: a model file, or --sizes N ... (and --weights FILE)")
    _inline_defaults(args)
    net = MLP(
        args.sizes,
        activation=args.activation,
        output_activation=args.output_activation
        or default_output_activation(args.activation, args.loss),
        seed=args.seed,
    )
    return net if args.weights is None else read_parameters(args.weights, net)


def _inline_defaults(args: argparse.Namespace) -> None:
    """Fill in --activation and --seed for a network given inline (a model file refuses them)."""
    args.activation = args.activation or "sigmoid"
    args.seed = 0 if args.seed is None else args.seed


def _points(args: argparse.Namespace, net) -> tuple[np.ndarray, np.ndarray]:
    from mlplab.losses import get_loss

    if args.x is None or args.y is None:
        raise ValueError("give the point: --x (n_1 numbers per point) and --y (its target)")
    n_in, n_out = net.sizes[0], net.sizes[-1]
    if len(args.x) % n_in:
        raise ValueError(f"the network takes {n_in} inputs per point; got {len(args.x)} numbers")
    X = np.array(args.x).reshape(-1, n_in)
    y = np.array(args.y)
    if get_loss(args.loss).integer_targets and len(y) == len(X):
        return X, y  # one class label per point
    if len(y) != len(X) * n_out:
        raise ValueError(f"--y needs {n_out} number(s) per point ({len(X)} point(s)), got {len(y)}")
    return X, y.reshape(len(X), n_out)


def _render(trace, fmt: str, digits: int) -> str:
    if fmt == "text":  # as wide as the terminal (COLUMNS where set), 120 where there is none
        return trace.to_text(digits, width=shutil.get_terminal_size((120, 24)).columns)
    if fmt == "md":
        return trace.to_markdown(digits)
    if fmt == "html":
        return trace.to_html(digits, full=True)
    return json.dumps(trace.to_dict(), indent=2) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print (or write) the trace, or write the exercise; returns the exit status."""
    from mlplab.io import write_json, write_text

    if args.digits < 1 or args.digits > 17:
        raise ValueError(f"--digits must be between 1 and 17, got {args.digits}")
    if args.random:
        return _exercise(args)
    args.format = args.format or "text"
    net = _network(args)
    X, y = _points(args, net)
    lr = 0.05 if args.lr is None else args.lr
    trace = net.trace(X, y, loss=args.loss, lr=lr)
    if args.model is None and args.weights is None:  # the table says "given": say by whom
        trace.notes.append(
            f"W^[l] are drawn with --seed {args.seed} (Xavier normal) and b^[l] = 0; give "
            f"--weights or a model file for other weights."
        )
    text = _render(trace, args.format, args.digits)
    if args.out is None:
        print(text, end="")
        return 0
    out = writable_file(args.out, f"trace.{'txt' if args.format == 'text' else args.format}")
    with _writing(args.out, "the trace"):
        if args.format == "json":
            write_json(out, json.loads(text))
        else:
            write_text(out, text)
    return 0


@contextlib.contextmanager
def _writing(out: str, what: str) -> Iterator[None]:
    """Turn a failure to write ``what`` to ``--out out`` into a line that names ``out`` (not
    the temporary file beside it that the error names) and the fix."""
    try:
        yield
    except OSError as exc:
        raise UsageError(
            f"cannot write {what} to {out}: {exc.strerror or exc}; choose another --out"
        ) from None


def _exercise(args: argparse.Namespace) -> int:
    from mlplab.exercise import make_exercise
    from mlplab.io import write_json, write_text
    from mlplab.runfolder import holds_run, staged

    given = [
        name
        for name, value in (
            ("MODEL", args.model),
            ("--weights", args.weights),
            ("--x", args.x),
            ("--y", args.y),
        )
        if value is not None
    ]
    if given or args.sizes is None:
        raise ValueError(
            "--random draws its own network and point from --sizes and --seed"
            + (f"; drop {', '.join(given)}" if given else ": give --sizes, e.g. --sizes 2 3 1")
        )
    if args.format not in (None, "md"):
        raise UsageError(
            f"--random writes the exercise as Markdown (exercise.md, solution.md): drop --format "
            f"{args.format}"
        )
    _inline_defaults(args)
    lr = 0.5 if args.lr is None else args.lr
    exercise = make_exercise(
        args.sizes, args.seed, args.activation, args.output_activation, args.loss, lr
    )
    out = writable_parent(f"exercise-{args.seed}" if args.out is None else args.out)
    # written whole, as a run folder is: an earlier exercise there is replaced in one step
    with _writing(str(out), "the exercise"), staged(out, mark=NETWORK_FILE) as stage:
        if holds_run(out, mark=NETWORK_FILE):
            say_replacing(out, "exercise")
        write_json(stage.path / NETWORK_FILE, exercise.weights())
        # the sheet's command finds the network from where this command ran
        write_text(stage.path / "exercise.md", exercise.questions(str(out / NETWORK_FILE)))
        write_text(stage.path / "solution.md", exercise.solution(args.digits))
    print(f"wrote {out / 'exercise.md'}, {out / 'solution.md'} and {out / NETWORK_FILE}")
    return 0

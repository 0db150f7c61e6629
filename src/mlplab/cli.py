"""The ``mlplab`` command line.

``mlplab train``      fit a target function (or a CSV/NPZ data set) and write a run folder
``mlplab gradcheck``  backprop and input derivatives against central finite differences
``mlplab predict``    evaluate a saved model
``mlplab diagnose``   dead units, saturation and gradient norms of a saved model, per layer
``mlplab trace``      every number of one gradient step with its formula; exercises (--random)
``mlplab sweep``      a grid of training runs in parallel on Dask (see mlplab.sweep)
``mlplab experiment`` list and run the classic studies (``list``, ``run NAME|all``)
``mlplab --version``

Every command has ``--help``. Errors in what the user typed end with a one-line message and exit
status 2; a failed check exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlplab import __version__
from mlplab.experiments.cli import add_parser as _experiment_parser
from mlplab.losses import NAMES as LOSS_NAMES
from mlplab.pde.command import add_parser as _pde_parser
from mlplab.sweep.command import add_parser as _sweep_parser
from mlplab.trace_command import add_parser as _trace_parser

console = Console()
err_console = Console(stderr=True)


class UsageError(Exception):
    """A problem with what the user typed: shown as one line, exit status 2."""


def _train_parser(sub: argparse._SubParsersAction) -> None:
    from mlplab.run import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train a network on a target function or data file",
        description="Train an MLP and write config.json, model.npz, history.csv, metrics.json, "
        "fit.png and loss.png into --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--target",
        default=d.target,
        help="registered target (runge, cos4, sin, abs, step, monomial:p) or a "
        "formula in x such as 'sin(3*x) + x**2'; 'higham' is the paper's data set (as --data)",
    )
    g.add_argument(
        "--domain",
        nargs=2,
        type=float,
        default=list(d.domain),
        metavar=("LOW", "HIGH"),
        help="interval of x",
    )
    g.add_argument("--n-train", type=int, default=d.n_train, help="training points")
    g.add_argument("--n-val", type=int, default=d.n_val, help="validation points")
    g.add_argument(
        "--sampling",
        default=d.sampling,
        choices=["uniform", "grid", "normal"],
        help="how x is drawn; 'normal' uses mean and half-width of --domain",
    )
    g.add_argument("--noise", type=float, default=d.noise, help="std of Gaussian label noise")
    g.add_argument(
        "--data",
        default=None,
        help="CSV (x columns then y) or NPZ (x, y) file instead of --target, or 'higham': the "
        "paper's 10 points with its 2-2-3-2 sigmoid network and SGD as defaults",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="validation share of --data (default: 0.2, none for 20 points or fewer; 0: none)",
    )
    g = p.add_argument_group("network")
    g.add_argument(
        "--hidden",
        nargs="*",
        type=int,
        default=d.hidden,
        metavar="WIDTH",
        help="hidden layer widths",
    )
    g.add_argument(
        "--activation",
        default=d.activation,
        help="sigmoid, tanh, relu, leaky_relu[:alpha], elu[:alpha], softplus, gelu, sin, identity",
    )
    g.add_argument("--output-activation", default=d.output_activation, help="σ of the output layer")
    g.add_argument(
        "--init",
        default=d.init,
        help="xavier_normal, xavier_uniform, he_normal, he_uniform, normal[:mu,sigma], "
        "uniform[:a,b]",
    )
    g.add_argument("--bias-init", default=d.bias_init, help="a constant or an initialiser name")
    g.add_argument(
        "--dtype", default=d.dtype, choices=["float64", "float32"], help="floating-point precision"
    )
    g = p.add_argument_group("training")
    g.add_argument("--loss", default=d.loss, help=f"one of: {', '.join(LOSS_NAMES)}")
    g.add_argument("--optimizer", default=d.optimizer, help="sgd, adam or lbfgs")
    g.add_argument("--lr", type=float, default=d.lr, help="learning rate (> 0)")
    g.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum")
    g.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training set")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="points per step")
    g.add_argument(
        "--batch-sampling",
        default=d.batch_sampling,
        choices=["shuffle", "replacement"],
        help="reshuffled minibatches each epoch, or points drawn with replacement",
    )
    g.add_argument(
        "--schedule",
        default=d.schedule,
        help="constant, step:every,gamma, exponential:gamma, cosine:floor",
    )
    g.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after this many epochs without a better validation loss",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seeds the data, the initial weights and the batch order",
    )
    p.add_argument("--out", default="runs/train", help="run folder to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from mlplab.run import TrainConfig, train_run

    cfg = TrainConfig(
        target=args.target,
        domain=tuple(args.domain),
        n_train=args.n_train,
        n_val=args.n_val,
        sampling=args.sampling,
        noise=args.noise,
        data=args.data,
        val_fraction=args.val_fraction,
        hidden=list(args.hidden),
        activation=args.activation,
        output_activation=args.output_activation,
        init=args.init,
        bias_init=args.bias_init,
        loss=args.loss,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        epochs=args.epochs,
        batch_size=args.batch_size,
        batch_sampling=args.batch_sampling,
        schedule=args.schedule,
        early_stopping=args.early_stopping,
        seed=args.seed,
        dtype=args.dtype,
    ).with_data_defaults()
    _check_data_options(cfg)
    out = _writable_dir(args.out)
    result = train_run(cfg, out, progress=not args.quiet)
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


def _check_data_options(cfg) -> None:
    """Refuse options that would be silently ignored: target options with --data, and back."""
    from mlplab.run import TrainConfig

    default = TrainConfig()
    target_options = ("target", "domain", "n_train", "n_val", "sampling", "noise")
    if cfg.data:
        given = [
            f"--{k.replace('_', '-')}"
            for k in target_options
            if getattr(cfg, k) != getattr(default, k)
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} describe a target function and do nothing "
                f"with --data; drop them (--val-fraction sets the validation share)"
            )
    elif cfg.val_fraction != default.val_fraction:
        raise UsageError("--val-fraction applies to --data; with a target use --n-val")


def _writable_dir(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".mlplab-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to output folder {out}: {exc.strerror or exc}; choose another --out"
        ) from None
    return out


def _gradcheck_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check backprop and input derivatives against finite differences",
        description="Compare backprop gradients, the input gradient and the input Jacobian of a "
        "random network with centred finite differences (float64). Exits 1 when "
        "any relative error exceeds --tol.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        default=[3, 5, 4, 1],
        metavar="N",
        help="layer widths n_1 ... n_L",
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
    p.add_argument("--h", type=float, default=1e-5, help="finite-difference step")
    p.add_argument("--tol", type=float, default=1e-7, help="largest relative error accepted")
    p.add_argument("--seed", type=int, default=0, help="seeds the network and the points")
    p.set_defaults(func=_cmd_gradcheck)


def _cmd_gradcheck(args: argparse.Namespace) -> int:
    from mlplab.gradcheck import check_gradients
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
    net.check_batch(args.points, "--points")
    if not (args.h > 0 and args.tol > 0):
        raise UsageError(f"--h and --tol must be > 0, got {args.h:g} and {args.tol:g}")
    X = rng.standard_normal((args.points, net.sizes[0]))
    if loss.integer_targets:
        y = rng.integers(0, net.sizes[-1], size=args.points)
    elif loss.name == "bce":
        y = rng.uniform(size=(args.points, net.sizes[-1]))
    else:
        y = rng.standard_normal((args.points, net.sizes[-1]))
    result = check_gradients(net, X, y, args.loss, h=args.h, tol=args.tol)
    arch = "-".join(map(str, net.sizes))
    table = Table(title=f"gradcheck {arch} {args.activation}, loss {loss.name}, h = {args.h:g}")
    table.add_column("array")
    table.add_column("relative error", justify="right")
    table.add_column("ok", justify="center")
    for name, err in result.errors.items():
        table.add_row(name, f"{err:.2e}", "yes" if err <= args.tol else "[red]NO[/red]")
    console.print(table)
    verdict = "passed" if result.passed else "FAILED"
    console.print(f"max relative error {result.max_error:.2e} (tolerance {args.tol:g}): {verdict}")
    return 0 if result.passed else 1


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="evaluate a saved model",
        description="Print the network output for inputs given with --x (numbers, row by row) "
        "or --input (a CSV or NPZ file of x values), as CSV.",
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
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
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
        print(",".join(f"{v:.17g}" for v in row))
    return 0


#: Where ``diagnose --target`` puts its points unless told otherwise.
_DIAGNOSE_POINTS = {"domain": [-1.0, 1.0], "n_points": 256, "sampling": "uniform", "seed": 0}


def _diagnose_parser(sub: argparse._SubParsersAction) -> None:
    from mlplab.data import SAMPLINGS, TARGET_NAMES
    from mlplab.diagnostics import THRESHOLD

    p = sub.add_parser(
        "diagnose",
        help="dead units, saturation and gradient norms of a saved model",
        description="For every layer l = 2..L of a saved model, on the given points: the dead "
        "units (σ' = 0 at every point), the fraction of saturated (point, unit) pairs "
        "(|σ'| <= threshold * largest |σ'|) and, with targets, the gradient norms "
        "||dC/dW^[l]||_F and ||dC/db^[l]||_2 of the cost over all the points.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", help="a model.npz written by mlplab")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="CSV (x columns then y) or NPZ (x, y) of points and targets")
    src.add_argument(
        "--input", help="CSV or NPZ ('x') of points without targets: no gradient norms"
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
    p.add_argument("--loss", default="mse", help=f"one of: {', '.join(LOSS_NAMES)}")
    p.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help="saturated where |σ'| <= threshold * largest |σ'| (a number in [0, 1))",
    )
    p.set_defaults(func=_cmd_diagnose)


def _diagnose_points(
    args: argparse.Namespace, n_in: int, n_out: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The points ``X`` and targets ``y`` (None for ``--input``) that ``diagnose`` was given."""
    from mlplab.data import get_target, load_x, load_xy, sample
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
        x, y = load_xy(args.data, n_in)
        if get_loss(args.loss).integer_targets and y.shape[1] == 1 and n_out > 1:
            y = y[:, 0]  # one column of class labels, as train reads it
        return x, y
    if (n_in, n_out) != (1, 1):
        raise UsageError(
            f"--target is a function of one variable with one value, but the model has "
            f"{n_in} input(s) and {n_out} output(s): give points with --data or --input"
        )
    x = sample(args.n_points, tuple(args.domain), args.sampling, args.seed)
    return x, get_target(args.target)(x)


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from mlplab.diagnostics import COLUMNS, diagnose
    from mlplab.network import MLP

    net = MLP.load(args.model)
    X, y = _diagnose_points(args, net.sizes[0], net.sizes[-1])
    result = diagnose(net, X, y, loss=args.loss, threshold=args.threshold)
    table = Table(
        title=escape(f"mlplab diagnose: {args.model}, {'-'.join(map(str, net.sizes))}"),
        caption=escape(result.summary()),
    )
    for name, justify in COLUMNS:
        table.add_column(escape(name), justify=justify)
    for row in result.rows():
        table.add_row(*map(escape, row))
    console.print(table)
    return 0


#: Each entry adds one subcommand to the parser; a command's parser sets ``func``, which takes
#: the parsed arguments and returns the exit status.
COMMANDS = [
    _train_parser,
    _gradcheck_parser,
    _predict_parser,
    _diagnose_parser,
    _trace_parser,
    _sweep_parser,
    _experiment_parser,
    _pde_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlplab",
        description="See, check and run fully connected neural networks "
        "(the MLP of Higham & Higham, hand-written backprop).",
    )
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_parser in COMMANDS:
        add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (UsageError, ValueError, OSError, MemoryError) as exc:  # expected: one line, exit 2
        err_console.print(
            f"[red]error:[/red] {escape(_one_line(exc))}", highlight=False, soft_wrap=True
        )
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        return 130


def _one_line(exc: BaseException) -> str:
    """The message of an expected error on one line; an ``OSError`` with its path."""
    if isinstance(exc, OSError) and exc.strerror:
        where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        text = f"{exc.strerror}: {where}" if where else exc.strerror
    elif isinstance(exc, MemoryError):
        text = f"out of memory ({exc or 'no details'}); try smaller sizes"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def app() -> None:
    """Console entry point."""
    sys.exit(main())

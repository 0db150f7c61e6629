"""The ``mlplab`` command line.

``mlplab train``      fit a target function (or a CSV/NPZ data set) and write a run folder
``mlplab gradcheck``  backprop and input derivatives against central finite differences
``mlplab predict``    evaluate a saved model
``mlplab diagnose``   dead units, saturation and gradient norms of a saved model, per layer
``mlplab trace``      every number of one gradient step with its formula; exercises (--random)
``mlplab sweep``      a grid of training runs in parallel on Dask (see mlplab.sweep)
``mlplab experiment`` list and run the classic studies (``list``, ``run NAME|all``)
``mlplab pde``        differential equations solved by a network (``list``, ``run NAME``)
``mlplab --version``

Every command has ``--help``. Errors in what the user typed end with a one-line message and exit
status 2; a failed check exits with status 1; Ctrl-C and SIGTERM stop a command cleanly (a run
folder being written keeps its earlier run) with status 130 and 143.

Each command is a module of this package (``mlplab/cli/train.py`` is ``mlplab train``) with
``add_parser(sub)``, which adds the command and sets its handler ``func`` (parsed arguments in,
exit status out). What the commands share is in :mod:`mlplab.cli.common`; how Ctrl-C and
SIGTERM stop a command, in :mod:`mlplab.cli.interrupts`.
"""

from __future__ import annotations

import argparse
import itertools
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from mlplab._version import __version__
from mlplab.cli import diagnose, experiment, gradcheck, pde, predict, sweep, trace, train
from mlplab.cli.common import UsageError, err_console, one_line, print_error
from mlplab.cli.interrupts import Terminated, interrupts

#: The commands, in the order of ``mlplab --help``: modules with ``add_parser(sub)``.
COMMANDS = [train, gradcheck, predict, diagnose, trace, sweep, experiment, pde]


class Parser(argparse.ArgumentParser):
    """argparse's parser, reading as a value, not an option, a word that starts with one ``-``
    and then a digit or a point (``--x -1e-3``, ``--domain -.5 1``), or that holds a character
    no option name has (``--target -x**2``, ``--target "-sin(x)"``). A word of letters, such as
    ``-q`` or ``--out -quiet``, is still taken for a mistyped option. Its subcommands' parsers
    are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse takes a word that this matches for a value where no option string looks
        # like it (its test for negative numbers)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d|.*[^A-Za-z0-9_-])")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # the words this parser reads, for error()'s hint (a subcommand's parser gets its own)
        self._words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):
            option = message.removeprefix("argument ").split(":")[0].split("/")[-1]
            if self._followed_by_a_dash(option):  # perhaps a value such as -x
                message += f" (a value that starts with '-' goes after '=': {option}=-x)"
        # one line, as every other error: the usage is a command away, not printed above it
        print_error(f"{message}; '{self.prog} --help' shows the options")
        self.exit(2)

    def _followed_by_a_dash(self, option: str) -> bool:
        """Whether a word that names ``option`` (or abbreviates it) is followed by one that
        starts with ``-`` and is not an option of this parser."""
        words = getattr(self, "_words", [])
        options = [o for o in self._option_string_actions if o.startswith("--")]

        def an_option(word: str) -> bool:
            name = word.split("=")[0]
            return len(name) > 2 and any(o.startswith(name) for o in options)

        return any(
            len(w) > 2 and option.startswith(w) and nxt.startswith("-") and not an_option(nxt)
            for w, nxt in itertools.pairwise(words)
        )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mlplab",
        description="See, check and run fully connected neural networks "
        "(the MLP of Higham & Higham, hand-written backprop).",
    )
    parser.add_argument("--version", action="version", version=f"mlplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the (sub)command ``args`` were parsed for: ``mlplab experiment run``'s
    for ``mlplab experiment run cos4 ...``; ``parser`` itself where no command was named."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return command_parser(chosen, args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # refused by the command's own parser, so that its --help is the one named
        command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # a value that overflows becomes inf, which the commands' own checks report in one
        # line (a training that diverges, inputs or targets that are not finite)
        with interrupts(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return args.func(args)
    except (UsageError, ValueError, OSError, MemoryError) as exc:  # expected: one line, exit 2
        print_error(one_line(exc))
        return 2
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        err_console.print("terminated" if terminated else "interrupted", highlight=False)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def app() -> None:
    """Console entry point."""
    sys.exit(main())

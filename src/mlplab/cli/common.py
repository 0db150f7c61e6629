"""What every command of the ``mlplab`` command line shares: the error for bad input, the
consoles, ``--quiet``, the notice that a run folder is replaced, and the check that an output
folder can be written.

Command modules import from here, never from :mod:`mlplab.cli` itself.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: …)" to an option's help, unless the help says its default in words (a
    default of None that means "chosen from the data", say)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def say_replacing(out: Path, what: str = "run") -> None:
    """Say on stderr that the folder ``out`` holds an earlier ``what`` (a run, an exercise) that
    the one being written replaces whole (see :mod:`mlplab.runfolder`)."""
    err_console.print(
        f"{out} holds an earlier {what}: it is replaced when this one finishes "
        f"(an interrupted or failed one keeps it)",
        highlight=False,
        soft_wrap=True,
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """Add ``--quiet`` to a command that shows its progress: with it, the command prints only
    its results (the caller passes ``progress=not args.quiet``)."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar: only the results")


class UsageError(Exception):
    """A problem with what the user typed: shown as one line, exit status 2."""


def writable_dir(path: str | Path) -> Path:
    """Create the folder ``path`` if needed and check that files can be written into it.

    Raises
    ------
    UsageError
        Naming the folder and the reason, when it cannot be created or written.
    """
    out = _given(path, "folder")
    _probe(out, out)
    return out


def writable_parent(path: str | Path) -> Path:
    """Check that the run folder ``path`` can be written, creating only its parent.

    A run folder is written beside itself and moved into place (:mod:`mlplab.runfolder`), so
    a run that never finishes leaves no empty folder behind.

    Raises
    ------
    UsageError
        As :func:`writable_dir`, naming ``path``.
    """
    out = _given(path, "folder")
    _probe(out.parent, out)
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"cannot write to output folder {out}: a file of that name is in the way; "
            f"choose another --out"
        )
    return out


def writable_file(path: str | Path, example: str) -> Path:
    """Check that the file ``path`` can be written (beside itself, then renamed onto it, as
    :func:`mlplab.files.atomic_open` does), creating only its folder.

    Parameters
    ----------
    path : str or Path
        The file, as the user gave it with ``--out``.
    example : str
        A file name to suggest when ``path`` is a folder (``"trace.txt"``).

    Returns
    -------
    Path
        The file to write: ``path``, or the file it links to (so that a link stays a link).

    Raises
    ------
    UsageError
        When ``path`` is a folder, lies under a file, or its folder cannot be created or
        written; the message names ``path`` and what to do.
    """
    out = _given(path, "file")
    if out.is_dir():
        raise UsageError(
            f"--out {out} is a folder, and this writes one file: give a file name, such as "
            f"{out / example}"
        )
    _probe(out.parent, out, "output file")
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def _given(path: str | Path, what: str) -> Path:
    """``path`` as a Path, refusing an empty one (which Python reads as the current folder)."""
    if not str(path).strip():
        raise UsageError(f"--out is empty: give the name of the output {what}")
    return Path(path)


def _probe(folder: Path, out: Path, what: str = "output folder") -> None:
    """Create ``folder`` and write and remove a file in it; a failure names ``out`` (the
    ``what`` given by ``--out``)."""
    for above in (folder, *folder.parents):
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                raise UsageError(
                    f"cannot write to {what} {out}: {above} is a file, not a folder; choose "
                    f"another --out"
                )
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".mlplab-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to {what} {out}: {exc.strerror or exc}; choose another --out"
        ) from None


def print_error(text: str) -> None:
    """Print ``error: text`` on stderr, on one line (the way every command reports bad input)."""
    err_console.print(
        f"[red]error:[/red] {escape(' '.join(text.split()))}", highlight=False, soft_wrap=True
    )


def one_line(exc: BaseException) -> str:
    """The message of an expected error on one line; an ``OSError`` with its path."""
    if isinstance(exc, OSError) and exc.strerror:
        where = " → ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        text = f"{exc.strerror}: {where}" if where else exc.strerror
    elif isinstance(exc, MemoryError):
        text = f"out of memory ({exc or 'no details'}); try smaller sizes"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())

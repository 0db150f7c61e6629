"""Helpers of the sweep tests: a tiny 2 × 2 × 2-seed spec, the CLI in-process, subprocesses."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
from pathlib import Path

import mlplab
from mlplab.cli import main

SPEC = """\
name = "tiny"
seeds = 2

[base]
target = "runge"
n_train = 64
n_val = 32
epochs = 200
batch_size = 32

[grid]
hidden = [[8], [16]]
lr = [0.003, 0.03]
"""

#: Folder holding the mlplab package under test (given to subprocesses as PYTHONPATH).
SOURCE = str(Path(mlplab.__file__).resolve().parents[1])


def subprocess_env() -> dict[str, str]:
    """Environment for child processes: this mlplab first on the path, no colour codes."""
    path = os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``mlplab ARGS`` in this process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and its process group (it was started with ``start_new_session``)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)

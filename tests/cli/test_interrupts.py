"""Ctrl-C and SIGTERM raise where the program is, but never where the exception would be lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import mlplab
from mlplab.cli.interrupts import interrupts, must_wait

SOURCE = str(Path(mlplab.__file__).resolve().parents[1])


def frame_in(module: str, function: str = "f"):
    """A frame of a function named ``function`` defined in a module named ``module``."""
    namespace = {"__name__": module, "sys": sys}
    exec(f"def {function}():\n    return sys._getframe()", namespace)
    return namespace[function]()


def test_a_signal_waits_in_finalisers_the_compiler_and_dask_constructors_only():
    assert not must_wait(sys._getframe())
    assert must_wait(frame_in("llvmlite.binding.executionengine"))
    assert must_wait(frame_in("numba.core.compiler"))
    assert not must_wait(frame_in("numbat"))
    assert must_wait(frame_in("distributed.deploy.spec", "__init__"))  # a cluster starting
    assert not must_wait(frame_in("distributed.client", "gather"))  # a sweep waiting for runs


#: A program that gets a signal inside a finaliser, where Python prints and drops exceptions.
FINALISER = """
import os, signal, sys, time
from mlplab.cli.interrupts import interrupts

class Finaliser:
    def __del__(self):
        os.kill(os.getpid(), signal.{name})
        time.sleep(0.2)  # the handler runs here

with interrupts():
    try:
        Finaliser()
        time.sleep(5)  # a deferred signal arrives here
        print("lost")
    except KeyboardInterrupt as exc:
        print("stopped by", type(exc).__name__)
"""


@pytest.mark.parametrize(
    ("name", "error"), [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Terminated")]
)
def test_a_signal_that_arrives_in_a_finaliser_still_stops_the_program(name, error):
    env = {**os.environ, "PYTHONPATH": SOURCE}
    result = subprocess.run(
        [sys.executable, "-c", FINALISER.format(name=name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.stdout.strip() == f"stopped by {error}", result.stderr
    assert "Exception ignored" not in result.stderr


def test_the_handlers_are_put_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with interrupts():
        assert signal.getsignal(signal.SIGTERM) is not before[1]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

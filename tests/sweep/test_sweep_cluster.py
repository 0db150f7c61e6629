"""Sweeps on a real Dask scheduler with two workers, each a separate `dask` process.

One worker is frozen in the middle of a run and killed; the sweep must still finish every run
exactly once, with the results of the embedded-cluster run of the same spec. Everything
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import free_port, run_cli, stop, subprocess_env

from mlplab.sweep import load_spec
from mlplab.sweep.results import read_results
from mlplab.sweep.tasks import is_complete

TIMING = {"seconds"}  # wall-clock time differs between any two runs


def dask_command() -> list[str]:
    """The `dask` command line of this Python environment."""
    script = Path(sys.executable).with_name("dask")
    found = str(script) if script.exists() else shutil.which("dask")
    if found is None:
        pytest.fail("the `dask` command is missing: pip install 'mlplab[dist]'")
    return [found]


def start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [*dask_command(), *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            start_new_session=True,
        )


@pytest.fixture
def cluster(tmp_path):
    """A `dask scheduler` and workers w1, w2 on 127.0.0.1; yields (address, {name: process})."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    procs = {}
    try:
        procs["scheduler"] = start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                address.rsplit(":", 1)[1],
                "--no-dashboard",
            ],
            tmp_path / "scheduler.log",
        )
        for name in ("w1", "w2"):
            procs[name] = start(
                [
                    "worker",
                    address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / name),
                ],
                tmp_path / f"{name}.log",
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for proc in procs.values():
            stop(proc)


def freeze_and_kill_mid_run(out: Path, worker: subprocess.Popen, name: str) -> str:
    """Wait until ``name`` is in the middle of a run, then kill its process group.

    The worker is first stopped (SIGSTOP), so it cannot finish between the check and the kill;
    returns the id of the run it was training.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum((p / "metrics.json").exists() for p in out.glob("[0-9a-f]" * 12)) >= 1:
            for partial in out.glob(f".partial-*-{name}-*"):
                os_kill(worker, "SIGSTOP")
                run_id = partial.name.split("-")[1]
                if partial.exists() and not (out / run_id).exists():
                    os_kill(worker, "SIGKILL")
                    worker.wait(timeout=10)
                    return run_id
                os_kill(worker, "SIGCONT")  # it finished before it was stopped: try again
        time.sleep(0.01)
    pytest.fail(f"worker {name} never started a run")


def os_kill(proc: subprocess.Popen, signal_name: str) -> None:
    import os
    import signal

    os.killpg(proc.pid, getattr(signal, signal_name))


def table(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in read_results(path)]


def test_killed_worker_every_run_once_same_results(cluster, spec_file, local_sweep, tmp_path):
    address, procs = cluster
    out = tmp_path / "remote"
    sweep = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlplab",
            "sweep",
            str(spec_file),
            "--out",
            str(out),
            "--scheduler",
            address,
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        start_new_session=True,
    )
    try:
        killed = freeze_and_kill_mid_run(out, procs["w1"], "w1")
        assert list(out.glob(f".partial-{killed}-w1-*")), "w1 was killed in the middle of a run"
        stdout, stderr = sweep.communicate(timeout=180)
    finally:
        stop(sweep)
    assert sweep.returncode == 0, stderr
    assert f"8 to run on the Dask scheduler at {address}" in stdout
    assert "Dask dashboard" not in stdout  # started with --no-dashboard: no page to name
    spec = load_spec(spec_file)
    rows = read_results(out / "results.csv")
    assert [r["run_id"] for r in rows] == [r.run_id for r in spec.runs]  # once each, in order
    assert all(r["status"] == "ok" for r in rows)
    assert all(is_complete(out / r.run_id, r.config) for r in spec.runs)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [r.run_id for r in spec.runs] + ["figures", "results.csv", "summary.md"]
    )  # no leftover partial folder, no extra run
    local_out, _, _ = local_sweep
    assert table(out / "results.csv") == table(local_out / "results.csv")


def test_unreachable_scheduler_fails_fast_with_a_clear_message(spec_file, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    start_time = time.monotonic()
    status, _, err = run_cli(
        "sweep",
        str(spec_file),
        "--out",
        str(tmp_path / "o"),
        "--scheduler",
        address,
        "--timeout",
        "2",
    )
    elapsed = time.monotonic() - start_time
    assert status == 2
    assert f"cannot reach the Dask scheduler at {address} within 2 s" in err
    assert "dask scheduler" in err
    assert elapsed < 30
    assert not (tmp_path / "o").exists()  # the folder it made for the sweep is gone again


def test_scheduler_without_workers_fails_fast(spec_file, tmp_path):
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = start(
        ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        tmp_path / "scheduler.log",
    )
    try:
        Client(address, timeout=60).close()  # the scheduler is up
        status, _, err = run_cli(
            "sweep",
            str(spec_file),
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            address,
            "--timeout",
            "3",
        )
    finally:
        stop(scheduler)
    assert status == 2
    assert f"the Dask scheduler at {address} has no workers after 3 s" in err
    assert f"dask worker {address}" in err

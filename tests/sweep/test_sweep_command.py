"""``mlplab sweep`` interrupted by Ctrl-C (SIGINT) and run again: only missing runs execute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sweep_helpers import run_cli, stop, subprocess_env

from mlplab.sweep import load_spec
from mlplab.sweep.results import read_results
from mlplab.sweep.tasks import is_complete


def sigint_as_in_a_terminal() -> None:
    """In the child before it starts: SIGINT at its default, which Python turns into
    KeyboardInterrupt, as in a terminal; a test runner started in the background hands its
    children SIGINT ignored, and the sweep would then not see the interrupt at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_sweep(spec_file, *args: str) -> subprocess.Popen:
    """``mlplab sweep SPEC ARGS`` in a process group of its own, as a terminal starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlplab", "sweep", str(spec_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        start_new_session=True,
        preexec_fn=sigint_as_in_a_terminal,
    )


def complete_runs(out, spec) -> dict[str, int]:
    """Run id -> mtime of metrics.json, for every complete run folder."""
    return {
        r.run_id: (out / r.run_id / "metrics.json").stat().st_mtime_ns
        for r in spec.runs
        if is_complete(out / r.run_id, r.config)
    }


def test_interrupt_then_rerun_runs_only_the_missing(spec_file, local_sweep, tmp_path):
    spec = load_spec(spec_file)
    out = tmp_path / "sweep"
    # one run at a time: the interrupt lands well before the last of the 8 runs
    sweep = start_sweep(spec_file, "--out", str(out), "--workers", "1", "--quiet")
    try:
        deadline = time.monotonic() + 120
        while len(complete_runs(out, spec)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(sweep.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
        _, stderr = sweep.communicate(timeout=60)
    finally:
        stop(sweep)
    assert sweep.returncode == 130 and "interrupted" in stderr
    assert not (out / "results.csv").exists()
    done = complete_runs(out, spec)
    assert 2 <= len(done) < 8, "the interrupt came before the end of the sweep"
    # every folder under a run's final name is complete; unfinished work is only in .partial-*
    finals = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in finals) == sorted(done)
    # a half-written folder under a final name (config.json, no metrics.json) is not complete
    planted = next(r for r in spec.runs if r.run_id not in done)
    (out / planted.run_id).mkdir()
    (out / planted.run_id / "config.json").write_text(json.dumps(planted.config.to_dict()))

    status, stdout, _ = run_cli("sweep", str(spec_file), "--out", str(out), "--workers", "2")
    assert status == 0
    assert f"{len(done)} complete already (skipped), {8 - len(done)} to run" in stdout
    after = complete_runs(out, spec)
    assert len(after) == 8
    assert {k: after[k] for k in done} == done  # the complete runs were not trained again
    assert is_complete(out / planted.run_id, planted.config)
    assert not list(out.glob(".partial-*"))
    rows = read_results(out / "results.csv")
    assert [r["run_id"] for r in rows] == [r.run_id for r in spec.runs]
    local_rows = read_results(local_sweep[0] / "results.csv")
    for row, local in zip(rows, local_rows, strict=True):
        assert {k: v for k, v in row.items() if k != "seconds"} == {
            k: v for k, v in local.items() if k != "seconds"
        }


def test_interrupt_while_the_cluster_starts_leaves_nothing_behind(spec_file, tmp_path):
    """Ctrl-C as the local cluster starts: the command stops in one line, with no traceback of
    a half-started cluster, and leaves no folder that holds no complete run."""
    out = tmp_path / "new" / "sweep"
    sweep = start_sweep(spec_file, "--out", str(out))
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and time.monotonic() < deadline:  # made just before the cluster
            time.sleep(0.005)
        os.killpg(sweep.pid, signal.SIGINT)
        _, stderr = sweep.communicate(timeout=60)
    finally:
        stop(sweep)
    assert sweep.returncode == 130 and "interrupted" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    if out.exists():  # a run was complete before the interrupt landed: kept, with nothing
        done = complete_runs(out, load_spec(spec_file))  # else but hidden staging folders
        finals = [p.name for p in out.iterdir() if not p.name.startswith(".")]
        assert done and sorted(finals) == sorted(done)

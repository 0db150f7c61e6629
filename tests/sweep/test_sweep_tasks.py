"""Running sweeps on an embedded Dask cluster: results, figures, failures, resuming."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sweep_helpers import SPEC, run_cli

from mlplab.config import TrainConfig
from mlplab.sweep import load_spec, run_configs
from mlplab.sweep.results import read_results
from mlplab.sweep.tasks import RUN_FILES, _publish, is_complete, run_task
from mlplab.train_run import train_run

METRICS = ("train_mse", "val_mse", "max_abs_error", "steps", "parameters")


def test_embedded_sweep_of_2x2x2_seeds(local_sweep, spec_file):
    out, status, stdout = local_sweep
    assert status == 0
    assert "8 runs (4 settings × 2 seeds)" in stdout
    assert "0 complete already (skipped), 8 to run on a local Dask cluster of 2 worker" in stdout
    assert "Dask dashboard: http://" in stdout
    spec = load_spec(spec_file)
    rows = read_results(out / "results.csv")
    assert len(rows) == 8
    assert [r["run_id"] for r in rows] == [r.run_id for r in spec.runs]
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert list(rows[0])[:2] == ["run_id", "status"] and list(rows[0])[-1] == "error"
    assert set(fields) | set(METRICS) | {"seconds", "epochs_run", "fit_status"} <= set(rows[0])
    for row, run in zip(rows, spec.runs, strict=True):
        assert row["status"] == "ok" and row["error"] == ""
        assert json.loads(row["hidden"]) == run.config.hidden
        assert float(row["lr"]) == run.config.lr and int(row["seed"]) == run.config.seed
        assert row["epochs"] == row["epochs_run"] == "200" and row["fit_status"] == "completed"
        folder = out / row["run_id"]
        assert is_complete(folder, run.config)
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in METRICS:
            assert float(row[key]) == metrics[key]
    # the right values: a run trained here, in this process, gives the same numbers
    first = train_run(spec.runs[5].config, progress=False).metrics
    for key in ("train_mse", "val_mse", "max_abs_error"):
        assert float(rows[5][key]) == first[key]
    # 16 hidden units at lr 0.03 fit Runge's function better than 8 at lr 0.003 (medians)
    val = np.array([float(r["val_mse"]) for r in rows]).reshape(2, 2, 2)
    assert np.median(val[1, 1]) < np.median(val[0, 0])


def test_summary_and_figures_exist(local_sweep):
    out, _, _ = local_sweep
    summary = (out / "summary.md").read_text()
    assert "8 runs (4 settings); 8 ok, 0 failed. Swept: hidden, lr." in summary
    assert "| [16] | 0.03 | 2/2 |" in summary
    for metric in ("train_mse", "val_mse", "max_abs_error", "seconds"):
        png = out / "figures" / f"{metric}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert f"(figures/{metric}.png)" in summary
    assert not list(out.glob(".partial-*"))


def test_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = tmp_path / "fail.toml"
    bad = tmp_path / "bad.csv"  # passes the spec check (it exists); its reading fails in the run
    bad.write_text("x,y\n1,2\n3,four\n")
    spec.write_text(
        SPEC.replace("seeds = 2", "seeds = 1")
        .replace("n_train = 64\nn_val = 32\n", "")  # a data run takes no target options
        .replace(
            "[grid]\nhidden = [[8], [16]]\nlr = [0.003, 0.03]\n",
            f'[[runs]]\nlr = 0.01\n\n[[runs]]\ndata = "{bad}"\n',
        )
    )
    out = tmp_path / "out"
    status, stdout, stderr = run_cli("sweep", str(spec), "--out", str(out), "--workers", "1")
    assert status == 1
    rows = read_results(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert rows[1]["error"].startswith(f"DataFileError: {bad} line 3: 'four' is not a number")
    assert rows[1]["val_mse"] == ""
    assert f"1 run(s) failed: {rows[1]['run_id']}" in stderr
    assert "1 ok, 1 failed" in stdout
    assert (out / rows[0]["run_id"] / "metrics.json").is_file()
    assert not (out / rows[1]["run_id"]).exists() and not list(out.glob(".partial-*"))
    assert "## Failed runs" in (out / "summary.md").read_text()


def test_is_complete_needs_every_file_and_the_same_config(tmp_path):
    cfg = TrainConfig(epochs=5, n_train=16, hidden=[4])
    train_run(cfg, tmp_path / "run", progress=False)
    assert is_complete(tmp_path / "run", cfg)
    assert not is_complete(tmp_path / "run", dataclasses.replace(cfg, seed=1))
    (tmp_path / "run" / "metrics.json").unlink()
    assert not is_complete(tmp_path / "run", cfg)
    assert not is_complete(tmp_path / "nothing", cfg)


def test_task_replaces_a_half_written_folder_and_keeps_a_complete_one(tmp_path):
    cfg = TrainConfig(epochs=5, n_train=16, hidden=[4])
    final = tmp_path / "abc"
    final.mkdir()
    (final / "config.json").write_text(json.dumps(cfg.to_dict()))  # no metrics.json: unfinished
    row = run_task(cfg.to_dict(), "abc", str(tmp_path))
    assert row["status"] == "ok" and is_complete(final, cfg)
    assert sorted(p.name for p in final.iterdir()) == sorted([*RUN_FILES, "fit.png", "loss.png"])
    stamp = (final / "metrics.json").stat().st_mtime_ns
    assert run_task(cfg.to_dict(), "abc", str(tmp_path)) == row  # complete: not trained again
    assert (final / "metrics.json").stat().st_mtime_ns == stamp
    run_task(cfg.to_dict(), "abc", str(tmp_path), force=True)
    assert (final / "metrics.json").stat().st_mtime_ns != stamp
    assert [p.name for p in tmp_path.iterdir()] == ["abc"]


def test_run_configs_skips_complete_runs_without_a_cluster(local_sweep, spec_file):
    out, _, _ = local_sweep
    spec = load_spec(spec_file)
    plans = []
    rows = run_configs([r.config for r in spec.runs], out, on_start=plans.append)
    assert plans[0]["complete"] == 8 and plans[0]["to_run"] == 0
    assert plans[0]["dashboard"] is None  # no cluster was started
    assert [r["run_id"] for r in rows] == [r.run_id for r in spec.runs]
    assert [r["val_mse"] for r in rows] == [
        float(r["val_mse"]) for r in read_results(out / "results.csv")
    ]


def test_a_second_attempt_of_a_finished_run_is_dropped(tmp_path):
    cfg = TrainConfig(epochs=5, n_train=16, hidden=[4])
    first = run_task(cfg.to_dict(), "abc", str(tmp_path))
    stamp = (tmp_path / "abc" / "metrics.json").stat().st_mtime_ns
    late = tmp_path / ".partial-abc-w2-0000"
    train_run(cfg, late, progress=False)  # an attempt that finished after the first
    _publish(late, tmp_path / "abc", cfg, force=False)
    assert not late.exists()
    assert (tmp_path / "abc" / "metrics.json").stat().st_mtime_ns == stamp
    assert first["status"] == "ok"


def test_a_second_sweep_into_the_same_folder_is_refused(tmp_path):
    from mlplab.runfolder import RunFolderBusyError, lock

    cfg = TrainConfig(epochs=5, n_train=16, hidden=[4])
    with lock(tmp_path / "out"), pytest.raises(RunFolderBusyError, match="another --out"):
        run_configs([cfg], tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == []

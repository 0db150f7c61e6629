"""The training runs of a sweep as Dask tasks: one task per run, each into its own run folder.

Each run is one Dask task, :func:`run_task`, a pure function of its configuration and output
folder. The task holds the lock of ``<out>/<run id>``, trains in a staging folder
``<out>/.partial-<run id>-<worker>-<hex>`` and moves it to ``<out>/<run id>`` when every file is
written (:func:`mlplab.runfolder.staged`), so a run folder under its final name is always
complete; a task that dies (a killed worker, Ctrl-C) leaves only a ``.partial-`` folder, which
the next sweep removes. When Dask runs a task again (its worker was lost), the new attempt waits
for the lock, and a run folder that is already complete is kept.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlplab.cluster import connect, dashboard_address, gather
from mlplab.config import TrainConfig, load_config
from mlplab.io import read_json
from mlplab.runfolder import PARTIAL_PREFIX, lock, publish, staged
from mlplab.train_run import train_into

#: Files every complete run folder holds; metrics.json is written last.
RUN_FILES = ("config.json", "model.npz", "history.csv", "metrics.json")
_TOPIC = "mlplab-sweep"
_RENAMED = {"status": "fit_status", "epochs": "epochs_run"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def is_complete(folder: Path, config: TrainConfig) -> bool:
    """True when ``folder`` holds every file of a finished run of exactly ``config``."""
    if not all((folder / name).is_file() for name in RUN_FILES):
        return False
    try:
        read_metrics(folder)
        return load_config(folder / "config.json") == config
    except (OSError, ValueError, TypeError):
        return False


def read_metrics(folder: Path) -> dict:
    """The ``metrics.json`` of a run folder."""
    metrics = read_json(folder / "metrics.json", ValueError)
    if not isinstance(metrics, dict):
        raise ValueError(f"{folder / 'metrics.json'} does not hold a table of metrics")
    return metrics


def result_row(run_id: str, config: TrainConfig, metrics: dict | None, error: str = "") -> dict:
    """One row of ``results.csv``: identifier, status, every config field, every metric, error.

    The metrics ``status`` (``completed``, ``diverged``, ...) and ``epochs`` (epochs trained)
    of :func:`mlplab.train_run.train_run` become ``fit_status`` and ``epochs_run``; ``status`` is
    ``ok`` or ``failed`` (the run raised) and ``epochs`` is the configured number.
    """
    row: dict = {"run_id": run_id, "status": "failed" if metrics is None else "ok"}
    row.update(config.to_dict())
    for key, value in (metrics or {}).items():
        row[_RENAMED.get(key, key)] = value
    row["error"] = error
    return row


def run_task(config: dict, run_id: str, out: str, force: bool = False) -> dict:
    """Train one run into ``<out>/<run_id>`` (the Dask task); returns its results row.

    An exception inside training does not escape: it becomes a row with status ``failed`` and
    the error message, and the temporary folder is removed.
    """
    cfg = TrainConfig.from_dict(config)
    final = Path(out) / run_id
    if not force and is_complete(final, cfg):
        return result_row(run_id, cfg, read_metrics(final))
    if _keep(final, cfg, force):
        return result_row(run_id, cfg, read_metrics(final))
    _announce({"event": "start", "run_id": run_id, "worker": _worker_name()})
    try:
        with staged(
            final, tag=_worker_name(), wait=True, keep=lambda: _keep(final, cfg, force)
        ) as stage:
            if _keep(final, cfg, force):  # another attempt of this run finished first
                stage.discard()
            else:
                train_into(cfg, stage.path, progress=False)
    except Exception as exc:
        return result_row(run_id, cfg, None, f"{type(exc).__name__}: {exc}")
    return result_row(run_id, cfg, read_metrics(final))


def _keep(final: Path, cfg: TrainConfig, force: bool) -> bool:
    return not force and is_complete(final, cfg)


def _publish(tmp: Path, final: Path, cfg: TrainConfig, force: bool) -> None:
    """Move the finished folder ``tmp`` to ``final``; keep a complete ``final`` unless forced.

    Two attempts of one run can finish one after the other (Dask reran the task of a worker
    it thought lost); the first one's folder is kept and the other attempt's dropped.
    """
    publish(tmp, final, keep=lambda: _keep(final, cfg, force))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        name = str(get_worker().name)
    except (ImportError, ValueError):
        name = f"pid{os.getpid()}"
    return _UNSAFE.sub("_", name)[:40]


def _announce(message: dict) -> None:
    """Tell the client that a run started (shown as 'running' in the progress bar)."""
    try:
        from distributed import get_worker

        get_worker().log_event(_TOPIC, message)
    except (ImportError, ValueError):
        pass


def remove_partial(out: Path) -> int:
    """Delete ``.partial-*`` folders left in ``out`` by interrupted runs; returns how many."""
    count = 0
    for path in out.glob(f"{PARTIAL_PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            count += 1
    return count


@dataclass
class Tally:
    """Counts shown by the progress bar; ``running`` holds ids of started, unfinished runs.

    Dask calls :meth:`started` handlers from its own thread, hence the lock.
    """

    done: int = 0
    failed: int = 0
    running: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def info(self) -> str:
        with self.lock:
            running = len(self.running)
        return f"[green]{self.done} done[/]  [red]{self.failed} failed[/]  {running} running"


def run_configs(
    configs: Sequence[TrainConfig],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float = 10.0,
    force: bool = False,
    progress: bool = False,
    on_start: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Run every configuration on Dask, each into ``<out>/<run id>``; returns the results rows.

    Parameters
    ----------
    configs : sequence of TrainConfig
        Distinct configurations (a repeated one raises ``ValueError``).
    out : str or Path
        Folder that receives one run folder per configuration. With ``scheduler``, it must be
        a path every worker can write (a shared file system).
    workers : int, optional
        Worker processes of the embedded local cluster (default: the number of cores).
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    timeout : float
        Seconds to wait for the scheduler and for its first worker.
    force : bool
        Rerun configurations whose run folders are already complete.
    progress : bool
        Show a progress bar (done / failed / running) on stderr.
    on_start : callable, optional
        Called with ``{"runs", "complete", "to_run", "dashboard", "removed_partial"}`` once the
        cluster is up (or without a cluster when nothing is left to run).

    Returns
    -------
    list of dict
        One row per configuration, in the order given (see :func:`result_row`); complete run
        folders found on disk give their rows without running again.

    Raises
    ------
    mlplab.runfolder.RunFolderBusyError
        When another process is running a sweep into ``out``.
    """
    from mlplab.sweep.spec import run_id as make_id

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ids = [make_id(c) for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError("the same configuration is listed more than once")
    with lock(out):  # a second sweep into the same folder is refused
        return _run_locked(
            configs, ids, out, scheduler, workers, timeout, force, progress, on_start
        )


def _run_locked(
    configs: Sequence[TrainConfig],
    ids: list[str],
    out: Path,
    scheduler: str | None,
    workers: int | None,
    timeout: float,
    force: bool,
    progress: bool,
    on_start: Callable[[dict], None] | None,
) -> list[dict]:
    """:func:`run_configs` once it holds the lock of ``out``."""
    rows: dict[str, dict] = {}
    todo = []
    for rid, cfg in zip(ids, configs, strict=True):
        if not force and is_complete(out / rid, cfg):
            rows[rid] = result_row(rid, cfg, read_metrics(out / rid))
        else:
            todo.append((rid, cfg))
    plan = {
        "runs": len(ids),
        "complete": len(rows),
        "to_run": len(todo),
        "dashboard": None,
        "removed_partial": remove_partial(out),
    }
    if not todo:
        if on_start:
            on_start(plan)
        return [rows[rid] for rid in ids]
    with connect(scheduler, workers, timeout) as client:
        plan["dashboard"] = dashboard_address(client)
        if on_start:
            on_start(plan)
        rows.update(_gather(client, todo, out, force, progress))
    remove_partial(out)
    return [rows[rid] for rid in ids]


def _gather(client, todo: list, out: Path, force: bool, progress: bool) -> dict[str, dict]:
    """Submit one task per run and collect the rows as they complete."""
    tally = Tally()

    def started(message: dict) -> str:
        with tally.lock:
            tally.running.add(message["run_id"])
        return tally.info()

    def row(rid: str, future) -> dict:
        cfg = configs[rid]
        if future.status == "error":
            exc = future.exception()
            value = result_row(rid, cfg, None, f"{type(exc).__name__}: {exc}")
        else:
            value = future.result()
        with tally.lock:
            tally.running.discard(rid)
            if value["status"] == "ok":
                tally.done += 1
            else:
                tally.failed += 1
        return value

    token = uuid.uuid4().hex[:8]
    configs = dict(todo)

    def submit() -> dict:
        return {
            client.submit(
                run_task, cfg.to_dict(), rid, str(out), force, key=f"mlplab-run-{rid}-{token}"
            ): rid
            for rid, cfg in todo
        }

    return gather(
        client,
        submit,
        "runs",
        progress=progress,
        result=row,
        info=lambda rid, value: tally.info(),
        events=(_TOPIC, started),
    )

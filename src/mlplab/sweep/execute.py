"""Running many training runs on Dask: an embedded local cluster or a running scheduler.

Each run is one Dask task, :func:`run_task`, a pure function of its configuration and output
folder. The task trains in a private temporary folder ``<out>/.partial-<run id>-<worker>-<hex>``
and renames it to ``<out>/<run id>`` when every file is written, so a run folder under its final
name is always complete; a task that dies (a killed worker, Ctrl-C) leaves only a ``.partial-``
folder, which the next sweep removes. When Dask runs a task again (its worker was lost), the new
attempt writes its own temporary folder, and a run folder that is already complete is kept.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlplab.io import read_json
from mlplab.run import TrainConfig, load_config, train_run

#: Files every complete run folder holds; metrics.json is written last.
RUN_FILES = ("config.json", "model.npz", "history.csv", "metrics.json")
PARTIAL_PREFIX = ".partial-"
_TOPIC = "mlplab-sweep"
_RENAMED = {"status": "fit_status", "epochs": "epochs_run"}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ClusterError(RuntimeError):
    """No Dask cluster to run on (unreachable scheduler, no workers, dask not installed)."""


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
    of :func:`mlplab.run.train_run` become ``fit_status`` and ``epochs_run``; ``status`` is
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
    worker = _worker_name()
    _announce({"event": "start", "run_id": run_id, "worker": worker})
    tmp = final.with_name(f"{PARTIAL_PREFIX}{run_id}-{worker}-{uuid.uuid4().hex[:8]}")
    try:
        train_run(cfg, tmp, progress=False)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return result_row(run_id, cfg, None, f"{type(exc).__name__}: {exc}")
    _publish(tmp, final, cfg, force)
    return result_row(run_id, cfg, read_metrics(final))


def _publish(tmp: Path, final: Path, cfg: TrainConfig, force: bool) -> None:
    """Rename the finished folder ``tmp`` to ``final``; keep a complete ``final`` unless forced.

    Two attempts of one run can finish together (Dask reran the task of a worker it thought
    lost); the first rename wins and the other attempt's folder is dropped.
    """
    if final.exists():
        if not force and is_complete(final, cfg):  # another attempt of this run finished first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        stale = final.with_name(f"{PARTIAL_PREFIX}{final.name}-old-{uuid.uuid4().hex[:8]}")
        os.replace(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if not is_complete(final, cfg):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


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


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None, timeout: float = 10.0):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a new local cluster.

    The local cluster has ``workers`` single-threaded worker processes (default: the number
    of cores). Both are closed on exit.

    Raises
    ------
    ClusterError
        If dask.distributed is missing, the scheduler cannot be reached within ``timeout``
        seconds, or it has no worker within ``timeout`` seconds.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(
            "sweeps run on Dask, which is not installed: pip install 'mlplab[dist]'"
        ) from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            preload=[__name__],  # each worker process runs dask_setup below
        )
        client = Client(cluster)
    else:
        probe_scheduler(scheduler, timeout)
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
                f"check the address, or start one with `dask scheduler` on that machine"
            ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise ClusterError(
                f"the Dask scheduler at {scheduler} has no workers after {timeout:g} s; start "
                f"some with `dask worker {scheduler}`"
            ) from None
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


#: Largest first message a Dask scheduler sends (its handshake is a few hundred bytes).
_HANDSHAKE_BYTES = 2**20


def probe_scheduler(address: str, timeout: float) -> None:
    """Check that a ``tcp://`` address answers like a Dask scheduler before a client connects.

    A scheduler sends its handshake first, prefixed by its length as 8 little-endian bytes. The
    probe reads those 8 bytes within ``timeout`` seconds: another kind of server (HTTP, SSH)
    sends nothing or text whose first bytes, read as a length, ask for exabytes, which Dask's
    client would try to allocate. Other protocols (``tls://``, ``inproc://``) are left to Dask.

    Raises
    ------
    ClusterError
        If nothing listens, nothing arrives in time, or the first 8 bytes are not a handshake.
    """
    import socket
    import struct
    from urllib.parse import urlsplit

    scheme, _, _ = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    try:
        parts = urlsplit(f"tcp://{address.rpartition('://')[2]}")
        host, port = parts.hostname, parts.port or 8786  # Dask's default scheduler port
    except ValueError:
        host = None
    if not host:
        raise ClusterError(f"--scheduler {address}: give an address tcp://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        head = None
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({exc.strerror or exc}); check the address, or start one with `dask scheduler` "
            f"on that machine"
        ) from None
    if head is None or len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] <= _HANDSHAKE_BYTES:
        said = "nothing" if not head else repr(head)
        raise ClusterError(
            f"{address} is not a Dask scheduler (it sent {said} within {timeout:g} s, where a "
            f"scheduler sends its handshake); check the host and the port (8786 by default)"
        )


def dask_setup(worker) -> None:
    """Worker-process setup of the local cluster: leave Ctrl-C to the client.

    Ctrl-C in a terminal signals every process of the sweep; the client then shuts the cluster
    down in order, which a worker interrupted on its own would only disturb.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def dashboard_address(client) -> str | None:
    """The scheduler's dashboard address, or None when it has no dashboard."""
    if "dashboard" not in client.scheduler_info().get("services", {}):
        return None
    return client.dashboard_link


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
    """
    from mlplab.sweep.spec import run_id as make_id

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ids = [make_id(c) for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError("the same configuration is listed more than once")
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
    from distributed import as_completed

    from mlplab.progress import task_progress

    tally = Tally()
    bar = task_progress("runs", len(todo), enabled=progress)
    task = bar.add_task("runs", total=len(todo), info=tally.info())

    def started(event: tuple) -> None:
        _, message = event
        with tally.lock:
            tally.running.add(message["run_id"])
        bar.update(task, info=tally.info())

    token = uuid.uuid4().hex[:8]
    rows = {}
    with bar:
        client.subscribe_topic(_TOPIC, started)
        futures = {
            client.submit(
                run_task, cfg.to_dict(), rid, str(out), force, key=f"mlplab-run-{rid}-{token}"
            ): (rid, cfg)
            for rid, cfg in todo
        }
        for future in as_completed(futures):
            rid, cfg = futures[future]
            if future.status == "error":
                exc = future.exception()
                row = result_row(rid, cfg, None, f"{type(exc).__name__}: {exc}")
            else:
                row = future.result()
            rows[rid] = row
            with tally.lock:
                tally.running.discard(rid)
                if row["status"] == "ok":
                    tally.done += 1
                else:
                    tally.failed += 1
            bar.update(task, completed=tally.done + tally.failed, info=tally.info())
            future.release()
    client.unsubscribe_topic(_TOPIC)
    return rows

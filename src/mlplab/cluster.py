"""Dask for sweeps and studies: connect to a cluster, gather task results with a progress bar.

:func:`connect` gives a ``distributed.Client`` to a running scheduler or to a new local cluster,
with a timeout and a one-line :class:`ClusterError` when there is none; :func:`gather` collects
the results of submitted tasks as they finish, with a progress bar. Tasks that write a run
folder write it through :func:`mlplab.runfolder.staged`, so a task that dies leaves no
half-written folder under the run's name. Dask is imported only here, and only when used.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any


class ClusterError(RuntimeError):
    """No Dask cluster to run on (unreachable scheduler, no workers, dask not installed)."""


@contextmanager
def connect(
    scheduler: str | None = None, workers: int | None = None, timeout: float = 10.0
) -> Iterator[Any]:
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


def dask_setup(worker) -> None:
    """Worker-process setup of the local cluster: leave Ctrl-C to the client.

    Ctrl-C in a terminal signals every process of the run; the client then shuts the cluster
    down in order, which a worker interrupted on its own would only disturb.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def dashboard_address(client, timeout: float = 2.0) -> str | None:
    """The address of the scheduler's dashboard page, or None where there is none to open.

    A scheduler lists its web server as the "dashboard" service even where it serves no
    dashboard page (``dask scheduler --no-dashboard``), so the page is asked for once, within
    ``timeout`` seconds and past any proxy, and named only if it answers. (Without bokeh, the
    page that answers says how to install it.) A link without a scheme (a path that a notebook
    server proxies, from Dask's ``distributed.dashboard.link`` setting) is named as it is.
    """
    if "dashboard" not in client.scheduler_info().get("services", {}):
        return None
    link = client.dashboard_link
    try:
        if not urllib.parse.urlsplit(link).scheme:
            return link
    except ValueError:  # not an address at all
        return None
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(link, timeout=timeout) as page:
            return link if page.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):  # 404, unreachable, not HTTP
        return None


def gather(
    client,
    submit: Callable[[], dict[Any, Hashable]],
    label: str,
    *,
    progress: bool = False,
    result: Callable[[Hashable, Any], Any] | None = None,
    info: Callable[[Hashable, Any], str] | None = None,
    events: tuple[str, Callable[[dict], str]] | None = None,
    header: str | None = None,
) -> dict[Hashable, Any]:
    """Submit tasks and collect their results as they finish, with a progress bar.

    Parameters
    ----------
    client : distributed.Client
    submit : callable
        Submits the tasks; returns each future with the key its result is stored under. It is
        called once the bar listens for ``events``, so that none is missed.
    label : str
        What the tasks are ("runs", "studies"), shown by the bar.
    progress : bool
        Show the bar on stderr.
    result : callable, optional
        ``result(key, future)`` gives the stored value (default ``future.result()``, which
        raises the task's exception).
    info : callable, optional
        ``info(key, value)`` is the bar's text after each result (default: the key).
    events : (topic, handler), optional
        Events that tasks log with ``distributed.get_worker().log_event(topic, message)``:
        ``handler(message)`` returns the bar's new text.
    header : str, optional
        A line printed above the bar (on stderr, also without the bar).

    Returns
    -------
    dict
        key -> value, in the order the tasks finished.
    """
    from distributed import as_completed

    from mlplab.progress import task_progress

    values: dict[Hashable, Any] = {}
    bar = task_progress(label, 0, enabled=progress)
    task = bar.add_task(label, total=None, info=info(None, None) if info else "")
    with bar:
        if header:
            bar.console.print(header, highlight=False, soft_wrap=True)
        if events is not None:
            topic, handler = events
            client.subscribe_topic(topic, lambda event: bar.update(task, info=handler(event[1])))
        try:
            futures = submit()
            bar.update(task, total=len(futures))
            for future in as_completed(futures):
                key = futures[future]
                values[key] = result(key, future) if result else future.result()
                bar.update(task, advance=1, info=info(key, values[key]) if info else str(key))
                future.release()
        finally:
            if events is not None:
                client.unsubscribe_topic(events[0])
    return values


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

"""A progress bar for long work (rich, imported with the first bar shown), refreshed at most ten
times a second."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress

    from mlplab.train import History

_INTERVAL = 0.1


def task_progress(description: str, total: int, enabled: bool = True) -> Progress:
    """A rich progress bar over ``total`` items, drawn on stderr; silent when not ``enabled``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[..., None]]:
    """A progress bar over ``total`` items; yields ``advance(info="")``."""
    bar = task_progress(description, total, enabled)
    with bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda info="": bar.update(task, advance=1, info=info)


class EpochProgress:
    """Context manager that shows the epoch and the latest losses while :func:`fit` runs.

    Parameters
    ----------
    epochs : int
        Total number of epochs.
    enabled : bool
        False for a silent run (``quiet``).
    """

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        self.epochs = epochs
        self.enabled = enabled
        self._bar = task_progress("epoch", epochs, enabled) if enabled else None
        self._last = 0.0

    def __enter__(self) -> EpochProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("epoch", total=self.epochs, info="")
        return self

    def note(self, text: str) -> None:
        """Show ``text`` beside the bar until the next update."""
        if self._bar is not None:
            self._bar.update(self._task, info=text)

    def update(self, epoch: int, history: History) -> None:
        """Show ``epoch`` (1-based) of ``epochs`` and the history's latest losses."""
        if self._bar is None:
            return
        now = time.perf_counter()
        if now - self._last < _INTERVAL and epoch < self.epochs:
            return
        self._last = now
        info = f"train {history.train_loss[-1]:.3e}"
        if history.val_loss:
            info += f"  val {history.val_loss[-1]:.3e}"
        self._bar.update(self._task, completed=epoch, info=info)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

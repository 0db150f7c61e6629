"""The results table of a sweep: ``results.csv``, one row per run.

Columns: ``run_id``, ``status`` (``ok`` or ``failed``), every field of
:class:`mlplab.config.TrainConfig`, every metric of :func:`mlplab.train_run.train_run` (its training
status as ``fit_status``), then ``error``. Lists (``hidden``, ``domain``) are written as JSON,
missing values as empty cells, floats with full precision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from mlplab.io import write_text


def columns(rows: Sequence[dict]) -> list[str]:
    """Every key of ``rows`` in first-seen order, with ``error`` last."""
    names = list(dict.fromkeys(k for row in rows for k in row if k != "error"))
    return [*names, "error"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(rows: Sequence[dict]) -> str:
    """The rows as CSV text with a header line."""
    names = columns(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    return buf.getvalue()


def write_results(rows: Sequence[dict], path: str | Path) -> Path:
    """Write ``results.csv`` atomically."""
    return write_text(path, to_csv(rows))


def read_results(path: str | Path) -> list[dict[str, str]]:
    """Read a ``results.csv`` back as a list of dicts of strings."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))

"""Files written whole and read with bounds: atomic writes, and small JSON files read safely.

Every file mlplab writes goes through :func:`atomic_open` (a temporary file beside the target,
renamed onto it on success), so an interrupted write never leaves half a file; JSON files are
read with a size bound and mlplab's own errors (:func:`read_json`). Model files are in
:mod:`mlplab.io`, which builds on these.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mlplab.errors import ModelFileError

#: Largest metadata string or JSON file read (1 MiB; a model's metadata is a few hundred bytes).
MAX_META_BYTES = 2**20


def _create_beside(path: Path) -> tuple[int, str]:
    """A new file with a fresh hidden name in ``path``'s folder, opened for writing with the
    usual mode (0666 less the process's umask, as ``open`` gives); its descriptor and name."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to ``path`` and rename it onto ``path`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, write: Callable[[IO], object], mode: str = "w") -> Path:
    """Call ``write(fh)`` on a temporary file, then rename it onto ``path``."""
    with atomic_open(path, mode) as fh:
        write(fh)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    return atomic_write(path, lambda fh: fh.write(text))


def write_json(path: str | Path, obj: object) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; a float NaN or ±inf, which JSON
    cannot hold, is written as null."""
    return write_text(path, json.dumps(_finite(obj), indent=2, sort_keys=False) + "\n")


def _finite(obj: object) -> object:
    """``obj`` with every float NaN or ±inf in its lists, tuples and dicts replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj


def loads_json(text: str, source: str, error: Callable[[str], Exception]) -> object:
    """Parse JSON ``text`` from ``source`` (a path or a name, for the message).

    Nesting deeper than Python's recursion limit, and anything else the parser refuses, raises
    ``error(message)``, never ``RecursionError``.
    """
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        kind = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise error(f"{source} is not valid JSON ({kind})") from None


def read_text(
    path: str | Path, limit: int, error: Callable[[str], Exception], what: str = "file"
) -> str:
    """The UTF-8 text of ``path``, refused with ``error(message)`` when it cannot be read, holds
    more than ``limit`` bytes (never more is read) or is not UTF-8 (a byte-order mark is
    skipped); ``what`` names the file in the messages."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{path} is larger than {limit} bytes; a {what} is small")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None


def read_json(path: str | Path, error: Callable[[str], Exception] = ModelFileError) -> object:
    """Read the JSON file ``path`` (at most :data:`MAX_META_BYTES`), with mlplab's errors."""
    return loads_json(read_text(path, MAX_META_BYTES, error, "JSON file"), str(path), error)

"""Model files and atomic writes.

A model file is a NumPy ``.npz`` archive holding ``W2, b2, W3, b3, ...`` (the paper's layer
numbers) and ``meta``, a JSON string with the format version, sizes, activations and dtype.
Nothing is pickled: files are read with ``allow_pickle=False``. Every file mlplab writes goes
to a temporary file in the same folder first and is then renamed over the target, so an
interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from mlplab._names import UnknownNameError
from mlplab._version import __version__
from mlplab.activations import Activation, get_activation

if TYPE_CHECKING:
    from mlplab.network import MLP

FORMAT = "mlplab-model"
_UMASK = os.umask(0o022)  # reading the umask means setting it: once, at import, then restored
os.umask(_UMASK)
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, damaged, or of another format version."""


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file next to ``path`` and rename it onto ``path`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual file mode
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
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_model(net: MLP, path: str | Path) -> Path:
    """Write ``net`` to ``path`` (see the module docstring for the layout).

    Returns
    -------
    Path
        The path written (``.npz`` is appended when missing).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mlplab_version": __version__,
        **net.config(),
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=False)):
        arrays[f"W{i + 2}"] = W
        arrays[f"b{i + 2}"] = b
    return atomic_write(path, lambda fh: np.savez(fh, **arrays), mode="wb")


def _read_archive(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}: check the path (models end in .npz)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path} is not a readable mlplab model file (damaged or not an .npz archive: {exc}); "
            f"save the model again with net.save(...)"
        ) from None
    if "meta" not in arrays:
        raise ModelFileError(f"{path} is an .npz archive but not an mlplab model (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path} has damaged metadata ({exc}); save the model again") from None
    return meta, arrays


def load_model(path: str | Path, activations: dict[str, Activation] | None = None) -> MLP:
    """Read a network written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
    activations : dict of str to Activation, optional
        User-defined activations by the name stored in the file.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, of another format version, or inconsistent.
    """
    from mlplab.network import MLP

    path = Path(path)
    meta, arrays = _read_archive(path)
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlplab model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format version {version}, but this mlplab "
            f"({__version__}) reads version {FORMAT_VERSION}; use the mlplab version that wrote "
            f"it ({meta.get('mlplab_version', 'unknown')}) or save the model again"
        )
    custom = activations or {}
    try:
        acts = [
            custom[name] if name in custom else get_activation(name) for name in meta["activations"]
        ]
        net = MLP(meta["sizes"], activation=acts, output_activation=None, dtype=meta["dtype"])
    except UnknownNameError as exc:
        raise ModelFileError(
            f"{path} uses an activation this session does not know ({exc}); pass it as "
            f"MLP.load(path, activations={{'name': Activation(...)}})"
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has inconsistent metadata ({exc})") from None
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=False)):
        for name, target in ((f"W{i + 2}", W), (f"b{i + 2}", b)):
            if name not in arrays or arrays[name].shape != target.shape:
                got = arrays[name].shape if name in arrays else "missing"
                raise ModelFileError(
                    f"{path}: array {name} should have shape {target.shape}, found {got}"
                )
            target[...] = arrays[name]
    if not np.all(np.isfinite(net.params)):
        raise ModelFileError(f"{path} holds NaN or inf parameters")
    return net

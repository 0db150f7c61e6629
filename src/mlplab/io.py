"""Model files and atomic writes.

A model file is a NumPy ``.npz`` archive holding ``W2, b2, W3, b3, ...`` (the paper's layer
numbers) and ``meta``, a JSON string with the format version, sizes, activations and dtype; a
model written by ``mlplab pde run`` also holds ``pde_problem``, the name of the built-in problem
whose solution u is the network's output a^[L] through that problem's output transform (files
without it, as every file before it, hold a network whose output is the answer).
Nothing is pickled: files are read entry by entry through :mod:`mlplab.npz`, which checks each
array's declared shape and dtype before reading it, never with pickle. Every file mlplab writes goes
to a temporary file in the same folder first and is then renamed over the target, so an
interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab._version import __version__
from mlplab.activations import Activation, get_activation
from mlplab.errors import DataFileError, MlplabError, ModelFileError, SizeError, UnknownNameError
from mlplab.files import (
    MAX_META_BYTES,
    atomic_open,
    atomic_write,
    loads_json,
    read_json,
    write_json,
    write_text,
)
from mlplab.npz import Archive

if TYPE_CHECKING:
    from mlplab.network import MLP

FORMAT = "mlplab-model"
FORMAT_VERSION = 1

__all__ = ["ModelFileError", "atomic_open", "atomic_write", "load_model", "model_meta",
           "read_json", "save_model", "write_json", "write_text"]  # fmt: skip


def save_model(net: MLP, path: str | Path, *, pde_problem: str | None = None) -> Path:
    """Write ``net`` to ``path`` (see the module docstring for the layout).

    Parameters
    ----------
    net : MLP
    path : str or Path
    pde_problem : str, optional
        The built-in problem (:data:`mlplab.pde.problems.BUILTINS`) whose solution u is
        ``net``'s output through that problem's output transform, recorded by name.

    Returns
    -------
    Path
        The path written (``.npz`` is appended when missing).
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(
            f"{path} is a folder; give the model a file name, such as {path / 'model.npz'}"
        )
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mlplab_version": __version__,
        **net.config(),
    }
    if pde_problem is not None:
        meta["pde_problem"] = pde_problem
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=False)):
        arrays[f"W{i + 2}"] = W
        arrays[f"b{i + 2}"] = b
    return atomic_write(path, lambda fh: np.savez(fh, **arrays), mode="wb")


def _model_error(message: str) -> ModelFileError:
    return ModelFileError(f"{message}; models are written by net.save(...) or mlplab train")


def _read_meta(archive: Archive) -> dict:
    """The metadata of a model archive, with every field's type checked."""
    path = archive.path
    if "meta" not in archive.names:
        raise ModelFileError(f"{path} is an .npz archive but not an mlplab model (no 'meta' entry)")
    head = archive.header("meta")
    if head.shape != () or head.dtype.kind != "U" or head.dtype.itemsize > 4 * MAX_META_BYTES:
        raise _model_error(f"{path}: 'meta' must be one JSON string, found {head.dtype} "
                           f"of shape {head.shape}")  # fmt: skip
    meta = loads_json(str(archive.read("meta", head)), f"{path} metadata", _model_error)
    if not isinstance(meta, dict):
        raise _model_error(f"{path}: the metadata must be a JSON object")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlplab model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format version {version!r}, but this mlplab "
            f"({__version__}) reads version {FORMAT_VERSION}; use the mlplab version that wrote "
            f"it ({meta.get('mlplab_version', 'unknown')!r}) or save the model again"
        )
    sizes, acts, dtype = meta.get("sizes"), meta.get("activations"), meta.get("dtype")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(type(n) is int and 1 <= n for n in sizes)
    ):
        raise _model_error(f"{path}: 'sizes' must be a list of at least two whole widths >= 1")
    if not isinstance(acts, list) or not all(isinstance(a, str) for a in acts):
        raise _model_error(f"{path}: 'activations' must be a list of names")
    if len(acts) != len(sizes) - 1:
        raise _model_error(
            f"{path}: {len(acts)} activations for {len(sizes) - 1} layers (sizes {sizes})"
        )
    if dtype not in ("float64", "float32"):
        raise _model_error(f"{path}: 'dtype' must be 'float64' or 'float32', got {dtype!r}")
    problem = meta.get("pde_problem")
    if "pde_problem" in meta and not (
        isinstance(problem, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", problem)
    ):
        raise _model_error(
            f"{path}: 'pde_problem' must be the name of a problem (lower-case letters, digits "
            f"and _), got {str(problem)[:40]!r}"
        )
    return meta


def model_meta(path: str | Path) -> dict:
    """The metadata of the model file ``path``, every field's type checked (no array is read).

    Raises
    ------
    ModelFileError
        As :func:`load_model`, for a file that is missing, damaged or of another format.
    """
    with Archive(Path(path), _model_error, "model file") as archive:
        return _read_meta(archive)


def load_model(
    path: str | Path, activations: dict[str, Activation] | None = None, *, cls: type[MLP]
) -> MLP:
    """Read a network written by :func:`save_model` (``MLP.load`` calls it).

    The metadata is read and checked first (types, sizes against the memory limit); then each
    array's declared shape and dtype are checked against it before its data is read. Entries the
    model does not need are never decompressed.

    Parameters
    ----------
    path : str or Path
    activations : dict of str to Activation, optional
        User-defined activations by the name stored in the file.
    cls : type
        The network class to build, :class:`mlplab.MLP` (passed in, so that this module does
        not import the network module, which imports this one to save and load).

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, of another format version, or inconsistent.
    SizeError
        If the declared sizes would allocate more than :mod:`mlplab.limits` allows.
    """
    path = Path(path)
    with Archive(path, _model_error, "model file") as archive:
        meta = _read_meta(archive)
        custom = activations or {}
        try:
            acts = [
                custom[name] if name in custom else get_activation(name)
                for name in meta["activations"]
            ]
            net = cls(meta["sizes"], activation=acts, output_activation=None, dtype=meta["dtype"])
        except UnknownNameError as exc:
            raise ModelFileError(
                f"{path} uses an activation this session does not know ({exc}); pass it as "
                f"MLP.load(path, activations={{'name': Activation(...)}})"
            ) from None
        except SizeError as exc:
            raise SizeError(f"{path} declares {exc}") from None
        except MlplabError as exc:
            raise ModelFileError(f"{path} has inconsistent metadata ({exc})") from None
        for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=False)):
            for name, target in ((f"W{i + 2}", W), (f"b{i + 2}", b)):
                if name not in archive.names:
                    raise ModelFileError(
                        f"{path}: array {name} should have shape {target.shape}, found missing"
                    )
                head = archive.header(name)
                if head.shape != target.shape or head.dtype.kind != "f":
                    raise ModelFileError(
                        f"{path}: array {name} should be real floats of shape {target.shape}, "
                        f"found {head.dtype} of shape {head.shape}"
                    )
                target[...] = archive.read(name, head)
    if not np.all(np.isfinite(net.params)):
        raise ModelFileError(f"{path} holds NaN or inf parameters")
    return net


#: The largest parameter file :func:`read_parameters` reads (bytes).
MAX_PARAMETER_FILE = 64 * 2**20


def _check_parameter_names(
    path: Path,
    names: Iterable[str],
    expected: dict[str, np.ndarray],
    sizes: Sequence[int],
    also: tuple[str, ...] = (),
) -> None:
    """Refuse a weights file that holds a name other than ``expected`` (W2, b2, ...) and
    ``also`` (a model file's ``meta``): a layer that ``sizes`` do not have, or a mistyped name,
    is never silently ignored."""
    unknown = sorted(str(n) for n in names if n not in expected and n not in also)
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise DataFileError(
            f"{path} holds {shown}, which a weights file for sizes {list(sizes)} does not: the "
            f"names are {', '.join(expected)}; remove the others, or give the --sizes the file "
            f"was written for"
        )


def read_parameters(path: str | Path, net: MLP) -> MLP:
    """Set the weights and biases of ``net`` from a JSON or NPZ file, in place.

    Both hold ``W2, b2, W3, b3, ...`` (the paper's layer numbers): W^[l] as an n_l × n_{l-1}
    matrix (a list of rows in JSON), b^[l] as a vector of n_l numbers. A model file written by
    :meth:`MLP.save` is such an NPZ file.

    Parameters
    ----------
    path : str or Path
        ``.json`` or ``.npz``.
    net : MLP
        Its sizes fix the shapes the file must hold.

    Returns
    -------
    MLP
        ``net``, with its parameters replaced.

    Raises
    ------
    ValueError
        If the file is missing, too large, unreadable, holds a name other than W2, b2, ... for
        ``net``'s layers (and, in a model file, its ``meta``), or an array of the wrong shape or
        a NaN or inf; the message names the array and what is expected.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no weights file at {path}")
    if path.stat().st_size > MAX_PARAMETER_FILE:
        raise ValueError(
            f"{path} is larger than {MAX_PARAMETER_FILE >> 20} MiB; not a weights file"
        )
    expected = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        expected[f"W{i + 2}"], expected[f"b{i + 2}"] = W, b
    if path.suffix.lower() == ".json":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataFileError(f"cannot read {path} as JSON: {exc}") from None
        data = loads_json(text, str(path), DataFileError)
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object with keys {', '.join(expected)}")
        _check_parameter_names(path, data, expected, net.sizes)
    elif path.suffix.lower() == ".npz":
        data = {}
        with Archive(path, DataFileError, "weights file") as archive:
            _check_parameter_names(path, archive.names, expected, net.sizes, also=("meta",))
            for name, target in expected.items():
                if name in archive.names:
                    head = archive.header(name)  # checked before any data is read
                    if head.dtype.kind not in "iuf" or math.prod(head.shape) != target.size:
                        raise DataFileError(
                            f"{path}: {name} must hold {target.size} real numbers (shape "
                            f"{target.shape}), found {head.dtype} of shape {head.shape}"
                        )
                    data[name] = archive.read(name, head)
    else:
        raise ValueError(f"{path}: a weights file ends in .json or .npz")
    for name, target in expected.items():
        if name not in data:
            raise ValueError(
                f"{path} has no {name}; a weights file holds {', '.join(expected)} for sizes "
                f"{net.sizes}"
            )
        try:
            value = np.asarray(data[name], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {name} must be an array of numbers") from None
        if value.shape != target.shape:
            raise ValueError(
                f"{path}: {name} should have shape {target.shape} for sizes {net.sizes}, found "
                f"{value.shape}"
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path}: {name} contains NaN or inf values")
        target[...] = value
    return net

"""Bounded reading of ``.npz`` archives (a zip of ``.npy`` arrays), without pickle.

``numpy.load`` on an ``.npz`` file decompresses an entry as soon as it is asked for and
allocates whatever shape its header declares; on a file that is not a zip it falls back to
unpickling and tells the user to pass ``allow_pickle=True``. This module opens the zip itself,
reads an entry's ``.npy`` header from a bounded stream (:func:`header`), lets the caller check
the declared shape and dtype, and only then reads the data (:func:`read`), so a file that
declares a huge shape is refused before anything is allocated and entries nobody asks for are
never decompressed.
"""

from __future__ import annotations

import math
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlplab.errors import MlplabError
from mlplab.limits import check_bytes

#: Largest ``.npy`` header read (NumPy's own default bound).
MAX_HEADER = 10_000
# what a damaged archive or entry raises: bad zip structures or data, bad compression, an
# encrypted entry, a zip feature or version Python does not read, a header NumPy cannot parse
# as a Python literal (cut short, nested too deeply, a number too large for its type)
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
                RuntimeError, NotImplementedError, SyntaxError, tokenize.TokenError,
                RecursionError, OverflowError, TypeError)  # fmt: skip


@dataclass(frozen=True)
class Header:
    """The declared layout of one ``.npy`` entry."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype

    @property
    def nbytes(self) -> float:
        """Bytes the array would take (a float, inf for a declared shape too large for one)."""
        n = math.prod(self.shape) * self.dtype.itemsize  # a Python int: exact at any size
        return float(n) if n < 2**1000 else math.inf


class Archive:
    """An open ``.npz`` file whose entries are read only after their headers are checked.

    Parameters
    ----------
    path : Path
    error : callable
        Builds the exception raised for a problem, from a message that starts with the path.
    kind : str
        What the file should be (``"model file"``), for the message about a missing file.

    Raises
    ------
    MlplabError
        (from ``error``) for a missing file or one that is not a zip archive.
    """

    def __init__(self, path: Path, error: Callable[[str], MlplabError], kind: str = "file") -> None:
        self.path, self.error = Path(path), error
        if not self.path.is_file():
            raise error(f"no {kind} at {self.path}: check the path")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except _READ_ERRORS as exc:
            raise error(
                f"{self.path} is not an .npz archive (a zip of .npy arrays): {exc}"
            ) from None
        self.names = {
            info.filename[:-4]: info.filename
            for info in self.zip.infolist()
            if info.filename.endswith(".npy")
        }

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def header(self, name: str) -> Header:
        """The declared shape, order and dtype of entry ``name``, read from at most a few
        kilobytes of the decompressed stream; object and structured dtypes are refused."""
        where = f"{self.path}: array {name!r}"
        try:
            with self.zip.open(self.names[name]) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                        fh, max_header_size=MAX_HEADER
                    )
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                        fh, max_header_size=MAX_HEADER
                    )
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
        except _READ_ERRORS as exc:
            raise self.error(f"{where} is damaged or not a NumPy array ({exc})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            raise self.error(f"{where} holds Python objects or records ({dtype}); mlplab reads "
                             f"numeric arrays only")  # fmt: skip
        return Header(tuple(int(n) for n in shape), bool(fortran), dtype)

    def read(self, name: str, expected: Header | None = None) -> np.ndarray:
        """Entry ``name``, after checking its size against :mod:`mlplab.limits`.

        ``expected`` is the header already checked by the caller; the entry must still match it.
        """
        head = self.header(name) if expected is None else expected
        shape = str(head.shape) if len(str(head.shape)) <= 60 else "(too long to print)"
        check_bytes(
            f"{self.path}: array {name!r} of declared shape {shape}",
            head.nbytes,
            "the file is damaged or holds larger arrays than mlplab reads; check the file, or "
            "set MLPLAB_MAX_BYTES higher for an array this large",
        )
        try:
            with self.zip.open(self.names[name]) as fh:
                array = np.lib.format.read_array(fh, allow_pickle=False, max_header_size=MAX_HEADER)
        except _READ_ERRORS as exc:
            raise self.error(f"{self.path}: array {name!r} is damaged ({exc})") from None
        if array.shape != head.shape or array.dtype != head.dtype:
            raise self.error(f"{self.path}: array {name!r} changed while it was read")
        return array

"""Checks of the values users hand to mlplab, shared by the modules that take them.

Every array of numbers a user gives (inputs, targets, coefficients) goes through
:func:`as_real`, so that complex, text or object values are refused by name rather than
truncated with a warning or parsed; every seed goes through :func:`check_seed`. This module
imports nothing of mlplab but its errors, so that any module can use it.
"""

from __future__ import annotations

import numbers

import numpy as np

from mlplab.errors import MlplabError


def as_array(values: object, name: str) -> np.ndarray:
    """``values`` as a NumPy array, as ``np.asarray`` makes it.

    Raises
    ------
    MlplabError
        For nested lists with rows of different lengths, which NumPy cannot make an array of.
    """
    try:
        return np.asarray(values)
    except ValueError:  # NumPy's "setting an array element with a sequence ... inhomogeneous"
        raise MlplabError(
            f"{name} has rows of different lengths; give an array whose rows all have one length"
        ) from None


def as_real(values: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``values`` as an array of real numbers in ``dtype`` (NaN and inf are left for the caller).

    Parameters
    ----------
    values : array_like
        Numbers: booleans, integers or floats of any precision.
    dtype : numpy dtype
        ``float64`` or ``float32``.
    name : str
        What the values are, for the message (``"X"``, ``"y"``).

    Raises
    ------
    MlplabError
        For values that are not real numbers (complex, text, objects), rows of different
        lengths, and finite values beyond the range of ``dtype`` (float64 data for a float32
        network), without a warning.
    """
    raw = as_array(values, name)
    if raw.dtype.kind not in "biuf":
        how = f", e.g. np.asarray({name}, dtype=float)" if raw.dtype.kind == "O" else ""
        raise MlplabError(
            f"{name} holds {raw.dtype} values; give real numbers (an array of floats{how})"
        )
    if raw.dtype == dtype:
        return raw
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32: named below
        out = raw.astype(dtype)
    if raw.dtype.kind == "f" and raw.dtype.itemsize > out.dtype.itemsize:
        beyond = int(np.count_nonzero(np.isfinite(raw) & ~np.isfinite(out)))
        if beyond:
            raise MlplabError(
                f"{name} holds {beyond} value(s) beyond the range of {out.dtype} (about "
                f"±{np.finfo(out.dtype).max:.2g}): rescale them, or use dtype='float64'"
            )
    return out


def check_whole(value: object, name: str, low: int, optional: bool = False) -> int | None:
    """``value``, a whole number >= ``low`` (or None where ``optional``), as an int or None.

    Raises
    ------
    MlplabError
        For anything else: a float (which would be truncated), a bool, text, a smaller number.
    """
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        none = " or None" if optional else ""
        raise MlplabError(f"{name} must be a whole number >= {low}{none}, got {value!r}")
    return int(value)


def check_seed(seed: int | None, name: str = "seed") -> int | None:
    """``seed`` (a whole number >= 0, or None for fresh entropy) as an int or None.

    Raises
    ------
    MlplabError
        For anything else (a float, a bool, a negative number, text), which
        ``numpy.random.default_rng`` would refuse in its own words, or truncate.
    """
    return check_whole(seed, name, 0, optional=True)

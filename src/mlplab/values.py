"""Checks of the values users hand to mlplab, shared by the modules that take them.

Every array of numbers a user gives (inputs, targets, coefficients) goes through
:func:`as_real`, so that complex, text or object values are refused by name rather than
truncated with a warning or parsed; every seed goes through :func:`check_seed`; every list of
layer widths typed on the command line goes through :func:`widths` (the options take it with
:class:`mlplab.config.WidthsAction`). This module imports nothing of mlplab but its errors, so
that any module can use it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

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


def _real(value: object) -> float:
    """``value`` as a float where it is one real number (a Python or NumPy number, a 0-d
    array), inf for an integer beyond float64, NaN for anything else (a bool, text, None)."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int beyond float64
            return math.inf
    return math.nan


def check_real(value: object, name: str, example: str = "0.0") -> float:
    """``value``, a finite real number, as a float.

    Raises
    ------
    MlplabError
        For NaN, inf, an integer beyond float64, a bool, text.
    """
    number = _real(value)
    if not math.isfinite(number):
        raise MlplabError(f"{name} must be a finite number, such as {example}; got {value!r}")
    return number


def check_positive(value: object, name: str, example: str = "1e-3", zero: bool = False) -> float:
    """``value``, a finite real number > 0 (>= 0 where ``zero``), as a float.

    Raises
    ------
    MlplabError
        For anything else: a negative number (or 0), NaN, inf, an integer beyond float64,
        a bool, text.
    """
    number = _real(value)
    if not ((0 <= number if zero else 0 < number) and number < math.inf):  # also NaN
        bound = ">= 0" if zero else "> 0"
        raise MlplabError(
            f"{name} must be a finite number {bound}, such as {example}; got {value!r}"
        )
    return number


def is_listing(value: object) -> bool:
    """Whether ``value`` lists things in an order: a list, tuple, range, array or pandas
    Series, not text, a mapping or a set (whose order is not the user's)."""
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping, AbstractSet))


def check_interval(
    bounds: object, name: str, example: str = "(-1, 1)", equal: bool = False
) -> tuple[float, float]:
    """``bounds``, two real numbers low < high (low <= high where ``equal``) whose width
    high − low is finite, as two floats.

    Raises
    ------
    MlplabError
        For anything else: one number or three, text, NaN or infinite bounds, bounds in the
        wrong order, or a width beyond float64 (-1e308, 1e308).
    """
    try:
        low, high = (_real(v) for v in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        low = high = math.nan
    ok = math.isfinite(high - low) and (low <= high if equal else low < high)
    if not ok:
        order = "low <= high" if equal else "low < high"
        raise MlplabError(
            f"{name} must be two finite numbers {order} a finite width apart, such as "
            f"{example}; got {bounds!r}"
        )
    return low, high  # type: ignore[return-value]


def check_seed(seed: int | None, name: str = "seed") -> int | None:
    """``seed`` (a whole number >= 0, or None for fresh entropy) as an int or None.

    Raises
    ------
    MlplabError
        For anything else (a float, a bool, a negative number, text), which
        ``numpy.random.default_rng`` would refuse in its own words, or truncate.
    """
    return check_whole(seed, name, 0, optional=True)


#: How layer widths are written on the command line, for help texts and messages.
WIDTHS_FORMAT = "whole numbers >= 1 separated by spaces or commas: 2 3 1 or 2,3,1"


def widths(words: Sequence[str]) -> list[int]:
    """Layer widths as the command line takes them, as ints.

    Parameters
    ----------
    words : sequence of str
        The words given to the option: ``["2", "3", "1"]``, ``["2,3,1"]`` or a mix
        (``["2,3", "1"]``) all give ``[2, 3, 1]``.

    Raises
    ------
    MlplabError
        Naming the entry that is not a whole number >= 1 (``0``, ``x``, ``1.5``), or the word
        with an empty entry (``1,,3``, ``2,``).
    """
    out = []
    for word in words:
        for entry in word.split(","):
            text = entry.strip()
            if not text:
                raise MlplabError(f"{word!r} has an empty entry; give {WIDTHS_FORMAT}")
            try:  # no sign, point, 1_0 or a number of thousands of digits
                width = int(text) if text.isascii() and text.isdigit() else 0
            except ValueError:
                width = 0
            if width < 1:
                shown = text if len(text) <= 20 else f"{text[:20]}… ({len(text)} characters)"
                raise MlplabError(f"{shown!r} is not a layer width; give {WIDTHS_FORMAT}")
            out.append(width)
    return out

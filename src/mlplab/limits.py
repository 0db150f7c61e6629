"""Size checks before allocating: every size a user gives is priced in bytes first.

An option such as ``--hidden 200000000`` or ``--n-train 1e10``, a class label of 10^12 or a
shape declared in a file would otherwise reach NumPy, which tries to allocate terabytes and
fails with an error about its own internals (or, worse, succeeds and swaps). :func:`check_bytes`
refuses such a size with a message naming the option and the bytes it would take.

The limit is :data:`MAX_BYTES` (4 GiB by default), or the environment variable
``MLPLAB_MAX_BYTES`` (a number of bytes) for users who mean to go bigger.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from mlplab.errors import SizeError

#: Largest single allocation mlplab makes from a user-given size, unless MLPLAB_MAX_BYTES says.
MAX_BYTES = 4 * 2**30


def max_bytes() -> int:
    """The current limit in bytes: ``MLPLAB_MAX_BYTES`` if set to a positive number, else
    :data:`MAX_BYTES`."""
    text = os.environ.get("MLPLAB_MAX_BYTES", "").strip()
    if not text:
        return MAX_BYTES
    try:
        value = float(text)
    except ValueError:
        raise SizeError(
            f"MLPLAB_MAX_BYTES must be a number of bytes, got {text!r}; unset it to use the "
            f"default of {format_bytes(MAX_BYTES)}"
        ) from None
    if not (math.isfinite(value) and value >= 1):
        raise SizeError(f"MLPLAB_MAX_BYTES must be a positive number of bytes, got {text!r}")
    return int(value)


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``'7.28 TiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_bytes(what: str | Callable[[], str], nbytes: int | float, hint: str = "") -> None:
    """Refuse an allocation of ``nbytes`` bytes for ``what`` above :func:`max_bytes`.

    Parameters
    ----------
    what : str or callable
        The option or input that sets the size, with its value (``"--hidden 200000000"``),
        or a function that returns it, called only to refuse (a check on a hot path).
    nbytes : int or float
        Bytes the allocation would take (a float may be inf for a size that overflows).
    hint : str, optional
        How to fix it; the default says to give a smaller value or raise ``MLPLAB_MAX_BYTES``.

    Raises
    ------
    SizeError
    """
    limit = max_bytes()
    if not nbytes <= limit:  # also catches nan
        what = what() if callable(what) else what
        if not math.isfinite(nbytes) or nbytes >= 2**80:
            raise SizeError(
                f"{what} would allocate more memory than any machine holds; "
                f"{hint or 'give a smaller value'}"
            )
        fix = hint or f"give a smaller value, or set MLPLAB_MAX_BYTES above {nbytes:.0f}"
        raise SizeError(
            f"{what} would allocate {format_bytes(nbytes)} ({nbytes:.0f} bytes), more than "
            f"mlplab's limit of {format_bytes(limit)}; {fix}"
        )

"""Study parameters: what ``mlplab experiment run NAME --set KEY=VALUE`` may change.

A study module that takes parameters lists them in ``PARAMETERS`` (a tuple of
:class:`Parameter`) and accepts them as keyword arguments of its ``run``; ``mlplab experiment
show NAME`` lists them with their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Parameter:
    """One setting of a study.

    Attributes
    ----------
    name : str
    default : int, float or tuple of int
    help : str
        What it sets, in a few words.
    low : float
        The smallest value accepted (every entry, for a list).
    """

    name: str
    default: int | float | tuple[int, ...]
    help: str
    low: float = 1

    def parse(self, text: str) -> int | float | tuple[int, ...]:
        """The value written ``text`` (``11``, ``0.5``, ``2,4,8``), checked; ValueError if bad."""
        listed = isinstance(self.default, tuple)
        kind = type(self.default[0] if listed else self.default)
        try:
            numbers = [float(part) for part in (text.split(",") if listed else [text])]
        except ValueError:
            numbers = None
        if numbers is None or (
            kind is int and any(v != int(v) for v in numbers if math.isfinite(v))
        ):
            what = (
                "whole numbers separated by commas, e.g. 2,4,8"
                if listed
                else "a whole number"
                if kind is int
                else "a number"
            )
            raise ValueError(f"{self.name} takes {what}, got {text!r}")
        if any(not math.isfinite(v) or v < self.low for v in numbers):
            raise ValueError(f"{self.name} must be >= {self.low:g}, got {text!r}")
        values = [kind(v) for v in numbers]
        return tuple(values) if listed else values[0]

    def shown(self) -> str:
        """The default as ``--set`` writes it."""
        if isinstance(self.default, tuple):
            return ",".join(map(str, self.default))
        return f"{self.default:g}"


def parameters(study: ModuleType) -> tuple[Parameter, ...]:
    """The parameters a study module takes (none if it lists none)."""
    return tuple(getattr(study, "PARAMETERS", ()))


def parse_settings(name: str, study: ModuleType, settings: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings as a dict of checked values for the study ``name``.

    Raises
    ------
    ValueError
        For a malformed setting, a key the study does not take (the message lists those it
        takes), or a bad value.
    """
    known = {p.name: p for p in parameters(study)}
    values = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"a setting is KEY=VALUE, e.g. width=11; got {setting!r}")
        if key not in known:
            takes = f"it takes {', '.join(known)}" if known else "it takes no parameters"
            raise ValueError(
                f"study {name!r} has no parameter {key!r}; {takes} (mlplab experiment show {name})"
            )
        values[key] = known[key].parse(text.strip())
    return values

"""Study parameters: what ``mlplab experiment run NAME --set KEY=VALUE`` may change.

Every study module lists its parameters in ``PARAMETERS`` (a tuple of :class:`Parameter`) and
accepts each as a keyword argument of its ``run``, with the parameter's default as the default;
``mlplab experiment show NAME`` lists them with their defaults and quick values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

#: The largest learning rate a study's ``lr`` takes: 100 times the largest default
#: (SGD's 0.1 in cos4 and mse-vs-ce; Adam's is 1e-3 in runge), far past the rates the studies
#: train at. Adam moves each weight by up to about lr per step, so at 10 one step moves every
#: weight by up to 10, many times the spread of its initial values (Xavier's is 0.125 between
#: layers of 64: runge at lr 10 ends with a validation MSE of 10^3 to 10^4); SGD on the cos4
#: network diverges already at η = 2. A larger value is a typo (1e308 for 1e-3); a rate below
#: it that still diverges ends the study with a report that says so
#: (:func:`mlplab.experiments.common.diverged_result`). batch-lr, which measures where SGD
#: diverges, has a grid of rates of its own (``log_lr``).
MAX_LR = 10.0

#: Parameter names the studies have given up, with the name each is now: the words of
#: ``mlplab train``, sweep files and :func:`mlplab.fit`. A study that takes the new name
#: answers the old one with it.
RENAMED = {"n": "n_train", "batch": "batch_size", "eta": "lr"}


@dataclass(frozen=True)
class Parameter:
    """One setting of a study.

    Attributes
    ----------
    name : str
    default : int, float, or tuple of int or of float
        The value without ``--set``; its type is the kind of value the parameter takes (a
        tuple: a list written with commas, ``2,4,8`` or ``0.3,0.7``).
    help : str
        What it sets, in a few words.
    low, high : float
        The smallest and largest values accepted (every entry, for a list).
    quick : same type as default, optional
        The value a ``--quick`` run uses when the parameter is not set (None: the default). A
        value given with ``--set`` is used as given, with or without ``--quick``.
    """

    name: str
    default: int | float | tuple[int, ...] | tuple[float, ...]
    help: str
    low: float = 1
    high: float = math.inf
    quick: int | float | tuple[int, ...] | tuple[float, ...] | None = None

    def parse(self, text: str) -> int | float | tuple[int, ...] | tuple[float, ...]:
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
            numbers_ = "whole numbers" if kind is int else "numbers"
            what = (
                f"{numbers_} separated by commas, e.g. {self.shown()}"
                if listed
                else "a whole number"
                if kind is int
                else "a number"
            )
            raise ValueError(f"{self.name} takes {what}, got {text!r}")
        if any(not math.isfinite(v) or not self.low <= v <= self.high for v in numbers):
            bounds = (
                f">= {self.low:g}"
                if math.isinf(self.high)
                else f"between {self.low:g} and {self.high:g}"
            )
            raise ValueError(f"{self.name} must be {bounds}, got {text!r}")
        values = [kind(v) for v in numbers]
        return tuple(values) if listed else values[0]

    def shown(self) -> str:
        """The default as ``--set`` writes it."""
        return written(self.default)

    def value(self, quick: bool) -> int | float | tuple[int, ...] | tuple[float, ...]:
        """The value used when the parameter is not set: :attr:`quick` in a quick run (where
        there is one), else :attr:`default`."""
        return self.quick if quick and self.quick is not None else self.default


def written(value: int | float | tuple) -> str:
    """A parameter's value as ``--set`` writes it: ``11``, ``0.05``, ``2,4,8``, ``0.3,0.7``."""
    if isinstance(value, tuple):
        return ",".join(map(written, value))
    return str(value) if isinstance(value, int) else f"{value:g}"


def parameters(study: ModuleType) -> tuple[Parameter, ...]:
    """The parameters a study module takes."""
    return tuple(study.PARAMETERS)


def values(study: ModuleType, quick: bool, given: dict) -> dict:
    """Every parameter of ``study`` with the value its run uses: the ``given`` one, else
    :meth:`Parameter.value`."""
    return {p.name: given.get(p.name, p.value(quick)) for p in parameters(study)}


def parse_settings(name: str, study: ModuleType, settings: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings as a dict of checked values for the study ``name``.

    Raises
    ------
    ValueError
        For a malformed setting, a key the study does not take (the message lists those it
        takes, and names the new name of a key in :data:`RENAMED`), or a bad value.
    """
    known = {p.name: p for p in parameters(study)}
    values = {}
    for setting in settings:
        key, sep, text = setting.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"a setting is KEY=VALUE, e.g. width=11; got {setting!r}")
        if key not in known:
            now = RENAMED.get(key)
            renamed = f": it is now {now}" if now in known else ""
            raise ValueError(
                f"study {name!r} has no parameter {key!r}{renamed}; it takes "
                f"{', '.join(known)} (mlplab experiment show {name})"
            )
        if key in values:
            raise ValueError(f"--set gives {key} twice; give each parameter once")
        values[key] = known[key].parse(text.strip())
    return values

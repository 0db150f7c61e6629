"""Initialisers for the weights W^[l] (shape ``(n_l, n_{l-1})``) and biases b^[l] (``(n_l,)``).

An :class:`Initializer` draws an array of a given shape from a ``numpy.random.Generator``,
knowing the fan-in n_{l-1} and fan-out n_l of the layer. Names: ``xavier_normal``
(Glorot), ``xavier_uniform``, ``he_normal`` (Kaiming), ``he_uniform``, ``normal`` / ``normal:μ,σ``,
``uniform`` / ``uniform:a,b``, ``zeros`` and ``constant:c``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlplab._names import build, no_parameters, parse_spec, spec_number, unknown
from mlplab.errors import MlplabError
from mlplab.values import check_interval, check_positive, check_real

DrawFn = Callable[[np.random.Generator, tuple[int, ...], int, int], np.ndarray]


@dataclass(frozen=True)
class Initializer:
    """Draws a parameter array.

    Parameters
    ----------
    name : str
        The name written to config files, e.g. ``"normal:0,0.5"``.
    draw : callable
        ``draw(rng, shape, fan_in, fan_out) -> ndarray`` (float64, of ``shape``).
    """

    name: str
    draw: DrawFn

    def __call__(
        self, rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int
    ) -> np.ndarray:
        return self.draw(rng, shape, fan_in, fan_out)

    def __repr__(self) -> str:
        return f"Initializer({self.name!r})"


def normal(mean: float = 0.0, std: float = 1.0) -> Initializer:
    """Entries from N(mean, std²)."""
    mean = check_real(mean, "normal init's mean", "0")
    std = check_positive(std, "normal init's std", "0.5", zero=True)
    name = (
        "normal" if (mean, std) == (0.0, 1.0) else f"normal:{spec_number(mean)},{spec_number(std)}"
    )
    return Initializer(name, lambda rng, shape, fi, fo: rng.normal(mean, std, size=shape))


def uniform(low: float = -1.0, high: float = 1.0) -> Initializer:
    """Entries from U(low, high)."""
    low, high = check_interval((low, high), "uniform init's (low, high)", "(-1, 1)", equal=True)
    name = (
        "uniform"
        if (low, high) == (-1.0, 1.0)
        else f"uniform:{spec_number(low)},{spec_number(high)}"
    )
    return Initializer(name, lambda rng, shape, fi, fo: rng.uniform(low, high, size=shape))


def constant(value: float = 0.0) -> Initializer:
    """Every entry equal to ``value`` (draws nothing from the generator)."""
    value = float(value)
    if not math.isfinite(value):
        raise MlplabError(f"constant init needs a finite value, got {value}")
    name = "zeros" if value == 0.0 else f"constant:{spec_number(value)}"
    return Initializer(name, lambda rng, shape, fi, fo: np.full(shape, value))


def _scaled_normal(name: str, variance: Callable[[int, int], float]) -> Initializer:
    def draw(rng: np.random.Generator, shape: tuple[int, ...], fi: int, fo: int) -> np.ndarray:
        return rng.normal(0.0, math.sqrt(variance(fi, fo)), size=shape)

    return Initializer(name, draw)


def _scaled_uniform(name: str, variance: Callable[[int, int], float]) -> Initializer:
    # U(−r, r) has variance r²/3.
    def draw(rng: np.random.Generator, shape: tuple[int, ...], fi: int, fo: int) -> np.ndarray:
        r = math.sqrt(3.0 * variance(fi, fo))
        return rng.uniform(-r, r, size=shape)

    return Initializer(name, draw)


def _glorot(fi: int, fo: int) -> float:
    return 2.0 / (fi + fo)


def _kaiming(fi: int, fo: int) -> float:
    return 2.0 / fi


xavier_normal = _scaled_normal("xavier_normal", _glorot)
xavier_uniform = _scaled_uniform("xavier_uniform", _glorot)
he_normal = _scaled_normal("he_normal", _kaiming)
he_uniform = _scaled_uniform("he_uniform", _kaiming)

_FIXED: dict[str, Initializer] = {
    i.name: i for i in (xavier_normal, xavier_uniform, he_normal, he_uniform)
}
_PARAMETERISED: dict[str, Callable[..., Initializer]] = {
    "normal": normal,
    "uniform": uniform,
    "constant": constant,
    "zeros": constant,
}
_ALIASES = {
    "glorot_normal": "xavier_normal",
    "glorot_uniform": "xavier_uniform",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
}

#: Names accepted by :func:`get_initializer`.
NAMES: tuple[str, ...] = tuple(sorted([*_FIXED, *_PARAMETERISED]))


def get_initializer(spec: str | float | Initializer) -> Initializer:
    """Return the :class:`Initializer` named by ``spec``.

    Parameters
    ----------
    spec : str, float or Initializer
        A name (``"xavier_normal"``, ``"he_uniform"``, ``"normal:0,0.5"``, ...), a number
        (a constant, the usual way to give biases) or an :class:`Initializer`.

    Raises
    ------
    UnknownNameError
        For an unknown name; the message lists the valid ones.
    """
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return constant(float(spec))
    if not isinstance(spec, str):
        raise TypeError(f"an initialiser is a name, a number or an Initializer, got {spec!r}")
    name, params = parse_spec(spec)
    name = _ALIASES.get(name, name)
    if name in _FIXED:
        no_parameters("initialiser", spec, params)
        return _FIXED[name]
    if name in _PARAMETERISED:
        if name == "zeros" and params:
            raise MlplabError(f"'zeros' takes no parameter; use 'constant:{params[0]:g}'")
        return build("initialiser", spec, _PARAMETERISED[name], params)
    raise unknown("initialiser", spec, NAMES)

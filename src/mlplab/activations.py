"""Activation functions σ with their first and second derivatives.

Every activation carries ``f`` (σ), ``df`` (σ') and ``d2f`` (σ''), all elementwise on arrays of
any shape. Second derivatives are what input Hessians need. All functions are overflow-free on
extreme inputs (no ``RuntimeWarning`` for ``z = ±1e308``).

Activations are named by a string (``"tanh"``), a string with a parameter (``"leaky_relu:0.1"``),
a parameterised constructor (:func:`LeakyReLU`), or a user-defined :class:`Activation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, expit

from mlplab._names import parse_spec, unknown

ArrayFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Activation:
    """An elementwise activation σ with σ' and σ''.

    Parameters
    ----------
    name : str
        The name written to model files, e.g. ``"leaky_relu:0.01"``.
    f, df, d2f : callable
        σ(z), σ'(z), σ''(z); each maps an array of any shape to one of the same shape.
    """

    name: str
    f: ArrayFn
    df: ArrayFn
    d2f: ArrayFn

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.f(z)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


# --- sigmoid family -------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # scipy's expit never overflows: it evaluates exp(-|z|) internally.
    return expit(z)


def _dsigmoid(z: np.ndarray) -> np.ndarray:
    s = expit(z)
    return s * (1.0 - s)


def _d2sigmoid(z: np.ndarray) -> np.ndarray:
    s = expit(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _softplus(z: np.ndarray) -> np.ndarray:
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), stable for every z.
    return np.logaddexp(0.0, z)


# --- tanh -----------------------------------------------------------------------------------


def _dtanh(z: np.ndarray) -> np.ndarray:
    t = np.tanh(z)
    return 1.0 - t * t


def _d2tanh(z: np.ndarray) -> np.ndarray:
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


# --- piecewise linear -----------------------------------------------------------------------


def _zeros_like(z: np.ndarray) -> np.ndarray:
    return np.zeros_like(z)


def _ones_like(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def LeakyReLU(alpha: float = 0.01) -> Activation:
    """Leaky ReLU: σ(z) = z for z > 0, αz otherwise (α = 0 gives ReLU).

    σ'(z) = 1 for z > 0, α otherwise (the value at the kink z = 0 is taken as α); σ'' = 0.
    """
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"leaky_relu needs a finite alpha >= 0, got {alpha}")

    def f(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, alpha * z)

    def df(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, alpha).astype(z.dtype, copy=False)

    name = "relu" if alpha == 0.0 else f"leaky_relu:{alpha:g}"
    return Activation(name, f, df, _zeros_like)


def ELU(alpha: float = 1.0) -> Activation:
    """ELU: σ(z) = z for z > 0, α(e^z − 1) otherwise; σ' = α e^z and σ'' = α e^z for z ≤ 0."""
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"elu needs a finite alpha > 0, got {alpha}")

    def f(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))

    def df(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype, copy=False)

    def d2f(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 0.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype, copy=False)

    name = "elu" if alpha == 1.0 else f"elu:{alpha:g}"
    return Activation(name, f, df, d2f)


# --- GELU (exact, with the normal CDF) ------------------------------------------------------

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(z: np.ndarray) -> np.ndarray:
    return z * 0.5 * (1.0 + erf(z * _INV_SQRT2))


def _phi(z: np.ndarray) -> np.ndarray:
    # The normal density; it is exactly 0 in float64 beyond |z| = 40, so clipping there keeps
    # z*z from overflowing without changing any value.
    return _INV_SQRT2PI * np.exp(-0.5 * np.square(np.clip(z, -40.0, 40.0)))


def _dgelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(z * _INV_SQRT2)) + z * _phi(z)


def _d2gelu(z: np.ndarray) -> np.ndarray:
    zc = np.clip(z, -40.0, 40.0)
    return _phi(zc) * (2.0 - zc * zc)


def _neg_sin(z: np.ndarray) -> np.ndarray:
    return -np.sin(z)


sigmoid = Activation("sigmoid", _sigmoid, _dsigmoid, _d2sigmoid)
tanh = Activation("tanh", np.tanh, _dtanh, _d2tanh)
relu = LeakyReLU(0.0)
softplus = Activation("softplus", _softplus, _sigmoid, _dsigmoid)
gelu = Activation("gelu", _gelu, _dgelu, _d2gelu)
sin = Activation("sin", np.sin, np.cos, _neg_sin)
identity = Activation("identity", _identity, _ones_like, _zeros_like)

_FIXED: dict[str, Activation] = {
    a.name: a for a in (sigmoid, tanh, relu, softplus, gelu, sin, identity)
}
_PARAMETERISED: dict[str, Callable[..., Activation]] = {"leaky_relu": LeakyReLU, "elu": ELU}
_ALIASES = {"linear": "identity", "logistic": "sigmoid", "none": "identity"}

#: Names accepted by :func:`get_activation` (parameterised ones take ``name:value``).
NAMES: tuple[str, ...] = tuple(sorted([*_FIXED, *_PARAMETERISED]))


def get_activation(spec: str | Activation) -> Activation:
    """Return the :class:`Activation` named by ``spec``.

    Parameters
    ----------
    spec : str or Activation
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"`` (α = 0.01) or ``"leaky_relu:0.1"``,
        ``"elu"`` or ``"elu:0.5"``, ``"softplus"``, ``"gelu"``, ``"sin"``, ``"identity"``;
        an :class:`Activation` is returned as it is.

    Raises
    ------
    UnknownNameError
        For an unknown name; the message lists the valid ones.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise TypeError(
            f"an activation is a name such as 'tanh' or an mlplab.Activation, got {spec!r}"
        )
    name, params = parse_spec(spec)
    name = _ALIASES.get(name, name)
    if name in _PARAMETERISED:
        return _PARAMETERISED[name](*params)
    if name in _FIXED:
        if params:
            raise ValueError(f"activation {name!r} takes no parameter, got {spec!r}")
        return _FIXED[name]
    raise unknown("activation", spec, NAMES)

"""Activation functions σ with their first and second derivatives.

Every activation carries ``f`` (σ), ``df`` (σ') and ``d2f`` (σ''), all elementwise on arrays of
any shape, and the built-in ones also ``d3f`` (σ'''). Second derivatives are what input Hessians
need; the third is what parameter gradients of a loss on second input derivatives need
(:mod:`mlplab.second_order`). All functions are overflow-free on
extreme inputs (no ``RuntimeWarning`` for ``z = ±1e308``).

Activations are named by a string (``"tanh"``), a string with a parameter (``"leaky_relu:0.1"``),
a parameterised constructor (:func:`LeakyReLU`), or a user-defined :class:`Activation`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlplab._names import build, check_new_name, no_parameters, parse_spec, spec_number, unknown
from mlplab.errors import MlplabError

ArrayFn = Callable[[np.ndarray], np.ndarray]


def _accepts(fn: Callable, count: int) -> bool:
    """Whether ``fn`` can be called with ``count`` positional arguments (True where Python
    cannot tell, as for some compiled functions)."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read
        pass
    return True


#: (σ', σ'', σ''' or None) from an activation's value; see :attr:`Activation.slopes`.
Slopes = tuple[np.ndarray, np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class Activation:
    """An elementwise activation σ with σ' and σ''.

    Parameters
    ----------
    name : str
        The name written to model files, e.g. ``"leaky_relu:0.01"``.
    f, df, d2f : callable
        σ(z), σ'(z), σ''(z); each maps an array of any shape to one of the same shape.
    d3f : callable, optional
        σ'''(z), needed only for parameter gradients through second input derivatives.
    slopes : callable, optional
        ``slopes(a, third)``: (σ', σ'', σ''') from the value a = σ(z), where they are
        polynomials in it (tanh, sigmoid), with None for σ''' unless ``third``: saves evaluating
        σ again in the forward recursion of second derivatives.
    dfa : callable, optional
        σ' alone from the value a = σ(z), where it is a polynomial in it (σ' = a(1 − a) for the
        sigmoid, 1 − a² for tanh): backprop then takes σ'(z^[l]) from the a^[l] of the forward
        pass instead of evaluating σ again. ``df`` and ``slopes`` are built on it.
    """

    name: str
    f: ArrayFn
    df: ArrayFn
    d2f: ArrayFn
    d3f: ArrayFn | None = None
    slopes: Callable[[np.ndarray, bool], Slopes] | None = None
    dfa: ArrayFn | None = None

    def __post_init__(self) -> None:
        if self.slopes is not None and not _accepts(self.slopes, 2):
            raise TypeError(
                f"activation {self.name!r}: slopes must take (a, third), the value a = σ(z) and "
                f"whether σ''' is wanted, and return (σ', σ'', σ''' or None)"
            )

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.f(z)

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """σ'(z) given z and its value a = σ(z): ``dfa(a)`` where the activation has it (the
        same numbers as ``df(z)``, without evaluating σ again), else ``df(z)``."""
        return self.df(z) if self.dfa is None else self.dfa(a)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


# Every formula below is written once, with NumPy ufuncs and arithmetic only, so that the same
# function serves NumPy arrays (the reference) and single numbers in the compiled engine
# (:mod:`mlplab.engine.jit` compiles these very functions). Piecewise formulas use
# :func:`_step` instead of branches; helpers called here are compiled along with them.


def _step(z: np.ndarray) -> np.ndarray:
    """1 where z > 0, else 0 (nan at nan), in z's dtype: sign(max(z, 0))."""
    return np.sign(np.maximum(z, 0.0))


# --- sigmoid family -------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # σ(z) = 1 / (1 + e^{−z}), with e^{−z} held to e^80 so that it never overflows (in float32
    # either, where e^89 would) and σ(z) = 0 from z = −80 down, where σ ≤ 1.81e-35: σ(±∞) are
    # exactly 1 and 0, the relative error above −80 is at most 4e-16 in float64 (2 units in the
    # last place in float32), and it takes one exponential, which compiled code evaluates
    # faster than tanh. Log-probabilities come from bce_logits and cross_entropy, which
    # never form σ.
    return (z > -80.0) / (1.0 + np.exp(np.minimum(-z, 80.0)))


def _sigmoid_dfa(s: np.ndarray) -> np.ndarray:
    """σ' of the sigmoid from its value s = σ(z): s (1 − s)."""
    return s * (1.0 - s)


def _sigmoid_slopes(s: np.ndarray, third: bool = True) -> Slopes:
    """σ', σ'' and (if ``third``) σ''' of the sigmoid from its value s = σ(z)."""
    d1 = _sigmoid_dfa(s)
    return d1, d1 * (1.0 - 2.0 * s), d1 * (1.0 - 6.0 * d1) if third else None


def _dsigmoid(z: np.ndarray) -> np.ndarray:
    return _sigmoid_dfa(_sigmoid(z))


def _d2sigmoid(z: np.ndarray) -> np.ndarray:
    return _sigmoid_slopes(_sigmoid(z))[1]


def _d3sigmoid(z: np.ndarray) -> np.ndarray:
    return _sigmoid_slopes(_sigmoid(z))[2]


def _softplus(z: np.ndarray) -> np.ndarray:
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), stable for every z.
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


# --- tanh -----------------------------------------------------------------------------------


def _tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def _tanh_dfa(t: np.ndarray) -> np.ndarray:
    """σ' of tanh from its value t = tanh(z): 1 − t²."""
    return 1.0 - t * t


def _tanh_slopes(t: np.ndarray, third: bool = True) -> Slopes:
    """σ', σ'' and (if ``third``) σ''' of tanh from its value t = tanh(z)."""
    d1 = _tanh_dfa(t)
    return d1, -2.0 * t * d1, -2.0 * d1 * (1.0 - 3.0 * t * t) if third else None


def _dtanh(z: np.ndarray) -> np.ndarray:
    return _tanh_dfa(_tanh(z))


def _d2tanh(z: np.ndarray) -> np.ndarray:
    return _tanh_slopes(_tanh(z))[1]


def _d3tanh(z: np.ndarray) -> np.ndarray:
    return _tanh_slopes(_tanh(z))[2]


# --- piecewise linear -----------------------------------------------------------------------


def _zero(z: np.ndarray) -> np.ndarray:
    return 0.0 * z


def _one(z: np.ndarray) -> np.ndarray:
    return 0.0 * z + 1.0


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def LeakyReLU(alpha: float = 0.01) -> Activation:
    """Leaky ReLU: σ(z) = z for z > 0, αz otherwise (α = 0 gives ReLU, one pass over z).

    σ'(z) = 1 for z > 0, α otherwise (the value at the kink z = 0 is taken as α); σ'' = 0.
    """
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha < 0:
        raise MlplabError(f"leaky_relu needs a finite alpha >= 0, got {alpha}")
    if alpha == 0.0:
        return Activation("relu", _relu, _step, _zero, _zero)

    def f(z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) + alpha * np.minimum(z, 0.0)

    def df(z: np.ndarray) -> np.ndarray:
        return alpha + (1.0 - alpha) * _step(z)

    return Activation(f"leaky_relu:{spec_number(alpha)}", f, df, _zero, _zero)


def ELU(alpha: float = 1.0) -> Activation:
    """ELU: σ(z) = z for z > 0, α(e^z − 1) otherwise; σ' = α e^z and σ'' = α e^z for z ≤ 0."""
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0:
        raise MlplabError(f"elu needs a finite alpha > 0, got {alpha}")

    def f(z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) + alpha * np.expm1(np.minimum(z, 0.0))

    def df(z: np.ndarray) -> np.ndarray:
        s = _step(z)
        return s + (1.0 - s) * (alpha * np.exp(np.minimum(z, 0.0)))

    def d2f(z: np.ndarray) -> np.ndarray:
        return (1.0 - _step(z)) * (alpha * np.exp(np.minimum(z, 0.0)))

    name = "elu" if alpha == 1.0 else f"elu:{spec_number(alpha)}"
    return Activation(name, f, df, d2f, d2f)


# --- GELU (exact, with the normal CDF) ------------------------------------------------------
# scipy's ndtr works on arrays only: GELU runs on the NumPy paths of the engine, which says so.

_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _Phi(z: np.ndarray) -> np.ndarray:
    """The normal CDF Φ(z) = (1 + erf(z/√2)) / 2, by scipy's ``ndtr`` (imported on first use),
    which keeps its relative accuracy in the lower tail, where 1 + erf cancels."""
    from scipy.special import ndtr

    return ndtr(z)


def _gelu(z: np.ndarray) -> np.ndarray:
    return z * _Phi(z)


def _phi(z: np.ndarray) -> np.ndarray:
    # The normal density; it is exactly 0 in float64 beyond |z| = 40, so clipping there keeps
    # z*z from overflowing without changing any value.
    return _INV_SQRT2PI * np.exp(-0.5 * np.square(np.clip(z, -40.0, 40.0)))


def _dgelu(z: np.ndarray) -> np.ndarray:
    return _Phi(z) + z * _phi(z)


def _d2gelu(z: np.ndarray) -> np.ndarray:
    zc = np.clip(z, -40.0, 40.0)
    return _phi(zc) * (2.0 - zc * zc)


def _d3gelu(z: np.ndarray) -> np.ndarray:
    zc = np.clip(z, -40.0, 40.0)
    return _phi(zc) * zc * (zc * zc - 4.0)


def _sin(z: np.ndarray) -> np.ndarray:
    return np.sin(z)


def _cos(z: np.ndarray) -> np.ndarray:
    return np.cos(z)


def _neg_sin(z: np.ndarray) -> np.ndarray:
    return -np.sin(z)


def _neg_cos(z: np.ndarray) -> np.ndarray:
    return -np.cos(z)


sigmoid = Activation(
    "sigmoid", _sigmoid, _dsigmoid, _d2sigmoid, _d3sigmoid, _sigmoid_slopes, _sigmoid_dfa
)
tanh = Activation("tanh", _tanh, _dtanh, _d2tanh, _d3tanh, _tanh_slopes, _tanh_dfa)
relu = LeakyReLU(0.0)
softplus = Activation("softplus", _softplus, _sigmoid, _dsigmoid, _d2sigmoid)
gelu = Activation("gelu", _gelu, _dgelu, _d2gelu, _d3gelu)
sin = Activation("sin", _sin, _cos, _neg_sin, _neg_cos)
identity = Activation("identity", _identity, _one, _zero, _zero)

_FIXED: dict[str, Activation] = {
    a.name: a for a in (sigmoid, tanh, relu, softplus, gelu, sin, identity)
}
_PARAMETERISED: dict[str, Callable[..., Activation]] = {"leaky_relu": LeakyReLU, "elu": ELU}
_ALIASES = {"linear": "identity", "logistic": "sigmoid", "none": "identity"}

#: Built-in names accepted by :func:`get_activation` (parameterised ones take ``name:value``).
NAMES: tuple[str, ...] = tuple(sorted([*_FIXED, *_PARAMETERISED]))


def register(activation: Activation) -> Activation:
    """Make ``activation`` available by its name everywhere a name is accepted.

    This is all a new activation needs: :func:`mlplab.fit` compiles its ``f`` and ``df`` for the
    fast engine when they are written with NumPy ufuncs and arithmetic, calling other such
    functions by name (as the built-in ones are), and runs it on the NumPy stepper otherwise
    (``History.engine_reason`` says why).

    Examples
    --------
    >>> def logistic(z):
    ...     return 0.5 + 0.5 * np.tanh(0.5 * z)
    >>> def swish(z):
    ...     return z * logistic(z)
    >>> def dswish(z):
    ...     s = logistic(z)
    ...     return s + z * s * (1.0 - s)
    >>> def d2swish(z):
    ...     s = logistic(z)
    ...     return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))
    >>> swish_act = register(Activation("swish", swish, dswish, d2swish))
    """
    if not isinstance(activation, Activation):
        raise TypeError(f"register takes an mlplab.Activation, got {activation!r}")
    name = activation.name
    check_new_name("activation", name)
    if name in _PARAMETERISED or name in _ALIASES or (name in _FIXED and name in NAMES):
        raise MlplabError(f"{name!r} names a built-in activation; choose another name")
    _FIXED[name] = activation
    return activation


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
        return build("activation", spec, _PARAMETERISED[name], params)
    if name in _FIXED:
        no_parameters("activation", spec, params)
        return _FIXED[name]
    raise unknown("activation", spec, tuple(sorted([*_FIXED, *_PARAMETERISED])))

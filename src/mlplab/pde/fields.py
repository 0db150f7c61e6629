"""Numbers that carry their derivatives, so that residuals and output transforms are written as
plain formulas.

- :class:`Field` is u and its input derivatives at a block of points, as a residual sees them
  (``u``, ``u.x``, ``u.xx``, ``u.tx``, ``u.lap``). Every value carries its partial derivatives
  with respect to the *channels* of the network's output block (u, ∂u/∂x_i, 𝓛_k u), so a
  residual r written with them comes with ∂r/∂(channels), the adjoint that
  :func:`mlplab.second_order.reverse` takes to the parameters.
- :class:`Jet` is a function of the coordinates with its gradient and the sweep's second-order
  operators 𝓛_k (forward mode in x), for output transforms u = g(x) + h(x) v(x).

Both support +, −, ×, /, integer powers and ``np.sin``, ``np.cos``, ``np.exp``, ``np.tanh``,
with NumPy arrays and numbers on either side; any other NumPy function is refused by name.
"""

from __future__ import annotations

import numpy as np

from mlplab.activations import sin, tanh
from mlplab.errors import MlplabError, UnknownNameError

# φ, φ', φ'' of the functions both classes take through NumPy (the activations' own).
_UNARY = {
    np.sin: (sin.f, sin.df, sin.d2f),
    np.cos: (sin.df, sin.d2f, sin.d3f),
    np.exp: (np.exp, np.exp, np.exp),
    np.tanh: (tanh.f, tanh.df, tanh.d2f),
}

# The NumPy forms of the operators (``array * u`` reaches NumPy first): the method to call on
# the Field or Jet when it is the left operand, and when it is the right one.
_OPERATORS = {
    np.add: ("__add__", "__radd__"),
    np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"),
    np.true_divide: ("__truediv__", "__rtruediv__"),
    np.negative: ("__neg__", None),
    np.power: ("__pow__", None),
}

#: What a formula in u or in the coordinates may use, for messages.
SUPPORTED = "+, −, ×, /, whole powers ** k and " + ", ".join(f"np.{f.__name__}" for f in _UNARY)


class NotInBoxError(UnknownNameError, AttributeError):
    """A variable or derivative that the problem's box does not have (``u.yy`` on a box in x).

    An :class:`AttributeError` as well, so that ``hasattr`` and ``getattr`` with a default keep
    working on :class:`Field` and :class:`mlplab.pde.Points`.
    """


class _Arithmetic:
    """+, −, ×, /, ** and the NumPy functions in terms of ``_lift``, ``_add``, ``_mul`` and
    ``_apply(φ, φ', φ'')``."""

    __array_priority__ = 100

    def __add__(self, other):
        return self._add(self._lift(other))

    __radd__ = __add__

    def __sub__(self, other):
        return self._add(self._lift(other) * -1.0)

    def __rsub__(self, other):
        return (self * -1.0)._add(self._lift(other))

    def __neg__(self):
        return self * -1.0

    def __mul__(self, other):
        return self._mul(self._lift(other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, _Arithmetic):
            return self * other._apply(lambda v: 1 / v, lambda v: -1 / v**2, lambda v: 2 / v**3)
        return self * (1.0 / np.asarray(other))

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise MlplabError(f"only whole powers >= 0 are supported, got {k!r}")
        out = self._lift(1.0)
        for _ in range(int(k)):
            out = out * self
        return out

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs, **kwargs):
        """``np.sin(u)`` and the like, and the operators with a NumPy array or number on the
        left (``np.sin(p.x) * u``); anything else is refused, naming what a formula may use."""
        if method == "__call__" and not kwargs:
            if ufunc in _UNARY and len(inputs) == 1:
                return self._apply(*_UNARY[ufunc])
            if ufunc in _OPERATORS and len(inputs) == ufunc.nin:
                left, right = _OPERATORS[ufunc]
                if isinstance(inputs[0], _Arithmetic):
                    return getattr(inputs[0], left)(*inputs[1:])
                if right is not None:
                    return getattr(inputs[1], right)(inputs[0])
        call = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise MlplabError(
            f"{call} is not supported on u or the coordinates p: a formula may use {SUPPORTED}; "
            f"rewrite it with those (for np.abs(r) return r itself: the loss squares it)"
        )


class Field(_Arithmetic):
    """A value at B points with its partials with respect to the R channels of the output block.

    Parameters
    ----------
    value : ndarray, shape (B,)
    partial : ndarray, shape (B, R)
    """

    def __init__(self, value: np.ndarray, partial: np.ndarray, names: dict | None = None) -> None:
        self.value, self.partial = value, partial
        self._names = names or {}

    @classmethod
    def output(cls, T: np.ndarray, names: dict[str, int]) -> Field:
        """u from the output block T (R, B, 1), with each derivative reachable by its name
        (``names[n]`` is its row of T)."""
        R, B = T.shape[:2]
        eye = np.broadcast_to(np.eye(R, dtype=T.dtype)[0], (B, R))
        return cls(T[0, :, 0], eye, {n: (T[k, :, 0], k) for n, k in names.items()})

    def __getattr__(self, name: str) -> Field:
        names = self.__dict__.get("_names", {})
        if name not in names:
            raise NotInBoxError(
                f"u has no derivative {name!r}; the box's variables give "
                f"{', '.join('u.' + n for n in sorted(names)) or 'none'}: write one of those"
            )
        value, k = names[name]
        partial = np.zeros_like(self.partial)
        partial[:, k] = 1.0
        return Field(value, partial)

    def _lift(self, other) -> Field:
        if isinstance(other, Field):
            return other
        value = np.broadcast_to(np.asarray(other, dtype=self.value.dtype), self.value.shape)
        return Field(value, np.zeros_like(self.partial))

    def _add(self, other: Field) -> Field:
        return Field(self.value + other.value, self.partial + other.partial)

    def _mul(self, other: Field) -> Field:
        return Field(
            self.value * other.value,
            self.partial * other.value[:, None] + other.partial * self.value[:, None],
        )

    def _apply(self, f, df, d2f) -> Field:
        return Field(f(self.value), self.partial * df(self.value)[:, None])


class Jet(_Arithmetic):
    """g(x) at B points with ∇g (B, n) and the operators 𝓛_k g = Σ_ij c^k_ij ∂_ij g (B, K).

    Parameters
    ----------
    value : ndarray, shape (B,)
    grad : ndarray, shape (B, n)
    ops : ndarray, shape (B, K)
    C : ndarray, shape (K, n, n)
        The coefficients c^k of the operators.
    """

    def __init__(self, value, grad, ops, C) -> None:
        self.value, self.grad, self.ops, self.C = value, grad, ops, C

    @classmethod
    def coordinate(cls, X: np.ndarray, i: int, C: np.ndarray) -> Jet:
        """x_i: gradient e_i, every second derivative 0."""
        grad = np.zeros_like(X)
        grad[:, i] = 1.0
        return cls(X[:, i], grad, np.zeros((X.shape[0], C.shape[0]), dtype=X.dtype), C)

    def rows(self, rows: slice) -> Jet:
        """The jet at the points ``rows``."""
        return Jet(self.value[rows], self.grad[rows], self.ops[rows], self.C)

    def _lift(self, other) -> Jet:
        if isinstance(other, Jet):
            return other
        value = np.broadcast_to(np.asarray(other, dtype=self.value.dtype), self.value.shape)
        return Jet(value, np.zeros_like(self.grad), np.zeros_like(self.ops), self.C)

    def _add(self, other: Jet) -> Jet:
        return Jet(self.value + other.value, self.grad + other.grad, self.ops + other.ops, self.C)

    def _mul(self, other: Jet) -> Jet:
        # 𝓛(fg) = g 𝓛f + f 𝓛g + Σ_ij c_ij (f_i g_j + f_j g_i)
        cross = np.einsum("kij,bi,bj->bk", self.C, self.grad, other.grad)
        cross = cross + np.einsum("kij,bj,bi->bk", self.C, self.grad, other.grad)
        return Jet(
            self.value * other.value,
            self.grad * other.value[:, None] + other.grad * self.value[:, None],
            self.ops * other.value[:, None] + other.ops * self.value[:, None] + cross,
            self.C,
        )

    def _apply(self, f, df, d2f) -> Jet:
        # 𝓛 φ(g) = φ'(g) 𝓛g + φ''(g) Σ_ij c_ij g_i g_j
        d1, d2 = df(self.value)[:, None], d2f(self.value)[:, None]
        quad = np.einsum("kij,bi,bj->bk", self.C, self.grad, self.grad)
        return Jet(f(self.value), self.grad * d1, self.ops * d1 + quad * d2, self.C)

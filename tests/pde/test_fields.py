"""Field and Jet arithmetic against hand derivatives and central differences."""

import numpy as np
import pytest

from mlplab.errors import MlplabError
from mlplab.pde.fields import Field, Jet, NotInBoxError


def test_field_partials_follow_the_chain_rule():
    rng = np.random.default_rng(0)
    T = rng.standard_normal((4, 6, 1))  # rows u, u_t, u_x, u_xx at 6 points
    u = Field.output(T, {"t": 1, "x": 2, "xx": 3})
    r = u.t + u * u.x - 0.3 * u.xx + np.sin(u) / (1 + u**2) - 2.0
    v, vt, vx, vxx = T[:, :, 0]
    expect = vt + v * vx - 0.3 * vxx + np.sin(v) / (1 + v**2) - 2.0
    np.testing.assert_allclose(r.value, expect, rtol=1e-14)
    d_u = vx + np.cos(v) / (1 + v**2) - np.sin(v) * 2 * v / (1 + v**2) ** 2
    np.testing.assert_allclose(r.partial, np.stack([d_u, 0 * v + 1, v, 0 * v - 0.3], 1), rtol=1e-13)


def test_unknown_derivative_names_the_known_ones():
    u = Field.output(np.zeros((3, 2, 1)), {"x": 1, "xx": 2})
    with pytest.raises(NotInBoxError, match="no derivative 'y'.*u.x, u.xx: write one of those"):
        _ = u.y
    assert issubclass(NotInBoxError, MlplabError) and issubclass(NotInBoxError, AttributeError)
    assert not hasattr(u, "y") and getattr(u, "y", None) is None


def test_jet_matches_central_differences():
    C = np.stack([np.eye(2), np.array([[0.0, 0.5], [0.5, 0.0]])])  # Δ and ∂²/∂x∂y
    X = np.random.default_rng(1).uniform(-1, 1, (5, 2))

    def g(X, jet=True):
        x = Jet.coordinate(X, 0, C) if jet else X[:, 0]
        y = Jet.coordinate(X, 1, C) if jet else X[:, 1]
        return np.exp(x) * np.cos(y) * (1 - x**2) + y**3 / (2 + x)

    j = g(X)
    h = 1e-4
    E = np.eye(2) * h
    f = lambda Z: g(Z, jet=False)  # noqa: E731
    grad = np.stack([(f(X + E[i]) - f(X - E[i])) / (2 * h) for i in range(2)], 1)
    H = np.empty((5, 2, 2))
    for i in range(2):
        for k in range(2):
            H[:, i, k] = (
                f(X + E[i] + E[k]) - f(X + E[i] - E[k]) - f(X - E[i] + E[k]) + f(X - E[i] - E[k])
            ) / (4 * h * h)
    np.testing.assert_allclose(j.value, f(X), rtol=1e-14)
    np.testing.assert_allclose(j.grad, grad, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(j.ops, np.einsum("kij,bij->bk", C, H), rtol=1e-5, atol=1e-6)


def test_only_whole_powers():
    u = Field.output(np.ones((2, 3, 1)), {"x": 1})
    with pytest.raises(ValueError, match="whole powers"):
        _ = u**0.5


def _same(a, b):
    """a and b are the same Field or Jet: values and derivatives."""
    assert type(a) is type(b)
    for name in ("value", "partial", "grad", "ops"):
        if hasattr(a, name):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-15)


def test_numpy_arrays_and_numbers_on_the_left_give_the_operators():
    """``np.sin(p.x) * u`` reaches NumPy's multiply first: it is u's own product."""
    rng = np.random.default_rng(3)
    C = np.stack([np.eye(2)])
    X = rng.uniform(1, 2, (6, 2))
    a = rng.uniform(1, 2, 6)
    for v in (Field.output(rng.uniform(1, 2, (3, 6, 1)), {"x": 1}), Jet.coordinate(X, 1, C)):
        _same(a * v, v * a)
        _same(a + v, v + a)
        _same(a - v, -(v - a))
        _same(a / v, (v * 0.0 + a) / v)
        _same(np.float64(2.0) * v, v * 2.0)
        _same(np.multiply(v, a), v * a)
        _same(np.subtract(v, 1.0), v - 1.0)
        _same(np.true_divide(a, v), (v * 0.0 + a) / v)
        _same(np.negative(v), v * -1.0)
        _same(np.power(v, 3), v * v * v)
        with pytest.raises(MlplabError, match="np.power is not supported"):
            np.power(2.0, v)

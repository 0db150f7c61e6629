"""The exact Burgers solution by Cole–Hopf and Gauss–Hermite quadrature, checked."""

import numpy as np
import pytest

from mlplab.pde.burgers_exact import NU, burgers_exact


def _brute_force(t, x, m=400_001):
    """The Cole–Hopf ratio by the trapezoid rule on a fine grid of η."""
    eta = np.linspace(-2, 2, m)
    y = x - eta
    e = -np.cos(np.pi * y) / (2 * np.pi * NU) - eta**2 / (4 * NU * t)
    w = np.exp(e - e.max())
    return -np.sum(np.sin(np.pi * y) * w) / np.sum(w)


@pytest.mark.parametrize("t", [0.05, 0.25, 0.5, 1.0])
def test_agrees_with_a_brute_force_quadrature(t):
    for x in (-0.7, -0.05, -0.003, 0.3, 0.999):
        assert burgers_exact(t, x) == pytest.approx(_brute_force(t, x), abs=1e-12)


def test_satisfies_the_equation_and_its_conditions():
    x = np.linspace(-0.9, -0.2, 8)
    t, h = 0.4, 1e-4
    u = burgers_exact
    ut = (u(t + h, x) - u(t - h, x)) / (2 * h)
    ux = (u(t, x + h) - u(t, x - h)) / (2 * h)
    uxx = (u(t, x + h) - 2 * u(t, x) + u(t, x - h)) / h**2
    assert np.abs(ut + u(t, x) * ux - NU * uxx).max() < 1e-6
    xs = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(u(0.0, xs), -np.sin(np.pi * xs), atol=1e-15)
    np.testing.assert_allclose(u(1e-7, xs), -np.sin(np.pi * xs), atol=1e-4)
    np.testing.assert_allclose(u(np.array([0.3, 0.9]), 1.0), 0.0, atol=1e-12)
    np.testing.assert_allclose(u(0.6, xs), -u(0.6, -xs), atol=1e-13)  # odd in x


def test_quadrature_has_converged():
    t, x = np.meshgrid([0.25, 0.5, 0.75, 1.0], np.linspace(-1, 1, 41))
    np.testing.assert_allclose(burgers_exact(t, x, nodes=150), burgers_exact(t, x), atol=1e-12)
    with pytest.raises(ValueError, match="t >= 0"):
        burgers_exact(-1.0, 0.0)

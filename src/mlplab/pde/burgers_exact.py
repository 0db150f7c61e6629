"""The exact solution of the viscous Burgers equation with u(0, x) = −sin(πx) on [−1, 1].

u_t + u u_x = ν u_xx with u(t, ±1) = 0. The Cole–Hopf transform u = −2ν φ_x/φ turns it into the
heat equation φ_t = ν φ_xx with φ(0, x) = exp(−cos(πx)/(2πν)) (up to a constant), so

    u(t, x) = −∫ sin(π(x − η)) f(x − η) e^{−η²/(4νt)} dη / ∫ f(x − η) e^{−η²/(4νt)} dη,
    f(y) = exp(−cos(πy)/(2πν))

(Basdevant et al., Computers & Fluids 14, 1986). With η = √(4νt) s both integrals are
Gauss–Hermite sums Σ_k w_k g(s_k). f spans e^{±1/(2πν)} (e^{±50} for ν = 0.01/π), so the
exponents are shifted by their largest value before exponentiating; the shift cancels in the
ratio.
"""

from __future__ import annotations

import numpy as np

from mlplab.errors import MlplabError

NU = 0.01 / np.pi


def burgers_exact(t: np.ndarray, x: np.ndarray, nu: float = NU, nodes: int = 200) -> np.ndarray:
    """u(t, x) by Gauss–Hermite quadrature of the Cole–Hopf integrals.

    Parameters
    ----------
    t, x : array_like, broadcastable
        Times t ≥ 0 and positions x.
    nu : float
        The viscosity ν.
    nodes : int
        Gauss–Hermite nodes (NumPy computes them up to about 250).

    Returns
    -------
    ndarray
        u at the broadcast shape of t and x (−sin(πx) where t = 0).
    """
    t, x = np.broadcast_arrays(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64))
    if np.any(t < 0):
        raise MlplabError("the exact Burgers solution needs t >= 0")
    s, w = np.polynomial.hermite.hermgauss(nodes)
    out = np.array(-np.sin(np.pi * x))
    pos = t > 0
    tt, xx = t[pos][:, None], x[pos][:, None]
    y = xx - np.sqrt(4 * nu * tt) * s[None, :]
    expo = -np.cos(np.pi * y) / (2 * np.pi * nu)
    weight = w * np.exp(expo - expo.max(axis=1, keepdims=True))
    out[pos] = -np.sum(np.sin(np.pi * y) * weight, axis=1) / np.sum(weight, axis=1)
    return out

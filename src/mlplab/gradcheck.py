"""Gradient checks: backprop and input derivatives against central finite differences.

The error of an array is the norm-wise relative error ‖g − n‖₂ / max(‖g‖₂, ‖n‖₂) between the
analytic ``g`` and the numerical ``n``; each weight, bias, the input gradient and the input
Jacobian are checked separately. Central differences with h ≈ 1e-5 in float64 leave an error
of order h² + ε/h ≈ 1e-10 for smooth activations, so 1e-7 is a tight yet safe tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP

DEFAULT_TOL = 1e-7


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖analytic − numeric‖₂ / max(‖analytic‖₂, ‖numeric‖₂), and 0 when both are 0."""
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric)) / scale


def central_difference(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """∂f/∂x by centred differences, perturbing each entry of ``x`` in place (then restoring it).

    Parameters
    ----------
    f : callable
        No arguments; reads ``x`` and returns a float.
    x : ndarray
        Any shape; modified during the call and restored.
    h : float

    Returns
    -------
    ndarray, shape of ``x``
    """
    grad = np.empty(x.shape)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        fp = f()
        flat[k] = old - h
        fm = f()
        flat[k] = old
        out[k] = (fp - fm) / (2.0 * h)
    return grad


@dataclass
class GradCheck:
    """Relative errors by array name (``W2``, ``b2``, ..., ``input_jacobian``, ...)."""

    errors: dict[str, float]
    tol: float = DEFAULT_TOL

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tol


#: Most parameters :func:`check_gradients` perturbs one by one (two forward passes each).
MAX_PARAMETERS = 20_000


def check_gradients(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "mse",
    h: float = 1e-5,
    tol: float = DEFAULT_TOL,
) -> GradCheck:
    """Compare backprop and the input derivatives of ``net`` with central differences.

    The check runs on a float64 copy of ``net``.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
    y : ndarray, shape (N, n_L) (or labels (N,) for cross-entropy)
    loss : str or Loss
    h : float, default 1e-5
    tol : float, default 1e-7

    Returns
    -------
    GradCheck
        Errors for every W^[l] and b^[l], the input Jacobian, and the input gradient when n_L = 1.

    Raises
    ------
    MlplabError
        For h or tol not finite and > 0, or a network of more than :data:`MAX_PARAMETERS`
        parameters.
    """
    if not (math.isfinite(h) and h > 0 and math.isfinite(tol) and tol > 0):
        raise MlplabError(f"h and tol must be finite numbers > 0, got h = {h}, tol = {tol}")
    if net.num_parameters > MAX_PARAMETERS:
        raise MlplabError(
            f"the network has {net.num_parameters:,} parameters and the check makes two forward "
            f"passes for each (at most {MAX_PARAMETERS:,}): check a narrower network of the "
            f"same depth and activations, whose derivatives are the same formulas"
        )
    loss = get_loss(loss)
    net = net.astype("float64")
    X = net.check_input(X)
    y = net.check_target(y, loss, X.shape[0])
    _, g = net.loss_gradient(X, y, loss)
    gW, gb = net.unflatten(g)

    def cost() -> float:
        return loss.value(net(X), y)

    errors: dict[str, float] = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=False)):
        errors[f"W{i + 2}"] = relative_error(gW[i], central_difference(cost, W, h))
        errors[f"b{i + 2}"] = relative_error(gb[i], central_difference(cost, b, h))
    J_numeric = numerical_jacobian(net, X, h)
    errors["input_jacobian"] = relative_error(net.input_jacobian(X), J_numeric)
    if net.sizes[-1] == 1:
        errors["input_gradient"] = relative_error(net.input_gradient(X), J_numeric[:, 0, :])
    return GradCheck(errors, tol)


def numerical_jacobian(net: MLP, X: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """∂a^[L]/∂x at every row of ``X`` by central differences, shape (N, n_L, n_1).

    Rows are independent, so one column of ``X`` is perturbed for all points at once.
    """
    X = np.array(X, dtype=np.float64)
    J = np.empty((X.shape[0], net.sizes[-1], X.shape[1]))
    for j in range(X.shape[1]):
        old = X[:, j].copy()
        X[:, j] = old + h
        fp = net(X)
        X[:, j] = old - h
        fm = net(X)
        X[:, j] = old
        J[:, :, j] = (fp - fm) / (2.0 * h)
    return J

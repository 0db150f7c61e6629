"""Gradient checks: backprop and input derivatives against central finite differences.

The error of an array is the norm-wise relative error ‖g − n‖₂ / max(‖g‖₂, ‖n‖₂) between the
analytic ``g`` and the numerical ``n``; each weight, bias, the input gradient and the input
Jacobian are checked separately. Central differences with h ≈ 1e-5 in float64 leave an error
of order h² + ε/h ≈ 1e-10 for smooth activations, so 1e-7 is a tight yet safe tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP
from mlplab.values import check_positive

DEFAULT_TOL = 1e-7
#: The step h of the central differences: about where their truncation error (h²) and
#: rounding error (float64's 1e-16 / h) balance.
DEFAULT_H = 1e-5


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖analytic − numeric‖₂ / max(‖analytic‖₂, ‖numeric‖₂), and 0 when both are 0."""
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric)) / scale


def central_difference(f: Callable[[], float], x: np.ndarray, h: float = DEFAULT_H) -> np.ndarray:
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


#: The cost of one forward pass, in seconds: :data:`PASS_SECONDS`, plus for each layer
#: :data:`LAYER_SECONDS`, plus per point :data:`VALUE_SECONDS` for each of its n_{l+1} values
#: and :data:`MULTIPLY_ADD_SECONDS` for each of its n_l × n_{l+1} multiply-adds. The Python work
#: of a pass and of a layer dominates narrow networks, the arithmetic wide ones. The constants
#: are set on the low side of a 2-core machine's times, so a check priced under the limit
#: rarely runs much longer (the measurements behind them are in benchmarks/LOG.md).
PASS_SECONDS = 10e-6
LAYER_SECONDS = 4e-6
VALUE_SECONDS = 4e-9
MULTIPLY_ADD_SECONDS = 0.05e-9

#: Longest estimated run :func:`check_gradients` starts: at 8 points, a 2-2-...-2 network of
#: L = 783 layers, or 1-12074-1; the README's 3-5-4-1 is priced at a few milliseconds.
MAX_SECONDS = 30.0


def forward_passes(net: MLP) -> int:
    """Forward passes :func:`check_gradients` makes through ``net``.

    Two per parameter and two per input (central differences), n_1 for the analytic input
    Jacobian (one tangent per input) and two for backprop.

    Parameters
    ----------
    net : MLP

    Returns
    -------
    int
    """
    return 2 * net.num_parameters + 3 * net.sizes[0] + 2


def estimated_seconds(net: MLP, n_points: int) -> float:
    """Time :func:`check_gradients` takes for ``net`` at ``n_points`` points, priced by the cost
    model of :data:`PASS_SECONDS`.

    Parameters
    ----------
    net : MLP
    n_points : int
        Rows of ``X``.

    Returns
    -------
    float
        Seconds, on the low side as the model's constants are.
    """
    one_pass = PASS_SECONDS + sum(
        LAYER_SECONDS + n_points * n_out * (VALUE_SECONDS + n_in * MULTIPLY_ADD_SECONDS)
        for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:], strict=False)
    )
    return forward_passes(net) * one_pass


def check_cost(net: MLP, n_points: int) -> None:
    """Refuse a check of ``net`` at ``n_points`` points priced over :data:`MAX_SECONDS`.

    Parameters
    ----------
    net : MLP
    n_points : int
        Rows of ``X``.

    Raises
    ------
    MlplabError
        Naming the network's size, the passes, the estimate and the fix.
    """
    seconds = estimated_seconds(net, n_points)
    if seconds > MAX_SECONDS:
        raise MlplabError(
            f"the gradient check of a network of L = {net.L:,} layers and "
            f"{net.num_parameters:,} parameters at {n_points:,} points makes "
            f"{forward_passes(net):,} forward passes through every layer, an estimated "
            f"{format_seconds(seconds)} (at most {format_seconds(MAX_SECONDS)}): check a network "
            f"with fewer layers or parameters and the same activations, whose derivatives are "
            f"the same formulas, or fewer points"
        )


def format_seconds(seconds: float) -> str:
    """``'31 s'``, ``'4.2 min'`` or ``'310 h'``: two or three significant digits."""
    if seconds < 60:
        return f"{seconds:.2g} s"
    if seconds < 3600:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.3g} h"


def check_gradients(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "mse",
    h: float = DEFAULT_H,
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
        For h or tol not finite and > 0, or a check priced over :data:`MAX_SECONDS` by
        :func:`estimated_seconds` (raised before any pass is made).
    """
    h, tol = check_positive(h, "h", "1e-5"), check_positive(tol, "tol", "1e-7")
    loss = get_loss(loss)
    net = net.astype("float64")
    X = net.check_input(X)
    check_cost(net, X.shape[0])
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


def numerical_jacobian(net: MLP, X: np.ndarray, h: float = DEFAULT_H) -> np.ndarray:
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

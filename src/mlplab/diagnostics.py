"""Diagnostics of a network on a set of points: dead units, saturation, gradient norms per layer.

Layers are numbered as in the paper, l = 2, ..., L (layer 1 is the input). Functions that return
one entry per layer list them in that order, the output layer L included: entry ``i`` belongs to
layer l = i + 2, as ``net.weights[i]`` is W^[l].

Every quantity is read off the derivatives σ'(z^[l]) (the diagonal of the paper's D^[l]) or off
backpropagation, δ^[l] = σ'(z^[l]) ∘ (W^[l+1])ᵀ δ^[l+1]:

- unit j of layer l is **saturated** at a point x when |σ'(z_j^[l])| ≤ τ σ'_max, where τ is the
  ``threshold`` and σ'_max the largest |σ'| of the layer's activation (:func:`derivative_max`:
  1/4 for the sigmoid, 1 for tanh and ReLU). There δ_j^[l] is at most τ times what it would be
  with σ' at its largest, so the point teaches the unit's weights (almost) nothing. With
  the default τ = 0.01 a tanh unit is saturated for |z| ≥ 2.99 and a sigmoid unit for |z| ≥ 5.99;
- a unit is **dead** on the points X when it is saturated at every one of them. With τ = 0 (the
  default of :func:`dead_units`) that means σ' = 0 at every point, e.g. a ReLU unit with
  z_j^[l] ≤ 0 on all of X: its incoming weights and bias get zero gradient and never learn from
  these points;
- the **gradient norms** are ‖∂C/∂W^[l]‖_F and ‖∂C/∂b^[l]‖_2 of the cost C over all of X (one
  full batch), from :meth:`MLP.backward <mlplab.network.MLP.backward>`;
- the **error norms** (:func:`delta_norms`) are the mean over the points x of ‖δ^[l](x)‖_2, the
  backpropagated error of each point's own cost. Unlike ∂C/∂W^[l] = (1/N) Σ_x δ^[l](x)
  a^[l−1](x)ᵀ, a sum whose terms can cancel (for x spread symmetrically about 0 and an even target,
  ∂C/∂W^[2] nearly does), this mean cannot cancel: it shrinks only where δ^[l] itself does.

:func:`diagnose` gathers them all in one :class:`Diagnostics` table, one row per layer.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from mlplab.activations import Activation
from mlplab.errors import MlplabError
from mlplab.losses import Loss, get_loss
from mlplab.network import MLP, Cache

#: Default saturation threshold τ: saturated where |σ'| ≤ 1/100 of its largest value.
THRESHOLD = 0.01

# Where σ'_max is sought: z = −20, −19.995, ..., 20 (exact multiples of 1/200, z = 0 included).
_GRID = np.arange(-4000, 4001) / 200.0


@functools.lru_cache
def derivative_max(activation: Activation) -> float:
    """σ'_max, the largest |σ'(z)| of an activation, taken over z in [−20, 20].

    Evaluated once per activation (the value is cached) on a grid of step 0.005 that includes
    z = 0. For the built-in activations this is the supremum: 1/4 for ``sigmoid``; 1 for
    ``tanh``, ``relu``, ``leaky_relu`` (α ≤ 1), ``sin`` and ``identity``; max(1, α) for
    ``elu:α``; 1 − 2·10⁻⁹ for ``softplus`` (whose σ' only tends to 1); σ'(√2) ≈ 1.1289 for
    ``gelu``.

    Parameters
    ----------
    activation : Activation

    Returns
    -------
    float
    """
    return float(np.max(np.abs(activation.df(_GRID))))


def _check_threshold(threshold: float) -> float:
    number = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
    if not (number and 0.0 <= threshold < 1.0):  # also refuses NaN, text, None
        raise MlplabError(
            f"threshold must be a number in [0, 1) (a fraction of the largest σ'), "
            f"got {threshold!r}"
        )
    return float(threshold)


def _forward(net: MLP, X: np.ndarray) -> Cache:
    """``net.forward(X)`` (which checks ``X``), refusing non-finite parameters and no points."""
    if not np.all(np.isfinite(net.params)):
        raise MlplabError(
            "the network's parameters contain NaN or inf; diagnose a network with finite "
            "parameters (a diverged fit keeps those of its last finite epoch)"
        )
    cache = net.forward(X)
    if cache.a[0].shape[0] == 0:
        raise MlplabError("X has no rows: the diagnostics need at least one point")
    return cache


def _saturated(net: MLP, cache: Cache, threshold: float) -> list[np.ndarray]:
    """Per layer l = 2..L, the boolean (N, n_l) array |σ'(z^[l])| ≤ threshold · σ'_max."""
    masks = []
    for act, z in zip(net.activations, cache.z, strict=True):
        bound = threshold * derivative_max(act) if threshold > 0 else 0.0
        masks.append(np.abs(act.df(z)) <= bound)
    return masks


def _gradients(
    net: MLP, cache: Cache, y: np.ndarray, loss: Loss
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """The cost C and backprop's ∂C/∂W^[l], ∂C/∂b^[l] (l = 2..L) at the points of ``cache``."""
    target = net.check_target(y, loss, cache.a[0].shape[0])
    gW, gb = net.backward(cache, loss.grad(cache.output, target))
    return loss.value(cache.output, target), gW, gb


def _norms(arrays: list[np.ndarray]) -> np.ndarray:
    """The 2-norm of each array (Frobenius for a matrix), safe from over- and underflow."""
    norms = []
    for g in arrays:
        with np.errstate(over="ignore", under="ignore"):  # caught below
            norm = np.linalg.norm(g)
        if norm == 0.0 or np.isinf(norm):
            scale = np.max(np.abs(g), initial=0.0)
            if 0.0 < scale < np.inf:  # the sum of squares left the float range: rescale
                norm = scale * np.linalg.norm(g / scale)
        norms.append(norm)
    return np.array(norms)


def saturation(net: MLP, X: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """The fraction of saturated (point, unit) pairs in each layer l = 2..L.

    A pair (x, j) of layer l is saturated when |σ'(z_j^[l](x))| ≤ ``threshold`` · σ'_max, with
    σ'_max from :func:`derivative_max`. For ReLU (σ'_max = 1, σ' ∈ {0, 1}) any threshold below 1
    counts the pairs with z ≤ 0.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
        The points, N >= 1 (a 1-D array of length N when n_1 = 1).
    threshold : float, default 0.01
        τ in [0, 1).

    Returns
    -------
    ndarray, shape (L − 1,)
        Entry ``i`` is the fraction, in [0, 1], for layer l = i + 2 (the output layer last).

    Raises
    ------
    ValueError
        For a threshold outside [0, 1), an ``X`` of the wrong width or with NaN or inf, no points,
        or parameters with NaN or inf.
    """
    threshold = _check_threshold(threshold)
    masks = _saturated(net, _forward(net, X), threshold)
    return np.array([float(np.mean(m)) for m in masks])


def dead_units(net: MLP, X: np.ndarray, threshold: float = 0.0) -> list[np.ndarray]:
    """The units of each layer l = 2..L that are saturated at every point of ``X``.

    With the default ``threshold`` 0 a unit is dead when σ'(z_j^[l]) = 0 at every point: a ReLU
    unit with z_j^[l] ≤ 0 on all of ``X``, which gets no gradient from these points. A positive
    threshold τ widens this to |σ'| ≤ τ σ'_max everywhere; for leaky ReLU with slope α, τ = α
    finds the units with z_j^[l] ≤ 0 at every point.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
        The points, N >= 1 (a 1-D array of length N when n_1 = 1).
    threshold : float, default 0.0
        τ in [0, 1), as in :func:`saturation`.

    Returns
    -------
    list of ndarray of bool
        Entry ``i`` has shape (n_{i+2},) and is True for the dead units of layer l = i + 2 (the
        output layer last).

    Raises
    ------
    ValueError
        As :func:`saturation`.
    """
    threshold = _check_threshold(threshold)
    return [np.all(m, axis=0) for m in _saturated(net, _forward(net, X), threshold)]


def gradient_norms(
    net: MLP, X: np.ndarray, y: np.ndarray, loss: str | Loss = "mse"
) -> tuple[np.ndarray, np.ndarray]:
    """‖∂C/∂W^[l]‖_F and ‖∂C/∂b^[l]‖_2 for l = 2..L, with C the cost over all of ``X``.

    The gradients are those of :meth:`MLP.loss_gradient <mlplab.network.MLP.loss_gradient>` (one
    full batch, at the current parameters).

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
        The points, N >= 1 (a 1-D array of length N when n_1 = 1).
    y : ndarray, shape (N, n_L), or (N,) integer labels for cross-entropy
        The targets.
    loss : str or Loss, default "mse"

    Returns
    -------
    weight_norms, bias_norms : ndarray, shape (L − 1,)
        Entry ``i`` belongs to layer l = i + 2 (the output layer last).

    Raises
    ------
    ValueError
        For an unknown loss, an ``X`` or ``y`` of the wrong shape or with NaN or inf, no points,
        or parameters with NaN or inf.
    """
    loss = get_loss(loss)
    _, gW, gb = _gradients(net, _forward(net, X), y, loss)
    return _norms(gW), _norms(gb)


def delta_norms(net: MLP, X: np.ndarray, y: np.ndarray, loss: str | Loss = "mse") -> np.ndarray:
    """The mean over the points x of ``X`` of ‖δ^[l](x)‖_2, for l = 2..L.

    δ^[l](x) = ∂C_x/∂z^[l] is the error backpropagation gives layer l for the cost C_x of the
    point x alone. The cost C over all N points is the mean of the C_x (every built-in loss
    averages over the points), so δ^[l](x) is N times row x of the full-batch δ^[l] of
    :meth:`MLP.backward <mlplab.network.MLP.backward>`. A mean of norms cannot cancel, as the
    sum ∂C/∂W^[l] = (1/N) Σ_x δ^[l](x) a^[l−1](x)ᵀ behind :func:`gradient_norms` can: it
    shows whether the error itself vanishes on its way to the input.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
        The points, N >= 1 (a 1-D array of length N when n_1 = 1).
    y : ndarray, shape (N, n_L), or (N,) integer labels for cross-entropy
        The targets.
    loss : str or Loss, default "mse"

    Returns
    -------
    ndarray, shape (L − 1,)
        Entry ``i`` belongs to layer l = i + 2 (the output layer last).

    Raises
    ------
    ValueError
        As :func:`gradient_norms`.
    """
    loss = get_loss(loss)
    cache = _forward(net, X)
    _gradients(net, cache, y, loss)  # fills cache.delta
    return _delta_norms(cache)


def _delta_norms(cache: Cache) -> np.ndarray:
    """:func:`delta_norms` from a cache that backprop has filled."""
    n = cache.a[0].shape[0]
    return np.array([n * float(np.mean(_norms(list(delta)))) for delta in cache.delta])


# --- the summary ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LayerDiagnostics:
    """What :func:`diagnose` found in one layer l.

    Attributes
    ----------
    l : int
        The layer, numbered as in the paper (2 = first hidden layer, L = output).
    width : int
        n_l.
    activation : str
        The name of σ in this layer.
    dead : ndarray of bool, shape (n_l,)
        The units with σ' = 0 at every point (:func:`dead_units` with threshold 0).
    saturated : float
        The fraction of saturated (point, unit) pairs (:func:`saturation`).
    weight_grad_norm, bias_grad_norm : float or None
        ‖∂C/∂W^[l]‖_F and ‖∂C/∂b^[l]‖_2 (:func:`gradient_norms`); None without targets.
    delta_norm : float or None
        The mean over the points of ‖δ^[l](x)‖_2 (:func:`delta_norms`); None without targets.
    """

    l: int  # noqa: E741 (the paper's name for the layer index)
    width: int
    activation: str
    dead: np.ndarray
    saturated: float
    weight_grad_norm: float | None
    bias_grad_norm: float | None
    delta_norm: float | None

    @property
    def n_dead(self) -> int:
        """The number of dead units."""
        return int(np.count_nonzero(self.dead))


#: Headers of :meth:`Diagnostics.rows` and how each column is justified.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("l", "right"),
    ("n_l", "right"),
    ("σ", "left"),
    ("dead", "right"),
    ("saturated", "right"),
    ("‖∂C/∂W^[l]‖_F", "right"),
    ("‖∂C/∂b^[l]‖_2", "right"),
    ("mean ‖δ^[l]‖_2", "right"),
)


def _sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3e}"


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """The result of :func:`diagnose`: one :class:`LayerDiagnostics` per layer l = 2..L.

    ``str(diagnostics)`` is :meth:`table`.

    Attributes
    ----------
    layers : tuple of LayerDiagnostics
        ``layers[i]`` is layer l = i + 2; the output layer L is last.
    n_points : int
        N, the number of points.
    threshold : float
        τ of the saturated fractions.
    loss : str or None
        The loss of the gradient norms; None without targets.
    cost : float or None
        The cost C over the points; None without targets.
    """

    layers: tuple[LayerDiagnostics, ...]
    n_points: int
    threshold: float
    loss: str | None
    cost: float | None

    def summary(self) -> str:
        """One line: the points, the cost, and what "dead" and "saturated" mean here."""
        cost = "no targets" if self.loss is None else f"loss {self.loss}, C = {self.cost:.3e}"
        return (
            f"{self.n_points} points, {cost}; dead: σ' = 0 at every point; "
            f"saturated: |σ'| ≤ {self.threshold:g} σ'_max"
        )

    @property
    def columns(self) -> list[str]:
        """The table's column names (:data:`COLUMNS`)."""
        return [name for name, _ in COLUMNS]

    def rows(self) -> list[list[str]]:
        """The table's cells, one row per layer, in the order of :data:`COLUMNS`."""
        return [
            [
                str(layer.l),
                str(layer.width),
                layer.activation,
                str(layer.n_dead),
                f"{layer.saturated:.1%}",
                _sci(layer.weight_grad_norm),
                _sci(layer.bias_grad_norm),
                _sci(layer.delta_norm),
            ]
            for layer in self.layers
        ]

    def table(self) -> str:
        """A plain-text table, one row per layer, under the :meth:`summary` line."""
        lines = [[name for name, _ in COLUMNS], *self.rows()]
        widths = [max(len(row[k]) for row in lines) for k in range(len(COLUMNS))]
        text = [
            "  ".join(
                cell.rjust(w) if justify == "right" else cell.ljust(w)
                for cell, w, (_, justify) in zip(row, widths, COLUMNS, strict=True)
            ).rstrip()
            for row in lines
        ]
        return "\n".join([self.summary(), *text])

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        from mlplab.display import diagnostics_html

        return diagnostics_html(self)


def diagnose(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray | None = None,
    loss: str | Loss = "mse",
    threshold: float = THRESHOLD,
) -> Diagnostics:
    """Dead units, saturation and (with targets) gradient and error norms of every layer.

    One forward pass over ``X`` serves every quantity; see :func:`dead_units`,
    :func:`saturation`, :func:`gradient_norms` and :func:`delta_norms` for the definitions.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
        The points, N >= 1 (a 1-D array of length N when n_1 = 1).
    y : ndarray, shape (N, n_L), or (N,) integer labels for cross-entropy, optional
        Targets; without them the gradient and error norms and the cost are None.
    loss : str or Loss, default "mse"
    threshold : float, default 0.01
        τ of the saturated fractions, in [0, 1).

    Returns
    -------
    Diagnostics

    Raises
    ------
    ValueError
        As :func:`saturation` and :func:`gradient_norms`.

    Examples
    --------
    >>> net = MLP([1, 8, 8, 1], activation="relu", init="he_normal", seed=0)
    >>> x = np.linspace(-1, 1, 100)
    >>> report = diagnose(net, x, np.sin(np.pi * x))
    >>> [layer.l for layer in report.layers]
    [2, 3, 4]
    """
    loss = get_loss(loss)
    threshold = _check_threshold(threshold)
    cache = _forward(net, X)
    saturated = _saturated(net, cache, threshold)
    dead = [np.all(m, axis=0) for m in _saturated(net, cache, 0.0)]
    n_layers = len(net.weights)
    if y is None:
        cost = None
        grad_W: list[float | None] = [None] * n_layers
        grad_b: list[float | None] = [None] * n_layers
        errors: list[float | None] = [None] * n_layers
    else:
        cost, gW, gb = _gradients(net, cache, y, loss)
        grad_W = [float(v) for v in _norms(gW)]
        grad_b = [float(v) for v in _norms(gb)]
        errors = [float(v) for v in _delta_norms(cache)]
    layers = tuple(
        LayerDiagnostics(
            l=i + 2,
            width=net.sizes[i + 1],
            activation=net.activations[i].name,
            dead=dead[i],
            saturated=float(np.mean(saturated[i])),
            weight_grad_norm=grad_W[i],
            bias_grad_norm=grad_b[i],
            delta_norm=errors[i],
        )
        for i in range(n_layers)
    )
    return Diagnostics(
        layers=layers,
        n_points=cache.a[0].shape[0],
        threshold=threshold,
        loss=None if y is None else loss.name,
        cost=cost,
    )

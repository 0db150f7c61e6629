"""Loss functions C(a, y) with their gradients ∂C/∂a^[L].

Each :class:`Loss` takes the network output ``a`` of shape ``(N, n_L)`` and targets ``y`` and
returns the scalar cost (``value``) and ``∂C/∂a`` of shape ``(N, n_L)`` (``grad``). Backprop then
forms δ^[L] = σ'(z^[L]) ∘ ∂C/∂a^[L] from the output activation, so every pairing of loss and
output activation gets the right gradient, multi-output included.

Conventions
-----------
- ``mse``: mean over samples *and* outputs, (1/(N n_L)) Σ (a − y)², as PyTorch's ``MSELoss``.
- ``half_sse``: the paper's cost (1/N) Σᵢ ½‖yᵢ − aᵢ‖².
- ``cross_entropy``: ``a`` are logits; softmax is taken inside with a stable log-sum-exp; ``y``
  is integer labels of shape ``(N,)`` or one-hot / probability rows of shape ``(N, n_L)``.
- ``bce``: ``a`` are probabilities in [0, 1] (use a sigmoid output); logs are clipped away
  from 0 so a saturated output gives a large finite loss, as PyTorch's ``BCELoss``.
- ``bce_logits``: ``a`` are logits; −[y log σ(a) + (1−y) log(1−σ(a))] computed stably.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_softmax
from scipy.special import softmax as _softmax

from mlplab._names import parse_spec, unknown

LossFn = Callable[[np.ndarray, np.ndarray], float]
GradFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Loss:
    """A cost C(a, y) and its gradient with respect to the output a = a^[L].

    Parameters
    ----------
    name : str
        Registry name.
    value : callable
        ``value(a, y) -> float`` with ``a`` of shape ``(N, n_L)``.
    grad : callable
        ``grad(a, y) -> ndarray`` of shape ``(N, n_L)``, the derivative of ``value`` in ``a``.
    integer_targets : bool
        Whether ``y`` may be integer class labels of shape ``(N,)`` (cross-entropy).
    """

    name: str
    value: LossFn
    grad: GradFn
    integer_targets: bool = False

    def __call__(self, a: np.ndarray, y: np.ndarray) -> float:
        return self.value(a, y)

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"


def _mse(a: np.ndarray, y: np.ndarray) -> float:
    r = a - y
    return float(np.mean(r * r))


def _mse_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (2.0 / a.size) * (a - y)


def _half_sse(a: np.ndarray, y: np.ndarray) -> float:
    r = a - y
    return float(0.5 * np.sum(r * r) / a.shape[0])


def _half_sse_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (a - y) / a.shape[0]


def _as_probabilities(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Targets as rows of class probabilities: integer labels become one-hot rows."""
    if a.shape[1] < 2:
        raise ValueError(
            "cross_entropy needs one output (logit) per class, at least 2; a network with one "
            "output gives softmax = 1 and learns nothing: use n_L = number of classes, or "
            "'bce_logits' for two classes with one output"
        )
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and a.shape[1] > 1):
        labels = y.reshape(-1)
        if not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= a.shape[1]:
            raise ValueError(
                f"cross_entropy labels must be integers in 0..{a.shape[1] - 1} (one per class "
                f"output), got values from {labels.min()} to {labels.max()}"
            )
        onehot = np.zeros_like(a)
        onehot[np.arange(a.shape[0]), labels.astype(np.intp)] = 1.0
        return onehot
    return y


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax exp(a_k) / Σ_j exp(a_j) of logits ``a`` (N, K) -> (N, K).

    Computed as exp(a_k − m) / Σ_j exp(a_j − m) with m = max_j a_j, so no exponential
    overflows, whatever the size of the logits.
    """
    return _softmax(a, axis=1)


def _cross_entropy(a: np.ndarray, y: np.ndarray) -> float:
    p = _as_probabilities(a, y)
    return float(-np.sum(p * log_softmax(a, axis=1)) / a.shape[0])


def _cross_entropy_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    # d/da of −Σ_k p_k log softmax(a)_k is softmax(a) Σ_k p_k − p (= softmax(a) − p for one-hot).
    p = _as_probabilities(a, y)
    return (softmax(a) * p.sum(axis=1, keepdims=True) - p) / a.shape[0]


_BCE_EPS = 1e-12


def _probabilities(a: np.ndarray) -> np.ndarray:
    """``a`` clipped into [ε, 1 − ε]; raises unless every entry is a probability."""
    if a.size and (np.min(a) < 0.0 or np.max(a) > 1.0):
        raise ValueError(
            f"bce takes probabilities in [0, 1] but the outputs range from {np.min(a):.3g} to "
            f"{np.max(a):.3g}: use output_activation='sigmoid', or the loss 'bce_logits' on "
            f"raw outputs"
        )
    return np.clip(a, _BCE_EPS, 1.0 - _BCE_EPS)


def _bce(a: np.ndarray, y: np.ndarray) -> float:
    p = _probabilities(a)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def _bce_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Where the clip is active the value is flat, so the derivative there is 0.
    p = _probabilities(a)
    inside = (a > _BCE_EPS) & (a < 1.0 - _BCE_EPS)
    return np.where(inside, (p - y) / (p * (1.0 - p)), 0.0) / a.size


def _bce_logits(a: np.ndarray, y: np.ndarray) -> float:
    # −[y log σ(a) + (1−y) log σ(−a)] = softplus(a) − y a, with softplus = logaddexp(0, a).
    return float(np.mean(np.logaddexp(0.0, a) - y * a))


def _bce_logits_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (expit(a) - y) / a.size


mse = Loss("mse", _mse, _mse_grad)
half_sse = Loss("half_sse", _half_sse, _half_sse_grad)
cross_entropy = Loss("cross_entropy", _cross_entropy, _cross_entropy_grad, integer_targets=True)
bce = Loss("bce", _bce, _bce_grad)
bce_logits = Loss("bce_logits", _bce_logits, _bce_logits_grad)

_LOSSES: dict[str, Loss] = {f.name: f for f in (mse, half_sse, cross_entropy, bce, bce_logits)}
_ALIASES = {"ce": "cross_entropy", "bce_with_logits": "bce_logits", "l2": "mse"}

#: Names accepted by :func:`get_loss`.
NAMES: tuple[str, ...] = tuple(sorted(_LOSSES))


def get_loss(spec: str | Loss) -> Loss:
    """Return the :class:`Loss` named by ``spec`` (a :class:`Loss` is returned as it is).

    Raises
    ------
    UnknownNameError
        For an unknown name; the message lists the valid ones.
    """
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a loss is a name such as 'mse' or an mlplab.Loss, got {spec!r}")
    name, _ = parse_spec(spec)
    name = _ALIASES.get(name, name)
    if name not in _LOSSES:
        raise unknown("loss", spec, NAMES)
    return _LOSSES[name]

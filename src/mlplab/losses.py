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

from mlplab._names import check_new_name, no_parameters, parse_spec, unknown
from mlplab.activations import _sigmoid, _softplus
from mlplab.errors import MlplabError

CostFn = Callable[[np.ndarray, np.ndarray], float]
GradFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
CheckFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Loss:
    """A cost C(a, t) and its gradient with respect to the output a = a^[L].

    Parameters
    ----------
    name : str
        Registry name.
    cost : callable
        ``cost(a, t) -> float``: the formula, on outputs ``a`` of shape ``(N, n_L)`` and targets
        ``t`` of the same shape. Written with NumPy ufuncs, reductions and arithmetic only, it is
        also what the compiled engine runs (:mod:`mlplab.engine.jit`).
    dcost : callable
        ``dcost(a, t) -> ndarray`` of shape ``(N, n_L)``, the derivative of ``cost`` in ``a``.
    targets : callable, optional
        ``targets(a, y) -> t``: checks the targets ``y`` the user gave and returns them in the
        shape of ``a`` (integer labels become one-hot rows). Default: ``y`` as it is.
    integer_targets : bool
        Whether ``y`` may be integer class labels of shape ``(N,)`` (cross-entropy).
    outputs : callable, optional
        ``outputs(a)``: raises where the outputs ``a`` lie outside the loss's domain (bce takes
        probabilities). Training runs it at every step, as :meth:`prepare` does.
    """

    name: str
    cost: CostFn
    dcost: GradFn
    targets: CheckFn | None = None
    integer_targets: bool = False
    outputs: Callable[[np.ndarray], None] | None = None

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        """C(a, y) for targets as the user gives them (labels included)."""
        return float(self.cost(a, self.prepare(a, y)))

    def grad(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∂C/∂a, shape ``(N, n_L)``, for targets as the user gives them."""
        return self.dcost(a, self.prepare(a, y))

    def prepare(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The targets in the form :attr:`cost` takes (see ``targets``), after checking the
        outputs (see ``outputs``).

        Raises
        ------
        MlplabError
            Where there are no points (the mean over them is 0/0), or the targets do not have
            the shape of the outputs ``a`` (they would broadcast
            to a wrong cost: ``a`` of shape (N, 1) and ``y`` of shape (N,) give (N, N)).
        """
        if np.shape(a)[0] == 0:
            raise MlplabError(f"{self.name} is a mean over points, but there are no points")
        self.check_outputs(a)
        t = y if self.targets is None else self.targets(a, y)
        if np.shape(t) != np.shape(a):
            labels = self.integer_targets and np.ndim(y) == 1
            fix = (
                "one class label per point, shape (N,)"
                if labels
                else "one row of targets per point, of the outputs' shape (y.reshape(-1, 1) for "
                "one output)"
            )
            raise MlplabError(
                f"{self.name}: the targets have shape {np.shape(y)} but the outputs a have shape "
                f"{np.shape(a)}; give {fix}"
            )
        return t

    def check_outputs(self, a: np.ndarray) -> None:
        """Raise where the outputs ``a`` lie outside the loss's domain (see ``outputs``)."""
        if self.outputs is not None:
            self.outputs(a)

    def __call__(self, a: np.ndarray, y: np.ndarray) -> float:
        return self.value(a, y)

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"


# The formulas (cost, dcost) are written once, for NumPy and the compiled engine alike; the checks
# and conversions of what users pass live in the ``targets`` functions.


def _mse(a: np.ndarray, t: np.ndarray) -> float:
    r = a - t
    return np.sum(r * r) / a.size


def _mse_grad(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (2.0 / a.size) * (a - t)


def _half_sse(a: np.ndarray, t: np.ndarray) -> float:
    r = a - t
    return 0.5 * np.sum(r * r) / a.shape[0]


def _half_sse_grad(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (a - t) / a.shape[0]


#: How far a row of cross_entropy's target probabilities may sum from 1 (float32 rounding of
#: a few hundred classes stays well inside).
PROBABILITY_SUM_TOL = 1e-5


def _as_probabilities(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Targets as rows of class probabilities: integer labels become one-hot rows."""
    if a.shape[1] < 2:
        raise MlplabError(
            "cross_entropy needs one output (logit) per class, at least 2; a network with one "
            "output gives softmax = 1 and learns nothing: use n_L = number of classes, or "
            "'bce_logits' for two classes with one output"
        )
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and a.shape[1] > 1):
        labels = y.reshape(-1)
        if labels.shape[0] != a.shape[0]:
            return y  # refused by Loss.prepare, which names both shapes
        if labels.size and (
            not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= a.shape[1]
        ):
            raise MlplabError(
                f"cross_entropy labels must be integers in 0..{a.shape[1] - 1} (one per class "
                f"output), got values from {labels.min()} to {labels.max()}"
            )
        onehot = np.zeros_like(a)
        onehot[np.arange(a.shape[0]), labels.astype(np.intp)] = 1.0
        return onehot
    if y.shape == a.shape and y.size:
        sums = np.sum(y, axis=1)
        if np.min(y) < 0 or not np.all(np.abs(sums - 1.0) <= PROBABILITY_SUM_TOL):
            raise MlplabError(
                f"cross_entropy targets of shape (N, n_L) are rows of class probabilities, "
                f"entries >= 0 that sum to 1; got entries from {np.min(y):.3g} to "
                f"{np.max(y) + 0.0:.3g} and row sums from {np.min(sums):.3g} to {np.max(sums):.3g} "
                f"(give integer labels of shape (N,), or one-hot rows)"
            )
    return y


def _row_max(a: np.ndarray) -> np.ndarray:
    """max_k a_k for every row of ``a`` (N, K) -> (N, 1), column by column."""
    m = a[:, 0].copy()
    for k in range(1, a.shape[1]):
        m = np.maximum(m, a[:, k])
    return m.reshape(-1, 1)


def log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise log softmax a_k − log Σ_j exp(a_j) of logits ``a`` (N, K) -> (N, K).

    With s = a − max_j a_j every exponent is ≤ 0, so nothing overflows, and one term of
    Σ_j e^{s_j} is exactly 1: the result is s_k − log1p(rest), where rest sums the other terms
    (those below the largest logit, and 1 for each further logit equal to it). log(1 + rest)
    would round away a rest below about 1e-16, which is the whole cost when one logit
    dominates; log1p keeps its relative accuracy until it leaves float64's range.
    """
    s = a - _row_max(a)
    e = np.exp(s)
    rest = np.zeros(a.shape[0], e.dtype)
    passed = np.zeros(a.shape[0], e.dtype)  # 1 in the rows whose first largest logit is passed
    for k in range(a.shape[1]):
        top = (s[:, k] == 0.0) * (1.0 - passed)  # the first largest logit, where e = 1
        rest += e[:, k] - top
        passed += top
    return s - np.log1p(rest).reshape(-1, 1)


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax exp(a_k) / Σ_j exp(a_j) of logits ``a`` (N, K) -> (N, K).

    Computed as exp(a_k − m) / Σ_j exp(a_j − m) with m = max_j a_j, so no exponential
    overflows, whatever the size of the logits.
    """
    e = np.exp(a - _row_max(a))
    return e / np.sum(e, axis=1).reshape(-1, 1)


def _cross_entropy(a: np.ndarray, p: np.ndarray) -> float:
    return 0.0 - np.sum(p * log_softmax(a)) / a.shape[0]  # 0.0 − : no −0.0 for a perfect fit


def _cross_entropy_grad(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    # d/da of −Σ_k p_k log softmax(a)_k is softmax(a) Σ_k p_k − p (= softmax(a) − p for one-hot).
    # At the largest logit this is a difference with 1, exact to an absolute 2.2e-16 (a unit in
    # the last place of 1): below that it rounds to 0, as every softmax − p form does. Forming
    # it over the common denominator 1 + rest instead keeps it accurate but made a step of the
    # paper's example with cross_entropy 1.3 times slower (benchmarks/LOG.md).
    return (softmax(a) * np.sum(p, axis=1).reshape(-1, 1) - p) / a.shape[0]


#: Smallest value bce takes the log of: a saturated output gives a large finite loss, and the
#: bound is a normal number in float32 as in float64.
_BCE_EPS = 1e-12


def _check_targets_are_probabilities(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Refuse targets outside [0, 1] (bce and bce_logits); the targets as they are."""
    if y.size and not (np.min(y) >= 0.0 and np.max(y) <= 1.0):
        raise MlplabError(
            f"binary cross-entropy takes targets in [0, 1] (a label 0 or 1, or a probability) "
            f"but they range from {np.min(y):.3g} to {np.max(y):.3g}: rescale them, or use "
            f"'mse' for values outside [0, 1]"
        )
    return y


def _check_probabilities(a: np.ndarray) -> None:
    """Refuse outputs outside [0, 1] (bce takes probabilities)."""
    if a.size and (np.min(a) < 0.0 or np.max(a) > 1.0):  # NaN passes: training says diverged
        raise MlplabError(
            f"bce takes probabilities in [0, 1] but the outputs range from {np.min(a):.3g} to "
            f"{np.max(a):.3g}: use output_activation='sigmoid', or the loss 'bce_logits' on "
            f"raw outputs"
        )


def _bce(a: np.ndarray, t: np.ndarray) -> float:
    # −[t log a + (1−t) log(1−a)], each log's argument held to at least _BCE_EPS (1 − a is
    # formed first, as the clip 1 − _BCE_EPS would round to 1 in float32)
    lo, hi = np.maximum(a, _BCE_EPS), np.maximum(1.0 - a, _BCE_EPS)
    return -np.sum(t * np.log(lo) + (1.0 - t) * np.log(hi)) / a.size


def _bce_grad(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    # (a − t) / (a (1 − a)); where a clip is active the value is flat, so the derivative is 0
    lo, hi = np.maximum(a, _BCE_EPS), np.maximum(1.0 - a, _BCE_EPS)
    inside = (a > _BCE_EPS) * (1.0 - a > _BCE_EPS)
    return inside * ((a - t) / (lo * hi)) / a.size


def _bce_logits(a: np.ndarray, t: np.ndarray) -> float:
    # −[t log σ(a) + (1−t) log σ(−a)] = softplus(a) − t a, with the stable softplus
    return np.sum(_softplus(a) - t * a) / a.size


def _bce_logits_grad(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (_sigmoid(a) - t) / a.size


mse = Loss("mse", _mse, _mse_grad)
half_sse = Loss("half_sse", _half_sse, _half_sse_grad)
cross_entropy = Loss(
    "cross_entropy", _cross_entropy, _cross_entropy_grad, _as_probabilities, integer_targets=True
)
bce = Loss("bce", _bce, _bce_grad, _check_targets_are_probabilities, outputs=_check_probabilities)
bce_logits = Loss("bce_logits", _bce_logits, _bce_logits_grad, _check_targets_are_probabilities)

_LOSSES: dict[str, Loss] = {f.name: f for f in (mse, half_sse, cross_entropy, bce, bce_logits)}
_ALIASES = {"ce": "cross_entropy", "bce_with_logits": "bce_logits", "l2": "mse"}

#: Built-in names accepted by :func:`get_loss`.
NAMES: tuple[str, ...] = tuple(sorted(_LOSSES))


def register(loss: Loss) -> Loss:
    """Make ``loss`` available by its name everywhere a loss name is accepted.

    This is all a new loss needs: the fast engine compiles its ``cost`` and ``dcost`` when they
    are written with NumPy ufuncs, reductions and arithmetic (as the built-in ones are), and runs
    it on the NumPy stepper otherwise (``History.engine_reason`` says why).
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"register takes an mlplab.Loss, got {loss!r}")
    check_new_name("loss", loss.name)
    if loss.name in NAMES or loss.name in _ALIASES:
        raise MlplabError(f"{loss.name!r} names a built-in loss; choose another name")
    _LOSSES[loss.name] = loss
    return loss


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
    name, params = parse_spec(spec)
    name = _ALIASES.get(name, name)
    if name not in _LOSSES:
        raise unknown("loss", spec, tuple(sorted(_LOSSES)))
    no_parameters("loss", spec, params)
    return _LOSSES[name]

"""scikit-learn estimators on mlplab's MLP: :class:`MLPRegressor` and :class:`MLPClassifier`.

They take scikit-learn's ``MLPRegressor`` / ``MLPClassifier`` parameter names where the meaning
is the same, train through :func:`mlplab.fit` (the fast engine wherever it runs the
configuration), and keep the trained network as ``network_``, an :class:`mlplab.MLP`, so that
its input gradient, trace and diagnostics work on it. scikit-learn is an optional extra
(``pip install 'mlplab[sklearn]'``); ``import mlplab`` does not import this module.

Orientation of the fitted weights
---------------------------------
mlplab stores W^[l] in the paper's orientation, shape ``(n_l, n_{l-1})``, and computes
z^[l] = a^[l-1] W^[l]ᵀ + b^[l] for a batch of rows. scikit-learn's ``coefs_[i]`` multiplies
from the right, ``a @ coefs_[i]``, so ``coefs_[i]`` is ``network_.weights[i].T``, shape
``(n_{i+1}, n_{i+2})`` in the paper's layer numbering, and ``intercepts_[i]`` is
``network_.biases[i]`` (b^[i+2]). Both are views into ``network_.params``.

Input derivatives in a pipeline
-------------------------------
``est.input_gradient(X)`` differentiates with respect to the features the estimator receives.
After a scaler, x' = (x − mean) / scale, the chain rule gives ∂f/∂x_j = (∂f/∂x'_j) / scale_j;
:func:`pipeline_input_gradient` and :func:`pipeline_input_jacobian` do this for a
:class:`~sklearn.pipeline.Pipeline` whose steps before the estimator are ``StandardScaler``,
``RobustScaler``, ``MaxAbsScaler`` or ``MinMaxScaler`` (or ``"passthrough"``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from mlplab.activations import Activation, get_activation, sigmoid, softplus
from mlplab.compute import small_products
from mlplab.losses import Loss, get_loss, log_softmax, softmax
from mlplab.network import MLP, resolve_dtype
from mlplab.optim import LBFGS, SGD, Adam, Optimizer, Schedule
from mlplab.train import fit
from mlplab.values import as_real, check_whole, is_listing

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "pipeline_input_gradient",
    "pipeline_input_jacobian",
]

SOLVERS = ("adam", "sgd", "lbfgs")
#: scikit-learn's rate schedules of the "sgd" solver.
LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: The rate below which ``learning_rate="adaptive"`` stops instead of dividing it by
#: :data:`_ADAPTIVE_DIVISOR`.
_SMALLEST_ADAPTIVE_RATE, _ADAPTIVE_DIVISOR = 1e-6, 5.0
_SEED_MAX = 2**31 - 1
#: The relative reduction of the cost at which the "lbfgs" solver stops: scipy's default
#: ``ftol`` of L-BFGS-B, which scikit-learn leaves as it is (its ``tol`` is ``gtol``).
SCIPY_FTOL = 2.220446049250313e-09


# --- the L2 penalty of scikit-learn's ``alpha`` ------------------------------------------------


def _weight_mask(net: MLP) -> np.ndarray:
    """1.0 where ``net.params`` holds a weight, 0.0 where it holds a bias, shape (p,)."""
    mask = np.zeros_like(net.params)
    weights, _ = net.unflatten(mask)
    for W in weights:
        W[...] = 1.0
    return mask


class _L2Step(Optimizer):
    """A first-order optimiser whose gradient gains the penalty term (α/B) W of
    scikit-learn's cost C + (α / 2B) Σ_l ‖W^[l]‖²_F (B points per batch; biases unpenalised).

    It wraps an :class:`~mlplab.optim.SGD` or :class:`~mlplab.optim.Adam` and defines only
    ``step``, so :func:`mlplab.fit` trains it on the NumPy stepper.
    """

    def __init__(self, inner: Optimizer, mask: np.ndarray, scale: float) -> None:
        self.inner, self.mask, self.scale = inner, mask, float(scale)

    @property
    def lr(self) -> float:  # type: ignore[override]
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    @property
    def t(self) -> int:  # type: ignore[override]
        return self.inner.t

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        self.inner.step(params, grad + self.scale * self.mask * params)

    def reset(self) -> None:
        self.inner.reset()

    def config(self) -> dict:
        return {**self.inner.config(), "l2": self.scale}


class _L2LBFGS(LBFGS):
    """:class:`~mlplab.optim.LBFGS` on the cost plus (α / 2N) Σ_l ‖W^[l]‖²_F (full batch)."""

    def __init__(self, mask: np.ndarray, scale: float, **lbfgs) -> None:
        super().__init__(**lbfgs)
        self.mask, self.scale = mask, float(scale)

    def minimize(self, fun, x0, max_iter, callback=None):
        mask, scale = self.mask, self.scale

        def penalised(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = fun(theta)
            w = mask * theta
            return value + 0.5 * scale * float(w @ w), grad + scale * w

        return super().minimize(penalised, x0, max_iter, callback)

    def config(self) -> dict:
        return {**super().config(), "l2": self.scale}


# --- parameter checks ---------------------------------------------------------------------------


def _hidden_sizes(value) -> list[int]:
    if is_listing(value):  # a list, tuple, range, array, pandas Series
        sizes = shown = list(value)
    else:
        sizes, shown = [value], value  # an int; or None, a text, a float, refused below
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(
                f"hidden_layer_sizes must be whole numbers >= 1, e.g. (100,) or (64, 64); "
                f"got {shown!r}"
            )
    return [int(n) for n in sizes]


def _check_number(name: str, value, low: float, high: float, low_open: bool, high_open: bool):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{name} must be a number in {lo}{low:g}, {high:g}{hi}, got {value!r}")


class _MLPBase(BaseEstimator):
    """What :class:`MLPRegressor` and :class:`MLPClassifier` share: parameters, training, the
    fitted attributes and input derivatives. Subclasses define the targets and the output."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        init="xavier_uniform",
        dtype="float64",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.init = init
        self.dtype = dtype

    # --- what subclasses define -------------------------------------------------------------

    def _validate_targets(self, y: np.ndarray, reuse: bool, incremental: bool, classes=None):
        """Targets for the network, and those the validation score compares with.

        ``y`` has passed scikit-learn's checks; ``reuse`` says that the fitted network goes on
        training (``warm_start`` or ``partial_fit``), ``incremental`` that this is
        ``partial_fit``, whose first call names all the ``classes``.
        """
        raise NotImplementedError

    def _output_spec(self) -> tuple[str | Activation, Loss]:
        """The output activation and the loss of the network."""
        raise NotImplementedError

    def _score_on(self, X: np.ndarray, y) -> float:
        """The validation score (R² or accuracy) of the current network on checked ``X``."""
        raise NotImplementedError

    # --- checks -----------------------------------------------------------------------------

    def _check_params(self) -> list[int]:
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {self.solver!r}")
        _check_number("alpha", self.alpha, 0.0, math.inf, False, True)
        if self.batch_size != "auto":
            try:
                check_whole(self.batch_size, "batch_size", 1)
            except ValueError:
                raise ValueError(
                    f"batch_size must be 'auto' or a whole number >= 1, got {self.batch_size!r}"
                ) from None
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(
                f"learning_rate must be one of {', '.join(LEARNING_RATES)}; "
                f"got {self.learning_rate!r}"
            )
        _check_number("learning_rate_init", self.learning_rate_init, 0.0, math.inf, True, True)
        _check_number("power_t", self.power_t, 0.0, math.inf, False, True)
        check_whole(self.max_iter, "max_iter", 1)
        _check_number("tol", self.tol, 0.0, math.inf, False, True)
        check_whole(self.n_iter_no_change, "n_iter_no_change", 1)
        check_whole(self.max_fun, "max_fun", 1)
        _check_number("momentum", self.momentum, 0.0, 1.0, False, True)
        _check_number("validation_fraction", self.validation_fraction, 0.0, 1.0, True, True)
        _check_number("beta_1", self.beta_1, 0.0, 1.0, False, True)
        _check_number("beta_2", self.beta_2, 0.0, 1.0, False, True)
        _check_number("epsilon", self.epsilon, 0.0, math.inf, True, True)
        resolve_dtype(self.dtype)
        return hidden

    def _np_dtype(self) -> np.dtype:
        return resolve_dtype(self.dtype)

    # --- training ---------------------------------------------------------------------------

    def fit(self, X, y):
        """Train the network on ``X`` (N, n_features) and ``y``.

        With ``warm_start=True`` and a network of the same architecture already fitted, training
        continues from its parameters (and from the optimiser's state); otherwise the network
        is drawn anew from ``random_state`` and a new optimiser is created.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def _partial_fit_available(self) -> bool:
        return self.solver != "lbfgs"

    def _fit(self, X, y, incremental: bool, classes=None):
        hidden = self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "network_") or not (self.warm_start or incremental)
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=not self._is_classifier, reset=first)  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y, y_score = self._validate_targets(y, reuse=not first, incremental=incremental,
                                            classes=classes)  # fmt: skip
        rs = check_random_state(self.random_state)
        stochastic = self.solver != "lbfgs"
        out_act, loss = self._output_spec()
        sizes = [X.shape[1], *hidden, self.n_outputs_]
        if not first and (self.network_.sizes, self.network_.dtype) != (sizes, self._np_dtype()):
            raise ValueError(
                f"warm_start continues the fitted network {self.network_!r}, but the parameters "
                f"ask for sizes {sizes} in {self.dtype}; set warm_start=False to start anew"
            )
        if first:
            self.network_ = MLP(sizes, activation=self.activation, output_activation=out_act,
                                init=self.init, seed=int(rs.randint(_SEED_MAX)),
                                dtype=self._np_dtype())  # fmt: skip
            self._optimizer = self._optimizer_config = None
            self.loss_curve_ = []
            self.t_ = 0
            self._no_improvement_count = 0
            self.validation_scores_ = self.best_validation_score_ = self.best_loss_ = None
        if self.early_stopping and stochastic and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -math.inf
        elif not (self.early_stopping and stochastic) and self.best_loss_ is None:
            self.best_loss_ = math.inf
        if self.early_stopping and stochastic:
            stratify = y_score if (self._is_classifier and y_score.ndim == 1) else None
            X, Xv, y, _, _, yv = train_test_split(
                X, y, y_score, test_size=self.validation_fraction, random_state=rs,
                stratify=stratify,
            )  # fmt: skip
            if Xv.shape[0] < 2:
                raise ValueError(
                    "the validation set is too small: increase validation_fraction or the "
                    "number of samples"
                )
            validation = (self.network_.check_input(Xv), yv)
        else:
            validation = None
        self._train(X, y, loss, validation, incremental, int(rs.randint(_SEED_MAX)))
        return self

    def _new_optimizer(self, batch: int) -> Optimizer | LBFGS:
        """A new optimiser for ``solver`` (with the penalty of ``alpha`` over ``batch`` points)."""
        if self.solver == "lbfgs":  # stopping as scikit-learn's: tol is scipy's gtol
            stopping = dict(tol=SCIPY_FTOL, gtol=self.tol, max_fun=self.max_fun)
            if self.alpha > 0:
                return _L2LBFGS(_weight_mask(self.network_), self.alpha / batch, **stopping)
            return LBFGS(**stopping)
        if self.solver == "adam":
            inner: Optimizer = Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        else:
            inner = SGD(self.learning_rate_init, self.momentum,
                        self.nesterovs_momentum and self.momentum > 0)  # fmt: skip
        if self.alpha > 0:
            return _L2Step(inner, _weight_mask(self.network_), self.alpha / batch)
        return inner

    def _train(self, X, y, loss: Loss, validation, incremental: bool, seed: int) -> None:
        n = X.shape[0]
        if self.solver == "lbfgs":
            batch = n
        elif self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    f"batch_size={self.batch_size} is larger than the {n} training samples; "
                    f"using {n}",
                    UserWarning,
                    stacklevel=4,
                )
            batch = min(self.batch_size, n)
        fresh = self._new_optimizer(batch)
        keep = self._optimizer is not None and (self.warm_start or incremental)
        # kept while the parameters ask for the same optimiser and rate schedule (its rate may
        # have been divided by learning_rate="adaptive" since)
        wanted = (fresh.config(), self.learning_rate, self.power_t)
        if not (keep and self._optimizer_config == wanted):
            self._optimizer, self._optimizer_config = fresh, wanted
        optimizer = self._optimizer
        epochs = 1 if incremental else self.max_iter
        watch = _EpochEnd(self, validation, n, optimizer)
        net = self.network_
        self.n_iter_ = 0
        with small_products():
            stopped, message = self._run_epochs(X, y, loss, optimizer, epochs, batch, seed, watch)
        if watch.best is not None:
            net.params[...] = watch.best
        if stopped or incremental:
            return
        what = "L-BFGS" if self.solver == "lbfgs" else "Stochastic optimizer"
        if self.n_iter_ == self.max_iter:
            message = (
                f"{what}: maximum iterations ({self.max_iter}) reached and the optimization "
                f"hasn't converged yet; raise max_iter or tol"
            )
        elif message:  # L-BFGS stopped before max_iter without converging
            limit = "EVALUATIONS EXCEEDS LIMIT" in message  # scipy's words for max_fun
            message += "; raise max_fun" if limit else "; scale the data, or raise tol"
        if message:
            warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _run_epochs(self, X, y, loss, optimizer, epochs, batch, seed, watch) -> tuple[bool, str]:
        """Train ``network_`` for up to ``epochs`` epochs. Returns whether it stopped before the
        end (no improvement, or L-BFGS converged), and :func:`mlplab.fit`'s message on why
        L-BFGS stopped early otherwise (else "").

        Where ``learning_rate="adaptive"`` divides the rate, :func:`mlplab.fit` stops and starts
        again, with the same optimiser, on the epochs left (and the next seed)."""
        net = self.network_
        if self.solver == "lbfgs" or self.shuffle:
            left, schedule = epochs, self._schedule(X.shape[0])
            end = [lambda epoch, h, net: watch(h.train_loss[-1])]
            while left:
                history = fit(net, X, y, loss=loss, optimizer=optimizer, epochs=left,
                              batch_size=batch, seed=seed, progress=False, schedule=schedule,
                              callbacks=end)  # fmt: skip
                left -= len(history.train_loss)
                if not watch.slower:
                    stopped = history.status in ("stopped", "converged")
                    early = history.status == "completed" and history.epochs < epochs
                    return stopped, history.message if early else ""
                watch.slow_down()
                seed += 1
            return False, ""
        schedule, base = self._schedule(X.shape[0]), optimizer.lr
        try:
            for epoch in range(epochs):  # batches in order: one full-batch epoch of fit on each
                if schedule is not None:
                    optimizer.lr = base * schedule(epoch, epochs)
                for start in range(0, X.shape[0], batch):
                    part = slice(start, start + batch)
                    fit(net, X[part], y[part], loss=loss, optimizer=optimizer, epochs=1,
                        batch_size=None, progress=False)  # fmt: skip
                stop = watch(net.loss(X, y, loss))
                if watch.slower:
                    base = watch.slow_down()
                elif stop:
                    return True, ""
            return False, ""
        finally:
            optimizer.lr = base

    def _schedule(self, n: int) -> Schedule | None:
        """scikit-learn's ``"invscaling"`` for ``"sgd"``: the rate of epoch e is
        learning_rate_init / (t + 1)^power_t, with t = ``t_`` + n e the samples seen before it
        (None for the other rates and solvers)."""
        if self.solver != "sgd" or self.learning_rate != "invscaling":
            return None
        t0, power = self.t_, self.power_t
        return Schedule(f"invscaling:{power}", lambda epoch, epochs: (t0 + n * epoch + 1) ** -power)

    # --- fitted attributes ------------------------------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """``coefs_[i]`` = (W^[i+2])ᵀ, shape (n_{i+1}, n_{i+2}): scikit-learn's orientation
        (views into ``network_.params``)."""
        check_is_fitted(self, "network_")
        return [W.T for W in self.network_.weights]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """``intercepts_[i]`` = b^[i+2], shape (n_{i+2},) (views into ``network_.params``)."""
        check_is_fitted(self, "network_")
        return list(self.network_.biases)

    @property
    def n_layers_(self) -> int:
        """L, the number of layers, input and output included."""
        check_is_fitted(self, "network_")
        return self.network_.L

    def _checked(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self.network_.check_input(X)

    # --- pickling: the network as arrays and activation names --------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        net = state.get("network_")
        if isinstance(net, MLP):
            state = {**state, "network_": _NetworkState.of(net)}
        return state

    def __setstate__(self, state):
        net = state.get("network_")
        if isinstance(net, _NetworkState):
            state = {**state, "network_": net.rebuild(self._own_activations(state))}
        super().__setstate__(state)

    @staticmethod
    def _own_activations(params: dict) -> dict[str, Activation]:
        """The :class:`Activation` objects among the parameters, by name."""
        found = []
        for key in ("activation", "output_activation"):
            value = params.get(key)
            values = value if isinstance(value, (list, tuple)) else [value]
            found += [a for a in values if isinstance(a, Activation)]
        return {a.name: a for a in found}


class _NetworkState:
    """A picklable form of an :class:`MLP`: sizes, activation names, dtype and parameters."""

    def __init__(self, sizes, names, dtype, params) -> None:
        self.sizes, self.names, self.dtype, self.params = sizes, names, dtype, params

    @classmethod
    def of(cls, net: MLP) -> _NetworkState:
        return cls(list(net.sizes), [a.name for a in net.activations], net.dtype.name,
                   net.params.copy())  # fmt: skip

    def rebuild(self, custom: dict[str, Activation]) -> MLP:
        acts = [custom.get(name) or get_activation(name) for name in self.names]
        net = MLP(self.sizes, activation=acts, output_activation=None, dtype=self.dtype)
        net.set_params(self.params)
        return net


class _EpochEnd:
    """scikit-learn's end of an epoch: record the loss, score the validation set, count the
    epochs without an improvement of ``tol``; True when training should stop.

    With ``learning_rate="adaptive"`` ("sgd"), too many epochs without an improvement at a rate
    above 1e-6 stop the epochs with ``slower`` set instead: the caller divides the rate by 5
    and goes on."""

    def __init__(self, est: _MLPBase, validation, n: int, optimizer: Optimizer | LBFGS) -> None:
        self.est, self.validation, self.n, self.optimizer = est, validation, n, optimizer
        self.stopping = est.solver != "lbfgs"
        self.adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
        self.best: np.ndarray | None = None
        self.slower = False

    def __call__(self, train_loss: float) -> bool:
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n
        est.loss_ = float(train_loss)
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {train_loss:.8f}")
        if self.validation is not None:
            score = est._score_on(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            worse = score < est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best = est.network_.params.copy()
        else:
            worse = train_loss > est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, float(train_loss))
        est._no_improvement_count = est._no_improvement_count + 1 if worse else 0
        if self.stopping and est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            message = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if self.adaptive and self.optimizer.lr > _SMALLEST_ADAPTIVE_RATE:
                est._no_improvement_count, self.slower = 0, True
                message += f" Setting learning rate to {self.optimizer.lr / _ADAPTIVE_DIVISOR:f}"
            elif self.adaptive:
                message += " Learning rate too small. Stopping."
            else:
                message += " Stopping."
            if est.verbose:
                print(message)
            return True
        return False

    def slow_down(self) -> float:
        """After a call that set ``slower``: the optimiser's rate divided by 5, which it keeps
        (:func:`mlplab.fit` puts back the rate it started with, so the caller calls this
        between fits); returns the new rate."""
        self.slower = False
        self.optimizer.lr /= _ADAPTIVE_DIVISOR
        return self.optimizer.lr


class MLPRegressor(RegressorMixin, _MLPBase):
    """Multilayer perceptron regressor trained by :func:`mlplab.fit`.

    The first three parameters may be given in order, as scikit-learn's: ``loss``,
    ``hidden_layer_sizes``, ``activation``; the others by name.

    Parameters
    ----------
    loss : str or Loss, default "mse"
        mlplab's loss: ``"mse"`` (mean over points and outputs), ``"half_sse"``, ...
        scikit-learn's ``"squared_error"`` is refused, with what to write: ``"half_sse"`` has
        its gradient (a − y)/N for any number of outputs, ``"mse"`` twice its value (the same
        Adam steps; twice the SGD steps for one output).
    hidden_layer_sizes : int or sequence of int, default (100,)
        Widths of the hidden layers n_2, ..., n_{L-1}.
    activation : str, Activation or list of them, default "relu"
        σ of the hidden layers: any mlplab name (``"tanh"``, ``"relu"``, ``"logistic"`` or
        ``"sigmoid"``, ``"identity"``, ``"gelu"``, ``"leaky_relu:0.1"``, ...), an
        :class:`mlplab.Activation`, or a list with one per hidden layer.
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
        :class:`mlplab.Adam`, :class:`mlplab.SGD` (with ``momentum``) or full-batch
        :class:`mlplab.LBFGS` (``max_iter`` iterations).
    alpha : float, default 0.0
        L2 penalty (α / 2B) Σ ‖W^[l]‖² on the weights, B the batch size, as scikit-learn's.
        Note the default 0 (scikit-learn's is 1e-4): ``alpha > 0`` trains on the NumPy
        stepper (the penalty wraps the optimiser's step), never on the compiled loop.
    batch_size : int or "auto", default "auto"
        Points per step; "auto" is min(200, N).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The rate of the ``"sgd"`` solver, as scikit-learn's: ``learning_rate_init``
        throughout; learning_rate_init / (t + 1)^power_t in an epoch begun after t samples; or
        ``learning_rate_init`` until more than ``n_iter_no_change`` epochs fail to improve by
        ``tol``, which divide it by 5 (training stops when it is at most 1e-6).
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
        The exponent of ``"invscaling"``.
    max_iter : int, default 200
        Epochs (L-BFGS: iterations).
    shuffle : bool, default True
        Draw the batches from a new permutation every epoch; False takes them in order.
    random_state : int, RandomState or None
        ``check_random_state(random_state).randint(2**31 - 1)`` seeds the initial network
        (``mlplab.MLP(..., seed=...)``); the next draws, the validation split and the batch
        order of :func:`mlplab.fit`.
    tol, n_iter_no_change : float, int, default 1e-4, 10
        Stop when the training loss (the validation score with ``early_stopping``) has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs. L-BFGS stops, as
        scikit-learn's, when the largest gradient entry falls below ``tol`` (scipy's ``gtol``)
        or the relative reduction of the cost below scipy's default ``ftol``
        (:data:`SCIPY_FTOL`).
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        Continue from the fitted network and its optimiser's state (the moments, and a rate
        divided by ``learning_rate="adaptive"``) on the next ``fit``, while the solver's
        parameters stay the same; scikit-learn's starts a new optimiser.
    momentum, nesterovs_momentum : float, bool, default 0.9, True
        SGD momentum, Nesterov's variant.
    early_stopping, validation_fraction : bool, float, default False, 0.1
        Hold out a fraction of the data, stop on its score and keep the best parameters
        (``"adam"`` and ``"sgd"``; not in ``partial_fit``).
    beta_1, beta_2, epsilon : float
        Adam's β₁, β₂, ε.
    max_fun : int, default 15000
        Most evaluations of the cost and gradient for ``"lbfgs"``.
    output_activation : str or Activation, optional
        σ of the output layer (default identity).
    init : str, default "xavier_uniform"
        Weight initialiser (:mod:`mlplab.init`); biases start at 0.
    dtype : {"float64", "float32"}, default "float64"

    Attributes
    ----------
    network_ : MLP
        The trained network.
    coefs_, intercepts_ : list of ndarray
        (W^[l])ᵀ and b^[l], l = 2..L, in scikit-learn's orientation (see the module docstring).
    loss_curve_ : list of float
        Training cost on the whole training set after each epoch (without the penalty).
    best_loss_ : float or None
        Lowest of ``loss_curve_`` (None with ``early_stopping``).
    validation_scores_ : list of float or None
        R² on the held-out set after each epoch (with ``early_stopping``).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last ``fit``.
    t_ : int
        Training samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    n_outputs_ : int
    out_activation_ : str
        Name of the output activation.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> model = make_pipeline(
    ...     StandardScaler(), MLPRegressor(hidden_layer_sizes=(64, 64), activation="tanh")
    ... )
    """

    def __init__(
        self,
        loss="mse",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        output_activation=None,
        init="xavier_uniform",
        dtype="float64",
    ):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, init=init,
            dtype=dtype,
        )  # fmt: skip
        self.output_activation = output_activation
        self.loss = loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate_targets(self, y, reuse: bool, incremental: bool, classes=None):
        n_out = 1 if y.ndim == 1 else y.shape[1]
        if reuse and n_out != self.n_outputs_:
            raise ValueError(f"y has {n_out} outputs but the fitted network has {self.n_outputs_}")
        self.n_outputs_ = n_out
        y = as_real(y, self._np_dtype(), "y")
        return y, y

    def _output_spec(self):
        act = get_activation(
            "identity" if self.output_activation is None else self.output_activation
        )
        self.out_activation_ = act.name
        if not isinstance(self.loss, (str, Loss)):
            try:
                widths = _hidden_sizes(self.loss)
            except ValueError:
                widths = None
            fix = (
                f"MLPRegressor takes loss, hidden_layer_sizes and activation in that order, as "
                f"scikit-learn's; write hidden_layer_sizes={self.loss!r}"
                if widths
                else "give a name such as 'mse' or an mlplab Loss"
            )
            raise ValueError(f"loss={self.loss!r} is not a loss: {fix}")
        if isinstance(self.loss, str) and self.loss.strip().lower() == "squared_error":
            raise ValueError(
                "loss 'squared_error' is scikit-learn's name; this estimator takes mlplab's "
                "losses: 'half_sse' has its gradient, (a - y)/N, and 'mse' (the default) "
                "twice its value"
            )
        return act, get_loss(self.loss)

    def _score_on(self, X, y) -> float:
        return float(r2_score(y, self._predict(X)))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = self.network_(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    @available_if(_MLPBase._partial_fit_available)
    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y`` (one optimiser kept across calls); returns self."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The network's output for each row: shape (N,) for one output, else (N, n_outputs)."""
        return self._predict(self._checked(X))

    def input_gradient(self, X) -> np.ndarray:
        """∇ of the prediction at every row of ``X`` (one output), shape (N, n_features).

        With respect to the features the estimator receives; after a scaler in a pipeline,
        use :func:`pipeline_input_gradient` for the original units.
        """
        X = self._checked(X)
        if self.n_outputs_ != 1:
            raise ValueError(
                f"input_gradient needs one output but this model has {self.n_outputs_}; "
                f"use input_jacobian(X)"
            )
        return self.network_.input_gradient(X)

    def input_jacobian(self, X) -> np.ndarray:
        """∂ prediction / ∂x at every row of ``X``, shape (N, n_outputs, n_features)."""
        X = self._checked(X)
        return self.network_.input_jacobian(X)


class MLPClassifier(ClassifierMixin, _MLPBase):
    """Multilayer perceptron classifier trained by :func:`mlplab.fit`.

    The network's output layer gives logits: one per class with the softmax cross-entropy
    (``"cross_entropy"``) for more than two classes; one logistic output (``"bce_logits"``)
    for two classes, and one per label for multilabel targets (an indicator matrix), as
    scikit-learn's ``MLPClassifier``.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, \
learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, \
momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change, max_fun, init, dtype
        As :class:`MLPRegressor` (the validation score is the accuracy).

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multilabel targets, the label indices).
    network_, coefs_, intercepts_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, n_iter_, t_, n_features_in_, feature_names_in_, n_outputs_, \
out_activation_
        As :class:`MLPRegressor`; ``out_activation_`` is ``"softmax"`` or ``"logistic"``,
        applied to the network's logits by :meth:`predict_proba`.
    """

    _is_classifier = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _validate_targets(self, y, reuse: bool, incremental: bool, classes=None):
        check_classification_targets(y)
        if not reuse:
            multilabel = type_of_target(y).startswith("multilabel")
            binarizer = LabelBinarizer().fit(y if classes is None or multilabel else classes)
        else:
            binarizer = self._label_binarizer
            seen = unique_labels(y)
            if not incremental and set(seen) != set(self.classes_):
                raise ValueError(
                    f"warm_start needs the classes of the previous fit {self.classes_}, y has "
                    f"{seen}; set warm_start=False to start anew"
                )
            if len(np.setdiff1d(seen, self.classes_)):
                raise ValueError(f"y has classes {seen} not all in classes_ {self.classes_}")
        if len(binarizer.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got only one class: "
                f"{binarizer.classes_}"
            )
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_
        self._multilabel = binarizer.y_type_.startswith("multilabel")
        Y = binarizer.transform(y)
        self.n_outputs_ = Y.shape[1]
        if self.n_outputs_ > 1 and not self._multilabel:
            return np.argmax(Y, axis=1), y  # labels 0..K-1 for the softmax cross-entropy
        return Y.astype(self._np_dtype()), y

    def _output_spec(self):
        softmax_out = self.n_outputs_ > 1 and not self._multilabel
        self.out_activation_ = "softmax" if softmax_out else "logistic"
        return "identity", get_loss("cross_entropy" if softmax_out else "bce_logits")

    def _score_on(self, X, y) -> float:
        return float(accuracy_score(y, self._predict(X)))

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Softmax rows, or the logistic function entrywise, of the network's logits."""
        return softmax(logits) if self.out_activation_ == "softmax" else sigmoid.f(logits)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        p = self._probabilities(self.network_(X))
        return self._label_binarizer.inverse_transform(p.ravel() if p.shape[1] == 1 else p)

    @available_if(_MLPBase._partial_fit_available)
    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y`` (one optimiser kept across calls).

        Parameters
        ----------
        X : array-like, shape (N, n_features)
        y : array-like, shape (N,) or (N, n_labels)
        classes : array-like, optional
            Every class label, needed on the first call (``y`` need not hold them all).

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={classes} differs from the classes of the previous call {self.classes_}"
            )
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (multilabel: the labels with p > 1/2)."""
        return self._predict(self._checked(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (N, n_classes), columns in the order of ``classes_``."""
        X = self._checked(X)
        p = self._probabilities(self.network_(X))
        if self.out_activation_ == "logistic" and not self._multilabel:
            return np.hstack([1.0 - p, p])
        return p

    def predict_log_proba(self, X) -> np.ndarray:
        """log of :meth:`predict_proba`, computed from the logits without underflow."""
        X = self._checked(X)
        z = self.network_(X)
        if self.out_activation_ == "softmax":
            return log_softmax(z)
        log_p = -softplus.f(-z)  # log σ(z) = −softplus(−z)
        if self._multilabel:
            return log_p
        return np.hstack([-softplus.f(z), log_p])

    def input_jacobian(self, X, output: str = "proba") -> np.ndarray:
        """∂p/∂x of the class probabilities (``output="proba"``, shape (N, n_classes,
        n_features), columns as :meth:`predict_proba`), or of the network's logits
        (``output="logit"``, shape (N, n_outputs_, n_features)).

        The softmax's Jacobian is diag(p) − p pᵀ, the logistic function's p(1 − p).
        """
        if output not in ("proba", "logit"):
            raise ValueError(f"output must be 'proba' or 'logit', got {output!r}")
        X = self._checked(X)
        J = self.network_.input_jacobian(X)
        if output == "logit":
            return J
        p = self._probabilities(self.network_(X))
        if self.out_activation_ == "softmax":
            return p[:, :, None] * (J - np.einsum("ki,kij->kj", p, J)[:, None, :])
        Jp = sigmoid.dfa(p)[:, :, None] * J
        return Jp if self._multilabel else np.concatenate([-Jp, Jp], axis=1)

    def input_gradient(self, X, output: str = "proba") -> np.ndarray:
        """For two classes: ∇ of the probability of ``classes_[1]`` (``output="proba"``) or of
        its logit (``output="logit"``) at every row, shape (N, n_features)."""
        check_is_fitted(self, "network_")
        if self.out_activation_ != "logistic" or self._multilabel:
            raise ValueError(
                f"input_gradient needs two classes; this model has {len(self.classes_)} "
                f"{'labels' if self._multilabel else 'classes'}: use input_jacobian(X)"
            )
        return self.input_jacobian(X, output)[:, -1, :]


# --- pipelines ------------------------------------------------------------------------------


def _feature_scale(step) -> np.ndarray | float:
    """dx'/dx of a diagonal affine scaler step (a vector, or 1.0 for ``"passthrough"``)."""
    if step is None or step == "passthrough":
        return 1.0
    name = type(step).__name__
    if name in ("StandardScaler", "RobustScaler", "MaxAbsScaler"):
        scale = getattr(step, "scale_", None)
        return 1.0 if scale is None else 1.0 / np.asarray(scale)
    if name == "MinMaxScaler":
        return np.asarray(step.scale_)
    raise ValueError(
        f"cannot carry the input derivative through a {name} step: supported are "
        f"StandardScaler, RobustScaler, MaxAbsScaler, MinMaxScaler and 'passthrough'"
    )


def _through_pipeline(pipeline, X, derivative: Callable[[object, np.ndarray], np.ndarray]):
    steps = [step for _, step in pipeline.steps]
    scale: np.ndarray | float = 1.0
    Xt = X
    for step in steps[:-1]:
        scale = scale * _feature_scale(step)
        if step is not None and step != "passthrough":
            Xt = step.transform(Xt)
    return derivative(steps[-1], Xt) * scale


def pipeline_input_gradient(pipeline, X) -> np.ndarray:
    """∇ of a fitted pipeline's prediction in the units of its original features.

    ``pipeline`` ends with an :class:`MLPRegressor` (one output) or a two-class
    :class:`MLPClassifier` (the probability of ``classes_[1]``) after scaler steps; by the chain
    rule ∂f/∂x_j = (∂f/∂x'_j) · dx'_j/dx_j, with dx'_j/dx_j = 1/scale_j for ``StandardScaler``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
    X : array-like, shape (N, n_features)

    Returns
    -------
    ndarray, shape (N, n_features)
    """
    return _through_pipeline(pipeline, X, lambda est, Xt: est.input_gradient(Xt))


def pipeline_input_jacobian(pipeline, X) -> np.ndarray:
    """The Jacobian of a fitted pipeline's output (the regressor's prediction or the
    classifier's probabilities) in the units of its original features, shape
    (N, n_outputs, n_features); see :func:`pipeline_input_gradient`."""
    return _through_pipeline(pipeline, X, lambda est, Xt: est.input_jacobian(Xt))

"""Optimisers on one flat parameter vector, and learning-rate schedules.

First-order optimisers share one small interface: ``step(params, grad)`` updates the flat vector
``params`` (shape ``(p,)``) in place from the gradient ``grad`` (same shape); ``lr`` is the current
learning rate, which a schedule may change between epochs; ``reset()`` forgets the state.
:class:`LBFGS` is full-batch: :func:`mlplab.fit` hands it the whole cost function instead.

Schedules are separate: a :class:`Schedule` maps the epoch number to a factor on the base
learning rate (``constant``, ``step``, ``exponential``, ``cosine``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlplab._names import build, check_new_name, no_parameters, parse_spec, spec_number, unknown
from mlplab.errors import MlplabError
from mlplab.limits import check_bytes
from mlplab.values import check_positive, check_whole

if TYPE_CHECKING:
    import scipy.optimize


class Optimizer:
    """Base class of the first-order optimisers: one formula, its state and hyper-parameters.

    A subclass defines its update once, as the static method :meth:`update`: an elementwise
    formula written with NumPy ufuncs and arithmetic, so that the same function updates blocks
    of entries in :meth:`step` (:func:`apply_update`) and one entry at a time in the compiled
    engine (:mod:`mlplab.engine.jit` compiles that very function); the names of the arrays it keeps
    between steps (``state_names``, each of shape ``(p,)``, zero at the start); and its
    hyper-parameters in the order :meth:`update` takes them (:meth:`hyper`). A rule that needs
    the whole gradient at once (its norm, say) overrides :meth:`step` instead, and trains on the
    NumPy stepper.

    Parameters
    ----------
    lr : float
        Learning rate η > 0.
    """

    full_batch = False
    #: Arrays of shape (p,) kept between steps, attributes of the optimiser (None before a step).
    state_names: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "learning rate")
        self.t = 0
        for name in self.state_names:
            setattr(self, name, None)

    @staticmethod
    def update(p: np.ndarray, g: np.ndarray, lr: float, t: int, *state_and_hyper) -> tuple:
        """Step ``t`` (from 1) of the parameters ``p`` with gradient ``g``: returns the new
        parameters and the new state, ``(p, *state)``. The arguments after ``t`` are the state
        (as many as ``state_names``), then :meth:`hyper`. Elementwise: ``p``, ``g`` and the state
        are arrays of one shape, or single numbers."""
        raise NotImplementedError

    def hyper(self) -> tuple[float, ...]:
        """The hyper-parameters, in the order :meth:`update` takes them after the state."""
        return ()

    def state(self, params: np.ndarray) -> tuple[np.ndarray, ...]:
        """The state arrays for ``params`` (p,), created as zeros on the first call.

        Raises
        ------
        ValueError
            If the optimiser holds state for a network of another size or dtype (an optimiser
            object carries one run's moments: reuse it only to continue that run).
        """
        arrays = tuple(getattr(self, name) for name in self.state_names)
        if any(x is None for x in arrays):
            arrays = tuple(np.zeros_like(params) for _ in self.state_names)
            for name, x in zip(self.state_names, arrays, strict=True):
                setattr(self, name, x)
        for name, x in zip(self.state_names, arrays, strict=True):
            if not isinstance(x, np.ndarray) or x.shape != params.shape or x.dtype != params.dtype:
                shape = getattr(x, "shape", None)
                raise MlplabError(
                    f"this {type(self).__name__} holds its {name!r} for {shape} parameters of "
                    f"{getattr(x, 'dtype', '?')} but the network has {params.shape} of "
                    f"{params.dtype}: pass a new optimiser, or call optimizer.reset() first"
                )
        return arrays

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """Update ``params`` (p,) in place from ``grad`` (p,)."""
        state = self.state(params)
        self.t += 1
        apply_update(self.update, params, grad, self.lr, self.t, state, self.hyper())

    def reset(self) -> None:
        """Forget the internal state (step count, moments)."""
        self.t = 0
        for name in self.state_names:
            setattr(self, name, None)

    def config(self) -> dict:
        """JSON-ready description (name and hyper-parameters)."""
        return {"name": type(self).__name__.lower(), "lr": self.lr}


#: Entries per block of :func:`apply_update`: a block's arrays and the formula's temporaries
#: stay in a core's cache.
UPDATE_BLOCK = 1 << 16


def apply_update(
    update: Callable[..., tuple],
    params: np.ndarray,
    grad: np.ndarray,
    lr: float | np.ndarray,
    t: int,
    state: tuple[np.ndarray, ...],
    hyper: tuple[float, ...],
) -> None:
    """Step ``t`` of an elementwise ``update`` formula (:meth:`Optimizer.update`), in place.

    ``params``, ``grad`` and every state array have one shape ``(*lead, p)``; ``lr`` is a
    number or broadcasts against them (``(M, 1)`` rates for a stack of M networks). The formula
    runs on blocks of :data:`UPDATE_BLOCK` entries along the last axis, so that its temporaries
    stay in cache on large networks; the formula being elementwise, the result is the same as
    on the whole arrays.
    """
    arrays = (params, *state)
    for start in range(0, params.shape[-1], UPDATE_BLOCK):
        part = (..., slice(start, start + UPDATE_BLOCK))
        new = update(params[part], grad[part], lr, t, *(x[part] for x in state), *hyper)
        for array, value in zip(arrays, new, strict=True):
            array[part] = value


def _sgd(p: np.ndarray, g: np.ndarray, lr: float, t: int) -> tuple:
    return (p - lr * g,)


def _momentum(
    p: np.ndarray, g: np.ndarray, lr: float, t: int, v: np.ndarray, mu: float, nesterov: float
) -> tuple:
    v = g if t == 1 else mu * v + g
    if nesterov:
        return p - lr * (g + mu * v), v
    return p - lr * v, v


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    p ← p − η g without momentum; with momentum μ (as PyTorch's ``SGD``):
    v ← μ v + g (v = g at the first step), then p ← p − η v, or p ← p − η (g + μ v) with
    ``nesterov=True``.

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float, default 0.0
    nesterov : bool, default False
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise MlplabError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0.0:
            raise MlplabError("nesterov=True needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        # the plain step keeps nothing; with momentum the velocity v
        self.state_names = ("velocity",) if self.momentum else ()
        self.update = _momentum if self.momentum else _sgd
        super().__init__(lr)

    def hyper(self) -> tuple[float, ...]:
        return (self.momentum, float(self.nesterov)) if self.momentum else ()

    def config(self) -> dict:
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


def _adam(
    p: np.ndarray,
    g: np.ndarray,
    lr: float,
    t: int,
    m: np.ndarray,
    v: np.ndarray,
    beta1: float,
    beta2: float,
    eps: float,
) -> tuple:
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * (g * g)
    bias1 = 1.0 - beta1**t
    bias2 = 1.0 - beta2**t
    return p - (lr / bias1) * m / (np.sqrt(v) / np.sqrt(bias2) + eps), m, v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as PyTorch's ``Adam``.

    m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − η m̂ / (√v̂ + ε) with m̂ = m/(1−β₁ᵗ),
    v̂ = v/(1−β₂ᵗ).

    Parameters
    ----------
    lr : float, default 1e-3
    beta1, beta2 : float, default 0.9, 0.999
    eps : float, default 1e-8
    """

    state_names = ("m", "v")
    update = staticmethod(_adam)

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise MlplabError(f"{name} must be in [0, 1), got {beta}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_positive(eps, "eps", "1e-8")

    def hyper(self) -> tuple[float, ...]:
        return (self.beta1, self.beta2, self.eps)

    def config(self) -> dict:
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class LBFGS:
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    Parameters
    ----------
    memory : int, default 20
        Number of correction pairs kept (scipy's ``maxcor``).
    tol : float, default 1e-12
        Stop when the relative reduction of the cost falls below ``tol`` (scipy's ``ftol``)
        or the largest gradient entry below ``gtol``.
    gtol : float, optional
        The bound on the largest gradient entry (scipy's ``gtol``), where it should differ from
        ``tol``; 0 stops on ``tol`` and ``max_fun`` alone.
    max_fun : int, optional
        Most evaluations of the cost and gradient (scipy's ``maxfun``); default
        ``2 * max_iter + 20``, which the line searches of ``max_iter`` steps rarely reach.
    """

    full_batch = True

    def __init__(
        self,
        memory: int = 20,
        tol: float = 1e-12,
        max_fun: int | None = None,
        gtol: float | None = None,
    ) -> None:
        memory = check_whole(memory, "memory", 1)
        tol = check_positive(tol, "tol", "1e-12")
        if gtol is not None:
            gtol = check_positive(gtol, "gtol (or None)", "1e-5", zero=True)
        self.memory, self.tol = int(memory), float(tol)
        self.gtol = None if gtol is None else float(gtol)
        self.max_fun = check_whole(max_fun, "max_fun", 1, optional=True)
        self.lr = math.nan  # no learning rate: L-BFGS picks its step by line search

    def minimize(
        self,
        fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
        x0: np.ndarray,
        max_iter: int,
        callback: Callable[[np.ndarray], bool | None] | None = None,
    ) -> scipy.optimize.OptimizeResult:
        """Minimise ``fun`` (returning cost and gradient) from ``x0`` (p,) for ``max_iter`` steps.

        ``callback(x)`` runs after every iteration; returning True stops the run.

        Returns
        -------
        scipy.optimize.OptimizeResult
            ``x`` the final point (p,), ``nit`` iterations, ``nfev`` cost evaluations,
            ``success`` and scipy's ``message`` on why it stopped.
        """

        from scipy.optimize import minimize

        m, n = self.memory, x0.size
        check_bytes(  # scipy's work arrays: 2mn + 5n + 11m² + 8m doubles
            lambda: f"LBFGS(memory={m}) on {n} parameters",
            8.0 * (2 * m * n + 5 * n + 11 * m * m + 8 * m),
            "give a smaller memory (20 is the default and usually enough)",
        )

        def cb(intermediate_result) -> None:
            if callback is not None and callback(intermediate_result.x):
                raise StopIteration

        return minimize(
            fun,
            x0.astype(np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=cb,
            options={
                "maxiter": max_iter,
                "maxcor": self.memory,
                "ftol": self.tol,
                "gtol": self.tol if self.gtol is None else self.gtol,
                "maxfun": 2 * max_iter + 20 if self.max_fun is None else self.max_fun,
            },
        )

    def reset(self) -> None:
        """L-BFGS keeps no state between calls."""

    def config(self) -> dict:
        config = {"name": "lbfgs", "memory": self.memory, "tol": self.tol}
        for name in ("max_fun", "gtol"):
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        return config


_OPTIMIZERS: dict[str, type] = {"sgd": SGD, "adam": Adam, "lbfgs": LBFGS}

#: Built-in names accepted by :func:`get_optimizer`.
NAMES: tuple[str, ...] = tuple(sorted(_OPTIMIZERS))


def register(name: str, cls: type[Optimizer]) -> type[Optimizer]:
    """Make the optimiser class ``cls`` available by ``name`` (e.g. for ``--optimizer``).

    This is all a new optimiser needs: a subclass of :class:`Optimizer` with its ``update``,
    ``state_names`` and ``hyper`` runs on every path of :func:`mlplab.fit`, compiled where its
    ``update`` is written with NumPy arithmetic.
    """
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        raise TypeError(f"register takes a subclass of mlplab.optim.Optimizer, got {cls!r}")
    check_new_name("optimizer", name)
    if name in NAMES:
        raise MlplabError(f"{name!r} names a built-in optimizer; choose another name")
    _OPTIMIZERS[name] = cls
    return cls


def get_optimizer(
    spec: str | Optimizer | LBFGS, lr: float | None = None, **kwargs
) -> Optimizer | LBFGS:
    """Return an optimiser from a name (``"sgd"``, ``"adam"``, ``"lbfgs"``) or as it is.

    ``lr`` and ``kwargs`` go to the constructor (``lr`` is ignored by L-BFGS).

    Raises
    ------
    UnknownNameError
        For an unknown name; the message lists the valid ones.
    """
    if isinstance(spec, (Optimizer, LBFGS)):
        return spec
    name, params = parse_spec(str(spec))
    if name not in _OPTIMIZERS:
        raise unknown("optimizer", str(spec), tuple(sorted(_OPTIMIZERS)))
    no_parameters("optimizer", str(spec), params)
    cls = _OPTIMIZERS[name]
    if cls is LBFGS:
        return cls(**kwargs)
    return cls(**kwargs) if lr is None else cls(lr=lr, **kwargs)


# --- schedules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``factor(epoch)`` multiplies the base rate (epoch from 0).

    Parameters
    ----------
    name : str
    factor : callable
        ``factor(epoch: int, epochs: int) -> float`` where ``epochs`` is the run's length.
    """

    name: str
    factor: Callable[[int, int], float]

    def __call__(self, epoch: int, epochs: int) -> float:
        return self.factor(epoch, epochs)


def constant() -> Schedule:
    """The base rate throughout."""
    return Schedule("constant", lambda epoch, epochs: 1.0)


def step(every: int = 100, gamma: float = 0.5) -> Schedule:
    """Multiply the rate by ``gamma`` every ``every`` epochs."""
    if every < 1 or not 0 < gamma <= 1:
        raise MlplabError(
            f"step schedule needs every >= 1 and 0 < gamma <= 1, got ({every}, {gamma})"
        )
    return Schedule(
        f"step:{spec_number(every)},{spec_number(gamma)}",
        lambda epoch, epochs: gamma ** (epoch // int(every)),
    )


def exponential(gamma: float = 0.99) -> Schedule:
    """Multiply the rate by ``gamma`` every epoch."""
    if not 0 < gamma <= 1:
        raise MlplabError(f"exponential schedule needs 0 < gamma <= 1, got {gamma}")
    return Schedule(f"exponential:{spec_number(gamma)}", lambda epoch, epochs: gamma**epoch)


def cosine(floor: float = 0.0) -> Schedule:
    """Cosine decay from the base rate to ``floor`` × base rate over the run."""
    if not 0 <= floor <= 1:
        raise MlplabError(f"cosine schedule needs 0 <= floor <= 1, got {floor}")

    def factor(epoch: int, epochs: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))

    return Schedule(f"cosine:{spec_number(floor)}", factor)


_SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "step": step,
    "exponential": exponential,
    "cosine": cosine,
}

#: Names accepted by :func:`get_schedule`.
SCHEDULE_NAMES: tuple[str, ...] = tuple(sorted(_SCHEDULES))


def get_schedule(spec: str | Schedule | None) -> Schedule:
    """Return a schedule from ``"constant"``, ``"step:every,gamma"``, ``"exponential:gamma"``,
    ``"cosine:floor"`` (parameters optional), a :class:`Schedule`, or None (constant)."""
    if spec is None:
        return constant()
    if isinstance(spec, Schedule):
        return spec
    if not isinstance(spec, str):
        raise MlplabError(
            f"schedule must be a name such as 'cosine' or 'step:100,0.5', a Schedule or None; "
            f"got {spec!r} (a function of the epoch goes in Schedule(name, factor))"
        )
    name, params = parse_spec(spec)
    if name not in _SCHEDULES:
        raise unknown("schedule", spec, SCHEDULE_NAMES)
    return build("schedule", spec, _SCHEDULES[name], params)

"""Training a network on a problem's loss: Adam, then L-BFGS, then Levenberg–Marquardt.

The loss is C(θ) = Σ_terms w_t (1/N_t) Σ_i r_i(θ)²: the residual at collocation points and each
condition at its points. Its gradient comes from reverse mode through the forward recursion
(:func:`mlplab.second_order.residual_loss`); Levenberg–Marquardt solves
(JᵀJ + μ I) Δθ = Jᵀr with the exact residual Jacobian J (:func:`normal_equations`), each
residual scaled by √(w_t / N_t).

The record is a :class:`mlplab.History`, one entry per step (``lr`` is nan for L-BFGS and LM),
and the divergence guard of :func:`mlplab.fit`: a non-finite loss restores the last finite
parameters and sets ``status = "diverged"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mlplab import second_order
from mlplab.errors import MlplabError
from mlplab.limits import check_bytes
from mlplab.network import MLP
from mlplab.optim import LBFGS, Adam
from mlplab.pde.problem import Term
from mlplab.train import History, _Watch, warn_divergence
from mlplab.values import check_positive, check_whole


def loss(net: MLP, terms: Sequence[Term]) -> tuple[float, np.ndarray]:
    """C(θ) and ∂C/∂θ (p,)."""
    value, g = 0.0, np.zeros(net.num_parameters, dtype=net.dtype)
    for t in terms:
        v, gt = second_order.residual_loss(net, t.X, t.ops, t.residual, weight=t.weight)
        value += v
        g += gt
    return value, g


def loss_value(net: MLP, terms: Sequence[Term]) -> float:
    """C(θ) alone: one forward sweep per term, in blocks of rows as the gradient's."""
    return sum(
        second_order.residual_cost(net, t.X, t.ops, t.residual, weight=t.weight) for t in terms
    )


def normal_equations(net: MLP, terms: Sequence[Term]) -> tuple[float, np.ndarray, np.ndarray]:
    """C, JᵀJ (p, p) and Jᵀr (p,) of the scaled residuals (so that ∂C/∂θ = 2 Jᵀr).

    Raises
    ------
    SizeError
        Where JᵀJ and its working copies would take more memory than mlplab allows.
    """
    _check_normal_equations(net)
    p = net.num_parameters
    C, A, b = 0.0, np.zeros((p, p)), np.zeros(p)
    for t in terms:
        rr, JtJ, Jtr = second_order.normal_equations(net, t.X, t.ops, t.residual, t.scale)
        C, b = C + rr, b + Jtr
        A += JtJ
    return C, A, b


def _check_normal_equations(net: MLP) -> None:
    """Refuse Levenberg–Marquardt on a network whose p × p matrix JᵀJ, with the two working
    copies beside it (a term's own JᵀJ and its product, or the solve's factor), would take
    more memory than :func:`mlplab.limits.check_bytes` allows.

    Raises
    ------
    SizeError
    """
    p = net.num_parameters
    check_bytes(
        lambda: (
            f"Levenberg–Marquardt on a network of {p} parameters (layer widths {net.sizes}: "
            f"the {p} × {p} matrix JᵀJ and two working copies)"
        ),
        3.0 * 8 * p * p,
        "use a network with fewer parameters for LM, or Schedule(lm=0) to train with Adam "
        "and L-BFGS alone (or raise MLPLAB_MAX_BYTES)",
    )


@dataclass(frozen=True)
class Schedule:
    """How long each solver runs, in steps (0 skips it); checked when it is made.

    Attributes
    ----------
    adam : int
        Adam steps, a whole number >= 0.
    lr : float
        Adam's learning rate, a finite number > 0.
    lbfgs : int
        L-BFGS steps, a whole number >= 0.
    lm : int
        Levenberg–Marquardt iterations, a whole number >= 0.
    mu : float
        LM's initial damping μ, a finite number > 0.

    Raises
    ------
    MlplabError
        For any other value, naming the field.
    """

    adam: int = 0
    lr: float = 1e-3
    lbfgs: int = 0
    lm: int = 0
    mu: float = 1e-3

    def __post_init__(self) -> None:
        checked = {
            name: check_whole(getattr(self, name), f"Schedule {name} (a number of steps)", 0)
            for name in ("adam", "lbfgs", "lm")
        }
        checked["lr"] = check_positive(self.lr, "Schedule lr (Adam's learning rate)")
        checked["mu"] = check_positive(self.mu, "Schedule mu (Levenberg–Marquardt's damping)")
        for name, value in checked.items():  # frozen: set as the dataclass itself does
            object.__setattr__(self, name, value)


def solve(
    net: MLP,
    terms: Sequence[Term],
    schedule: Schedule,
    callback: Callable[[int, History, MLP], bool | None] | None = None,
    phases: list[tuple[str, int]] | None = None,
) -> History:
    """Minimise the loss of ``terms`` over the parameters of ``net`` (in place).

    Parameters
    ----------
    net : MLP
    terms : sequence of Term
        From :meth:`mlplab.pde.Problem.terms`.
    schedule : Schedule
    callback : callable, optional
        ``callback(step, history, net)`` after every step; True stops the run.
    phases : list, optional
        Receives ``(solver, steps taken)`` for Adam, L-BFGS and LM, in order.

    Returns
    -------
    History
        ``train_loss`` holds C after each step; ``status`` says how the run ended.
    """
    if net.sizes[-1] != 1:
        raise MlplabError(
            f"a problem's solution u is one number per point, but the network has "
            f"{net.sizes[-1]} outputs; build it with sizes [..., 1]"
        )
    if schedule.lm:  # before the other solvers run: LM's JᵀJ must fit
        _check_normal_equations(net)
    history = History()
    watch = _Watch(net, history, None, False)
    start = time.perf_counter()

    def record(value: float, lr: float) -> bool:
        history.train_loss.append(float(value))
        history.lr.append(lr)
        history.steps += 1
        if watch.stop(history.epochs - 1):
            return True
        if callback is not None and callback(history.epochs, history, net):
            return watch.by_callback()
        return False

    phases = [] if phases is None else phases
    # One BLAS thread: the products are small or skinny, and a threaded BLAS stalls on a busy
    # machine; a diverging run is caught by the guard, so overflow is not an error here.
    with threadpool_limits(1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        for name, run in [("Adam", _adam), ("L-BFGS", _lbfgs), ("LM", _lm)]:
            before = history.epochs
            stopped = run(net, terms, schedule, record, history)
            phases.append((name, history.epochs - before))
            if stopped or history.status != "running":
                break
    history.seconds = time.perf_counter() - start
    if history.status == "running" and history.train_loss:
        history.status = "completed"
        history.message = (
            f"completed after {history.steps} steps, loss {history.train_loss[-1]:.3e}"
        )
    if history.status == "diverged":
        warn_divergence(history.message)
    watch.finish()
    return history


def _adam(net, terms, schedule: Schedule, record, history: History) -> bool:
    opt = Adam(lr=schedule.lr)
    for _ in range(schedule.adam):
        value, g = loss(net, terms)
        if not math.isfinite(value):
            return record(value, opt.lr)
        opt.step(net.params, g)
        if record(value, opt.lr):
            return True
    return False


def _lbfgs(net, terms, schedule: Schedule, record, history: History) -> bool:
    if schedule.lbfgs <= 0:
        return False
    work = net.astype("float64")
    last: dict = {}

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        work.params[...] = theta
        value, g = loss(work, terms)
        last["theta"], last["value"] = theta.copy(), value
        return value, g

    def callback(theta: np.ndarray) -> bool:
        net.params[...] = theta
        value = last["value"] if np.array_equal(theta, last["theta"]) else loss_value(net, terms)
        return record(value, math.nan)

    stopped = {"flag": False}

    def cb(theta: np.ndarray) -> bool:
        stopped["flag"] = callback(theta)
        return stopped["flag"]

    LBFGS(memory=50, tol=1e-15).minimize(fun, work.params.copy(), schedule.lbfgs, cb)
    return stopped["flag"]


def _lm(net, terms, schedule: Schedule, record, history: History) -> bool:
    """Levenberg–Marquardt: θ ← θ − (JᵀJ + μ I)⁻¹ Jᵀr; μ shrinks after a step that lowers C
    and grows until one does."""
    mu = schedule.mu
    for _ in range(schedule.lm):
        value, A, b = normal_equations(net, terms)
        theta, diagonal = net.params.copy(), A.diagonal().copy()
        while True:
            A[np.diag_indices_from(A)] = diagonal + mu  # JᵀJ + μI in place: no second p × p
            try:
                step = np.linalg.solve(A, b)
            except np.linalg.LinAlgError:
                step = None
            if step is not None and np.all(np.isfinite(step)):
                net.params[...] = theta - step
                trial = loss_value(net, terms)
                if trial < value:
                    mu = max(mu / 3.0, 1e-12)
                    break
            mu *= 4.0
            if mu > 1e12:
                net.params[...] = theta
                history.status = "converged"
                history.message = (
                    f"Levenberg–Marquardt found no step that lowers the loss {value:.3e} "
                    f"(damping μ > 1e12) after {history.epochs} steps"
                )
                return True
        if record(trial, math.nan):
            return True
    return False

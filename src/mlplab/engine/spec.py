"""Which configurations the fast engine can run, in the codes its kernels understand."""

from __future__ import annotations

import numpy as np

from mlplab import losses
from mlplab.activations import Activation, get_activation
from mlplab.optim import SGD, Adam

_BUILTIN_LOSSES = (losses.mse, losses.half_sse, losses.cross_entropy, losses.bce, losses.bce_logits)


def activation_code(act: Activation) -> tuple[str, float] | None:
    """``(family, alpha)`` of a built-in activation, or None for a user-defined one.

    The family is ``"sigmoid"``, ``"tanh"``, ``"leaky_relu"`` (ReLU has alpha 0), ``"elu"``,
    ``"softplus"``, ``"sin"``, ``"gelu"`` or ``"identity"``. An activation counts as built-in only
    when its functions are the registry's own, so a user-defined one with a built-in name is
    never mistaken for it.
    """
    try:
        ref = get_activation(act.name)
    except ValueError:
        return None
    if not (_same(ref.f, act.f) and _same(ref.df, act.df)):
        return None
    name = act.name.split(":")[0]
    if name in ("relu", "leaky_relu"):
        return "leaky_relu", _closure_alpha(act)
    if name == "elu":
        return "elu", _closure_alpha(act)
    return name, 0.0


def _same(f, g) -> bool:
    """The same function, or two closures of the same function (a parameterised activation)."""
    return f is g or getattr(f, "__code__", None) is getattr(g, "__code__", False)


def _closure_alpha(act: Activation) -> float:
    """The parameter α that a parameterised activation's closure holds."""
    names = act.f.__code__.co_freevars
    return float(act.f.__closure__[names.index("alpha")].cell_contents)


def unsupported_reason(net, loss, optimizer) -> str | None:
    """Why the fast engine cannot train this configuration, or None when it can."""
    if type(optimizer) not in (SGD, Adam):
        return f"the fast engine runs SGD and Adam, not {type(optimizer).__name__}"
    if not any(loss is known for known in _BUILTIN_LOSSES):
        return f"the fast engine runs the built-in losses, not a user-defined {loss.name!r}"
    for act in net.activations:
        if activation_code(act) is None:
            return f"the fast engine runs the built-in activations, not a user-defined {act.name!r}"
    return None


def compiled_fits(net, loss) -> bool:
    """Whether the compiled small-network kernel applies (narrow layers, squared-error loss)."""
    return loss in (losses.mse, losses.half_sse) and max(net.sizes[1:-1] or [1]) <= COMPILED_WIDTH


#: Activation families the compiled loop with BLAS products runs (their σ and σ' compile to
#: vectorised loops); networks with others train on the dense NumPy stepper.
BLAS_LOOP_ACTIVATIONS = ("sigmoid", "leaky_relu", "identity")


def blas_loop_fits(net, loss) -> bool:
    """Whether the compiled loop with BLAS products applies (:mod:`mlplab.engine.blas_loop`):
    a squared-error loss and activations from :data:`BLAS_LOOP_ACTIVATIONS` only."""
    return loss in (losses.mse, losses.half_sse) and all(
        (activation_code(act) or ("",))[0] in BLAS_LOOP_ACTIVATIONS for act in net.activations
    )


#: Widest hidden layer that the compiled scalar kernel trains; wider ones go to BLAS.
COMPILED_WIDTH = 16


def optimizer_code(optimizer) -> tuple[int, np.ndarray]:
    """The kernels' optimiser code and hyper-parameters (momentum, β₁, β₂, ε)."""
    from mlplab.engine.kernels import OPT_ADAM, OPT_MOMENTUM, OPT_NESTEROV, OPT_SGD

    if isinstance(optimizer, Adam):
        return OPT_ADAM, np.array([0.0, optimizer.beta1, optimizer.beta2, optimizer.eps])
    code = (
        OPT_SGD if optimizer.momentum == 0 else OPT_NESTEROV if optimizer.nesterov else OPT_MOMENTUM
    )
    return code, np.array([optimizer.momentum, 0.0, 0.0, 0.0])


def optimizer_state(optimizer, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the optimiser's state, shaped like ``params``, to continue from.

    Adam's moments m and v; SGD's velocity (as ``m``) when it has momentum. State the
    optimiser does not keep is an empty array of shape ``(*lead, 0)``; state it has not yet
    created (no step taken) starts at zero, which is what its first step assumes.
    """
    empty = np.zeros((*params.shape[:-1], 0), params.dtype)
    if isinstance(optimizer, Adam):
        if optimizer.m is None or params.ndim > 1:
            return np.zeros_like(params), np.zeros_like(params)
        return optimizer.m.copy(), optimizer.v.copy()
    if optimizer.momentum == 0:
        return empty, empty
    if optimizer.velocity is None or params.ndim > 1:
        return np.zeros_like(params), empty
    return optimizer.velocity.copy(), empty

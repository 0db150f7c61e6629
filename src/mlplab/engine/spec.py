"""Which configurations the fast engine can run, in the codes its kernels understand."""

from __future__ import annotations

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


#: Widest hidden layer that the compiled scalar kernel trains; wider ones go to BLAS.
COMPILED_WIDTH = 16

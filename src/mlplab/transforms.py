"""Exact rewrites of a network into another with the same function.

The sigmoid and tanh are affine images of each other:

    σ(z) = ½ tanh(z/2) + ½        and        tanh(z) = 2 σ(2z) − 1.

So a hidden layer a = σ(W a_prev + b) can be replaced by t = tanh(W̃ a_prev + b̃) with
W̃ = W/2, b̃ = b/2, and a = ½ t + ½; the next layer absorbs the affine map,
W' a + b' = (W'/2) t + (b' + ½ W' 1). In general, if σ_old(z) = α σ_new(β z) + γ, layer l gets
W̃ = β W, b̃ = β b (after absorbing the previous layer's map) and layer l+1 gets
W' ← α W', b' ← b' + γ W' 1. The output layer keeps its own activation, so the twin has exactly
the same outputs (up to rounding, about 1e-15 relative).
"""

from __future__ import annotations

from mlplab.activations import get_activation
from mlplab.network import MLP


def _swap(net: MLP, old: str, new: str, alpha: float, beta: float, gamma: float) -> MLP:
    """Replace every hidden ``old`` activation by ``new`` where old(z) = α new(βz) + γ."""
    twin = net.copy()
    acts = list(net.activations)
    # (α, γ) of the previous layer's map a_old = α a_new + γ, or None when unchanged.
    prev: tuple[float, float] | None = None
    for i, (W, b) in enumerate(zip(twin.weights, twin.biases, strict=True)):
        if prev is not None:
            a, g = prev
            b += g * W.sum(axis=1)  # b' + γ W' 1, with the original W'
            W *= a
        hidden = i < len(acts) - 1
        if hidden and acts[i].name == old:
            W *= beta
            b *= beta
            acts[i] = get_activation(new)
            prev = (alpha, gamma)
        else:
            prev = None
    twin.activations = acts
    return twin


def sigmoid_to_tanh(net: MLP) -> MLP:
    """A copy of ``net`` with every hidden sigmoid layer replaced by tanh, same function.

    Uses σ(z) = ½ tanh(z/2) + ½: a sigmoid layer's W, b are halved, and the next layer's
    weights W' become W'/2 with biases b' + ½ W' 1. The output layer keeps its activation.

    Parameters
    ----------
    net : MLP

    Returns
    -------
    MLP
        A new network; ``net`` is not changed.
    """
    return _swap(net, "sigmoid", "tanh", 0.5, 0.5, 0.5)


def tanh_to_sigmoid(net: MLP) -> MLP:
    """A copy of ``net`` with every hidden tanh layer replaced by sigmoid, same function.

    Uses tanh(z) = 2σ(2z) − 1: a tanh layer's W, b are doubled, and the next layer's weights
    W' become 2W' with biases b' − W' 1. The output layer keeps its activation.
    """
    return _swap(net, "tanh", "sigmoid", 2.0, 2.0, -1.0)

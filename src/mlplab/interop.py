"""Moving networks between mlplab, PyTorch, scikit-learn and ONNX.

- :func:`to_torch` / :func:`from_torch`: an :class:`~mlplab.MLP` as a ``torch.nn.Sequential``
  of ``Linear`` layers and activation modules, and back;
- :func:`from_sklearn`: a fitted scikit-learn ``MLPRegressor`` / ``MLPClassifier`` as an
  :class:`~mlplab.MLP` (its input gradient, trace and diagnostics then work on it);
- :func:`to_onnx`: an ONNX model file (``pip install 'mlplab[onnx]'``).

Weights keep the paper's orientation where the target does: ``torch.nn.Linear.weight`` is
W^[l], shape (n_l, n_{l-1}), as mlplab's; scikit-learn's ``coefs_[i]`` is its transpose. PyTorch
and ONNX are imported only when these functions run. A layer or activation that has no
counterpart raises :class:`InteropError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlplab._names import parse_spec
from mlplab.activations import Activation, get_activation
from mlplab.errors import MlplabError
from mlplab.io import atomic_write
from mlplab.limits import check_bytes
from mlplab.network import MLP

__all__ = ["InteropError", "from_sklearn", "from_torch", "to_onnx", "to_torch"]


class InteropError(MlplabError):
    """A network, layer or activation that the target format cannot hold."""


def _name(act: Activation) -> tuple[str, float | None]:
    """An mlplab activation's registry name and parameter (α of leaky ReLU / ELU)."""
    name, params = parse_spec(act.name)
    if name in ("leaky_relu", "elu"):
        return name, params[0] if params else (0.01 if name == "leaky_relu" else 1.0)
    return name, None


def _builtin(act: Activation) -> bool:
    """Whether ``act`` is the registry's activation of its name (not a user-defined one)."""
    try:
        same = get_activation(act.name)
    except ValueError:
        return False
    return same == act or (same.name == act.name and _name(act)[0] in ("leaky_relu", "elu"))


def _unsupported(act: Activation, target: str, valid: tuple[str, ...]) -> InteropError:
    return InteropError(
        f"activation {act.name!r} has no {target} counterpart; supported are: {', '.join(valid)}"
    )


# --- PyTorch ------------------------------------------------------------------------------------

_TORCH_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
                "sin")  # fmt: skip

#: Beyond this input torch's Softplus returns x itself; log(1 + e^40) − 40 ≈ 4e-18, below
#: float64's rounding of 40, so the module equals mlplab's softplus in float64 and float32.
_SOFTPLUS_THRESHOLD = 40.0


def _torch_sin():
    """``torch.nn.Module`` computing sin elementwise (torch has the function, not a module)."""
    import torch

    class Sin(torch.nn.Module):
        """σ(z) = sin z."""

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.sin(z)

    return Sin()


def _torch_activation(act: Activation):
    import torch.nn as nn

    name, alpha = _name(act) if _builtin(act) else (None, None)
    if name == "leaky_relu":
        return nn.LeakyReLU(alpha)
    if name == "elu":
        return nn.ELU(alpha)
    modules = {
        "identity": nn.Identity,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "softplus": lambda: nn.Softplus(beta=1.0, threshold=_SOFTPLUS_THRESHOLD),
        "gelu": nn.GELU,
        "sin": _torch_sin,
    }
    if name not in modules:
        raise _unsupported(act, "PyTorch", _TORCH_NAMES)
    return modules[name]()


def to_torch(net: MLP):
    """``torch.nn.Sequential(Linear, σ, Linear, σ, ...)`` computing the same function as ``net``.

    Each ``Linear(n_{l-1}, n_l)`` holds W^[l] as its ``weight`` and b^[l] as its ``bias``, in
    ``net``'s dtype; an identity activation adds no module.

    Raises
    ------
    InteropError
        For a user-defined activation.
    """
    import torch

    layers = []
    for W, b, act in zip(net.weights, net.biases, net.activations, strict=True):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=getattr(torch, net.dtype.name))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(W)))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(linear)
        module = _torch_activation(act)
        if not isinstance(module, torch.nn.Identity):
            layers.append(module)
    return torch.nn.Sequential(*layers)


def _from_torch_activation(module) -> str:
    import torch.nn as nn

    kind = type(module).__name__
    if isinstance(module, nn.LeakyReLU):
        return f"leaky_relu:{module.negative_slope!r}"
    if isinstance(module, nn.ELU):
        return f"elu:{module.alpha!r}"
    if isinstance(module, nn.Softplus) and module.beta == 1:
        return "softplus"
    if isinstance(module, nn.GELU) and module.approximate == "none":
        return "gelu"
    simple = {nn.Identity: "identity", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
    for cls, name in simple.items():
        if type(module) is cls:
            return name
    if kind == "Sin":
        return "sin"
    raise InteropError(
        f"cannot convert the layer {kind} to mlplab: from_torch reads Linear layers and the "
        f"activations Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus (beta=1), "
        f"GELU (approximate='none') and the Sin module of to_torch"
    )


def from_torch(module) -> MLP:
    """An :class:`~mlplab.MLP` from a ``torch.nn.Sequential`` of ``Linear`` layers, each
    followed by at most one supported activation module (none means identity).

    The network takes the dtype of the first layer's weight (float32 or float64).

    Raises
    ------
    InteropError
        For any other module, an activation before the first ``Linear`` or two in a row,
        widths that do not chain, or a NaN or inf weight or bias.
    """
    import torch.nn as nn

    if not isinstance(module, nn.Sequential):
        raise InteropError(
            f"from_torch reads a torch.nn.Sequential of Linear layers and activations, "
            f"got {type(module).__name__}"
        )
    tensors = list(module.parameters())
    if any(t.is_meta for t in tensors):
        raise InteropError(
            "the module's weights are on PyTorch's meta device and hold no values; "
            "initialise or load them (module.to_empty(device='cpu') and an init) first"
        )
    check_bytes(  # the copies out of PyTorch, then the network's own parameters
        f"from_torch of a module with {sum(t.numel() for t in tensors)} parameters",
        2 * sum(t.numel() * t.element_size() for t in tensors),
    )
    weights, biases, acts = [], [], []  # acts[i]: the activation after Linear i, or None
    for layer in module:
        if isinstance(layer, nn.Linear):
            W = layer.weight.detach().cpu().numpy()
            if weights and W.shape[1] != weights[-1].shape[0]:
                raise InteropError(
                    f"Linear layer {len(weights) + 1} takes {W.shape[1]} inputs but the layer "
                    f"before gives {weights[-1].shape[0]}"
                )
            weights.append(W)
            b = layer.bias
            biases.append(np.zeros(W.shape[0], W.dtype) if b is None else b.detach().cpu().numpy())
            acts.append(None)
            continue
        name = _from_torch_activation(layer)
        if not weights or acts[-1] is not None:
            raise InteropError(
                f"{type(layer).__name__} must follow a Linear layer (at most one activation "
                f"after each)"
            )
        acts[-1] = name
    if not weights:
        raise InteropError("the Sequential holds no Linear layer")
    return _network(weights, biases, [a or "identity" for a in acts], weights[0].dtype)


def _network(weights, biases, activations, dtype) -> MLP:
    """An :class:`MLP` with the given W^[l], b^[l] and activation names.

    Raises
    ------
    InteropError
        For a NaN or inf weight or bias: the network would compute NaN everywhere.
    """
    for k, (W, b) in enumerate(zip(weights, biases, strict=True), start=2):
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise InteropError(
                f"W^[{k}] or b^[{k}] holds NaN or inf values, so the network would compute "
                f"NaN: give a model with finite weights and biases"
            )
    sizes = [weights[0].shape[1], *(W.shape[0] for W in weights)]
    net = MLP(sizes, activation=list(activations), output_activation=None,
              dtype=np.dtype(dtype).name)  # fmt: skip
    for W, b, W_new, b_new in zip(net.weights, net.biases, weights, biases, strict=True):
        W[...] = W_new
        b[...] = b_new
    return net


# --- scikit-learn -------------------------------------------------------------------------------

_SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                        "relu": "relu"}  # fmt: skip


def _sklearn_activation(name: str) -> str:
    if name not in _SKLEARN_ACTIVATIONS:
        raise InteropError(
            f"scikit-learn's activation {name!r} has no mlplab counterpart; supported are: "
            f"{', '.join(_SKLEARN_ACTIVATIONS)} (and softmax with logits=True)"
        )
    return _SKLEARN_ACTIVATIONS[name]


def from_sklearn(estimator, logits: bool = False) -> MLP:
    """An :class:`~mlplab.MLP` computing a fitted scikit-learn ``MLPRegressor`` or
    ``MLPClassifier``.

    W^[l] = ``coefs_[l-2].T`` and b^[l] = ``intercepts_[l-2]``; the hidden activation and the
    output one (``out_activation_``) map to mlplab's (``logistic`` is ``sigmoid``). The
    network's output equals ``predict`` of a regressor and, for a classifier with a logistic
    output, the probability of the positive class(es). The softmax output of a multiclass
    classifier is not elementwise: pass ``logits=True`` for a network that returns the
    logits (``mlplab.losses.softmax`` of them is ``predict_proba``).

    Parameters
    ----------
    estimator : sklearn.neural_network.MLPRegressor or MLPClassifier, fitted
    logits : bool, default False
        Give the output layer the identity (the pre-activation z^[L]) instead of
        ``out_activation_``.

    Raises
    ------
    InteropError
        For an unfitted estimator, a softmax output without ``logits=True``, or a NaN or inf
        weight or bias.
    """
    coefs = getattr(estimator, "coefs_", None)
    if coefs is None:
        raise InteropError(
            f"from_sklearn needs a fitted MLPRegressor or MLPClassifier (with coefs_), got "
            f"{type(estimator).__name__}"
        )
    hidden = _sklearn_activation(estimator.activation)
    out = estimator.out_activation_
    if logits:
        output = "identity"
    elif out == "softmax":
        raise InteropError(
            "the softmax output of a multiclass MLPClassifier is not an elementwise activation; "
            "use from_sklearn(estimator, logits=True) and mlplab.losses.softmax on the output"
        )
    else:
        output = _sklearn_activation(out)
    acts = [hidden] * (len(coefs) - 1) + [output]
    return _network([c.T for c in coefs], estimator.intercepts_, acts, coefs[0].dtype)


# --- ONNX ---------------------------------------------------------------------------------------

_ONNX_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
               "sin")  # fmt: skip
#: ONNX operator set of the written models (Gemm, the activations and Erf are all older).
ONNX_OPSET = 17


def _onnx_activation(act: Activation, x: str, y: str, dtype, nodes: list, inits: list) -> None:
    """Append the nodes computing ``y = σ(x)``.

    Leaky ReLU, ELU and softplus are composed of operators that onnxruntime runs in float32
    and float64 (its LeakyRelu takes α in float32, and it has no float64 Elu or Softplus):
    with r = max(x, 0) and m = x − r = min(x, 0), leaky ReLU is r + αm, ELU r + α(e^m − 1),
    softplus r + log(1 + e^(−|x|)). GELU is ½ x (1 + erf(x/√2)); onnxruntime has no float64
    Erf, so a float64 GELU model needs another runtime.
    """
    from onnx import helper, numpy_helper

    def const(tag: str, value: float) -> str:
        name = f"{y}_{tag}"
        inits.append(numpy_helper.from_array(np.array(value, dtype), name))
        return name

    def node(op: str, inputs: list[str], tag: str) -> str:
        out = y if tag == "" else f"{y}_{tag}"
        nodes.append(helper.make_node(op, inputs, [out]))
        return out

    name, alpha = _name(act) if _builtin(act) else (None, None)
    single = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "sin": "Sin",
              "identity": "Identity"}  # fmt: skip
    if name in single:
        node(single[name], [x], "")
    elif name in ("leaky_relu", "elu", "softplus"):
        r = node("Relu", [x], "r")
        if name == "softplus":
            e = node("Exp", [node("Neg", [node("Abs", [x], "abs")], "nabs")], "e")
            tail = node("Log", [node("Add", [e, const("one", 1.0)], "1pe")], "log")
        else:
            m = node("Sub", [x, r], "m")
            if name == "elu":
                m = node("Sub", [node("Exp", [m], "e"), const("one", 1.0)], "em1")
            tail = node("Mul", [m, const("alpha", alpha)], "am")
        node("Add", [r, tail], "")
    elif name == "gelu":
        s = node("Div", [x, const("sqrt2", np.sqrt(2.0))], "s")
        one_plus = node("Add", [node("Erf", [s], "erf"), const("one", 1.0)], "1p")
        node("Mul", [node("Mul", [x, one_plus], "x1p"), const("half", 0.5)], "")
    else:
        raise _unsupported(act, "ONNX", _ONNX_NAMES)


def to_onnx(net: MLP, path: str | Path, dtype: str | None = None) -> Path:
    """Write ``net`` as an ONNX model: input ``"x"`` of shape (N, n_1), output ``"y"`` of
    shape (N, n_L), one ``Gemm`` (x W^[l]ᵀ + b^[l]) and the activation per layer.

    Parameters
    ----------
    net : MLP
    path : str or Path
        Written atomically.
    dtype : {"float32", "float64"}, optional
        Element type of the model (default the network's).

    Returns
    -------
    Path

    Raises
    ------
    InteropError
        For a user-defined activation.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dt = net.dtype if dtype is None else net.astype(dtype).dtype
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}[dt]
    nodes: list = []
    inits: list = []
    x = "x"
    for i, (W, b, act) in enumerate(zip(net.weights, net.biases, net.activations, strict=True)):
        l = i + 2  # noqa: E741  the paper's layer number
        inits += [numpy_helper.from_array(np.asarray(W, dt), f"W{l}"),
                  numpy_helper.from_array(np.asarray(b, dt), f"b{l}")]  # fmt: skip
        z, a = f"z{l}", ("y" if l == net.L else f"a{l}")
        nodes.append(helper.make_node("Gemm", [x, f"W{l}", f"b{l}"], [z], transB=1))
        _onnx_activation(act, z, a, dt, nodes, inits)
        x = a
    graph = helper.make_graph(
        nodes,
        "mlplab_mlp",
        [helper.make_tensor_value_info("x", elem, ["N", net.sizes[0]])],
        [helper.make_tensor_value_info("y", elem, ["N", net.sizes[-1]])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="mlplab"
    )
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    return atomic_write(path, lambda fh: fh.write(data), mode="wb")

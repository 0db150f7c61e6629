"""NumPy/BLAS training steps with preallocated buffers, for one network or a stack of them.

Wide layers are arithmetic-bound: BLAS matrix products and NumPy's vectorised ufuncs win there.
:class:`DenseStepper` runs the paper's forward pass and backprop with every array preallocated
and every operation writing into it (``out=``), on parameters with optional leading axes: a flat
vector of shape ``(p,)`` for one network, or ``(M, p)`` for M networks of one architecture
trained together (an ensemble), where each product is a stacked ``matmul``.

Shapes (``lead`` is ``()`` or ``(M,)``; a batch has B rows): a^[l] and z^[l] are
``(*lead, B, n_l)``, W^[l] is ``(*lead, n_l, n_{l-1})``, b^[l] is ``(*lead, n_l)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mlplab.activations import Activation
from mlplab.engine import fused
from mlplab.engine.kernels import update_rows
from mlplab.engine.spec import activation_code, optimizer_code, optimizer_state
from mlplab.engine.vsigmoid import sigmoid_flat
from mlplab.engine.vtanh import tanh_flat
from mlplab.losses import Loss
from mlplab.network import MLP
from mlplab.optim import Optimizer

# --- elementwise kernels writing into buffers ----------------------------------------------------

ActInto = Callable[[np.ndarray, np.ndarray], None]
#: ``times_df(z, a, out, scratch)``: ``out *= σ'(z)`` given ``a = σ(z)``; ``scratch`` is a spare
#: array of ``out``'s shape. Arrays are C-contiguous.
TimesDeriv = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def _sigmoid_into(z: np.ndarray, a: np.ndarray) -> None:
    sigmoid_flat(z.reshape(-1), a.reshape(-1), z.size)


def _times_dsigmoid(z: np.ndarray, a: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    fused.times_dsigmoid(out.reshape(-1), a.reshape(-1), a.dtype.type(1.0))


def _tanh_into(z: np.ndarray, a: np.ndarray) -> None:
    tanh_flat(z.reshape(-1), a.reshape(-1))


def _times_dtanh(z: np.ndarray, a: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    fused.times_dtanh(out.reshape(-1), a.reshape(-1), a.dtype.type(1.0))


def _identity_into(z: np.ndarray, a: np.ndarray) -> None:
    np.copyto(a, z)


def _times_one(z: np.ndarray, a: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """σ' = 1: nothing to do."""


def _leaky_relu(alpha: float) -> tuple[ActInto, TimesDeriv]:
    def f(z: np.ndarray, a: np.ndarray) -> None:
        np.multiply(z, alpha, out=a)
        np.maximum(z, a, out=a) if alpha <= 1.0 else np.minimum(z, a, out=a)

    def times_df(z: np.ndarray, a: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
        np.greater(z, 0.0, out=scratch)
        if alpha != 0.0:
            scratch *= 1.0 - alpha
            scratch += alpha
        out *= scratch

    return f, times_df


def _generic(act: Activation) -> tuple[ActInto, TimesDeriv]:
    def f(z: np.ndarray, a: np.ndarray) -> None:
        a[...] = act.f(z)

    def times_df(z: np.ndarray, a: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
        out *= act.df(z)

    return f, times_df


def elementwise(act: Activation, code: str, alpha: float) -> tuple[ActInto, TimesDeriv]:
    """In-place σ and "times σ'" for an activation (``code`` from :func:`mlplab.engine.spec`)."""
    table = {
        "sigmoid": (_sigmoid_into, _times_dsigmoid),
        "tanh": (_tanh_into, _times_dtanh),
        "identity": (_identity_into, _times_one),
    }
    if code in table:
        return table[code]
    if code == "leaky_relu" and alpha <= 1.0:
        return _leaky_relu(alpha)
    return _generic(act)


def _stack(x: np.ndarray) -> np.ndarray:
    """A batch array ``(*lead, B, n)`` as ``(M, B, n)`` (a view)."""
    return x.reshape(-1, *x.shape[-2:])


def _rows(x: np.ndarray) -> np.ndarray:
    """A per-layer array ``(*lead, n)`` as ``(M, n)`` (a view; n may be 0)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


# --- buffers and steps ---------------------------------------------------------------------------


class _Buffers:
    """a^[l], z^[l], δ^[l] and a scratch array per layer for ``rows`` points."""

    def __init__(self, sizes: list[int], lead: tuple[int, ...], rows: int, dtype: np.dtype):
        self.a = [np.empty((*lead, rows, n), dtype) for n in sizes]
        self.z = [np.empty((*lead, rows, n), dtype) for n in sizes[1:]]
        self.delta = [np.empty((*lead, rows, n), dtype) for n in sizes[1:]]
        self.deriv = [np.empty((*lead, rows, n), dtype) for n in sizes[1:]]


class DenseStepper:
    """Forward pass, backprop and optimiser steps on preallocated buffers.

    Parameters
    ----------
    net : MLP
        Gives the architecture and activations (its parameters are not used).
    params : ndarray, shape (*lead, p)
        The flat parameters to train, updated in place.
    loss : Loss
        ``mse`` and ``half_sse`` run in place (and per model for a stack); any other loss is
        evaluated with its own ``value`` / ``grad`` (single network only).
    optimizer : SGD or Adam
        Its hyper-parameters; learning rates come per call (one per model for a stack).
    """

    def __init__(self, net: MLP, params: np.ndarray, loss: Loss, optimizer: Optimizer) -> None:
        self.sizes = net.sizes
        self.params = params
        self.lead = params.shape[:-1]
        self.dtype = params.dtype
        self.loss = loss
        self.optimizer = optimizer
        self.weights, self.biases = net.unflatten(params)
        self.grad = np.zeros_like(params)
        self.gW, self.gb = net.unflatten(self.grad)
        self.ops = [elementwise(act, *activation_code(act)) for act in net.activations]
        self.opt_code, self.hyper = optimizer_code(optimizer)
        self.m, self.v = optimizer_state(optimizer, params)
        # (rows, p) views of the flat vectors, one row per model, for the update kernel
        self._flat = [_rows(x) for x in (params, self.grad, self.m, self.v)]
        self.t = 0
        self._buffers: dict[int, _Buffers] = {}

    def buffers(self, rows: int) -> _Buffers:
        """The (cached) buffers for a batch of ``rows`` points."""
        if rows not in self._buffers:
            self._buffers[rows] = _Buffers(self.sizes, self.lead, rows, self.dtype)
        return self._buffers[rows]

    def forward(self, buf: _Buffers) -> np.ndarray:
        """The forward pass from ``buf.a[0]``; returns a^[L], shape (*lead, rows, n_L)."""
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z, a_prev = buf.z[i], buf.a[i]
            if W.shape[-1] == 1:  # a (B,1)@(1,n) product: z = a w + b elementwise, one pass
                fused.affine_scalar_input(_stack(a_prev)[..., 0], _rows(W[..., 0]), _rows(b),
                                          _stack(z))  # fmt: skip
            else:
                np.matmul(a_prev, W.swapaxes(-1, -2), out=z)
                fused.add_bias(_stack(z), _rows(b))
            self.ops[i][0](z, buf.a[i + 1])
        return buf.a[-1]

    def gradient(self, buf: _Buffers, y: np.ndarray) -> None:
        """Backprop for the batch in ``buf`` (forward pass included) into ``self.grad``."""
        a_L = self.forward(buf)
        delta = buf.delta[-1]
        rows = a_L.shape[-2]
        if self.loss.name == "mse":
            np.subtract(a_L, y, out=delta)
            delta *= 2.0 / (rows * a_L.shape[-1])
        elif self.loss.name == "half_sse":
            np.subtract(a_L, y, out=delta)
            delta /= rows
        else:
            delta[...] = self.loss.grad(a_L, y)
        last = len(self.weights) - 1
        self.ops[last][1](buf.z[last], a_L, delta, buf.deriv[last])
        for i in range(last, -1, -1):
            delta, a_prev = buf.delta[i], buf.a[i]
            np.matmul(delta.swapaxes(-1, -2), a_prev, out=self.gW[i])
            fused.column_sums(_stack(delta), _rows(self.gb[i]))
            if i == 0:
                break
            W, below = self.weights[i], buf.delta[i - 1]
            if W.shape[-2] == 1:
                np.multiply(delta, W, out=below)
            else:
                np.matmul(delta, W, out=below)
            self.ops[i - 1][1](buf.z[i - 1], buf.a[i], below, buf.deriv[i - 1])

    def update(self, lr: float | np.ndarray) -> None:
        """One optimiser step on ``params`` from ``grad``, as :mod:`mlplab.optim` computes it.

        ``lr`` is a float, or an array of shape ``(*lead, 1)`` (one rate per model).
        """
        self.t += 1
        params, grad, m, v = self._flat
        rates = np.asarray(lr, np.float64).reshape(-1)
        if rates.shape[0] != params.shape[0]:
            rates = np.full(params.shape[0], rates[0])
        update_rows(params, grad, m, v, rates, self.opt_code, self.hyper, self.t)

    def cost(self, X: np.ndarray, y: np.ndarray, block: int = 1024) -> np.ndarray:
        """The cost on the whole set, in row blocks of at most ``block`` points.

        ``X`` is ``(*lead, N, n_1)`` or ``(N, n_1)`` (shared by every model). Returns an array
        of shape ``lead`` (a 0-d array for one network).
        """
        n = X.shape[-2]
        total = np.zeros(self.lead)
        for start in range(0, n, block):
            rows = min(block, n - start)
            buf = self.buffers(rows)
            buf.a[0][...] = X[..., start : start + rows, :]
            a_L = self.forward(buf)
            y_blk = y[..., start : start + rows, :] if y.ndim >= 2 else y[start : start + rows]
            if self.loss.name in ("mse", "half_sse"):
                r = a_L - y_blk
                total += np.einsum("...ij,...ij->...", r, r)
            else:
                total += self.loss.value(a_L, y_blk) * rows
        if self.loss.name == "mse":
            return total / (n * self.sizes[-1])
        if self.loss.name == "half_sse":
            return 0.5 * total / n
        return total / n

"""Input gradients ∇a^[L](x) at many points, in cache-sized row blocks on several threads.

The paper's recursion Δ^[L] = 1, Δ^[l-1] = (W^[l])ᵀ (σ'(z^[l]) ∘ Δ^[l]) runs on a block of
rows at a time, with every array of the block preallocated, so the extra memory is a few blocks
whatever the number of points (the output aside), and each block's working set stays in cache.
Blocks are shared out among threads: NumPy's ufuncs and BLAS release the GIL, so two threads
use two cores. The values equal :meth:`mlplab.MLP.input_gradient`'s reference recursion up to
rounding.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mlplab.engine import blas_threads
from mlplab.engine.dense import _Buffers, elementwise
from mlplab.engine.spec import activation_code
from mlplab.network import MLP

#: Rows per block: a 64-wide layer's a^[l] or z^[l] is 256 KiB (float64), so a block stays in L2.
BLOCK_ROWS = 512


def supports(net: MLP) -> bool:
    """Whether every activation is built in (the blocked path uses in-place kernels)."""
    return all(activation_code(act) is not None for act in net.activations)


def _block_gradient(net: MLP, ops, buf: _Buffers, x: np.ndarray, out: np.ndarray) -> None:
    """∇a^[L] for the rows ``x`` (at most the buffer's rows) into ``out``."""
    rows = x.shape[0]
    a = [arr[:rows] for arr in buf.a]
    z = [arr[:rows] for arr in buf.z]
    deriv = [arr[:rows] for arr in buf.deriv]
    delta = [arr[:rows] for arr in buf.delta]
    a[0][...] = x
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        if W.shape[1] == 1:
            np.multiply(a[i], W[:, 0], out=z[i])
        else:
            np.matmul(a[i], W.T, out=z[i])
        z[i] += b
        ops[i][0](z[i], a[i + 1])
    last = len(net.weights) - 1
    # Δ^[L] = 1, so σ'(z^[L]) ∘ Δ^[L] is σ'(z^[L]) itself.
    current = delta[last]
    current.fill(1.0)
    ops[last][1](z[last], a[last + 1], current, deriv[last])
    for i in range(last, -1, -1):
        W = net.weights[i]
        target = out if i == 0 else delta[i - 1]
        if W.shape[0] == 1:
            np.multiply(current, W[0], out=target)
        else:
            np.matmul(current, W, out=target)
        if i > 0:
            ops[i - 1][1](z[i - 1], a[i], target, deriv[i - 1])
            current = target


def input_gradient(
    net: MLP, X: np.ndarray, block: int = BLOCK_ROWS, threads: int | None = None
) -> np.ndarray:
    """∇a^[L](x) for every row of ``X`` (n_L = 1), blockwise on ``threads`` threads.

    Parameters
    ----------
    net : MLP
        With a scalar output and built-in activations.
    X : ndarray, shape (N, n_1)
        Checked input (finite, the network's dtype).
    block : int
        Rows per block.
    threads : int, optional
        Default: the number of CPUs, at most 2 per block pair of work.

    Returns
    -------
    ndarray, shape (N, n_1)
    """
    n = X.shape[0]
    out = np.empty_like(X)
    ops = [elementwise(act, *activation_code(act)) for act in net.activations]
    threads = min(threads or os.cpu_count() or 1, -(-n // block))
    # lane k takes blocks k, k + threads, ... (ranges: no per-block bookkeeping)
    lanes = [range(k * block, n, threads * block) for k in range(threads)]

    def lane(own: range) -> None:
        buf = _Buffers(net.sizes, (), min(block, n), net.dtype)
        for s in own:
            _block_gradient(net, ops, buf, X[s : s + block], out[s : s + block])

    if threads == 1:
        lane(lanes[0])
        return out
    # One BLAS thread per lane: the lanes already use the cores.
    with ThreadPoolExecutor(threads) as pool, blas_threads(net.sizes, 0):
        list(pool.map(lane, lanes))
    return out

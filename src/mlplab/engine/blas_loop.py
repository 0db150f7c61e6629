"""Compiled training loop for wider networks: BLAS products inside one compiled call.

The scalar kernel of :mod:`mlplab.engine.kernels` suits narrow layers; past
:data:`~mlplab.engine.spec.COMPILED_WIDTH` units BLAS wins the products, and the NumPy stepper
of :mod:`mlplab.engine.dense` then spends most of a small batch's step on the Python side of
its thirty-odd calls. This loop keeps whole epochs compiled — batch draws, forward pass,
backprop, optimiser step and the end-of-epoch cost — and hands each layer's products to BLAS
(``np.dot``, which Numba passes to OpenBLAS), with everything else in single fused passes.

It runs the activations that compile to vectorised loops: the logistic sigmoid, ReLU / leaky
ReLU and the identity (:data:`mlplab.engine.spec.BLAS_LOOP_ACTIVATIONS`). The sigmoid's
exponential is computed in a form the compiler vectorises
(:func:`mlplab.engine.vsigmoid.sigmoid_rows`): within 2 units in the last place of NumPy's
``exp`` in float64, so the training equals the reference path's to rounding (the tests hold
it to 1e-12 relative, as for the other kernels); float32 networks compute it in float32.

Where batches are split in halves (:func:`mlplab.engine.halves`), the end-of-epoch cost's
forward passes run on a transposed copy of the weights, in blocks that OpenBLAS's small-matrix
kernel multiplies at full speed (its kernel for ``a @ W.T`` takes 1.7 times as long).

Layer ``l`` (0-based over widths, ``sizes[l]`` is n_{l+1}) keeps a^[l+1], z^[l+1] and δ^[l+1]
for the rows of a batch as C-contiguous ``(rows, sizes[l])`` views into flat work buffers, at
offset ``block * col[l]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mlplab.engine.fused import pairwise_sum
from mlplab.engine.kernels import ACT_CODES, _offsets, _step_row, record_epoch
from mlplab.engine.orders import epoch_order, order_buffer
from mlplab.engine.threads import prange_only
from mlplab.engine.vsigmoid import sigmoid_rows

_SIGMOID, _LEAKY = ACT_CODES["sigmoid"], ACT_CODES["leaky_relu"]

#: Rows per block of the end-of-epoch cost (at least a batch).
_BLOCK = 256
#: Rows per block of the cost's forward passes with transposed weights: OpenBLAS's small-matrix
#: kernel takes these products at full speed.
_TRANSPOSED_ROWS = 64


@njit(cache=True, error_model="numpy", nogil=True)
def _view(buf, offset, rows, n):
    """``buf[offset : offset + rows * n]`` as a C-contiguous ``(rows, n)`` array."""
    return buf[offset : offset + rows * n].reshape(rows, n)


@njit(cache=True, error_model="numpy", nogil=True)
def _activate(code, alpha, z, b, a):
    """z += b (row-wise), then a = σ(z). Shapes (rows, n), (n,), (rows, n)."""
    rows, n = z.shape
    for r in range(rows):
        for j in range(n):
            z[r, j] += b[j]
    if code == _SIGMOID:
        sigmoid_rows(z, a)
    elif code == _LEAKY:
        for r in range(rows):
            for j in range(n):
                a[r, j] = z[r, j] if z[r, j] > 0.0 else alpha * z[r, j]
    else:
        a[...] = z


@njit(cache=True, error_model="numpy", nogil=True)
def _times_derivative(code, alpha, z, a, d):
    """d *= σ'(z), given a = σ(z). Shapes (rows, n)."""
    rows, n = d.shape
    if code == _SIGMOID:
        for r in range(rows):
            for j in range(n):
                d[r, j] *= (1.0 - a[r, j]) * a[r, j]
    elif code == _LEAKY:
        for r in range(rows):
            for j in range(n):
                if not z[r, j] > 0.0:
                    d[r, j] *= alpha


@njit(cache=True, error_model="numpy", nogil=True)
def _outer(u, v, out):
    """out = u v for a column ``u`` (rows, 1) and a row ``v`` (n,): a product over one term,
    which BLAS computes as this one multiplication per entry (the same bits) after a call that
    costs more than the arithmetic."""
    rows, n = out.shape
    for r in range(rows):
        x = u[r, 0]
        for j in range(n):
            out[r, j] = x * v[j]


@njit(cache=True, error_model="numpy", nogil=True)
def _forward(params, WT, sizes, codes, alphas, col, woff, boff, A, Z, block, rows):
    """Forward pass on ``rows`` rows whose inputs are in layer 0 of ``A``; returns a^[L].

    ``WT`` holds each W^[l] transposed, (n_{l-1}, n_l) at W^[l]'s offset
    (:func:`_transpose_weights`), or is empty: then the products take ``W.T`` as NumPy does.
    """
    a_prev = _view(A, 0, rows, sizes[0])
    for layer in range(1, sizes.shape[0]):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        wo, bo = woff[layer - 1], boff[layer - 1]
        z = _view(Z, block * col[layer], rows, n_out)
        a = _view(A, block * col[layer], rows, n_out)
        if n_in == 1:
            _outer(a_prev, params[wo : wo + n_out], z)
        elif WT.shape[0] > 0:
            np.dot(a_prev, WT[wo : wo + n_in * n_out].reshape(n_in, n_out), z)
        else:
            np.dot(a_prev, params[wo : wo + n_out * n_in].reshape(n_out, n_in).T, z)
        _activate(codes[layer - 1], alphas[layer - 1], z, params[bo : bo + n_out], a)
        a_prev = a
    return a_prev


@njit(cache=True, error_model="numpy", nogil=True)
def _transpose_weights(params, sizes, woff, WT):
    """WT[W^[l]'s offset :] = (W^[l])ᵀ, (n_{l-1}, n_l) row-major, for every layer."""
    for layer in range(1, sizes.shape[0]):
        n_in, n_out, wo = sizes[layer - 1], sizes[layer], woff[layer - 1]
        for j in range(n_out):
            for k in range(n_in):
                WT[wo + k * n_out + j] = params[wo + j * n_in + k]


@njit(cache=True, error_model="numpy", nogil=True)
def _transposed(params, sizes, woff, parts):
    """The transposed weights the forward passes use with ``parts`` 2 (see :func:`_forward`),
    empty with ``parts`` 1."""
    if parts == 1:
        return np.empty(0, params.dtype)
    WT = np.empty_like(params)
    _transpose_weights(params, sizes, woff, WT)
    return WT


@njit(cache=True, error_model="numpy", nogil=True)
def _squared_error(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, lo, hi, A, Z, block):
    """Σ ‖a^[L](x) − y‖² over the rows ``lo:hi`` of ``X``, ``Y``, in row blocks: of ``block``
    rows, or of :data:`_TRANSPOSED_ROWS` with transposed weights ``WT``."""
    n_in, n_out = sizes[0], sizes[-1]
    step = min(block, _TRANSPOSED_ROWS) if WT.shape[0] > 0 else block
    total = 0.0
    for start in range(lo, hi, step):
        rows = min(step, hi - start)
        _view(A, 0, rows, n_in)[...] = X[start : start + rows]
        out = _forward(params, WT, sizes, codes, alphas, col, woff, boff, A, Z, block, rows)
        for r in range(rows):
            for j in range(n_out):
                d = out[r, j] - Y[start + r, j]
                total += d * d
    return total


@njit(cache=True, error_model="numpy", nogil=True, parallel=prange_only())
def _cost(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z, block, parts,
          parallel):  # fmt: skip
    """The cost (``mse`` or ``half_sse``) on the whole set ``X``, ``Y``: with ``parts`` 2, the
    sum of the squared errors of its two halves, computed at once where ``parallel``."""
    n, n_out = X.shape[0], sizes[-1]
    if parts == 1:
        total = _squared_error(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, 0, n, A,
                               Z, block)  # fmt: skip
    else:
        sums = np.empty(2)
        if parallel:
            for h in prange(2):
                sums[h] = _half_squared_error(h, params, WT, sizes, codes, alphas, col, woff,
                                              boff, X, Y, A, Z, block)  # fmt: skip
        else:
            for h in range(2):
                sums[h] = _half_squared_error(h, params, WT, sizes, codes, alphas, col, woff,
                                              boff, X, Y, A, Z, block)  # fmt: skip
        total = sums[0] + sums[1]
    if loss_code == 0:
        return total / (n * n_out)
    return 0.5 * total / n


@njit(cache=True, error_model="numpy", nogil=True)
def _half_squared_error(h, params, WT, sizes, codes, alphas, col, woff, boff, X, Y, A, Z, block):
    """:func:`_squared_error` on half ``h`` (0 or 1) of the rows, in part ``h`` of the buffers."""
    lo, hi = _half(h, X.shape[0])
    return _squared_error(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, lo, hi,
                          _share(A, h), _share(Z, h), block)  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def _half(h, n):
    """The range ``lo, hi`` of half ``h`` (0 or 1) of ``n`` rows; the first half takes the odd
    row."""
    half = (n + 1) // 2
    return h * half, min(n, (h + 1) * half)


@njit(cache=True, error_model="numpy", nogil=True)
def _share(buf, h):
    """Part ``h`` (0 or 1) of a work buffer made for two parts (:func:`_buffers`)."""
    size = buf.shape[0] // 2
    return buf[h * size : (h + 1) * size]


@njit(cache=True, error_model="numpy", nogil=True)
def _buffers(sizes, dtype, block, parts):
    """Work buffers A, Z (a^[l], z^[l]) for ``parts`` blocks of ``block`` rows, part ``h`` in
    the ``h``-th share of each."""
    col = _offsets(sizes)[0]
    A = np.empty(parts * block * col[-1], dtype)
    return A, np.empty_like(A)


@njit(cache=True, error_model="numpy", nogil=True)
def cost(params, sizes, codes, alphas, X, Y, loss_code, parts=1, parallel=False):
    """The cost (``mse`` or ``half_sse``) at ``params`` on the set ``X``, ``Y``.

    Parameters
    ----------
    params : ndarray, shape (p,)
    sizes, codes, alphas : ndarray
        As for :func:`train_epochs`.
    X, Y : ndarray, shapes (N, n_1), (N, n_L)
    loss_code : int
    parts, parallel : int, bool
        As for :func:`train_epochs`.

    Returns
    -------
    float
    """
    col, woff, boff = _offsets(sizes)
    A, Z = _buffers(sizes, params.dtype, _BLOCK, parts)
    WT = _transposed(params, sizes, woff, parts)
    return _cost(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z, _BLOCK,
                 parts, parallel)  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def _gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, idx, batch, loss_code, A, Z,
              D, block, G):  # fmt: skip
    """Backprop on the rows ``idx`` of ``X``, ``Y`` (all or part of a batch of ``batch`` rows):
    their terms of the flat gradient into ``G``."""
    rows, n_layers = idx.shape[0], sizes.shape[0]
    a0 = _view(A, 0, rows, sizes[0])
    for r in range(rows):
        a0[r] = X[idx[r]]
    out = _forward(params, params[:0], sizes, codes, alphas, col, woff, boff, A, Z, block, rows)
    n_out = sizes[-1]
    scale = 2.0 / (batch * n_out)
    last = block * col[n_layers - 1]
    delta = _view(D, last, rows, n_out)
    for r in range(rows):
        for j in range(n_out):
            diff = out[r, j] - Y[idx[r], j]
            # as the losses compute it: mse multiplies by 2 / (B n_L), half_sse divides by B
            delta[r, j] = diff * scale if loss_code == 0 else diff / batch
    _times_derivative(codes[n_layers - 2], alphas[n_layers - 2], _view(Z, last, rows, n_out),
                      out, delta)  # fmt: skip
    for layer in range(n_layers - 1, 0, -1):
        n_in, n_o = sizes[layer - 1], sizes[layer]
        wo, bo = woff[layer - 1], boff[layer - 1]
        a_prev = _view(A, block * col[layer - 1], rows, n_in)
        np.dot(delta.T, a_prev, G[wo : wo + n_o * n_in].reshape(n_o, n_in))
        gb = G[bo : bo + n_o]
        if n_o == 1:  # NumPy sums a single column pairwise, wider ones row after row
            gb[0] = pairwise_sum(delta[:, 0], 0, rows)
        else:
            gb[:] = delta[0]
            for r in range(1, rows):
                for j in range(n_o):
                    gb[j] += delta[r, j]
        if layer > 1:
            below = _view(D, block * col[layer - 1], rows, n_in)
            if n_o == 1:
                _outer(delta, params[wo : wo + n_in], below)
            else:
                np.dot(delta, params[wo : wo + n_o * n_in].reshape(n_o, n_in), below)
            _times_derivative(codes[layer - 2], alphas[layer - 2],
                              _view(Z, block * col[layer - 1], rows, n_in), a_prev,
                              below)  # fmt: skip
            delta = below


@njit(cache=True, error_model="numpy", nogil=True)
def _half_gradient(h, params, sizes, codes, alphas, col, woff, boff, X, Y, idx, loss_code, A, Z,
                   D, block, G2):  # fmt: skip
    """:func:`_gradient` on half ``h`` (0 or 1) of the batch ``idx``, in part ``h`` of the
    buffers, into ``G2[h]``."""
    lo, hi = _half(h, idx.shape[0])
    if lo == hi:  # the second half of a one-row batch
        G2[h, :] = 0.0
        return
    _gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, idx[lo:hi], idx.shape[0],
              loss_code, _share(A, h), _share(Z, h), _share(D, h), block, G2[h])  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True, parallel=prange_only())
def _batch_gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, idx, loss_code, A, Z, D,
                    block, G2, parts, parallel):  # fmt: skip
    """The flat gradient of the batch ``idx`` into ``G2[0]``: with ``parts`` 2, the sum of its
    two halves' terms, computed at once where ``parallel``."""
    if parts == 1:
        _gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, idx, idx.shape[0],
                  loss_code, A, Z, D, block, G2[0])  # fmt: skip
        return
    if parallel:
        for h in prange(2):
            _half_gradient(h, params, sizes, codes, alphas, col, woff, boff, X, Y, idx, loss_code,
                           A, Z, D, block, G2)  # fmt: skip
    else:
        for h in range(2):
            _half_gradient(h, params, sizes, codes, alphas, col, woff, boff, X, Y, idx, loss_code,
                           A, Z, D, block, G2)  # fmt: skip
    for k in range(G2.shape[1]):
        G2[0, k] += G2[1, k]


@njit(cache=True, error_model="numpy", nogil=True)
def train_epochs(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v,
                 t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite,
                 with_cost=True, parts=1, parallel=False):  # fmt: skip
    """Run ``len(lrs)`` epochs in place; stop after the first epoch with a non-finite cost.

    The arguments and the result are those of :func:`mlplab.engine.kernels.train_epochs`;
    with ``with_cost=False`` the epochs' costs are left to the caller (see :func:`cost`), and
    ``train_loss``, ``val_loss`` and ``last_finite`` are not touched. With ``parts`` 2, each
    batch's gradient and each cost is the sum of two halves' terms (:func:`mlplab.engine.halves`),
    the halves computed at once on two threads where ``parallel``, one after the other
    otherwise: the numbers do not depend on ``parallel``.
    """
    n = X.shape[0]
    col, woff, boff = _offsets(sizes)
    block = max(batch_size, _BLOCK)
    A, Z = _buffers(sizes, params.dtype, block, parts)
    D = np.empty_like(A)
    WT = _transposed(params, sizes, woff, parts)
    G2 = np.empty((2, params.shape[0]), params.dtype)
    steps = (n + batch_size - 1) // batch_size
    has_val = Xv.shape[0] > 0
    order = order_buffer(n, batch_size, shuffle)
    for e in range(lrs.shape[0]):
        epoch_order(rng, n, shuffle, order)
        for s in range(steps):
            idx = order[s * batch_size : min((s + 1) * batch_size, order.shape[0])]
            _batch_gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, idx, loss_code,
                            A, Z, D, block, G2, parts, parallel)  # fmt: skip
            t[0] += 1
            _step_row(params, G2[0], m, v, lrs[e], opt_code, hyper, t[0])
        if not with_cost:
            continue
        if parts == 2:
            _transpose_weights(params, sizes, woff, WT)
        tl = _cost(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z,
                   block, parts, parallel)  # fmt: skip
        vl = 0.0
        if has_val:
            vl = _cost(params, WT, sizes, codes, alphas, col, woff, boff, Xv, Yv, loss_code, A,
                       Z, block, parts, parallel)  # fmt: skip
        if not record_epoch(e, tl, vl, has_val, train_loss, val_loss, params, last_finite):
            return e + 1
    return lrs.shape[0]

"""Compiled training loop for wider networks: BLAS products inside one compiled call.

The scalar kernel of :mod:`mlplab.engine.kernels` suits narrow layers; past
:data:`~mlplab.engine.spec.COMPILED_WIDTH` units BLAS wins the products, and the NumPy stepper
of :mod:`mlplab.engine.dense` then spends most of a small batch's step on the Python side of
its thirty-odd calls. This loop keeps whole epochs compiled — batch draws, forward pass,
backprop, optimiser step and the end-of-epoch cost — and hands each layer's products to BLAS
(``np.dot``, which Numba passes to OpenBLAS) or, for batches split in halves, to register
tiles of its own, with everything else in single fused passes.

It runs the activations that compile to vectorised loops: the logistic sigmoid, ReLU / leaky
ReLU and the identity (:data:`mlplab.engine.spec.BLAS_LOOP_ACTIVATIONS`). The sigmoid's
exponential is computed in a form the compiler vectorises
(:mod:`mlplab.engine.vsigmoid`): within 2 units in the last place of the exact value in
float64, so the training equals the reference path's to rounding (the tests hold it to 1e-12
relative, as for the other kernels); float32 networks compute it in float32.

Where batches are split in halves (:func:`mlplab.engine.halves`), two threads train together
in one parallel region (:func:`train_epochs`), each on its own copy of the parameters, which
both step alike (:func:`_epochs`), and the forward passes run on a transposed copy of the
weights that each thread updates after its step (``WT``, empty for whole batches), so that
every product reads its right-hand operand row by row, as the register tiles of
:mod:`mlplab.engine.gemm` read it.

Layer ``l`` (0-based over widths, ``sizes[l]`` is n_{l+1}) keeps a^[l+1] and δ^[l+1] for the
rows of a batch as C-contiguous (rows, n) views into flat work buffers, at offset
``block * col[l]``, and z^[l+1] too for a leaky ReLU layer, the one activation whose σ' needs
it: the others' products and activations share one block (:func:`_product_buffer`). Whole
batches take their products in the forms of NumPy's reference path, through BLAS, so that a
float64 run agrees with the reference to the last bit. Batches in halves, whose products are
small, take them in the register tiles of :mod:`mlplab.engine.gemm`, each layer's biases
added in the tiles' accumulators: OpenBLAS packs both operands and clears the result
before each product, and without the small-matrix kernels it has for AVX-512 that was a third
of a small float32 product's time on an AVX2 processor (Zen 3). There a ``cos4`` step took
0.90 of its time in float64 and 0.74 in float32 (paired runs taking turns); the halves' sums
are in another order than the whole batch's anyway (held to the reference to 1e-12).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mlplab.engine.atomics import CLAIMS, fetch_add, join, meet, meeting_state, partner, store
from mlplab.engine.fused import pairwise_sum
from mlplab.engine.gemm import product, product_slope
from mlplab.engine.kernels import ACT_CODES, _offsets, _step_row, costs_finite, record_epoch
from mlplab.engine.orders import epoch_order, order_length
from mlplab.engine.threads import prange_only
from mlplab.engine.transpose import transpose
from mlplab.engine.views import rows_view
from mlplab.engine.vsigmoid import sigmoid_biased, sigmoid_inplace

_SIGMOID, _LEAKY = ACT_CODES["sigmoid"], ACT_CODES["leaky_relu"]

#: Rows per block of the end-of-epoch cost (at least a batch).
_BLOCK = 256
#: Rows per block of the cost's forward passes with transposed weights (in the register tiles):
#: in a float32 ``cos4`` run, 64 and 256 rows took as long as 128.
_TRANSPOSED_ROWS = 128


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _leaky(z, k, bias, slope):
    """Leaky ReLU of z[k] + bias, which it keeps in z[k]."""
    x = z[k] + bias
    z[k] = x
    return x if x > 0.0 else slope * x


@njit(cache=True, error_model="numpy", nogil=True)
def _activate(code, alpha, z, b, a, a_flat, biased):
    """a = σ(z + b) for a layer's products ``z`` and biases ``b`` (n,), blocks (rows, n), in
    one pass; with ``biased`` the products hold their biases already. ``a_flat`` is ``a``'s
    memory as a vector.

    ``a`` is ``z`` itself (:func:`_product_buffer`) but for leaky ReLU, whose backward pass
    takes σ' from z: there z + b is kept in ``z``. The others' σ' needs only a.
    """
    if code == _SIGMOID:
        if biased:
            sigmoid_inplace(a_flat, a_flat.shape[0])
        else:
            sigmoid_biased(a, b)
        return
    zero = b.dtype.type(0.0)
    slope = a.dtype.type(alpha)
    for i in range(z.shape[0]):  # each loop with its choices made outside it: it vectorises
        zi, ai = z[i], a[i]
        if code == _LEAKY and biased:
            for k in range(zi.shape[0]):
                ai[k] = _leaky(zi, k, zero, slope)
        elif code == _LEAKY:
            for k in range(zi.shape[0]):
                ai[k] = _leaky(zi, k, b[k], slope)
        elif not biased:
            for k in range(zi.shape[0]):
                zi[k] += b[k]


@njit(cache=True, error_model="numpy", nogil=True)
def _product_buffer(code, A, Z):
    """Where a layer's products go (:func:`_activate`): ``Z`` for leaky ReLU, else ``A``,
    whose block its activations then overwrite in place (two passes over one block instead of
    three over two: a ``cos4`` block then stays in the first-level cache)."""
    return Z if code == _LEAKY else A


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _times_slope(code, one, slope, d, a, z):
    """d σ'(z), given a = σ(z), for one entry (``one`` and ``slope`` in its precision)."""
    if code == _SIGMOID:
        return d * ((one - a) * a)
    if code == _LEAKY:
        return d if z > 0.0 else d * slope
    return d


@njit(cache=True, error_model="numpy", nogil=True)
def _delta(code, alpha, z, a, d, G, bo):
    """d *= σ'(z) (given a = σ(z)), blocks (rows, n); then the layer's bias gradient, the sums
    of d over the rows, into ``G[bo : bo + n]``, as NumPy takes them: pairwise for one column,
    else row after row (each row's entries added as they are scaled). The arithmetic is in the
    arrays' precision, as NumPy's with a Python float (float32 for a float32 network)."""
    one, slope = a.dtype.type(1.0), a.dtype.type(alpha)
    rows, n = d.shape
    if n == 1:
        for r in range(rows):
            d[r, 0] = _times_slope(code, one, slope, d[r, 0], a[r, 0], z[r, 0])
        G[bo] = pairwise_sum(d[:, 0], 0, rows)
        return
    gb = G[bo : bo + n]
    gb[:] = 0.0
    for r in range(rows):
        dr, ar, zr = d[r], a[r], z[r]
        for j in range(n):
            x = _times_slope(code, one, slope, dr[j], ar[j], zr[j])
            dr[j] = x
            gb[j] += x


@njit(cache=True, error_model="numpy", nogil=True)
def _outer(u, v, out):
    """out = u vᵀ for 1-D ``u`` (m,) and ``v`` (n,), out (m, n): a product over one term,
    which BLAS computes as this one multiplication per entry (the same bits) after a call that
    costs more than the arithmetic."""
    for i in range(out.shape[0]):
        x, oi = u[i], out[i]
        for k in range(oi.shape[0]):
            oi[k] = x * v[k]


@njit(cache=True, error_model="numpy", nogil=True)
def _needs_transpose(sizes, layer):
    """Whether the forward product of ``layer`` (1-based over weights) reads W^[l]ᵀ from a
    transposed copy; a one-unit side makes W^[l] its own transpose in memory."""
    return sizes[layer - 1] > 1 and sizes[layer] > 1


@njit(cache=True, error_model="numpy", nogil=True)
def _product(params, WT, sizes, woff, boff, layer, A, prev, Z, offset, rows):
    """The products of a layer's inputs (the block of ``A`` at ``prev``) with (W^[l])ᵀ into the
    block of ``Z`` at ``offset``: in the register tiles, which read the transposed weights, where
    there are (``WT`` not empty: batches in halves), else as NumPy takes them. Returns whether
    the block holds the biases too (the tiles and a one-input layer's pass add them)."""
    n_in, n_out, wo = sizes[layer - 1], sizes[layer], woff[layer - 1]
    x, z = rows_view(A, prev, rows, n_in), rows_view(Z, offset, rows, n_out)
    if n_in == 1:  # one input unit: z = x w + b entry by entry, rounded as NumPy rounds it
        x1, w, b = A[prev : prev + rows], params[wo : wo + n_out], params[boff[layer - 1] :]
        for i in range(rows):
            xi, zi = x1[i], z[i]
            for k in range(n_out):
                zi[k] = xi * w[k] + b[k]
        return True
    if WT.shape[0] == 0:  # no transposed copy (one thread): as NumPy takes x @ W.T
        np.dot(x, rows_view(params, wo, n_out, n_in).T, z)
    elif n_out == 1:  # one row of W: its own transpose in memory (a product of vectors)
        np.dot(x, rows_view(params, wo, n_in, 1), z)
    else:
        product(A, prev, n_in, 1, WT, wo, n_out, Z, offset, n_out, rows, n_out, n_in, params,
                boff[layer - 1])  # fmt: skip
        return True
    return False


@njit(cache=True, error_model="numpy", nogil=True)
def _forward(params, WT, sizes, codes, alphas, col, woff, boff, A, Z, block, rows):
    """Forward pass on ``rows`` rows whose inputs are in layer 0 of ``A``; returns a^[L],
    (rows, n_L).

    ``WT`` holds the W^[l] that :func:`_needs_transpose` names transposed, (n_{l-1}, n_l) at
    W^[l]'s offset (:func:`_transpose`), or is empty.
    """
    for layer in range(1, sizes.shape[0]):
        n_out, code, bo = sizes[layer], codes[layer - 1], boff[layer - 1]
        offset = block * col[layer]
        out = _product_buffer(code, A, Z)
        biased = _product(params, WT, sizes, woff, boff, layer, A, block * col[layer - 1], out,
                          offset, rows)  # fmt: skip
        _activate(code, alphas[layer - 1], rows_view(out, offset, rows, n_out),
                  params[bo : bo + n_out], rows_view(A, offset, rows, n_out),
                  A[offset : offset + rows * n_out], biased)  # fmt: skip
    return rows_view(A, block * col[sizes.shape[0] - 1], rows, sizes[-1])


@njit(cache=True, error_model="numpy", nogil=True)
def _transpose(params, sizes, woff, WT):
    """WT[W^[l]'s offset :] = (W^[l])ᵀ, (n_{l-1}, n_l) row-major, for every layer that
    :func:`_needs_transpose` names, in blocks through vector registers
    (:func:`mlplab.engine.transpose.transpose`)."""
    for layer in range(1, sizes.shape[0]):
        if not _needs_transpose(sizes, layer):
            continue
        transpose(params, woff[layer - 1], sizes[layer], sizes[layer - 1], WT, woff[layer - 1])


@njit(cache=True, error_model="numpy", nogil=True)
def _transposed(params, sizes, woff, parts):
    """The transposed weights the forward passes use with ``parts`` 2 (see :func:`_forward`),
    empty with ``parts`` 1."""
    if parts == 1:
        return np.empty(0, params.dtype)
    WT = np.empty_like(params)
    _transpose(params, sizes, woff, WT)
    return WT


@njit(cache=True, error_model="numpy", nogil=True)
def _cost_rows(WT):
    """Rows per block of the costs' forward passes: :data:`_BLOCK`, or :data:`_TRANSPOSED_ROWS`
    with transposed weights ``WT`` (work buffers hold at least :data:`_BLOCK` rows). The
    same in the training loop and in :func:`cost`, so both sum a cost over the same blocks."""
    return _TRANSPOSED_ROWS if WT.shape[0] > 0 else _BLOCK


@njit(cache=True, error_model="numpy", nogil=True)
def _block_error(k, params, WT, sizes, codes, alphas, col, woff, boff, X, Y, A, Z, block):
    """Σ ‖a^[L](x) − y‖² over the rows of block ``k`` of ``X``, ``Y`` (blocks of
    :func:`_cost_rows` rows)."""
    n_in, n_out = sizes[0], sizes[-1]
    step = _cost_rows(WT)
    start = k * step
    rows = min(step, X.shape[0] - start)
    rows_view(A, 0, rows, n_in)[...] = X[start : start + rows]
    out = _forward(params, WT, sizes, codes, alphas, col, woff, boff, A, Z, block, rows)
    total = 0.0
    for r in range(rows):
        for j in range(n_out):
            d = out[r, j] - Y[start + r, j]
            total += d * d
    return total


@njit(cache=True, error_model="numpy", nogil=True)
def _blocks(n, WT):
    """The number of cost blocks of ``n`` rows (:func:`_block_error`)."""
    return -(-n // _cost_rows(WT))


@njit(cache=True, error_model="numpy", nogil=True)
def _cost_blocks(state, errors, params, WT, sizes, codes, alphas, col, woff, boff, X, Y, Xv, Yv,
                 A, Z, block):  # fmt: skip
    """The squared errors of every cost block into ``errors``: the training set's blocks, then
    the validation set's, in the buffers ``A``, ``Z`` (the calling thread's). A thread alone
    (``state`` empty) takes them in order; two threads take the next one not yet taken, drawn
    from ``state[CLAIMS]`` (reset by the caller). Every block's sum lands in its own entry,
    whichever thread computed it, so the costs (:func:`_mean_cost`) do not depend on who
    did."""
    n_train = _blocks(X.shape[0], WT)
    shared = state.shape[0] > 0
    k = fetch_add(state, CLAIMS, 1) if shared else 0
    while k < errors.shape[0]:
        if k < n_train:
            errors[k] = _block_error(k, params, WT, sizes, codes, alphas, col, woff, boff, X, Y,
                                     A, Z, block)  # fmt: skip
        else:
            errors[k] = _block_error(k - n_train, params, WT, sizes, codes, alphas, col, woff,
                                     boff, Xv, Yv, A, Z, block)  # fmt: skip
        k = fetch_add(state, CLAIMS, 1) if shared else k + 1


@njit(cache=True, error_model="numpy", nogil=True)
def _mean_cost(errors, n, n_out, loss_code):
    """The cost (``mse`` or ``half_sse``) of ``n`` points from the squared errors of their
    blocks, summed in order."""
    total = 0.0
    for k in range(errors.shape[0]):
        total += errors[k]
    if loss_code == 0:
        return total / (n * n_out)
    return 0.5 * total / n


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
def _buffer(buf, h, parts):
    """Thread ``h``'s share of a work buffer made for ``parts`` parts (:func:`_buffers`)."""
    return buf if parts == 1 else _share(buf, h)


@njit(cache=True, error_model="numpy", nogil=True)
def cost(params, sizes, codes, alphas, X, Y, loss_code, parts=1):
    """The cost (``mse`` or ``half_sse``) at ``params`` on the set ``X``, ``Y``.

    Parameters
    ----------
    params : ndarray, shape (p,)
    sizes, codes, alphas : ndarray
        As for :func:`train_epochs`.
    X, Y : ndarray, shapes (N, n_1), (N, n_L)
    loss_code : int
    parts : int
        As for :func:`train_epochs` (the blocks the cost is summed over depend on it).

    Returns
    -------
    float
    """
    col, woff, boff = _offsets(sizes)
    A, Z = _buffers(sizes, params.dtype, _BLOCK, parts)
    WT = _transposed(params, sizes, woff, parts)
    errors = np.empty(_blocks(X.shape[0], WT))
    _cost_blocks(np.zeros(0, np.int64), errors, params, WT, sizes, codes, alphas, col, woff,
                 boff, X, Y, X[:0], Y[:0], A, Z, _BLOCK)  # fmt: skip
    return _mean_cost(errors, X.shape[0], sizes[-1], loss_code)


@njit(cache=True, error_model="numpy", nogil=True)
def _weight_gradient(params, sizes, woff, tiles, layer, D, offset, A, prev, G, rows):
    """The weight gradient of ``layer``, Δᵀ A (n_l, n_{l-1}), into G at W^[l]'s offset, from
    its δ block (of ``D`` at ``offset``) and the activations below (of ``A`` at ``prev``)."""
    n_in, n_out, wo = sizes[layer - 1], sizes[layer], woff[layer - 1]
    if tiles and n_in == 1:  # one column: as the row xᵀ Δ, in vectors of units
        product(A, prev, 0, 1, D, offset, n_out, G, wo, n_out, 1, n_out, rows, params, -1)
    elif tiles:
        product(D, offset, 1, n_out, A, prev, n_in, G, wo, n_in, n_out, n_in, rows, params, -1)
    else:
        np.dot(rows_view(D, offset, rows, n_out).T, rows_view(A, prev, rows, n_in),
               rows_view(G, wo, n_out, n_in))  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def _backprop(params, sizes, woff, boff, tiles, code, layer, A, D, offset, prev, rows, G):
    """Δ W^[l] (rows, n_{l-1}), the δ of the layer under ``layer`` before σ', into the block of
    ``D`` at ``prev``, from ``layer``'s δ block (of ``D`` at ``offset``). Where the register
    tiles take it and the layer under is a sigmoid layer (``code``) of more than one unit,
    they also scale it by σ' (from its activations, the block of ``A`` at ``prev``) and sum
    its columns into that layer's bias gradient in ``G`` (:func:`~mlplab.engine.gemm.product_slope`:
    the numbers of :func:`_delta`, with no pass of its own); returns whether they did."""
    n_in, n_out, wo = sizes[layer - 1], sizes[layer], woff[layer - 1]
    below = rows_view(D, prev, rows, n_in)
    if n_out == 1:
        _outer(D[offset : offset + rows], params[wo : wo + n_in], below)
    elif tiles and code == _SIGMOID and n_in > 1:
        product_slope(D, offset, n_out, 1, params, wo, n_in, D, prev, n_in, rows, n_in, n_out, A,
                      prev, G, boff[layer - 2])  # fmt: skip
        return True
    elif tiles:
        product(D, offset, n_out, 1, params, wo, n_in, D, prev, n_in, rows, n_in, n_out, params,
                -1)  # fmt: skip
    else:
        np.dot(rows_view(D, offset, rows, n_out), rows_view(params, wo, n_out, n_in), below)
    return False


@njit(cache=True, error_model="numpy", nogil=True)
def _gradient(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, idx, batch, loss_code, A,
              Z, D, block, G):  # fmt: skip
    """Backprop on the rows ``idx`` of ``X``, ``Y`` (all or part of a batch of ``batch`` rows):
    their terms of the flat gradient into ``G``. The forward pass takes the transposed weights
    ``WT`` where there are (see :func:`_forward`)."""
    rows, n_layers = idx.shape[0], sizes.shape[0]
    a0 = rows_view(A, 0, rows, sizes[0])
    for r in range(rows):  # entry by entry: a row assigned as an array costs ten times more
        xr = X[idx[r]]
        for k in range(a0.shape[1]):
            a0[r, k] = xr[k]
    out = _forward(params, WT, sizes, codes, alphas, col, woff, boff, A, Z, block, rows)
    tiles = WT.shape[0] > 0  # batches in halves: every product in the register tiles
    n_out = sizes[-1]
    scale = 2.0 / (batch * n_out)
    offset = block * col[n_layers - 1]
    delta = rows_view(D, offset, rows, n_out)
    for r in range(rows):
        for j in range(n_out):
            diff = out[r, j] - Y[idx[r], j]
            # as the losses compute it: mse multiplies by 2 / (B n_L), half_sse divides by B
            delta[r, j] = diff * scale if loss_code == 0 else diff / batch
    _delta(codes[n_layers - 2], alphas[n_layers - 2], rows_view(Z, offset, rows, n_out), out,
           delta, G, boff[n_layers - 2])  # fmt: skip
    for layer in range(n_layers - 1, 0, -1):
        n_in, prev = sizes[layer - 1], block * col[layer - 1]
        _weight_gradient(params, sizes, woff, tiles, layer, D, offset, A, prev, G, rows)
        if layer > 1:
            code = codes[layer - 2]
            if not _backprop(params, sizes, woff, boff, tiles, code, layer, A, D, offset, prev,
                             rows, G):  # fmt: skip
                _delta(code, alphas[layer - 2], rows_view(Z, prev, rows, n_in),
                       rows_view(A, prev, rows, n_in), rows_view(D, prev, rows, n_in), G,
                       boff[layer - 2])  # fmt: skip
            offset = prev


@njit(cache=True, error_model="numpy", nogil=True)
def _part_gradient(h, parts, params, WT, sizes, codes, alphas, col, woff, boff, X, Y, idx,
                   loss_code, A, Z, D, block, G2):  # fmt: skip
    """The gradient of the batch ``idx`` into ``G2[0]`` (``parts`` 1), or the terms of its
    half ``h`` (0 or 1) into ``G2[h]``, in part ``h`` of the buffers."""
    if parts == 1:
        _gradient(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, idx, idx.shape[0],
                  loss_code, A, Z, D, block, G2[0])  # fmt: skip
        return
    lo, hi = _half(h, idx.shape[0])
    if lo == hi:  # the second half of a one-row batch
        G2[h, :] = 0.0
        return
    _gradient(params, WT, sizes, codes, alphas, col, woff, boff, X, Y, idx[lo:hi], idx.shape[0],
              loss_code, _share(A, h), _share(Z, h), _share(D, h), block, G2[h])  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def _step(parts, params, WT, G2, m, v, lr, opt_code, hyper, t, sizes, woff):
    """The optimiser's step on all the parameters, from the gradient ``G2[0]`` (``parts`` 1)
    or from the sum of the two halves' terms ``G2[0] + G2[1]``, added in the step's pass; with
    ``parts`` 2, then the transposed weights ``WT`` of the new parameters."""
    if parts == 1:
        _step_row(params, G2[0], m, v, lr, opt_code, hyper, t)
        return
    _step_row(params, G2[0], m, v, lr, opt_code, hyper, t, G2[1])
    _transpose(params, sizes, woff, WT)


@njit(cache=True, error_model="numpy", nogil=True)
def _epochs(h, lo, hi, state, params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code,
            hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite,
            with_cost, parts, work):  # fmt: skip
    """The epochs of :func:`train_epochs`, or thread ``h``'s share of them: the parts
    ``lo .. hi - 1`` of each batch's gradient (:func:`_part_gradient`), the optimiser's step
    on all the parameters (:func:`_step`), and the cost blocks it takes (:func:`_cost_blocks`).

    A thread alone runs ``lo, hi = 0, parts`` with an empty ``state``. Two threads that share
    the work (``state`` from :func:`~mlplab.engine.atomics.meeting_state`) each keep their own
    ``params``, ``WT``, ``m`` and ``v``, which they step alike from the two halves' terms:
    one meeting per step, after the gradients, and each thread's parameters stay in its own
    core's cache (stepping half of shared parameters took two meetings a step, and the steps
    and forward passes then waited on the other core's half: about 3 µs of a 40 µs float32
    ``cos4`` step). The halves' terms alternate between two buffers, ``G[0]`` and ``G[1]``,
    by the parity of the step: a thread writes the next step's terms while the other may still
    be reading this step's. Thread 1 draws the row orders: each epoch's before the cost blocks
    of the one before, which thread 0 meanwhile takes (the draws of a 2048-point epoch take as
    long as a sixth of its cost). Thread 0 counts the steps into ``t`` and records the costs;
    both see the same costs and stop at the same epoch. A thread alone with ``parts`` 2 draws
    in the same order, so after a stop on a non-finite cost the generator has drawn the next
    epoch's order too; with ``parts`` 1 it draws each epoch's order as the epoch starts, as
    the other loops do. Returns the epochs run.
    """
    A, Z, D, WT, G, orders, errors = work
    n, epochs = X.shape[0], lrs.shape[0]
    col, woff, boff = _offsets(sizes)
    block = max(batch_size, _BLOCK)
    steps = (n + batch_size - 1) // batch_size
    n_train = _blocks(n, WT)
    has_val = Xv.shape[0] > 0
    draws = hi == parts  # the thread that takes the last part: thread 1, or a thread alone
    ahead = parts == 2  # each epoch's order drawn before the costs of the one before
    if draws and ahead:
        epoch_order(rng, n, shuffle, orders[0])
    met, tt = 0, t[0]
    for e in range(epochs):
        if draws and not ahead:
            epoch_order(rng, n, shuffle, orders[e % 2])
        if e == 0 or not with_cost:  # else drawn before the costs' meeting
            met = meet(state, h, met)
        order = orders[e % 2]
        for s in range(steps):
            idx = order[s * batch_size : min((s + 1) * batch_size, order.shape[0])]
            G2 = G[tt % 2]
            for q in range(lo, hi):
                _part_gradient(q, parts, params, WT, sizes, codes, alphas, col, woff, boff, X, Y,
                               idx, loss_code, A, Z, D, block, G2)  # fmt: skip
            met = meet(state, h, met)
            tt += 1
            _step(parts, params, WT, G2, m, v, lrs[e], opt_code, hyper, tt, sizes, woff)
        if h == 0:
            t[0] = tt
        if draws and ahead and e + 1 < epochs:
            epoch_order(rng, n, shuffle, orders[(e + 1) % 2])
        if not with_cost:
            continue
        _cost_blocks(state, errors, params, WT, sizes, codes, alphas, col, woff, boff, X, Y, Xv,
                     Yv, _buffer(A, h, parts), _buffer(Z, h, parts), block)  # fmt: skip
        met = meet(state, h, met)
        tl = _mean_cost(errors[:n_train], n, sizes[-1], loss_code)
        vl = _mean_cost(errors[n_train:], Xv.shape[0], sizes[-1], loss_code) if has_val else 0.0
        if h == 1:
            finite = costs_finite(tl, vl, has_val)
        else:
            if state.shape[0] > 0:  # thread 1 claims no block before the next epoch's meetings
                store(state, CLAIMS, 0)
            finite = record_epoch(e, tl, vl, has_val, train_loss, val_loss, params, last_finite)
        if not finite:
            return e + 1
    return epochs


@njit(cache=True, error_model="numpy", nogil=True, parallel=prange_only())
def _epochs_together(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m,
                     v, t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite,
                     with_cost, work):  # fmt: skip
    """:func:`_epochs` on two threads, each taking one half of every batch and of the costs,
    thread 1 on copies of ``params``, ``m``, ``v`` and the transposed weights; thread 0 alone
    takes both halves where thread 1 does not start at once
    (:func:`~mlplab.engine.atomics.partner`).
    """
    state = meeting_state()
    done = np.zeros(1, np.int64)
    A, Z, D, WT, G, orders, errors = work
    params1, m1, v1 = params.copy(), m.copy(), v.copy()
    work1 = (A, Z, D, WT.copy(), G, orders, errors)
    for h in prange(2):
        if h == 0:
            lo, hi, share = (0, 1, state) if partner(state) else (0, 2, state[:0])
            done[0] = _epochs(0, lo, hi, share, params, sizes, codes, alphas, X, Y, Xv, Yv,
                              loss_code, opt_code, hyper, m, v, t, lrs, batch_size, shuffle, rng,
                              train_loss, val_loss, last_finite, with_cost, 2, work)  # fmt: skip
        elif join(state):
            _epochs(1, 1, 2, state, params1, sizes, codes, alphas, X, Y, Xv, Yv, loss_code,
                    opt_code, hyper, m1, v1, t, lrs, batch_size, shuffle, rng, train_loss,
                    val_loss, last_finite, with_cost, 2, work1)  # fmt: skip
    return done[0]


@njit(cache=True, error_model="numpy", nogil=True)
def train_epochs(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v,
                 t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite,
                 with_cost=True, parts=1, parallel=False):  # fmt: skip
    """Run ``len(lrs)`` epochs in place; stop after the first epoch with a non-finite cost.

    The arguments and the result are those of :func:`mlplab.engine.kernels.train_epochs`;
    with ``with_cost=False`` the epochs' costs are left to the caller (see :func:`cost`), and
    ``train_loss``, ``val_loss`` and ``last_finite`` are not touched. With ``parts`` 2, each
    batch's gradient is the sum of two halves' terms (:func:`mlplab.engine.halves`): where
    ``parallel``, two threads take one half each of every batch and of the costs, and each
    steps its own copy of all the parameters (:func:`_epochs`), from the first epoch to the
    last in one parallel region (starting one per step cost a fifth of a 1-64-64-1 step at
    batch 128); otherwise one thread takes both halves, one after the other. The numbers do
    not depend on ``parallel``.
    """
    n = X.shape[0]
    woff = _offsets(sizes)[1]
    block = max(batch_size, _BLOCK)
    A, Z = _buffers(sizes, params.dtype, block, parts)
    WT = _transposed(params, sizes, woff, parts)
    length = order_length(n, batch_size, shuffle)
    errors = np.empty(_blocks(n, WT) + _blocks(Xv.shape[0], WT))
    work = (A, Z, np.empty_like(A), WT, np.empty((2, 2, params.shape[0]), params.dtype),
            np.empty((2, length), np.int64), errors)  # fmt: skip
    if parallel and parts == 2:
        return _epochs_together(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code,
                                hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss,
                                val_loss, last_finite, with_cost, work)  # fmt: skip
    return _epochs(0, 0, parts, np.zeros(0, np.int64), params, sizes, codes, alphas, X, Y, Xv, Yv,
                   loss_code, opt_code, hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss,
                   val_loss, last_finite, with_cost, parts, work)  # fmt: skip

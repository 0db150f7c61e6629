"""Compiled (Numba) training loop for small networks.

Small layers are overhead-bound: a NumPy call costs about a microsecond, far more than the
arithmetic of a 2-2-3-2 network. The helpers that take arrays are inlined into the loop
(``inline="always"``): calls that pass arrays cost reference counting, which for a 2-2-3-2 step
was a third of its time. Those of scalars (the activations) are left to LLVM to inline, which
compiles them once rather than at every call. These kernels run whole epochs — batch draws,
forward pass, backprop, optimiser step and the end-of-epoch cost on the whole set — in one
compiled call over the flat parameter vector, in the same order of operations as
:meth:`mlplab.MLP.forward`, :meth:`mlplab.MLP.backward` and the optimisers of
:mod:`mlplab.optim`; :func:`train_epochs_with_lane` computes the costs in a second thread
(:mod:`mlplab.engine.lane`), to the same numbers.

Layer indexing inside the kernels is the paper's with ``l`` 0-based over widths: ``sizes[l]`` is
n_{l+1}, layer ``l`` (1..L−1) has W^[l+1] at ``woff[l-1]`` and b^[l+1] at ``boff[l-1]`` in
``params``. Work buffers hold one row per point of a batch; the columns ``col[l] : col[l] +
sizes[l]`` of ``A`` hold a^[l+1], of ``Z`` z^[l+1] and of ``D`` δ^[l+1].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mlplab.engine.atomics import join, partner
from mlplab.engine.fused import pairwise_sum
from mlplab.engine.lane import costed, finish, next_order, no_ring, publish, ring, wait_for
from mlplab.engine.orders import order_buffer
from mlplab.engine.threads import prange_only
from mlplab.engine.vsigmoid import sigmoid_inplace

#: Activation codes understood by the kernels (see :func:`mlplab.engine.spec.activation_code`).
ACT_CODES = {
    "identity": 0,
    "sigmoid": 1,
    "tanh": 2,
    "leaky_relu": 3,
    "elu": 4,
    "softplus": 5,
    "sin": 6,
    "gelu": 7,
}
#: Loss codes: mean squared error and the paper's half sum of squares.
LOSS_CODES = {"mse": 0, "half_sse": 1}
#: Optimiser codes: plain SGD, SGD with momentum, Nesterov momentum, Adam.
OPT_SGD, OPT_MOMENTUM, OPT_NESTEROV, OPT_ADAM = 0, 1, 2, 3

#: Fewest values in a batch's sigmoid layer (rows × units) that go through the vectorised
#: sigmoid in the end-of-epoch cost; below it, one libm ``exp`` per value is quicker.
VECTOR_MIN = 8

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, error_model="numpy", nogil=True)
def _sigmoid(z):
    # The formula of scipy's expit (bit for bit); exp(-z) = inf gives exactly 0.
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True, error_model="numpy", nogil=True)
def act_f(code, alpha, z):
    """σ(z) for one scalar, activation ``code`` with parameter ``alpha``."""
    if code == 0:
        return z
    if code == 1:
        return _sigmoid(z)
    if code == 2:
        return math.tanh(z)
    if code == 3:
        return z if z > 0.0 else alpha * z
    if code == 4:
        return z if z > 0.0 else alpha * math.expm1(min(z, 0.0))
    if code == 5:
        return max(z, 0.0) + math.log1p(math.exp(-abs(z)))
    if code == 6:
        return math.sin(z)
    return z * 0.5 * (1.0 + math.erf(z * _INV_SQRT2))


@njit(cache=True, error_model="numpy", nogil=True)
def act_df(code, alpha, z, a):
    """σ'(z) for one scalar, given also a = σ(z)."""
    if code == 0:
        return 1.0
    if code == 1:
        return a * (1.0 - a)
    if code == 2:
        return 1.0 - a * a
    if code == 3:
        return 1.0 if z > 0.0 else alpha
    if code == 4:
        return 1.0 if z > 0.0 else alpha * math.exp(min(z, 0.0))
    if code == 5:
        return _sigmoid(z)
    if code == 6:
        return math.cos(z)
    zc = min(max(z, -40.0), 40.0)
    return 0.5 * (1.0 + math.erf(z * _INV_SQRT2)) + z * (_INV_SQRT2PI * math.exp(-0.5 * zc * zc))


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _offsets(sizes):
    """Column offsets of each layer in the work buffers, and W/b offsets in ``params``."""
    n_layers = sizes.shape[0]
    col = np.zeros(n_layers + 1, np.int64)
    for layer in range(n_layers):
        col[layer + 1] = col[layer] + sizes[layer]
    woff = np.zeros(n_layers - 1, np.int64)
    boff = np.zeros(n_layers - 1, np.int64)
    k = 0
    for layer in range(1, n_layers):
        woff[layer - 1] = k
        k += sizes[layer] * sizes[layer - 1]
        boff[layer - 1] = k
        k += sizes[layer]
    return col, woff, boff


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _forward(params, sizes, codes, alphas, col, woff, boff, A, Z, S, rows, vectorise):
    """Forward pass on the first ``rows`` rows of ``A`` (whose first columns hold a^[1]).

    With ``vectorise`` (a constant: the training step's pass leaves it out altogether), a
    sigmoid layer with at least :data:`VECTOR_MIN` values in the block goes through the
    vectorised sigmoid, in place in the scratch ``S``
    (:func:`~mlplab.engine.vsigmoid.sigmoid_inplace`).
    """
    for layer in range(1, sizes.shape[0]):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        wo, bo, ci, co = woff[layer - 1], boff[layer - 1], col[layer - 1], col[layer]
        code, alpha = codes[layer - 1], alphas[layer - 1]
        vector = vectorise and code == 1 and rows * n_out >= VECTOR_MIN
        for r in range(rows):
            for j in range(n_out):
                s = 0.0
                w = wo + j * n_in
                for k in range(n_in):
                    s += A[r, ci + k] * params[w + k]
                z = s + params[bo + j]
                Z[r, co + j] = z
                if vector:
                    S[r * n_out + j] = z
                else:
                    A[r, co + j] = act_f(code, alpha, z)
        if vector:
            sigmoid_inplace(S, rows * n_out)
            for r in range(rows):
                for j in range(n_out):
                    A[r, co + j] = S[r * n_out + j]


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _cost(params, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z, S):
    """The cost on the whole set ``X``, ``Y`` (``mse`` or ``half_sse``), in row blocks."""
    n, block = X.shape[0], A.shape[0]
    n_in, n_out, last = sizes[0], sizes[-1], col[sizes.shape[0] - 1]
    total = 0.0
    for start in range(0, n, block):
        rows = min(block, n - start)
        for r in range(rows):
            for k in range(n_in):
                A[r, k] = X[start + r, k]
        _forward(params, sizes, codes, alphas, col, woff, boff, A, Z, S, rows, True)
        for r in range(rows):
            for j in range(n_out):
                d = A[r, last + j] - Y[start + r, j]
                total += d * d
    if loss_code == 0:
        return total / (n * n_out)
    return 0.5 * total / n


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, order, start, rows, loss_code,
              A, Z, D, S, G):  # fmt: skip
    """Backprop on the rows ``order[start : start + rows]`` of ``X``, ``Y``: the flat gradient
    into ``G``."""
    n_layers = sizes.shape[0]
    n_in0, n_out = sizes[0], sizes[-1]
    for r in range(rows):
        for k in range(n_in0):
            A[r, k] = X[order[start + r], k]
    _forward(params, sizes, codes, alphas, col, woff, boff, A, Z, S, rows, False)
    last = col[n_layers - 1]
    code, alpha = codes[n_layers - 2], alphas[n_layers - 2]
    mse_scale = 2.0 / (rows * n_out)
    for r in range(rows):
        for j in range(n_out):
            diff = A[r, last + j] - Y[order[start + r], j]
            dC_da = mse_scale * diff if loss_code == 0 else diff / rows
            D[r, last + j] = act_df(code, alpha, Z[r, last + j], A[r, last + j]) * dC_da
    for layer in range(n_layers - 1, 0, -1):
        n_in, n_o = sizes[layer - 1], sizes[layer]
        wo, bo, ci, co = woff[layer - 1], boff[layer - 1], col[layer - 1], col[layer]
        for j in range(n_o):
            for k in range(n_in):
                s = 0.0
                for r in range(rows):
                    s += D[r, co + j] * A[r, ci + k]
                G[wo + j * n_in + k] = s
            if n_o == 1:  # NumPy sums a single column pairwise, wider ones row after row
                G[bo] = pairwise_sum(D[:rows, co], 0, rows)
            else:
                s = 0.0
                for r in range(rows):
                    s += D[r, co + j]
                G[bo + j] = s
        if layer > 1:
            code, alpha = codes[layer - 2], alphas[layer - 2]
            for r in range(rows):
                for k in range(n_in):
                    s = 0.0
                    for j in range(n_o):
                        s += D[r, co + j] * params[wo + j * n_in + k]
                    D[r, ci + k] = act_df(code, alpha, Z[r, ci + k], A[r, ci + k]) * s


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _entry(G, H, k):
    """Entry ``k`` of the gradient ``G``, or of the sum ``G + H`` of two parts' terms."""
    if H is None:
        return G[k]
    return G[k] + H[k]


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def _step_row(params, G, m, v, lr, opt_code, hyper, t, H=None):
    """One optimiser step on one flat vector in place, as :class:`mlplab.SGD` /
    :class:`mlplab.Adam` compute it (step number ``t``, from 1), from the gradient ``G``, or
    from ``G + H`` where the gradient comes in two parts' terms (summed entry by entry in the
    step's own pass).

    Each optimiser has its own branch-free loop, so the compiler vectorises it. Plain SGD
    computes in the parameters' precision, as NumPy's ``p -= lr * g`` does with a Python
    float (the rate rounded to float32 for a float32 network); the others in float64.
    """
    n = params.shape[0]
    if opt_code == OPT_SGD:
        eta = params.dtype.type(lr)
        for k in range(n):
            params[k] -= eta * _entry(G, H, k)
    elif opt_code == OPT_ADAM:
        beta1, beta2, eps = hyper[1], hyper[2], hyper[3]
        c1, c2 = 1.0 - beta1, 1.0 - beta2
        step = lr / (1.0 - beta1 ** float(t))
        root2 = math.sqrt(1.0 - beta2 ** float(t))
        for k in range(n):
            g = _entry(G, H, k)
            m[k] = m[k] * beta1 + c1 * g
            v[k] = v[k] * beta2 + c2 * g * g
            params[k] -= step * m[k] / (math.sqrt(v[k]) / root2 + eps)
    elif opt_code == OPT_NESTEROV:
        mu = hyper[0]
        for k in range(n):
            g = _entry(G, H, k)
            m[k] = m[k] * mu + g
            params[k] -= lr * (g + mu * m[k])
    else:
        mu = hyper[0]
        for k in range(n):
            m[k] = m[k] * mu + _entry(G, H, k)
            params[k] -= lr * m[k]


@njit(cache=True, error_model="numpy", nogil=True)
def costs_finite(train, val, has_val):
    """Whether an epoch's training cost, and its validation cost where ``has_val``, are
    finite."""
    return math.isfinite(train) and (not has_val or math.isfinite(val))


@njit(cache=True, inline="always", error_model="numpy", nogil=True)
def record_epoch(e, train, val, has_val, train_loss, val_loss, params, last_finite):
    """Keep epoch ``e``'s costs; when they are finite, its parameters too. Whether they are."""
    train_loss[e] = train
    if has_val:
        val_loss[e] = val
    finite = costs_finite(train, val, has_val)
    if finite:  # element by element: a slice copy compiles a shape check with its message
        for k in range(params.shape[0]):
            last_finite[k] = params[k]
    return finite


@njit(cache=True, error_model="numpy", nogil=True)
def train_epochs(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v,
                 t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite):  # fmt: skip
    """Run ``len(lrs)`` epochs in place; stop after the first epoch with a non-finite cost.

    Parameters
    ----------
    params : ndarray, shape (p,)
        Updated in place.
    sizes, codes, alphas : ndarray
        Widths (L,), activation codes and parameters (L − 1,).
    X, Y : ndarray, shapes (N, n_1), (N, n_L)
    Xv, Yv : ndarray, shapes (Nv, n_1), (Nv, n_L); Nv = 0 without validation.
    loss_code, opt_code : int
    hyper : ndarray, shape (4,)
        momentum, beta1, beta2, eps.
    m, v : ndarray, shape (p,)
        Optimiser state (velocity in ``m`` for SGD with momentum; Adam's moments).
    t : ndarray, shape (1,), int64
        Step count, updated in place.
    lrs : ndarray, shape (E,)
        Learning rate of each epoch.
    batch_size : int
    shuffle : bool
        A permutation per epoch (else ``integers(0, N, (steps, batch_size))``).
    rng : numpy.random.Generator
        Draws the batches exactly as :func:`mlplab.fit` does.
    train_loss, val_loss : ndarray, shape (E,)
        Filled with the cost after each epoch.
    last_finite : ndarray, shape (p,)
        The parameters after the last epoch whose cost was finite.

    Returns
    -------
    int
        Epochs run.
    """
    return _train(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v, t,
                  lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite,
                  *no_ring(params))  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True, parallel=prange_only())
def train_epochs_with_lane(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code,
                           hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss, val_loss,
                           last_finite, lane):  # fmt: skip
    """:func:`train_epochs` with its costs computed in a second thread
    (:mod:`mlplab.engine.lane`; ``lane`` a fresh :func:`~mlplab.engine.lane.new_state`), to
    the same numbers; for where two threads run at once
    (:func:`mlplab.engine.threads.two_at_once`). After a stop on a non-finite cost, ``rng`` has
    also drawn the row orders of the epochs (at most 2 · :data:`~mlplab.engine.lane.SLOTS`)
    that the two threads ran past it."""
    snaps, steps, orders = ring(params, X.shape[0], batch_size, shuffle)
    done = np.zeros(1, np.int64)
    for h in prange(2):
        if h == 0:
            done[0] = _train(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code,
                             hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss, val_loss,
                             last_finite, lane, snaps, steps, orders)  # fmt: skip
        else:
            _lane_costs(sizes, codes, alphas, X, Y, Xv, Yv, loss_code, max(batch_size, 64), lane,
                        snaps, lrs.shape[0], train_loss, val_loss, last_finite, rng,
                        shuffle, orders)  # fmt: skip
    return done[0]


@njit(cache=True, error_model="numpy", nogil=True)
def _train(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v, t, lrs,
           batch_size, shuffle, rng, train_loss, val_loss, last_finite, state, snaps, steps_at,
           orders):  # fmt: skip
    """The epochs of :func:`train_epochs`: the costs computed here, or, with a ``state`` whose
    cost thread has joined (:func:`mlplab.engine.atomics.partner`), published to it, and the row
    orders drawn by it (into ``orders``)."""
    together = state.shape[0] > 0 and partner(state)
    n = X.shape[0]
    col, woff, boff = _offsets(sizes)
    width = col[-1]
    block = max(batch_size, 64)
    A = np.empty((block, width), params.dtype)
    Z = np.empty((block, width), params.dtype)
    D = np.empty((block, width), params.dtype)
    S = np.empty(block * np.max(sizes), params.dtype)
    G = np.empty_like(params)
    steps = (n + batch_size - 1) // batch_size
    has_val = Xv.shape[0] > 0
    own = order_buffer(n, batch_size, shuffle)
    for e in range(lrs.shape[0]):
        lr = lrs[e]
        order = next_order(together, state, e, rng, n, shuffle, own, orders)
        if order.shape[0] == 0:  # the cost thread stopped the run meanwhile
            break
        for s in range(steps):
            start = s * batch_size
            rows = min(batch_size, order.shape[0] - start)
            _gradient(params, sizes, codes, alphas, col, woff, boff, X, Y, order, start, rows,
                      loss_code, A, Z, D, S, G)  # fmt: skip
            t[0] += 1
            _step_row(params, G, m, v, lr, opt_code, hyper, t[0])
        if together:
            if publish(state, snaps, steps_at, e, params, m, v, t) != 0:
                break
            continue
        tl = _cost(params, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z, S)
        vl = 0.0
        if has_val:
            vl = _cost(params, sizes, codes, alphas, col, woff, boff, Xv, Yv, loss_code, A, Z,
                       S)  # fmt: skip
        if not record_epoch(e, tl, vl, has_val, train_loss, val_loss, params, last_finite):
            return e + 1
    if together:
        return finish(state, snaps, steps_at, lrs.shape[0], params, m, v, t)
    return lrs.shape[0]


@njit(cache=True, error_model="numpy", nogil=True)
def _lane_costs(sizes, codes, alphas, X, Y, Xv, Yv, loss_code, block, state, snaps, epochs,
                train_loss, val_loss, last_finite, rng, shuffle, orders):  # fmt: skip
    """The cost thread of :func:`train_epochs`: each published epoch's costs, in buffers of its
    own, until the last epoch or a non-finite cost; and the row orders of the epochs ahead."""
    if not join(state):
        return
    col, woff, boff = _offsets(sizes)
    A = np.empty((block, col[-1]), snaps.dtype)
    Z = np.empty_like(A)
    S = np.empty(block * np.max(sizes), snaps.dtype)
    has_val = Xv.shape[0] > 0
    for e in range(epochs):
        p = snaps[wait_for(state, e, rng, X.shape[0], shuffle, orders, epochs), 0]
        tl = _cost(p, sizes, codes, alphas, col, woff, boff, X, Y, loss_code, A, Z, S)
        vl = 0.0
        if has_val:
            vl = _cost(p, sizes, codes, alphas, col, woff, boff, Xv, Yv, loss_code, A, Z, S)
        finite = record_epoch(e, tl, vl, has_val, train_loss, val_loss, p, last_finite)
        if not costed(state, e, finite):
            return


@njit(cache=True, error_model="numpy", nogil=True)
def update_rows(params, grad, m, v, lr, opt_code, hyper, t):
    """One optimiser step on a stack of flat vectors, as :mod:`mlplab.optim` does.

    ``params``, ``grad`` have shape (M, p); ``m``, ``v`` likewise (empty where the optimiser
    keeps no such state); ``lr`` (M,) is each row's rate; ``t`` the step number (from 1).
    """
    for i in range(params.shape[0]):
        _step_row(params[i], grad[i], m[i], v[i], lr[i], opt_code, hyper, t)

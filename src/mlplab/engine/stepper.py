"""The NumPy stepper: the paper's forward pass, backprop and optimiser step on preallocated
buffers, for one network or a stack of M networks of one architecture (an ensemble).

It computes every formula by calling its one definition — ``act.f``, ``act.df`` of
:mod:`mlplab.activations`, ``loss.cost``, ``loss.dcost`` of :mod:`mlplab.losses` (on targets
``fit`` has prepared once, after the loss's check of the outputs, which the reference also
runs at every step) and the
optimiser's ``update`` (or ``step``) of :mod:`mlplab.optim` — so it runs any activation, loss or
optimiser, user-defined ones included. What it saves over the reference path is the per-step
allocation of the products: z^[l], δ^[l] and the gradient are written into buffers.

Shapes (``lead`` is ``()`` or ``(M,)``; a batch has B rows): a^[l] and z^[l] are
``(*lead, B, n_l)``, W^[l] is ``(*lead, n_l, n_{l-1})``, b^[l] is ``(*lead, n_l)``.
"""

from __future__ import annotations

import numpy as np

from mlplab.compute import matmul
from mlplab.losses import Loss
from mlplab.network import MLP
from mlplab.optim import Optimizer, apply_update

#: Rows per block of the forward pass that computes a cost on a whole set.
COST_ROWS = 256


class Buffers:
    """a^[l], z^[l] and δ^[l] for ``rows`` points (``a[0]`` is where the batch is gathered;
    the forward pass puts each σ(z^[l]) in ``a[l]`` as the activation returns it)."""

    def __init__(self, sizes: list[int], lead: tuple[int, ...], rows: int, dtype: np.dtype):
        self.a = [np.empty((*lead, rows, n), dtype) for n in sizes]
        self.z = [np.empty((*lead, rows, n), dtype) for n in sizes[1:]]
        self.delta = [np.empty((*lead, rows, n), dtype) for n in sizes[1:]]


class Stepper:
    """Forward pass, backprop and optimiser steps on preallocated buffers.

    Parameters
    ----------
    net : MLP
        Gives the architecture and activations (its parameters are not used).
    params : ndarray, shape (*lead, p)
        The flat parameters to train, updated in place.
    loss : Loss
    optimizer : Optimizer
        Its ``update`` formula and hyper-parameters; the state arrays are kept here, one row
        per network, from zero and step 0 (for a single network, the optimiser's own arrays
        and step count).
    """

    def __init__(self, net: MLP, params: np.ndarray, loss: Loss, optimizer: Optimizer) -> None:
        self.sizes = net.sizes
        self.activations = net.activations
        self.params = params
        self.lead = params.shape[:-1]
        self.loss = loss
        self.optimizer = optimizer
        self.weights, self.biases = net.unflatten(params)
        self.grad = np.zeros_like(params)
        self.gW, self.gb = net.unflatten(self.grad)
        if self.lead:  # a stack starts afresh: zero state, step count 0
            self.state = tuple(np.zeros_like(params) for _ in optimizer.state_names)
            self.t = 0
        else:
            self.state = optimizer.state(params)
            self.t = optimizer.t
        self._buffers: dict[int, Buffers] = {}
        self._outputs: dict[int, np.ndarray] = {}
        # full-batch epochs: the buffers of all N rows, the training set, and the parameters
        # the forward pass in the buffers ran at (None: no pass to reuse)
        self._whole: Buffers | None = None
        self._whole_X: np.ndarray | None = None
        self._forward_params: np.ndarray | None = None

    def buffers(self, rows: int) -> Buffers:
        """The (cached) buffers for a batch of ``rows`` points."""
        if rows not in self._buffers:
            self._buffers[rows] = Buffers(self.sizes, self.lead, rows, self.params.dtype)
        return self._buffers[rows]

    def forward(self, buf: Buffers) -> np.ndarray:
        """The forward pass from ``buf.a[0]``; returns a^[L], shape ``(*lead, rows, n_L)``."""
        for i, (W, b, act) in enumerate(
            zip(self.weights, self.biases, self.activations, strict=True)
        ):
            z = buf.z[i]
            matmul(buf.a[i], W.swapaxes(-1, -2), out=z)
            z += b[..., None, :]
            buf.a[i + 1] = act.f(z)
        return buf.a[-1]

    def _per_network(self, fn, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``fn(a, t)`` for one network, or network by network for a stack."""
        if not self.lead:
            return np.asarray(fn(a, t))
        shared = t.ndim < a.ndim  # one set of targets for every network
        return np.stack([np.asarray(fn(a[m], t if shared else t[m])) for m in range(a.shape[0])])

    def gradient(self, buf: Buffers, t: np.ndarray) -> None:
        """Backprop for the batch in ``buf`` (forward pass included) into ``self.grad``.

        ``t`` holds the batch's targets as ``loss.cost`` takes them, shape ``(*lead, rows, n_L)``.
        """
        self.forward(buf)
        self.backward(buf, t)

    def backward(self, buf: Buffers, t: np.ndarray) -> None:
        """Backprop into ``self.grad`` from the forward pass held in ``buf``."""
        a_L = buf.a[-1]
        last = len(self.weights) - 1
        delta = buf.delta[last]
        self.loss.check_outputs(a_L)
        delta[...] = self._per_network(self.loss.dcost, a_L, t)
        delta *= self.activations[last].derivative(buf.z[last], buf.a[last + 1])
        for i in range(last, -1, -1):
            delta = buf.delta[i]
            matmul(delta.swapaxes(-1, -2), buf.a[i], out=self.gW[i])
            np.sum(delta, axis=-2, out=self.gb[i])
            if i > 0:
                below = buf.delta[i - 1]
                matmul(delta, self.weights[i], out=below)
                below *= self.activations[i - 1].derivative(buf.z[i - 1], buf.a[i])

    def epoch(
        self,
        X: np.ndarray,
        T: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        lr: float | np.ndarray,
        shuffled: bool,
    ) -> None:
        """One epoch of optimiser steps on the training set ``X`` (N, n_1), ``T`` (N, n_L).

        Parameters
        ----------
        order : ndarray of int, shape (*lead, M)
            The epoch's point indices, drawn by :class:`mlplab.train.BatchDraws`; batch k is
            ``order[..., k*B:(k+1)*B]``.
        batch_size : int
            B.
        lr : float or ndarray
            As for :meth:`update`.
        shuffled : bool
            Whether each row of ``order`` is a permutation of the N points.

        Notes
        -----
        One batch that holds every point (``shuffled`` and B >= N) has the same gradient in any
        row order, up to the rounding of its sums: the rows are then taken as ``X`` holds them,
        and the forward pass is the one :meth:`cost` ran on ``X`` at the same parameters, so a
        full-batch epoch makes one forward pass, not two.
        """
        n = X.shape[0]
        if shuffled and batch_size >= n:
            if self._whole is None or self._whole.a[0].shape[-2] != n:
                self._whole = Buffers(self.sizes, self.lead, n, self.params.dtype)
                self._forward_params = None
            if not self._holds_forward_of(X):
                self._whole.a[0][...] = X
                self.forward(self._whole)
            self._whole_X = X
            self.backward(self._whole, T)
            self.update(lr)
            return
        for start in range(0, order.shape[-1], batch_size):
            batch = order[..., start : start + batch_size]
            buf = self.buffers(batch.shape[-1])
            np.take(X, batch, axis=0, out=buf.a[0])
            self.gradient(buf, T[batch])
            self.update(lr)

    def _holds_forward_of(self, X: np.ndarray) -> bool:
        """Whether the full-batch buffers hold the forward pass of ``X`` at the parameters as
        they are now (the same array, with the same values, at the same parameters)."""
        return (
            self._forward_params is not None
            and X is self._whole_X
            and np.array_equal(self._whole.a[0][(0,) * len(self.lead)], X)
            and np.array_equal(self._forward_params, self.params, equal_nan=True)
        )

    def update(self, lr: float | np.ndarray) -> None:
        """One optimiser step on ``params`` from ``grad`` (``lr`` a float, or ``(M, 1)`` rates
        for a stack: the update formulas are elementwise, so they broadcast)."""
        if self.optimizer.update is Optimizer.update and not self.lead:
            self.optimizer.step(self.params, self.grad)  # a subclass with its own step only
            self.t = self.optimizer.t
            return
        self.t += 1
        apply_update(self.optimizer.update, self.params, self.grad, lr, self.t, self.state,
                     self.optimizer.hyper())  # fmt: skip

    def cost(self, X: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The cost on the whole set ``X`` (N, n_1) with targets ``t``; shape ``lead``.

        The forward pass runs in blocks of :data:`COST_ROWS` rows (arrays that stay in cache);
        the loss's ``cost`` then sees all N outputs at once, as in the reference. On the
        training set of full-batch epochs (see :meth:`epoch`) it runs on all rows at once and
        is kept for the next epoch's gradient.
        """
        if X is self._whole_X:
            self._whole.a[0][...] = X
            out = self.forward(self._whole)
            self._forward_params = self.params.copy()
            self.loss.check_outputs(out)
            return self._per_network(self.loss.cost, out, t)
        n = X.shape[0]
        if n not in self._outputs:
            self._outputs[n] = np.empty((*self.lead, n, self.sizes[-1]), self.params.dtype)
        out = self._outputs[n]
        for start in range(0, n, COST_ROWS):
            rows = min(COST_ROWS, n - start)
            buf = self.buffers(rows)
            buf.a[0][...] = X[start : start + rows]
            out[..., start : start + rows, :] = self.forward(buf)
        self.loss.check_outputs(out)
        return self._per_network(self.loss.cost, out, t)

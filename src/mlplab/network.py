"""The multilayer perceptron in the notation of Higham & Higham (SIAM Review, 2019).

A network has L layers of widths n_1, ..., n_L; layer 1 is the input::

    a^[1] = x,   z^[l] = W^[l] a^[l-1] + b^[l],   a^[l] = σ_l(z^[l]),   l = 2, ..., L.

Arrays hold a batch of N points as rows, so z^[l] is computed as ``a_prev @ W.T + b``.

Indexing (0-based Python lists)
-------------------------------
``weights[i]`` and ``biases[i]`` are W^[i+2] and b^[i+2]; ``cache.z[i]`` is z^[i+2] and
``cache.a[i]`` is a^[i+1] (so ``cache.a[0]`` is the input and ``cache.a[-1]`` the output).
All weights and biases are views into one flat parameter vector ``params`` (order W^[2], b^[2],
W^[3], b^[3], ...), which the optimisers update in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab.activations import Activation, get_activation
from mlplab.compute import each_block, matmul
from mlplab.errors import MlplabError
from mlplab.init import Initializer, get_initializer
from mlplab.limits import check_bytes
from mlplab.losses import Loss, get_loss
from mlplab.values import as_array, as_real, check_seed, is_listing

if TYPE_CHECKING:
    from mlplab.second_order import Derivatives

_DTYPES = {"float64": np.float64, "float32": np.float32}

#: Rows per block of the input-derivative recursions (bounded memory, cache-sized arrays).
BLOCK_ROWS = 1024


@dataclass
class Cache:
    """Everything the forward pass computed, in the paper's notation.

    Attributes
    ----------
    a : list of ndarray
        ``a[i]`` is a^[i+1], shape ``(N, n_{i+1})``; ``a[0]`` is the input x.
    z : list of ndarray
        ``z[i]`` is z^[i+2], shape ``(N, n_{i+2})``; ``a[i+1] = σ(z[i])``.
    delta : list of ndarray
        Empty until :meth:`MLP.backward` runs on this cache; then ``delta[i]`` is
        δ^[i+2] = ∂C/∂z^[i+2], shape ``(N, n_{i+2})`` (the same indexing as ``z``).
    """

    a: list[np.ndarray]
    z: list[np.ndarray]
    delta: list[np.ndarray] = field(default_factory=list)

    @property
    def output(self) -> np.ndarray:
        """a^[L], shape ``(N, n_L)``."""
        return self.a[-1]


def resolve_dtype(dtype: str | type | np.dtype) -> np.dtype:
    """Return ``float64`` or ``float32`` as a NumPy dtype, or raise with the valid names."""
    try:
        key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:  # 5, an object: NumPy's "Cannot interpret '5' as a data type"
        key = None
    if key not in _DTYPES:
        raise MlplabError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return np.dtype(_DTYPES[key])


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    if not is_listing(sizes):
        raise MlplabError(f"sizes must be a list of layer widths, e.g. [1, 64, 1]; got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise MlplabError(
            f"sizes must list at least an input and an output width, e.g. [1, 64, 1]; got {sizes}"
        )
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise MlplabError(f"every layer width must be a whole number >= 1; got sizes={sizes}")
    return [int(n) for n in sizes]


def _layer_activations(
    n_layers: int,
    activation: str | Activation | Sequence[str | Activation],
    output_activation: str | Activation | None,
) -> list[Activation]:
    """One activation per layer l = 2..L (``n_layers`` = L − 1 of them)."""
    if not (isinstance(activation, (str, Activation)) or is_listing(activation)):
        raise MlplabError(
            f"activation must be a name such as 'tanh', an Activation, or a list of them; "
            f"got {activation!r}"
        )
    if isinstance(activation, (str, Activation)):
        hidden = [get_activation(activation)] * (n_layers - 1)
        out = get_activation("identity" if output_activation is None else output_activation)
        return [*hidden, out]
    acts = [get_activation(a) for a in activation]
    if len(acts) == n_layers and output_activation is None:
        return acts
    if len(acts) == n_layers - 1:
        out = get_activation("identity" if output_activation is None else output_activation)
        return [*acts, out]
    raise MlplabError(
        f"a list of activations needs one per hidden layer ({n_layers - 1}), plus "
        f"output_activation, or one per layer ({n_layers}) with output_activation=None; "
        f"got {len(acts)}"
    )


class MLP:
    """A fully connected network with hand-written backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``[n_1, ..., n_L]``; ``n_1`` is the input dimension, ``n_L`` the output.
    activation : str, Activation or sequence of them, default "tanh"
        σ for the hidden layers, or a list with one per hidden layer (then the output layer takes
        ``output_activation``) or one per layer l = 2..L (then ``output_activation`` must be None).
    output_activation : str or Activation, optional
        σ of layer L; ``None`` means ``"identity"`` (unless a full list is given above).
    init : str or Initializer, default "xavier_normal"
        Weight initialiser; see :mod:`mlplab.init` (e.g. ``"he_normal"``, ``"normal:0,0.5"``).
    bias_init : float, str or Initializer, default 0.0
        A constant for every bias, or an initialiser name.
    seed : int, optional
        Seed of the ``numpy.random.Generator`` that draws W^[2], b^[2], W^[3], ... in that order.
    dtype : {"float64", "float32"}, default "float64"

    Examples
    --------
    >>> net = MLP([1, 64, 64, 1], activation="tanh", seed=0)
    >>> net(np.linspace(-1, 1, 5)).shape
    (5, 1)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Activation | Sequence[str | Activation] = "tanh",
        output_activation: str | Activation | None = None,
        init: str | Initializer = "xavier_normal",
        bias_init: float | str | Initializer = 0.0,
        seed: int | None = None,
        dtype: str = "float64",
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.activations = _layer_activations(len(self.sizes) - 1, activation, output_activation)
        self.dtype = resolve_dtype(dtype)
        check_bytes(
            f"a network of layer widths {self.sizes} (p = {self.num_parameters} parameters, "
            f"with their gradient and two optimiser moments)",
            4 * self.num_parameters * self.dtype.itemsize,
        )
        self.init = get_initializer(init)
        self.bias_init = get_initializer(bias_init)
        self.seed = check_seed(seed)
        self._params = np.zeros(self.num_parameters, dtype=self.dtype)
        self.weights, self.biases = self.unflatten(self._params)
        rng = np.random.default_rng(seed)
        with np.errstate(over="ignore", invalid="ignore"):  # a draw beyond the dtype: below
            for W, b in zip(self.weights, self.biases, strict=False):
                n_out, n_in = W.shape
                W[...] = self.init(rng, W.shape, n_in, n_out)
                b[...] = self.bias_init(rng, b.shape, n_in, n_out)
        if not np.all(np.isfinite(self._params)):
            raise MlplabError(
                f"init={self.init.name!r} and bias_init={self.bias_init.name!r} drew values "
                f"beyond the range of {self.dtype} (about ±{np.finfo(self.dtype).max:.2g}); "
                f"give a smaller scale"
            )

    # --- shapes and parameter layout ---------------------------------------------------------

    @property
    def params(self) -> np.ndarray:
        """The flat vector of all weights and biases, shape (p,): W^[2] row by row, b^[2],
        W^[3], ... ``weights`` and ``biases`` are views into it, so it is changed in place
        (``net.params[:] = v``, or :meth:`set_params`), never replaced."""
        return self._params

    @params.setter
    def params(self, value: np.ndarray) -> None:
        if value is self._params:  # net.params *= 0.9 and the like: changed in place already
            return
        raise AttributeError(
            "net.params cannot be replaced: the weights and biases are views into it. Change "
            "it in place with net.params[:] = values or net.set_params(values)"
        )

    @property
    def L(self) -> int:
        """Number of layers, the input layer included (the paper's L)."""
        return len(self.sizes)

    @property
    def num_parameters(self) -> int:
        """p, the number of weights and biases."""
        return sum(
            n_out * (n_in + 1) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=False)
        )

    def unflatten(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of a flat vector of length p as ``(weights, biases)`` lists.

        ``flat`` may carry leading axes (e.g. ``(M, p)`` for M models); the views then keep them:
        weight ``i`` has shape ``(..., n_{i+2}, n_{i+1})``.
        """
        weights, biases = [], []
        lead = flat.shape[:-1]
        k = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=False):
            weights.append(flat[..., k : k + n_out * n_in].reshape(*lead, n_out, n_in))
            k += n_out * n_in
            biases.append(flat[..., k : k + n_out])
            k += n_out
        return weights, biases

    # --- input checks ------------------------------------------------------------------------

    def check_input(self, X: np.ndarray, name: str = "X") -> np.ndarray:
        """Return ``X`` as a finite array of shape ``(N, n_1)`` in the network's dtype.

        A 1-D array of length N is read as N points when n_1 == 1.

        Raises
        ------
        MlplabError
            If the width is not n_1, the rows differ in length, or ``X`` holds NaN, inf or
            values that are not real numbers; the message says how to fix it.
        """
        X = as_real(X, self.dtype, name)
        n_in = self.sizes[0]
        if X.ndim == 1 and n_in == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != n_in:
            hint = " (use X.reshape(1, -1) for a single point)" if X.ndim == 1 else ""
            raise MlplabError(
                f"{name} has shape {X.shape} but this network takes inputs of shape (N, {n_in}): "
                f"one row per point, {n_in} column(s){hint}"
            )
        if not np.all(np.isfinite(X)):
            bad = int(np.count_nonzero(~np.isfinite(X)))
            raise MlplabError(f"{name} contains {bad} NaN or inf value(s); remove or impute them")
        return X

    def check_batch(self, n_points: int, what: str = "the training set") -> None:
        """Refuse a forward pass over ``n_points`` rows whose z^[l] and a^[l] would not fit
        the memory limit of :mod:`mlplab.limits`.

        Raises
        ------
        SizeError
        """
        check_bytes(
            lambda: (
                f"a forward pass over {what} ({n_points} points through layers of widths "
                f"{self.sizes}, keeping z^[l] and a^[l])"
            ),
            2.0 * n_points * sum(self.sizes) * self.dtype.itemsize,
        )

    def check_target(self, y: np.ndarray, loss: Loss, n_points: int, name: str = "y") -> np.ndarray:
        """Return ``y`` as a finite array matching the output layer (see :meth:`check_input`)."""
        y = as_array(y, name)
        n_out = self.sizes[-1]
        if loss.integer_targets and y.ndim == 1 and n_out > 1:
            target = as_real(y, y.dtype, name)  # class labels, refused unless real numbers
        else:
            y = as_real(y, self.dtype, name)
            target = y.reshape(-1, 1) if (y.ndim == 1 and n_out == 1) else y
            if target.ndim != 2 or target.shape[1] != n_out:
                raise MlplabError(
                    f"{name} has shape {y.shape} but the network has {n_out} output(s): expected "
                    f"({n_points}, {n_out})"
                    + (" or integer labels of shape (N,)" if loss.integer_targets else "")
                )
        if target.shape[0] != n_points:
            raise MlplabError(f"{name} has {target.shape[0]} rows but X has {n_points}")
        if not np.all(np.isfinite(target)):
            raise MlplabError(f"{name} contains NaN or inf values; remove or impute them")
        return target

    # --- forward -----------------------------------------------------------------------------

    def forward(self, X: np.ndarray) -> Cache:
        """Run the network and keep every z^[l] and a^[l].

        Parameters
        ----------
        X : ndarray, shape (N, n_1)

        Returns
        -------
        Cache
            ``cache.a[i]`` = a^[i+1] (N, n_{i+1}) and ``cache.z[i]`` = z^[i+2] (N, n_{i+2}).
        """
        a = [self.check_input(X)]
        self.check_batch(a[0].shape[0], "X")
        z = []
        for W, b, act in zip(self.weights, self.biases, self.activations, strict=False):
            z.append(matmul(a[-1], W.T) + b)
            a.append(act.f(z[-1]))
        return Cache(a, z)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The output a^[L] for each row of ``X``, shape ``(N, n_L)``."""
        a = self.check_input(X)
        for W, b, act in zip(self.weights, self.biases, self.activations, strict=False):
            a = act.f(matmul(a, W.T) + b)
        return a

    # --- backward ----------------------------------------------------------------------------

    def backward(
        self, cache: Cache, dC_da: np.ndarray, out: np.ndarray | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Backpropagation: the gradient of C with respect to every W^[l] and b^[l].

        With δ^[L] = σ'(z^[L]) ∘ ∂C/∂a^[L] and δ^[l] = σ'(z^[l]) ∘ (W^[l+1])ᵀ δ^[l+1]:
        ∂C/∂W^[l] = Σ_points δ^[l] (a^[l-1])ᵀ and ∂C/∂b^[l] = Σ_points δ^[l].

        Parameters
        ----------
        cache : Cache
            From :meth:`forward`.
        dC_da : ndarray, shape (N, n_L)
            ∂C/∂a^[L] for every point (a loss's ``grad``), already holding any 1/N factor.
        out : ndarray, shape (p,), optional
            Flat buffer to write the gradient into (same layout as ``params``).

        Returns
        -------
        gW, gb : lists of ndarray
            Shaped like ``weights`` and ``biases``; views into one flat gradient vector.

        Raises
        ------
        MlplabError
            If ``cache`` holds another architecture's pass, ``dC_da`` is not real numbers of
            the shape of ``cache.output`` (it is taken in the network's dtype), or ``out`` is
            not a vector of p numbers in the network's dtype.

        Notes
        -----
        Every δ^[l] is kept in ``cache.delta`` (``cache.delta[i]`` is δ^[i+2], shape
        ``(N, n_{i+2})``, indexed as ``cache.z``); a second call replaces them.
        """
        widths = [a.shape[-1] for a in cache.a]
        if widths != self.sizes:
            raise MlplabError(
                f"the cache holds a forward pass through layer widths {widths}, not this "
                f"network's {self.sizes}: pass the cache of this network's forward(X)"
            )
        dC_da = as_real(dC_da, self.dtype, "dC_da")
        if out is not None and not (
            isinstance(out, np.ndarray)
            and out.shape == self.params.shape
            and out.dtype == self.dtype
        ):
            raise MlplabError(
                f"out must be an array like params, np.empty_like(net.params); got "
                f"{type(out).__name__} of shape {np.shape(out)}"
            )
        if dC_da.shape != cache.output.shape:
            raise MlplabError(
                f"dC_da has shape {dC_da.shape} but the outputs a^[L] have shape "
                f"{cache.output.shape}: pass one row per point, e.g. loss.grad(cache.output, y)"
            )
        g = np.empty_like(self.params) if out is None else out
        gW, gb = self.unflatten(g)
        deltas = [np.empty(0)] * len(self.weights)
        delta = self.activations[-1].derivative(cache.z[-1], cache.a[-1]) * dC_da
        for i in range(len(self.weights) - 1, -1, -1):
            deltas[i] = delta
            matmul(delta.T, cache.a[i], out=gW[i])
            np.sum(delta, axis=0, out=gb[i])
            if i > 0:
                slope = self.activations[i - 1].derivative(cache.z[i - 1], cache.a[i])
                delta = slope * matmul(delta, self.weights[i])
        cache.delta = deltas
        return gW, gb

    def loss_gradient(
        self, X: np.ndarray, y: np.ndarray, loss: str | Loss = "mse", out: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """The cost C and its gradient as one flat vector of length p.

        Parameters
        ----------
        X : ndarray, shape (N, n_1)
        y : ndarray, shape (N, n_L), or (N,) labels for cross-entropy
        loss : str or Loss
        out : ndarray, shape (p,), optional
            Buffer for the gradient.

        Returns
        -------
        value : float
        grad : ndarray, shape (p,)
            Same layout as :attr:`params`.
        """
        loss = get_loss(loss)
        cache = self.forward(X)
        y = self.check_target(y, loss, cache.a[0].shape[0])
        g = np.empty_like(self.params) if out is None else out
        self.backward(cache, loss.grad(cache.output, y), out=g)
        return loss.value(cache.output, y), g

    def loss(self, X: np.ndarray, y: np.ndarray, loss: str | Loss = "mse") -> float:
        """The cost C over the points ``X`` with targets ``y``."""
        loss = get_loss(loss)
        a = self(X)
        return loss.value(a, self.check_target(y, loss, a.shape[0]))

    # --- derivatives with respect to the input -----------------------------------------------

    def input_gradient(self, X: np.ndarray) -> np.ndarray:
        """∇a^[L](x) for every row x of ``X``, for a scalar output (n_L = 1).

        Runs the paper's recursion on a block of rows at once: Δ^[L] = 1,
        Δ^[l-1] = (W^[l])ᵀ (σ'(z^[l]) ∘ Δ^[l]), ∇a^[L](x) = Δ^[1]; blocks of
        :data:`BLOCK_ROWS` rows keep the intermediate arrays in cache and the extra memory bounded,
        and spread over the cores on one BLAS thread each (:func:`mlplab.compute.each_block`).

        Parameters
        ----------
        X : ndarray, shape (N, n_1)

        Returns
        -------
        ndarray, shape (N, n_1)
        """
        if self.sizes[-1] != 1:
            raise MlplabError(
                f"input_gradient needs a scalar output (n_L = 1) but this network has "
                f"{self.sizes[-1]} outputs; use input_jacobian(X) for the (N, n_L, n_1) Jacobian"
            )
        X = self.check_input(X)
        out = np.empty_like(X)

        def one(block: slice) -> None:
            out[block] = self.input_gradient_recursion(self.forward(X[block]))[0]

        each_block(X.shape[0], BLOCK_ROWS, one)
        return out

    def input_gradient_recursion(self, cache: Cache) -> list[np.ndarray]:
        """Every Δ^[l] of the input-gradient recursion, for a scalar output (n_L = 1).

        Δ^[L] = 1 and Δ^[l-1] = (W^[l])ᵀ (σ'(z^[l]) ∘ Δ^[l]) for l = L, ..., 2, so that
        Δ^[1] = ∇a^[L](x).

        Parameters
        ----------
        cache : Cache
            From :meth:`forward` on N points.

        Returns
        -------
        list of ndarray
            ``Delta[i]`` is Δ^[i+1], shape ``(N, n_{i+1})`` (indexed as ``cache.a``).
        """
        if self.sizes[-1] != 1:
            raise MlplabError(
                f"the input-gradient recursion needs a scalar output (n_L = 1) but this network "
                f"has {self.sizes[-1]} outputs"
            )
        Delta = [np.ones_like(cache.output)]
        for i in range(len(self.weights) - 1, -1, -1):
            slope = self.activations[i].derivative(cache.z[i], cache.a[i + 1])
            Delta.insert(0, matmul(slope * Delta[0], self.weights[i]))
        return Delta

    def input_jacobian(self, X: np.ndarray) -> np.ndarray:
        """∂a^[L]/∂x for every row of ``X``.

        J(x) = (D^[L] W^[L]) (D^[L-1] W^[L-1]) ... (D^[2] W^[2]) with D^[l] = diag(σ'(z^[l])),
        accumulated from the output side so that each step is one batched product.

        Parameters
        ----------
        X : ndarray, shape (N, n_1)

        Returns
        -------
        ndarray, shape (N, n_L, n_1)
            ``J[k, i, j]`` = ∂a^[L]_i / ∂x_j at point k.
        """
        X = self.check_input(X)
        n_out = self.sizes[-1]
        check_bytes(
            f"the input Jacobians at {X.shape[0]} points (each {n_out} × up to "
            f"{max(self.sizes)}, beside the forward pass)",
            2.0 * X.shape[0] * (n_out * max(self.sizes) + sum(self.sizes)) * self.dtype.itemsize,
            "pass fewer points at a time",
        )
        cache = self.forward(X)
        J = np.broadcast_to(np.eye(n_out, dtype=self.dtype), (cache.a[0].shape[0], n_out, n_out))
        for i in range(len(self.weights) - 1, -1, -1):
            slope = self.activations[i].derivative(cache.z[i], cache.a[i + 1])
            J = matmul(J * slope[:, None, :], self.weights[i])
        return J

    def trace(self, x: np.ndarray, y: np.ndarray, loss: str | Loss = "half_sse", lr: float = 0.05):
        """Every number of one gradient step on the point(s) ``x``, with its formula.

        See :func:`mlplab.trace.trace`; the network is not changed.

        Returns
        -------
        mlplab.trace.Trace
            Prints as a table; ``to_markdown()``, ``to_html()``, ``to_dict()`` render it.
        """
        from mlplab.trace import trace

        return trace(self, x, y, loss=loss, lr=lr)

    # --- second derivatives with respect to the input (mlplab.second_order) ------------------

    def input_derivatives(self, X: np.ndarray, operators: Sequence[np.ndarray] = ()) -> Derivatives:
        """a^[L], ∂a^[L]/∂x and K operators 𝓛_k a^[L] = Σ_ij c^k_ij ∂²a^[L]/∂x_i∂x_j, in one sweep.

        The forward recursion of :mod:`mlplab.second_order`, with J^[1] = I, S^[1] = 0:
        J^[l] = σ'(z^[l]) ∘ W^[l] J^[l-1] and
        S^[l] = σ'(z^[l]) ∘ W^[l] S^[l-1] + σ''(z^[l]) ∘ Σ_ij c_ij Ż^[l]_i ∘ Ż^[l]_j,
        Ż^[l] = W^[l] J^[l-1]; run in blocks of rows (bounded memory).

        Parameters
        ----------
        X : ndarray, shape (N, n_1)
        operators : sequence of (n_1, n_1) arrays
            The coefficient matrices c^k (``np.eye(n_1)`` is the Laplacian).

        Returns
        -------
        mlplab.second_order.Derivatives
            ``u`` (N, n_L), ``du`` (N, n_L, n_1), ``d2`` (N, n_L, K).
        """
        from mlplab import second_order

        return second_order.derivatives(self, X, operators)

    def laplacian(self, X: np.ndarray) -> np.ndarray:
        """Δa^[L](x) = Σ_i ∂²a^[L]/∂x_i² at every row, without forming the Hessian.

        The forward recursion ℓ^[1] = 0, ℓ^[l] = σ'(z^[l]) ∘ (W^[l] ℓ^[l-1]) +
        σ''(z^[l]) ∘ rowsum((W^[l] J^[l-1])²); Δa^[L] = ℓ^[L].

        Returns
        -------
        ndarray, shape (N,) for n_L = 1, else (N, n_L)
        """
        from mlplab.second_order import laplacian_coefficients

        d2 = self.input_derivatives(X, [laplacian_coefficients(self.sizes[0])]).d2[:, :, 0]
        return d2[:, 0] if self.sizes[-1] == 1 else d2

    def second_operator(self, X: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        """Σ_ij c_ij ∂²a^[L]/∂x_i∂x_j at every row, for one (n_1, n_1) matrix c.

        Returns
        -------
        ndarray, shape (N,) for n_L = 1, else (N, n_L)

        Raises
        ------
        MlplabError
            For a ``c`` that is not an (n_1, n_1) matrix of finite real numbers.
        """
        d2 = self.input_derivatives(X, [coefficients]).d2[:, :, 0]
        return d2[:, 0] if self.sizes[-1] == 1 else d2

    def second_partials(self, X: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
        """Chosen second partials ∂²a^[L]/∂x_i∂x_j (0-based i, j), e.g. ``[(1, 1)]`` for u_xx
        of a network of (t, x).

        Returns
        -------
        ndarray, shape (N, len(pairs)) for n_L = 1, else (N, n_L, len(pairs))

        Raises
        ------
        MlplabError
            For a pair that is not two input indices in range, or too many pairs for memory.
        """
        from mlplab.second_order import partial_coefficients

        n_in = self.sizes[0]
        # each pair is an operator with an (n_1, n_1) matrix of coefficients, held three times
        check_bytes(
            f"{len(pairs)} second partials of a network with {n_in} inputs",
            8.0 * len(pairs) * (3 * n_in * n_in + len(pairs)),
            "ask for the partials you need (second_partials), or the Laplacian (laplacian)",
        )
        coefficients = []
        for pair in pairs:
            try:
                i, j = pair
            except (TypeError, ValueError):
                raise MlplabError(
                    f"pairs holds {pair!r}; each pair is two 0-based input indices (i, j), "
                    f"e.g. [(0, 0), (0, 1)] for u_00 and u_01"
                ) from None
            coefficients.append(partial_coefficients(i, j, n_in))
        d2 = self.input_derivatives(X, coefficients).d2
        return d2[:, 0] if self.sizes[-1] == 1 else d2

    def input_hessian(self, X: np.ndarray) -> np.ndarray:
        """∂²a^[L]/∂x∂x at every row, by the forward recursion for each pair i ≤ j:
        ∂_ij a^[l] = σ'(z^[l]) ∘ W^[l] ∂_ij a^[l-1] + σ''(z^[l]) ∘ Ż^[l]_i ∘ Ż^[l]_j.

        Returns
        -------
        ndarray, shape (N, n_1, n_1) for n_L = 1, else (N, n_L, n_1, n_1)
        """
        n_in = self.sizes[0]
        i, j = np.triu_indices(n_in)
        d2 = self.second_partials(X, list(zip(i.tolist(), j.tolist(), strict=True)))
        H = np.empty((*d2.shape[:-1], n_in, n_in), dtype=d2.dtype)
        H[..., i, j] = d2
        H[..., j, i] = d2
        return H

    # --- copies, files, display --------------------------------------------------------------

    def copy(self) -> MLP:
        """An independent copy with the same architecture and parameters."""
        return self.astype(self.dtype)

    def astype(self, dtype: str | np.dtype) -> MLP:
        """An independent copy whose parameters are stored (and computed) in ``dtype``.

        Raises
        ------
        MlplabError
            Where a parameter lies beyond the range of ``dtype`` (float32's ±3.4e38).
        """
        params = as_real(self.params, resolve_dtype(dtype), "the network")
        return self.with_params(params.copy() if params is self.params else params)

    def with_params(self, params: np.ndarray) -> MLP:
        """This architecture with ``params``, shape (p,), as its parameters: not copied, so
        the weights and biases of the network returned are views into ``params`` (a row of an
        ensemble's stack, for instance), computed in its dtype."""
        if params.shape != self.params.shape or params.dtype not in (np.float32, np.float64):
            raise MlplabError(
                f"params has shape {params.shape} and dtype {params.dtype}; this network needs "
                f"a float vector of shape {self.params.shape}"
            )
        twin = MLP.__new__(MLP)
        twin.__dict__.update(self.__dict__)
        twin.dtype, twin._params = params.dtype, params
        twin.weights, twin.biases = twin.unflatten(params)
        return twin

    def set_params(self, flat: np.ndarray) -> None:
        """Copy a flat vector of length p into the parameters (in place)."""
        flat = as_real(flat, self.dtype, "the parameter vector")
        if flat.shape != self.params.shape:
            raise MlplabError(f"expected {self.params.shape[0]} parameters, got shape {flat.shape}")
        if not np.all(np.isfinite(flat)):
            raise MlplabError("the parameters hold NaN or inf values; give finite numbers")
        self.params[...] = flat

    def config(self) -> dict:
        """The architecture as plain JSON-ready values (what model files store)."""
        return {
            "sizes": self.sizes,
            "activations": [act.name for act in self.activations],
            "dtype": self.dtype.name,
        }

    def save(self, path: str | Path) -> Path:
        """Write the network to ``path`` (``.npz`` arrays + JSON metadata, atomically)."""
        from mlplab.io import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path, activations: dict[str, Activation] | None = None) -> MLP:
        """Read a network written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
        activations : dict, optional
            User-defined activations by name, for files that use them.
        """
        from mlplab.io import load_model

        return load_model(path, activations, cls=cls)

    def _repr_html_(self) -> str:
        from mlplab.display import mlp_html

        return mlp_html(self)

    def __repr__(self) -> str:
        acts = [a.name for a in self.activations]
        hidden = sorted(set(acts[:-1]))
        act = hidden[0] if len(hidden) == 1 else acts[:-1]
        return (
            f"MLP(sizes={self.sizes}, activation={act!r}, output_activation={acts[-1]!r}, "
            f"p={self.num_parameters}, dtype={self.dtype.name!r})"
        )

"""Second-order input derivatives by a forward recursion, and their parameter gradients.

Notation (DESIGN.md section 7; layers l = 2, ..., L; x = a^[1] has n_1 entries):

    J^[l] = ∂a^[l]/∂x  (n_l × n_1),   J^[1] = I,
    Ż^[l] = W^[l] J^[l-1],            J^[l] = σ'(z^[l]) ∘ Ż^[l]   (row-wise),

and for a second-order operator 𝓛 = Σ_ij c_ij ∂²/∂x_i∂x_j, with S^[l] = 𝓛 a^[l] and S^[1] = 0,

    S^[l] = σ'(z^[l]) ∘ (W^[l] S^[l-1]) + σ''(z^[l]) ∘ Σ_ij c_ij Ż^[l]_{:,i} ∘ Ż^[l]_{:,j}.

With c = I this is the Laplacian recursion ℓ^[l] = σ'(z^[l]) ∘ (W^[l] ℓ^[l-1]) +
σ''(z^[l]) ∘ rowsum((W^[l] J^[l-1])²): one forward sweep, no tape of the whole graph, and no
Hessian formed. A Hessian entry ∂²/∂x_i∂x_j is the operator with the single coefficient c_ij = 1.

The sweep carries, for each point, the *tangent block* T^[l] of 1 + n_1 + K rows of width n_l:
a^[l], the n_1 columns of J^[l] and the K operators' S^[l]. Every row goes through the same
weights, so one matrix product per layer, T^[l-1] (W^[l])ᵀ, gives z^[l], Ż^[l] and W^[l] S^[l-1]
at once; the bias enters z^[l] only.

Parameter gradients run the sweep backwards (reverse mode through the forward recursion; the
derivation is in ``docs/pde.md``): given the adjoint T̄^[L] = ∂C/∂T^[L] of a cost C, each layer
takes the adjoints ā^[l], J̄^[l], S̄^[l] to

    Ṡ̄ = σ' ∘ S̄,   Q̄ = σ'' ∘ S̄,
    Ż̄_i = σ' ∘ J̄_i + Σ_j (c_ij + c_ji) Q̄ ∘ Ż_j,
    z̄ = σ' ∘ ā + σ'' ∘ Σ_i J̄_i ∘ Ż_i + σ'' ∘ Σ_k S̄_k ∘ Ṡ_k + σ''' ∘ Σ_k S̄_k ∘ Q_k,
    ∂C/∂W^[l] = Σ_points Σ_rows Ȳ (T^[l-1])ᵀ,   ∂C/∂b^[l] = Σ_points z̄,   T̄^[l-1] = Ȳ W^[l],

where Ṡ = W^[l] S^[l-1], Q_k = Σ_ij c_ij Ż_i ∘ Ż_j and Ȳ = (z̄, Ż̄, Ṡ̄) stacks the adjoints of the
product's rows. These need σ''' (``Activation.d3f``).

Arrays are laid out rows first: a tangent block for B points is ``(1 + n_1 + K, B, n_l)``.
Batches are processed in blocks of rows so that memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlplab.compute import each_block, matmul, small_products
from mlplab.errors import MlplabError
from mlplab.values import as_real

if TYPE_CHECKING:
    from mlplab.network import MLP

#: Entries of one tangent-block array a block of rows aims at: 2^17 (1 MiB of float64). With
#: freed memory kept for reuse (:func:`mlplab.compute.small_products`), fewer and larger blocks
#: win over blocks that fit a core's cache (``benchmarks/LOG.md``, W6).
BLOCK_ENTRIES = 1 << 17


@dataclass(frozen=True)
class Derivatives:
    """The output a^[L] and its input derivatives at N points.

    Attributes
    ----------
    u : ndarray, shape (N, n_L)
        a^[L](x).
    du : ndarray, shape (N, n_L, n_1)
        ∂a^[L]/∂x (``du[:, 0, i]`` = ∂u/∂x_i for a scalar output).
    d2 : ndarray, shape (N, n_L, K)
        ``d2[:, :, k]`` = 𝓛_k a^[L], the k-th second-order operator of the sweep.

    The same container holds adjoints (∂C/∂u, ∂C/∂(∇u), ∂C/∂(𝓛_k u)), with the same shapes.
    """

    u: np.ndarray
    du: np.ndarray
    d2: np.ndarray


class Operators:
    """K second-order operators 𝓛_k = Σ_ij c^k_ij ∂²/∂x_i∂x_j on R^{n_1}, ready for the sweep.

    Each coefficient matrix is folded onto its upper triangle (c_ij + c_ji for i < j, c_ii on
    the diagonal) and kept as the list of pairs (i, j) with a nonzero coefficient, so that
    Q_k = Σ_{i≤j} c̃^k_ij Ż_i ∘ Ż_j costs one product per pair.

    Parameters
    ----------
    coefficients : sequence of array_like, each (n_1, n_1)
        The matrices c^k; an empty sequence asks for first derivatives only.
    n_in : int
        n_1, the input dimension.

    Raises
    ------
    MlplabError
        For a matrix that is not (n_1, n_1), holds values that are not real numbers (complex,
        text) or holds NaN or inf.
    """

    def __init__(self, coefficients: Sequence[np.ndarray], n_in: int) -> None:
        given = []
        for k, c in enumerate(coefficients):
            c = as_real(c, np.dtype(np.float64), f"the coefficient matrix of operator {k}")
            if c.shape != (n_in, n_in):
                raise MlplabError(
                    f"operator {k} has coefficients of shape {c.shape}; a second-order operator "
                    f"on {n_in} input(s) needs an ({n_in}, {n_in}) matrix of c_ij"
                )
            if not np.all(np.isfinite(c)):
                raise MlplabError(f"operator {k} has NaN or inf coefficients")
            given.append(c)
        self.n_in, self.K = n_in, len(given)
        #: The coefficient matrices as given, (K, n_1, n_1).
        self.C = C = np.array(given).reshape(self.K, n_in, n_in)
        # c_ij + c_ji above the diagonal, c_ii on it: each pair (i <= j) once
        upper = np.triu(C + C.transpose(0, 2, 1)) - C * np.eye(n_in)
        self.I, self.J = (ix.astype(np.intp) for ix in np.nonzero(np.any(upper != 0, axis=0)))
        # M[k, t]: the coefficient of the pair t = (I[t], J[t]) in operator k.
        self.M = upper[:, self.I, self.J]
        eye = np.eye(n_in)
        self.GI, self.GJ = eye[self.I], eye[self.J]  # (pairs, n_1) one-hot rows
        # Ż[I] and Ż[J] as views where the pairs run over every input in order (the diagonal
        # of a Laplacian): no copy of the tangent rows
        every = np.arange(n_in)
        self.take_I = slice(None) if np.array_equal(self.I, every) else self.I
        self.take_J = slice(None) if np.array_equal(self.J, every) else self.J

    @property
    def rows(self) -> int:
        """1 + n_1 + K, the rows of a tangent block."""
        return 1 + self.n_in + self.K

    def typed(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """M, GI, GJ in ``dtype``."""
        return self.M.astype(dtype), self.GI.astype(dtype), self.GJ.astype(dtype)


def laplacian_coefficients(n_in: int) -> np.ndarray:
    """The identity: Δ = Σ_i ∂²/∂x_i²."""
    return np.eye(n_in)


def partial_coefficients(i: int, j: int, n_in: int) -> np.ndarray:
    """Coefficients of ∂²/∂x_i∂x_j (0-based i, j) as a symmetric matrix."""
    for k in (i, j):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n_in:
            raise MlplabError(f"input index {k!r} is out of range: the network has {n_in} input(s)")
    c = np.zeros((n_in, n_in))
    c[i, j] += 0.5
    c[j, i] += 0.5
    return c


def as_operators(operators: Operators | Sequence[np.ndarray], n_in: int) -> Operators:
    """``operators`` as an :class:`Operators` for inputs of dimension ``n_in``."""
    if isinstance(operators, Operators):
        if operators.n_in != n_in:
            raise MlplabError(
                f"the operators act on {operators.n_in} inputs but the network has {n_in}"
            )
        return operators
    return Operators(operators, n_in)


def block_rows(net: MLP, ops: Operators) -> int:
    """Rows of a block: about :data:`BLOCK_ENTRIES` entries in the widest tangent block."""
    return max(1, BLOCK_ENTRIES // (ops.rows * max(net.sizes)))


# --- the forward sweep -----------------------------------------------------------------------


@dataclass
class _Layer:
    """What the reverse sweep needs of layer l: T^[l-1] and the pieces of the recursion."""

    T_prev: np.ndarray  # (R, B, n_{l-1})
    Y: np.ndarray  # (R, B, n_l): rows z^[l], Ż^[l] (n_1 rows), W^[l] S^[l-1] (K rows)
    Q: np.ndarray  # (K, B, n_l)
    d1: np.ndarray  # σ'(z^[l]), (B, n_l)
    d2: np.ndarray  # σ''(z^[l]), (B, n_l)
    d3: np.ndarray | None  # σ'''(z^[l]) where the activation gives it from a^[l], else None


def _first_block(X: np.ndarray, ops: Operators) -> np.ndarray:
    """T^[1]: rows x, the columns of J^[1] = I, and S^[1] = 0."""
    n_in = ops.n_in
    T = np.zeros((ops.rows, X.shape[0], n_in), dtype=X.dtype)
    T[0] = X
    T[1 + np.arange(n_in), :, np.arange(n_in)] = 1.0
    return T


def sweep(
    net: MLP, X: np.ndarray, ops: Operators, keep: bool = False
) -> tuple[np.ndarray, list[_Layer]]:
    """The forward recursion on one block of points.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (B, n_1)
        Checked points in the network's dtype.
    ops : Operators
    keep : bool
        Keep each layer's pieces for :func:`reverse`.

    Returns
    -------
    T : ndarray, shape (1 + n_1 + K, B, n_L)
        T^[L]: rows a^[L], the n_1 columns of J^[L], and 𝓛_k a^[L].
    tape : list of _Layer
        Empty unless ``keep``.
    """
    n_in, K, R = ops.n_in, ops.K, ops.rows
    M, _, _ = ops.typed(X.dtype)
    B = X.shape[0]
    T = _first_block(X, ops) if keep else None
    tape = []
    for W, b, act in zip(net.weights, net.biases, net.activations, strict=True):
        n = W.shape[0]
        if T is None:
            # layer 2 without a tape: J^[1] = I and S^[1] = 0 make Ż^[2] = W^[2] and Ṡ^[2] = 0
            # at every point, each kept as one row that broadcasts over the block
            z = matmul(X, W.T) + b
            Zdot, Sdot = W.T[:, None, :], np.zeros((K, 1, n), X.dtype)
        else:
            Y = matmul(T.reshape(R * B, -1), W.T).reshape(R, B, n)
            Y[0] += b
            z, Zdot, Sdot = Y[0], Y[1 : 1 + n_in], Y[1 + n_in :]
        T_next = np.empty((R, B, n), X.dtype)
        T_next[0] = act.f(z)
        if act.slopes is not None:  # from a = σ(z), without evaluating σ again; σ''' if kept
            d1, d2, d3 = act.slopes(T_next[0], keep)
        else:
            d1, d2, d3 = act.df(z), act.d2f(z), None
        P = Zdot[ops.take_I] * Zdot[ops.take_J]  # (pairs, B or 1, n)
        rows = P.shape[1]
        Q = (M @ P.reshape(len(ops.I), rows * n)).reshape(K, rows, n)
        np.multiply(Zdot, d1, out=T_next[1 : 1 + n_in])
        np.multiply(Sdot, d1, out=T_next[1 + n_in :])
        T_next[1 + n_in :] += d2 * Q
        if keep:
            tape.append(_Layer(T, Y, Q, d1, d2, d3))
        T = T_next
    return T, tape


def reverse(
    net: MLP, tape: list[_Layer], ops: Operators, T_bar: np.ndarray, per_point: bool = False
) -> np.ndarray:
    """Reverse mode through :func:`sweep`: the gradient of C from T̄^[L] = ∂C/∂T^[L].

    Parameters
    ----------
    net : MLP
    tape : list of _Layer
        From ``sweep(..., keep=True)`` on the same block.
    ops : Operators
    T_bar : ndarray, shape (1 + n_1 + K, B, n_L)
        ∂C/∂a^[L], ∂C/∂J^[L] (n_1 rows) and ∂C/∂(𝓛_k a^[L]) at each point of the block.
    per_point : bool
        Return each point's gradient (B, p) instead of their sum (p,).

    Returns
    -------
    ndarray, shape (p,) or (B, p)
        In the layout of ``net.params`` (W^[2], b^[2], W^[3], ...).
    """
    n_in, K = ops.n_in, ops.K
    dtype = T_bar.dtype
    M, GI, GJ = ops.typed(dtype)
    B = T_bar.shape[1]
    g = np.zeros((B, net.num_parameters) if per_point else net.num_parameters, dtype=dtype)
    gW, gb = net.unflatten(g)
    for i in range(len(net.weights) - 1, -1, -1):
        lay, act, W = tape[i], net.activations[i], net.weights[i]
        if K and act.d3f is None and lay.d3 is None:
            raise MlplabError(
                f"activation {act.name!r} has no third derivative (d3f); parameter gradients "
                f"through second input derivatives need σ''' — give the Activation a d3f"
            )
        R, _, n = lay.Y.shape
        a_bar, J_bar, S_bar = T_bar[0], T_bar[1 : 1 + n_in], T_bar[1 + n_in :]
        z, Zdot, Sdot = lay.Y[0], lay.Y[1 : 1 + n_in], lay.Y[1 + n_in :]
        Y_bar = np.empty_like(lay.Y)
        z_bar = lay.d1 * a_bar + lay.d2 * np.einsum("ibn,ibn->bn", J_bar, Zdot)
        np.multiply(J_bar, lay.d1, out=Y_bar[1 : 1 + n_in])
        if K:
            z_bar += lay.d2 * np.einsum("kbn,kbn->bn", S_bar, Sdot)
            d3 = act.d3f(z) if lay.d3 is None else lay.d3
            z_bar += d3 * np.einsum("kbn,kbn->bn", S_bar, lay.Q)
            np.multiply(S_bar, lay.d1, out=Y_bar[1 + n_in :])
            Q_bar = lay.d2 * S_bar
            P_bar = (M.T @ Q_bar.reshape(K, B * n)).reshape(len(ops.I), B, n)
            # Q_k = Σ_t M[k,t] Ż_{I_t} ∘ Ż_{J_t}: each pair sends P̄_t ∘ Ż to both of its rows.
            flat = (P_bar * Zdot[ops.take_J]).reshape(len(ops.I), B * n)
            Y_bar[1 : 1 + n_in] += (GI.T @ flat).reshape(n_in, B, n)
            flat = (P_bar * Zdot[ops.take_I]).reshape(len(ops.I), B * n)
            Y_bar[1 : 1 + n_in] += (GJ.T @ flat).reshape(n_in, B, n)
        Y_bar[0] = z_bar
        if per_point:
            np.einsum("rbn,rbm->bnm", Y_bar, lay.T_prev, out=gW[i])
            gb[i][...] = z_bar
        else:
            matmul(Y_bar.reshape(R * B, n).T, lay.T_prev.reshape(R * B, -1), out=gW[i])
            np.sum(z_bar, axis=0, out=gb[i])
        if i > 0:
            T_bar = matmul(Y_bar.reshape(R * B, n), W).reshape(R, B, W.shape[1])
    return g


def to_derivatives(T: np.ndarray, n_in: int) -> Derivatives:
    """Split a tangent block (R, B, n_L) into :class:`Derivatives` with batch-first arrays."""
    return Derivatives(
        u=T[0], du=T[1 : 1 + n_in].transpose(1, 2, 0), d2=T[1 + n_in :].transpose(1, 2, 0)
    )


def to_block(d: Derivatives, n_in: int) -> np.ndarray:
    """The inverse of :func:`to_derivatives`: a tangent block (R, B, n_L)."""
    u, du, d2 = np.asarray(d.u), np.asarray(d.du), np.asarray(d.d2)
    B, n_out = u.shape
    K = d2.shape[-1]
    if du.shape != (B, n_out, n_in) or d2.shape != (B, n_out, K):
        raise MlplabError(
            f"the adjoint's du and d2 have shapes {du.shape} and {d2.shape}; with u of shape "
            f"{u.shape} they need ({B}, {n_out}, {n_in}) and ({B}, {n_out}, K)"
        )
    T = np.empty((1 + n_in + K, B, n_out), dtype=u.dtype)
    T[0] = u
    T[1 : 1 + n_in] = du.transpose(2, 0, 1)
    T[1 + n_in :] = d2.transpose(2, 0, 1)
    return T


# --- public functions ------------------------------------------------------------------------


def derivatives(
    net: MLP, X: np.ndarray, operators: Operators | Sequence[np.ndarray] = ()
) -> Derivatives:
    """a^[L], ∂a^[L]/∂x and K second-order operators 𝓛_k a^[L] at every row of ``X``.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
    operators : Operators or sequence of (n_1, n_1) coefficient matrices c^k
        𝓛_k = Σ_ij c^k_ij ∂²/∂x_i∂x_j, e.g. ``[np.eye(n_1)]`` for the Laplacian.

    Returns
    -------
    Derivatives
        ``u`` (N, n_L), ``du`` (N, n_L, n_1), ``d2`` (N, n_L, K).

    Raises
    ------
    MlplabError
        For points ``X`` that do not fit the network, and coefficient matrices that are not
        (n_1, n_1) matrices of finite real numbers (see :class:`Operators`).
    """
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    N, n_out = X.shape[0], net.sizes[-1]
    T = np.empty((ops.rows, N, n_out), dtype=net.dtype)

    def one(block: slice) -> None:
        T[:, block] = sweep(net, X[block], ops)[0]

    each_block(N, block_rows(net, ops), one)
    return to_derivatives(T, ops.n_in)


def vjp(
    net: MLP, X: np.ndarray, operators: Operators | Sequence[np.ndarray], adjoint: Derivatives
) -> np.ndarray:
    """∂C/∂θ for a cost C of (u, ∇u, 𝓛_k u) at the points, from its adjoint.

    Parameters
    ----------
    net : MLP
    X : ndarray, shape (N, n_1)
    operators : Operators or sequence of (n_1, n_1) arrays
    adjoint : Derivatives
        ∂C/∂u (N, n_L), ∂C/∂(∂u/∂x) (N, n_L, n_1), ∂C/∂(𝓛_k u) (N, n_L, K).

    Returns
    -------
    ndarray, shape (p,)
        In the layout of ``net.params``.
    """
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    T_bar = to_block(adjoint, ops.n_in).astype(net.dtype, copy=False)
    if T_bar.shape != (ops.rows, X.shape[0], net.sizes[-1]):
        raise MlplabError(
            f"the adjoint has shapes {adjoint.u.shape}, {adjoint.du.shape}, {adjoint.d2.shape}; "
            f"expected those of derivatives(net, X, operators)"
        )
    g = np.zeros(net.num_parameters, dtype=net.dtype)
    rows = block_rows(net, ops)
    with small_products():
        for s in range(0, X.shape[0], rows):
            _, tape = sweep(net, X[s : s + rows], ops, keep=True)
            g += reverse(net, tape, ops, T_bar[:, s : s + rows])
    return g


#: A residual: ``residual(rows, x, d)`` with the block's rows of X (a slice, for data kept per
#: point), its points x (B, n_1) and their :class:`Derivatives` d gives r (B,) and the partials
#: ∂r/∂u, ∂r/∂(∂u/∂x), ∂r/∂(𝓛_k u) as a Derivatives of d's shapes.
Residual = Callable[[slice, np.ndarray, Derivatives], tuple[np.ndarray, Derivatives]]


def _residual_blocks(net: MLP, X: np.ndarray, ops: Operators, residual: Residual):
    """For each block: its rows, r (B,), ∂r/∂T^[L] (R, B, n_L) and the tape."""
    rows = block_rows(net, ops)
    with small_products():
        for s in range(0, X.shape[0], rows):
            x = X[s : s + rows]
            T, tape = sweep(net, x, ops, keep=True)
            block = slice(s, s + x.shape[0])
            r, partial = residual(block, x, to_derivatives(T, ops.n_in))
            r = np.asarray(r, dtype=net.dtype)
            if r.shape != (x.shape[0],):
                raise MlplabError(
                    f"a residual must return one value per point, shape ({x.shape[0]},)"
                )
            yield block, r, to_block(partial, ops.n_in).astype(net.dtype), tape


def residual_cost(
    net: MLP,
    X: np.ndarray,
    operators: Operators | Sequence[np.ndarray],
    residual: Residual,
    weight: float = 1.0,
) -> float:
    """C = weight · (1/N) Σ_i r_i² alone (:func:`residual_loss` without the gradient), in the
    same blocks of rows, so that its memory stays that of one block."""
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    scale = weight / X.shape[0]
    return sum(scale * float(r @ r) for _, r, _, _ in _residual_blocks(net, X, ops, residual))


def residual_loss(
    net: MLP,
    X: np.ndarray,
    operators: Operators | Sequence[np.ndarray],
    residual: Residual,
    weight: float = 1.0,
) -> tuple[float, np.ndarray]:
    """C = weight · (1/N) Σ_i r_i² and ∂C/∂θ (p,), by reverse mode through the sweep.

    The adjoint of the output block is ∂C/∂T^[L] = (2 weight / N) r_i ∂r_i/∂T^[L].
    """
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    scale = weight / X.shape[0]
    value, g = 0.0, np.zeros(net.num_parameters, dtype=net.dtype)
    for _, r, partial, tape in _residual_blocks(net, X, ops, residual):
        value += scale * float(r @ r)
        g += reverse(net, tape, ops, partial * (2.0 * scale * r)[None, :, None])
    return value, g


def residual_jacobian(
    net: MLP, X: np.ndarray, operators: Operators | Sequence[np.ndarray], residual: Residual
) -> tuple[np.ndarray, np.ndarray]:
    """The residuals r (N,) and their Jacobian ∂r_i/∂θ (N, p), in the layout of ``net.params``.

    Each point's residual depends on that point alone, so the reverse sweep run without summing
    over the block gives one row of the Jacobian per point.
    """
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    N, p = X.shape[0], net.num_parameters
    r_all, jac = np.empty(N, dtype=net.dtype), np.empty((N, p), dtype=net.dtype)
    for rows, r, partial, tape in _residual_blocks(net, X, ops, residual):
        r_all[rows] = r
        jac[rows] = reverse(net, tape, ops, partial, per_point=True)
    return r_all, jac


def normal_equations(
    net: MLP,
    X: np.ndarray,
    operators: Operators | Sequence[np.ndarray],
    residual: Residual,
    weight: float = 1.0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The Gauss–Newton pieces of weight · Σ_i r_i², accumulated block by block.

    Returns
    -------
    rr : float
        weight · Σ r_i².
    JtJ : ndarray, shape (p, p)
        weight · Jᵀ J.
    Jtr : ndarray, shape (p,)
        weight · Jᵀ r.
    """
    X = net.check_input(X)
    ops = as_operators(operators, net.sizes[0])
    p = net.num_parameters
    rr, JtJ, Jtr = 0.0, np.zeros((p, p), dtype=net.dtype), np.zeros(p, dtype=net.dtype)
    for _, r, partial, tape in _residual_blocks(net, X, ops, residual):
        jac = reverse(net, tape, ops, partial, per_point=True)
        rr += weight * float(r @ r)
        JtJ += weight * (jac.T @ jac)
        Jtr += weight * (jac.T @ r)
    return rr, JtJ, Jtr

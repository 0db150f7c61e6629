"""The compiled path: whole epochs of minibatch training in one Numba call, on one thread.

Small networks are overhead-bound: a NumPy call costs about a microsecond before any arithmetic,
so a step of the paper's 2-2-3-2 network costs far more in calls than in flops. This path runs
the paper's forward pass, backprop and the optimiser step as plain loops, compiled once per
configuration. The loop is generated from the configuration — one block per layer, with the
layer widths and parameter offsets written in as numbers, so that the compiler unrolls and
vectorises the short loops of a small network — and calls the compiled *definitions* of the
layer's activation (``act.f``, ``act.df``), of the loss (``loss.cost``, ``loss.dcost``) and of
the optimiser (``update``): nothing here restates a formula, and a definition Numba cannot
compile makes the configuration run on the NumPy stepper instead (:func:`mlplab.engine.explain`
says which and why).

Arrays the loop indexes are made and checked in :class:`CompiledLoop` before the call: the
parameters, gradient and optimiser state have the length p of the network the loop was
generated for, the data and targets have the widths of the network, and every drawn index lies
in ``0..N-1``.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise

import numpy as np

from mlplab.engine.jit import compile_definition, njit_source
from mlplab.errors import MlplabError
from mlplab.losses import Loss

# --- the generated source --------------------------------------------------------------------


def _layers(sizes: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """(offset of W^[l], offset of b^[l], n_{l-1}, n_l) in the flat parameter vector, for each
    layer in order (W^[l] is stored row by row, then b^[l]: :meth:`MLP.unflatten`)."""
    out, o = [], 0
    for n_in, n_out in pairwise(sizes):
        out.append((o, o + n_out * n_in, n_in, n_out))
        o += n_out * (n_in + 1)
    return out


def _forward_block(sizes: tuple[int, ...], x: str, rows: str, pre: str, pad: str) -> list[str]:
    """Lines computing z^[l] and a^[l] for the first ``rows`` rows of ``x``, layer by layer,
    into the arrays ``{pre}z0, {pre}a1, {pre}z1, {pre}a2, ...`` (``f{i}`` is layer i's
    activation); each line starts with ``pad``.

    The layer widths and the offsets of W^[l] and b^[l] in ``params`` are written into the
    source as numbers: the compiler then knows every loop's length and that no index is
    negative, and unrolls or vectorises the short loops of a small network."""
    out = []
    for i, (w, b, n_in, n_out) in enumerate(_layers(sizes)):
        inp = x if i == 0 else f"{pre}a{i}"
        out += [
            f"for r in range({rows}):",
            f"    for j in range({n_out}):",
            f"        zj = params[{b} + j]",
            f"        for k in range({n_in}):",
            f"            zj += {inp}[r, k] * params[{w} + j * {n_in} + k]",
            f"        {pre}z{i}[r, j] = zj",
            f"        {pre}a{i + 1}[r, j] = f{i}(zj)",
        ]
    return [pad + line for line in out]


def _slope(i: int, from_value: bool, index: str) -> str:
    """σ'(z^[l]) of layer i at ``index``: ``dfa(a)`` from the value a^[l] where the activation
    defines it through it, else ``df(z)``."""
    return f"df{i}(a{i + 1}[{index}])" if from_value else f"df{i}(z{i}[{index}])"


def _backward_block(sizes: tuple[int, ...], from_value: tuple[bool, ...], pad: str) -> list[str]:
    """Lines computing δ^[L] from ``g`` = ∂C/∂a^[L], then ∂C/∂W^[l], ∂C/∂b^[l] into ``grad``
    and δ^[l-1] into ``d{l-1}``, layer by layer from the output, for the first ``rows`` rows
    of ``z0, a0, d0, z1, a1, d1, ...`` (``df{i}`` gives σ' of layer i, see :func:`_slope`);
    numbers written in as in :func:`_forward_block`."""
    last = len(from_value) - 1
    out = [
        "for r in range(rows):",
        f"    for j in range({sizes[-1]}):",
        f"        d{last}[r, j] = {_slope(last, from_value[last], 'r, j')} * g[r, j]",
    ]
    for i, (w, b, n_in, n_out) in reversed(list(enumerate(_layers(sizes)))):
        out += [
            f"for q in range({w}, {b + n_out}):",
            "    grad[q] = 0.0",
            "for r in range(rows):",
            f"    for j in range({n_out}):",
            f"        dj = d{i}[r, j]",
            f"        grad[{b} + j] += dj",
            f"        for k in range({n_in}):",
            f"            grad[{w} + j * {n_in} + k] += dj * a{i}[r, k]",
        ]
        if i > 0:
            out += [
                "for r in range(rows):",
                f"    for k in range({n_in}):",
                "        wd = 0.0",
                f"        for j in range({n_out}):",
                f"            wd += d{i}[r, j] * params[{w} + j * {n_in} + k]",
                f"        d{i - 1}[r, k] = {_slope(i - 1, from_value[i - 1], 'r, k')} * wd",
            ]
    return [pad + line for line in out]


def _train_source(sizes: tuple[int, ...], from_value: tuple[bool, ...], n_state: int,
                  n_hyper: int) -> str:  # fmt: skip
    """``train(...)``: epochs of steps over the drawn ``order``, each epoch's costs after it;
    stops after the first epoch with a non-finite cost. Returns (epochs done, step count).

    One function whose loops are written out in full (:func:`_forward_block`,
    :func:`_backward_block`) rather than calls: the compiler sees the whole step, and no array
    changes hands inside the loop (each hand-over costs an atomic reference count). The blocks
    assign only their loop indices ``r, j, k, q`` and the scalars ``zj``, ``dj``, ``wd``, which
    carry nothing from one block to the next."""
    layers = len(sizes) - 1
    state = "".join(f", s{k}" for k in range(n_state))
    state_q = "".join(f", s{k}[q]" for k in range(n_state))
    store = "".join(f"; s{k}[q] = new[{k + 1}]" for k in range(n_state))
    hyper = "".join(f", h{k}" for k in range(n_hyper))
    widths = {"a": layers + 1, "z": layers, "d": layers, "ca": layers + 1, "cz": layers,
              "va": layers + 1, "vz": layers}  # fmt: skip
    unpack = "\n".join(
        f"    {', '.join(f'{name}{i}' for i in range(n))}, = {name}" for name, n in widths.items()
    )
    step = "\n".join(_forward_block(sizes, "a0", "rows", "", " " * 12))
    back = "\n".join(_backward_block(sizes, from_value, " " * 12))
    costs = "\n".join(_forward_block(sizes, "X", "X.shape[0]", "c", " " * 8))
    val = "\n".join(_forward_block(sizes, "Xv", "Xv.shape[0]", "v", " " * 12))
    return f"""
def train(params, grad, X, T, Xv, Tv, order, bs, lrs, t, tl, vl, last_finite,
          a, z, d, tb, ca, cz, va, vz{state}{hyper}):
    n_draws = order.shape[1]
    steps = (n_draws + bs - 1) // bs
    n0, nL = X.shape[1], T.shape[1]
{unpack}
    done = 0
    for e in range(lrs.shape[0]):
        lr = lrs[e]
        for step in range(steps):
            start = step * bs
            rows = min(bs, n_draws - start)
            for r in range(rows):
                i = order[e, start + r]
                for k in range(n0):
                    a0[r, k] = X[i, k]
                for k in range(nL):
                    tb[r, k] = T[i, k]
{step}
            if rows == bs:  # most steps: the whole buffers, as slicing costs a reference count
                g = dcost(a{layers}, tb)
            else:
                g = dcost(a{layers}[:rows], tb[:rows])
{back}
            t += 1
            for q in range(params.shape[0]):
                new = update(params[q], grad[q], lr, t{state_q}{hyper})
                params[q] = new[0]{store}
{costs}
        tl[e] = cost(ca{layers}, T)
        finite = np.isfinite(tl[e])
        if Xv.shape[0] > 0:
{val}
            vl[e] = cost(va{layers}, Tv)
            finite = finite and np.isfinite(vl[e])
        done = e + 1
        if not finite:
            break
        last_finite[:] = params
    return done, t
"""


def _loop(sizes: tuple[int, ...], acts: tuple, loss: Loss, update, n_state: int, n_hyper: int):
    """The compiled ``train`` for one configuration — the layer widths, each layer's
    activation, the loss and the optimiser — compiled lazily at its first call."""
    layers = tuple(
        (compile_definition(act.f), compile_definition(act.dfa or act.df), act.dfa is not None)
        for act in acts
    )
    formulas = tuple(compile_definition(fn) for fn in (loss.cost, loss.dcost, update))
    return _generated(sizes, layers, formulas, n_state, n_hyper)


@cache
def _generated(sizes: tuple[int, ...], layers: tuple, formulas: tuple, n_state: int,
               n_hyper: int):  # fmt: skip
    names = {"np": np, **dict(zip(("cost", "dcost", "update"), formulas, strict=True))}
    for i, (f, df, _) in enumerate(layers):
        names[f"f{i}"], names[f"df{i}"] = f, df
    from_value = tuple(value for _, _, value in layers)
    return njit_source(_train_source(sizes, from_value, n_state, n_hyper), "train", names)


# --- the Python side ------------------------------------------------------------------------


class CompiledLoop:
    """Runs epochs of :func:`mlplab.fit` for one network through the compiled ``train``.

    Parameters
    ----------
    net : MLP
        Trained in place (its ``params``).
    X, T : ndarray
        Training inputs (N, n_1) and targets as ``loss.cost`` takes them (N, n_L).
    Xv, Tv : ndarray or None
        Validation inputs and targets, likewise.
    loss, optimizer, batch_size
        As :func:`mlplab.fit` resolved them.
    last_finite : ndarray, shape (p,)
        Receives the parameters after each epoch whose cost is finite.
    """

    def __init__(self, net, X, T, Xv, Tv, loss, optimizer, batch_size, last_finite) -> None:
        dt = net.params.dtype
        sizes = tuple(int(n) for n in net.sizes)  # the loop is generated for these widths
        p = net.num_parameters  # of these widths
        if net.params.shape != (p,) or len(net.activations) != len(sizes) - 1:
            raise MlplabError(
                f"the network's parameters have shape {net.params.shape} and it has "
                f"{len(net.activations)} activations; layer widths {list(sizes)} need ({p},) "
                f"and {len(sizes) - 1}: build the network again rather than replace its params"
            )
        self.optimizer, self.bs = optimizer, int(batch_size)
        self.params, self.last_finite = net.params, last_finite
        self.grad = np.zeros_like(net.params)
        self.state = optimizer.state(net.params)
        self.hyper = tuple(float(h) for h in optimizer.hyper())
        n_in, n_out = sizes[0], sizes[-1]
        self.X, self.T = (np.ascontiguousarray(x, dt) for x in (X, T))
        empty = (np.zeros((0, n_in), dt), np.zeros((0, n_out), dt))
        self.Xv, self.Tv = empty if Xv is None else (np.ascontiguousarray(x, dt) for x in (Xv, Tv))
        for name, arr, width in (
            ("X", self.X, n_in),
            ("targets", self.T, n_out),
            ("X_val", self.Xv, n_in),
            ("validation targets", self.Tv, n_out),
        ):
            if arr.ndim != 2 or arr.shape[1] != width:
                raise MlplabError(
                    f"{name} has shape {arr.shape}; the network needs {width} columns"
                )
        if self.T.shape[0] != self.X.shape[0] or self.Tv.shape[0] != self.Xv.shape[0]:
            raise MlplabError("inputs and targets must have one row per point")
        for arr in (self.grad, last_finite, *self.state):
            if arr.shape != net.params.shape or arr.dtype != dt:
                raise MlplabError(
                    f"a state array has shape {arr.shape}, expected {net.params.shape}"
                )

        def layer_buffers(rows: int) -> tuple[tuple, tuple]:
            a = tuple(np.zeros((rows, n), dt) for n in sizes)
            return a, tuple(np.zeros((rows, n), dt) for n in sizes[1:])

        self.a, self.z = layer_buffers(self.bs)
        self.d = tuple(np.zeros_like(x) for x in self.z)
        self.tb = np.zeros((self.bs, n_out), dt)
        self.ca, self.cz = layer_buffers(self.X.shape[0])
        self.va, self.vz = layer_buffers(self.Xv.shape[0])
        self.train = _loop(sizes, tuple(net.activations), loss, optimizer.update,
                           len(self.state), len(self.hyper))  # fmt: skip

    def run(self, order: np.ndarray, lrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """One epoch per row of ``order`` (the drawn point indices) and entry of ``lrs``.

        Returns the training and validation costs of the epochs run and how many ran (it stops
        after the first non-finite cost).
        """
        order = np.ascontiguousarray(order, np.int64)
        lrs = np.ascontiguousarray(lrs, np.float64)
        n = self.X.shape[0]
        if order.ndim != 2 or order.shape[0] != lrs.shape[0] or order.shape[1] < 1:
            raise MlplabError(f"order has shape {order.shape} for {lrs.shape[0]} epochs")
        if order.min() < 0 or order.max() >= n:
            raise MlplabError(f"point indices must lie in 0..{n - 1}")
        tl, vl = np.full(len(lrs), np.nan), np.full(len(lrs), np.nan)
        done, t = self.train(
            self.params, self.grad, self.X, self.T, self.Xv, self.Tv, order, self.bs,
            lrs, self.optimizer.t, tl, vl, self.last_finite, self.a, self.z, self.d, self.tb,
            self.ca, self.cz, self.va, self.vz, *self.state, *self.hyper,
        )  # fmt: skip
        self.optimizer.t = int(t)
        return tl, vl, int(done)

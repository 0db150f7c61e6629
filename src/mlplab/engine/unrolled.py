"""Training loops unrolled for one architecture: for tiny networks on long runs.

The compiled loop of :mod:`mlplab.engine.kernels` serves every architecture, and for a network
as small as the paper's 2-2-3-2 its loops over layers and units — two or three trips each —
cost more than the arithmetic. This module writes, for one architecture, the same training
loop with every layer and unit spelled out: straight-line code in which each z, a and δ is a
local variable. The operations and their order are those of the generic loop (same sums in
the same order, same activation functions, same optimiser step, same end-of-epoch cost with
the same vectorised sigmoid), so both give the same numbers; the tests hold them equal.

The code is generated as a small Python module, written (atomically) to a cache folder and
compiled by Numba with its on-disk cache, so an architecture compiles once per machine (a few
seconds) and later runs load it. :func:`worth_it` decides when that pays: float64 networks of
at most :data:`MAX_UNITS` units, each layer at most :data:`MAX_WIDTH` wide, on runs of at least
:data:`MIN_POINTS` points.

The cache folder is ``$MLPLAB_CACHE_DIR`` or ``~/.cache/mlplab``; a folder per version of
the engine's sources keeps an upgraded mlplab from loading kernels compiled from older code.

The generated driver repeats the skeleton of :func:`mlplab.engine.kernels.train_epochs`
(buffers, epoch and step loops) with the step written in. One loop taking its step function
as an argument would be the single definition, but Numba does not cache such a loop: it
compiles it anew in every process (measured), which would cost more than the loop saves.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

#: Widest layer (input and output included) that an unrolled loop is written for.
MAX_WIDTH = 8
#: Most units in all layers together.
MAX_UNITS = 24
#: Fewest points per run (epochs × points per epoch) for which an unrolled loop is compiled:
#: about 0.3 s on the generic loop; the compile takes a few seconds, once per architecture.
MIN_POINTS = 500_000

_ENGINE_SOURCES = (
    "atomics.py",
    "kernels.py",
    "unrolled.py",
    "vexp.py",
    "vsigmoid.py",
    "fused.py",
    "lane.py",
    "threads.py",
    "orders.py",
)
_loaded: dict[str, ModuleType] = {}


def worth_it(sizes: list[int], dtype: np.dtype, points: int) -> bool:
    """Whether a run of ``points`` points (epochs × N) of this network should use an
    unrolled loop."""
    return (
        np.dtype(dtype) == np.float64
        and max(sizes) <= MAX_WIDTH
        and sum(sizes) <= MAX_UNITS
        and points >= MIN_POINTS
    )


def cache_dir() -> Path:
    """The folder of this engine version's generated modules."""
    base = os.environ.get("MLPLAB_CACHE_DIR") or Path.home() / ".cache" / "mlplab"
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _ENGINE_SOURCES:
        digest.update((here / name).read_bytes())
    return Path(base) / f"unrolled-{digest.hexdigest()[:16]}"


def loops(sizes, codes, alphas, loss_code) -> ModuleType | None:
    """The unrolled loops of an architecture: a module with ``train_epochs`` and
    ``train_epochs_with_lane`` (same arguments and results as those of
    :mod:`mlplab.engine.kernels`), or None where the cache folder cannot be written (the caller
    then runs the generic loops).

    The module is written, atomically, unless the cache holds it already with the same text
    (so a damaged or edited file is written anew, and Numba recompiles it).
    """
    from mlplab.io import write_text

    key = _key(sizes, codes, alphas, loss_code)
    if key not in _loaded:
        text = source(sizes, codes, alphas, loss_code)
        try:
            path = cache_dir() / f"net_{key}.py"
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_text(path, text)
        except (OSError, RuntimeError, UnicodeDecodeError):  # RuntimeError: no home folder
            return None
        spec = importlib.util.spec_from_file_location(f"mlplab_unrolled_{key}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _loaded[key] = module
    return _loaded[key]


def train_epochs(sizes, codes, alphas, loss_code) -> Callable | None:
    """The unrolled ``train_epochs`` of an architecture (:func:`loops`), or None."""
    module = loops(sizes, codes, alphas, loss_code)
    return None if module is None else module.train_epochs


def _key(sizes, codes, alphas, loss_code) -> str:
    text = repr(
        ([int(n) for n in sizes], [int(c) for c in codes], [float(a).hex() for a in alphas],
         int(loss_code))
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# --- code generation -------------------------------------------------------------------------


def _offsets(sizes: list[int]) -> tuple[list[int], list[int]]:
    """W^[l+1] and b^[l+1] offsets in the flat parameter vector: the generic loop's layout
    (:func:`mlplab.engine.kernels._offsets`), as lists of ints."""
    from mlplab.engine.kernels import _offsets as layout

    _, woff, boff = layout(np.array(sizes, np.int64))
    return [int(k) for k in woff], [int(k) for k in boff]


def _sum(terms: list[str]) -> str:
    """A sum from 0.0, term after term: the generic loop's order (and its zero's sign)."""
    out = "0.0"
    for term in terms:
        out = f"({out} + {term})"
    return out


def _affine(inputs: list[str], w: int, b: int) -> str:
    """z = Σ_k inputs[k] · p[w + k] + p[b], summed as the generic loop sums it."""
    return f"{_sum([f'{x} * p[{w + k}]' for k, x in enumerate(inputs)])} + p[{b}]"


def _backprop(sizes, codes, alphas, loss_code, one_row: bool) -> list[str]:
    """Forward pass and backprop of row ``i`` of ``X``, ``Y`` (parameters ``p``), as lines.

    For a batch of many rows, each parameter's gradient term is added to ``G`` (zeroed
    before the batch). For a one-row batch (``one_row``), the gradient is the term alone,
    kept in locals ``g0``, ``g1``, ...: the same numbers (``0.0 +`` the term, as the sum
    from zero gives it; the term alone for a one-unit layer's bias, as the pairwise sum gives
    it; no division by the batch's one row), without a trip through memory per parameter and
    a division on the step's chain of dependent operations.
    """
    woff, boff = _offsets(sizes)
    L = len(sizes)
    body = [f"a0_{k} = X[i, {k}]" for k in range(sizes[0])]
    for h in range(1, L):
        n_in, code, alpha = sizes[h - 1], int(codes[h - 1]), float(alphas[h - 1])
        for j in range(sizes[h]):
            inputs = [f"a{h - 1}_{k}" for k in range(n_in)]
            z = _affine(inputs, woff[h - 1] + j * n_in, boff[h - 1] + j)
            body.append(f"z{h}_{j} = {z}")
            body.append(f"a{h}_{j} = act_f({code}, {alpha!r}, z{h}_{j})")
    last, code, alpha = L - 1, int(codes[-1]), float(alphas[-1])
    for j in range(sizes[-1]):
        diff = f"a{last}_{j} - Y[i, {j}]"
        if loss_code == 0:
            dc = f"mse_scale * ({diff})"
        else:  # half_sse divides by the batch's rows
            dc = diff if one_row else f"({diff}) / rows"
        body.append(f"d{last}_{j} = act_df({code}, {alpha!r}, z{last}_{j}, a{last}_{j}) * ({dc})")

    def add(k: int, term: str) -> str:
        return f"g{k} = 0.0 + {term}" if one_row else f"G[{k}] += {term}"

    for h in range(L - 1, 0, -1):
        n_in, n_out = sizes[h - 1], sizes[h]
        for j in range(n_out):
            w = woff[h - 1] + j * n_in
            body += [add(w + k, f"d{h}_{j} * a{h - 1}_{k}") for k in range(n_in)]
            if n_out > 1:
                body.append(add(boff[h - 1] + j, f"d{h}_{j}"))
            elif one_row:  # a one-unit layer's bias: the pairwise sum of one term is the term
                body.append(f"g{boff[h - 1]} = d{h}_0")
        if n_out == 1 and not one_row:
            body.append(f"Dc[{h - 1}, r] = d{h}_0")
        if h > 1:
            code, alpha = int(codes[h - 2]), float(alphas[h - 2])
            for k in range(n_in):
                terms = [f"d{h}_{j} * p[{woff[h - 1] + j * n_in + k}]" for j in range(n_out)]
                df = f"act_df({code}, {alpha!r}, z{h - 1}_{k}, a{h - 1}_{k})"
                body.append(f"d{h - 1}_{k} = {_sum(terms)} * {df}")
    return body


def _step_source(sizes, codes, alphas, loss_code) -> list[str]:
    """One training step on the rows ``order[start:start+rows]`` of ``X``, ``Y``: backprop
    and the optimiser's update of ``params`` (``p``), as lines of the driver's step loop
    (indented for it). Written out there rather than called, which would cost Numba an
    inlining pass per compile or reference counting per step.

    A one-row batch (single-point SGD, the paper's setting) takes its own straight-line
    branch (:func:`_backprop`); there plain SGD updates each parameter from its local
    gradient, as :func:`mlplab.engine.kernels._step_row` computes it.
    """
    from mlplab.engine.kernels import OPT_SGD

    _, boff = _offsets(sizes)
    n_params = boff[-1] + sizes[-1]
    lines = [f"mse_scale = 2.0 / (rows * {sizes[-1]})", "if rows == 1:", "    i = order[start]"]
    lines += ["    " + b for b in _backprop(sizes, codes, alphas, loss_code, True)]
    lines.append(f"    if opt_code == {OPT_SGD}:")
    lines += [f"        p[{k}] -= lr * g{k}" for k in range(n_params)]
    lines.append("    else:")
    lines += [f"        G[{k}] = g{k}" for k in range(n_params)]
    lines.append("        _step_row(params, G, m, v, lr, opt_code, hyper, t[0])")
    lines += ["else:", "    G[:] = 0.0", "    for r in range(rows):",
              "        i = order[start + r]"]  # fmt: skip
    lines += ["        " + b for b in _backprop(sizes, codes, alphas, loss_code, False)]
    for h in range(1, len(sizes)):
        if sizes[h] == 1:  # NumPy sums one column pairwise, as the generic loop does
            lines.append(f"    G[{boff[h - 1]}] = pairwise_sum(Dc[{h - 1}], 0, rows)")
    lines.append("    _step_row(params, G, m, v, lr, opt_code, hyper, t[0])")
    return ["            " + line for line in lines]


def _cost_source(sizes, codes, alphas, loss_code) -> list[str]:
    """Body of ``_cost``: the cost on ``X``, ``Y`` in blocks of ``block`` rows, activations
    through the vectorised sigmoid where the generic loop uses it (:data:`VECTOR_MIN`)."""
    woff, boff = _offsets(sizes)
    L, n_out = len(sizes), sizes[-1]
    lines = ["    n = X.shape[0]", "    total = 0.0", "    for start in range(0, n, block):",
             "        rows = min(block, n - start)"]  # fmt: skip
    src = "X[start + r, {k}]"
    for h in range(1, L):
        n_in, m, code, alpha = sizes[h - 1], sizes[h], int(codes[h - 1]), float(alphas[h - 1])
        buf = "A1" if h % 2 else "A2"
        lines.append("        for r in range(rows):")
        for j in range(m):
            inputs = [src.format(k=k) for k in range(n_in)]
            z = _affine(inputs, woff[h - 1] + j * n_in, boff[h - 1] + j)
            lines.append(f"            S[r * {m} + {j}] = {z}")
        if code == 1:
            lines += [f"        if rows * {m} >= VECTOR_MIN:",
                      f"            sigmoid_flat(S, {buf}, rows * {m})",
                      "        else:",
                      f"            for q in range(rows * {m}):",
                      f"                {buf}[q] = act_f(1, 0.0, S[q])"]  # fmt: skip
        else:
            lines += [f"        for q in range(rows * {m}):",
                      f"            {buf}[q] = act_f({code}, {alpha!r}, S[q])"]  # fmt: skip
        src = f"{buf}[r * {m} + {{k}}]"
    lines.append("        for r in range(rows):")
    for j in range(n_out):
        lines.append(f"            diff = {src.format(k=j)} - Y[start + r, {j}]")
        lines.append("            total += diff * diff")
    if loss_code == 0:
        lines.append(f"    return total / (n * {n_out})")
    else:
        lines.append("    return 0.5 * total / n")
    return lines


_DRIVER = '''
@njit(cache=True, error_model="numpy", nogil=True)
def train_epochs(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code, hyper, m, v,
                 t, lrs, batch_size, shuffle, rng, train_loss, val_loss, last_finite):
    """mlplab.engine.kernels.train_epochs, unrolled for this architecture."""
    return _train(params, X, Y, Xv, Yv, opt_code, hyper, m, v, t, lrs, batch_size, shuffle, rng,
                  train_loss, val_loss, last_finite, *no_ring(params))


@njit(cache=True, error_model="numpy", nogil=True, parallel=prange_only())
def train_epochs_with_lane(params, sizes, codes, alphas, X, Y, Xv, Yv, loss_code, opt_code,
                           hyper, m, v, t, lrs, batch_size, shuffle, rng, train_loss, val_loss,
                           last_finite, lane):
    """mlplab.engine.kernels.train_epochs_with_lane, unrolled for this architecture."""
    snaps, steps, orders = ring(params, X.shape[0], batch_size, shuffle)
    done = np.zeros(1, np.int64)
    for h in prange(2):
        if h == 0:
            done[0] = _train(params, X, Y, Xv, Yv, opt_code, hyper, m, v, t, lrs, batch_size,
                             shuffle, rng, train_loss, val_loss, last_finite, lane, snaps, steps,
                             orders)
        else:
            _lane_costs(X, Y, Xv, Yv, max(batch_size, 64), lane, snaps, lrs.shape[0],
                        train_loss, val_loss, last_finite, rng, shuffle, orders)
    return done[0]


@njit(cache=True, error_model="numpy", nogil=True)
def _train(params, X, Y, Xv, Yv, opt_code, hyper, m, v, t, lrs, batch_size, shuffle, rng,
           train_loss, val_loss, last_finite, state, snaps, steps_at, orders):
    """The epochs, as mlplab.engine.kernels._train runs them."""
    together = state.shape[0] > 0 and partner(state)
    n = X.shape[0]
    p = params
    block = max(batch_size, 64)
    S = np.empty(block * {width}, params.dtype)
    A1 = np.empty(block * {width}, params.dtype)
    A2 = np.empty(block * {width}, params.dtype)
    Dc = np.empty(({layers}, batch_size), params.dtype)
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
            t[0] += 1
{step}
        if together:
            if publish(state, snaps, steps_at, e, params, m, v, t) != 0:
                break
            continue
        tl = _cost(params, X, Y, block, S, A1, A2)
        vl = _cost(params, Xv, Yv, block, S, A1, A2) if has_val else 0.0
        if not record_epoch(e, tl, vl, has_val, train_loss, val_loss, params, last_finite):
            return e + 1
    if together:
        return finish(state, snaps, steps_at, lrs.shape[0], params, m, v, t)
    return lrs.shape[0]


@njit(cache=True, error_model="numpy", nogil=True)
def _lane_costs(X, Y, Xv, Yv, block, state, snaps, epochs, train_loss, val_loss, last_finite,
                rng, shuffle, orders):
    """The cost thread, as mlplab.engine.kernels._lane_costs runs it."""
    if not join(state):
        return
    S = np.empty(block * {width}, snaps.dtype)
    A1 = np.empty_like(S)
    A2 = np.empty_like(S)
    has_val = Xv.shape[0] > 0
    for e in range(epochs):
        p = snaps[wait_for(state, e, rng, X.shape[0], shuffle, orders, epochs), 0]
        tl = _cost(p, X, Y, block, S, A1, A2)
        vl = _cost(p, Xv, Yv, block, S, A1, A2) if has_val else 0.0
        finite = record_epoch(e, tl, vl, has_val, train_loss, val_loss, p, last_finite)
        if not costed(state, e, finite):
            return
'''


def source(sizes, codes, alphas, loss_code) -> str:
    """The generated module of one architecture (widths ``sizes``, activation ``codes`` and
    ``alphas`` per layer, squared-error ``loss_code``)."""
    sizes = [int(n) for n in sizes]
    head = [
        f'"""mlplab: the training loop unrolled for sizes {sizes}, activation codes '
        f'{[int(c) for c in codes]}, loss code {int(loss_code)}. Generated; do not edit."""',
        "",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "from mlplab.engine.atomics import join, partner",
        "from mlplab.engine.fused import pairwise_sum",
        "from mlplab.engine.kernels import VECTOR_MIN, _step_row, act_df, act_f, record_epoch",
        "from mlplab.engine.lane import (costed, finish, next_order, no_ring, publish, ring,",
        "                                wait_for)",
        "from mlplab.engine.orders import order_buffer",
        "from mlplab.engine.threads import prange_only",
        "from mlplab.engine.vsigmoid import sigmoid_flat",
        "",
        "",
        '@njit(cache=True, error_model="numpy", nogil=True)',
        "def _cost(p, X, Y, block, S, A1, A2):",
    ]
    head += _cost_source(sizes, codes, alphas, loss_code)
    step = "\n".join(_step_source(sizes, codes, alphas, loss_code))
    driver = _DRIVER.format(width=max(sizes), layers=len(sizes) - 1, step=step)
    return "\n".join(head) + "\n\n" + driver

"""The compiled loop with BLAS products: training at saturation, batches split in halves, on
one thread or two."""

from __future__ import annotations

import warnings
from unittest.mock import patch

import numba
import numpy as np
import pytest

import mlplab.engine as engine_pkg
from mlplab import MLP, SGD, Adam, DivergenceWarning, fit
from mlplab.engine import blas_loop, threads
from mlplab.engine.kernels import ACT_CODES, LOSS_CODES, _offsets
from mlplab.engine.spec import activation_code, optimizer_code, optimizer_state


def test_training_at_saturation_warns_nothing_and_stays_finite():
    x = np.linspace(-1, 1, 200).reshape(-1, 1)
    net = MLP([1, 20, 20, 1], "sigmoid", seed=0)
    net.weights[0][...] = np.linspace(-2e4, 2e4, 20).reshape(-1, 1)  # z up to ±2e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = fit(net, x, np.cos(x), optimizer=SGD(0.01), epochs=3, batch_size=50, progress=False)
    assert h.status == "completed" and np.isfinite(net.params).all()
    assert all(np.isfinite(h.train_loss))


def train_blas(net, X, y, parts, parallel, validation=None, **kw):
    """Train ``net`` on the BLAS loop with batches split in ``parts`` (1 or 2), the halves run
    at once on two threads or not; return the history."""
    with patch.object(engine_pkg, "SPLIT_WORK", 0 if parts == 2 else 1 << 62), patch.object(
        threads, "two_at_once", lambda: parallel
    ):  # fmt: skip
        trainer = []
        real = engine_pkg.Trainer.__init__

        def spy(self, *args, **kwargs):
            real(self, *args, **kwargs)
            trainer.append(self)

        with patch.object(engine_pkg.Trainer, "__init__", spy):
            h = fit(net, X, y, progress=False, engine="fast", validation=validation, **kw)
    assert trainer[0].kind == "blas" and trainer[0].parts == parts
    return h


@pytest.mark.parametrize(
    ("sizes", "act", "loss", "batch", "sampling"),
    [
        ([1, 64, 64, 1], "sigmoid", "mse", 128, "shuffle"),
        ([3, 20, 30, 2], "relu", "half_sse", 37, "replacement"),  # odd batch: halves of 19, 18
        ([2, 24, 1], "leaky_relu:0.1", "mse", 1, "shuffle"),  # one row: a half with none
    ],
)
def test_halves_give_the_same_numbers_at_once_or_one_after_the_other(
    sizes, act, loss, batch, sampling
):
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (301, sizes[0]))
    y = np.cos(X @ rng.normal(size=(sizes[0], sizes[-1])))
    runs = {}
    for parts, parallel in ((1, False), (2, False), (2, True)):
        net = MLP(sizes, act, seed=0)
        h = train_blas(net, X, y, parts, parallel, validation=0.2, loss=loss,
                       optimizer=Adam(1e-3), epochs=6, batch_size=batch, sampling=sampling,
                       seed=1)  # fmt: skip
        runs[parts, parallel] = (net.params, h)
    (p1, h1), (p2, h2), (p3, h3) = runs.values()
    # at once or not: bit for bit
    np.testing.assert_array_equal(p3, p2)
    np.testing.assert_array_equal(h3.train_loss, h2.train_loss)
    np.testing.assert_array_equal(h3.val_loss, h2.val_loss)
    # split or not: the same training to rounding (sums over the batch in another order)
    assert np.max(np.abs(p2 - p1)) <= 1e-12 * np.max(np.abs(p1))
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-12)
    np.testing.assert_allclose(h2.val_loss, h1.val_loss, rtol=1e-12)


def test_halves_at_once_stop_a_diverging_run_like_the_whole_batch():
    x = np.linspace(-1, 1, 256).reshape(-1, 1)
    out = []
    for parts, parallel in ((1, False), (2, True)):
        net = MLP([1, 64, 1], "identity", seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            h = train_blas(net, x, 3 * x, parts, parallel, optimizer=SGD(5.0), epochs=50,
                           batch_size=64, seed=0)  # fmt: skip
        out.append((net.params, h))
    (p1, h1), (p2, h2) = out
    assert h1.status == h2.status == "diverged" and h1.epochs == h2.epochs
    assert np.all(np.isfinite(p2))
    assert np.max(np.abs(p2 - p1)) <= 1e-12 * np.max(np.abs(p1))


def _train_epochs(net, X, y, Xv, yv, opt, epochs, batch_size, shuffle, parallel, with_cost):
    """One call of the BLAS loop's ``train_epochs`` with batches in halves, on copies; all it
    changes, as a dict."""
    params = net.params.copy()
    m, v = optimizer_state(opt, params)
    m = np.zeros_like(params) if m.size == 0 else m.copy()
    v = np.zeros_like(params) if v.size == 0 else v.copy()
    opt_code, hyper = optimizer_code(opt)
    codes = [activation_code(act) for act in net.activations]
    t = np.array([0], np.int64)
    tl, vl, last = np.zeros(epochs), np.zeros(epochs), params.copy()
    rng = np.random.default_rng(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        done = blas_loop.train_epochs(
            params, np.array(net.sizes, np.int64), np.array([ACT_CODES[c] for c, _ in codes]),
            np.array([a for _, a in codes]), X, y, Xv, yv, LOSS_CODES["mse"], opt_code, hyper, m,
            v, t, np.full(epochs, opt.lr), batch_size, shuffle, rng, tl, vl, last, with_cost, 2,
            parallel,
        )  # fmt: skip
    return {"done": done, "params": params, "m": m, "v": v, "t": t, "train": tl, "val": vl,
            "last": last, "next draw": rng.integers(0, 1 << 40)}  # fmt: skip


# (sizes, hidden, output, optimiser, batch, sampling, target scale): one run of 7 epochs each
RUNS = [
    ([2, 24, 17, 3], "sigmoid", "identity", lambda: Adam(1e-2), 25, True, 1.0),
    # one-point batches (the second half has no row) and a one-unit hidden layer
    ([1, 30, 1, 2], "leaky_relu:0.1", "sigmoid", lambda: SGD(0.1, momentum=0.9), 1, False, 1.0),
    # a run that stops on a non-finite cost
    ([1, 40, 1], "identity", "identity", lambda: SGD(5.0), 16, True, 1e3),
]


@pytest.mark.parametrize("with_cost", [True, False])
@pytest.mark.parametrize("run", RUNS, ids=["adam", "one-point", "diverging"])
def test_two_threads_or_one_give_the_same_run_bit_for_bit(run, with_cost):
    # the two threads of one parallel region, or the region on one Numba thread (the first
    # finds no partner and takes both halves), or no region: the same run, generator included
    sizes, hidden, output, make_opt, batch, shuffle, scale = run
    rng = np.random.default_rng(0)
    net = MLP(sizes, hidden, output, seed=2)
    X, y = rng.uniform(-1, 1, (203, sizes[0])), scale * rng.uniform(-1, 1, (203, sizes[-1]))
    Xv, yv = rng.uniform(-1, 1, (70, sizes[0])), rng.uniform(-1, 1, (70, sizes[-1]))
    args = (net, X, y, Xv, yv, make_opt(), 7, batch, shuffle)
    alone = _train_epochs(*args, parallel=False, with_cost=with_cost)
    n_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        runs = [_train_epochs(*args, parallel=True, with_cost=with_cost)]
    finally:
        numba.set_num_threads(n_threads)
    if threads.two_at_once():
        runs.append(_train_epochs(*args, parallel=True, with_cost=with_cost))
    steps = -(-203 // batch)
    if scale > 1 and with_cost:
        assert alone["done"] < 7 and not np.isfinite(alone["train"][alone["done"] - 1])
    else:
        assert alone["done"] == 7 and alone["t"][0] == 7 * steps
    assert not np.array_equal(alone["params"], net.params)
    for other in runs:
        for name, value in alone.items():
            assert np.array_equal(other[name], value, equal_nan=True), name


def _case(sizes, hidden, output, rng):
    """A network, its kernel codes and a batch of data, in float64."""
    net = MLP(sizes, hidden, output, seed=int(rng.integers(1 << 30)))
    codes = [activation_code(act) for act in net.activations]
    X = rng.uniform(-2, 2, (150, sizes[0]))
    Y = rng.uniform(-1, 1, (150, sizes[-1]))
    return (net, np.array(net.sizes, np.int64), np.array([ACT_CODES[c] for c, _ in codes]),
            np.array([a for _, a in codes]), X, Y)  # fmt: skip


NETWORKS = [
    ([1, 64, 64, 1], "sigmoid", "identity"),
    ([3, 20, 30, 2], "relu", "identity"),  # transposed weights, tiles with columns left over
    ([2, 24, 17, 3], "sigmoid", "sigmoid"),
    ([1, 30, 1, 2], "leaky_relu:0.1", "sigmoid"),  # a one-unit hidden layer
    ([4, 20, 18, 17, 1], "leaky_relu:0.2", "identity"),
]


@pytest.mark.parametrize(("sizes", "hidden", "output"), NETWORKS)
@pytest.mark.parametrize("parts", [1, 2])
def test_gradient_and_cost_through_blas_or_tiles_equal_the_reference(sizes, hidden, output,
                                                                     parts):  # fmt: skip
    # in float64, so that either way's products and sums agree with NumPy's to rounding: whole
    # batches (parts 1) through BLAS, batches in halves in the register tiles
    rng = np.random.default_rng(sum(sizes) + 7 * parts)
    net, s, codes, alphas, X, Y = _case(sizes, hidden, output, rng)
    params = net.params.copy()
    col, woff, boff = _offsets(s)
    WT = blas_loop._transposed(params, s, woff, parts)
    idx = rng.permutation(150)[:37].astype(np.int64)
    for loss_code, loss in ((LOSS_CODES["mse"], "mse"), (LOSS_CODES["half_sse"], "half_sse")):
        A, Z = blas_loop._buffers(s, params.dtype, 256, 1)
        G = np.full_like(params, np.nan)
        blas_loop._gradient(params, WT, s, codes, alphas, col, woff, boff, X, Y, idx, 37,
                            loss_code, A, Z, np.empty_like(A), 256, G)  # fmt: skip
        ref = net.loss_gradient(X[idx], Y[idx], loss)[1]
        assert np.max(np.abs(G - ref)) <= 1e-12 * np.max(np.abs(ref))
    blocks = range(blas_loop._blocks(150, WT))
    errors = [blas_loop._block_error(k, params, WT, s, codes, alphas, col, woff, boff, X, Y, A,
                                     Z, 256) for k in blocks]  # fmt: skip
    exact = np.sum((net(X) - Y) ** 2)
    assert abs(sum(errors) - exact) <= 1e-12 * exact


@pytest.mark.parametrize(("sizes", "hidden", "output"), NETWORKS)
def test_float32_gradient_in_the_tiles_is_close_to_the_reference(sizes, hidden, output):
    # a float32 half batch through the register tiles, against the float64 reference at the
    # same (float32) parameters and data
    rng = np.random.default_rng(sum(sizes) + 3)
    net, s, codes, alphas, X, Y = _case(sizes, hidden, output, rng)
    params = net.params.astype(np.float32)
    net.set_params(params)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    col, woff, boff = _offsets(s)
    WT = blas_loop._transposed(params, s, woff, 2)
    idx = rng.permutation(150)[:37].astype(np.int64)
    A, Z = blas_loop._buffers(s, np.float32, 256, 1)
    G = np.full_like(params, np.nan)
    blas_loop._gradient(params, WT, s, codes, alphas, col, woff, boff, X32, Y32, idx, 37,
                        LOSS_CODES["mse"], A, Z, np.empty_like(A), 256, G)  # fmt: skip
    ref = net.loss_gradient(X32[idx].astype(np.float64), Y32[idx].astype(np.float64), "mse")[1]
    assert G.dtype == np.float32
    assert np.max(np.abs(G - ref)) <= 2e-6 * np.max(np.abs(ref))  # 1.7e-7 at most, measured


@pytest.mark.parametrize(("sizes", "hidden", "output"), NETWORKS)
def test_float32_training_in_halves_matches_the_reference_closely(sizes, hidden, output):
    rng = np.random.default_rng(11)
    X = rng.uniform(-2, 2, (301, sizes[0]))
    y = np.cos(X @ rng.normal(size=(sizes[0], sizes[-1])))
    runs = {}
    for parts, parallel in ((1, False), (2, False), (2, True)):
        net = MLP(sizes, hidden, output, seed=0, dtype="float32")
        h = train_blas(net, X, y, parts, parallel, validation=0.2, optimizer=Adam(1e-3),
                       epochs=4, batch_size=64, seed=1)  # fmt: skip
        runs[parts, parallel] = (net.params, h)
    ref = MLP(sizes, hidden, output, seed=0, dtype="float32")
    h_ref = fit(ref, X, y, optimizer=Adam(1e-3), epochs=4, batch_size=64, seed=1,
                validation=0.2, progress=False, engine="reference")  # fmt: skip
    (p1, h1), (p2, h2), (p3, h3) = runs.values()
    assert p3.dtype == np.float32
    np.testing.assert_array_equal(p3, p2)  # at once or not: bit for bit
    np.testing.assert_array_equal(h3.train_loss, h2.train_loss)
    for p, h in ((p1, h1), (p2, h2)):  # float32 products and sums in other orders
        assert np.max(np.abs(p - ref.params)) <= 1e-5 * np.max(np.abs(ref.params))
        np.testing.assert_allclose(h.train_loss, h_ref.train_loss, rtol=1e-4)
        np.testing.assert_allclose(h.val_loss, h_ref.val_loss, rtol=1e-4)

"""The unrolled loops: the same numbers as the generic compiled loop, bit for bit, and a cache
that fails safe."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlplab
from mlplab import MLP, SGD, Adam, fit
from mlplab.data import paper_example
from mlplab.engine import Trainer, kernels, needs_compiling, unrolled
from mlplab.engine.spec import activation_code, optimizer_code, optimizer_state
from mlplab.losses import get_loss
from mlplab.progress import EpochProgress

# (sizes, hidden activation, output activation, loss): one compile each
ARCHITECTURES = [
    ([2, 2, 3, 2], "sigmoid", "sigmoid", "half_sse"),  # the paper's network
    ([1, 5, 1], "tanh", "identity", "mse"),  # a one-unit output: pairwise bias sums
    ([3, 4, 1, 2], "leaky_relu:0.1", "sigmoid", "mse"),  # a one-unit hidden layer
    ([2, 3, 3, 1], "elu", "softplus", "half_sse"),
    ([1, 4, 2], "gelu", "sin", "mse"),
    ([2, 6, 2], "relu", "identity", "half_sse"),
]
OPTIMISERS = [
    lambda: SGD(0.1),
    lambda: SGD(0.05, momentum=0.9),
    lambda: SGD(0.05, momentum=0.9, nesterov=True),
    lambda: Adam(1e-2),
]


def _codes(net: MLP) -> tuple[np.ndarray, np.ndarray]:
    pairs = [activation_code(act) for act in net.activations]
    codes = np.array([kernels.ACT_CODES[name] for name, _ in pairs], np.int64)
    return codes, np.array([alpha for _, alpha in pairs], np.float64)


def _run(kernel, net, loss, opt, X, y, Xv, yv, epochs, batch_size, shuffle, seed):
    """One call of a ``train_epochs`` on copies; everything it changes, as a dict."""
    params = net.params.copy()
    m, v = optimizer_state(opt, params)
    m = np.zeros_like(params) if m.size == 0 else m.copy()
    v = np.zeros_like(params) if v.size == 0 else v.copy()
    opt_code, hyper = optimizer_code(opt)
    codes, alphas = _codes(net)
    t = np.array([0], np.int64)
    tl, vl, last = np.zeros(epochs), np.zeros(epochs), params.copy()
    lrs = np.full(epochs, opt.lr)
    rng = np.random.default_rng(seed)
    done = kernel(params, np.array(net.sizes, np.int64), codes, alphas, X, y, Xv, yv,
                  kernels.LOSS_CODES[loss], opt_code, hyper, m, v, t, lrs, batch_size, shuffle,
                  rng, tl, vl, last)  # fmt: skip
    return {"done": done, "params": params, "m": m, "v": v, "t": t, "train": tl, "val": vl,
            "last": last, "next draw": rng.integers(0, 1 << 40)}  # fmt: skip


def _data(sizes, seed=0, n=13):
    rng = np.random.default_rng(seed)
    X, y = rng.uniform(-1, 1, (n, sizes[0])), rng.uniform(-1, 1, (n, sizes[-1]))
    Xv, yv = rng.uniform(-1, 1, (5, sizes[0])), rng.uniform(-1, 1, (5, sizes[-1]))
    return X, y, Xv, yv


def _cases(net, loss):
    """The arguments of :func:`_run` for each optimiser, each with its own batch size, sampling
    and validation, over 40 epochs; then one-point batches (a branch of their own in the
    unrolled loop) with an optimiser that keeps state."""
    X, y, Xv, yv = _data(net.sizes)
    cases = [(1, False, True), (3, True, False), (13, True, True), (8, False, False)]
    for k, make_opt in enumerate(OPTIMISERS):
        batch_size, shuffle, validate = cases[k]
        xv, tv = (Xv, yv) if validate else (Xv[:0], yv[:0])
        yield (net, loss, make_opt(), X, y, xv, tv, 40, batch_size, shuffle, k)
    yield (net, loss, OPTIMISERS[-1](), X, y, Xv[:0], yv[:0], 40, 1, True, len(OPTIMISERS))


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: "-".join(map(str, a[0])))
def test_unrolled_loop_gives_the_generic_loops_numbers_bit_for_bit(arch):
    sizes, hidden, output, loss = arch
    net = MLP(sizes, hidden, output, seed=3)
    codes, alphas = _codes(net)
    kernel = unrolled.train_epochs(net.sizes, codes, alphas, kernels.LOSS_CODES[loss])
    for args in _cases(net, loss):
        generic, fast = _run(kernels.train_epochs, *args), _run(kernel, *args)
        for name, value in generic.items():
            assert np.array_equal(fast[name], value), (name, args[8], args[10])


def test_unrolled_loop_stops_where_the_generic_loop_stops_on_divergence():
    sizes = [1, 5, 1]
    net = MLP(sizes, "tanh", "identity", seed=0)
    codes, alphas = _codes(net)
    kernel = unrolled.train_epochs(net.sizes, codes, alphas, kernels.LOSS_CODES["mse"])
    X, y, Xv, yv = _data(sizes)
    y = y * 1e3
    args = (net, "mse", SGD(3.0), X, y, Xv[:0], yv[:0], 50, 4, True, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generic, fast = _run(kernels.train_epochs, *args), _run(kernel, *args)
    assert generic["done"] < 50 and not np.isfinite(generic["train"][generic["done"] - 1])
    for name, value in generic.items():
        assert np.array_equal(fast[name], value, equal_nan=True), name


def test_fit_takes_the_unrolled_loop_on_long_runs_and_matches_the_reference(monkeypatch):
    monkeypatch.setattr(unrolled, "MIN_POINTS", 1000)
    made = []
    real = unrolled.loops
    monkeypatch.setattr(unrolled, "loops", lambda *a: made.append(a) or real(*a))
    assert_paper_example_matches_reference(epochs=500)
    assert len(made) == 1  # the fast run took the unrolled loop


def assert_paper_example_matches_reference(epochs):
    """Train the paper's example on the reference path and the fast engine: the same
    parameters (1e-12 relative) and costs (1e-10)."""
    X, Y = paper_example()
    runs = {}
    for engine in ("reference", "auto"):
        net = MLP([2, 2, 3, 2], "sigmoid", "sigmoid", init="normal:0,0.5", seed=1)
        h = fit(net, X, Y, loss="half_sse", optimizer=SGD(0.05), epochs=epochs, batch_size=1,
                sampling="replacement", seed=0, progress=False, engine=engine)  # fmt: skip
        runs[engine] = (net.params, h.train_loss)
    err = np.max(np.abs(runs["auto"][0] - runs["reference"][0])) / np.max(
        np.abs(runs["reference"][0])
    )
    assert err <= 1e-12
    np.testing.assert_allclose(runs["auto"][1], runs["reference"][1], rtol=1e-10)


def _trainer(net, epochs, n=10):
    X, y = np.zeros((n, net.sizes[0])), np.zeros((n, net.sizes[-1]))
    return Trainer("compiled", net, X, y, None, None, get_loss("mse"), SGD(0.1), 1, "shuffle",
                   np.random.default_rng(0), epochs=epochs)  # fmt: skip


def test_the_trainer_unrolls_only_tiny_float64_networks_on_long_runs():
    long = unrolled.MIN_POINTS // 10
    assert _trainer(MLP([2, 3, 1], seed=0), long).unrolled is not None
    assert _trainer(MLP([2, 3, 1], seed=0), long - 1).unrolled is None  # too short a run
    assert _trainer(MLP([2, 3, 1], seed=0), None).unrolled is None  # length unknown
    assert _trainer(MLP([2, 3, 1], seed=0, dtype="float32"), long).unrolled is None
    assert _trainer(MLP([2, unrolled.MAX_WIDTH + 1, 1], seed=0), long).unrolled is None
    wide = [unrolled.MAX_WIDTH] * (unrolled.MAX_UNITS // unrolled.MAX_WIDTH + 1)
    assert _trainer(MLP(wide, seed=0), long).unrolled is None  # too many units


def test_an_unwritable_cache_falls_back_to_the_generic_loop(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MLPLAB_CACHE_DIR", str(blocked))
    net = MLP([2, 7, 1], "tanh", seed=0)  # an architecture no other test compiles
    codes, alphas = _codes(net)
    assert unrolled.train_epochs(net.sizes, codes, alphas, 0) is None
    monkeypatch.setattr(unrolled, "MIN_POINTS", 10)
    X, y = np.random.default_rng(0).uniform(size=(10, 2)), np.zeros((10, 1))
    h = fit(net, X, y, loss="mse", optimizer=SGD(0.1), epochs=5, progress=False)
    assert len(h.train_loss) == 5 and np.all(np.isfinite(h.train_loss))


def test_the_cache_folder_follows_the_environment_and_the_engine_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_CACHE_DIR", str(tmp_path))
    folder = unrolled.cache_dir()
    assert folder.parent == tmp_path and folder.name.startswith("unrolled-")
    net = MLP([1, 2, 1], "sigmoid", seed=0)
    codes, alphas = _codes(net)
    unrolled.train_epochs(net.sizes, codes, alphas, 1)
    (path,) = folder.glob("net_*.py")
    stamp = os.stat(path).st_mtime_ns
    unrolled._loaded.clear()
    unrolled.train_epochs(net.sizes, codes, alphas, 1)  # loads, does not rewrite
    assert os.stat(path).st_mtime_ns == stamp
    assert not list(folder.glob(".*"))  # no temporary file left behind
    path.write_text("damaged")
    unrolled._loaded.clear()
    assert unrolled.train_epochs(net.sizes, codes, alphas, 1) is not None  # written anew
    assert path.read_text() == unrolled.source(net.sizes, codes, alphas, 1)


def test_generated_source_is_plain_code_of_the_architecture():
    src = unrolled.source([2, 2, 3, 2], [1, 1, 1], [0.0, 0.0, 0.0], 1)
    tree = ast.parse(src)
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert names == {"_cost", "_train", "_lane_costs", "train_epochs", "train_epochs_with_lane"}
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}  # fmt: skip
    assert not calls & {"eval", "exec", "compile", "__import__", "open"}
    assert "z3_1" in src and "z4_0" not in src  # layers 2..4 of the paper are z1..z3 here


def test_choose_still_names_the_compiled_kind_for_unrolled_runs():
    net = MLP([2, 2, 3, 2], "sigmoid", "sigmoid", seed=0)
    assert mlplab.engine.choose("auto", net, get_loss("half_sse"), SGD(0.05)) == "compiled"


def test_needs_compiling_says_whether_the_first_call_compiles(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_CACHE_DIR", str(tmp_path))
    net = MLP([3, 2, 2], "tanh", "sigmoid", seed=0)  # an architecture no other test compiles
    codes, alphas = _codes(net)
    kernel = unrolled.train_epochs(net.sizes, codes, alphas, 0)
    assert needs_compiling(kernel)
    X, y, Xv, yv = _data(net.sizes)
    _run(kernel, net, "mse", SGD(0.1), X, y, Xv[:0], yv[:0], 2, 4, True, 0)
    assert not needs_compiling(kernel)
    # a fresh process finds it in the on-disk cache
    code = (
        "import numpy as np; from mlplab import MLP; from mlplab.engine import needs_compiling;"
        "from mlplab.engine import unrolled, kernels;"
        "k = unrolled.train_epochs([3, 2, 2], np.array([2, 1]), np.zeros(2), 0);"
        "print(needs_compiling(k))"
    )
    env = {**os.environ, "MLPLAB_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    assert out.stdout.strip() == "False"


def test_fit_says_so_on_its_progress_bar_while_a_loop_compiles(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(unrolled, "MIN_POINTS", 10)
    notes = []
    monkeypatch.setattr(EpochProgress, "note", lambda self, text: notes.append(text))
    X, y = np.random.default_rng(0).uniform(size=(10, 2)), np.zeros((10, 1))
    for _ in range(2):  # a new architecture compiles once, then loads
        net = MLP([2, 3, 2, 1], "sigmoid", "identity", seed=0)
        fit(net, X, y, loss="mse", optimizer=SGD(0.1), epochs=3, progress=True)
    assert notes == ["compiling the training loop (once on this machine)"]

"""The engine's paths train exactly as the reference path, say which path ran, refuse what
would be unsafe, and stay small and light."""

import ast
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab import MLP, SGD, Adam, fit
from mlplab.engine import explain
from mlplab.engine.compiled import CompiledLoop
from tests.conftest import output_for, targets_for

SRC = Path(mlplab.__file__).parent


def twins(engines, make_net, X, y, make_opt, **kw):
    """Train one fresh network per engine; returns {engine: (net, history, optimizer)}."""
    out = {}
    for engine in engines:
        net, opt = make_net(), make_opt()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mlplab.DivergenceWarning)
            h = fit(net, X, y, optimizer=opt, progress=False, engine=engine, **kw)
        out[engine] = (net, h, opt)
    return out


def assert_same(out, tol=1e-12):
    ref_net, ref_h, ref_opt = out["reference"]
    for engine, (net, h, opt) in out.items():
        scale = max(1.0, float(np.max(np.abs(ref_net.params))))
        assert np.max(np.abs(net.params - ref_net.params)) <= tol * scale, engine
        np.testing.assert_allclose(h.train_loss, ref_h.train_loss, rtol=tol, atol=tol)
        np.testing.assert_allclose(h.val_loss, ref_h.val_loss, rtol=tol, atol=tol)
        assert (h.status, h.steps, opt.t) == (ref_h.status, ref_h.steps, ref_opt.t), engine
        assert h.engine == engine


OPTIMIZERS = {
    "sgd": lambda: SGD(0.05),
    "momentum": lambda: SGD(0.05, momentum=0.9),
    "nesterov": lambda: SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(0.01),
}
ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu:0.1", "elu", "softplus", "gelu", "sin"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    act=st.sampled_from(ACTIVATIONS),
    loss=st.sampled_from(["mse", "half_sse", "cross_entropy", "bce", "bce_logits"]),
    opt=st.sampled_from(sorted(OPTIMIZERS)),
    batch=st.integers(1, 9),
    n=st.integers(3, 20),
    sampling=st.sampled_from(["shuffle", "replacement"]),
    dtype_seed=st.integers(0, 1000),
)
def test_numpy_path_equals_reference(sizes, act, loss, opt, batch, n, sampling, dtype_seed):
    if loss == "cross_entropy" and sizes[-1] < 2:
        sizes = [*sizes[:-1], 2]
    rng = np.random.default_rng(dtype_seed)
    X = rng.uniform(-1, 1, (n, sizes[0]))
    y = targets_for(loss, n, sizes[-1], rng)
    out = twins(["reference", "numpy"],
                lambda: MLP(sizes, act, output_for(loss), seed=dtype_seed), X, y,
                OPTIMIZERS[opt], loss=loss, epochs=3, batch_size=batch, batch_sampling=sampling,
                seed=1)  # fmt: skip
    assert_same(out)


# The compiled path compiles one loop per configuration (seconds each): a fixed set covers every
# compilable activation, every loss and every optimiser at least once.
COMPILED_CASES = [
    ([2, 2, 3, 2], ["sigmoid", "sigmoid", "sigmoid"], "half_sse", "sgd"),
    ([1, 5, 4, 1], ["tanh", "relu", "identity"], "mse", "adam"),
    ([3, 4, 3], ["elu", "identity"], "cross_entropy", "momentum"),
    ([2, 3, 2], ["softplus", "sigmoid"], "bce", "nesterov"),
    ([2, 4, 1], ["leaky_relu:0.1", "identity"], "bce_logits", "adam"),
    ([1, 3, 3, 1], ["sin", "tanh", "identity"], "mse", "sgd"),
]


@pytest.mark.parametrize("sizes, acts, loss, opt", COMPILED_CASES)
def test_compiled_path_equals_reference(sizes, acts, loss, opt):
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (23, sizes[0]))
    y = targets_for(loss, 23, sizes[-1], rng)
    out = twins(["reference", "numpy", "compiled"], lambda: MLP(sizes, acts, seed=3), X, y,
                OPTIMIZERS[opt], loss=loss, epochs=6, batch_size=5, validation=0.25,
                seed=2)  # fmt: skip
    assert_same(out)
    # float32 stays within float32 rounding of the reference
    f32 = twins(["reference", "compiled"], lambda: MLP(sizes, acts, seed=3, dtype="float32"), X,
                y, OPTIMIZERS[opt], loss=loss, epochs=6, batch_size=5, seed=2)  # fmt: skip
    a, b = f32["reference"][0].params, f32["compiled"][0].params
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@pytest.mark.slow
def test_a_deep_network_compiles_and_equals_reference():
    # ten layers: the generated loop once took more arguments than Numba passes to a call
    sizes = [1] + [3] * 9 + [1]
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (12, 1))
    out = twins(["reference", "compiled"], lambda: MLP(sizes, "tanh", seed=4), X, np.sin(3 * X),
                OPTIMIZERS["adam"], loss="mse", epochs=4, batch_size=5, seed=2)  # fmt: skip
    assert out["compiled"][1].engine == "compiled"
    assert_same(out)


def test_paper_example_on_the_compiled_path_with_divergence_and_schedule():
    X, Y = mlplab.data.paper_example()
    make = lambda: MLP([2, 2, 3, 2], "sigmoid", "sigmoid", seed=1)  # noqa: E731
    out = twins(["reference", "compiled"], make, X, Y, lambda: SGD(0.05), loss="half_sse",
                epochs=300, batch_size=1, batch_sampling="replacement", seed=0,
                schedule="cosine:0.1")  # fmt: skip
    assert_same(out)
    big = twins(["reference", "numpy", "compiled"], make, X, Y * 1e200, lambda: SGD(1e3),
                loss="half_sse", epochs=40, batch_size=2, seed=0)  # fmt: skip
    assert big["reference"][1].status == "diverged"
    assert_same(big)


def test_callbacks_and_early_stopping_see_every_epoch_on_every_path():
    X = np.linspace(-1, 1, 30).reshape(-1, 1)
    y = np.sin(3 * X)
    seen = {}

    def make_opt():
        return Adam(0.05)

    for engine in ("reference", "numpy", "compiled"):
        seen[engine] = []
        cb = lambda e, h, net, s=seen[engine]: s.append(net.params.copy()) and False  # noqa: E731
        net = MLP([1, 6, 1], "tanh", seed=0)
        h = fit(net, X, y, optimizer=make_opt(), epochs=60, batch_size=7, validation=0.3,
                early_stopping=4, schedule="step:10,0.5", callbacks=[cb], progress=False,
                engine=engine, seed=3)  # fmt: skip
        seen[engine].append((h.status, h.epochs))
    for engine in ("numpy", "compiled"):
        assert seen[engine][-1] == seen["reference"][-1]
        for a, b in zip(seen[engine][:-1], seen["reference"][:-1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# --- new operations: one definition in one place, and every path runs them -------------------


def _logistic(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def _swish(z):
    return z * _logistic(z)


def _dswish(z):
    s = _logistic(z)
    return s + z * s * (1.0 - s)


def _d2swish(z):
    s = _logistic(z)
    return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


def _huber(a, t):
    r = np.abs(a - t)
    return np.sum(np.minimum(r, 1.0) * (r - 0.5 * np.minimum(r, 1.0))) / a.size


def _dhuber(a, t):
    return np.minimum(np.maximum(a - t, -1.0), 1.0) / a.size


def _rmsprop(p, g, lr, t, square, rho, eps):
    square = rho * square + (1.0 - rho) * g * g
    return p - lr * g / (np.sqrt(square) + eps), square


class RMSProp(mlplab.optim.Optimizer):
    state_names = ("square",)
    update = staticmethod(_rmsprop)

    def __init__(self, lr=0.01, rho=0.9, eps=1e-8):
        super().__init__(lr)
        self.rho, self.eps = rho, eps

    def hyper(self):
        return (self.rho, self.eps)


def test_new_activation_loss_and_optimizer_train_on_every_path(monkeypatch):
    # registries of this test's own, so that the names stay unknown to the other tests
    for module, name in ((mlplab.activations, "_FIXED"), (mlplab.losses, "_LOSSES"),
                         (mlplab.optim, "_OPTIMIZERS")):  # fmt: skip
        monkeypatch.setattr(module, name, dict(getattr(module, name)))
    mlplab.activations.register(mlplab.Activation("swish", _swish, _dswish, _d2swish))
    mlplab.losses.register(mlplab.Loss("huber", _huber, _dhuber))
    mlplab.optim.register("rmsprop", RMSProp)
    z = np.linspace(-3, 3, 13)
    h = 1e-6
    np.testing.assert_allclose(_dswish(z), (_swish(z + h) - _swish(z - h)) / (2 * h), rtol=1e-8)
    np.testing.assert_allclose(_d2swish(z), (_dswish(z + h) - _dswish(z - h)) / (2 * h), rtol=1e-7)
    X = np.linspace(-2, 2, 40).reshape(-1, 1)
    y = np.abs(X) * 3
    make_opt = lambda: mlplab.get_optimizer("rmsprop", lr=0.01)  # noqa: E731
    out = twins(["reference", "auto", "compiled"], lambda: MLP([1, 8, 1], "swish", seed=0), X, y,
                make_opt, loss="huber", epochs=30, batch_size=8, seed=0)  # fmt: skip
    out["numpy"] = out.pop("auto")  # the default engine: a short run takes the NumPy stepper
    assert_same(out, tol=1e-10)


def test_an_optimizer_with_only_a_step_runs_on_numpy_and_says_so():
    class Halving(mlplab.optim.Optimizer):
        def step(self, params, grad):
            self.t += 1
            params -= 0.5 * self.lr * grad

    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    net = MLP([1, 3, 1], seed=0)
    plan = explain(net, "mse", Halving(0.1), batch_size=4, n_points=20, epochs=10**5)
    assert plan.path == "numpy" and "update" in plan.reason
    out = twins(["reference", "numpy"], lambda: MLP([1, 3, 1], seed=0), X, X ** 2,
                lambda: Halving(0.1), epochs=5, batch_size=4, seed=0)  # fmt: skip
    assert_same(out)
    with pytest.raises(ValueError, match="update"):
        fit(net, X, X, optimizer=Halving(0.1), epochs=1, progress=False, engine="compiled")


# --- the choice, said before and after ----------------------------------------------------------


def test_explain_names_the_path_and_why():
    tiny = MLP([2, 2, 3, 2], "sigmoid", "sigmoid")
    plan = explain(tiny, "half_sse", SGD(0.05), batch_size=1, n_points=10, epochs=10**5)
    assert plan.path == "compiled" and "compiled call" in plan.reason
    assert explain(tiny, "mse", SGD(0.1), 1, 10, epochs=10).path == "numpy"
    wide = MLP([784, 1024, 10], "relu")
    assert "BLAS" in explain(wide, "cross_entropy", Adam(), 512, 4096, epochs=10**4).reason
    gelu = MLP([1, 3, 1], "gelu")
    plan = explain(gelu, "mse", SGD(0.1), 1, 100, epochs=10**5)
    assert plan.path == "numpy" and "activation 'gelu' cannot be compiled" in plan.reason
    # in a user's words, with the source's file and line, not Numba's opcode and full path
    assert re.search(r": it imports a module, which Numba does not compile "
                     r"\(activations\.py, line \d+\)$", plan.reason)  # fmt: skip
    assert explain(tiny, "mse", mlplab.LBFGS()).path == "reference"
    assert explain(tiny, engine="reference").reason == "engine='reference' was asked for"
    with pytest.raises(ValueError, match="unknown engine"):
        explain(tiny, engine="turbo")
    with pytest.raises(ValueError, match="gelu"):
        explain(gelu, engine="compiled")


def test_explain_tries_the_slope_function_the_loop_compiles():
    # σ' from the value (dfa) is what the compiled loop calls; one Numba cannot compile sends
    # the configuration to the NumPy stepper, where it trains as the reference does
    table = {"one": 1.0}

    def dfa(t):
        return table["one"] - t * t

    tanh = mlplab.activations.tanh
    act = mlplab.activations.Activation("tanh_dict", tanh.f, tanh.df, tanh.d2f, dfa=dfa)
    net = MLP([1, 3, 1], [act, "identity"], seed=0)
    plan = explain(net, "mse", SGD(0.1), 1, 100, epochs=10**5)
    assert plan.path == "numpy" and "activation 'tanh_dict' cannot be compiled" in plan.reason
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    runs = [fit(net.copy(), X, X, optimizer=SGD(0.1), epochs=3, batch_size=2, seed=0,
                progress=False, engine=engine) for engine in ("fast", "reference")]  # fmt: skip
    np.testing.assert_allclose(runs[0].train_loss, runs[1].train_loss, rtol=1e-12)


def test_bce_checks_the_outputs_on_the_numpy_path_as_the_reference_does():
    # an identity output leaves [0, 1] while it trains: every path stops with bce's message
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    y = (X > 0).astype(float)
    for engine in ("numpy", "reference"):
        net = MLP([1, 1], "identity", seed=0)
        net.biases[0][:] = 0.5
        net.weights[0][:] = 0.0
        with pytest.raises(ValueError, match="bce takes probabilities"):
            fit(net, X, y, loss="bce", optimizer=SGD(5.0), epochs=50, progress=False,
                engine=engine)  # fmt: skip


def test_history_says_which_path_ran():
    X = np.linspace(-1, 1, 10).reshape(-1, 1)
    h = fit(MLP([1, 2, 1], seed=0), X, X, epochs=2, progress=False)
    assert h.engine == "numpy" and "steps do not repay" in h.engine_reason


# --- memory safety -------------------------------------------------------------------------------


def test_a_reused_optimizer_on_a_larger_network_is_refused_before_any_kernel():
    X = np.linspace(-1, 1, 16).reshape(-1, 1)
    for engine in ("reference", "numpy", "compiled"):
        opt = Adam(0.01)
        fit(MLP([1, 2, 1], seed=0), X, X, optimizer=opt, epochs=2, progress=False, engine=engine)
        with pytest.raises(ValueError, match="new optimiser, or call optimizer.reset"):
            fit(MLP([1, 64, 64, 1], seed=0), X, X, optimizer=opt, epochs=2, progress=False,
                engine=engine)  # fmt: skip
        opt.reset()
        fit(MLP([1, 64, 64, 1], seed=0), X, X, optimizer=opt, epochs=1, progress=False,
            engine=engine)  # fmt: skip


def test_the_compiled_loop_checks_every_index_and_shape_before_entering():
    net = MLP([1, 3, 1], seed=0)
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    loop = CompiledLoop(net, X, X, None, None, mlplab.losses.mse, SGD(0.1), 4, net.params.copy())
    for order in (np.full((1, 8), 8), np.full((1, 8), -1), np.zeros((2, 8), int)):
        with pytest.raises(ValueError):
            loop.run(order, np.array([0.1]))
    with pytest.raises(ValueError, match="columns"):
        CompiledLoop(net, np.zeros((8, 2)), X, None, None, mlplab.losses.mse, SGD(0.1), 4,
                     net.params.copy())  # fmt: skip
    with pytest.raises(ValueError, match="state array"):
        CompiledLoop(net, X, X, None, None, mlplab.losses.mse, SGD(0.1), 4, np.zeros(3))
    # the loop indexes p(sizes) parameters: params cannot be replaced, and a shorter vector
    # put past that guard is still refused before the loop runs
    shrunk = MLP([2, 8, 8, 1], seed=0)
    with pytest.raises(AttributeError, match="net.params cannot be replaced"):
        shrunk.params = np.zeros(10)
    shrunk._params = np.zeros(10)
    with pytest.raises(ValueError, match="replace its params"):
        fit(shrunk, np.zeros((8, 2)), np.zeros((8, 1)), optimizer=SGD(0.1), epochs=1,
            progress=False, engine="compiled")  # fmt: skip


@pytest.mark.parametrize("bad", [2.5, 0, -3, True, "8"])
def test_a_batch_size_that_is_not_a_whole_number_is_refused(bad):
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(MLP([1, 2, 1]), X, X, batch_size=bad, epochs=1, progress=False)


# --- small, light, layered ---------------------------------------------------------------


def test_the_engine_fits_its_line_budget():
    lines = sum(len(p.read_text().splitlines()) for p in (SRC / "engine").glob("*.py"))
    assert lines <= 2000, lines


def test_only_jit_imports_numba_and_network_does_not_import_the_engine():
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}  # fmt: skip
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        if path.name != "jit.py":
            assert not any(n.split(".")[0] == "numba" for n in names), path
        if path.name == "network.py":
            assert not any(n.startswith("mlplab.engine") for n in names)


def test_import_mlplab_does_not_load_numba():
    code = "import sys, mlplab; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_steps_counted_as_the_reference_counts_them():
    X = np.linspace(-1, 1, 10).reshape(-1, 1)
    h = fit(MLP([1, 2, 1], seed=0), X, X, epochs=3, batch_size=4, progress=False, engine="numpy")
    assert h.steps == 3 * math.ceil(10 / 4)


# --- full-batch epochs: one forward pass each, never a stale one ------------------------------


def test_a_full_batch_epoch_makes_one_forward_pass(monkeypatch):
    from mlplab.engine.stepper import Stepper

    passes = []
    forward = Stepper.forward
    counted = lambda self, buf: passes.append(1) or forward(self, buf)  # noqa: E731
    monkeypatch.setattr(Stepper, "forward", counted)
    X = np.linspace(-1, 1, 40).reshape(-1, 1)
    fit(MLP([1, 8, 1], "tanh", seed=0), X, np.sin(3 * X), epochs=10, batch_size=None,
        progress=False, engine="numpy")  # fmt: skip
    assert len(passes) == 10 + 1  # the cost after each epoch, and the first epoch's own pass
    passes.clear()
    fit(MLP([1, 8, 1], "tanh", seed=0), X, np.sin(3 * X), epochs=10, batch_size=None,
        batch_sampling="replacement", progress=False, engine="numpy")  # fmt: skip
    assert len(passes) == 2 * 10  # drawn with replacement: the batch is not the set


@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_a_callback_that_changes_the_parameters_is_seen_by_the_next_full_batch(sampling):
    X = np.linspace(-1, 1, 25).reshape(-1, 1)

    def shrink(epoch, history, net):
        net.params *= 0.9
        return False

    out = twins(["reference", "numpy"], lambda: MLP([1, 8, 8, 1], "tanh", seed=2), X,
                np.cos(2 * X), lambda: Adam(0.01), epochs=15, batch_size=None,
                batch_sampling=sampling, callbacks=[shrink], seed=0)  # fmt: skip
    assert_same(out)


def test_training_data_changed_in_place_by_a_callback_is_seen_by_the_next_full_batch():
    X = np.linspace(-1, 1, 30).reshape(-1, 1)
    rng = {}

    def resample(epoch, history, net):
        generator = rng.setdefault(id(net), np.random.default_rng(0))
        X[...] = generator.uniform(-1, 1, X.shape)  # the array fit trains on
        return False

    out = {}
    for engine in ("reference", "numpy"):
        X[...] = np.linspace(-1, 1, 30).reshape(-1, 1)
        net = MLP([1, 8, 1], "tanh", seed=0)
        y = np.linspace(0, 1, 30).reshape(-1, 1)
        fit(net, X, y, optimizer=Adam(0.01), epochs=8, batch_size=None, callbacks=[resample],
            progress=False, engine=engine, seed=0)  # fmt: skip
        out[engine] = net
    np.testing.assert_allclose(out["numpy"].params, out["reference"].params, rtol=1e-12,
                               atol=1e-13)  # fmt: skip


def test_a_loss_that_converts_its_targets_trains_alike_on_every_path():
    # fit prepares the targets once; the stepper must not convert them a second time
    tenths = mlplab.losses.Loss("tenths_mse", mlplab.losses.mse.cost, mlplab.losses.mse.dcost,
                                lambda a, y: y / 10.0)  # fmt: skip
    X = np.linspace(-1, 1, 64).reshape(-1, 1)
    outs = []
    for engine in ("reference", "numpy"):
        net = MLP([1, 8, 1], seed=0)
        fit(net, X, 10.0 * np.ones_like(X), loss=tenths, epochs=5, progress=False,
            engine=engine, seed=0)  # fmt: skip
        outs.append(net.params.copy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-14)

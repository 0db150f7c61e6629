"""The fast engine trains exactly as the reference path: same parameters to 1e-12 (float64)."""

from __future__ import annotations

import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlplab
from mlplab import MLP, SGD, Activation, Adam, fit
from mlplab.data import paper_example
from mlplab.engine import Trainer, _CostLane, choose

TOL = 1e-12


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))


def both(make_net, make_opt, X, y, **kw):
    """Train twin networks on the reference and the fast engine; return (net, history) pairs."""
    out = {}
    for engine in ("reference", "fast"):
        net, opt = make_net(), make_opt()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mlplab.DivergenceWarning)
            h = fit(net, X, y, optimizer=opt, progress=False, engine=engine, **kw)
        out[engine] = (net, h, opt)
    return out["reference"], out["fast"]


def assert_same(ref, fast, tol=TOL):
    (n1, h1, o1), (n2, h2, o2) = ref, fast
    assert rel_err(n1.params, n2.params) <= tol
    assert h1.status == h2.status
    assert h1.steps == h2.steps
    assert h1.lr == h2.lr
    np.testing.assert_allclose(h2.train_loss, h1.train_loss, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(h2.val_loss, h1.val_loss, rtol=1e-10, atol=1e-300)
    assert o1.t == o2.t


def w1_net() -> MLP:
    return MLP([2, 2, 3, 2], "sigmoid", "sigmoid", init="normal:0,0.5", seed=1)


def test_w1_paper_example_matches_reference():
    X, Y = paper_example()
    ref, fast = both(w1_net, lambda: SGD(0.05), X, Y, loss="half_sse", epochs=2000,
                     batch_size=1, sampling="replacement", seed=0)  # fmt: skip
    assert choose("auto", w1_net(), mlplab.losses.half_sse, SGD(0.05)) == "compiled"
    assert_same(ref, fast)


def use_kind(kind: str, monkeypatch) -> None:
    """Make choose() route sigmoid / ReLU / identity networks wider than 16 to ``kind``."""
    if kind == "dense":
        monkeypatch.setattr(mlplab.engine.spec, "BLAS_LOOP_ACTIVATIONS", ())


def count_snapshots(monkeypatch) -> list:
    """Compute every epoch's cost in a second thread, whatever its size (and with no batch
    split in halves, which keeps the costs in the loop); record each snapshot taken for it."""
    monkeypatch.setattr(mlplab.engine, "OVERLAP_COST_WORK", 0)
    monkeypatch.setattr(mlplab.engine, "SPLIT_WORK", 1 << 62)
    snapshots = []
    submit = _CostLane.submit
    monkeypatch.setattr(_CostLane, "submit", lambda lane: snapshots.append(1) or submit(lane))
    return snapshots


@pytest.mark.parametrize("kind", ["blas", "dense"])
@pytest.mark.parametrize("overlap", [False, True])
def test_w2_cos4_matches_reference_in_float64(kind, overlap, monkeypatch):
    # overlap: each epoch's costs (training and validation) computed in a second thread
    use_kind(kind, monkeypatch)
    snapshots = count_snapshots(monkeypatch) if overlap else []
    x = np.random.default_rng(0).uniform(-2, 2, (512, 1))
    y = mlplab.data.get_target("cos4")(x)

    def net() -> MLP:
        return MLP([1, 64, 64, 1], "sigmoid", seed=1)

    assert choose("auto", net(), mlplab.losses.mse, SGD(0.05)) == kind
    ref, fast = both(net, lambda: SGD(0.05), x, y, loss="mse", epochs=15, batch_size=128, seed=0,
                     validation=0.2 if overlap else None)  # fmt: skip
    assert_same(ref, fast)
    assert (len(snapshots) > 0) == overlap


@pytest.mark.parametrize(
    ("kind", "sizes", "act", "loss", "batch"),
    [
        ("blas", [1, 32, 32, 1], "leaky_relu", "half_sse", 8),
        ("dense", [1, 32, 32, 1], "elu", "mse", 8),
        ("blas", [1, 32, 32, 2], "leaky_relu", "half_sse", 6),
    ],
)
def test_long_adam_runs_match_reference_bit_for_bit_sums(kind, sizes, act, loss, batch):
    # 300 epochs of Adam at a large rate amplify a one-ulp difference in any step (a bias
    # gradient summed in another order than NumPy's, a division done as a multiplication)
    # far beyond 1e-12; these runs only agree if every step agrees to the last bit. (The
    # small-network loop computes its products in scalar loops and tanh with libm, not BLAS
    # and NumPy, and the other loops compute the sigmoid and tanh in vectorised forms
    # (engine/vsigmoid.py, engine/vtanh.py), within a few ulp of NumPy's: those agree to
    # rounding, and are held to 1e-12 on the runs of the workloads, above and below.)
    x = np.linspace(-1, 1, 240).reshape(-1, 1)
    y = np.cos(4 * x) if sizes[-1] == 1 else np.hstack([np.cos(4 * x), np.sin(3 * x)])

    def net() -> MLP:
        return MLP(sizes, act, seed=1)

    assert choose("auto", net(), mlplab.losses.get_loss(loss), Adam(1e-2)) == kind
    ref, fast = both(net, lambda: Adam(1e-2), x, y, loss=loss, epochs=300, batch_size=batch,
                     seed=0)  # fmt: skip
    assert_same(ref, fast)


def test_w4_runge_tanh_adam_run_matches_reference_in_float64():
    # one member of the W4 ensemble, the whole run: 1-64-64-1 tanh, Adam 1e-3, 256 points,
    # batch 32, 500 epochs; the dense stepper's tanh is the vectorised one (engine/vtanh.py)
    x = np.random.default_rng(0).uniform(-1, 1, (256, 1))
    y = mlplab.data.get_target("runge")(x)

    def net() -> MLP:
        return MLP([1, 64, 64, 1], "tanh", seed=3)

    assert choose("auto", net(), mlplab.losses.mse, Adam(1e-3)) == "dense"
    ref, fast = both(net, lambda: Adam(1e-3), x, y, loss="mse", epochs=500, batch_size=32,
                     seed=3)  # fmt: skip
    assert_same(ref, fast)


def test_small_networks_keep_their_costs_in_the_compiled_loop(monkeypatch):
    # even where the cost would be worth a thread, the small-network loop computes it inline
    snapshots = count_snapshots(monkeypatch)
    x = np.linspace(-1, 1, 64).reshape(-1, 1)
    ref, fast = both(lambda: MLP([1, 8, 1], "tanh", seed=2), lambda: SGD(0.1), x, np.sin(3 * x),
                     epochs=40, batch_size=16, seed=0, validation=0.25)  # fmt: skip
    assert choose("auto", MLP([1, 8, 1], "tanh"), mlplab.losses.mse, SGD(0.1)) == "compiled"
    assert_same(ref, fast)
    assert snapshots == []


def test_only_loops_that_call_blas_limit_its_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    x = np.zeros((64, 1))

    def blas_threads_inside(sizes, kind):
        trainer = Trainer(kind, MLP(sizes, seed=0), x, x, None, None, mlplab.losses.mse,
                          SGD(0.1), 32, "shuffle", np.random.default_rng(0))  # fmt: skip
        with threadpoolctl.threadpool_limits(2, user_api="blas"), trainer.blas_limit():
            return {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                    if lib["user_api"] == "blas"}  # fmt: skip

    assert blas_threads_inside([1, 8, 1], "compiled") == {2}  # no BLAS in that loop: untouched
    assert blas_threads_inside([1, 64, 64, 1], "blas") == {1}  # small products: one thread


@pytest.mark.parametrize("act", ["relu", "leaky_relu:0.1", "identity"])
def test_blas_loop_runs_relu_and_identity_like_reference(act):
    x = np.random.default_rng(0).uniform(-2, 2, (300, 2))
    y = np.stack([np.sin(x[:, 0]), x[:, 0] * x[:, 1]], axis=1)

    def net() -> MLP:
        return MLP([2, 48, 32, 2], act, seed=3)

    assert choose("auto", net(), mlplab.losses.mse, Adam(1e-3)) == "blas"
    ref, fast = both(net, lambda: Adam(1e-3), x, y, loss="half_sse", epochs=12, batch_size=50,
                     seed=1, sampling="replacement", validation=0.25)  # fmt: skip
    assert_same(ref, fast)


def test_w2_float32_stays_close_to_reference():
    x = np.random.default_rng(0).uniform(-2, 2, (256, 1))
    y = mlplab.data.get_target("cos4")(x)
    ref, fast = both(lambda: MLP([1, 64, 64, 1], "sigmoid", seed=1, dtype="float32"),
                     lambda: SGD(0.05), x, y, epochs=5, batch_size=128, seed=0)  # fmt: skip
    assert fast[0].params.dtype == np.float32
    assert rel_err(ref[0].params, fast[0].params) < 1e-4


ACTS = ["sigmoid", "tanh", "relu", "leaky_relu:0.1", "elu", "softplus", "sin", "gelu", "identity"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.integers(1, 24), min_size=1, max_size=3),
    n_in=st.integers(1, 3),
    n_out=st.integers(1, 3),
    acts=st.lists(st.sampled_from(ACTS), min_size=4, max_size=4),
    loss=st.sampled_from(["mse", "half_sse"]),
    opt=st.sampled_from(["sgd", "momentum", "nesterov", "adam"]),
    sampling=st.sampled_from(["shuffle", "replacement"]),
    batch=st.integers(1, 40),
    validation=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_random_architectures_match_reference(
    hidden, n_in, n_out, acts, loss, opt, sampling, batch, validation, seed
):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (37, n_in))
    y = np.sin(X @ rng.standard_normal((n_in, n_out)))
    layer_acts = acts[: len(hidden) + 1]
    make_opt = {
        "sgd": lambda: SGD(0.02),
        "momentum": lambda: SGD(0.02, momentum=0.9),
        "nesterov": lambda: SGD(0.02, momentum=0.9, nesterov=True),
        "adam": lambda: Adam(3e-3),
    }[opt]
    ref, fast = both(lambda: MLP([n_in, *hidden, n_out], layer_acts, seed=seed), make_opt, X, y,
                     loss=loss, epochs=6, batch_size=batch, sampling=sampling, seed=seed,
                     validation=0.25 if validation else None)  # fmt: skip
    assert_same(ref, fast)


@pytest.mark.parametrize("width", [3, 40])
def test_early_stopping_callbacks_and_schedule_match(width):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (64, 1))
    y = X**2
    seen = {"reference": [], "fast": []}

    def make_cb(engine):
        def cb(epoch, history, net):
            seen[engine].append(net.params.copy())
            return epoch == 40

        return cb

    out = {}
    for engine in ("reference", "fast"):
        net = MLP([1, width, 1], "tanh", seed=3)
        h = fit(net, X, y, optimizer=Adam(0.05), epochs=60, batch_size=16, seed=2,
                validation=0.25, early_stopping=5, schedule="cosine", callbacks=[make_cb(engine)],
                progress=False, engine=engine)  # fmt: skip
        out[engine] = (net, h)
    (n1, h1), (n2, h2) = out["reference"], out["fast"]
    assert h1.status == h2.status and h1.epochs == h2.epochs
    assert rel_err(n1.params, n2.params) <= TOL
    assert len(seen["reference"]) == len(seen["fast"]) >= h1.epochs - 1
    for a, b in zip(seen["reference"], seen["fast"], strict=True):
        assert rel_err(a, b) <= TOL


@pytest.mark.parametrize("width", [4, 40])
def test_divergence_restores_last_finite_parameters_like_reference(width):
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = 5 * X
    ref, fast = both(lambda: MLP([1, width, 1], "identity", seed=0), lambda: SGD(3.0), X, y,
                     epochs=200, batch_size=8, seed=0)  # fmt: skip
    assert ref[1].status == "diverged"
    assert fast[1].status == "diverged"
    assert np.all(np.isfinite(fast[0].params))
    assert_same(ref, fast)


@pytest.mark.parametrize("kind", ["blas", "dense"])
def test_divergence_found_while_the_next_epoch_trains_rolls_back_like_reference(kind, monkeypatch):
    # An epoch's cost is computed while the next epoch trains; a rate that jumps at epoch 150
    # makes the run diverge in the middle of a long chunk, found one epoch late.
    use_kind(kind, monkeypatch)
    count_snapshots(monkeypatch)
    rollbacks = []
    restore = _CostLane.restore
    monkeypatch.setattr(_CostLane, "restore", lambda lane: rollbacks.append(restore(lane)))
    X = np.linspace(-1, 1, 64).reshape(-1, 1)
    jump = mlplab.optim.Schedule("jump", lambda epoch, epochs: 1.0 if epoch < 150 else 20.0)

    def net() -> MLP:
        return MLP([1, 40, 1], "identity", seed=0)

    assert choose("auto", net(), mlplab.losses.mse, SGD(0.1)) == kind
    ref, fast = both(net, lambda: SGD(0.1, momentum=0.5), X, X**2 + 0.3 * X, epochs=300,
                     batch_size=16, seed=0, schedule=jump)  # fmt: skip
    assert fast[1].status == "diverged" and fast[1].epochs > 150
    assert len(rollbacks) == 1
    assert_same(ref, fast)
    # the optimiser is left after the diverged epoch, as the reference leaves it
    np.testing.assert_allclose(fast[2].velocity, ref[2].velocity, rtol=TOL, equal_nan=True)


def test_optimizer_state_is_left_as_reference_leaves_it():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    ref, fast = both(lambda: MLP([1, 5, 1], seed=0), lambda: Adam(0.01), X, X**3,
                     epochs=7, batch_size=6, seed=0)  # fmt: skip
    assert rel_err(ref[2].m, fast[2].m) <= TOL and rel_err(ref[2].v, fast[2].v) <= TOL
    # a second fit continues from that state, on both engines alike
    for engine, (net, _, opt) in (("reference", ref), ("fast", fast)):
        fit(net, X, X**3, optimizer=opt, epochs=3, batch_size=6, seed=1, progress=False,
            engine=engine)  # fmt: skip
    assert rel_err(ref[0].params, fast[0].params) <= TOL


def test_unsupported_configurations_fall_back_or_explain():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    custom = Activation("cube", lambda z: z**3, lambda z: 3 * z**2, lambda z: 6 * z)
    net = MLP([1, 4, 1], custom, seed=0)
    assert choose("auto", net, mlplab.losses.mse, Adam()) == "reference"
    with pytest.raises(ValueError, match="user-defined 'cube'"):
        fit(net, X, X, epochs=2, progress=False, engine="fast")
    h = fit(net, X, X, epochs=2, progress=False)  # auto falls back silently
    assert h.status == "completed"
    lbfgs = mlplab.LBFGS()
    assert choose("auto", MLP([1, 4, 1]), mlplab.losses.mse, lbfgs) == "reference"
    with pytest.raises(ValueError, match="SGD and Adam"):
        fit(MLP([1, 4, 1]), X, X, optimizer=lbfgs, epochs=2, progress=False, engine="fast")
    with pytest.raises(ValueError, match="unknown engine"):
        fit(MLP([1, 4, 1]), X, X, epochs=2, progress=False, engine="turbo")


def test_cross_entropy_runs_on_the_dense_engine_like_reference():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    labels = rng.integers(0, 3, 60)
    ref, fast = both(lambda: MLP([4, 8, 3], "relu", seed=0), lambda: Adam(0.01), X, labels,
                     loss="cross_entropy", epochs=5, batch_size=16, seed=0)  # fmt: skip
    assert_same(ref, fast, tol=1e-11)


def _history_bytes(h: mlplab.History) -> int:
    """The History's lists and the floats in them, each float once (a constant learning rate
    is one float, repeated)."""
    lists = (h.train_loss, h.val_loss, h.lr)
    floats = {id(v): sys.getsizeof(v) for lst in lists for v in lst}
    return sum(sys.getsizeof(lst) for lst in lists) + sum(floats.values())


def test_no_memory_growth_per_step_w1():
    """Memory after 10^6 paper-example steps equals memory after 10^3 (the History aside)."""
    X, Y = paper_example()

    def retained(epochs: int) -> int:
        net = w1_net()
        # warm: load the kernel the run takes (a run this long takes the unrolled loop)
        fit(net, X, Y, loss="half_sse", optimizer=SGD(0.05), epochs=epochs, batch_size=1,
            sampling="replacement", seed=0, progress=False)  # fmt: skip
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        h = fit(net, X, Y, loss="half_sse", optimizer=SGD(0.05), epochs=epochs, batch_size=1,
                sampling="replacement", seed=0, progress=False)  # fmt: skip
        used = tracemalloc.get_traced_memory()[0] - base - _history_bytes(h)
        tracemalloc.stop()
        assert h.steps == 10 * epochs
        return used

    small, large = retained(100), retained(100_000)
    assert abs(large - small) < 16 * 1024, (small, large)

"""Ensembles: every member equals training it alone with fit (to 1e-12, float64)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import mlplab
from mlplab import MLP, SGD, Adam, fit
from mlplab.ensemble import Ensemble, fit_ensemble


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


def runge(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).uniform(-1, 1, (n, 1))
    return x, mlplab.data.get_target("runge")(x)


def alone(seed, lr, x, y, opt_cls=Adam, **kw) -> tuple[MLP, mlplab.History]:
    net = MLP([1, 16, 16, 1], "tanh", seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlplab.DivergenceWarning)
        h = fit(net, x, y, optimizer=opt_cls(lr), seed=seed, progress=False,
                engine="reference", **kw)  # fmt: skip
    return net, h


@pytest.mark.parametrize("batch", [16, None])
@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_w4_members_equal_training_alone(sampling, batch):
    x, y = runge()
    seeds, lrs = [3, 7, 11, 19], [1e-3, 3e-3, 1e-2, 2e-3]
    ens = Ensemble([1, 16, 16, 1], seeds, activation="tanh")
    hs = fit_ensemble(ens, x, y, optimizer=Adam(), epochs=20, batch_size=batch, lrs=lrs,
                      batch_sampling=sampling, validation=runge(20), progress=False)  # fmt: skip
    for i, (seed, lr) in enumerate(zip(seeds, lrs, strict=True)):
        net, h = alone(seed, lr, x, y, epochs=20, batch_size=batch, batch_sampling=sampling,
                       validation=runge(20))  # fmt: skip
        assert rel_err(net.params, ens.member(i).params) <= 1e-12
        np.testing.assert_allclose(hs[i].train_loss, h.train_loss, rtol=1e-10)
        np.testing.assert_allclose(hs[i].val_loss, h.val_loss, rtol=1e-10)
        assert hs[i].lr == h.lr and hs[i].steps == h.steps and hs[i].status == h.status


@pytest.mark.parametrize("batch", [8, None])
def test_members_stop_on_their_own_divergence_and_early_stopping(batch):
    x, y = runge()
    # full batch, tanh saturates at 1e3 and stops early: a far larger rate diverges at once
    seeds, lrs = [0, 1, 2], [0.05, 1e3 if batch else 1e200, 0.5]
    nets = [MLP([1, 16, 16, 1], "tanh", seed=s) for s in seeds]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mlplab.DivergenceWarning)
        hs = fit_ensemble(nets, x, y, optimizer=SGD(0.1), epochs=80, batch_size=batch, lrs=lrs,
                          early_stopping=4, progress=False)  # fmt: skip
    statuses = set()
    for i, seed in enumerate(seeds):
        net, h = alone(seed, lrs[i], x, y, opt_cls=SGD, epochs=80, batch_size=batch,
                       early_stopping=4)  # fmt: skip
        statuses.add(h.status)
        assert hs[i].status == h.status and hs[i].epochs == h.epochs
        assert rel_err(net.params, nets[i].params) <= 1e-12
    assert "diverged" in statuses


def test_member_is_an_mlp_view_and_bad_input_is_explained():
    ens = Ensemble([2, 5, 1], seeds=[0, 1], activation="relu")
    assert ens.params.shape == (2, MLP([2, 5, 1]).num_parameters)
    net = ens.member(1)
    assert np.array_equal(net.params, MLP([2, 5, 1], "relu", seed=1).params)
    net.params[0] = 42.0
    assert ens.params[1, 0] == 42.0
    assert ens(np.zeros((3, 2))).shape == (2, 3, 1)
    with pytest.raises(ValueError, match="one architecture"):
        Ensemble.from_nets([MLP([2, 5, 1]), MLP([2, 6, 1])])
    with pytest.raises(ValueError, match="2 learning rates"):
        fit_ensemble(ens, np.zeros((4, 2)), np.zeros(4), lrs=[0.1], progress=False)
    with pytest.raises(ValueError, match="update"):
        fit_ensemble(ens, np.zeros((4, 2)), np.zeros(4), optimizer=mlplab.LBFGS(), progress=False)


def test_every_loss_trains_in_an_ensemble_as_alone():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (30, 2))
    labels = (x[:, 0] > x[:, 1]).astype(int)
    ens = Ensemble([2, 5, 2], [1, 2], activation="tanh")
    hs = fit_ensemble(ens, x, labels, loss="cross_entropy", optimizer=SGD(0.3), epochs=5,
                      batch_size=7, progress=False)  # fmt: skip
    for i, seed in enumerate([1, 2]):
        net = MLP([2, 5, 2], "tanh", seed=seed)
        h = fit(net, x, labels, loss="cross_entropy", optimizer=SGD(0.3), epochs=5, batch_size=7,
                seed=seed, progress=False, engine="reference")  # fmt: skip
        assert rel_err(net.params, ens.member(i).params) <= 1e-12
        np.testing.assert_allclose(hs[i].train_loss, h.train_loss, rtol=1e-12)


def test_a_used_optimizer_gives_the_ensemble_a_fresh_start():
    # Adam's bias correction counts from step 1 for every member, whatever the object did before
    x = np.linspace(-1, 1, 16).reshape(-1, 1)
    used = Adam(1e-2)
    fit(MLP([1, 4, 1], seed=9), x, x, optimizer=used, epochs=5, progress=False)
    assert used.t > 0
    trained = [Ensemble([1, 4, 1], [0, 1], activation="tanh") for _ in range(2)]
    for ens, opt in zip(trained, (used, Adam(1e-2)), strict=True):
        fit_ensemble(ens, x, x, optimizer=opt, epochs=2, batch_size=4, progress=False)
    np.testing.assert_array_equal(trained[0].params, trained[1].params)


def test_bad_batch_size_and_empty_validation_are_refused():
    from mlplab.errors import MlplabError

    x = np.linspace(-1, 1, 16).reshape(-1, 1)
    nets = [MLP([1, 4, 1], seed=s) for s in range(2)]
    with pytest.raises(MlplabError, match="batch_size must be a whole number"):
        fit_ensemble(nets, x, x, epochs=1, batch_size=2.5, progress=False)
    with pytest.raises(MlplabError, match="the validation set has no points"):
        fit_ensemble(nets, x, x, epochs=1, validation=(x[:0], x[:0]), progress=False)


def test_bad_seeds_are_refused_with_the_rule_and_words_of_mlp():
    from mlplab.errors import MlplabError

    with pytest.raises(MlplabError, match="seed must be a whole number >= 0 or None, got 1.5"):
        MLP([1, 1], seed=1.5)
    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    # 1.5 was truncated to 1; "a" gave int()'s message, None int()'s TypeError
    for seeds, bad in (([0, 1.5], "seeds[1]"), (["a"], "seeds[0]"), ([None, -1], "seeds[1]")):
        got = repr(seeds[int(bad[-2])])
        rule = f"{bad} must be a whole number >= 0 or None, got {got}"
        with pytest.raises(MlplabError, match=re.escape(rule)):
            Ensemble([1, 2, 1], seeds=seeds)
    # NumPy's "need at least one array to stack", and "'int' object is not iterable"
    for seeds in ([], 3):
        with pytest.raises(MlplabError, match=r"seeds must list one seed per member, e.g. seeds="):
            Ensemble([1, 2, 1], seeds=seeds)
    ens = Ensemble([1, 2, 1], seeds=[0, 1])
    # NumPy's "expected non-negative integer"; 1.5 was truncated to 1
    for seeds in ([-1, 2], [0, 1.5]):
        with pytest.raises(MlplabError, match=r"seeds\[\d\] must be a whole number >= 0 or None"):
            fit_ensemble(ens, x, x, epochs=1, seeds=seeds, progress=False)
    with pytest.raises(MlplabError, match=r"seeds\[0\] must be a whole number >= 0 or None"):
        Ensemble.from_nets([MLP([1, 1])], seeds=[2.5])
    assert Ensemble([1, 2, 1], seeds=np.arange(2)).seeds == [0, 1]


def test_learning_rates_that_are_not_real_numbers_are_refused_by_name():
    from mlplab.errors import MlplabError

    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    ens = Ensemble([1, 2, 1], seeds=[0, 1])
    # int()'s "could not convert string to float", float()'s TypeError for complex
    for lrs in (["a", "b"], [1e-3 + 1j, 1e-3], np.array([1e-3, 1e-3], dtype=object)):
        with pytest.raises(MlplabError, match=r"lrs holds \S+ values; give real numbers"):
            fit_ensemble(ens, x, x, epochs=1, lrs=lrs, progress=False)


def test_validation_must_be_a_pair_and_a_fraction_is_refused_by_name():
    from mlplab.errors import MlplabError

    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    ens = Ensemble([1, 2, 1], seeds=[0, 1])
    # TypeError "'float' object is not subscriptable"
    with pytest.raises(
        MlplabError,
        match=r"^fit_ensemble takes validation as an \(X_val, y_val\) pair, not a fraction "
        r"\(0.2\): hold the points out first",
    ):
        fit_ensemble(ens, x, x, epochs=1, validation=0.2, progress=False)
    # IndexError "tuple index out of range"
    with pytest.raises(MlplabError, match=r"^validation takes an \(X_val, y_val\) pair; got a tup"):
        fit_ensemble(ens, x, x, epochs=1, validation=(x,), progress=False)


def test_the_ensemble_is_preferred_where_it_pays():
    from mlplab.ensemble import prefer_ensemble
    from mlplab.optim import LBFGS

    sgd = SGD(0.1)
    wide_tanh = MLP([1, 32, 32, 1], activation="tanh")
    assert prefer_ensemble(wide_tanh, 2, "mse", sgd)  # NumPy stepper
    small = MLP([2, 2, 3, 2], activation="sigmoid", output_activation="sigmoid")
    assert not prefer_ensemble(small, 2, "mse", sgd, 1, 10, 10**5)  # compiled loop
    assert prefer_ensemble(small, 2, "mse", sgd, 1, 10, 10)  # a short run: NumPy stepper
    assert not prefer_ensemble(wide_tanh, 1, "mse", sgd)
    assert not prefer_ensemble(wide_tanh, 2, "mse", LBFGS())


@pytest.mark.parametrize("train", ["fit", "fit_ensemble"])
def test_every_forward_pass_of_a_training_runs_on_one_blas_thread(monkeypatch, train):
    # a product on two BLAS threads wakes OpenBLAS's second thread, which then spins beside
    # the training for a while: the targets' forward passes run under the same limit
    from threadpoolctl import threadpool_info

    seen = []
    forward = MLP.__call__

    def watched(self, X):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        return forward(self, X)

    monkeypatch.setattr(MLP, "__call__", watched)
    x, y = runge(32)
    valid = (x[:8], y[:8])
    if train == "fit":
        fit(MLP([1, 8, 1], "tanh", seed=0), x, y, epochs=2, validation=valid, progress=False)
    else:
        fit_ensemble(Ensemble([1, 8, 1], seeds=[0, 1], activation="tanh"), x, y, epochs=2,
                     validation=valid, progress=False)  # fmt: skip
    assert seen and all(threads == {1} for threads in seen)

import dataclasses
import threading
import warnings

import numpy as np
import pytest

from mlplab import MLP, SGD, fit
from mlplab.config import TrainConfig
from mlplab.data import cos4
from mlplab.experiments.common import (
    TrainingDivergedError,
    diverged_result,
    each_run,
    settings,
    train_seeds,
)
from mlplab.experiments.params import Parameter
from mlplab.train import DivergenceWarning

X = np.random.default_rng(0).standard_normal((64, 1))
Y = cos4(X)
BASE = TrainConfig(hidden=[32, 32], activation="sigmoid", init="normal", bias_init="0.03")


def _alone(training, seed, monitor):
    net = training.build_network(1, 1, seed=seed)
    values = [monitor(net)]
    hist = fit(
        net,
        X,
        Y,
        loss=training.loss,
        optimizer=training.build_optimizer(),
        epochs=training.epochs,
        batch_size=training.batch_size,
        seed=seed,
        validation=(X[:16], Y[:16]),
        callbacks=[lambda e, h, n: values.append(monitor(n))],
        progress=False,
    )
    return net, hist, values


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "lbfgs"])
def test_several_seeds_equal_training_each_alone(optimizer):
    """Seeds train together as an ensemble (SGD, Adam) or one by one (L-BFGS): same results."""
    training = dataclasses.replace(BASE, optimizer=optimizer, lr=0.05, epochs=30, batch_size=16)

    def monitor(net):
        return float(np.abs(net.params).sum())

    runs = train_seeds(training, X, Y, [0, 1, 2], validation=(X[:16], Y[:16]), monitor=monitor)
    for seed, run in zip([0, 1, 2], runs, strict=True):
        net, hist, values = _alone(training, seed, monitor)
        np.testing.assert_allclose(run.net.params, net.params, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(run.history.train_loss, hist.train_loss, rtol=1e-12)
        np.testing.assert_allclose(run.history.val_loss, hist.val_loss, rtol=1e-12)
        np.testing.assert_allclose(run.monitor, values, rtol=1e-12)
        assert len(run.monitor) == hist.epochs + 1


def test_start_networks_are_trained_in_place():
    training = dataclasses.replace(BASE, optimizer="adam", lr=0.01, epochs=5, batch_size=16)
    nets = [training.build_network(1, 1, seed=s) for s in (3, 4)]
    before = [net.params.copy() for net in nets]
    runs = train_seeds(training, X, Y, [3, 4], start=nets)
    for net, run, old in zip(nets, runs, before, strict=True):
        assert run.net is net
        assert not np.array_equal(net.params, old)


def test_class_labels_need_the_output_width():
    labels = (X[:, 0] > 0).astype(int)
    training = dataclasses.replace(BASE, loss="cross_entropy", epochs=2, batch_size=16)
    (run,) = train_seeds(training, X, labels, [0], n_out=2)
    assert run.net.sizes == [1, 32, 32, 2] and run.history.epochs == 2


def test_settings_record_the_network_and_training_fields_only():
    recorded = settings(BASE)
    assert recorded["hidden"] == [32, 32] and recorded["lr"] == BASE.lr
    assert not {"seed", "target", "n_train", "data"} & set(recorded)
    every = {
        "loss",
        "optimizer",
        "lr",
        "momentum",
        "epochs",
        "batch_size",
        "batch_sampling",
        "schedule",
        "early_stopping",
    }
    sgd = dataclasses.replace(BASE, optimizer="sgd")
    assert set(settings(sgd, "training")) == every


def test_settings_leave_out_what_the_optimiser_does_not_use():
    assert BASE.optimizer == "adam"
    assert "momentum" not in settings(BASE, "training")  # SGD's alone
    lbfgs = settings(dataclasses.replace(BASE, optimizer="lbfgs"))
    assert set(settings(dataclasses.replace(BASE, optimizer="lbfgs"), "training")) == {
        "loss",
        "optimizer",
        "epochs",
        "early_stopping",
    }
    assert lbfgs["hidden"] == [32, 32] and lbfgs["dtype"] == "float64"


def test_one_seed_is_not_a_median():
    from mlplab.experiments.common import over_seeds, plural

    assert over_seeds(1, band=True) == "1 seed"
    assert over_seeds(1, "Median of") == "One seed"
    assert over_seeds(3, band=True) == "median of 3 seeds (band: min–max)"
    assert over_seeds(2, "median over") == "median over 2 seeds"
    assert (plural(1, "seed"), plural(4, "seed")) == ("1 seed", "4 seeds")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_each_run_gives_each_runs_result_in_order_costliest_started_first(monkeypatch, workers):
    monkeypatch.setenv("OMP_NUM_THREADS", workers)
    training = dataclasses.replace(BASE, optimizer="adam", lr=0.05, epochs=20, batch_size=None)
    started, lock = [], threading.Lock()

    def run(seed):
        with lock:
            started.append(seed)
        return train_seeds(training, X, Y, [seed])[0].net.params

    alone = [run(seed) for seed in range(4)]
    started.clear()
    together = each_run([lambda s=seed: run(s) for seed in range(4)], cost=[1, 3, 2, 0])
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)
    if workers == "1":
        assert started == [1, 2, 0, 3]
    assert sorted(started) == [0, 1, 2, 3]


def test_each_run_leaves_divergence_to_the_status_and_the_warnings_filters_alone():
    def diverging():
        net = MLP([1, 4, 1], seed=0)
        return fit(net, X, Y * 1e200, optimizer=SGD(1e3), epochs=5, progress=False).status

    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert each_run([diverging, diverging]) == ["diverged", "diverged"]
        assert not caught
        diverging()  # outside each_run the warning is given
        assert [w.category for w in caught] == [DivergenceWarning]
    assert warnings.filters == before


#: SGD at η = 1000 on targets of 10^200: the cost overflows in the first epoch.
EXPLODING = dataclasses.replace(BASE, optimizer="sgd", lr=1e3, epochs=3, batch_size=16)


def test_a_diverged_seed_ends_the_training_and_names_the_runs():
    with pytest.raises(TrainingDivergedError) as caught:
        train_seeds(EXPLODING, X, Y * 1e200, [0, 1])
    stop = caught.value
    assert [seed for seed, _ in stop.diverged] == [0, 1]
    assert str(stop).startswith(
        "training diverged: SGD at lr 1000 (batch 16, 3 epochs) on 64 points, 1-32-32-1 "
        "sigmoid: seeds 0 and 1 of 2 diverged; for seed 0, training diverged at epoch 1: the "
        "cost became "
    )


def test_a_study_that_measures_divergence_gets_the_runs_back():
    runs = train_seeds(EXPLODING, X, Y * 1e200, [0, 1], expect_divergence=True)
    assert [r.history.status for r in runs] == ["diverged", "diverged"]


def _stopped(cfg: TrainConfig) -> TrainingDivergedError:
    with pytest.raises(TrainingDivergedError) as caught:
        train_seeds(cfg, X, Y * 1e200, [0])
    return caught.value


LR = (Parameter("lr", 0.1, "SGD learning rate η", low=1e-6),)


@pytest.mark.parametrize(
    ("lr", "fix"),
    [
        (5.0, "Fix: a smaller learning rate, e.g. `--set lr=0.1` (the default)."),
        (0.05, "Fix: a smaller learning rate, e.g. `--set lr=0.005`."),
    ],
)
def test_the_answer_of_a_diverged_study_names_the_runs_the_rate_and_the_fix(lr, fix):
    stop = _stopped(dataclasses.replace(EXPLODING, lr=lr))
    result = diverged_result(stop, "a question", LR, {"lr": lr}, 1)
    assert result.title == "training diverged"
    assert result.answer.startswith("**Training diverged**, so this run answers nothing: SGD at")
    assert f"SGD at lr {lr:g} (batch 16, 3 epochs)" in result.answer
    assert result.answer.endswith(fix)
    assert not result.passed and not result.figures
    assert [c.name for c in result.checks] == ["every training run ends without diverging"]
    assert result.setup == [("SGD learning rate η (lr)", f"{lr:g}"), ("seeds", "1")]
    assert result.metrics["diverged"]["lr"] == lr


def test_a_rate_the_study_fixes_and_lbfgs_get_their_own_fix():
    stop = _stopped(EXPLODING)
    result = diverged_result(stop, "q", LR, {"lr": 0.1}, 1)  # lr 1000 is no parameter's
    assert "this study sets it to 1000 itself, so undo the --set values" in result.answer
    lbfgs = _stopped(dataclasses.replace(EXPLODING, optimizer="lbfgs"))
    assert " at lr " not in str(lbfgs)
    result = diverged_result(lbfgs, "q", LR, {"lr": 0.1}, 1)
    assert result.answer.endswith(
        "Fix: L-BFGS picks its own steps (no learning rate), so undo the --set values that made "
        "training overflow, or look at the data and the scale of the initial weights for values "
        "that overflow."
    )

import warnings

import numpy as np
import pytest

from mlplab import MLP, SGD, Adam, DivergenceWarning, MlplabError, fit
from mlplab.data import cos4, runge

X = np.linspace(-1, 1, 40).reshape(-1, 1)
Y = runge(X)

# The paper's worked example (Higham & Higham, section 6).
X1 = [0.1, 0.3, 0.1, 0.6, 0.4, 0.6, 0.5, 0.9, 0.4, 0.7]
X2 = [0.1, 0.4, 0.5, 0.9, 0.2, 0.3, 0.6, 0.2, 0.4, 0.6]
PAPER_X = np.column_stack([X1, X2])
PAPER_Y = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)


def paper_sgd(net, epochs):
    """The paper's training: SGD with η = 0.05 on one point drawn at random per step."""
    return fit(
        net,
        PAPER_X,
        PAPER_Y,
        loss="half_sse",
        optimizer=SGD(lr=0.05),
        epochs=epochs,
        batch_size=1,
        batch_sampling="replacement",
        seed=0,
        progress=False,
    )


def test_history_records_every_epoch():
    net = MLP([1, 8, 1], seed=0)
    hist = fit(net, X, Y, epochs=7, batch_size=8, validation=(X[::3], Y[::3]), progress=False)
    assert hist.epochs == 7 and len(hist.val_loss) == 7 and len(hist.lr) == 7
    assert hist.steps == 7 * 5
    assert hist.status == "completed"
    assert hist.train_loss[-1] == pytest.approx(net.loss(X, Y))
    assert hist.to_csv().splitlines()[0] == "epoch,train_loss,val_loss,lr"
    assert len(hist.to_csv().splitlines()) == 8


def test_training_reduces_the_loss():
    net = MLP([1, 16, 1], seed=0)
    hist = fit(net, X, Y, optimizer=Adam(lr=0.01), epochs=200, batch_size=10, progress=False)
    assert hist.train_loss[-1] < 0.1 * hist.train_loss[0]


def test_same_seed_same_result():
    a, b = MLP([1, 8, 1], seed=0), MLP([1, 8, 1], seed=0)
    fit(a, X, Y, epochs=5, batch_size=7, seed=3, progress=False)
    fit(b, X, Y, epochs=5, batch_size=7, seed=3, progress=False)
    np.testing.assert_array_equal(a.params, b.params)


def test_shuffled_minibatches_visit_every_point_once_per_epoch():
    seen = []

    net = MLP([1, 3, 1], seed=0)
    original = net.loss_gradient

    def spy(Xb, yb, loss, out=None):
        seen.extend(Xb.ravel().tolist())
        return original(Xb, yb, loss, out=out)

    net.loss_gradient = spy
    fit(net, X, Y, optimizer=SGD(lr=0.01), epochs=1, batch_size=6, progress=False,
        engine="reference")  # fmt: skip
    assert sorted(seen) == sorted(X.ravel().tolist())


def test_validation_fraction_holds_out_points():
    net = MLP([1, 4, 1], seed=0)
    hist = fit(net, X, Y, epochs=2, validation=0.25, seed=0, progress=False)
    assert len(hist.val_loss) == 2
    with pytest.raises(ValueError, match="between 0 and 1"):
        fit(net, X, Y, epochs=1, validation=1.5, progress=False)


def test_divergence_stops_and_keeps_last_finite_parameters():
    net = MLP([1, 8, 8, 1], activation="identity", seed=0)
    snapshots = []

    def remember(epoch, history, net):
        snapshots.append(net.params.copy())

    with pytest.warns(DivergenceWarning, match="smaller learning rate"):
        hist = fit(
            net,
            X,
            10 * cos4(X),
            optimizer=SGD(lr=5.0),
            epochs=50,
            batch_size=40,
            callbacks=[remember],
            progress=False,
        )
    assert hist.status == "diverged"
    assert "diverged at epoch" in hist.message
    assert np.all(np.isfinite(net.params))
    assert np.all(np.isfinite(hist.train_loss[:-1])) and not np.isfinite(hist.train_loss[-1])
    np.testing.assert_array_equal(net.params, snapshots[-1])


def test_early_stopping_restores_the_best_parameters():
    net = MLP([1, 16, 1], seed=0)
    Xv, Yv = X[1::2] + 0.01, runge(X[1::2] + 0.01)
    hist = fit(
        net,
        X,
        Y + 0.05 * np.sin(40 * X),
        optimizer=Adam(lr=0.05),
        epochs=2000,
        batch_size=40,
        validation=(Xv, Yv),
        early_stopping=20,
        progress=False,
    )
    assert hist.status == "early_stopping"
    assert hist.epochs < 2000
    assert net.loss(Xv, Yv) == pytest.approx(min(hist.val_loss))


def test_callback_can_stop_training():
    net = MLP([1, 4, 1], seed=0)
    hist = fit(net, X, Y, epochs=100, callbacks=[lambda e, h, n: e == 4], progress=False)
    assert hist.epochs == 5 and hist.status == "stopped"


def test_schedule_changes_the_learning_rate():
    net = MLP([1, 4, 1], seed=0)
    opt = SGD(lr=0.1)
    hist = fit(net, X, Y, optimizer=opt, epochs=4, schedule="step:2,0.5", progress=False)
    assert hist.lr == [0.1, 0.1, 0.05, 0.05]
    assert opt.lr == 0.1


def test_library_holds_the_papers_data():
    from mlplab.data import paper_example

    X, Y = paper_example()
    np.testing.assert_array_equal(X, PAPER_X)
    np.testing.assert_array_equal(Y, PAPER_Y)


def test_replacement_sampling_draws_single_points():
    net = MLP([2, 2, 3, 2], activation="sigmoid", output_activation="sigmoid", seed=0)
    hist = paper_sgd(net, epochs=3)
    assert hist.steps == 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_sampling": "bootstrap"}, "shuffle, replacement"),
        ({"early_stopping": 0}, "patience"),
        # 1.5 ran as a patience of 2 epochs, text reached a comparison's TypeError
        ({"early_stopping": 1.5}, r"early_stopping \(a patience in epochs\) must be a whole"),
        ({"early_stopping": "5"}, r"early_stopping \(a patience in epochs\) must be a whole"),
        ({"loss": "hinge"}, "valid names"),
        # a function alone failed when the first epoch ended, a number or a function as the
        # schedule reached the name parser ("object of type 'int' has no len()")
        ({"callbacks": lambda e, h, n: False}, r"callbacks must be a list of functions"),
        ({"callbacks": [3]}, r"callbacks must be functions \(epoch, history, net\)"),
        ({"schedule": 3}, r"schedule must be a name such as 'cosine'"),
        ({"schedule": lambda epoch: 0.1}, r"Schedule\(name, factor\)"),
        ({"early_stopping": True}, r"early_stopping \(a patience in epochs\) must be a whole"),
        # NumPy's "expected non-negative integer"; 1.5 reached default_rng as a float
        ({"seed": -1}, r"seed must be a whole number >= 0 or None, got -1"),
        ({"seed": 1.5}, r"seed must be a whole number >= 0 or None, got 1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(MLP([1, 2, 1]), X, Y, progress=False, **kwargs)


def test_nan_in_data_is_rejected():
    Yn = Y.copy()
    Yn[3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        fit(MLP([1, 2, 1]), X, Yn, progress=False)


def test_progress_bar_runs(capsys):
    fit(MLP([1, 2, 1]), X, Y, epochs=3, progress=True)
    assert "epoch" in capsys.readouterr().err


def test_the_papers_example():
    """2-2-3-2 sigmoid net, 0.5·N(0,1) weights and biases, 10^6 single-point SGD steps."""
    net = MLP(
        [2, 2, 3, 2],
        activation="sigmoid",
        output_activation="sigmoid",
        init="normal:0,0.5",
        bias_init="normal:0,0.5",
        seed=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = paper_sgd(net, epochs=100_000)
    assert hist.steps == 1_000_000
    A = net(PAPER_X)
    assert np.array_equal(A.argmax(axis=1), PAPER_Y.argmax(axis=1))
    assert np.sum((PAPER_Y - A) ** 2) < 1e-2


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_divergence_warning_points_at_the_caller(engine):
    net = MLP([1, 8, 8, 1], activation="identity", seed=0)
    with pytest.warns(DivergenceWarning) as record:
        fit(
            net,
            X,
            10 * cos4(X),
            optimizer=SGD(lr=5.0),
            epochs=50,
            batch_size=40,
            progress=False,
            engine=engine,
        )
    assert record[0].filename == __file__


# --- bad input and misleading results -----------------------------------------------------------


def test_batch_size_must_be_whole_before_anything_compiles():
    from mlplab.errors import MlplabError

    for bad in (2.5, "8", True):
        with pytest.raises(MlplabError, match="batch_size must be a whole number"):
            fit(MLP([1, 4, 1], seed=0), X, Y, epochs=1, batch_size=bad, progress=False)


@pytest.mark.parametrize("engine", ["auto", "reference"])
def test_empty_validation_set_is_refused(engine):
    from mlplab.errors import MlplabError

    empty = (np.zeros((0, 1)), np.zeros((0, 1)))
    with pytest.raises(MlplabError, match="the validation set has no points"):
        fit(MLP([1, 4, 1], seed=0), X, Y, epochs=1, validation=empty, progress=False, engine=engine)
    with pytest.raises(MlplabError, match="the training set has no points"):
        fit(MLP([1, 4, 1], seed=0), X[:0], Y[:0], epochs=1, progress=False, engine=engine)


def test_validation_that_is_not_a_pair_or_a_fraction_is_explained():
    net = MLP([1, 2, 1], seed=0)
    takes = r"validation takes an \(X_val, y_val\) pair or a fraction of X to hold out"
    # IndexError "tuple index out of range"; a third item was ignored
    for validation, got in (((X,), "a tuple of 1 item"), ((X, Y, Y), "a tuple of 3 items")):
        with pytest.raises(MlplabError, match=rf"^{takes} \(0 < f < 1\); got {got}$"):
            fit(net, X, Y, epochs=1, validation=validation, progress=False)
    with pytest.raises(MlplabError, match=rf"^{takes} .*; got a value of type 'str'$"):
        fit(net, X, Y, epochs=1, validation="0.2", progress=False)


def test_ragged_lists_as_data_are_named():
    net = MLP([1, 2, 1], seed=0)
    ragged = [[1.0], [1.0, 2.0]]
    for x, y, name in ((ragged, [1.0, 2.0], "X"), ([1.0, 2.0], ragged, "y")):
        with pytest.raises(MlplabError, match=rf"^{name} has rows of different lengths"):
            fit(net, x, y, epochs=1, progress=False)


def test_lbfgs_on_a_non_finite_cost_is_not_completed():
    from mlplab import LBFGS

    net = MLP([1, 8, 1], activation="relu", init="normal:0,1e200", seed=0)
    before = net.params.copy()
    with pytest.warns(
        DivergenceWarning, match="L-BFGS stopped after 0 iterations: the cost became"
    ):
        hist = fit(net, X, Y, optimizer=LBFGS(), epochs=10, progress=False)
    assert hist.status == "diverged"
    np.testing.assert_array_equal(net.params, before)  # never the non-finite iterate


def test_the_optimizer_can_be_named_and_a_wrong_name_lists_the_valid_ones():
    x = np.linspace(-1, 1, 20)[:, None]
    named = fit(MLP([1, 4, 1], "tanh", seed=0), x, x**2, optimizer="sgd", epochs=3, seed=1,
                progress=False)  # fmt: skip
    given = fit(MLP([1, 4, 1], "tanh", seed=0), x, x**2, optimizer=SGD(), epochs=3, seed=1,
                progress=False)  # fmt: skip
    assert named.train_loss == given.train_loss
    with pytest.raises(MlplabError, match="unknown optimizer 'adma'; valid names are: adam"):
        fit(MLP([1, 4, 1], "tanh", seed=0), x, x**2, optimizer="adma", progress=False)


@pytest.mark.parametrize(
    "misuse",
    [
        lambda x: Adam(lr=-1e-3),
        lambda x: SGD(0.1, momentum=1.5),
        lambda x: MLP([3]),
        lambda x: fit(MLP([1, 4, 1], seed=0), x, x[:-1], progress=False),
        lambda x: fit(MLP([2, 4, 1], seed=0), x, x, progress=False),
        lambda x: fit(MLP([1, 4, 1], seed=0), x, x, epochs=0, progress=False),
        lambda x: fit(MLP([1, 4, 1], seed=0), x, x, validation=1.5, progress=False),
    ],
)
def test_bad_input_to_the_python_api_raises_mlplab_error(misuse):
    # README: bad input raises mlplab.MlplabError (a ValueError) naming the input and the fix
    with pytest.raises(MlplabError):
        misuse(np.linspace(-1, 1, 10)[:, None])


def test_the_former_keyword_sampling_still_works_with_a_warning():
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    runs = []
    for keyword in ("batch_sampling", "sampling"):
        net = MLP([1, 3, 1], seed=0)
        if keyword == "sampling":
            with pytest.warns(FutureWarning, match="now 'batch_sampling'"):
                fit(net, X, X, epochs=2, seed=1, progress=False, sampling="replacement")
        else:
            fit(net, X, X, epochs=2, seed=1, progress=False, batch_sampling="replacement")
        runs.append(net.params.copy())
    np.testing.assert_array_equal(*runs)


def test_the_former_and_the_new_keyword_must_agree():
    X = np.linspace(-1, 1, 8).reshape(-1, 1)
    with pytest.raises(ValueError, match="disagree; give batch_sampling alone"):
        fit(MLP([1, 2, 1]), X, X, epochs=1, progress=False, batch_sampling="replacement",
            sampling="shuffle")  # fmt: skip


def test_history_repr_is_one_line_with_the_last_costs():
    hist = fit(MLP([1, 4, 1], seed=0), X, Y, epochs=300, validation=0.25, seed=0, progress=False)
    text = repr(hist)
    assert "\n" not in text and len(text) < 160  # not the 300-entry lists
    assert text.startswith(f"History(300 epochs, {hist.steps} steps, ")
    assert f"train_loss {hist.train_loss[-1]:.4g}, val_loss {hist.val_loss[-1]:.4g}" in text
    assert "status 'completed'" in text and f"engine {hist.engine!r}" in text

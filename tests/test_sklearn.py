"""mlplab.sklearn: scikit-learn's estimator checks, pipelines, model selection, the fitted
attributes, input derivatives, optimiser state and reproducibility."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlplab
from mlplab.sklearn import (
    SCIPY_FTOL,
    MLPClassifier,
    MLPRegressor,
    pipeline_input_gradient,
    pipeline_input_jacobian,
)


@parametrize_with_checks([MLPRegressor(), MLPClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    """Short runs in these tests stop at max_iter on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _regression(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three features in very different units; a smooth target of them."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3)) * np.array([1.0, 100.0, 0.01])
    return X, np.sin(2 * X[:, 0]) + (X[:, 1] / 100) ** 2 - 50 * X[:, 2]


def _central_differences(f, X: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x_j at every row by (f(x + h e_j) − f(x − h e_j)) / 2h, h scaled to each column:
    shape (N, *f's trailing shape, n_features)."""
    cols = []
    for j in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[j] = h * max(1.0, np.abs(X[:, j]).max())
        cols.append((f(X + step) - f(X - step)) / (2 * step[j]))
    return np.stack(cols, axis=-1)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --- the optional extra stays optional ---------------------------------------------------------


def test_import_mlplab_does_not_import_sklearn():
    code = "import sys, mlplab; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- accuracy on the two reference problems ----------------------------------------------------


def test_regressor_fits_the_runge_function():
    x = np.linspace(-1, 1, 201).reshape(-1, 1)
    est = MLPRegressor(
        hidden_layer_sizes=(64, 64),
        activation="tanh",
        learning_rate_init=1e-2,
        batch_size=32,
        max_iter=300,
        random_state=0,
    )
    est.fit(x, 1 / (1 + 25 * x[:, 0] ** 2))
    xt = np.random.default_rng(1).uniform(-1, 1, (1000, 1))
    assert est.score(xt, 1 / (1 + 25 * xt[:, 0] ** 2)) >= 0.99


def test_classifier_on_digits_in_a_pipeline():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), MLPClassifier((64,), random_state=0)).fit(Xtr, ytr)
    assert model.score(Xte, yte) >= 0.97
    assert list(model[-1].classes_) == list(range(10))


# --- model selection ---------------------------------------------------------------------------


def test_grid_search_and_cross_validation_on_pipelines():
    X, y = _regression()
    pipe = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(16,),
            activation="tanh",
            max_iter=150,
            learning_rate_init=1e-2,
            random_state=0,
        ),
    )
    grid = {"mlpregressor__activation": ["tanh", "gelu"], "mlpregressor__alpha": [0.0, 1e-3]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert set(search.best_params_) == set(grid) and search.best_score_ > 0.9
    scores = cross_val_score(search.best_estimator_, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.9)
    labels = (y > np.median(y)).astype(int)
    clf = make_pipeline(
        StandardScaler(),
        MLPClassifier((16,), max_iter=100, random_state=0, learning_rate_init=1e-2),
    )
    assert cross_val_score(clf, X, labels, cv=3).mean() > 0.85


# --- fitted attributes -------------------------------------------------------------------------


def test_coefs_are_the_transposed_weights_and_predict_with_them():
    X, y = _regression()
    est = MLPRegressor(
        hidden_layer_sizes=(5, 4), activation="tanh", max_iter=5, random_state=0
    ).fit(X, y)
    assert [c.shape for c in est.coefs_] == [(3, 5), (5, 4), (4, 1)]
    assert [b.shape for b in est.intercepts_] == [(5,), (4,), (1,)]
    for c, W in zip(est.coefs_, est.network_.weights, strict=True):
        np.testing.assert_array_equal(c, W.T)
    a = X
    for i, (c, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        a = a @ c + b
        a = np.tanh(a) if i < 2 else a
    np.testing.assert_allclose(a.ravel(), est.predict(X), rtol=1e-13)
    assert isinstance(est.network_, mlplab.MLP) and est.n_layers_ == 4
    assert est.n_features_in_ == 3 and est.n_outputs_ == 1 and est.out_activation_ == "identity"
    assert len(est.loss_curve_) == est.n_iter_ == 5 and est.best_loss_ == min(est.loss_curve_)
    assert est.t_ == 5 * len(X) and est.validation_scores_ is None


def test_feature_names_in_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _regression()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(df, y)
    assert list(est.feature_names_in_) == ["a", "b", "c"]


def test_early_stopping_scores_the_held_out_set_and_keeps_the_best():
    X, y = _regression(300)
    est = MLPRegressor(
        hidden_layer_sizes=(16,),
        activation="tanh",
        early_stopping=True,
        n_iter_no_change=3,
        learning_rate_init=0.05,
        max_iter=300,
        random_state=0,
    ).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ < 300 and est.best_loss_ is None
    assert est.best_validation_score_ == max(scores)
    assert sum(s < max(scores) + est.tol for s in scores[scores.index(max(scores)) + 1 :]) == 4


def test_multilabel_and_string_classes():
    X, y = _regression()
    Y = np.column_stack([y > 0, X[:, 0] > 0]).astype(int)
    est = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, Y)
    assert est.out_activation_ == "logistic" and est.predict_proba(X).shape == (len(X), 2)
    assert est.predict(X).shape == Y.shape
    assert est.input_jacobian(X).shape == (len(X), 2, 3)
    names = np.where(y > 0, "up", "down")
    est = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, names)
    assert set(est.predict(X)) <= {"up", "down"} and list(est.classes_) == ["down", "up"]
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), est.predict_proba(X))


# --- input derivatives -------------------------------------------------------------------------


def test_regressor_input_gradient_and_jacobian_equal_central_differences():
    X, y = _regression()
    est = MLPRegressor(
        hidden_layer_sizes=(8, 8), activation="tanh", max_iter=20, random_state=0
    ).fit(X, y)
    g = est.input_gradient(X)
    assert g.shape == X.shape
    assert _rel(g, _central_differences(est.predict, X)) < 1e-7
    Y = np.column_stack([y, X[:, 0] ** 2])
    two = MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=20, random_state=0).fit(
        X, Y
    )
    J = two.input_jacobian(X)
    assert J.shape == (len(X), 2, 3)
    assert _rel(J, _central_differences(two.predict, X)) < 1e-7
    with pytest.raises(ValueError, match="input_jacobian"):
        two.input_gradient(X)


def test_classifier_probability_derivatives_equal_central_differences():
    X, y = _regression()
    Xs = StandardScaler().fit_transform(X)
    binary = MLPClassifier((8,), activation="tanh", max_iter=30, random_state=0).fit(Xs, y > 0)
    fd = _central_differences(lambda Z: binary.predict_proba(Z)[:, 1], Xs)
    assert _rel(binary.input_gradient(Xs), fd) < 1e-7
    np.testing.assert_allclose(
        binary.input_gradient(Xs, output="logit"), binary.network_.input_gradient(Xs)
    )
    three = MLPClassifier((8,), activation="tanh", max_iter=30, random_state=0)
    three.fit(Xs, np.digitize(y, [-0.5, 0.5]))
    J = three.input_jacobian(Xs)
    assert J.shape == (len(X), 3, 3)
    assert _rel(J, _central_differences(three.predict_proba, Xs)) < 1e-7
    with pytest.raises(ValueError, match="input_jacobian"):
        three.input_gradient(Xs)


@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler])
def test_pipeline_input_derivatives_are_in_the_original_units(scaler):
    X, y = _regression()
    pipe = make_pipeline(
        scaler(),
        MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=30, random_state=0),
    ).fit(X, y)
    g = pipeline_input_gradient(pipe, X)
    assert _rel(g, _central_differences(pipe.predict, X)) < 1e-6
    np.testing.assert_allclose(pipeline_input_jacobian(pipe, X)[:, 0, :], g)
    bad = make_pipeline(
        PCA(2), MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    ).fit(X, y)
    with pytest.raises(ValueError, match="PCA"):
        pipeline_input_gradient(bad, X)


# --- training: optimiser state, penalty, batches, reproducibility ------------------------------


def test_reproducible_from_random_state():
    X, y = _regression()
    est = MLPRegressor(hidden_layer_sizes=(8,), batch_size=16, max_iter=10, random_state=3)
    a = clone(est).fit(X, y).network_.params
    np.testing.assert_array_equal(a, clone(est).fit(X, y).network_.params)
    assert not np.array_equal(a, clone(est).set_params(random_state=4).fit(X, y).network_.params)


def test_every_fit_takes_a_new_optimiser_and_warm_start_keeps_it():
    X, y = _regression()
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    first = est._optimizer
    est.fit(X, y)
    assert est._optimizer is not first and est._optimizer.t == first.t == 5
    est.set_params(warm_start=True).fit(X, y)
    again = est._optimizer
    est.fit(X, y)
    assert est._optimizer is again and again.t == 15


def test_partial_fit_continues_one_optimiser_as_one_fit():
    X, y = _regression()
    kw = dict(activation="tanh", batch_size=len(X), random_state=0)
    whole = MLPRegressor(hidden_layer_sizes=(8,), max_iter=6, tol=0.0, **kw).fit(X, y)
    parts = MLPRegressor(hidden_layer_sizes=(8,), **kw)
    for _ in range(6):
        parts.partial_fit(X, y)
    assert parts.n_iter_ == 1 and parts.t_ == 6 * len(X) and parts._optimizer.t == 6
    np.testing.assert_allclose(parts.network_.params, whole.network_.params, rtol=1e-12)
    clf = MLPClassifier((8,), random_state=0)
    clf.partial_fit(X[:40], y[:40] > 0, classes=[False, True])
    clf.partial_fit(X[40:], y[40:] > 0)
    assert list(clf.classes_) == [False, True] and clf.t_ == len(X)
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def _initial_network(sizes: list[int], activation: str, random_state: int) -> mlplab.MLP:
    """The network an estimator starts from: its first draw from ``random_state`` seeds it."""
    seed = np.random.RandomState(random_state).randint(2**31 - 1)
    return mlplab.MLP(sizes, activation=activation, init="xavier_uniform", seed=seed)


def _weight_mask(net: mlplab.MLP) -> np.ndarray:
    mask = np.zeros_like(net.params)
    for W in net.unflatten(mask)[0]:
        W[...] = 1.0
    return mask


def test_unshuffled_batches_equal_the_reference_steps_in_order():
    X, y = _regression(50)
    est = MLPRegressor(
        hidden_layer_sizes=(6,),
        activation="tanh",
        solver="sgd",
        momentum=0.5,
        batch_size=20,
        shuffle=False,
        learning_rate_init=0.05,
        max_iter=3,
        random_state=7,
        tol=0.0,
    ).fit(X, y)
    ref = _initial_network([3, 6, 1], "tanh", 7)
    opt = mlplab.SGD(0.05, momentum=0.5, nesterov=True)
    for _ in range(3):
        for s in range(0, 50, 20):
            _, grad = ref.loss_gradient(X[s : s + 20], y[s : s + 20], "mse")
            opt.step(ref.params, grad)
    np.testing.assert_allclose(est.network_.params, ref.params, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shuffle", [False, True])
def test_invscaling_rates_equal_the_reference_steps(shuffle):
    # rate of epoch e: learning_rate_init / (t + 1)^power_t, t the samples seen before it
    X, y = _regression(50)
    kw = dict(activation="tanh", solver="sgd", momentum=0.0, shuffle=shuffle, tol=0.0,
              learning_rate="invscaling", learning_rate_init=0.2, power_t=0.3,
              random_state=7)  # fmt: skip
    batch = 50 if shuffle else 20  # a full batch is the same steps in any order
    est = MLPRegressor(hidden_layer_sizes=(6,), batch_size=batch, max_iter=3, **kw).fit(X, y)
    parts = MLPRegressor(hidden_layer_sizes=(6,), batch_size=batch, **kw)
    for _ in range(3):
        parts.partial_fit(X, y)
    ref = _initial_network([3, 6, 1], "tanh", 7)
    for epoch in range(3):
        for s in range(0, 50, batch):
            _, grad = ref.loss_gradient(X[s : s + batch], y[s : s + batch], "mse")
            ref.params -= 0.2 / (50 * epoch + 1) ** 0.3 * grad
    for fitted in (est, parts):
        np.testing.assert_allclose(fitted.network_.params, ref.params, rtol=1e-12, atol=1e-15)
    assert parts._optimizer.lr == est._optimizer.lr == 0.2  # the schedule scales each epoch


@pytest.mark.parametrize("shuffle", [False, True])
def test_adaptive_rate_divides_by_5_and_stops_as_scikit_learns(shuffle, capsys):
    # with tol huge every epoch after the first fails to improve: the rate is divided after
    # every n_iter_no_change + 1 epochs, 1e-3 → 2e-4 → … → 3.2e-7, and then training stops
    from sklearn.neural_network import MLPRegressor as ScikitLearns

    X, y = _regression(60)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate="adaptive", tol=1e9,
              n_iter_no_change=2, max_iter=100, verbose=True, shuffle=shuffle, alpha=0.0,
              random_state=0)  # fmt: skip
    said = {}
    for name, cls in (("mlplab", MLPRegressor), ("scikit-learn", ScikitLearns)):
        capsys.readouterr()
        est = cls(**kw).fit(X, y)
        said[name] = (est.n_iter_, [x for x in capsys.readouterr().out.splitlines() if "tol=" in x])
    assert said["mlplab"] == said["scikit-learn"]
    n_iter, lines = said["mlplab"]
    assert n_iter == 1 + 6 * 3 and lines[0].endswith("Setting learning rate to 0.000200")
    assert lines[-1].endswith("Learning rate too small. Stopping.")
    # partial_fit keeps the divided rate for the next call
    est = MLPRegressor(**{**kw, "verbose": False})
    for _ in range(4):
        est.partial_fit(X, y)
    assert est._optimizer.lr == pytest.approx(2e-4)


def test_max_fun_bounds_the_lbfgs_evaluations_with_a_convergence_warning():
    X, y = _regression(60)
    with pytest.warns(ConvergenceWarning, match="EVALUATIONS EXCEEDS LIMIT; raise max_fun"):
        est = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_fun=4, max_iter=100).fit(
            X, y
        )
    assert 1 <= est.n_iter_ <= 4  # an iteration takes one evaluation or more
    for bad in (0, 1.5, True, "5"):
        with pytest.raises(mlplab.MlplabError, match="max_fun must be a whole number >= 1"):
            mlplab.LBFGS(max_fun=bad)


def test_a_warm_start_keeps_the_divided_rate_until_the_schedule_changes():
    X, y = _regression(60)
    X = StandardScaler().fit_transform(X)
    est = MLPRegressor(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        tol=1e9,
        n_iter_no_change=2,
        max_iter=5,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    assert est._optimizer.lr == pytest.approx(2e-4)  # divided once, after epoch 4
    est.fit(X, y)
    assert est._optimizer.lr < 2e-4  # continued: divided again
    est.set_params(learning_rate="constant").fit(X, y)
    assert est._optimizer.lr == 1e-3  # a new schedule: a new optimiser at learning_rate_init


def test_alpha_adds_the_l2_penalty_gradient():
    X, y = _regression(40)
    kw = dict(activation="tanh", solver="sgd", momentum=0.0, batch_size=40, max_iter=1,
              learning_rate_init=0.1, random_state=0)  # fmt: skip
    start = _initial_network([3, 5, 1], "tanh", 0)
    _, grad = start.loss_gradient(X, y, "mse")
    plain = MLPRegressor(hidden_layer_sizes=(5,), **kw).fit(X, y)
    np.testing.assert_allclose(plain.network_.params, start.params - 0.1 * grad, rtol=1e-12)
    penalised = MLPRegressor(hidden_layer_sizes=(5,), alpha=0.3, **kw).fit(X, y)
    expected = start.params - 0.1 * (grad + 0.3 / 40 * _weight_mask(start) * start.params)
    np.testing.assert_allclose(penalised.network_.params, expected, rtol=1e-12)
    assert not np.allclose(plain.network_.params, expected)


def test_lbfgs_with_alpha_reaches_a_stationary_point_of_the_penalised_cost():
    X, y = _regression(60)
    Xs = StandardScaler().fit_transform(X)
    est = MLPRegressor(
        hidden_layer_sizes=(6,),
        activation="tanh",
        solver="lbfgs",
        alpha=5.0,
        tol=1e-12,
        max_iter=2000,
        random_state=0,
    ).fit(Xs, y)
    net = est.network_
    _, grad = net.loss_gradient(Xs, y, "mse")
    total = grad + 5.0 / 60 * _weight_mask(net) * net.params
    # L-BFGS stops at scipy's ftol (2.2e-9), as scikit-learn's, so the penalised gradient is
    # about 1e-3 of its parts; a penalty left out, or with a wrong factor c, leaves at least
    # |1 - c| / c of them (0.5 for twice the penalty)
    assert np.linalg.norm(total) < 1e-2 * np.linalg.norm(grad)
    assert est.n_iter_ == len(est.loss_curve_) >= 1


def test_float32_verbose_and_pickled_closure_activation(capsys):
    X, y = _regression()
    est = MLPRegressor(
        hidden_layer_sizes=(6,),
        activation="leaky_relu:0.2",
        dtype="float32",
        max_iter=2,
        verbose=True,
        random_state=0,
    ).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out
    assert est.predict(X).dtype == np.float32 and est.coefs_[0].dtype == np.float32
    back = pickle.loads(pickle.dumps(est))
    assert back.network_.activations[0].name == "leaky_relu:0.2"
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        # "'NoneType' object is not iterable"; a text read as the widths 6 and 4
        ({"hidden_layer_sizes": None}, "hidden_layer_sizes must be whole numbers >= 1"),
        ({"hidden_layer_sizes": "64"}, "hidden_layer_sizes must be whole numbers >= 1"),
        ({"hidden_layer_sizes": {3, 4}}, "hidden_layer_sizes must be whole numbers >= 1"),
        ({"solver": "newton"}, "solver"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"dtype": "float16"}, "dtype"),
        ({"learning_rate_init": 0}, "learning_rate_init"),
        ({"learning_rate": "optimal"}, "learning_rate must be one of constant, invscaling"),
        ({"power_t": -1.0}, "power_t"),
        ({"max_fun": 0}, "max_fun"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"batch_size": 0}, r"batch_size must be 'auto' or a whole number >= 1, got 0"),
        ({"batch_size": 2.5}, r"batch_size must be 'auto' or a whole number >= 1, got 2.5"),
        ({"loss": "squared_error"}, "scikit-learn's name; .* 'half_sse' has its gradient"),
        # hidden sizes given first, where scikit-learn's regressor, and this one, take loss
        ({"loss": (64, 64)}, r"write hidden_layer_sizes=\(64, 64\)"),
        ({"loss": None}, r"loss=None is not a loss: give a name such as 'mse' or an mlplab Loss"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = _regression(20)
    with pytest.raises(ValueError, match=message):
        MLPRegressor(**params).fit(X, y)


def test_regressor_takes_its_first_arguments_in_scikit_learns_order():
    from sklearn.neural_network import MLPRegressor as SkRegressor

    def positional(cls):
        return [
            p.name
            for p in inspect.signature(cls).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]

    assert positional(MLPRegressor) == positional(SkRegressor) == [
        "loss", "hidden_layer_sizes", "activation"
    ]  # fmt: skip
    assert positional(MLPClassifier) == ["hidden_layer_sizes", "activation"]


def test_lbfgs_stops_on_the_gradient_as_scikit_learns():
    """``tol`` bounds the gradient (scipy's gtol) and the cost's relative reduction is held to
    scipy's ftol, as scikit-learn's: with ftol = tol = 1e-4 the first plateau of a Runge fit
    stopped L-BFGS after 4 iterations at R² = 0.02."""
    from sklearn.neural_network import MLPRegressor as SkRegressor

    x = np.linspace(-1, 1, 300).reshape(-1, 1)
    y = 1 / (1 + 25 * x[:, 0] ** 2)
    kw = dict(hidden_layer_sizes=(32,), activation="tanh", solver="lbfgs", max_iter=300,
              random_state=0)  # fmt: skip
    est = MLPRegressor(**kw).fit(x, y)
    theirs = SkRegressor(**kw).fit(x, y)
    assert est.score(x, y) > 0.99 and theirs.score(x, y) > 0.99
    assert est.n_iter_ > 30
    assert est._optimizer.gtol == theirs.tol and est._optimizer.tol == SCIPY_FTOL
    # tol=0, which scikit-learn takes, runs to max_iter (or the line search's end)
    assert MLPRegressor(**{**kw, "max_iter": 40, "tol": 0.0}).fit(x, y).n_iter_ == 40


def test_one_class_and_early_stopping_in_partial_fit_are_refused():
    X, y = _regression(20)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.ones(20))
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y > 0)


def test_probability_jacobian_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    from mlplab.interop import to_torch

    X, y = _regression(30)
    Xs = StandardScaler().fit_transform(X)
    for labels in (y > 0, np.digitize(y, [-0.5, 0.5])):
        est = MLPClassifier((6, 5), activation="tanh", max_iter=20, random_state=0)
        est.fit(Xs, labels)
        module, binary = to_torch(est.network_), len(est.classes_) == 2

        def proba(x, binary=binary, module=module):
            z = module(x)
            return torch.cat([1 - torch.sigmoid(z), torch.sigmoid(z)]) if binary else z.softmax(0)

        J = np.stack([torch.autograd.functional.jacobian(proba, torch.from_numpy(x)).numpy()
                      for x in Xs])  # fmt: skip
        assert _rel(est.input_jacobian(Xs), J) < 1e-12


def test_warm_start_refuses_another_architecture():
    X, y = _regression()
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, warm_start=True, random_state=0).fit(
        X, y
    )
    with pytest.raises(ValueError, match="warm_start=False"):
        est.set_params(hidden_layer_sizes=(5,)).fit(X, y)
    with pytest.raises(ValueError, match="float32"):
        est.set_params(hidden_layer_sizes=(4,), dtype="float32").fit(X, y)


def test_float32_regressor_names_targets_beyond_its_range_without_a_warning():
    X, y = _regression()
    y = y.copy()
    y[0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="y holds 1 value.*beyond the range of float32"):
            MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, dtype="float32").fit(X, y)


@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_input_derivatives_before_fit_say_not_fitted(cls):
    from sklearn.exceptions import NotFittedError

    X, _ = _regression(5)
    for method in ("input_gradient", "input_jacobian"):  # was AttributeError on n_outputs_
        with pytest.raises(NotFittedError):
            getattr(cls(), method)(X)

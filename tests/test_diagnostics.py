import math
import warnings

import numpy as np
import pytest
from scipy.special import ndtr

import mlplab
from mlplab import MLP, losses
from mlplab.activations import get_activation
from mlplab.diagnostics import (
    COLUMNS,
    Diagnostics,
    delta_norms,
    derivative_max,
    diagnose,
    gradient_norms,
    saturation,
)
from mlplab.diagnostics import dead_units as dead_units_of
from tests.conftest import SMOOTH

# Points in [0.1, 0.9]², the two corners that split x1 − x2 included.
X_BOX = np.vstack(
    [[0.9, 0.2], [0.2, 0.9], np.random.default_rng(3).uniform(0.1, 0.9, size=(18, 2))]
)
DEAD = [
    np.array([False, True, False, True]),
    np.array([False, True, False]),
    np.array([False]),
]


def hand_built(activation: str = "relu") -> MLP:
    """A 2-4-3-1 network whose dead units on X_BOX are known by construction (DEAD).

    Layer 2: z = x1 + x2 + 0.5 > 0; z = −x1 − x2 − 0.1 < 0 (dead); z = x1 − x2 (either sign);
    z = 0 exactly (dead: σ'(0) = 0 for ReLU). Layer 3: a sum of live units plus 0.1 > 0; the
    same minus 10 < 0 (dead); 5 × (the two dead units) + 1 (alive although it reads only dead
    units: its bias keeps z > 0).
    """
    net = MLP([2, 4, 3, 1], activation=activation, seed=0)
    net.weights[0][...] = [[1, 1], [-1, -1], [1, -1], [0, 0]]
    net.biases[0][...] = [0.5, -0.1, 0.0, 0.0]
    net.weights[1][...] = [[1, 0, 1, 0], [1, 0, 1, 0], [0, 5, 0, 5]]
    net.biases[1][...] = [0.1, -10.0, 1.0]
    net.weights[2][...] = [[1, 1, 1]]
    net.biases[2][...] = [0.0]
    return net


def assert_masks_equal(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == bool and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


# --- dead units --------------------------------------------------------------------------------


def test_dead_units_of_a_hand_built_relu_network():
    assert_masks_equal(dead_units_of(hand_built(), X_BOX), DEAD)


def test_dead_units_get_exactly_zero_gradient_and_live_ones_do_not():
    net = hand_built()
    y = np.sin(X_BOX.sum(axis=1, keepdims=True))
    cache = net.forward(X_BOX)
    gW, gb = net.backward(cache, losses.mse.grad(cache.output, y))
    dead = dead_units_of(net, X_BOX)
    for i in range(2):  # hidden layers l = 2, 3: incoming weights and biases
        assert np.all(gW[i][dead[i]] == 0) and np.all(gb[i][dead[i]] == 0)
        assert np.all(np.abs(gb[i][~dead[i]]) > 0)
    # and a dead unit of layer 2 sends nothing on: the weights out of it get no gradient either
    assert np.all(gW[1][:, dead[0]] == 0)


def test_a_dead_unit_on_some_points_is_alive_on_more():
    net = hand_built()
    left = X_BOX[X_BOX[:, 0] < X_BOX[:, 1]]  # x1 − x2 < 0: the third unit of layer 2 is off
    assert dead_units_of(net, left)[0].tolist() == [False, True, True, True]
    assert dead_units_of(net, X_BOX)[0].tolist() == [False, True, False, True]


def test_leaky_units_are_never_dead_but_the_slope_as_threshold_finds_z_below_zero():
    net = hand_built("leaky_relu:0.1")
    assert not any(m.any() for m in dead_units_of(net, X_BOX))
    assert_masks_equal(dead_units_of(net, X_BOX, threshold=0.1), DEAD)


# --- saturation --------------------------------------------------------------------------------


def saturation_net(activation: str, scale: float) -> MLP:
    net = MLP([1, 6, 1], activation=activation, seed=1)
    net.weights[0][...] = scale * np.array([[1], [-1], [2], [-2], [3], [-3]])
    return net


X_AWAY = np.concatenate([np.linspace(-1, -0.5, 25), np.linspace(0.5, 1, 25)])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_huge_weights_saturate_every_pair_and_tiny_ones_none(activation):
    # |z| >= 50 at every point with weights ~100 and biases 0; |z| <= 3e-6 with weights ~1e-6
    huge = saturation(saturation_net(activation, 100.0), X_AWAY)
    tiny = saturation(saturation_net(activation, 1e-6), X_AWAY)
    np.testing.assert_array_equal(huge, [1.0, 0.0])  # the identity output never saturates
    np.testing.assert_array_equal(tiny, [0.0, 0.0])
    assert dead_units_of(saturation_net(activation, 1e-6), X_AWAY, threshold=0.01)[0].sum() == 0
    assert dead_units_of(saturation_net(activation, 100.0), X_AWAY, threshold=0.01)[0].all()


@pytest.mark.parametrize(("activation", "scale"), [("tanh", 1.0), ("sigmoid", 2.0)])
@pytest.mark.parametrize("threshold", [0.3, 0.01, 1e-4])
def test_saturated_fraction_against_the_closed_form(activation, scale, threshold):
    # tanh' = 1/cosh²z <= τ·1 ⇔ |z| >= arccosh(1/√τ); sigmoid' = 1/(4cosh²(z/2)) <= τ/4 ⇔
    # |z| >= 2 arccosh(1/√τ)
    rng = np.random.default_rng(7)
    net = MLP([3, 40, 1], activation=activation, init=f"normal:0,{scale}", seed=2)
    X = rng.uniform(-4, 4, size=(200, 3))
    z = X @ net.weights[0].T + net.biases[0]
    edge = math.acosh(1 / math.sqrt(threshold)) * (2 if activation == "sigmoid" else 1)
    expected = np.mean(np.abs(z) >= edge)
    assert 0.02 < expected < 0.98  # the case is not trivial
    assert saturation(net, X, threshold)[0] == pytest.approx(expected, abs=1e-12)


def test_relu_saturation_is_the_fraction_of_z_at_or_below_zero():
    net = hand_built()
    cache = net.forward(X_BOX)
    z2 = X_BOX @ net.weights[0].T + net.biases[0]
    assert saturation(net, X_BOX)[0] == np.mean(z2 <= 0)
    assert saturation(net, X_BOX)[1] == np.mean(cache.z[1] <= 0)


@pytest.mark.parametrize(
    ("name", "expected", "tol"),
    [
        ("sigmoid", 0.25, 0.0),
        ("tanh", 1.0, 0.0),
        ("relu", 1.0, 0.0),
        ("leaky_relu:0.1", 1.0, 0.0),
        ("identity", 1.0, 0.0),
        ("elu:2", 2.0, 0.0),
        ("softplus", 1.0, 3e-9),
        ("gelu", ndtr(math.sqrt(2)) + math.exp(-1) / math.sqrt(math.pi), 1e-6),
    ],
)
def test_derivative_max(name, expected, tol):
    assert derivative_max(get_activation(name)) == pytest.approx(expected, rel=tol, abs=0)


# --- gradient norms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "sizes", "output"),
    [
        ("mse", [3, 5, 4, 2], "identity"),
        ("half_sse", [3, 6, 1], "identity"),
        ("cross_entropy", [3, 5, 4, 3], "identity"),
        ("bce", [3, 4, 2], "sigmoid"),
    ],
)
def test_gradient_norms_are_the_norms_of_backprop(loss, sizes, output):
    rng = np.random.default_rng(11)
    net = MLP(sizes, activation="tanh", output_activation=output, bias_init="normal:0,0.5", seed=0)
    # layers of very different scale, so that a norm in the wrong place shows
    for i, W in enumerate(net.weights):
        W *= 3.0**i
    X = rng.standard_normal((30, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], size=30)
    elif loss == "bce":
        y = rng.uniform(size=(30, sizes[-1]))
    else:
        y = rng.standard_normal((30, sizes[-1]))
    cache = net.forward(X)
    target = y if loss == "cross_entropy" else y.reshape(30, -1)
    gW, gb = net.backward(cache, losses.get_loss(loss).grad(cache.output, target))
    w_norms, b_norms = gradient_norms(net, X, y, loss)
    assert w_norms.shape == b_norms.shape == (len(sizes) - 1,)
    np.testing.assert_allclose(w_norms, [np.sqrt(np.sum(g * g)) for g in gW], rtol=1e-13)
    np.testing.assert_allclose(b_norms, [np.sqrt(np.sum(g * g)) for g in gb], rtol=1e-13)
    # the same numbers from the flat gradient of loss_gradient, and with a Loss object
    _, flat = net.loss_gradient(X, y, loss)
    gW2, _ = net.unflatten(flat)
    np.testing.assert_array_equal(
        gradient_norms(net, X, y, losses.get_loss(loss))[0], [np.linalg.norm(g) for g in gW2]
    )


@pytest.mark.parametrize("loss", ["mse", "half_sse", "cross_entropy"])
def test_delta_norms_are_the_mean_over_points_of_each_points_own_delta(loss):
    rng = np.random.default_rng(12)
    net = MLP([2, 5, 4, 3], activation="tanh", bias_init="normal:0,0.5", seed=1)
    X = rng.standard_normal((7, 2))
    y = rng.integers(0, 3, size=7) if loss == "cross_entropy" else rng.standard_normal((7, 3))
    per_point = []
    for i in range(7):  # backprop on the cost of point i alone
        cache = net.forward(X[i : i + 1])
        target = net.check_target(y[i : i + 1], losses.get_loss(loss), 1)
        net.backward(cache, losses.get_loss(loss).grad(cache.output, target))
        per_point.append([np.linalg.norm(d) for d in cache.delta])
    np.testing.assert_allclose(delta_norms(net, X, y, loss), np.mean(per_point, axis=0), rtol=1e-13)


def test_delta_norms_do_not_cancel_where_the_weight_gradient_does():
    # x symmetric about 0 and an even target: in a deep sigmoid network the terms of
    # ∂C/∂W^[2] = (1/N) Σ δ^[2](x) x nearly cancel; the errors δ^[2](x) are far larger
    net = MLP([1, 16, 16, 16, 16, 1], activation="sigmoid", seed=0)
    x = np.linspace(-1, 1, 65)
    w_norms, b_norms = gradient_norms(net, x, mlplab.data.runge(x))
    deltas = delta_norms(net, x, mlplab.data.runge(x))
    assert w_norms[0] < 0.01 * deltas[0]
    assert np.all(deltas >= b_norms * (1 - 1e-12))  # ‖(1/N) Σ δ‖ <= the mean of ‖δ‖


# --- the summary -------------------------------------------------------------------------------


def relu_net_with_dead_units() -> MLP:
    net = MLP([2, 8, 8, 3], activation="relu", init="he_normal", seed=4)
    net.biases[0][:3] = -100.0  # z <= 0 on the points below for these three units
    return net


def test_diagnose_agrees_with_the_separate_functions():
    rng = np.random.default_rng(5)
    net = relu_net_with_dead_units()
    X = rng.uniform(-1, 1, size=(64, 2))
    y = rng.standard_normal((64, 3))
    report = diagnose(net, X, y, loss="half_sse", threshold=0.2)
    assert isinstance(report, Diagnostics)
    assert [layer.l for layer in report.layers] == [2, 3, 4]
    assert [layer.width for layer in report.layers] == [8, 8, 3]
    assert [layer.activation for layer in report.layers] == ["relu", "relu", "identity"]
    assert_masks_equal([layer.dead for layer in report.layers], dead_units_of(net, X))
    assert report.layers[0].n_dead == 3
    np.testing.assert_array_equal(
        [layer.saturated for layer in report.layers], saturation(net, X, 0.2)
    )
    w_norms, b_norms = gradient_norms(net, X, y, "half_sse")
    np.testing.assert_array_equal([layer.weight_grad_norm for layer in report.layers], w_norms)
    np.testing.assert_array_equal([layer.bias_grad_norm for layer in report.layers], b_norms)
    np.testing.assert_array_equal(
        [layer.delta_norm for layer in report.layers], delta_norms(net, X, y, "half_sse")
    )
    assert report.cost == net.loss(X, y, "half_sse")
    assert (report.n_points, report.threshold, report.loss) == (64, 0.2, "half_sse")


def test_diagnose_without_targets_and_its_table():
    net = relu_net_with_dead_units()
    X = np.random.default_rng(6).uniform(-1, 1, size=(40, 2))
    report = diagnose(net, X)
    assert report.loss is None and report.cost is None
    for layer in report.layers:
        assert layer.weight_grad_norm is None and layer.bias_grad_norm is None
        assert layer.delta_norm is None
    text = str(report)
    assert text == report.table()
    lines = text.splitlines()
    assert lines[0] == report.summary()
    assert "40 points, no targets" in lines[0] and "0.01" in lines[0]
    assert lines[1].split() == " ".join(name for name, _ in COLUMNS).split()
    assert len(lines) == 2 + 3
    first = report.layers[0]
    assert lines[2].split() == [
        "2",
        "8",
        "relu",
        "3",
        f"{first.saturated:.1%}",
        "n/a",
        "n/a",
        "n/a",
    ]
    # columns line up: every row is as long as the header row
    assert len({len(line) for line in lines[1:]}) == 1


def test_diagnose_with_targets_prints_the_cost_and_the_norms():
    net = relu_net_with_dead_units()
    rng = np.random.default_rng(8)
    X, y = rng.uniform(-1, 1, size=(16, 2)), rng.integers(0, 3, size=16)
    report = diagnose(net, X, y, loss="cross_entropy")
    assert f"loss cross_entropy, C = {net.loss(X, y, 'cross_entropy'):.3e}" in report.summary()
    last = report.table().splitlines()[-1].split()
    out = report.layers[-1]
    assert last[-3:] == [
        f"{out.weight_grad_norm:.3e}",
        f"{out.bias_grad_norm:.3e}",
        f"{out.delta_norm:.3e}",
    ]


def test_gradient_norms_do_not_overflow():
    # entries of ∂C/∂W^[2] near 1e299: their squares overflow, the norm must not
    net = MLP([2, 3, 1], activation="sin", seed=0)
    X = np.array([[1e300, -1e300], [-1e300, 2e299], [3e299, 1e300]])
    y = np.zeros(3)
    cache = net.forward(X)
    gW, _ = net.backward(cache, losses.mse.grad(cache.output, y.reshape(-1, 1)))
    m = np.max(np.abs(gW[0]))
    assert m > 1e250
    w_norms, _ = gradient_norms(net, X, y)
    assert np.all(np.isfinite(w_norms))
    assert w_norms[0] == pytest.approx(m * np.sqrt(np.sum((gW[0] / m) ** 2)), rel=1e-14)
    # and squares that underflow: ∂C/∂w = 2(w x − y) x ≈ −2e-200 with x = y = 1e-100
    tiny = MLP([1, 1], activation="identity", seed=0)
    tiny.weights[0][...] = 1e-200
    w_norms, b_norms = gradient_norms(tiny, np.array([1e-100]), np.array([1e-100]))
    assert w_norms[0] == pytest.approx(2e-200, rel=1e-14, abs=0)
    assert b_norms[0] == pytest.approx(2e-100, rel=1e-14, abs=0)


def test_public_api():
    assert mlplab.diagnose is diagnose and mlplab.Diagnostics is Diagnostics
    assert mlplab.diagnostics.dead_units is dead_units_of


def test_one_dimensional_points_for_one_input():
    net = MLP([1, 4, 1], activation="relu", seed=0)
    x = np.linspace(-1, 1, 9)
    assert_masks_equal(dead_units_of(net, x), dead_units_of(net, x.reshape(-1, 1)))


# --- bad input and extreme values --------------------------------------------------------------


def functions(net, X, y):
    return {
        "dead_units": lambda: dead_units_of(net, X),
        "saturation": lambda: saturation(net, X),
        "gradient_norms": lambda: gradient_norms(net, X, y),
        "delta_norms": lambda: delta_norms(net, X, y),
        "diagnose": lambda: diagnose(net, X, y),
    }


@pytest.mark.parametrize(
    "name", ["dead_units", "saturation", "gradient_norms", "delta_norms", "diagnose"]
)
@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones((5, 3)), r"X has shape \(5, 3\) but this network takes inputs of shape \(N, 2\)"),
        (np.ones(5), r"X\.reshape\(1, -1\)"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), "NaN or inf"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), "NaN or inf"),
        (np.empty((0, 2)), "no rows"),
    ],
)
def test_bad_points(name, X, message):
    net = MLP([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=message):
        functions(net, X, np.zeros(len(X)))[name]()


@pytest.mark.parametrize(
    "name", ["dead_units", "saturation", "gradient_norms", "delta_norms", "diagnose"]
)
def test_non_finite_parameters(name):
    net = MLP([2, 3, 1], seed=0)
    net.weights[1][0, 0] = np.nan
    with pytest.raises(ValueError, match="parameters contain NaN or inf"):
        functions(net, np.ones((4, 2)), np.zeros(4))[name]()


@pytest.mark.parametrize("name", ["gradient_norms", "delta_norms", "diagnose"])
@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros(3), "3 rows but X has 4"),
        (np.zeros((4, 2)), "the network has 1 output"),
        (np.array([0.0, 1.0, np.nan, 0.0]), "NaN or inf"),
    ],
)
def test_bad_targets(name, y, message):
    net = MLP([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=message):
        functions(net, np.ones((4, 2)), y)[name]()


@pytest.mark.parametrize("threshold", [-0.1, 1.0, 2.0, float("nan"), "a", None, True])
def test_bad_threshold(threshold):
    net, X = MLP([2, 3, 1], seed=0), np.ones((4, 2))
    for call in (
        lambda: saturation(net, X, threshold),
        lambda: dead_units_of(net, X, threshold),
        lambda: diagnose(net, X, threshold=threshold),
    ):
        with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\)"):
            call()


def test_unknown_loss():
    net, X = MLP([2, 3, 1], seed=0), np.ones((4, 2))
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names are"):
        gradient_norms(net, X, np.zeros(4), loss="hinge")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        diagnose(net, X, loss="hinge")


@pytest.mark.parametrize("activation", [*SMOOTH, "relu", "leaky_relu"])
def test_no_warnings_on_extreme_points(activation):
    net = MLP([2, 16, 16, 1], activation=activation, seed=0)
    X = np.array([[1e300, -1e300], [-1e300, 1e-300], [0.0, 5e-324], [1e300, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = diagnose(net, X)
        bounded = activation in ("sigmoid", "tanh", "sin")  # outputs, hence the cost, finite
        if bounded:
            report = diagnose(net, X, np.zeros(4))
    assert all(0.0 <= layer.saturated <= 1.0 for layer in report.layers)
    if bounded:
        assert all(np.isfinite(layer.weight_grad_norm) for layer in report.layers)
    if activation in ("sigmoid", "tanh"):
        # |z^[2]| is astronomically large at three of the four points
        assert report.layers[0].saturated >= 0.75

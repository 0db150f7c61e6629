import warnings

import numpy as np
import pytest

from mlplab._names import UnknownNameError
from mlplab.errors import MlplabError
from mlplab.gradcheck import central_difference
from mlplab.losses import NAMES, get_loss
from tests.conftest import LOSSES, requires_torch, targets_for, torch

CASES = [
    (name, n_out) for name in LOSSES for n_out in (1, 3) if (name, n_out) != ("cross_entropy", 1)
]


@pytest.mark.parametrize(("name", "n_out"), CASES)
def test_gradient_matches_central_differences(name, n_out, rng):
    loss = get_loss(name)
    a = rng.uniform(0.05, 0.95, (7, n_out)) if name == "bce" else rng.standard_normal((7, n_out))
    y = targets_for(name, 7, n_out, rng)
    numeric = central_difference(lambda: loss.value(a, y), a, h=1e-6)
    analytic = loss.grad(a, y)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-10)


def test_conventions_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    assert get_loss("mse")(a, y) == pytest.approx((1 + 0 + 4 + 16) / 4)
    assert get_loss("half_sse")(a, y) == pytest.approx(0.5 * (1 + 0 + 4 + 16) / 2)


def test_cross_entropy_labels_equal_one_hot(rng):
    a = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    onehot = np.eye(4)[labels]
    ce = get_loss("cross_entropy")
    assert ce(a, labels) == pytest.approx(ce(a, onehot), rel=1e-14)
    np.testing.assert_allclose(ce.grad(a, labels), ce.grad(a, onehot), rtol=1e-14)


def test_cross_entropy_is_stable_at_huge_logits():
    ce = get_loss("cross_entropy")
    a = np.array([[1e4, 0.0, -1e4], [0.0, 1e308, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = ce(a, np.array([0, 0]))
        grad = ce.grad(a, np.array([0, 0]))
    assert np.isfinite(value) and value == pytest.approx(1e308 / 2)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["bce", "bce_logits"])
def test_bce_is_finite_at_saturated_outputs(name, dtype):
    loss = get_loss(name)
    a = np.array([[0.0], [1.0]]) if name == "bce" else np.array([[-1e4], [1e4]])
    a, y = a.astype(dtype), np.array([[1.0], [0.0]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(loss(a, y)) and loss(a, y) > 10
        assert np.all(np.isfinite(loss.grad(a, y)))


def test_bce_of_a_saturated_float32_sigmoid_is_the_float64_value():
    # σ(20) rounds to 1 in float32: the cost is that of the clipped log, not nan
    y = np.array([[0.0], [1.0]])
    a64 = np.array([[1.0], [1.0]])
    cost64 = get_loss("bce")(a64, y)
    cost32 = get_loss("bce")(a64.astype(np.float32), y.astype(np.float32))
    assert cost64 == pytest.approx(-np.log(1e-12) / 2)
    assert cost32 == pytest.approx(cost64, rel=1e-6)


def test_cross_entropy_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels must be integers"):
        get_loss("cross_entropy").value(np.zeros((2, 3)), np.array([0, 3]))


def test_unknown_loss_lists_valid_names():
    with pytest.raises(UnknownNameError) as err:
        get_loss("hinge")
    for name in NAMES:
        assert name in str(err.value)


@requires_torch
@pytest.mark.parametrize("name", LOSSES)
def test_value_and_gradient_match_torch(name, rng):
    fns = {
        "mse": lambda a, y: torch.nn.functional.mse_loss(a, y),
        "half_sse": lambda a, y: 0.5 * ((a - y) ** 2).sum() / a.shape[0],
        "cross_entropy": lambda a, y: torch.nn.functional.cross_entropy(a, y),
        "bce": lambda a, y: torch.nn.functional.binary_cross_entropy(a, y),
        "bce_logits": lambda a, y: torch.nn.functional.binary_cross_entropy_with_logits(a, y),
    }
    a = rng.uniform(0.05, 0.95, (9, 3)) if name == "bce" else 3 * rng.standard_normal((9, 3))
    y = targets_for(name, 9, 3, rng)
    ta = torch.tensor(a, requires_grad=True)
    value = fns[name](ta, torch.tensor(y))
    value.backward()
    loss = get_loss(name)
    assert loss(a, y) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.grad(a, y), ta.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_needs_two_outputs():
    with pytest.raises(ValueError, match="one output \\(logit\\) per class"):
        get_loss("cross_entropy").value(np.zeros((3, 1)), np.array([0, 1, 0]))


def test_bce_rejects_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match="output_activation='sigmoid'.*bce_logits"):
        get_loss("bce").value(np.array([[1.5], [0.2]]), np.array([[1.0], [0.0]]))


def test_bce_gradient_is_zero_where_the_value_is_clipped_flat():
    a = np.array([[0.0], [1.0], [0.3]])
    y = np.array([[0.0], [1.0], [1.0]])
    g = get_loss("bce").grad(a, y)
    assert g[0, 0] == 0.0 and g[1, 0] == 0.0 and g[2, 0] < 0


def test_a_perfect_cross_entropy_prints_without_a_minus_sign():
    from mlplab.losses import cross_entropy

    value = cross_entropy.value(np.array([[800.0, 0.0]]), np.array([0]))
    assert f"{value:e}" == "0.000000e+00"


@pytest.mark.parametrize("name", ["bce", "bce_logits"])
@pytest.mark.parametrize("bad", [2.0, -1.0, np.nan])
def test_binary_cross_entropy_refuses_targets_outside_0_1(name, bad):
    a = np.full((3, 1), 0.5)
    y = np.array([[0.0], [1.0], [bad]])
    with pytest.raises(ValueError, match=r"takes targets in \[0, 1\]"):
        get_loss(name).value(a, y)


@pytest.mark.parametrize("lam", [30.0, 38.0, 38.5, 100.0, 700.0])
def test_cross_entropy_keeps_its_accuracy_when_one_logit_dominates(lam):
    # C = log(1 + 9 e^{−λ}): tiny, never rounded to 0; ∂C/∂a_0 = −9 e^{−λ} / (1 + 9 e^{−λ})
    # is a difference with 1, exact to an absolute 2.2e-16 (a unit in the last place of 1)
    z = np.zeros((1, 10))
    z[0, 0] = lam
    ce = get_loss("cross_entropy")
    small = 9.0 * np.exp(-lam)
    assert ce.value(z, np.array([0])) == pytest.approx(np.log1p(small), rel=1e-14)
    assert abs(ce.grad(z, np.array([0]))[0, 0] + small / (1.0 + small)) <= 2.3e-16


def test_integer_logits_are_read_as_numbers():
    from mlplab.losses import log_softmax

    np.testing.assert_allclose(log_softmax(np.array([[1, 2, 3]])),
                               log_softmax(np.array([[1.0, 2.0, 3.0]])))  # fmt: skip
    assert get_loss("cross_entropy")(np.array([[1, 2, 3]]), np.array([2])) > 0


@pytest.mark.parametrize("name", LOSSES)
def test_targets_of_another_shape_are_refused_not_broadcast(name):
    # a (3, 1) and y (3,) broadcast to (3, 3): mse gave 4.0 for a perfect fit, silently
    n_out = 2 if name == "cross_entropy" else 1
    a = np.full((3, n_out), 0.5)
    y = np.full((3, n_out), 0.5) if name != "cross_entropy" else np.array([0, 1, 1])
    loss = get_loss(name)
    for bad in (y.reshape(-1), y[:2], np.tile(y, 2)):
        if name == "cross_entropy" and bad.ndim == 1 and bad.size == 3:
            continue  # (N,) integer labels are cross-entropy's own form
        with pytest.raises(MlplabError, match=r"targets have shape .* but the outputs"):
            loss.value(a, bad)
        with pytest.raises(MlplabError, match=r"targets have shape .* but the outputs"):
            loss.grad(a, bad)
    if name == "cross_entropy":  # labels of another count: the fix is one label per point
        with pytest.raises(MlplabError, match=r"give one class label per point, shape \(N,\)$"):
            loss.value(a, y[:2])


@pytest.mark.parametrize("name", LOSSES)
def test_a_cost_over_no_points_is_refused_without_a_warning(name):
    # the mean over zero points was 0/0: a RuntimeWarning and nan
    from mlplab import MLP

    n_out = 2 if name == "cross_entropy" else 1
    net = MLP([1, 2, n_out], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MlplabError, match="no points"):
            net.loss(np.zeros((0, 1)), np.zeros(0, dtype=int), name)
        with pytest.raises(MlplabError, match="no points"):
            get_loss(name).grad(np.zeros((0, n_out)), np.zeros((0, n_out)))


@pytest.mark.parametrize(
    "bad",
    [
        -np.eye(3)[[0, 1, 2, 0]],  # gave a cost of -1.06
        np.array([[1.0, 0, 0], [0, 2, 0], [0, 0, 1], [1, 0, 0]]),  # a row summing to 2
        np.array([[1.5, -0.5, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]),  # sums to 1, an entry < 0
    ],
)
def test_cross_entropy_probability_rows_must_be_probabilities(bad):
    a = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match="rows of class probabilities, entries >= 0 that sum"):
        get_loss("cross_entropy").value(a, bad)
    smooth = np.full((4, 3), 0.1) + 0.7 * np.eye(3)[[0, 1, 2, 0]]  # label smoothing: taken
    assert get_loss("cross_entropy").value(a, smooth) > 0

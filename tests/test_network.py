import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplab import MLP, MlplabError
from mlplab._names import UnknownNameError
from mlplab.gradcheck import check_gradients
from tests.conftest import LOSSES, SMOOTH, output_for, requires_torch, targets_for, torch

ARCHITECTURES = [[3, 5, 1], [2, 4, 3, 2], [4, 6, 5, 4, 3], [1, 8, 8, 8, 8, 1]]


# --- shapes and the forward pass ---------------------------------------------------------------


def test_shapes_follow_the_paper():
    net = MLP([2, 3, 4, 1], seed=0)
    assert [W.shape for W in net.weights] == [(3, 2), (4, 3), (1, 4)]
    assert [b.shape for b in net.biases] == [(3,), (4,), (1,)]
    assert net.num_parameters == 3 * 3 + 4 * 4 + 1 * 5 == net.params.size
    assert net.L == 4


def test_weights_are_views_of_the_flat_parameters():
    net = MLP([2, 3, 1], seed=0)
    net.params[:] = 0.0
    assert np.all(net.weights[0] == 0) and np.all(net.biases[1] == 0)
    net.weights[1][0, 2] = 7.0
    assert 7.0 in net.params


def test_forward_cache_holds_every_z_and_a(rng):
    net = MLP([2, 3, 2], activation="sigmoid", output_activation="tanh", seed=1)
    X = rng.standard_normal((5, 2))
    cache = net.forward(X)
    np.testing.assert_array_equal(cache.a[0], X)
    z2 = X @ net.weights[0].T + net.biases[0]
    np.testing.assert_allclose(cache.z[0], z2, rtol=1e-15)
    np.testing.assert_allclose(cache.a[1], 1 / (1 + np.exp(-z2)), rtol=1e-14)
    np.testing.assert_allclose(cache.a[2], np.tanh(cache.z[1]), rtol=1e-15)
    np.testing.assert_array_equal(net(X), cache.output)


def test_one_dimensional_input_means_one_feature():
    net = MLP([1, 4, 1], seed=0)
    x = np.linspace(-1, 1, 7)
    np.testing.assert_array_equal(net(x), net(x.reshape(-1, 1)))
    assert net(x).shape == (7, 1)


def test_seed_makes_initialisation_reproducible():
    a, b = MLP([3, 8, 2], seed=4), MLP([3, 8, 2], seed=4)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, MLP([3, 8, 2], seed=5).params)


def test_float32_mode_computes_in_float32(rng):
    net = MLP([2, 5, 1], dtype="float32", seed=0)
    assert net.params.dtype == np.float32
    assert net(rng.standard_normal((3, 2))).dtype == np.float32
    _, g = net.loss_gradient(rng.standard_normal((3, 2)), rng.standard_normal((3, 1)))
    assert g.dtype == np.float32


def test_backward_takes_dC_da_in_the_networks_dtype_and_shape(rng):
    net = MLP([2, 5, 1], dtype="float32", seed=0)
    cache = net.forward(rng.standard_normal((3, 2)))
    net.backward(cache, np.ones((3, 1)))  # float64 ∂C/∂a: every δ stays float32
    assert {d.dtype for d in cache.delta} == {np.dtype(np.float32)}
    for bad in (np.ones(1), np.ones((1, 1)), np.ones((3, 2))):  # no silent broadcast
        with pytest.raises(ValueError, match=r"dC_da has shape .* outputs a\^\[L\] have shape"):
            net.backward(cache, bad)


def test_per_layer_activations():
    net = MLP([2, 3, 3, 1], activation=["relu", "tanh"], output_activation="sigmoid")
    assert [a.name for a in net.activations] == ["relu", "tanh", "sigmoid"]
    net = MLP([2, 3, 1], activation=["sin", "identity"])
    assert [a.name for a in net.activations] == ["sin", "identity"]


# --- gradients against central differences -----------------------------------------------------


@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", SMOOTH)
def test_backprop_and_input_derivatives_match_finite_differences(activation, loss, sizes):
    if loss == "cross_entropy" and sizes[-1] == 1:
        sizes = [*sizes[:-1], 3]
    rng = np.random.default_rng(zlib.crc32(f"{activation}-{loss}-{sizes}".encode()))
    # Sigmoid layers shrink gradients by σ' <= 1/4 each; with Xavier weights the first layer's
    # gradient of a deep sigmoid net is ~1e-5, and the difference quotient's rounding error
    # (ε/h ≈ 1e-11) relative to it exceeds 1e-7. N(0, 1) weights (the seed study's init) keep
    # the gradients large enough that the check measures backprop, not rounding.
    net = MLP(
        sizes,
        activation=activation,
        output_activation=output_for(loss),
        init="normal:0,1" if activation == "sigmoid" else "xavier_normal",
        bias_init="normal:0,0.5",
        seed=int(rng.integers(1000)),
    )
    X = rng.standard_normal((6, sizes[0]))
    y = targets_for(loss, 6, sizes[-1], rng)
    result = check_gradients(net, X, y, loss, h=1e-5)
    expected = {f"{k}{i + 2}" for i in range(len(sizes) - 1) for k in "Wb"} | {"input_jacobian"}
    if sizes[-1] == 1:
        expected.add("input_gradient")
    assert set(result.errors) == expected
    assert result.max_error <= 1e-7, result.errors


@pytest.mark.parametrize("activation", ["relu", "leaky_relu:0.1"])
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
def test_relu_type_gradients_away_from_kinks(activation, sizes):
    rng = np.random.default_rng(7)
    net = MLP(sizes, activation=activation, init="he_normal", bias_init="normal:0,0.5", seed=3)
    h = 1e-5
    for _ in range(100):  # draw points whose every pre-activation is far from the kink
        X = rng.standard_normal((6, sizes[0]))
        if all(np.min(np.abs(z)) > 10 * h for z in net.forward(X).z[:-1]):
            break
    else:
        pytest.fail("could not draw points away from the kinks")
    result = check_gradients(net, X, rng.standard_normal((6, sizes[-1])), "mse", h=h)
    assert result.max_error <= 1e-7, result.errors


def test_gradient_check_catches_a_wrong_derivative(rng):
    from mlplab.activations import Activation

    wrong = Activation(
        "wrong_tanh", np.tanh, lambda z: 1 - 0.9 * np.tanh(z) ** 2, lambda z: np.zeros_like(z)
    )
    net = MLP([2, 4, 1], activation=wrong, seed=0)
    result = check_gradients(net, rng.standard_normal((5, 2)), rng.standard_normal((5, 1)))
    assert not result.passed
    assert result.errors["W2"] > 1e-3


def test_input_gradient_is_the_jacobian_row(rng):
    net = MLP([3, 7, 7, 1], activation="tanh", seed=2)
    X = rng.standard_normal((10, 3))
    np.testing.assert_allclose(net.input_gradient(X), net.input_jacobian(X)[:, 0, :], rtol=1e-13)


def test_input_gradient_of_a_linear_network_is_the_weight_product(rng):
    net = MLP([3, 4, 1], activation="identity", seed=2)
    expected = net.weights[1] @ net.weights[0]
    g = net.input_gradient(rng.standard_normal((5, 3)))
    np.testing.assert_allclose(g, np.repeat(expected, 5, axis=0), rtol=1e-14)


# --- parity with PyTorch autograd (float64) -----------------------------------------------------


def _torch_net(net):
    acts = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": torch.nn.functional.softplus,
        "gelu": torch.nn.functional.gelu,
        "sin": torch.sin,
        "identity": lambda z: z,
        "elu": torch.nn.functional.elu,
        "leaky_relu:0.01": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    }
    Ws = [torch.tensor(W.copy(), requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]

    def forward(x):
        a = x
        for W, b, act in zip(Ws, bs, net.activations, strict=False):
            a = acts[act.name](a @ W.T + b)
        return a

    return forward, Ws, bs


@requires_torch
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=6),
    activation=st.sampled_from([*SMOOTH, "relu", "leaky_relu:0.01"]),
    output=st.sampled_from(["identity", "sigmoid", "tanh"]),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_autograd(sizes, activation, output, n, seed):
    rng = np.random.default_rng(seed)
    net = MLP(
        sizes, activation=activation, output_activation=output, bias_init="normal:0,0.3", seed=seed
    )
    X = rng.standard_normal((n, sizes[0]))
    y = rng.standard_normal((n, sizes[-1]))
    forward, Ws, bs = _torch_net(net)
    tx = torch.tensor(X, requires_grad=True)
    out = forward(tx)
    np.testing.assert_allclose(net(X), out.detach().numpy(), rtol=1e-10, atol=1e-14)
    torch.nn.functional.mse_loss(out, torch.tensor(y)).backward()
    _, g = net.loss_gradient(X, y, "mse")
    gW, gb = net.unflatten(g)
    for mine, theirs in zip([*gW, *gb], [*Ws, *bs], strict=False):
        scale = max(np.abs(theirs.grad.numpy()).max(), 1e-300)
        assert np.abs(mine - theirs.grad.numpy()).max() <= 1e-10 * scale + 1e-15
    J_torch = torch.autograd.functional.jacobian(lambda x: forward(x).sum(0), torch.tensor(X))
    J_torch = J_torch.permute(1, 0, 2).numpy()  # (N, n_L, n_1)
    J = net.input_jacobian(X)
    assert np.abs(J - J_torch).max() <= 1e-10 * max(np.abs(J_torch).max(), 1e-300) + 1e-15
    if sizes[-1] == 1:
        g_in = net.input_gradient(X)
        assert (
            np.abs(g_in - J_torch[:, 0, :]).max()
            <= 1e-10 * max(np.abs(J_torch).max(), 1e-300) + 1e-15
        )


# --- bad input --------------------------------------------------------------------------------


def test_wrong_input_width_is_explained():
    net = MLP([3, 4, 1], seed=0)
    with pytest.raises(ValueError, match=r"shape \(5, 2\).*\(N, 3\)"):
        net(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="reshape"):
        net(np.zeros(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(bad):
    net = MLP([2, 4, 1], seed=0)
    X = np.zeros((3, 2))
    X[1, 0] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        net(X)
    with pytest.raises(ValueError, match="NaN or inf"):
        net.loss_gradient(np.zeros((3, 2)), np.array([0.0, bad, 1.0]))


def test_input_gradient_needs_a_scalar_output():
    with pytest.raises(ValueError, match="input_jacobian"):
        MLP([2, 3, 2], seed=0).input_gradient(np.zeros((1, 2)))


@pytest.mark.parametrize("sizes", [[3], [], [2, 0, 1], [2, -1], [2.5, 1], [True, 1]])
def test_impossible_sizes_are_rejected(sizes):
    with pytest.raises(ValueError, match="sizes|width"):
        MLP(sizes)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": None}, r"sizes must be a list of layer widths, e.g. \[1, 64, 1\]; got None"),
        ({"sizes": 5}, "sizes must be a list of layer widths"),
        ({"sizes": {1: 2, 3: 4}}, "sizes must be a list of layer widths"),  # was [1, 3]
        ({"sizes": "121"}, "sizes must be a list of layer widths"),
        ({"activation": None}, "activation must be a name such as 'tanh', an Activation"),
        ({"activation": 5}, "activation must be a name such as 'tanh', an Activation"),
        # a set's order is its hashes', not the user's
        ({"activation": {"tanh", "relu"}}, "activation must be a name such as 'tanh'"),
        ({"init": "normal:0,1", "sizes": {2, 3, 1}}, "sizes must be a list of layer widths"),
        ({"dtype": 5}, "dtype must be 'float64' or 'float32', got 5"),
        # NumPy's OverflowError "high - low range exceeds valid bounds"
        ({"init": "uniform:-1e308,1e308"}, "uniform init.s \\(low, high\\) must be .* low <= high"),
        # cast to float32 with an overflow warning, then inf weights
        ({"bias_init": 1e300, "dtype": "float32"}, "drew values beyond the range of float32"),
    ],
)
def test_wrong_kinds_of_arguments_are_named(kwargs, match):
    kwargs = {"sizes": [2, 3, 1], **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            MLP(kwargs.pop("sizes"), **kwargs)


@pytest.mark.parametrize(("mean", "std"), [("0", 1.0), (0.0, "1"), (0.0, -1.0), (np.nan, 1.0)])
def test_normal_init_takes_a_finite_mean_and_std(mean, std):
    from mlplab.init import normal

    with pytest.raises(ValueError, match=r"normal init's (mean|std) must be a finite number"):
        normal(mean, std)  # text was float()'s TypeError


def test_astype_refuses_parameters_beyond_float32():
    net = MLP([1, 3, 1], bias_init=1e300, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was an overflow warning and inf weights
        with pytest.raises(ValueError, match="the network holds 4 value.* beyond the range of"):
            net.astype("float32")  # the biases of both layers
    twin = net.astype("float64")  # the same dtype: still an independent copy
    assert twin.params is not net.params and np.array_equal(twin.params, net.params)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid names are: .*tanh"):
        MLP([1, 2, 1], activation="tanhh")
    with pytest.raises(UnknownNameError, match="valid names are: .*xavier_normal"):
        MLP([1, 2, 1], init="xavier")
    with pytest.raises(ValueError, match="float64"):
        MLP([1, 2, 1], dtype="float16")


def test_wrong_number_of_activations():
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLP([1, 2, 2, 1], activation=["tanh"])


def test_target_shape_is_checked():
    net = MLP([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match=r"expected \(4, 2\)"):
        net.loss(np.zeros((4, 2)), np.zeros((4, 3)))


# --- δ^[l] kept by backward ---------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize(
    ("sizes", "activation", "output"),
    [
        ([3, 5, 4, 2], "tanh", "sigmoid"),
        ([1, 6, 1], "sigmoid", "identity"),
        ([2, 2], "relu", "tanh"),
    ],
)
def test_backward_keeps_delta_equal_to_autograd_dC_dz(sizes, activation, output, rng):
    net = MLP(sizes, activation=activation, output_activation=output, bias_init="normal:0,0.3")
    net.set_params(rng.standard_normal(net.num_parameters))
    X = rng.standard_normal((7, sizes[0]))
    y = rng.standard_normal((7, sizes[-1]))
    cache = net.forward(X)
    assert cache.delta == []
    gW, gb = net.backward(cache, 2.0 * (cache.output - y) / y.size)
    a = torch.tensor(X, requires_grad=True)
    zs = []
    for W, b, act in zip(net.weights, net.biases, net.activations, strict=True):
        zs.append(a @ torch.tensor(W).T + torch.tensor(b))
        zs[-1].retain_grad()
        a = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}.get(
            act.name, lambda t: t
        )(zs[-1])
    torch.nn.functional.mse_loss(a, torch.tensor(y)).backward()
    assert len(cache.delta) == len(cache.z)
    for i, (delta, z) in enumerate(zip(cache.delta, zs, strict=True)):
        assert delta.shape == (7, sizes[i + 1]) == cache.z[i].shape
        np.testing.assert_allclose(delta, z.grad.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gW[i], delta.T @ cache.a[i], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb[i], delta.sum(axis=0), rtol=1e-12, atol=1e-15)


def test_forward_and_input_jacobian_are_priced_before_allocating(monkeypatch):
    from mlplab.errors import SizeError

    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    net = MLP([50, 50, 50], seed=0)
    X = np.zeros((400, 50))
    assert net.input_jacobian(X[:10]).shape == (10, 50, 50)
    with pytest.raises(SizeError, match="input Jacobians at 400 points"):
        net.input_jacobian(X)
    with pytest.raises(SizeError, match="forward pass over X"):
        net.forward(np.zeros((2000, 50)))


def test_params_are_changed_in_place_never_replaced():
    net = MLP([2, 3, 1], seed=0)
    with pytest.raises(AttributeError, match=r"net.params\[:\] = values"):
        net.params = net.params * 0
    net.params *= 2.0  # in place: the weights see it
    np.testing.assert_array_equal(net.weights[0], 2.0 * MLP([2, 3, 1], seed=0).weights[0])
    net.params[:] = 0.0
    assert np.all(net(np.ones((1, 2))) == 0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        net.set_params(np.full(net.num_parameters, np.nan))


def test_inputs_beyond_float32_or_not_real_are_named_without_a_warning():
    import warnings

    net = MLP([1, 2, 1], dtype="float32", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="beyond the range of float32"):
            net(np.array([[1e39]]))
        with pytest.raises(ValueError, match="complex128 values; give real numbers"):
            net(np.array([[1 + 2j]]))


def test_targets_get_the_checks_of_inputs_without_a_warning():
    import warnings

    net, classes = MLP([1, 2, 1], seed=0), MLP([1, 2, 2], seed=0)
    net32 = MLP([1, 2, 1], dtype="float32", seed=0)
    X = np.zeros(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # complex targets lost their imaginary part with a ComplexWarning; text was parsed
        for y in (np.ones(2) + 1j, np.array(["1", "2"]), np.ones(2, dtype=object)):
            with pytest.raises(MlplabError, match=r"y holds \S+ values; give real numbers"):
                net.loss(X, y)
        with pytest.raises(MlplabError, match="give real numbers"):
            classes.loss(X, np.array([0, 1], dtype=object), "cross_entropy")
        # an overflow warning, then "y contains NaN or inf", for finite targets beyond float32
        with pytest.raises(MlplabError, match=r"y holds 1 value\(s\) beyond the range of float32"):
            net32.loss(X, np.array([0.0, 1e39]))


def test_ragged_lists_are_named_without_numpy_s_message():
    # NumPy's "setting an array element with a sequence ... inhomogeneous shape"
    net, classes = MLP([2, 2, 1], seed=0), MLP([2, 2, 2], seed=0)
    ragged = "has rows of different lengths; give an array whose rows all have one length"
    with pytest.raises(MlplabError, match=f"^X {ragged}$"):
        net([[1.0], [1.0, 2.0]])
    with pytest.raises(MlplabError, match=f"^y {ragged}$"):
        net.loss(np.zeros((2, 2)), [[1.0], [1.0, 2.0]])
    with pytest.raises(MlplabError, match=f"^y {ragged}$"):
        classes.loss(np.zeros((2, 2)), [0, [1]], "cross_entropy")


def test_backward_checks_its_cache_dC_da_and_out():
    net = MLP([2, 3, 1], seed=0)
    cache = net.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match="dC_da holds <U1 values; give real numbers"):
        net.backward(cache, "a")  # NumPy's "could not convert string to float"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was a ComplexWarning and the real part
        with pytest.raises(ValueError, match="dC_da holds complex128 values"):
            net.backward(cache, np.ones((4, 1)) * 1j)
    other = MLP([2, 5, 1], seed=0).forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"layer widths \[2, 5, 1\], not this network's"):
        net.backward(other, np.ones((4, 1)))  # matmul's gufunc signature message
    with pytest.raises(ValueError, match=r"out must be an array like params.*of shape \(3,\)"):
        net.backward(cache, np.ones((4, 1)), out=np.empty(3))
    with pytest.raises(ValueError, match=r"got list of shape \(9,\)"):  # was AttributeError
        net.backward(cache, np.ones((4, 1)), out=[0.0] * 9)

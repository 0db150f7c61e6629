"""Second-order input derivatives and their parameter gradients (mlplab.second_order).

Each value is computed twice: by the forward recursion and its reverse sweep, and by PyTorch
autograd (torch.func) in float64, or by central differences of the input gradient.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplab import MLP, Activation, second_order
from mlplab.errors import MlplabError
from mlplab.second_order import Derivatives, partial_coefficients
from tests.conftest import SMOOTH, requires_torch, torch

WITH_D2 = [*SMOOTH, "relu", "leaky_relu:0.01"]
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _close(mine, theirs, rtol):
    """max |mine − theirs| ≤ rtol · max |theirs| (+ a floor for all-zero values)."""
    theirs = np.asarray(theirs)
    scale = max(float(np.abs(theirs).max(initial=0.0)), 1e-300)
    err = float(np.abs(np.asarray(mine) - theirs).max(initial=0.0))
    assert err <= rtol * scale + 1e-15, f"max error {err:.3e} against scale {scale:.3e}"


def _torch_function(net):
    """u(θ, x) for one point x, with θ flat in the layout of net.params."""
    F = torch.nn.functional
    acts = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": F.softplus,
        "gelu": F.gelu,
        "sin": torch.sin,
        "identity": lambda z: z,
        "elu": F.elu,
        "leaky_relu:0.01": lambda z: F.leaky_relu(z, 0.01),
    }

    def u(theta, x):
        a, k = x, 0
        for (n_in, n_out), act in zip(
            zip(net.sizes[:-1], net.sizes[1:], strict=True), net.activations, strict=True
        ):
            W = theta[k : k + n_in * n_out].reshape(n_out, n_in)
            k += n_in * n_out
            b = theta[k : k + n_out]
            k += n_out
            a = acts[act.name](W @ a + b)
        return a

    return u


networks = st.fixed_dictionaries(
    {
        "hidden": st.lists(st.integers(1, 32), min_size=0, max_size=4),
        "n_in": st.integers(1, 5),
        "n_out": st.integers(1, 3),
        "activation": st.sampled_from(WITH_D2),
        "n": st.integers(1, 9),
        "seed": st.integers(0, 2**16),
    }
)


def _draw(spec, n_out=None, activations=WITH_D2):
    activation = spec["activation"] if spec["activation"] in activations else "tanh"
    sizes = [spec["n_in"], *spec["hidden"], spec["n_out"] if n_out is None else n_out]
    net = MLP(sizes, activation=activation, bias_init="normal:0,0.3", seed=spec["seed"])
    X = np.random.default_rng(spec["seed"]).standard_normal((spec["n"], spec["n_in"]))
    return net, X


# --- values: Hessian, Laplacian, operators, partials -------------------------------------------


@requires_torch
@FEW
@given(spec=networks)
def test_second_derivatives_match_torch_func(spec):
    net, X = _draw(spec)
    u = _torch_function(net)
    theta = torch.tensor(net.params)
    H_t = torch.func.vmap(torch.func.hessian(u, argnums=1), in_dims=(None, 0))(
        theta, torch.tensor(X)
    ).numpy()  # (N, n_L, n_1, n_1)
    n_out, n_in = net.sizes[-1], net.sizes[0]
    if n_out == 1:
        H_t = H_t[:, 0]
    _close(net.input_hessian(X), H_t, 1e-10)
    _close(net.laplacian(X), np.trace(H_t, axis1=-2, axis2=-1), 1e-10)
    C = np.random.default_rng(spec["seed"]).standard_normal((n_in, n_in))  # not symmetric
    _close(net.second_operator(X, C), np.einsum("ij,...ij->...", C, H_t), 1e-10)
    pairs = [(n_in - 1, n_in - 1), (0, n_in - 1)]
    expect = np.stack([H_t[..., i, j] for i, j in pairs], axis=-1)
    _close(net.second_partials(X, pairs), expect, 1e-10)
    d = net.input_derivatives(X, [np.eye(n_in)])
    _close(d.u, net(X), 1e-12)
    _close(d.du, net.input_jacobian(X), 1e-12)


@FEW
@given(spec=networks)
def test_hessian_matches_central_differences_of_the_input_gradient(spec):
    net, X = _draw(spec, n_out=1, activations=SMOOTH)
    h = 1e-5
    H = net.input_hessian(X)
    for j in range(net.sizes[0]):
        e = np.zeros(net.sizes[0])
        e[j] = h
        fd = (net.input_gradient(X + e) - net.input_gradient(X - e)) / (2 * h)
        scale = max(float(np.abs(H).max()), 1.0)
        assert np.abs(H[:, :, j] - fd).max() <= 1e-7 * scale


def test_blocks_of_rows_give_the_same_values(monkeypatch):
    net = MLP([3, 20, 20, 1], activation="tanh", seed=0)
    X = np.random.default_rng(1).standard_normal((101, 3))
    whole = net.input_hessian(X)
    monkeypatch.setattr(second_order, "BLOCK_ENTRIES", 200)  # blocks of 2 rows
    assert second_order.block_rows(net, second_order.Operators([np.eye(3)], 3)) == 2
    np.testing.assert_allclose(net.input_hessian(X), whole, rtol=1e-13, atol=1e-15)


def test_float32_computes_in_float32():
    net64 = MLP([2, 16, 16, 1], activation="gelu", seed=3)
    net32 = net64.astype("float32")
    X = np.random.default_rng(2).uniform(-1, 1, (50, 2))
    lap32 = net32.laplacian(X)
    assert lap32.dtype == np.float32
    _close(lap32, net64.laplacian(X), 1e-4)
    H32 = net32.input_hessian(X)
    assert H32.dtype == np.float32


def test_laplacian_of_a_quadratic_form_is_exact():
    # u(x) = (w·x + b)² through an identity layer and a square: Δu = 2‖w‖²
    square = Activation("square", np.square, lambda z: 2 * z, lambda z: 2 + 0 * z)
    net = MLP([3, 1, 1], activation=[square, "identity"], output_activation=None, seed=0)
    net.weights[1][...] = 1.0
    net.biases[1][...] = 0.0
    X = np.random.default_rng(0).standard_normal((4, 3))
    w = net.weights[0][0]
    np.testing.assert_allclose(net.laplacian(X), 2 * w @ w, rtol=1e-14)


# --- parameter gradients: PINN loss and residual Jacobian -------------------------------------


def _burgers_like(nu=0.3):
    """r = u_0 + u u_last − ν ∂²u/∂x_last² + 0.2 (Δu)² + sin(x_0), with its partials."""

    def residual(rows, x, d):
        u, u0, ul = d.u[:, 0], d.du[:, 0, 0], d.du[:, 0, -1]
        ull, lap = d.d2[:, 0, 0], d.d2[:, 0, 1]
        r = u0 + u * ul - nu * ull + 0.2 * lap**2 + np.sin(x[:, 0])
        du = np.zeros_like(d.du)
        du[:, 0, 0] += 1.0
        du[:, 0, -1] += u
        d2 = np.stack([np.full_like(u, -nu), 0.4 * lap], axis=-1)[:, None]
        return r, Derivatives(ul[:, None], du, d2)

    def torch_residual(u, theta, x, nu=nu):
        scalar = lambda th, y: u(th, y)[0]  # noqa: E731
        g = torch.func.grad(scalar, argnums=1)(theta, x)
        H = torch.func.hessian(scalar, argnums=1)(theta, x)
        v = scalar(theta, x)
        return g[0] + v * g[-1] - nu * H[-1, -1] + 0.2 * torch.trace(H) ** 2 + torch.sin(x[0])

    return residual, torch_residual


@requires_torch
@FEW
@given(spec=networks)
def test_pinn_loss_gradient_and_residual_jacobian_match_torch(spec):
    net, X = _draw(spec, n_out=1)
    n_in = net.sizes[0]
    ops = [partial_coefficients(n_in - 1, n_in - 1, n_in), np.eye(n_in)]
    residual, torch_residual = _burgers_like()
    value, g = second_order.residual_loss(net, X, ops, residual, weight=0.7)
    r, jac = second_order.residual_jacobian(net, X, ops, residual)

    u = _torch_function(net)
    theta = torch.tensor(net.params.copy(), requires_grad=True)
    xt = torch.tensor(X)
    r_t = torch.func.vmap(lambda x: torch_residual(u, theta, x))(xt)
    loss = 0.7 * (r_t**2).mean()
    loss.backward()  # double backward through the input derivatives
    jac_t = torch.func.vmap(
        torch.func.jacrev(lambda th, x: torch_residual(u, th, x)), in_dims=(None, 0)
    )(theta.detach(), xt)
    _close(r, r_t.detach().numpy(), 1e-10)
    assert value == pytest.approx(loss.item(), rel=1e-10)
    _close(g, theta.grad.numpy(), 1e-10)
    _close(jac, jac_t.numpy(), 1e-10)
    rr, JtJ, Jtr = second_order.normal_equations(net, X, ops, residual)
    _close(JtJ, jac.T @ jac, 1e-12)
    _close(Jtr, jac.T @ r, 1e-12)
    assert rr == pytest.approx(float(r @ r), rel=1e-12)


@requires_torch
@FEW
@given(spec=networks)
def test_vjp_of_a_loss_on_all_outputs_matches_torch(spec):
    net, X = _draw(spec)
    n_in, n_out = net.sizes[0], net.sizes[-1]
    ops = [np.eye(n_in), partial_coefficients(0, n_in - 1, n_in)]
    d = second_order.derivatives(net, X, ops)
    rng = np.random.default_rng(spec["seed"] + 1)
    adjoint = Derivatives(*(rng.standard_normal(a.shape) for a in (d.u, d.du, d.d2)))
    g = second_order.vjp(net, X, ops, adjoint)

    u = _torch_function(net)
    theta = torch.tensor(net.params.copy(), requires_grad=True)

    def cost(x, au, adu, ad2):
        J = torch.func.jacrev(u, argnums=1)(theta, x)
        H = torch.func.hessian(u, argnums=1)(theta, x)  # (n_L, n_1, n_1)
        second = torch.stack([torch.einsum("kii->k", H), H[:, 0, n_in - 1]], dim=-1)
        return (au * u(theta, x)).sum() + (adu * J).sum() + (ad2 * second).sum()

    total = sum(
        cost(torch.tensor(X[k]), *(torch.tensor(a[k]) for a in (adjoint.u, adjoint.du, adjoint.d2)))
        for k in range(len(X))
    )
    total.backward()
    _close(g, theta.grad.numpy(), 1e-10)
    assert d.d2.shape == (len(X), n_out, 2)


# --- bad input --------------------------------------------------------------------------------


def test_bad_operators_are_explained():
    net = MLP([2, 4, 1], seed=0)
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 2\) matrix"):
        net.second_operator(X, np.eye(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        net.second_operator(X, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="out of range.*2 input"):
        net.second_partials(X, [(0, 2)])


def test_coefficients_and_pairs_that_are_not_numbers_are_explained_without_a_warning():
    import warnings

    net = MLP([2, 4, 1], seed=0)
    X = np.zeros((3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # complex coefficients lost their imaginary part with a ComplexWarning; text gave
        # NumPy's "could not convert string to float"
        for c in (np.eye(2) * (1 + 1j), [["1", "0"], ["0", "1"]]):
            with pytest.raises(MlplabError, match=r"operator 0 holds \S+ values; give real"):
                net.second_operator(X, c)
        with pytest.raises(MlplabError, match=r"matrix of operator 1 holds complex128"):
            second_order.derivatives(net, X, [np.eye(2), np.eye(2) * 1j])
    # "not enough values to unpack", "too many values", "cannot unpack non-iterable int"
    for pair in [(0,), (0, 1, 1), 0]:
        with pytest.raises(MlplabError, match=r"each pair is two 0-based input indices \(i, j\)"):
            net.second_partials(X, [(0, 0), pair])


def test_parameter_gradients_need_a_third_derivative():
    no_d3 = Activation("tanh_no_d3", np.tanh, lambda z: 1 - np.tanh(z) ** 2, lambda z: 0 * z)
    net = MLP([1, 3, 1], activation=no_d3, seed=0)
    X = np.linspace(-1, 1, 4)

    def residual(rows, x, d):
        return d.d2[:, 0, 0], Derivatives(0 * d.u, 0 * d.du, np.ones_like(d.d2))

    with pytest.raises(ValueError, match="no third derivative.*d3f"):
        second_order.residual_loss(net, X, [np.eye(1)], residual)


def test_a_residual_of_the_wrong_shape_is_explained():
    net = MLP([1, 3, 1], seed=0)

    def residual(rows, x, d):
        return d.u, Derivatives(np.ones_like(d.u), 0 * d.du, 0 * d.d2)

    with pytest.raises(ValueError, match="one value per point"):
        second_order.residual_loss(net, np.zeros((4, 1)), [], residual)


def test_an_adjoint_of_the_wrong_shape_is_explained_not_broadcast():
    d = Derivatives(np.zeros((4, 1)), np.zeros((4, 1, 1)), np.zeros((4, 1, 0)))
    assert second_order.to_block(d, 1).shape == (2, 4, 1)
    wide = Derivatives(np.zeros((4, 1)), np.zeros((4, 1, 1)), np.zeros((4, 1, 0)))
    with pytest.raises(ValueError, match=r"need \(4, 1, 2\)"):
        second_order.to_block(wide, 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("operators", [[], [np.eye(3)], [np.eye(3), np.arange(9.0).reshape(3, 3)]])
def test_the_sweep_without_a_tape_equals_the_sweep_with_one(dtype, operators):
    # without a tape the recursion starts at layer 2 from W^[2] as one broadcast row
    net = MLP([3, 7, 5, 2], "tanh", dtype=dtype, seed=1)
    X = np.random.default_rng(2).uniform(-1, 1, (9, 3)).astype(dtype)
    ops = second_order.as_operators(operators, 3)
    T, tape = second_order.sweep(net, X, ops)
    kept, _ = second_order.sweep(net, X, ops, keep=True)
    assert tape == [] and T.dtype == np.dtype(dtype)
    np.testing.assert_allclose(T, kept, rtol=1e-5 if dtype == "float32" else 1e-14, atol=1e-6)


def test_an_activation_whose_slopes_take_one_argument_is_refused():
    with pytest.raises(TypeError, match=r"slopes must take \(a, third\)"):
        Activation("cube", np.tanh, np.tanh, np.tanh, slopes=lambda a: (a, a, a))

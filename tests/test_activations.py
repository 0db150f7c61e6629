import warnings

import numpy as np
import pytest

from mlplab import activations
from mlplab._names import UnknownNameError
from mlplab.activations import Activation, get_activation
from tests.conftest import SMOOTH

ALL = [*SMOOTH, "relu", "leaky_relu", "leaky_relu:0.2", "elu:0.5"]


@pytest.mark.parametrize("name", ALL)
def test_derivatives_match_central_differences(name):
    act = get_activation(name)
    z = np.random.default_rng(0).uniform(-4, 4, 400)
    z = z[np.abs(z) > 1e-3]  # away from the kink of the piecewise-linear ones
    h = 1e-6
    fd1 = (act.f(z + h) - act.f(z - h)) / (2 * h)
    fd2 = (act.df(z + h) - act.df(z - h)) / (2 * h)
    np.testing.assert_allclose(act.df(z), fd1, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(act.d2f(z), fd2, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_extreme_inputs_give_finite_values_without_warnings(name):
    act = get_activation(name)
    z = np.array([-1e308, -1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (act.f, act.df, act.d2f):
            out = fn(z)
            assert out.shape == z.shape
            assert np.all(np.isfinite(out)), (fn, out)


def test_sigmoid_saturates_exactly():
    s = activations.sigmoid
    assert s(np.array([-1e308]))[0] == 0.0
    assert s(np.array([1e308]))[0] == 1.0
    assert s(np.array([0.0]))[0] == 0.5
    assert s(np.array([-np.inf, np.inf])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_keeps_its_relative_accuracy_far_into_the_negative_tail(dtype):
    # e^z / (1 + e^z) is exact to rounding where e^z cannot overflow: the sigmoid holds its
    # relative error there, down to z = -79 where σ ≈ 5e-35, in float32 too
    z = np.linspace(-79.0, 20.0, 2001).astype(dtype)
    ez = np.exp(z.astype(np.float64))
    out = activations.sigmoid(z)
    assert out.dtype == z.dtype
    tol = 1e-15 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(out, ez / (1.0 + ez), rtol=tol, atol=0.0)


def test_softplus_is_stable_and_accurate():
    z = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    out = activations.softplus(z)
    np.testing.assert_allclose(out, [0.0, np.exp(-30.0), np.log(2.0), 30.0, 1000.0], rtol=1e-12)


def test_tanh_sigmoid_identity_holds():
    z = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(np.tanh(z), 2 * activations.sigmoid(2 * z) - 1, atol=1e-15)


def test_leaky_relu_parameter_and_name():
    act = get_activation("leaky_relu:0.1")
    assert act.name == "leaky_relu:0.1"
    np.testing.assert_array_equal(act(np.array([-2.0, 3.0])), [-0.2, 3.0])
    assert get_activation("leaky_relu").name == "leaky_relu:0.01"
    assert activations.LeakyReLU(0.0).name == "relu"


@pytest.mark.parametrize("spec", ["leaky_relu:0.123456789", "elu:0.3333333333333333"])
def test_a_parameterised_name_reads_back_as_the_same_activation(spec):
    act = get_activation(spec)
    assert act.name == spec
    z = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(get_activation(act.name).f(z), act.f(z))


def test_gelu_keeps_its_relative_accuracy_in_the_lower_tail():
    gelu = get_activation("gelu")
    # z Φ(z) and Φ(z) + z φ(z) at z = −10, −8 (mpmath, 30 digits)
    np.testing.assert_allclose(
        gelu.f(np.array([-10.0, -8.0])),
        [-7.619853024160526e-23, -4.976768459417427e-15],
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        gelu.df(np.array([-10.0, -8.0])),
        [-7.618400096464814e-22, -3.979607261086796e-14],
        rtol=1e-12,
    )


def test_unknown_activation_lists_valid_names():
    with pytest.raises(UnknownNameError) as err:
        get_activation("swish")
    for valid in ("sigmoid", "tanh", "relu", "leaky_relu", "gelu"):
        assert valid in str(err.value)


@pytest.mark.parametrize("spec", ["tanh:2", "leaky_relu:-1", "elu:0", "leaky_relu:abc"])
def test_bad_parameters_are_rejected(spec):
    with pytest.raises(ValueError):
        get_activation(spec)


def test_user_defined_activation_passes_through():
    cube = Activation("cube", lambda z: z**3, lambda z: 3 * z**2, lambda z: 6 * z)
    assert get_activation(cube) is cube
    assert cube(np.array([2.0]))[0] == 8.0


def test_relu_of_a_negative_number_is_plus_zero():
    from mlplab.activations import get_activation

    out = get_activation("relu").f(np.array([-2.0, -0.0, 0.0, 3.0]))
    assert not np.any(np.signbit(out[:3])) and out[3] == 3.0


@pytest.mark.parametrize("name", ALL)
def test_third_derivative_matches_central_differences(name):
    act = get_activation(name)
    z = np.random.default_rng(1).uniform(-4, 4, 400)
    z = z[np.abs(z) > 1e-3]
    h = 1e-6
    fd3 = (act.d2f(z + h) - act.d2f(z - h)) / (2 * h)
    np.testing.assert_allclose(act.d3f(z), fd3, rtol=1e-6, atol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(act.d3f(np.array([-1e308, -800.0, 0.0, 800.0, 1e308]))))


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_slopes_from_the_value_equal_the_derivatives(name):
    act = get_activation(name)
    z = np.random.default_rng(2).uniform(-30, 30, 500)
    d1, d2, d3 = act.slopes(act.f(z))
    np.testing.assert_allclose(d1, act.df(z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(d2, act.d2f(z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(d3, act.d3f(z), rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_slopes_skip_the_third_derivative_unless_asked(name):
    act = get_activation(name)
    a = act.f(np.linspace(-5, 5, 11))
    d1, d2, d3 = act.slopes(a, False)
    assert d3 is None
    np.testing.assert_array_equal(np.stack([d1, d2]), np.stack(act.slopes(a, True)[:2]))

"""Every built-in definition compiles with Numba and computes what its NumPy form computes."""

import numpy as np
import pytest

from mlplab import activations, losses
from mlplab.engine.jit import compile_definition, first_line
from mlplab.optim import SGD, Adam

COMPILED = ["sigmoid", "tanh", "relu", "leaky_relu:0.1", "elu:0.5", "softplus", "sin", "identity"]
Z = np.array([-1e308, -800.0, -40.0, -3.0, -0.5, 0.0, 1e-300, 0.7, 4.0, 60.0, 800.0, 1e308])


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("part", ["f", "df", "d2f"])
def test_activation_formulas_compile_to_the_same_numbers(name, part):
    fn = getattr(activations.get_activation(name), part)
    compiled = compile_definition(fn)
    expected = fn(Z)
    got = np.array([compiled(z) for z in Z])
    # libm's tanh and exp against NumPy's vectorised ones: within a few units in the last place
    np.testing.assert_allclose(got, expected, rtol=4e-15, atol=1e-16)
    got32 = np.array([compiled(np.float32(z)) for z in Z[3:-3]])
    np.testing.assert_allclose(got32, fn(Z[3:-3].astype(np.float32)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_sigmoid_at_its_edges(dtype):
    # NaN stays NaN, ±∞ give exactly 0 and 1, and the cut at z = -80 falls where NumPy's does
    edge = np.nextafter(dtype(-80.0), dtype(0.0))
    z = np.array([np.nan, -np.inf, np.inf, -80.0, edge, np.finfo(dtype).max], dtype)
    compiled = compile_definition(activations.sigmoid.f)
    got = np.array([compiled(v) for v in z])
    expected = activations.sigmoid.f(z)
    np.testing.assert_array_equal(got[:4], [np.nan, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(expected[:4], [np.nan, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(got[4:], expected[4:], rtol=1e-6 if dtype == np.float32 else 4e-16)
    assert 1.8e-35 < got[4] < 1.82e-35


def test_gelu_needs_scipy_and_the_error_says_where():
    with pytest.raises(Exception) as error:
        compile_definition(activations.gelu.f)(0.5)
    assert "activations.py" in first_line(error.value)


@pytest.mark.parametrize("name", losses.NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_formulas_compile_to_the_same_numbers(name, dtype):
    loss = losses.get_loss(name)
    rng = np.random.default_rng(1)
    a = rng.uniform(0.01, 0.99, (7, 3)).astype(dtype)
    t = loss.prepare(a, rng.integers(0, 3, 7) if name == "cross_entropy" else a[::-1].copy())
    t = t.astype(dtype)
    tol = 1e-14 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(compile_definition(loss.cost)(a, t), loss.cost(a, t), rtol=tol)
    np.testing.assert_allclose(compile_definition(loss.dcost)(a, t), loss.dcost(a, t), rtol=tol)


@pytest.mark.parametrize(
    "make",
    [lambda: SGD(0.1), lambda: SGD(0.1, 0.9), lambda: SGD(0.1, 0.9, True), lambda: Adam(0.1)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_updates_compile_to_the_same_numbers(make, dtype):
    rng = np.random.default_rng(2)
    ours, theirs = make(), make()
    p, q = rng.standard_normal(9).astype(dtype), None
    q = p.copy()
    update = compile_definition(ours.update)
    state = list(ours.state(p))
    for t in (1, 2, 3):
        g = rng.standard_normal(9).astype(dtype)
        for i in range(9):  # the compiled formula, one entry at a time
            new = update(p[i], g[i], 0.1, t, *(s[i] for s in state), *ours.hyper())
            p[i] = new[0]
            for s, value in zip(state, new[1:], strict=True):
                s[i] = value
        theirs.step(q, g)
    tol = 1e-15 if dtype == np.float64 else 1e-6  # float32: the compiled formula rounds once
    np.testing.assert_allclose(p, q, rtol=tol, atol=tol)


def test_a_definition_may_call_helpers_and_closures():
    def helper(z):
        return 2.0 * z

    def outer(z):
        return helper(z) + 1.0

    assert compile_definition(outer)(3.0) == 7.0
    assert compile_definition(activations.LeakyReLU(0.25).f)(-4.0) == -1.0


def test_same_code_and_closure_values_compile_once():
    f1, f2 = activations.LeakyReLU(0.3).f, activations.LeakyReLU(0.3).f
    assert compile_definition(f1) is compile_definition(f2)
    assert compile_definition(f1) is not compile_definition(activations.LeakyReLU(0.4).f)


def test_redefining_a_helper_or_a_constant_compiles_again():
    scope: dict = {"np": np}
    source = (
        "SCALE = 2.0\ndef helper(z):\n    return SCALE * z\ndef act(z):\n    return helper(z) + 1.0"
    )
    exec(source, scope)
    assert compile_definition(scope["act"])(1.0) == 3.0
    exec("def helper(z):\n    return 3.0 * z", scope)
    assert compile_definition(scope["act"])(1.0) == scope["act"](1.0) == 4.0
    exec("def helper(z):\n    return SCALE * z", scope)
    scope["SCALE"] = 5.0
    assert compile_definition(scope["act"])(1.0) == scope["act"](1.0) == 6.0


def test_a_definition_that_reads_an_unhashable_global_compiles_afresh():
    scope: dict = {"np": np, "W": np.array([2.0])}
    exec("def act(z):\n    return W[0] * z", scope)
    assert compile_definition(scope["act"])(1.0) == 2.0
    scope["W"] = np.array([7.0])
    assert compile_definition(scope["act"])(1.0) == 7.0

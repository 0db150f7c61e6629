"""Problems: domains, sampling, conditions, output transforms and their loss gradients."""

import numpy as np
import pytest

import mlplab
from mlplab import pde, second_order
from mlplab.pde.problem import _transform, _transform_adjoint
from mlplab.second_order import Operators


def test_box_sampling_methods_stay_inside_and_lhs_fills_every_stratum():
    box = pde.Box(t=(0, 1), x=(-1, 1))
    for method in pde.SAMPLINGS:
        X = box.sample(100, method, seed=3)
        assert X.shape[1] == 2
        assert np.all((X[:, 0] >= 0) & (X[:, 0] <= 1) & (X[:, 1] >= -1) & (X[:, 1] <= 1))
    X = box.sample(50, "lhs", seed=0)
    for col, (lo, hi) in zip(X.T, box.bounds.values(), strict=True):
        strata = np.floor((col - lo) / (hi - lo) * 50).astype(int)
        assert sorted(strata) == list(range(50))
    assert box.sample(100, "grid").shape == (100, 2)


def test_faces():
    box = pde.Box(t=(0, 1), x=(-1, 1))
    X = box.sample_on("t=0", 20, "uniform")
    assert np.all(X[:, 0] == 0) and X.shape == (20, 2)
    X = box.sample_on("x", 20, "uniform")
    assert set(np.abs(X[:, 1])) == {1.0}
    assert box.sample_on("boundary", 40).shape == (40, 2)
    assert pde.Box(x=(-1, 1)).sample_on("boundary", 50).tolist() == [[-1.0], [1.0]]
    with pytest.raises(ValueError, match="bounds"):
        box.sample_on("t=0.5", 4)
    with pytest.raises(ValueError, match="'boundary', a variable"):
        box.sample_on("y", 4)
    with pytest.raises(ValueError, match="low < high"):
        pde.Box(x=(1, 1))
    with pytest.raises(ValueError, match="sampling must be one of"):
        box.sample(10, "sobol")


def test_a_residual_computes_only_the_second_derivatives_it_reads():
    problem = pde.Problem(pde.Box(t=(0, 1), x=(-1, 1)), lambda p, u: u.t - u.xx)
    ops, rows = problem.operators_for(problem.residual)
    assert ops.K == 1 and rows["xx"] == 3 and rows["t"] == 1
    problem = pde.Problem(pde.Box(x=(0, 1), y=(0, 1)), lambda p, u: u.lap + u.yx + u.xy)
    ops, rows = problem.operators_for(problem.residual)
    assert ops.K == 2 and rows["xy"] == rows["yx"]


def test_operators_follow_each_residual_function_not_its_address():
    problem = pde.Problem(pde.Box(t=(0, 1), x=(-1, 1)), lambda p, u: u.t - u.xx)
    for _ in range(20):  # temporary residuals, freed as they go: their addresses are reused
        assert "xx" in problem.operators_for(lambda p, u: u.xx)[1]
        assert "tt" in problem.operators_for(lambda p, u: u.tt)[1]


def test_output_transform_and_its_adjoint_are_consistent():
    """u = g + h v: the block of u from the block of v, and its transpose."""
    rng = np.random.default_rng(0)
    C = np.stack([np.eye(2), np.array([[0.0, 1.0], [0.0, 0.0]])])
    X = rng.uniform(-1, 1, (7, 2))
    p = pde.Box(t=(-1, 1), x=(-1, 1))
    problem = pde.Problem(p, lambda p, u: u, transform=lambda p: (np.sin(p.x), p.t * (1 - p.x**2)))
    g, h = problem._jets(X, C)
    T = rng.standard_normal((5, 7, 1))
    Tu = _transform(T, g, h)
    # linear in T apart from g: (Tu(T) − Tu(0)) · P = T · adjoint(P)
    P = rng.standard_normal((7, 5))
    lhs = np.einsum("rb,br->", (Tu - _transform(0 * T, g, h))[:, :, 0], P)
    rhs = np.einsum("rb,br->", T[:, :, 0], _transform_adjoint(P, g, h))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_hard_constraint_solution_matches_a_network_with_the_transform():
    """u = g + h·a^[L] through the transform equals the same formula's derivatives computed
    from the network's own derivatives by the product rule."""
    net = mlplab.MLP([2, 6, 1], seed=0)
    problem = pde.Problem(
        pde.Box(t=(0, 1), x=(-1, 1)),
        lambda p, u: u.t + u * u.x - 0.1 * u.xx,
        transform=lambda p: (-np.sin(np.pi * p.x), p.t * (1 - p.x**2)),
    )
    X = np.random.default_rng(2).uniform(0, 1, (9, 2))
    term = problem.term(X, problem.residual, 1.0)
    d = second_order.derivatives(net, X, term.ops)
    r, _ = term.residual(slice(None), X, d)
    t, x = X.T
    v, vt, vx, vxx = d.u[:, 0], d.du[:, 0, 0], d.du[:, 0, 1], d.d2[:, 0, 0]
    h, ht, hx, hxx = t * (1 - x**2), 1 - x**2, -2 * t * x, -2 * t
    u = -np.sin(np.pi * x) + h * v
    ut = ht * v + h * vt
    ux = -np.pi * np.cos(np.pi * x) + hx * v + h * vx
    uxx = np.pi**2 * np.sin(np.pi * x) + hxx * v + 2 * hx * vx + h * vxx
    np.testing.assert_allclose(r, ut + u * ux - 0.1 * uxx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(problem.solution(net, X), u, rtol=1e-13)


def test_loss_gradient_and_normal_equations_match_central_differences():
    net = mlplab.MLP([2, 5, 4, 1], seed=1)
    problem = pde.Problem(
        pde.Box(t=(0, 1), x=(-1, 1)),
        lambda p, u: u.t + u * u.x - 0.05 * u.xx,
        conditions=[pde.Condition("t=0", lambda p, u: u + np.sin(np.pi * p.x), weight=3.0)],
        transform=lambda p: (0.0, 1 - p.x**2),
    )
    terms = problem.terms(30, 10, "uniform", seed=4)
    value, g = pde.loss(net, terms)
    assert value == pytest.approx(pde.loss_value(net, terms), rel=1e-13)
    C, A, b = pde.normal_equations(net, terms)
    assert C == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(2 * b, g, rtol=1e-10, atol=1e-14)
    theta, h = net.params.copy(), 1e-6
    for k in np.random.default_rng(0).choice(net.num_parameters, 12, replace=False):
        net.params[k] = theta[k] + h
        up = pde.loss_value(net, terms)
        net.params[k] = theta[k] - h
        down = pde.loss_value(net, terms)
        net.params[k] = theta[k]
        assert g[k] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)
    assert np.all(np.linalg.eigvalsh(A) > -1e-10 * np.abs(A).max())


def test_a_residual_without_u_is_explained():
    problem = pde.Problem(pde.Box(x=(0, 1)), lambda p, u: u.xx)
    term = problem.term(np.zeros((2, 1)), lambda p, u: p.x, 1.0)
    with pytest.raises(ValueError, match="written with u"):
        pde.loss(mlplab.MLP([1, 3, 1], seed=0), [term])
    assert isinstance(Operators([], 1), Operators)


def _poisson(**kwargs) -> pde.Problem:
    return pde.Problem(pde.Box(x=(-1, 1)), lambda p, u: -u.xx - np.sin(np.pi * p.x), **kwargs)


@pytest.fixture
def one_mib(monkeypatch):
    """mlplab's memory limit lowered to 1 MiB: sizes above it must be refused, not allocated."""
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))


@pytest.mark.parametrize(
    "sample",
    [
        lambda: _poisson().terms(10**10, 4),  # was 74.5 GiB in Generator.permutation
        lambda: _poisson().terms(10**5, 4, "uniform"),
        lambda: pde.Box(x=(0, 1), y=(0, 1), z=(0, 1)).sample(10**9, "grid"),  # 7.45 GiB
        lambda: pde.Box(**{f"x{i}": (0, 1) for i in range(20)}).sample(2, "grid"),  # 2^20 points
        lambda: pde.Box(x=(0, 1), y=(0, 1), z=(0, 1)).grid(1000),
        lambda: pde.Box(x=(0, 1), y=(0, 1), z=(0, 1)).sample_on("boundary", 10**5),
    ],
)
def test_too_many_points_are_refused_before_they_are_sampled(one_mib, sample):
    with pytest.raises(mlplab.MlplabError, match=r"\d+ points in \d+ variable.*fewer points"):
        sample()


def test_a_grid_of_many_points_per_face_is_priced_as_the_points_it_makes(one_mib):
    assert pde.Box(x=(-1, 1)).sample_on("boundary", 10**12).shape == (2, 1)  # a face is a point
    assert pde.Box(x=(0, 1), y=(0, 1)).sample(10**4, "lhs").shape == (10**4, 2)


def test_the_output_transform_is_priced_before_its_jets_are_made(one_mib):
    problem = _poisson(transform=lambda p: (0.0, 1 - p.x**2))
    with pytest.raises(mlplab.MlplabError, match=r"output transform at 20000 points.*fewer"):
        problem.terms(20000, 0, "uniform")
    assert len(problem.terms(200, 0)) == 1


@pytest.mark.parametrize(
    "ab", [1, (0, 1, 2), ("a", "b"), "01", (1, 1), (0, np.inf), (-1e308, 1e308), (0, None)]
)
def test_bad_bounds_are_named(ab):
    with pytest.raises(mlplab.MlplabError, match=r"bounds of x must be .* low < high .*Box\(x="):
        pde.Box(x=ab)


def test_variables_named_as_derivatives_are_refused():
    with pytest.raises(mlplab.MlplabError, match="xx are also names of second derivatives"):
        pde.Box(x=(0, 1), xx=(0, 1))
    with pytest.raises(mlplab.MlplabError, match="lap are also names"):
        pde.Box(lap=(0, 1))
    assert pde.Box(x1=(0, 1), x2=(0, 1)).names == ("x1", "x2")


@pytest.mark.parametrize(
    ("transform", "match"),
    [
        (lambda p: 0.0, r"pair \(g, h\).*it returned a float"),
        (lambda p: (0.0, 1.0, 2.0), r"pair \(g, h\).*it returned 3 values"),
        (lambda p: 1 - p.x**2, "it returned a Jet"),
        (lambda p: (0.0, "1 - x**2"), "transform's h must be a number or a formula.*got a str"),
        (lambda p: (np.sqrt(p.x + 2), 1.0), r"np.sqrt is not supported .*np.sin"),
    ],
)
def test_a_bad_transform_is_explained(transform, match):
    with pytest.raises(mlplab.MlplabError, match=match):
        _poisson(transform=transform).terms(4, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"conditions": [lambda p, u: u]}, r"conditions\[0\] is a function, not a Condition"),
        ({"conditions": pde.Condition("boundary", lambda p, u: u)}, "list of Condition"),
        ({"conditions": [pde.Condition("y", lambda p, u: u)]}, "'boundary', a variable"),
        ({"conditions": [pde.Condition(5, lambda p, u: u)]}, "condition on 5: use 'boundary'"),
        ({"transform": (0.0, 1.0)}, "transform must be a function"),
        ({"exact": np.zeros(3)}, "exact must be a function"),
    ],
)
def test_a_bad_problem_is_explained_when_it_is_made(kwargs, match):
    with pytest.raises(mlplab.MlplabError, match=match):
        _poisson(**kwargs)


def test_a_bad_domain_or_residual_is_explained():
    with pytest.raises(mlplab.MlplabError, match="domain must be a Box"):
        pde.Problem((-1, 1), lambda p, u: u)
    with pytest.raises(mlplab.MlplabError, match="residual must be a function"):
        pde.Problem(pde.Box(x=(0, 1)), "u.xx")
    assert _poisson(conditions=[pde.Condition("x=1", lambda p, u: u)]).conditions[0].on == "x=1"


def test_an_unknown_variable_or_derivative_is_a_mlplab_error():
    for residual, match in [
        (lambda p, u: u.yy, r"u has no derivative 'yy'.*u.x, u.xx: write one of those"),
        (lambda p, u: u.xx - p.y, r"p has no variable 'y'; the box has p.x: write one of those"),
    ]:
        with pytest.raises(mlplab.MlplabError, match=match) as info:
            pde.Problem(pde.Box(x=(-1, 1)), residual).terms(4, 0)
        assert isinstance(info.value, AttributeError)  # hasattr and getattr(..., default) work
    p = pde.Box(x=(-1, 1)).points(np.zeros((2, 1)))
    assert not hasattr(p, "y") and getattr(p, "y", None) is None


@pytest.mark.parametrize(
    ("residual", "name"),
    [
        (lambda p, u: np.abs(u.xx), "np.absolute"),
        (lambda p, u: np.sqrt(u) - 1, "np.sqrt"),
        (lambda p, u: np.maximum(u, 0.0), "np.maximum"),
        (lambda p, u: np.square(u), "np.square"),
        (lambda p, u: np.multiply.outer(u, u), "np.multiply.outer"),
    ],
)
def test_an_unsupported_numpy_function_names_the_ones_a_residual_may_use(residual, name):
    match = f"{name} is not supported .*may use .*np.sin, np.cos, np.exp, np.tanh; rewrite"
    with pytest.raises(mlplab.MlplabError, match=match):
        pde.Problem(pde.Box(x=(-1, 1)), residual).terms(4, 0)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "1"])
def test_a_condition_weight_is_a_finite_number_not_below_zero(weight):
    # a NaN or negative weight gave a NaN loss or a run that diverged
    with pytest.raises(
        mlplab.MlplabError, match="a Condition's weight must be a finite number >= 0"
    ):
        pde.Condition("boundary", lambda p, u: u, weight)

"""The solvers on small problems: the loss falls, the error is small, the guards work."""

import dataclasses
import tracemalloc
import warnings

import numpy as np
import pytest

import mlplab
from mlplab import pde


def _poisson(transform: bool) -> pde.Problem:
    """A new problem in a few lines: −u'' = π² sin(πx) on [−1, 1], u(±1) = 0."""
    return pde.Problem(
        pde.Box(x=(-1, 1)),
        residual=lambda p, u: -u.xx - np.pi**2 * np.sin(np.pi * p.x),
        conditions=[] if transform else [pde.Condition("boundary", lambda p, u: u)],
        transform=(lambda p: (0.0, 1 - p.x**2)) if transform else None,
        exact=lambda p: np.sin(np.pi * p.x),
    )


@pytest.mark.parametrize("transform", [False, True])
def test_levenberg_marquardt_solves_poisson(transform):
    problem = _poisson(transform)
    net = mlplab.MLP([1, 10, 10, 1], seed=0)
    h = pde.solve(net, problem.terms(32, 2, "grid"), pde.Schedule(adam=20, lr=1e-2, lm=40))
    X = np.linspace(-1, 1, 201)[:, None]
    u, exact = problem.solution(net, X), problem.exact(problem.domain.points(X))
    assert np.linalg.norm(u - exact) / np.linalg.norm(exact) < 1e-3
    assert h.train_loss[-1] < 1e-3 * h.train_loss[0]
    assert np.all(np.diff(h.train_loss[20:]) < 0)  # LM accepts only steps that lower C
    assert h.steps == h.epochs == 60 and h.status == "completed"


def test_adam_then_lbfgs_lower_the_loss():
    problem = _poisson(True)
    net = mlplab.MLP([1, 8, 1], seed=0)
    phases = []
    h = pde.solve(
        net,
        problem.terms(20, 0, "uniform"),
        pde.Schedule(adam=30, lr=1e-2, lbfgs=30),
        phases=phases,
    )
    assert phases[0] == ("Adam", 30) and 0 < phases[1][1] <= 30
    assert min(h.train_loss[30:]) < 0.1 * h.train_loss[29]
    assert np.isnan(h.lr[-1]) and h.lr[0] == pytest.approx(1e-2)


def test_divergence_restores_the_last_finite_parameters():
    problem = _poisson(True)
    net = mlplab.MLP([1, 8, 1], seed=0)
    with pytest.warns(mlplab.DivergenceWarning, match="diverged"):
        h = pde.solve(net, problem.terms(20, 0, "grid"), pde.Schedule(adam=50, lr=1e300))
    assert h.status == "diverged"
    assert np.all(np.isfinite(net.params))


def test_a_callback_stops_the_run():
    net = mlplab.MLP([1, 4, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = pde.solve(
            net,
            _poisson(True).terms(10, 0, "grid"),
            pde.Schedule(adam=10, lm=10),
            callback=lambda k, h, net: k >= 3,
        )
    assert h.epochs == 3 and h.status == "stopped"


def test_a_network_with_several_outputs_is_explained():
    net = mlplab.MLP([1, 4, 2], seed=0)
    with pytest.raises(ValueError, match="2 outputs.*sizes"):
        pde.solve(net, _poisson(True).terms(4, 0, "grid"), pde.Schedule(lm=1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mu": 0}, "mu .*finite number > 0"),  # LM's damping never grew past 1e12: a hang
        ({"mu": -1}, "mu .*finite number > 0"),
        ({"mu": float("nan")}, "mu .*finite number > 0"),
        ({"mu": float("inf")}, "mu .*finite number > 0"),
        ({"mu": 10**400}, "mu .*finite number > 0"),
        ({"mu": "1e-3"}, "mu .*finite number > 0"),
        ({"adam": 2.5}, r"adam \(a number of steps\) must be a whole number >= 0, got 2.5"),
        ({"adam": -1}, "adam .*whole number >= 0, got -1"),
        ({"lbfgs": True}, "lbfgs .*whole number >= 0"),
        ({"lm": "10"}, "lm .*whole number >= 0"),
        ({"lr": 0.0}, "learning rate\\) must be a finite number > 0"),
        ({"lr": float("nan")}, "learning rate\\) must be a finite number > 0"),
    ],
)
def test_a_schedule_is_checked_when_it_is_made(kwargs, match):
    with pytest.raises(mlplab.MlplabError, match=match):
        pde.Schedule(**kwargs)


def test_a_schedule_keeps_whole_numbers_and_stays_checked():
    s = pde.Schedule(adam=np.int64(3), lm=2, mu=np.float64(0.5))
    assert type(s.adam) is int and s.adam == 3 and type(s.mu) is float and s.mu == 0.5
    with pytest.raises(mlplab.MlplabError, match="mu"):
        dataclasses.replace(s, mu=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mu = 0.0


def test_levenberg_marquardt_too_big_is_refused_before_anything_runs(monkeypatch):
    """JᵀJ is p × p: priced before it is allocated, and before Adam spends its steps."""
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    net = mlplab.MLP([1, 30, 30, 1], seed=0)  # p = 1021: 3 copies of JᵀJ take 24 MiB
    theta = net.params.copy()
    terms = _poisson(True).terms(8, 0, "grid")
    with pytest.raises(mlplab.MlplabError, match=r"1021 parameters.*JᵀJ.*fewer parameters"):
        pde.solve(net, terms, pde.Schedule(adam=5, lm=1))
    np.testing.assert_array_equal(net.params, theta)
    with pytest.raises(mlplab.MlplabError, match="1021 parameters"):
        pde.normal_equations(net, terms)
    pde.solve(net, terms, pde.Schedule(adam=2))  # Adam and L-BFGS alone need no JᵀJ


def test_the_loss_value_runs_in_blocks_of_rows():
    """Not one array per formula step over all the points at once."""
    problem = pde.Problem(pde.Box(x=(-1, 1)), lambda p, u: -u.xx - u * np.sin(p.x))
    terms = problem.terms(10**6, 0, "uniform")
    net = mlplab.MLP([1, 8, 1], seed=0)
    tracemalloc.start()
    try:
        value = pde.loss_value(net, terms)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * terms[0].X.nbytes
    small = [problem.term(terms[0].X[:1000], problem.residual, 1.0)]
    assert pde.loss_value(net, small) == pytest.approx(pde.loss(net, small)[0], rel=1e-13)
    assert np.isfinite(value)

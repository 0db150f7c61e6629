import math

import numpy as np
import pytest

from mlplab import MLP, optim
from mlplab._names import UnknownNameError
from mlplab.optim import LBFGS, SGD, UPDATE_BLOCK, Adam, apply_update, get_optimizer, get_schedule
from tests.conftest import requires_torch, torch


def _run(optimizer, grads):
    params = np.array([1.0, -2.0, 0.5])
    for g in grads:
        optimizer.step(params, g)
    return params


GRADS = [np.array([0.3, -0.1, 2.0]) * (k + 1) * (-1) ** k for k in range(6)]


@requires_torch
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (lambda: SGD(lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        (
            lambda: SGD(lr=0.1, momentum=0.9, nesterov=True),
            lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        ),
        (lambda: Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
        (
            lambda: Adam(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-6),
            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.5, 0.9), eps=1e-6),
        ),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "adam-betas"],
)
def test_updates_match_torch(ours, theirs):
    p = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    opt = theirs([p])
    for g in GRADS:
        p.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(_run(ours(), GRADS), p.detach().numpy(), rtol=1e-14)


def test_plain_sgd_is_the_paper_step():
    params = _run(SGD(lr=0.05), [np.array([1.0, 2.0, 3.0])])
    np.testing.assert_allclose(params, [1.0 - 0.05, -2.0 - 0.1, 0.5 - 0.15])


@pytest.mark.parametrize("lead", [(), (3,)])
@pytest.mark.parametrize(
    "optimizer", [Adam(0.01), SGD(0.1, momentum=0.9)], ids=["adam", "momentum"]
)
def test_update_in_blocks_equals_the_formula_on_whole_arrays(optimizer, lead):
    rng = np.random.default_rng(0)
    shape = (*lead, 2 * UPDATE_BLOCK + 5)  # two whole blocks and a short one
    params, grad = rng.standard_normal(shape), rng.standard_normal(shape)
    state = tuple(rng.uniform(0.0, 1.0, shape) for _ in optimizer.state_names)  # v ≥ 0
    lr = np.full((*lead, 1), 0.01) if lead else 0.01
    expected = optimizer.update(params, grad, lr, 2, *state, *optimizer.hyper())
    apply_update(optimizer.update, params, grad, lr, 2, state, optimizer.hyper())
    for got, want in zip((params, *state), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_reset_forgets_state():
    opt = Adam(lr=0.1)
    first = _run(opt, GRADS[:2])
    opt.reset()
    np.testing.assert_array_equal(_run(opt, GRADS[:2]), first)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_non_positive_learning_rate_is_rejected(lr):
    for cls in (SGD, Adam):
        with pytest.raises(ValueError, match="learning rate must be"):
            cls(lr=lr)


def test_bad_hyper_parameters_are_rejected():
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match="beta1"):
        Adam(beta1=1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -1e-8])
def test_adam_eps_and_lbfgs_tol_must_be_finite_and_positive(bad):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        Adam(eps=bad)
    with pytest.raises(ValueError, match="tol must be a finite number > 0"):
        LBFGS(tol=bad)


@pytest.mark.parametrize("make", [lambda: optim.step(3, 0.123456789),
                                  lambda: optim.exponential(0.987654321),
                                  lambda: optim.cosine(0.1111111111)])  # fmt: skip
def test_a_schedule_name_reads_back_as_the_same_schedule(make):
    schedule = make()
    again = get_schedule(schedule.name)
    assert again.name == schedule.name
    assert [again(e, 50) for e in range(50)] == [schedule(e, 50) for e in range(50)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1e-8, "x", 10**400, True])
def test_lbfgs_gtol_must_be_finite_and_not_negative(bad):
    with pytest.raises(ValueError, match=r"gtol \(or None\) must be a finite number >= 0"):
        LBFGS(gtol=bad)


def test_lbfgs_gtol_is_the_bound_on_the_gradient():
    """With ``gtol`` apart from ``tol``, a loose gradient bound stops L-BFGS early and a
    zero one leaves the stopping to ``tol``; ``config`` records it."""
    A = np.diag([1.0, 10.0, 100.0])

    def fun(x):
        return 0.5 * x @ A @ x, A @ x

    loose = LBFGS(tol=1e-300, gtol=1e-1).minimize(fun, np.ones(3), max_iter=100)
    assert 1e-8 < np.abs(A @ loose.x).max() < 1e-1
    tight = LBFGS(tol=1e-300, gtol=0.0).minimize(fun, np.ones(3), max_iter=100)
    assert np.abs(tight.x).max() < 1e-8
    assert LBFGS(gtol=1e-3).config()["gtol"] == 1e-3 and "gtol" not in LBFGS().config()


def test_get_optimizer_by_name_and_unknown_names():
    assert isinstance(get_optimizer("adam", lr=0.01), Adam)
    assert get_optimizer("SGD", lr=0.5).lr == 0.5
    assert isinstance(get_optimizer("lbfgs"), LBFGS)
    with pytest.raises(UnknownNameError, match="adam, lbfgs, sgd"):
        get_optimizer("rmsprop")


def test_lbfgs_minimises_a_quadratic():
    A = np.diag([1.0, 10.0, 100.0])

    def fun(x):
        return 0.5 * x @ A @ x, A @ x

    result = LBFGS().minimize(fun, np.ones(3), max_iter=100)
    assert np.abs(result.x).max() < 1e-8
    assert result.success and result.nit < 100


def test_lbfgs_trains_a_network_far_below_adam_level():
    from mlplab import fit
    from mlplab.data import runge

    x = np.linspace(-1, 1, 64).reshape(-1, 1)
    net = MLP([1, 10, 1], activation="tanh", seed=0)
    start = net.loss(x, runge(x))
    hist = fit(net, x, runge(x), optimizer=LBFGS(), epochs=300, progress=False)
    assert hist.train_loss[-1] < 1e-3 * start
    assert hist.status in ("completed", "converged")
    assert hist.steps == hist.epochs and all(math.isnan(lr) for lr in hist.lr)


def test_lbfgs_that_converges_says_why():
    from mlplab import fit

    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    net = MLP([1, 1], activation="identity", seed=0)  # linear least squares: exact in a few
    hist = fit(net, x, 3 * x - 1, optimizer=LBFGS(), epochs=200, progress=False)
    assert hist.status == "converged" and hist.epochs < 200
    assert f"after {hist.epochs} iterations" in hist.message
    assert "CONVERGENCE" in hist.message  # scipy's reason


@pytest.mark.parametrize(
    ("spec", "epoch", "factor"),
    [
        ("constant", 50, 1.0),
        ("step:10,0.5", 25, 0.25),
        ("exponential:0.9", 2, 0.81),
        ("cosine", 50, 0.5),
        ("cosine:0.1", 100, 0.1),
    ],
)
def test_schedules(spec, epoch, factor):
    assert get_schedule(spec)(epoch, 100) == pytest.approx(factor)


def test_unknown_schedule():
    with pytest.raises(UnknownNameError, match="cosine"):
        get_schedule("linear")


@pytest.mark.parametrize("bad", ["0.1", True, None, 10**400])  # 10**400: float's OverflowError
def test_a_learning_rate_must_be_a_number(bad):
    with pytest.raises(ValueError, match="learning rate must be a finite number > 0, such as"):
        SGD(lr=bad)


def test_lbfgs_memory_is_a_whole_number_priced_before_scipy_allocates():
    with pytest.raises(ValueError, match="memory must be a whole number >= 1, got 2.5"):
        LBFGS(memory=2.5)
    # scipy would allocate 825 GiB of work arrays (MemoryError inside scipy)
    with pytest.raises(ValueError, match=r"LBFGS\(memory=100000\) on 3 parameters would alloc"):
        LBFGS(memory=100_000).minimize(lambda x: (float(x @ x), 2 * x), np.ones(3), max_iter=5)

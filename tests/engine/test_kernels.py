"""The compiled loops' optimiser step against :mod:`mlplab.optim`, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.engine.kernels import OPT_ADAM, OPT_MOMENTUM, OPT_NESTEROV, OPT_SGD, _step_row
from mlplab.optim import SGD, Adam

OPTIMISERS = {
    OPT_SGD: lambda: SGD(0.05),
    OPT_MOMENTUM: lambda: SGD(0.05, momentum=0.9),
    OPT_NESTEROV: lambda: SGD(0.05, momentum=0.9, nesterov=True),
    OPT_ADAM: lambda: Adam(1e-3),
}


def _hyper(opt) -> np.ndarray:
    """The ``hyper`` array the compiled loops take: momentum, beta1, beta2, eps."""
    return np.array([getattr(opt, "momentum", 0.0), getattr(opt, "beta1", 0.9),
                     getattr(opt, "beta2", 0.999), getattr(opt, "eps", 1e-8)])  # fmt: skip


def _steps(opt_code, dtype, split: bool, steps: int = 3):
    """``steps`` steps of the compiled step and of the optimiser on the same gradients; with
    ``split``, the compiled step takes each gradient as two parts' terms."""
    rng = np.random.default_rng(opt_code)
    p0 = rng.normal(size=257).astype(dtype)
    opt = OPTIMISERS[opt_code]()
    ours, ref = p0.copy(), p0.copy()
    m, v = np.zeros_like(p0), np.zeros_like(p0)
    for t in range(1, steps + 1):
        first, second = (rng.normal(size=p0.size).astype(dtype) for _ in range(2))
        g = first + second
        if split:
            _step_row(ours, first, m, v, opt.lr, opt_code, _hyper(opt), t, second)
        else:
            _step_row(ours, g, m, v, opt.lr, opt_code, _hyper(opt), t)
        opt.step(ref, g)
    return ours, ref


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("opt_code", sorted(OPTIMISERS))
def test_compiled_step_equals_the_optimiser_in_float64(opt_code, split):
    ours, ref = _steps(opt_code, np.float64, split)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("split", [False, True])
def test_compiled_sgd_step_computes_in_float32_as_numpy_does(split):
    ours, ref = _steps(OPT_SGD, np.float32, split)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)  # the rate rounded to float32, then p -= η g

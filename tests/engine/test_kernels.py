"""The small-network kernels' own pieces (their training is checked in test_fast_fit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.engine.kernels import epoch_order, permutation


@pytest.mark.parametrize("n", [0, 1, 2, 7, 2048, 5001])
def test_permutation_draws_numpys_permutation(n):
    for seed in range(5):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        assert np.array_equal(permutation(ours, n), numpys.permutation(n))
        # and leaves the generator where NumPy leaves it
        assert ours.integers(0, 1 << 40) == numpys.integers(0, 1 << 40)


def test_epoch_order_draws_as_fit_draws():
    ours, numpys = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(epoch_order(ours, 10, 4, 3, True), numpys.permutation(10))
    drawn = epoch_order(ours, 10, 4, 3, False)
    assert np.array_equal(drawn, numpys.integers(0, 10, size=(4, 3)).reshape(-1))

"""The compiled loop with BLAS products: training at saturation."""

from __future__ import annotations

import warnings

import numpy as np

from mlplab import MLP, SGD, fit


def test_training_at_saturation_warns_nothing_and_stays_finite():
    x = np.linspace(-1, 1, 200).reshape(-1, 1)
    net = MLP([1, 20, 20, 1], "sigmoid", seed=0)
    net.weights[0][...] = np.linspace(-2e4, 2e4, 20).reshape(-1, 1)  # z up to ±2e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = fit(net, x, np.cos(x), optimizer=SGD(0.01), epochs=3, batch_size=50, progress=False)
    assert h.status == "completed" and np.isfinite(net.params).all()
    assert all(np.isfinite(h.train_loss))

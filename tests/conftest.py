"""Shared fixtures and helpers: random data for gradient checks, targets that suit each loss."""

from __future__ import annotations

import numpy as np
import pytest

SMOOTH = ["sigmoid", "tanh", "elu", "softplus", "gelu", "sin", "identity"]
LOSSES = ["mse", "half_sse", "cross_entropy", "bce", "bce_logits"]


def targets_for(loss: str, n: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Targets that suit ``loss``: labels for cross-entropy, probabilities for BCE."""
    if loss == "cross_entropy":
        return rng.integers(0, n_out, size=n)
    if loss in ("bce", "bce_logits"):
        return rng.uniform(size=(n, n_out))
    return rng.standard_normal((n, n_out))


def output_for(loss: str) -> str:
    """The output activation a loss expects (probabilities for BCE)."""
    return "sigmoid" if loss == "bce" else "identity"


@pytest.fixture
def no_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any forward pass or backprop fails the test (a check refused before it runs for
    minutes)."""
    from mlplab import MLP

    def refuse(*args, **kwargs):
        raise AssertionError("the check made a pass before refusing")

    monkeypatch.setattr(MLP, "__call__", refuse)
    monkeypatch.setattr(MLP, "loss_gradient", refuse)


def keep_saved_figures(monkeypatch: pytest.MonkeyPatch, module: object) -> dict:
    """Figures that ``module`` saves with its ``save_figure``, kept by file name instead of
    written as PNG files."""
    kept: dict = {}

    def keep(fig, path, dpi=120):
        kept[path.name] = fig
        return path

    monkeypatch.setattr(module, "save_figure", keep)
    return kept


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


try:
    import torch
except ImportError:  # the test extra installs it; without it the parity tests are skipped
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

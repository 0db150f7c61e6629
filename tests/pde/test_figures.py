"""mlplab.pde.figures: what the figures of a solved problem show, and where."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.pde import figures
from tests.conftest import keep_saved_figures


@pytest.fixture
def saved(monkeypatch):
    """The figures saved, by file name, instead of PNG files."""
    return keep_saved_figures(monkeypatch, figures)


@pytest.mark.parametrize("phases", [[("LM", 60)], [("Adam", 300), ("L-BFGS", 0), ("LM", 1200)]])
def test_each_phase_is_named_inside_the_plot_clear_of_the_loss_curve(saved, tmp_path, phases):
    steps = sum(n for _, n in phases)
    loss = list(10.0 * np.exp(-np.arange(steps) / (steps / 12)) + 1e-8)
    figures.losses(tmp_path / "loss.png", loss, phases)
    fig = saved["loss.png"]
    (ax,) = fig.axes
    fig.canvas.draw()
    frame = ax.get_window_extent()
    (curve,) = [line for line in ax.get_lines() if len(line.get_xdata()) == steps]
    xy = ax.transData.transform(np.column_stack([curve.get_xdata(), curve.get_ydata()]))
    labels = [t for t in ax.texts if t.get_text().strip()]
    assert [t.get_text().strip() for t in labels] == [name for name, n in phases if n]
    for label in labels:
        box = label.get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
        assert box.y1 <= frame.y1
        under = xy[(xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)]
        assert len(under) and under[:, 1].min() > box.y1, label.get_text()  # below the curve

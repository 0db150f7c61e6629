"""The figures of a training run: the fit, the error and ∇a^[L](x) panels, over the data."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab import plots
from mlplab.config import TrainConfig
from mlplab.data import get_target, paper_example, target_derivative
from mlplab.train_run import make_data, train_run
from tests.conftest import keep_saved_figures


@pytest.fixture
def saved(monkeypatch):
    """The figures saved, by file name, instead of PNG files."""
    return keep_saved_figures(monkeypatch, plots)


def legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_fit_error_and_input_gradient_panels_cover_the_data(tmp_path, saved):
    cfg = TrainConfig(target="cos4", sampling="normal", hidden=[4], epochs=2, n_train=60, n_val=5)
    result = train_run(cfg, tmp_path, progress=False)
    fit, error, gradient = saved["fit.png"].axes
    x = fit.lines[1].get_xdata()  # the training points
    assert x.min() < -1.5 and x.max() > 1.5  # N(0, 1): well beyond the domain (-1, 1)
    grid = fit.lines[0].get_xdata()
    assert grid.min() == x.min() and grid.max() == x.max()
    net = result.net
    truth = get_target("cos4")(grid.reshape(-1, 1))
    np.testing.assert_allclose(error.lines[1].get_ydata(), np.ravel(net(grid) - truth))
    assert legend(gradient) == ["f′(x), symbolic", r"network $\nabla a^{[L]}(x)$"]
    np.testing.assert_allclose(gradient.lines[0].get_ydata(), target_derivative("cos4")(grid))
    np.testing.assert_allclose(gradient.lines[1].get_ydata(), np.ravel(net.input_gradient(grid)))
    assert "loss.png" in saved


def test_a_target_without_a_derivative_says_so(tmp_path, saved):
    cfg = TrainConfig(target="step", hidden=[3], epochs=1, n_train=20, n_val=5)
    train_run(cfg, tmp_path, progress=False)
    gradient = saved["fit.png"].axes[2]
    assert "f′(x): none (a jump)" in legend(gradient)
    assert len([line for line in gradient.lines if line.get_xdata().size]) == 1


def test_a_data_file_plots_residuals_and_the_network_gradient(tmp_path, saved):
    data = tmp_path / "d.csv"
    xs = np.linspace(2.0, 5.0, 12)
    data.write_text("".join(f"{a},{a * a}\n" for a in xs))
    cfg = TrainConfig(data=str(data), hidden=[3], epochs=1, val_fraction=0.25)
    train_run(cfg, tmp_path / "run", progress=False)
    fit, error, gradient = saved["fit.png"].axes
    grid = fit.lines[-1].get_xdata()
    assert grid.min() >= 2.0 and grid.max() <= 5.0
    assert legend(error) == [r"$a^{[L]}(x_i) - y_i$ at the training points"]
    assert legend(gradient) == [r"network $\nabla a^{[L]}(x)$"]


def test_the_papers_data_set_brings_the_papers_network_and_is_not_split():
    cfg = TrainConfig.from_dict({"target": "higham"})
    assert (cfg.data, cfg.target) == ("higham", TrainConfig().target)
    assert cfg.hidden == [2, 3] and cfg.activation == cfg.output_activation == "sigmoid"
    assert (cfg.loss, cfg.optimizer, cfg.lr, cfg.batch_size) == ("half_sse", "sgd", 0.05, 1)
    assert cfg.batch_sampling == "replacement" and cfg.epochs * 10 == 10**6
    mine = TrainConfig.from_dict({"data": "higham", "lr": 0.5, "hidden": [4], "activation": "tanh"})
    assert mine.lr == 0.5 and mine.hidden == [4] and mine.loss == "half_sse"
    assert mine.activation == "tanh"  # given, though it is the general default: kept
    x, y, x_val, y_val = make_data(cfg)
    assert x.shape == (10, 2) and y.shape == (10, 2) and len(x_val) == len(y_val) == 0
    asked = TrainConfig.from_dict({"data": "higham", "val_fraction": 0.2})
    assert [len(a) for a in make_data(asked)] == [8, 8, 2, 2]
    assert TrainConfig.from_dict({"target": "runge"}) == TrainConfig(target="runge")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # config.json reads back as the run


def test_two_dimensional_classes_get_regions_and_accuracy(tmp_path, saved):
    cfg = TrainConfig.from_dict({"data": "higham", "epochs": 200})
    result = train_run(cfg, tmp_path, progress=False)
    assert result.metrics["val_accuracy"] is None and result.metrics["val_mse"] is None
    X, Y = paper_example()
    accuracy = np.mean(result.net(X).argmax(axis=1) == Y.argmax(axis=1))
    assert result.metrics["train_accuracy"] == accuracy
    (ax,) = saved["regions.png"].axes
    assert legend(ax) == ["class 0 (5 points)", "class 1 (5 points)"]
    assert ax.get_title().endswith(f"{round(accuracy * 10)}/10 points in their class's region")
    assert ax.get_xlim() == (0.0, 1.0) and "fit.png" not in saved


def test_regions_show_each_class_where_the_classifier_puts_it():
    _fig, (ax,) = plots.new_figure()
    X = np.array([[-2.0, 0.0], [2.0, 0.0], [0.5, 3.0]])
    labels = np.array([0, 1, 1])
    accuracy = plots.plot_regions(ax, lambda P: (P[:, 0] > 0).astype(int), X, labels, 2)
    assert accuracy == 1.0
    assert ax.get_xlim()[0] < -2.0 and ax.get_ylim()[1] > 3.0  # the points, with a margin
    assert plots.plot_regions(ax, lambda P: np.zeros(len(P), int), X, labels, 2) == 1 / 3


def test_regions_name_the_classes_when_told():
    _fig, (ax,) = plots.new_figure()
    X, labels = np.array([[0.2, 0.2], [0.8, 0.8]]), np.array([0, 1])
    plots.plot_regions(ax, lambda P: (P[:, 0] > 0.5).astype(int), X, labels, 2, names=["A", "B"])
    assert legend(ax) == ["A (1 point)", "B (1 point)"]


def test_a_derivative_too_large_to_draw_leaves_the_figure_whole(tmp_path):
    # f'(±1) = 1e308: matplotlib's ticks overflowed, and the finished run failed
    cfg = TrainConfig(target="x**1e308", hidden=[3], epochs=2, n_train=8, n_val=4)
    train_run(cfg, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "fit.png").read_bytes()[:4] == b"\x89PNG"


def test_data_too_wide_for_a_grid_are_plotted_where_they_can_be(tmp_path, saved):
    data = tmp_path / "d.csv"
    data.write_text("-1e308,1\n0,2\n0.5,0\n1e308,1\n")  # the grid's width overflowed to inf
    cfg = TrainConfig(data=str(data), hidden=[3], epochs=1, val_fraction=0)
    train_run(cfg, tmp_path / "run", progress=False)
    fit = saved["fit.png"].axes[0]
    grid = fit.lines[-1].get_xdata()
    assert np.all(np.isfinite(grid)) and grid[0] == -plots.LARGEST_DRAWN
    assert legend(fit)[0] == "training points (N = 4) (2 of 4 not drawn: too large or infinite)"

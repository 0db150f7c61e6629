import numpy as np

from mlplab import plots


def test_fit_and_loss_figures_are_png(tmp_path):
    x = np.linspace(-1, 1, 50)
    fig, (ax,) = plots.new_figure()
    plots.plot_fit(x, np.sin(x), np.sin(x) + 0.01, x[::5], np.sin(x[::5]), ax=ax)
    path = plots.save_figure(fig, tmp_path / "fit.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
    assert next(t.get_text() for t in ax.get_legend().get_texts()) == "truth f(x)"
    fig, (ax,) = plots.new_figure()
    plots.plot_losses([1.0, 0.1, 0.01], [2.0, 0.2, 0.03], ax=ax)
    assert ax.get_yscale() == "log"
    assert plots.save_figure(fig, tmp_path / "loss.png").stat().st_size > 10_000


def test_band_draws_median_and_range():
    _fig, (ax,) = plots.new_figure()
    runs = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    plots.band(ax, np.array([0.0, 1.0]), runs, "runs")
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3.0, 4.0])
    assert len(ax.collections) == 1


def test_core_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, mlplab; mlplab.MLP([1, 2, 1]); print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plots_and_transforms_load_on_first_use():
    import subprocess
    import sys

    code = (
        "import sys, mlplab; before = 'matplotlib' in sys.modules; "
        "mlplab.plots.new_figure; mlplab.transforms; mlplab.exercise.make_exercise; "
        "print(before, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_input_gradient_legend_names_only_what_is_drawn():
    x = np.linspace(-1.0, 1.0, 5)

    def legend(ax):
        return [t.get_text() for t in ax.get_legend().get_texts()]

    network = r"network $\nabla a^{[L]}(x)$"
    assert legend(plots.plot_input_gradient(x, 2 * x)) == [network]
    assert legend(plots.plot_input_gradient(x, 2 * x, 2 * x)) == ["f′(x)", network]
    note = plots.plot_input_gradient(x, 2 * x, derivative_label="f′(x): none (a jump)")
    assert legend(note) == ["f′(x): none (a jump)", network]
    low, high = note.get_ylim()
    assert high - 2.0 >= 0.25 * (high - low) - 1e-12  # the legend's band above the data


# --- values a figure cannot draw --------------------------------------------------------------

import pytest  # noqa: E402

_BAD = [1e308, -1e308, np.inf, np.nan]


def labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("bad", _BAD)
def test_a_curve_with_values_too_large_to_draw_leaves_them_out_and_says_so(tmp_path, bad):
    x = np.linspace(-1.0, 1.0, 11)
    y = x.copy()
    y[3] = bad  # 1e308: matplotlib's tick arithmetic overflows (the figure failed to save)
    note = "(1 of 11 not drawn: too large or infinite)"
    for draw in (
        lambda ax: plots.plot_fit(x, y, x, x, y, ax=ax),
        lambda ax: plots.plot_error(x, y, x, y, ax=ax),
        lambda ax: plots.plot_input_gradient(x, y, y, ax=ax),
        lambda ax: plots.plot_losses(np.abs(y) + 1, np.abs(y) + 2, ax=ax),
    ):
        fig, (ax,) = plots.new_figure()
        draw(ax)
        assert plots.save_figure(fig, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
        gaps = [
            np.flatnonzero(~np.isfinite(np.asarray(line.get_ydata(), float))).tolist()
            for line in ax.get_lines()
            if np.size(line.get_xdata()) == x.size
        ]
        assert [3] in gaps and set(map(tuple, gaps)) <= {(), (3,)}  # a NaN in place of each
        assert not any(np.isinf(line.get_ydata()).any() for line in ax.get_lines())
        if not np.isnan(bad):  # a NaN is a missing value: no note
            assert any(note in text for text in labels(ax))
    _fig, (ax,) = plots.new_figure()
    plots.plot_fit(x, y, x, x, y, ax=ax)
    assert labels(ax)[0] == ("truth f(x)" if np.isnan(bad) else f"truth f(x) {note}")
    assert ax.get_xlim()[0] < -1.0  # the whole of x
    fig, (ax,) = plots.new_figure()
    plots.band(ax, x, np.vstack([y, y + 1]), "runs")  # a column of nothing drawn: left out
    assert ax.lines[0].get_xdata().tolist() == np.delete(x, 3).tolist()
    note = "" if np.isnan(bad) else " (2 of 22 not drawn: too large or infinite)"
    assert ax.lines[0].get_label() == f"runs{note}"
    plots.save_figure(fig, tmp_path / "band.png")


def test_a_panel_with_nothing_to_draw_says_so(tmp_path):
    x = np.linspace(-1.0, 1.0, 5)
    fig, (ax,) = plots.new_figure()
    plots.plot_error(x, np.full(5, np.inf), x, np.full(5, 1e308), ax=ax)
    assert [t.get_text() for t in ax.texts] == [
        "nothing to draw:\nevery value is too large or not finite"
    ]
    assert ax.get_xlim()[0] < -1.0 < 1.0 < ax.get_xlim()[1]
    plots.save_figure(fig, tmp_path / "error.png")
    _fig, (ax,) = plots.new_figure()
    plots.plot_error(x, x, x, x, ax=ax)
    assert not ax.texts


@pytest.mark.parametrize(("low", "high"), [(1e-300, 1e300), (1.0, 1e300), (5e-321, 1.0)])
def test_a_loss_too_wide_for_a_log_axis_is_drawn_on_a_linear_one(tmp_path, low, high):
    fig, (ax,) = plots.new_figure()
    plots.plot_losses([high, low], [high, low], ax=ax)
    assert ax.get_yscale() == "linear"
    plots.save_figure(fig, tmp_path / "loss.png")  # the log axis's ticks overflowed
    _fig, (ax,) = plots.new_figure()
    plots.plot_losses([1e10, 1e-30], ax=ax)
    assert ax.get_yscale() == "log"
    _fig, (ax,) = plots.new_figure()
    plots.plot_losses([1.0, 0.5], [high, low], ax=ax)  # the validation loss counts too
    assert ax.get_yscale() == "linear"


def test_regions_leave_out_points_too_large_to_draw(tmp_path):
    fig, (ax,) = plots.new_figure()
    X = np.array([[0.2, 0.3], [1e308, 0.5], [0.7, -1e308], [0.9, 0.1]])
    accuracy = plots.plot_regions(
        ax, lambda P: (P[:, 0] > 0.5).astype(int), X, np.array([0, 1, 1, 0]), 2
    )
    assert accuracy == 0.75
    assert ax.get_xlim() == (0.0, 1.0)  # the points that can be drawn
    assert labels(ax) == [
        "class 0 (2 points)",
        "class 1 (2 points) (2 of 2 not drawn: too large or infinite)",
    ]
    plots.save_figure(fig, tmp_path / "regions.png")


def test_a_log_axis_of_too_many_decades_is_saved_linear(tmp_path):
    # a study whose cost grew to 1e278 without overflowing: matplotlib's log ticks overflowed
    # ("cannot convert float infinity to integer") and the study failed at its figure
    fig, (ax,) = plots.new_figure()
    ax.plot([1, 2, 3], [1e-2, 1e100, 1e278])
    ax.set_yscale("log")
    ax.set_ylabel("MSE")
    assert plots.save_figure(fig, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert ax.get_yscale() == "linear"
    assert ax.get_ylabel() == "MSE (linear: too many decades for a log axis)"
    fig, (ax,) = plots.new_figure()
    ax.plot([1, 2, 3], [1e-2, 1.0, 1e5])
    ax.set_yscale("log")
    plots.save_figure(fig, tmp_path / "g.png")
    assert ax.get_yscale() == "log"  # a usual range keeps its log axis

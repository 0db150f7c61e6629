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

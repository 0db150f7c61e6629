"""`mlplab predict` on the model of a PDE run: the solution u, not the network's a^[L]."""

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlplab import MLP
from mlplab.cli import main
from mlplab.errors import MlplabError, ModelFileError
from mlplab.io import model_meta, save_model
from mlplab.pde.problems import BUILTINS, load_model
from tests.hostile import FUZZ, outcome


def _predict(capsys, path, *args: str) -> tuple[list[str], np.ndarray]:
    """The header and the numbers ``mlplab predict`` prints."""
    assert main(["predict", str(path), *args]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    return header.split(","), np.array([[float(v) for v in r.split(",")] for r in rows])


def _model(tmp_path, name: str, seed: int = 0):
    """A network of the shape the problem ``name`` takes, saved as a PDE run saves it."""
    net = MLP([BUILTINS[name].problem.domain.dim, 6, 1], seed=seed)
    return net, save_model(net, tmp_path / f"{name}.npz", pde_problem=name)


def test_predict_on_a_pde_run_prints_u_which_meets_the_boundary_condition(tmp_path, capsys):
    out = tmp_path / "p1"
    assert main(["pde", "run", "poisson1d", "--quick", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert model_meta(out / "model.npz")["pde_problem"] == "poisson1d"
    header, rows = _predict(capsys, out / "model.npz", "--x", "-1", "0.5", "1")
    assert header == ["x", "u"]
    assert np.abs(rows[[0, 2], 1]).max() <= 1e-15  # u(±1) = 0: the transform's (1 − x²)
    assert abs(rows[1, 1] - np.sin(np.pi / 2)) < 0.1  # near the exact solution sin(πx)


# what each problem's transform fixes, whatever the network: points and u there
PINNED = {
    "poisson1d": ([[-1.0], [1.0]], [0.0, 0.0]),
    "poisson2d": ([[0.0, 0.3], [1.0, 0.7], [0.4, 0.0], [0.6, 1.0]], [0.0] * 4),
    "burgers": ([[0.0, -0.5], [0.0, 0.25], [0.3, -1.0], [0.8, 1.0]],
                [np.sin(np.pi / 2), -np.sin(np.pi / 4), 0.0, 0.0]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BUILTINS))
def test_predict_gives_the_problems_own_u_and_its_gradient(tmp_path, capsys, name):
    assert set(PINNED) == set(BUILTINS)
    problem = BUILTINS[name].problem
    net, path = _model(tmp_path, name)
    X = np.concatenate([PINNED[name][0], problem.domain.sample(5, "uniform", seed=1)])
    header, rows = _predict(capsys, path, "--x", *(repr(float(v)) for v in X.ravel()), "--gradient")
    names = problem.domain.names  # the inputs in the problem's order: t, x for burgers
    assert header == [*names, "u", *(f"du/d{n}" for n in names)]
    d = len(names)
    np.testing.assert_array_equal(rows[:, :d], X)
    np.testing.assert_allclose(rows[:, d], problem.solution(net, X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rows[: len(PINNED[name][1]), d], PINNED[name][1], atol=1e-15)
    h = 1e-6
    central = [
        (problem.solution(net, X + h * e) - problem.solution(net, X - h * e)) / (2 * h)
        for e in np.eye(d)
    ]
    np.testing.assert_allclose(rows[:, d + 1 :], np.stack(central, 1), rtol=0, atol=1e-7)


def test_a_model_without_a_problem_still_predicts_its_network_output(tmp_path, capsys):
    # a model written before pde_problem was recorded (or by net.save) loads as it did
    net = MLP([2, 4, 1], seed=3)
    path = net.save(tmp_path / "old.npz")
    assert "pde_problem" not in model_meta(path)
    assert load_model(path)[1] is None
    header, rows = _predict(capsys, path, "--x", "0.5", "1", "--gradient")
    assert header == ["x1", "x2", "y1", "dy1/dx1", "dy1/dx2"]
    assert rows[0, 2] == net(np.array([[0.5, 1.0]]))[0, 0]


def test_wrong_number_of_inputs_names_the_problems_variables(tmp_path, capsys):
    _, path = _model(tmp_path, "burgers")
    assert main(["predict", str(path), "--x", "0", "0.5", "1"]) == 2
    assert "takes 2 inputs per point (t, x); got 3 numbers" in capsys.readouterr().err


def _rewrite_problem(path, value) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["pde_problem"] = value
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("heat", "holds the network a^[L] of the PDE problem 'heat', whose solution u this"),
        (["poisson1d"], "'pde_problem' must be the name of a problem"),
        ("", "'pde_problem' must be the name of a problem"),
        ("\x1b[31mred", r"got '\x1b[31mred'"),  # a terminal's escape, shown escaped
        ("poisson2d", "records the PDE problem 'poisson2d', of inputs x, y and one output, but"),
    ],
)
def test_a_problem_predict_cannot_apply_is_refused_in_one_line(tmp_path, capsys, value, message):
    _, path = _model(tmp_path, "poisson1d")
    _rewrite_problem(path, value)
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_model(path)
    assert main(["predict", str(path), "--x", "0.5"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@FUZZ
@given(st.text(max_size=20) | st.integers() | st.none() | st.lists(st.text(max_size=3)))
def test_any_recorded_problem_gives_a_model_or_mlplabs_error(tmp_path, value):
    _, path = _model(tmp_path, "poisson1d")
    _rewrite_problem(path, value)
    result = outcome(lambda: load_model(path))
    assert isinstance(result, MlplabError) or result[1] is BUILTINS["poisson1d"].problem


def test_diagnose_on_a_pde_model_says_it_shows_the_network_not_u(tmp_path, capsys):
    _, path = _model(tmp_path, "poisson1d")
    assert main(["diagnose", str(path), "--target", "sin"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "not the solution u of the PDE problem poisson1d (mlplab predict gives u)" in text
    _rewrite_problem(path, "poisson2d")  # a problem of two inputs, for a network of one
    assert main(["diagnose", str(path), "--target", "sin"]) == 2
    assert "records the PDE problem 'poisson2d'" in capsys.readouterr().err

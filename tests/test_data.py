import numpy as np
import pytest

from mlplab.data import (
    ExpressionError,
    get_target,
    load_xy,
    parse_expression,
    sample,
    target_derivative,
)

x = np.linspace(-2, 2, 9)


def test_registered_targets():
    np.testing.assert_allclose(get_target("runge")(x), 1 / (1 + 25 * x**2))
    np.testing.assert_allclose(get_target("cos4")(x), (x - 2) * np.cos(4 * x))
    np.testing.assert_allclose(get_target("monomial:3")(x), x**3)
    np.testing.assert_allclose(get_target("sin")(x), np.sin(np.pi * x))


def test_expressions_are_evaluated_with_numpy():
    f = parse_expression("sin(3*x) + x**2 - exp(-x)/2 + pi*abs(x)")
    np.testing.assert_allclose(f(x), np.sin(3 * x) + x**2 - np.exp(-x) / 2 + np.pi * np.abs(x))
    assert get_target("2 + 0*x")(x).shape == x.shape
    assert get_target("3")(x).shape == x.shape


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hacked')",
        "x.__class__",
        "open('/etc/passwd')",
        "[x for x in ()]",
        "lambda: 1",
        "np.sin(x)",
        "sin(x, 2)",
        "y + 1",
        "'a' * 3",
        "x if x else 1",
        "(" * 500 + "x" + ")" * 500,
    ],
)
def test_unsafe_or_invalid_expressions_are_refused(text):
    with pytest.raises(ExpressionError):
        get_target(text)


def test_malicious_expression_message_is_clear():
    with pytest.raises(ExpressionError, match="not allowed|not an allowed function") as err:
        get_target("__import__('os')")
    assert "runge" in str(err.value)


def test_overflowing_expression_gives_inf_not_an_exception():
    assert np.isinf(get_target("10.0**400 + 0*x")(x)).all()


def test_sampling():
    g = sample(5, (-1, 1), "grid")
    np.testing.assert_allclose(g.ravel(), [-1, -0.5, 0, 0.5, 1])
    u = sample(1000, (2, 3), "uniform", rng=0)
    assert u.shape == (1000, 1) and u.min() >= 2 and u.max() <= 3
    n = sample(20000, (-1, 1), "normal", rng=0)
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03
    np.testing.assert_array_equal(sample(4, rng=1), sample(4, rng=1))


@pytest.mark.parametrize(
    ("args", "match"),
    [((0,), ">= 1"), ((3, (1, 1)), "low < high"), ((3, (0, 1), "sobol"), "grid, uniform, normal")],
)
def test_bad_sampling(args, match):
    with pytest.raises(ValueError, match=match):
        sample(*args)


def test_load_csv_with_and_without_header(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("x,y\n0,1\n0.5,2\n1,3\n")
    xs, ys = load_xy(p)
    np.testing.assert_array_equal(xs.ravel(), [0, 0.5, 1])
    np.testing.assert_array_equal(ys.ravel(), [1, 2, 3])
    p.write_text("1,2,3\n4,5,6\n")
    xs, ys = load_xy(p)
    assert xs.shape == (2, 2) and ys.shape == (2, 1)


def test_load_npz(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.arange(4.0), y=np.arange(4.0) ** 2)
    xs, ys = load_xy(p)
    assert xs.shape == (4, 1) and ys[3, 0] == 9


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("x,y\n1,abc\n", "non-numeric"),
        ("", "no data rows"),
        ("1,2\n3\n", "non-numeric|columns"),
        ("1\n2\n", "two columns"),
        ("1,nan\n", "NaN or inf"),
    ],
)
def test_bad_csv_files(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(ValueError, match=match):
        load_xy(p)


def test_missing_and_damaged_files(tmp_path):
    with pytest.raises(ValueError, match="no data file"):
        load_xy(tmp_path / "nope.csv")
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        load_xy(p)


def test_load_x_for_predictions(tmp_path):
    from mlplab.data import load_x

    p = tmp_path / "x.npz"
    np.savez(p, x=np.arange(3.0))
    assert load_x(p, 1).shape == (3, 1)
    c = tmp_path / "x.csv"
    c.write_text("x1,x2\n1,2\n3,4\n")
    assert load_x(c, 2).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="2 column\\(s\\) but the model takes 1 input"):
        load_x(c, 1)


def test_infinite_monomial_power():
    with pytest.raises(ExpressionError, match="whole power"):
        get_target("monomial:inf")


# --- derivatives of targets -------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "sin(3*x) + x**2",
        "exp(-x**2) / (1 + x)",
        "x**x",
        "2**x - x**0.5",
        "sqrt(2 + x) * log(3 + x)",
        "arctan(x) - arcsin(x/2) + arccos(x/3)",
        "tanh(sinh(x)) * cosh(x) - tan(x)",
        "-x + abs(x - 2) + sign(x + 5)",
        "pi * e",
        "monomial:3",
        "monomial:0",
    ],
)
def test_formula_derivatives_match_central_differences(spec):
    x = np.linspace(0.05, 0.95, 19).reshape(-1, 1)
    f, df = get_target(spec), target_derivative(spec)
    h = 1e-6
    central = (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(df(x), central, rtol=1e-7, atol=1e-8)
    assert df(x).shape == x.shape


def test_registered_targets_have_their_closed_form_derivatives():
    x = np.linspace(-3, 3, 101)
    closed = {
        "runge": -50 * x / (1 + 25 * x**2) ** 2,
        "cos4": np.cos(4 * x) - 4 * (x - 2) * np.sin(4 * x),
        "sin": np.pi * np.cos(np.pi * x),
        "abs": np.sign(x),
    }
    for name, expected in closed.items():
        np.testing.assert_allclose(target_derivative(name)(x), expected, rtol=1e-13, atol=1e-14)
    assert target_derivative("step") is None


def test_a_derivative_of_a_bad_formula_is_refused():
    with pytest.raises(ExpressionError, match="not an allowed function"):
        target_derivative("__import__('os')")

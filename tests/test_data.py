import re

import numpy as np
import pytest

from mlplab.data import (
    ExpressionError,
    get_target,
    load_xy,
    parse_expression,
    sample,
    target_derivative,
    target_values,
)
from mlplab.errors import DataFileError, SizeError

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


@pytest.mark.parametrize("text", ["pi**pi**pi**pi*x", "e**pi**pi**pi + x", "-(pi*e)**(e**pi)**e"])
def test_constants_alone_overflow_to_inf_as_float64_does(text):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and quietly
        assert not np.isfinite(get_target(text)(x)).any()
        assert target_derivative(text)(x).shape == x.shape
    with pytest.raises(ExpressionError, match=rf"target '{re.escape(text)}' is -?inf at x = -2 "):
        target_values(text, x)


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
        ("x,y\n1,abc\n", "line 2: 'abc' is not a number"),
        ("", "no data rows"),
        ("1,2\n3\n", "line 2 has 1 values but line 1 has 2"),
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
    with pytest.raises(DataFileError, match="is not an .npz archive"):
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


def test_a_monomial_power_that_is_not_a_number_says_what_to_write():
    with pytest.raises(ExpressionError, match="needs a whole power p >= 0 after the colon"):
        get_target("monomial:abc")


# --- hostile input: every reader returns a valid result or raises mlplab's own error ---------

import io  # noqa: E402
import zipfile  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlplab.data import MAX_DEPTH  # noqa: E402
from mlplab.errors import MlplabError  # noqa: E402
from tests.hostile import FUZZ, outcome  # noqa: E402

_EXPRESSION_PIECES = st.sampled_from(
    ["x", "pi", "e", "1", "0", "2.5", "1e308", "9" * 500, "1e400", "(", ")", "+", "-", "*", "/",
     "**", "sin(", "exp(", "log(", "sqrt(", "abs(", "x.real", "[", "]", "'a'", ",", " ", "lambda",
     "__import__(", "0x1", "1j", "True", "not ", "if", "@", ";"]
)  # fmt: skip


@FUZZ
@given(st.one_of(st.text(max_size=300), st.lists(_EXPRESSION_PIECES, max_size=400).map("".join)))
def test_expression_parser_on_hostile_text(text):
    result = outcome(lambda: parse_expression(text))
    if not isinstance(result, MlplabError):
        points = np.linspace(-1, 1, 7)
        values = outcome(lambda: target_values(text, points, result))
        if not isinstance(values, MlplabError):
            assert values.shape == points.shape and np.all(np.isfinite(values))


def _called_from_deep(frames: int, f):
    """``f()`` called ``frames`` Python frames deep (a notebook's or a worker's stack)."""
    return f() if frames == 0 else _called_from_deep(frames - 1, f)


def test_expression_depth_and_literals_are_bounded():
    assert parse_expression("sin(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)(np.zeros(1)) == 0
    # a polynomial of 100 terms, and the deepest derivatives, evaluate under 500 frames
    x = np.full(3, 0.5)
    polynomial = "+".join(f"x**{k}" for k in range(100))  # 1 + x + ... + x^99
    for text in (polynomial, "x/" * (MAX_DEPTH - 1) + "x", "x**" * (MAX_DEPTH - 1) + "x"):
        f, df = parse_expression(text), target_derivative(text)
        assert np.all(np.isfinite(_called_from_deep(500, lambda f=f, df=df: f(x) + df(x))))
    assert target_derivative(polynomial)(np.ones(1))[0] == sum(range(100))
    for text in ("sin(" * 400 + "x" + ")" * 400, "-" * 999 + "x", "2**" * 300 + "x", "9" * 400):
        with pytest.raises(ExpressionError):
            parse_expression(text)
    with pytest.raises(ExpressionError, match="not a finite float64"):
        parse_expression("1e400 * x")


def _check_table(result, path):
    if isinstance(result, MlplabError):
        assert str(path) in str(result) or "points" in str(result)
        return
    x, y = result
    assert x.ndim == y.ndim == 2 and len(x) == len(y) >= 1
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))


_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["x", "y", "", " ", "1e400", "1+2j", "0x10", "\ufeff1", '"1"', "nan"]),
    st.text(max_size=5),
)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(st.lists(_CELLS, max_size=4), max_size=8).map(
            lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
        ),
    ),
    st.booleans(),
)
def test_csv_reader_on_hostile_bytes(tmp_path, data, bom):
    path = tmp_path / "hostile.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    _check_table(outcome(lambda: load_xy(path)), path)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_header(shape, descr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


_VALID_NPZ = _npz_bytes({"x": np.linspace(0, 1, 5), "y": np.arange(5.0)})


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.tuples(st.integers(0, len(_VALID_NPZ) - 1), st.integers(0, 255)), max_size=8
        ).map(
            lambda edits: bytes(
                b if i not in dict(edits) else dict(edits)[i] for i, b in enumerate(_VALID_NPZ)
            )
        ),
    )
)
def test_npz_reader_on_hostile_bytes(tmp_path, data):
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    _check_table(outcome(lambda: load_xy(path)), path)


@FUZZ
@given(
    st.lists(st.integers(0, 2**62), min_size=0, max_size=3).map(tuple),
    st.sampled_from(["<f8", "<f4", "<i8", "|b1", "<c16", "<U3", "|O", "|V8", "<f2", ">f8"]),
    st.binary(max_size=64),
    st.sampled_from(["x", "X"]),
)
def test_npz_reader_on_declared_shapes(tmp_path, shape, descr, payload, name):
    path = tmp_path / "declared.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}.npy", _npy_header(shape, descr) + payload)
        z.writestr("y.npy", _npy_header(shape, descr) + payload)
    _check_table(outcome(lambda: load_xy(path)), path)


def test_csv_reading_rules(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n3,4\n")  # a byte-order mark before the header
    x, y = load_xy(p)
    assert x[:, 0].tolist() == [1, 3] and y[:, 0].tolist() == [2, 4]
    p.write_text("1,2\n3,4\n")  # no header: both rows are data
    assert load_xy(p)[0][:, 0].tolist() == [1, 3]
    p.write_text("0.1,0.2x\n0.3,0.4\n")  # a typo in the first row is not a header
    with pytest.raises(DataFileError, match="line 1: '0.2x' is not a number"):
        load_xy(p)
    p.write_text("x,y\n1,2\n\n3,4,5\n")
    with pytest.raises(DataFileError, match="line 4 has 3 values but line 2 has 2"):
        load_xy(p)
    p.write_text("x,y\n1,2+1j\n")
    with pytest.raises(DataFileError, match="line 2: '2\\+1j' is not a number"):
        load_xy(p)


def test_npz_keys_and_values_are_checked(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.ones(3), X=np.ones(3), y=np.ones(3))
    with pytest.raises(DataFileError, match="holds both 'X' and 'x'"):
        load_xy(p)
    np.savez(p, x=np.ones(3) * (1 + 1j), y=np.ones(3))
    with pytest.raises(DataFileError, match="found complex values"):
        load_xy(p)
    np.savez(p, x=np.zeros(0), y=np.zeros(0))
    with pytest.raises(DataFileError, match="N >= 1"):
        load_xy(p)
    p.write_text("x,y\n1,2\n")  # a CSV renamed .npz: mlplab's message, never NumPy's pickle advice
    with pytest.raises(DataFileError, match="is not an .npz archive") as info:
        load_xy(p)
    assert "pickle" not in str(info.value)


def test_declared_shape_is_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x.npy", _npy_header((10**6, 10**6), "<f8") + b"\0" * 8)
        z.writestr("y.npy", _npy_header((10**6, 10**6), "<f8") + b"\0" * 8)
    with pytest.raises(
        SizeError, match=r"declared shape \(1000000, 1000000\) would allocate 7.28 TiB"
    ):
        load_xy(p)


def test_sample_sizes_are_priced(monkeypatch):
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    assert sample(1000).shape == (1000, 1)
    with pytest.raises(SizeError, match=r"10000000 points .* would allocate 153 MiB"):
        sample(10**7)
    with pytest.raises(MlplabError, match="whole number"):
        sample(2.5)


def test_target_values_name_the_point():
    with pytest.raises(ExpressionError, match=r"target 'log\(x\)' is nan at x = -1"):
        target_values("log(x)", np.linspace(-1, 1, 5))
    assert target_values("x**2", np.ones(3)).tolist() == [1, 1, 1]


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


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (b"{'descr': '<f8", "is damaged"),  # cut short: NumPy's parser fails to tokenize it
        (b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"9" * 400 + b",), }",
         r"declared shape \(too long to print\) would allocate more memory than any machine"),
    ],
)  # fmt: skip
def test_a_damaged_npy_header_is_one_line(tmp_path, header, match):
    p = tmp_path / "bad.npz"
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    entry = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x.npy", entry)
        z.writestr("y.npy", entry)
    with pytest.raises((DataFileError, SizeError), match=match):
        load_xy(p)


# --- what reading a CSV file takes ------------------------------------------------------------


def test_reading_a_csv_takes_little_more_than_its_table(tmp_path):
    import tracemalloc

    p = tmp_path / "wide.csv"
    p.write_text(("0.5," * 9 + "1\n") * 25_000)  # about 1 MB, a table of 2 MB
    tracemalloc.start()
    try:
        x, y = load_xy(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    table = x.nbytes + y.nbytes
    assert x.shape == (25_000, 9) and y.shape == (25_000, 1) and y[0, 0] == 1
    assert peak < 1.5 * table  # not a Python object per cell (about 15 times the table)


def test_the_limit_prices_the_table_not_the_text(tmp_path, monkeypatch):
    p = tmp_path / "long-cells.csv"
    row = "0.123456789012345,0.987654321098765\n"  # 36 characters, 16 bytes of table
    p.write_text("x,y\n" + row * 1000)
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(16_000))
    x, y = load_xy(p)  # 36 kB of text, a table of 16 kB: within the limit
    assert x.shape == y.shape == (1000, 1) and y[-1, 0] == 0.987654321098765
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(15_999))
    with pytest.raises(SizeError, match=r"reading .*long-cells.csv \(1000 rows of 2 numbers\) "
                       r"as a table would allocate 15.6 KiB \(16000 bytes\)"):  # fmt: skip
        load_xy(p)


def test_a_row_too_long_to_split_is_refused_before_it_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))  # rows of at most 32768 characters
    p = tmp_path / "one-row.csv"
    p.write_text("x,y\n1,2\n" + "1," * 20_000 + "1\n")
    with pytest.raises(SizeError, match=r"splitting the row of .*one-row.csv line 3 \(over 32768 "
                       r"characters\) into cells would allocate"):  # fmt: skip
        load_xy(p)
    p.write_text("x,y\n" + '"1\n",' * 10_000 + "1\n")  # one row of many lines
    with pytest.raises(SizeError, match="line 2 "):
        load_xy(p)


def test_a_csv_with_a_byte_order_mark_and_no_header_reads_the_same_twice(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")
    x, y = load_xy(p)
    assert x[:, 0].tolist() == [1, 3] and y[:, 0].tolist() == [2, 4]


def test_a_csv_that_changes_between_its_two_readings_is_refused(tmp_path, monkeypatch):
    import mlplab.data as data

    p = tmp_path / "d.csv"
    p.write_text("1,2\n3,4\n")
    check = data._check_csv_rows

    def then_append(path, rows):
        result = check(path, rows)
        with open(p, "a") as fh:
            fh.write("5,6\n")
        return result

    monkeypatch.setattr(data, "_check_csv_rows", then_append)
    with pytest.raises(DataFileError, match="d.csv changed while it was read"):
        load_xy(p)


@pytest.mark.parametrize(("x", "y", "empty"), [((5, 0), (5,), "x"), ((5,), (5, 0), "y")])
def test_an_npz_array_without_columns_is_refused_by_name(tmp_path, x, y, empty):
    from mlplab.data import load_x

    p = tmp_path / "d.npz"
    np.savez(p, x=np.ones(x), y=np.ones(y))
    per = "input" if empty == "x" else "output"
    with pytest.raises(
        DataFileError,
        match=rf"d.npz: '{empty}' has no columns \(shape \(5, 0\)\); give it one column per {per}",
    ):
        load_xy(p)
    if empty == "x":
        with pytest.raises(DataFileError, match="'x' has no columns"):
            load_x(p, 1)


@pytest.mark.parametrize("spec", [None, 5, 1.5])
def test_a_target_that_is_not_text_is_named(spec):
    with pytest.raises(MlplabError, match="a target is a name .* or a formula in x"):
        get_target(spec)  # was AttributeError: no attribute 'strip'


@pytest.mark.parametrize(("x", "match"), [(None, "x holds object values"), ("a", "x holds <U1"),
                                          (0.5, r"x must be an array of points")])  # fmt: skip
def test_target_values_checks_its_points(x, match):
    with pytest.raises(MlplabError, match=match):
        target_values("sin(x)", x)  # None reached np.nonzero of a 0-d array

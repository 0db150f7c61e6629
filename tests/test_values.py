"""mlplab.values: the shared checks of the numbers, seeds and layer widths users hand to mlplab."""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pytest

from mlplab.config import WidthsAction
from mlplab.errors import MlplabError
from mlplab.values import (
    as_array,
    as_real,
    check_interval,
    check_positive,
    check_real,
    check_seed,
    widths,
)

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)


def test_as_array_names_rows_of_different_lengths():
    assert as_array([[1, 2], [3, 4]], "X").shape == (2, 2)
    with pytest.raises(MlplabError, match="^X has rows of different lengths"):
        as_array([[1], [1, 2]], "X")


@pytest.mark.parametrize(
    ("values", "kind"),
    [(np.array([1 + 2j]), "complex128"), (np.array(["a"]), "<U1"), (np.array([{}]), "object")],
)
def test_as_real_refuses_what_is_not_a_real_number(values, kind):
    with pytest.raises(MlplabError, match=f"^y holds {kind} values; give real numbers"):
        as_real(values, F64, "y")


def test_as_real_converts_without_copying_what_already_fits():
    x = np.arange(3.0)
    assert as_real(x, F64, "X") is x
    got = as_real([True, 2, 3.5], F32, "X")
    assert got.dtype == F32 and got.tolist() == [1.0, 2.0, 3.5]


def test_as_real_names_values_beyond_float32_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MlplabError, match=r"2 value\(s\) beyond the range of float32"):
            as_real(np.array([1e39, -1e300, 1.0]), F32, "X")
        # NaN and inf are the caller's to name
        assert np.isnan(as_real(np.array([np.nan]), F32, "X")[0])


@pytest.mark.parametrize("seed", [1.5, -1, True, "3", [1]])
def test_check_seed_refuses_anything_but_a_whole_number_or_none(seed):
    with pytest.raises(MlplabError, match="^seeds\\[2\\] must be a whole number >= 0 or None"):
        check_seed(seed, "seeds[2]")


def test_check_seed_returns_plain_ints():
    assert check_seed(None) is None
    got = check_seed(np.int64(7))
    assert got == 7 and type(got) is int


@pytest.mark.parametrize(
    "words", [["2", "2", "3", "2"], ["2,2,3,2"], ["2,2", "3", "2"], ["2, 2", " 3 ,2"]]
)
def test_widths_are_separated_by_spaces_or_commas(words):
    assert widths(words) == [2, 2, 3, 2]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["1,,3"], "'1,,3' has an empty entry"),
        (["2,3,"], "'2,3,' has an empty entry"),
        (["2", "0"], "'0' is not a layer width"),
        (["x"], "'x' is not a layer width"),
        (["1.5"], "'1.5' is not a layer width"),
        (["2,-1"], "'-1' is not a layer width"),
        (["1_0", "2"], "'1_0' is not a layer width"),  # int() read it as 10
        (["²"], "'²' is not a layer width"),
        (["9" * 5000], r"'99999999999999999999… \(5000 characters\)' is not a layer width"),
    ],
)
def test_a_bad_width_is_named_with_the_fix(words, message):
    with pytest.raises(MlplabError, match=f"^{message}; give whole numbers >= 1 separated by"):
        widths(words)


def test_a_widths_option_reads_both_forms_and_names_a_bad_entry(capsys):
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--sizes", nargs="+", action=WidthsAction)
    assert parser.parse_args(["--sizes", "2,3", "1"]).sizes == [2, 3, 1]
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "2,,1"])
    assert "p: error: argument --sizes: '2,,1' has an empty entry" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), float("inf"), 10**400, True, "1e-3", None])
def test_check_positive_refuses_all_but_finite_numbers_above_zero(bad):
    with pytest.raises(MlplabError, match=r"step must be a finite number > 0, such as 0\.5; got"):
        check_positive(bad, "step", "0.5")
    assert check_positive(np.float32(0.25), "step") == 0.25
    assert type(check_positive(3, "step")) is float


@pytest.mark.parametrize(
    "bad", [(1, 1), (2, 1), 1, (0, 1, 2), ("a", "b"), (0, float("inf")), (-1e308, 1e308), None]
)
def test_check_interval_takes_two_finite_numbers_in_order(bad):
    with pytest.raises(MlplabError, match=r"span must be two finite numbers low < high a finite"):
        check_interval(bad, "span")
    assert check_interval((np.float32(-1), 2), "span") == (-1.0, 2.0)
    assert check_interval((3, 3), "span", equal=True) == (3.0, 3.0)


def test_a_number_may_be_a_numpy_scalar_or_a_0d_array():
    assert check_interval((np.array(0.0), np.float32(1)), "span") == (0.0, 1.0)
    assert check_positive(np.array(2), "step") == 2.0
    assert check_real(np.float64(-3.5), "shift") == -3.5
    for bad in ("0", None, True, float("nan"), 10**400, np.array([1.0])):
        with pytest.raises(MlplabError, match=r"shift must be a finite number, such as"):
            check_real(bad, "shift")

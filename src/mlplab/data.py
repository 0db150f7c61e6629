"""Data for fitting: target functions, a safe expression parser, sampling and file loading.

Targets are functions of one variable ``x`` (arrays in, arrays out). Registered names:
``runge`` 1/(1+25x²), ``cos4`` (x−2)cos(4x), ``monomial:p`` x^p, ``sin`` sin(πx), ``abs`` |x|,
``step`` (0 for x < 0, 1 otherwise). Anything else is read as an expression in ``x`` such as
``"sin(3*x) + x**2"``, parsed with Python's ``ast`` against an allow-list and evaluated with
NumPy — never ``eval``-ed.
"""

from __future__ import annotations

import ast
import csv
import math
import operator
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from mlplab.errors import DataFileError, MlplabError
from mlplab.limits import check_bytes, max_bytes
from mlplab.npz import Archive
from mlplab.values import as_array, as_real, check_interval, check_seed, check_whole

Target = Callable[[np.ndarray], np.ndarray]


class ExpressionError(MlplabError):
    """An expression that is not a safe arithmetic formula in ``x``."""


def runge(x: np.ndarray) -> np.ndarray:
    """Runge's function 1 / (1 + 25 x²)."""
    return 1.0 / (1.0 + 25.0 * x * x)


def cos4(x: np.ndarray) -> np.ndarray:
    """(x − 2) cos(4x)."""
    return (x - 2.0) * np.cos(4.0 * x)


def monomial(p: int) -> Target:
    """x ↦ x^p for a whole p >= 0."""
    if not math.isfinite(p) or p < 0 or p != int(p):
        raise ValueError(f"monomial:p needs a whole power p >= 0, got {p}")
    power = int(p)
    return lambda x: np.power(x, power)


_TARGETS: dict[str, Target] = {
    "runge": runge,
    "cos4": cos4,
    "sin": lambda x: np.sin(np.pi * x),
    "abs": np.abs,
    "step": lambda x: (x >= 0).astype(float),
}

#: Names of the registered targets (``monomial`` takes ``:p``).
TARGET_NAMES: tuple[str, ...] = tuple(sorted([*_TARGETS, "monomial:p"]))

# --- safe expressions -------------------------------------------------------------------------

_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "arctan": np.arctan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "sign": np.sign,
}
#: float64, as every number of a formula is: an operation on constants alone overflows to inf
#: (Python's floats raise OverflowError for ``pi**pi**pi**pi``)
_CONSTANTS = {"pi": np.float64(math.pi), "e": np.float64(math.e)}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_LENGTH = 1000
#: Deepest nesting of operations and calls in an expression (a sum of k terms nests k deep).
#: Checking, evaluating and differentiating recurse once per level, and a derivative nests up
#: to three times as deep as its formula: 100 leaves most of Python's 1,000 frames to the caller.
MAX_DEPTH = 100


def parse_expression(text: str) -> Target:
    """Turn a formula in ``x`` into a function, safely.

    Allowed: numbers, ``x``, ``pi``, ``e``, ``+ - * / **``, parentheses and the functions
    sin, cos, tan, exp, log, sqrt, abs, tanh, sinh, cosh, arctan, arcsin, arccos, sign.

    Raises
    ------
    ExpressionError
        For anything else (attribute access, other names, calls, ...), naming the offending part.
    """
    return _as_function(_parse(text))


def _parse(text: str) -> ast.expr:
    """The checked syntax tree of a formula (see :func:`parse_expression`)."""
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {_MAX_LENGTH} characters")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error says it
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {text!r} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal of more digits than Python converts
        raise ExpressionError(f"cannot parse expression {text[:60]!r}: {exc}") from None
    _check_depth(tree, text)
    allowed = ", ".join(sorted(_FUNCTIONS))

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise ExpressionError(f"only numbers may appear as constants, got {node.value!r}")
            if not (abs(node.value) <= _LARGEST and math.isfinite(node.value)):
                shown = ast.get_source_segment(text.strip(), node) or "a number"
                raise ExpressionError(
                    f"{shown[:40]!r} in the expression is not a finite float64 number "
                    f"(at most {_LARGEST:.4g} in size)"
                )
        elif isinstance(node, ast.Name):
            if node.id != "x" and node.id not in _CONSTANTS:
                raise ExpressionError(
                    f"unknown name {node.id!r} in {text!r}: use the variable x, pi, e "
                    f"and the functions {allowed}"
                )
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            check(node.operand)
        elif isinstance(node, ast.Call):
            if (
                not isinstance(node.func, ast.Name)
                or node.func.id not in _FUNCTIONS
                or node.keywords
                or len(node.args) != 1
            ):
                shown = ast.unparse(node.func)
                raise ExpressionError(
                    f"{shown!r} is not an allowed function in {text!r}: use one argument with "
                    f"one of {allowed}"
                )
            check(node.args[0])
        else:
            raise ExpressionError(
                f"{ast.unparse(node)!r} is not allowed in {text!r}: only numbers, x, pi, e, "
                f"+ - * / ** and the functions {allowed}"
            )

    check(tree)
    return tree.body


def _evaluate(node: ast.AST, x: np.ndarray) -> np.ndarray | float:
    """The value of a checked syntax tree at ``x``."""
    if isinstance(node, ast.Constant):
        return np.float64(node.value)  # NumPy semantics: 1/0 is inf, not an exception
    if isinstance(node, ast.Name):
        return x if node.id == "x" else _CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, x))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return _FUNCTIONS[node.func.id](_evaluate(node.args[0], x))


def _as_function(tree: ast.expr) -> Target:
    def target(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            return np.broadcast_to(_evaluate(tree, x), x.shape).astype(float)

    return target


_LARGEST = float(np.finfo(np.float64).max)


def _check_depth(tree: ast.AST, text: str) -> None:
    """Refuse an expression nested more than :data:`MAX_DEPTH` deep (walked without recursion,
    so that checking and evaluating it later cannot exhaust Python's stack)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression {text[:40]!r}... is nested more than {MAX_DEPTH} levels deep; "
                f"write it with fewer brackets, calls, powers or terms in a row"
            )
        step = isinstance(node, ast.BinOp | ast.UnaryOp | ast.Call)
        stack.extend((child, depth + step) for child in ast.iter_child_nodes(node))


def target_values(spec: str, x: np.ndarray, f: Target | None = None) -> np.ndarray:
    """The values of target ``spec`` (or of ``f``, named ``spec``) at the points ``x``.

    Parameters
    ----------
    spec : str
        A registered target's name or a formula in x (see :func:`get_target`).
    x : array_like, shape (N,) or (N, 1)
        The points: real numbers (float32 stays float32, anything else becomes float64).
    f : Target, optional
        The target itself, where the caller has it already.

    Returns
    -------
    ndarray
        f(x), the shape of ``x``.

    Raises
    ------
    ExpressionError
        If the target is NaN or inf at a point (outside its domain, or overflowing), naming
        one; or ``x`` is a single number rather than an array of points.
    MlplabError
        If ``x`` holds values that are not real numbers (text, complex, None).
    """
    raw = as_array(x, "x")
    x = as_real(raw, raw.dtype if raw.dtype in (np.float32, np.float64) else np.float64, "x")
    if x.ndim == 0:
        raise ExpressionError(f"x must be an array of points, shape (N,) or (N, 1); got {x!r}")
    y = (get_target(spec) if f is None else f)(x)
    bad = ~np.isfinite(y)
    if np.any(bad):
        at = float(np.asarray(x)[np.nonzero(bad)[0][0]].ravel()[0])
        raise ExpressionError(
            f"target {spec!r} is {float(y[bad].ravel()[0])} at x = {at:.6g} "
            f"({int(np.count_nonzero(bad))} of {y.size} points): choose a --domain where it is "
            f"finite"
        )
    return y


# --- derivatives of formulas ------------------------------------------------------------------

#: The registered targets as formulas (``step`` has a jump, and no derivative there).
_FORMULAS = {
    "runge": "1 / (1 + 25*x**2)",
    "cos4": "(x - 2) * cos(4*x)",
    "sin": "sin(pi*x)",
    "abs": "abs(x)",
}


def _tree(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _call(name: str, arg: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(name), [arg], [])


def _op(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.expr:
    return ast.BinOp(left, op, right)


# f'(u) for each allowed function f, as a formula in u.
_CHAIN = {
    "sin": "cos(u)",
    "cos": "-sin(u)",
    "tan": "1 / cos(u)**2",
    "exp": "exp(u)",
    "log": "1 / u",
    "sqrt": "1 / (2 * sqrt(u))",
    "abs": "sign(u)",
    "tanh": "1 - tanh(u)**2",
    "sinh": "cosh(u)",
    "cosh": "sinh(u)",
    "arctan": "1 / (1 + u**2)",
    "arcsin": "1 / sqrt(1 - u**2)",
    "arccos": "-1 / sqrt(1 - u**2)",
    "sign": "0",
}


def _substitute(node: ast.expr, u: ast.expr) -> ast.expr:
    """``node`` with every name ``u`` replaced by the tree ``u``."""
    if isinstance(node, ast.Name) and node.id == "u":
        return u
    if isinstance(node, ast.BinOp):
        return _op(_substitute(node.left, u), node.op, _substitute(node.right, u))
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(node.op, _substitute(node.operand, u))
    if isinstance(node, ast.Call):
        return _call(node.func.id, _substitute(node.args[0], u))
    return node


def _has_x(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "x" for n in ast.walk(node))


def _derivative(node: ast.expr) -> ast.expr:
    """d/dx of a checked syntax tree, as a syntax tree (the rules of calculus, unsimplified)."""
    zero, one = ast.Constant(0.0), ast.Constant(1.0)
    if not _has_x(node):
        return zero
    if isinstance(node, ast.Name):  # x
        return one
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(node.op, _derivative(node.operand))
    if isinstance(node, ast.Call):
        outer = _substitute(_tree(_CHAIN[node.func.id]), node.args[0])
        return _op(outer, ast.Mult(), _derivative(node.args[0]))
    u, v = node.left, node.right
    du, dv = _derivative(u), _derivative(v)
    if isinstance(node.op, (ast.Add, ast.Sub)):
        return _op(du, node.op, dv)
    if isinstance(node.op, ast.Mult):
        return _op(_op(du, ast.Mult(), v), ast.Add(), _op(u, ast.Mult(), dv))
    if isinstance(node.op, ast.Div):
        numerator = _op(_op(du, ast.Mult(), v), ast.Sub(), _op(u, ast.Mult(), dv))
        return _op(numerator, ast.Div(), _op(v, ast.Pow(), ast.Constant(2.0)))
    # u ** v: c u^(c-1) u' for a constant power, else u^v (v' log u + v u' / u)
    if not _has_x(v):
        power = _op(u, ast.Pow(), _op(v, ast.Sub(), one))
        return _op(_op(v, ast.Mult(), power), ast.Mult(), du)
    inner = _op(
        _op(dv, ast.Mult(), _call("log", u)), ast.Add(), _op(_op(v, ast.Mult(), du), ast.Div(), u)
    )
    return _op(node, ast.Mult(), inner)


def target_derivative(spec: str) -> Target | None:
    """f'(x) of a target (a registered name or a formula), by symbolic differentiation.

    The formula's syntax tree is differentiated by the rules of calculus and evaluated as the
    target is; ``None`` for ``step``, whose derivative is a jump. A kink (``abs`` at 0) takes
    the value of ``sign`` there, 0.

    Raises
    ------
    ExpressionError
        If ``spec`` is not a target (see :func:`get_target`).
    """
    get_target(spec)  # the same checks and messages
    key = spec.strip().lower()
    if key == "step":
        return None
    if key.startswith("monomial:"):
        power = float(key.split(":", 1)[1])
        return _as_function(_tree("0" if power == 0 else f"{power!r} * x**{power - 1!r}"))
    return _as_function(_derivative(_parse(_FORMULAS.get(key, spec))))


def get_target(spec: str) -> Target:
    """A target function from a registered name (see :data:`TARGET_NAMES`) or an expression.

    Raises
    ------
    ExpressionError
        If ``spec`` is neither a registered name nor a safe expression.
    """
    if not isinstance(spec, str):
        raise ExpressionError(
            f"a target is a name ({', '.join(TARGET_NAMES)}) or a formula in x such as "
            f"'sin(pi*x)'; got {spec!r}"
        )
    key = spec.strip().lower()
    if key in _TARGETS:
        return _TARGETS[key]
    if key.startswith("monomial:"):
        try:
            power = float(key.split(":", 1)[1])
        except ValueError:
            raise ExpressionError(
                f"{spec!r}: monomial:p needs a whole power p >= 0 after the colon, such as "
                f"monomial:3"
            ) from None
        try:
            return monomial(power)
        except ValueError as exc:
            raise ExpressionError(f"{spec!r}: {exc}") from None
    try:
        return parse_expression(spec)
    except ExpressionError as exc:
        raise ExpressionError(f"{exc}. Registered targets are: {', '.join(TARGET_NAMES)}") from None


# --- the paper's example ------------------------------------------------------------------


def paper_example() -> tuple[np.ndarray, np.ndarray]:
    """The ten points of Higham & Higham's worked example (section 2) and their categories.

    Returns
    -------
    X : ndarray, shape (10, 2)
        The points (x1, x2); the first five are category A, the last five category B.
    Y : ndarray, shape (10, 2)
        One-hot targets: [1, 0] for A, [0, 1] for B.
    """
    x1 = [0.1, 0.3, 0.1, 0.6, 0.4, 0.6, 0.5, 0.9, 0.4, 0.7]
    x2 = [0.1, 0.4, 0.5, 0.9, 0.2, 0.3, 0.6, 0.2, 0.4, 0.6]
    return np.column_stack([x1, x2]), np.repeat(np.eye(2), 5, axis=0)


#: Data sets built in, by name: ``x, y`` arrays (``--data NAME``).
DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {"higham": paper_example}


def load_data(spec: str | Path, n_inputs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x, y`` of a built-in data set (:data:`DATASETS`) or of a CSV/NPZ file (:func:`load_xy`,
    which takes ``n_inputs``)."""
    key = str(spec).strip().lower()
    if key in DATASETS:
        return DATASETS[key]()
    return load_xy(spec, n_inputs)


# --- sampling -------------------------------------------------------------------------------

SAMPLINGS = ("grid", "uniform", "normal")


def sample(
    n: int,
    domain: tuple[float, float] = (-1.0, 1.0),
    method: str = "uniform",
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Draw ``n`` scalar inputs.

    Parameters
    ----------
    n : int
        Number of points, >= 1.
    domain : (low, high)
        Interval for ``grid`` and ``uniform``; for ``normal`` its mid-point and half-width are
        the mean and standard deviation (so (−1, 1) gives N(0, 1)).
    method : {"grid", "uniform", "normal"}
        Evenly spaced including both ends, uniform at random, or normal.
    rng : Generator or int, optional

    Returns
    -------
    ndarray, shape (n, 1)
    """
    check_whole(n, "the number of points", 1)
    check_bytes(f"{n} points (--n-train, --n-val or --n-points)", 16.0 * n)
    low, high = check_interval(domain, "domain")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(check_seed(rng, "the seed"))
    if method == "grid":
        x = np.linspace(low, high, n)
    elif method == "uniform":
        x = rng.uniform(low, high, size=n)
    elif method == "normal":
        x = rng.normal(0.5 * (low + high), 0.5 * (high - low), size=n)
    else:
        raise ValueError(f"unknown sampling {method!r}; valid names are: {', '.join(SAMPLINGS)}")
    return x.reshape(-1, 1)


# --- files ------------------------------------------------------------------------------------


def load_xy(path: str | Path, n_inputs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load inputs and targets from a CSV or NPZ file.

    CSV: numeric columns, an optional header row; the first ``n_inputs`` columns are x (default:
    all but the last) and the rest y. NPZ: arrays ``x`` and ``y`` (or ``X`` and ``Y``).

    Returns
    -------
    x : ndarray, shape (N, n_inputs)
    y : ndarray, shape (N, n_outputs)

    Raises
    ------
    DataFileError
        For a missing, unreadable or non-numeric file, naming the file and the problem.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        x, y = _read_npz(path, ("x", "y"))
    else:
        table = _read_csv(path, min_columns=2)
        k = table.shape[1] - 1 if n_inputs is None else n_inputs
        if not 1 <= k < table.shape[1]:
            raise DataFileError(f"{path} has {table.shape[1]} columns; need x and y columns")
        x, y = table[:, :k], table[:, k:]
    if len(x) != len(y):
        raise DataFileError(f"{path}: x has {len(x)} rows but y has {len(y)}")
    return x, y


def load_x(path: str | Path, n_inputs: int) -> np.ndarray:
    """Load inputs only (for predictions): a CSV of ``n_inputs`` columns or an NPZ with ``x``.

    Returns
    -------
    ndarray, shape (N, n_inputs)
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        (x,) = _read_npz(path, ("x",))
    else:
        x = _read_csv(path, min_columns=1)
    if x.shape[1] != n_inputs:
        raise DataFileError(
            f"{path} has {x.shape[1]} column(s) but the model takes {n_inputs} input(s) per "
            f"point: keep only the input columns"
        )
    return x


def _read_npz(path: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    """The named arrays of an NPZ file (names matched case-insensitively), each as (N, k)."""
    with Archive(path, DataFileError, "data file") as archive:
        found: dict[str, list[str]] = {}
        for key in archive.names:
            found.setdefault(key.lower(), []).append(key)
        out = []
        for name in names:
            keys = found.get(name, [])
            if not keys:
                wanted = " and ".join(repr(n) for n in names)
                raise DataFileError(
                    f"{path} must hold arrays named {wanted}, found {sorted(archive.names)}"
                )
            if len(keys) > 1:
                raise DataFileError(
                    f"{path} holds both {' and '.join(map(repr, sorted(keys)))}: keep one array "
                    f"named {name!r}"
                )
            head = archive.header(keys[0])
            if head.dtype.kind not in "biuf":
                what = "complex" if head.dtype.kind == "c" else str(head.dtype)
                raise DataFileError(f"{path}: {keys[0]!r} must be a real numeric array, "
                                    f"found {what} values")  # fmt: skip
            if len(head.shape) not in (1, 2) or head.shape[0] < 1:
                raise DataFileError(
                    f"{path}: {keys[0]!r} must have one row per point (shape (N,) or (N, k), "
                    f"N >= 1), found shape {head.shape}"
                )
            if len(head.shape) == 2 and head.shape[1] == 0:
                per = "input" if name == "x" else "output"
                raise DataFileError(
                    f"{path}: {keys[0]!r} has no columns (shape {head.shape}); give it one column "
                    f"per {per}: shape (N, k) with k >= 1, or (N,) for one"
                )
            a = archive.read(keys[0], head).astype(float)
            a = a.reshape(len(a), -1)
            _check_finite(path, a)
            out.append(a)
    return out


def _read_csv(path: Path, min_columns: int) -> np.ndarray:
    """The numeric table of a CSV file.

    The first row is a header when none of its cells is a number; a row that mixes numbers and
    text, or rows of different lengths, are refused with their line number. A UTF-8 byte-order
    mark is skipped.

    The file is read twice, one row at a time: once to check every row and count them, then,
    once the table's size (rows × columns × 8 bytes) has passed :func:`~mlplab.limits.check_bytes`,
    to fill a table allocated whole. So what reading takes is the table and one row, never a
    Python object per cell of the file.
    """
    if not path.is_file():
        raise DataFileError(f"no data file at {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header, n_rows, width = _check_csv_rows(path, _csv_rows(fh, path))
            check_bytes(
                f"reading {path} ({n_rows} rows of {width} numbers) as a table",
                8.0 * n_rows * width,
                hint="use a file of fewer rows or columns, or set MLPLAB_MAX_BYTES higher",
            )
            table = np.empty((n_rows, width))
            fh.seek(0)
            _fill_table(path, table, _csv_rows(fh, path), skip=header)
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"cannot read {path} as CSV: it is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, csv.Error) as exc:
        raise DataFileError(f"cannot read {path} as CSV: {exc}") from None
    if table.shape[1] < min_columns:
        columns = "two columns (x, y)" if min_columns == 2 else "one column"
        raise DataFileError(f"{path} must have at least {columns}")
    _check_finite(path, table)
    return table


#: Bytes of memory one character of a CSV row may take while the row is split into cells and
#: its cells into numbers (a str of 50 bytes and a pointer per cell of a few characters): the
#: longest row read is the limit of :func:`~mlplab.limits.max_bytes` over this.
_ROW_BYTES_PER_CHAR = 32


def _csv_rows(fh: TextIO, path: Path) -> Iterator[tuple[int, list[str]]]:
    """The rows of the open CSV file ``fh`` that hold a non-blank cell, with their line numbers.

    A row's text is priced (:data:`_ROW_BYTES_PER_CHAR` bytes a character) as it is read, line
    by line, before the ``csv`` module splits it: a row too long for the limit is refused
    without being read whole.
    """
    limit = max_bytes() // _ROW_BYTES_PER_CHAR  # characters of the longest row
    row_chars = 0  # characters of the row being read, over all of its lines

    def lines() -> Iterator[str]:
        nonlocal row_chars
        done = start = 0  # lines read whole; the line the row being read starts on
        while line := fh.readline(limit + 1 - row_chars):  # at least 1: checked below
            start = done + 1 if row_chars == 0 else start
            done += line.endswith(("\n", "\r"))
            row_chars += len(line)
            if row_chars > limit:
                check_bytes(
                    f"splitting the row of {path} line {start} (over {limit} characters) "
                    f"into cells",
                    _ROW_BYTES_PER_CHAR * row_chars,
                    hint="split it into rows of fewer numbers, or set MLPLAB_MAX_BYTES higher",
                )
            yield line

    reader = csv.reader(lines())
    for row in reader:
        row_chars = 0
        if row and any(cell.strip() for cell in row):
            yield reader.line_num, row


def _check_csv_rows(path: Path, rows: Iterator[tuple[int, list[str]]]) -> tuple[bool, int, int]:
    """Check the rows of a CSV file: the same number of cells in each, every cell a number
    (but in a first row of names only, a header).

    Returns
    -------
    header : bool
        Whether the first row is a header.
    n_rows, width : int
        The number of data rows and of cells in each.
    """
    header, first, n_rows, width = False, 0, 0, 0
    for line, row in rows:
        if not n_rows and not header and not any(_is_number(c) for c in row):
            header = True  # a header row: names only
            continue
        if not n_rows:
            first, width = line, len(row)
        if len(row) != width:
            raise DataFileError(
                f"{path} line {line} has {len(row)} values but line {first} has {width}: "
                f"every row needs the same number of columns"
            )
        bad = [c for c in row if not _is_number(c)]
        if bad:
            raise DataFileError(
                f"{path} line {line}: {bad[0].strip()[:40]!r} is not a number; every data cell "
                f"must be a number (a header row, first, holds names only)"
            )
        n_rows += 1
    if not n_rows:
        raise DataFileError(f"{path} has no data rows")
    return header, n_rows, width


def _fill_table(
    path: Path, table: np.ndarray, rows: Iterator[tuple[int, list[str]]], skip: bool
) -> None:
    """Fill ``table`` with the numbers of the checked rows ``rows`` (the first one skipped if
    ``skip``: a header); a file that no longer matches the check is refused."""
    changed = DataFileError(
        f"{path} changed while it was read; read it when nothing else is writing it"
    )
    if skip:
        next(rows, None)
    i = -1
    for i, (_, row) in enumerate(rows):
        if i >= len(table) or len(row) != table.shape[1]:
            raise changed
        try:
            table[i] = np.fromiter(map(float, row), dtype=float, count=len(row))
        except ValueError:
            raise changed from None
    if i + 1 != len(table):
        raise changed


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_finite(path: Path, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise DataFileError(f"{path} contains NaN or inf values; remove or impute them")

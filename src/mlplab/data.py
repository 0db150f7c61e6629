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
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

Target = Callable[[np.ndarray], np.ndarray]


class ExpressionError(ValueError):
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
_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_LENGTH = 1000


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
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression {text!r} is nested too deeply") from None
    allowed = ", ".join(sorted(_FUNCTIONS))

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise ExpressionError(f"only numbers may appear as constants, got {node.value!r}")
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
    key = spec.strip().lower()
    if key in _TARGETS:
        return _TARGETS[key]
    if key.startswith("monomial:"):
        try:
            return monomial(float(key.split(":", 1)[1]))
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


def load_data(spec: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``x, y`` of a built-in data set (:data:`DATASETS`) or of a CSV/NPZ file (:func:`load_xy`)."""
    key = str(spec).strip().lower()
    if key in DATASETS:
        return DATASETS[key]()
    return load_xy(spec)


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
    if n < 1:
        raise ValueError(f"the number of points must be >= 1, got {n}")
    low, high = float(domain[0]), float(domain[1])
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        raise ValueError(f"domain must be two finite numbers low < high, got {domain}")
    rng = np.random.default_rng(rng)
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
    ValueError
        For a missing, unreadable or non-numeric file, naming the file and the problem.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        x, y = _read_npz(path, ("x", "y"))
    else:
        table = _read_csv(path, min_columns=2)
        k = table.shape[1] - 1 if n_inputs is None else n_inputs
        if not 1 <= k < table.shape[1]:
            raise ValueError(f"{path} has {table.shape[1]} columns; need x and y columns")
        x, y = table[:, :k], table[:, k:]
    if len(x) != len(y):
        raise ValueError(f"{path}: x has {len(x)} rows but y has {len(y)}")
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
        raise ValueError(
            f"{path} has {x.shape[1]} column(s) but the model takes {n_inputs} input(s) per "
            f"point: keep only the input columns"
        )
    return x


def _read_npz(path: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    """The named arrays of an NPZ file (names matched case-insensitively), each as (N, k)."""
    if not path.is_file():
        raise ValueError(f"no data file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k.lower(): data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"cannot read {path} as an .npz archive of arrays: {exc}") from None
    missing = [n for n in names if n not in arrays]
    if missing:
        wanted = " and ".join(repr(n) for n in names)
        raise ValueError(f"{path} must hold arrays named {wanted}, found {sorted(arrays)}")
    out = []
    for name in names:
        try:
            a = np.asarray(arrays[name], float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {name!r} must be a numeric array ({exc})") from None
        a = a.reshape(len(a), -1)
        _check_finite(path, a)
        out.append(a)
    return out


def _read_csv(path: Path, min_columns: int) -> np.ndarray:
    """The numeric table of a CSV file (a first row that is not numeric is a header)."""
    if not path.is_file():
        raise ValueError(f"no data file at {path}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None
    if rows:
        try:
            [float(c) for c in rows[0]]
        except ValueError:
            rows = rows[1:]  # a header row
    if not rows:
        raise ValueError(f"{path} has no data rows")
    try:
        table = np.array([[float(c) for c in r] for r in rows])
    except ValueError as exc:
        raise ValueError(
            f"{path} has a non-numeric value ({exc}); every data cell must be a number"
        ) from None
    if table.ndim != 2 or table.shape[1] < min_columns:
        columns = "two columns (x, y)" if min_columns == 2 else "one column"
        raise ValueError(f"{path} must have at least {columns}, with rows of equal length")
    _check_finite(path, table)
    return table


def _check_finite(path: Path, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{path} contains NaN or inf values; remove or impute them")

"""Numba compilation of mlplab's own definitions — the only module of mlplab that imports Numba.

The formulas of :mod:`mlplab.activations`, :mod:`mlplab.losses` and :mod:`mlplab.optim` are written
once, with NumPy ufuncs, reductions and in-place arithmetic, so that the very same Python functions
run on NumPy arrays (the reference path) and compile with Numba (the compiled path).
:func:`compile_definition` compiles such a function together with every plain Python function it
calls (module-level helpers and closure variables), so a definition may call helpers freely.

Only Numba's public API is used (``numba.njit``, ``Dispatcher.compile``, ``numba.core.errors``
for the typing errors it raises). Nothing is cached on disk: a compiled loop lives as long as its
process, so it can never be older than the sources it was compiled from.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

_compiled: dict[Any, Callable] = {}


def numba() -> types.ModuleType:
    """The ``numba`` module, imported on first use (``import mlplab`` does not load it)."""
    import numba as nb

    return nb


def _key(fn: types.FunctionType) -> Any:
    """A key equal for two functions with the same code and the same closure values."""
    cells = []
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        cells.append(_key(value) if isinstance(value, types.FunctionType) else value)
    try:
        key = (fn.__code__, tuple(cells))
        hash(key)
    except TypeError:
        key = (fn.__code__, id(fn))
    return key


def compile_definition(fn: Callable) -> Callable:
    """``fn`` compiled with ``numba.njit`` (lazily: types are fixed at the first call), with each
    plain Python function it names — a global or a closure variable — compiled the same way.

    Compiling twice the same code with the same closure values returns the same dispatcher.
    """
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"{fn!r} is not a Python function")
    key = _key(fn)
    if key in _compiled:
        return _compiled[key]
    names = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        value = names.get(name)
        if isinstance(value, types.FunctionType):
            names[name] = compile_definition(value)
    closure = None
    if fn.__closure__:
        closure = tuple(
            types.CellType(compile_definition(c.cell_contents))
            if isinstance(c.cell_contents, types.FunctionType)
            else c
            for c in fn.__closure__
        )
    twin = types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__, closure)
    _compiled[key] = numba().njit(twin)
    return _compiled[key]


def njit_source(source: str, name: str, namespace: dict[str, Any]) -> Callable:
    """The function ``name`` defined by the generated ``source`` (with ``namespace`` as its
    globals), compiled with ``numba.njit``."""
    scope = dict(namespace)
    exec(compile(source, f"<mlplab generated {name}>", "exec"), scope)
    return numba().njit(scope[name])


def typing_error(error: BaseException) -> bool:
    """Whether ``error`` is Numba's word that a function cannot be compiled for these types."""
    from numba.core import errors

    return isinstance(error, (errors.TypingError, errors.UnsupportedError, errors.LoweringError))


def first_line(error: BaseException) -> str:
    """The first informative line of a (long, multi-line) Numba error."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Failed in", "During:", "File"))]
    return (useful or lines or [type(error).__name__])[0][:200]

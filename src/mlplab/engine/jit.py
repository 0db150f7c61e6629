"""Numba compilation of mlplab's own definitions — the only module of mlplab that imports Numba.

The formulas of :mod:`mlplab.activations`, :mod:`mlplab.losses` and :mod:`mlplab.optim` are written
once, with NumPy ufuncs, reductions and in-place arithmetic, so that the very same Python functions
run on NumPy arrays (the reference path) and compile with Numba (the compiled path).
:func:`compile_definition` compiles such a function together with every plain Python function it
calls (module-level helpers and closure variables), so a definition may call helpers freely.

Only Numba's public API is used (``numba.njit``). Nothing is cached on disk: a compiled loop
lives as long as its process, so it can never be older than the sources it was compiled from,
and a definition is compiled again when a helper or a constant it reads changes (:func:`_key`).
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

_compiled: dict[Any, Callable] = {}


def numba() -> types.ModuleType:
    """The ``numba`` module, imported on first use (``import mlplab`` does not load it)."""
    import numba as nb

    return nb


def _key(fn: types.FunctionType) -> Any:
    """A key equal for two functions that compile to the same code: the same code, the same
    closure values and the same values of the globals it names (a function by its own key), so
    that redefining a helper, or a constant a definition reads, compiles it again. None where a
    value cannot be hashed (an array, a dict): such a function is compiled afresh each time.
    """
    try:
        return _hashable_key(fn, (), {})
    except TypeError:
        return None


def _hashable_key(fn: types.FunctionType, calling: tuple, known: dict) -> Any:
    """:func:`_key`, raising TypeError for a value that cannot be hashed; ``known`` holds the
    keys found so far (by function id), so that a helper many functions call is keyed once."""
    if fn in calling:  # recursion: the code names a function being keyed
        return fn.__code__
    if id(fn) in known:
        return known[id(fn)]
    calling = (*calling, fn)

    def value_key(value: Any) -> Any:
        if isinstance(value, types.FunctionType):
            return _hashable_key(value, calling, known)
        if isinstance(value, types.ModuleType):
            return value.__name__
        return value

    cells = tuple(value_key(cell.cell_contents) for cell in fn.__closure__ or ())
    names = tuple(
        (name, value_key(fn.__globals__[name]))
        for name in fn.__code__.co_names
        if name in fn.__globals__
    )
    key = (fn.__code__, cells, names)
    hash(key)
    known[id(fn)] = key
    return key


def compile_definition(fn: Callable) -> Callable:
    """``fn`` compiled with ``numba.njit`` (lazily: types are fixed at the first call), with each
    plain Python function it names — a global or a closure variable — compiled the same way.

    Compiling twice the same code with the same closure and global values returns the same
    dispatcher (see :func:`_key`).
    """
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"{fn!r} is not a Python function")
    key = _key(fn)
    if key is not None and key in _compiled:
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
    compiled = numba().njit(twin)
    if key is not None:
        _compiled[key] = compiled
    return compiled


def njit_source(source: str, name: str, namespace: dict[str, Any]) -> Callable:
    """The function ``name`` defined by the generated ``source`` (with ``namespace`` as its
    globals), compiled with ``numba.njit``."""
    scope = dict(namespace)
    exec(compile(source, f"<mlplab generated {name}>", "exec"), scope)
    return numba().njit(scope[name])


#: Numba's words for what it cannot compile, in a user's words.
_PLAIN = {"Use of unsupported opcode (IMPORT_NAME) found": "it imports a module, which Numba "
          "does not compile"}  # fmt: skip


def first_line(error: BaseException) -> str:
    """The first informative line of a (long, multi-line) Numba error, in a user's words where
    :data:`_PLAIN` has them; where it ends in Numba's ``Raised from PATH (LINE)``, the source is
    named by its file name and line (``tanh.py, line 12``) instead."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Failed in", "During:", "File"))]
    line = (useful or lines or [type(error).__name__])[0]
    for numba_words, plain in _PLAIN.items():
        line = line.replace(numba_words, plain)
    line = re.sub(r"\.? *Raised from (.+?) \((\d+)\)$",
                  lambda m: f" ({PurePath(m[1]).name}, line {m[2]})", line)  # fmt: skip
    return line[:200]

"""The modules of mlplab import each other without cycles.

The graph has an edge A -> B for every ``import`` of a mlplab module B in the source of module A
that can run: at module level (including inside ``if``/``try`` blocks) and, in the second
graph, also inside functions (lazy imports). Imports under ``if TYPE_CHECKING:`` never run and
are left out. ``from mlplab.x import name`` is an edge to ``mlplab.x.name`` when that is a
module, else to ``mlplab.x``; an import does not count as an edge to the packages above the
module (Python runs their ``__init__`` first, but they are not what the importing module uses).

Two checks, because the two kinds of import fail differently:
- imports that run at import time must have no cycle anywhere: such a cycle makes a module
  see the other half-initialised, depending on which is imported first;
- with lazy imports counted there must be no cycle either: a lazy import is for light imports,
  never for hiding a cycle (``MLP.save``/``MLP.load`` call the model file reader, which is
  handed the class to build rather than importing it; ``network.py`` does not import the
  engine).
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import mlplab

ROOT = Path(mlplab.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(lazy: bool = True) -> dict[str, set[str]]:
    """Module -> the mlplab modules it imports (without ``lazy``: only at import time)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _statements(tree.body, lazy):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _statements(body: list[ast.stmt], lazy: bool):
    """The statements of ``body`` that can run: into ``if``/``try``/``with`` blocks, and with
    ``lazy`` into functions and classes, never into ``if TYPE_CHECKING:``."""
    for node in body:
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _statements(node.orelse, lazy)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if lazy:
                yield from _statements(node.body, lazy)
        else:
            for block in ("body", "orelse", "finalbody"):
                yield from _statements(getattr(node, block, []), lazy)
            for handler in getattr(node, "handlers", []):
                yield from _statements(handler.body, lazy)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_at_import_time():
    graph = import_graph(lazy=False)
    assert len(graph) > 40 and "mlplab.cli.train" in graph["mlplab.cli"]
    assert cycles(graph) == []


def test_no_import_cycle_with_lazy_imports_counted():
    graph = import_graph(lazy=True)
    assert "mlplab.train_run" in graph["mlplab.cli.train"]  # a lazy import, counted
    assert "mlplab.io" in graph["mlplab.network"]  # MLP.save / MLP.load, lazy
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lazy_and_type_checking_imports_are_told_apart(tmp_path):
    source = """
from typing import TYPE_CHECKING
import mlplab.io
if TYPE_CHECKING:
    import mlplab.train
def f():
    import mlplab.plots
"""
    body = ast.parse(source).body
    named = {
        alias.name
        for lazy in (False, True)
        for node in _statements(body, lazy)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert named == {"mlplab.io", "mlplab.plots"}
    eager = [n for n in _statements(body, False) if isinstance(n, ast.Import)]
    assert [a.name for n in eager for a in n.names] == ["mlplab.io"]


def test_no_module_imports_the_command_line_package():
    graph = import_graph()
    importers = sorted(m for m, targets in graph.items() if "mlplab.cli" in targets)
    assert importers == ["mlplab.__main__"]


def test_import_mlplab_loads_numpy_and_the_core_alone():
    optional = ("numba", "rich", "scipy", "matplotlib", "dask", "sklearn", "torch", "onnx",
                "argparse")  # fmt: skip
    code = (
        "import sys, mlplab; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {optional!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_submodules_load_on_first_use_of_their_name():
    for name in mlplab._LAZY:  # each names a module of the package
        assert importlib.util.find_spec(f"mlplab.{name}") is not None, name
    code = (
        "import sys, mlplab; "
        "print(mlplab.second_order.__name__, 'mlplab.second_order' in sys.modules, "
        "'mlplab.pde' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["mlplab.second_order", "True", "False"]
    with pytest.raises(AttributeError, match="module 'mlplab' has no attribute 'nope'"):
        mlplab.nope  # noqa: B018


def test_a_lazy_submodule_whose_extra_is_missing_is_an_attribute_error():
    # scikit-learn made unimportable in a fresh interpreter: hasattr is False, and getattr
    # names the extra to install
    code = (
        "import sys; sys.modules['sklearn'] = None; import mlplab; "
        "print(hasattr(mlplab, 'sklearn'), 'sklearn' in dir(mlplab)); mlplab.sklearn"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "True"]
    assert out.returncode == 1 and out.stderr.strip().splitlines()[-1] == (
        "AttributeError: mlplab.sklearn needs sklearn, which is not installed: "
        "pip install 'mlplab[sklearn]'"
    )

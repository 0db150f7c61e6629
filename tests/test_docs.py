"""README's python blocks, run as written, in order, in one namespace (later blocks reuse earlier
names), in a temporary folder; and the numbers and shapes its comments and its ```text output
block state. The blocks are the project's own text, executed as a reader would run them."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

README = next(
    folder / "README.md"
    for folder in Path(__file__).resolve().parents
    if (folder / "README.md").is_file() and (folder / "pyproject.toml").is_file()
)
_TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", _TEXT, re.S | re.M)
TEXT_BLOCKS = re.findall(r"^```text\n(.*?)^```", _TEXT, re.S | re.M)

#: What each block needs beyond mlplab's own dependencies.
NEEDS = {4: "sklearn"}


def test_readme_has_the_blocks_these_tests_check():
    # A new or removed block should come with a check here.
    assert len(BLOCKS) == 5


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The namespace the blocks share, and the folder they run in."""
    return {
        "ns": {"__name__": "__readme__"},
        "ran": [],
        "failed": [],
        "values": {},  # block -> the values of its bare expressions, in order
        "dir": tmp_path_factory.mktemp("readme"),
    }


def run_through(session, k: int, monkeypatch) -> dict:
    """Run blocks 1..k that have not run yet (a block needs the names of the ones before it);
    a block whose package is not installed is left out (the blocks after it do not use its
    names), and a block that failed fails every test that needs it."""
    monkeypatch.chdir(session["dir"])
    for i in range(1, k + 1):
        if i in session["failed"]:
            pytest.fail(f"README.md python block {i} failed in an earlier test")
        if i in session["ran"]:
            continue
        if i in NEEDS and importlib.util.find_spec(NEEDS[i]) is None:
            if i == k:
                pytest.skip(f"README.md python block {i} needs {NEEDS[i]}")
            continue
        name, values = f"README.md python block {i}", []
        session["failed"].append(i)  # until it has run to its end
        for node in ast.parse(BLOCKS[i - 1]).body:
            bare = isinstance(node, ast.Expr)  # as a reader sees it: `t.cost  # ≈ 0.298371109`
            if bare:  # keep its value, as an interactive session shows it
                node = ast.Assign([ast.Name("_value", ast.Store())], node.value, lineno=0)
            exec(
                compile(ast.fix_missing_locations(ast.Module([node], [])), name, "exec"),
                session["ns"],
            )
            if bare:
                values.append(session["ns"].pop("_value"))
        session["failed"].remove(i)
        session["values"][i] = values
        session["ran"].append(i)
    return session["ns"]


def comment(pattern: str, block: int) -> re.Match:
    """The match of ``pattern`` in a comment of python block ``block`` (1-based)."""
    found = re.search(pattern, BLOCKS[block - 1], re.M)
    assert found, f"README.md python block {block} no longer has a line matching {pattern!r}"
    return found


def test_block_1_the_tour(session, monkeypatch):
    ns = run_through(session, 1, monkeypatch)
    net, cache, x = ns["net"], ns["cache"], ns["x"]
    # the table of the paper's quantities and their shapes
    assert [w.shape for w in net.weights] == [(64, 1), (64, 64), (1, 64)]
    assert [z.shape for z in cache.z] == [(256, 64), (256, 64), (256, 1)]
    np.testing.assert_array_equal(cache.a[0].ravel(), x)
    assert [d.shape for d in cache.delta] == [(256, 64), (256, 64), (256, 1)]
    assert [g.shape for g in ns["gW"]] == [w.shape for w in net.weights]
    assert ns["g"].shape == (256, 1)
    assert net.input_jacobian(x).shape == (256, 1, 1)
    assert np.shares_memory(net.params, net.weights[0])
    hist = ns["hist"]
    assert hist.status == "completed" and len(hist.train_loss) == len(hist.val_loss) == 500
    assert (session["dir"] / "runge.npz").is_file()
    np.testing.assert_array_equal(ns["same"].params, net.params)


def test_block_2_the_worked_example(session, monkeypatch):
    ns = run_through(session, 2, monkeypatch)
    t = ns["t"]
    shown = comment(r"^t\.cost\s+# ≈ ([0-9.]+)$", 2).group(1)
    assert f"{t.cost:.{len(shown) - 2}f}" == shown  # the value rounded as the comment shows it
    np.testing.assert_allclose(
        t["W^[3]_new"], [[0.35891648, 0.40866619], [0.51130127, 0.56137012]], atol=5e-9
    )
    assert "$$" in t.to_markdown()
    assert t.to_html().startswith("<")
    assert t.to_dict()["cost"] == t.cost


def test_block_3_diagnose_prints_the_readme_table(session, monkeypatch, capsys):
    ns = run_through(session, 3, monkeypatch)
    printed = str(ns["report"])
    shown = TEXT_BLOCKS[0]
    assert shown.startswith("256 points, loss mse")
    assert [line.rstrip() for line in printed.strip().splitlines()] == [
        line.rstrip() for line in shown.strip().splitlines()
    ]
    dead = ns["report"].layers[0].dead
    assert dead.dtype == bool and dead.shape == (32,)


def test_block_4_sklearn_pipeline(session, monkeypatch):
    ns = run_through(session, 4, monkeypatch)
    best, X, g = ns["best"], ns["X"], ns["g"]
    assert g.shape == (3, 2)
    scaled = best[-1].input_gradient(best[:-1].transform(X[:3]))
    np.testing.assert_allclose(g, scaled / best[0].scale_, rtol=1e-12)
    import mlplab

    assert isinstance(ns["net"], mlplab.MLP)


def test_block_5_explain_says_what_the_comment_shows(session, monkeypatch):
    run_through(session, 5, monkeypatch)
    plan, (engine, reason) = session["values"][5]
    shown = comment(r"^# Plan\(path='(\w+)', reason='([^.]*?)\.\.\.'\)$", 5)
    assert plan.path == shown.group(1)
    assert plan.reason.startswith(shown.group(2))
    # the tour's fit (a 1-64-64-1 network, batch 32, 500 epochs) ran on the NumPy stepper
    assert engine == "numpy" and reason.startswith("a step is")

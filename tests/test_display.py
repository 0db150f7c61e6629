"""What Jupyter shows: the HTML of an MLP, a History (with its loss figure) and a diagnosis."""

from __future__ import annotations

import base64
import re

import numpy as np

import mlplab


def cells(page: str) -> list[list[str]]:
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", page)]


def test_an_mlp_shows_its_layers():
    page = mlplab.MLP([2, 5, 3], activation="relu", seed=0)._repr_html_()
    assert "MLP 2-5-3: L = 3 layers, p = 33 parameters, float64" in page
    assert [c for c in cells(page) if c] == [
        ["1 (input)", "2", "", "", "", ""],
        ["2", "5", "relu", "5 × 2", "5", "15"],
        ["3", "3", "identity", "3 × 5", "3", "18"],
    ]
    assert "<th>n<sub>l</sub></th><th>σ</th><th>W<sup>[l]</sup></th>" in page


def test_a_history_shows_its_numbers_and_its_loss_curve():
    net = mlplab.MLP([1, 4, 1], seed=0)
    x = np.linspace(-1, 1, 16)
    hist = mlplab.fit(net, x, x**2, epochs=5, progress=False, engine="reference", seed=0)
    page = hist._repr_html_()
    rows = dict(tuple(c) for c in cells(page) if len(c) == 2)
    assert rows["epochs"] == "5" and rows["steps"] == str(hist.steps)
    assert rows["final training loss"] == f"{hist.train_loss[-1]:.4e}"
    assert rows["final validation loss"] == "n/a" and rows["status"] == "completed"
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<img" not in mlplab.History()._repr_html_()


def test_a_diagnosis_shows_its_table():
    net = mlplab.MLP([1, 8, 1], activation="relu", bias_init=-5.0, seed=0)
    x = np.linspace(-1, 1, 32)
    report = mlplab.diagnose(net, x, x)
    page = report._repr_html_()
    assert report.summary().replace("'", "&#x27;") in page
    assert [c for c in cells(page) if c] == report.rows()

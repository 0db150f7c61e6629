"""How mlplab's objects show in Jupyter: HTML tables, and the loss curve of a History.

Each ``_repr_html_`` of :class:`~mlplab.network.MLP`, :class:`~mlplab.train.History` and
:class:`~mlplab.diagnostics.Diagnostics` calls a function here, so that the core classes carry
one line each and matplotlib is imported only when a History is shown.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlplab.diagnostics import Diagnostics
    from mlplab.network import MLP
    from mlplab.train import History

_CSS = (
    "<style>.mlplab-table{border-collapse:collapse;font-size:13px}"
    ".mlplab-table td,.mlplab-table th{padding:2px 10px;border-bottom:1px solid #ddd;"
    "text-align:right}.mlplab-table td:first-child,.mlplab-table th:first-child{text-align:left}"
    "</style>"
)


def symbols_html(text: str) -> str:
    """Plain-text notation in HTML, escaped: ``^[l]`` as a superscript, and ``_new``, ``_L``,
    ``_l``, ``_2`` (as in ``n_L``, ``n_l``, ``σ_2``) as subscripts."""
    text = re.sub(r"\^\[(\w+)\]", r"<sup>[\1]</sup>", html.escape(text))
    return re.sub(r"_(new|n_L|L|l|\d+)\b", r"<sub>\1</sub>", text)


def html_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A small HTML table with a bold title line above it (every cell escaped; the header's
    notation shown by :func:`symbols_html`)."""
    head = "".join(f"<th>{symbols_html(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"{_CSS}<div><p><b>{html.escape(title)}</b></p><table class='mlplab-table'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def mlp_html(net: MLP) -> str:
    """The layers of a network: l, n_l, σ, the shapes of W^[l] and b^[l], their parameters."""
    rows = [["1 (input)", str(net.sizes[0]), "", "", "", ""]]
    for i, (W, act) in enumerate(zip(net.weights, net.activations, strict=True)):
        n_out, n_in = W.shape
        rows.append(
            [str(i + 2), str(n_out), act.name, f"{n_out} × {n_in}", f"{n_out}", str(W.size + n_out)]
        )
    title = (
        f"MLP {'-'.join(map(str, net.sizes))}: L = {net.L} layers, p = {net.num_parameters} "
        f"parameters, {net.dtype.name}"
    )
    return html_table(title, ["layer l", "n_l", "σ", "W^[l]", "b^[l]", "parameters"], rows)


def figure_png(fig) -> str:
    """A matplotlib figure as an HTML ``<img>`` with the PNG inline."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="loss per epoch"/>'


def history_html(history: History) -> str:
    """The run's summary (epochs, steps, final losses, status) and its loss curve."""
    from mlplab import plots

    rows = [
        ["epochs", str(history.epochs)],
        ["steps", str(history.steps)],
        ["final training loss", f"{history.train_loss[-1]:.4e}" if history.train_loss else "n/a"],
        ["final validation loss", f"{history.val_loss[-1]:.4e}" if history.val_loss else "n/a"],
        ["seconds", f"{history.seconds:.2f}"],
        ["status", history.status],
    ]
    text = html_table("History", ["quantity", "value"], rows)
    if not history.train_loss:
        return text
    fig, (ax,) = plots.new_figure(width=5.6, height=3.4)
    plots.plot_losses(history.train_loss, history.val_loss, ax=ax)
    return f"<div style='display:flex;gap:24px;align-items:center'>{text}{figure_png(fig)}</div>"


def diagnostics_html(report: Diagnostics) -> str:
    """The per-layer table of :func:`mlplab.diagnose` under its summary line."""
    return html_table(report.summary(), report.columns, report.rows())

"""Every number of one training step, with the formula it comes from.

:func:`trace` runs one point (or a few) through the forward pass, the cost, backpropagation,
the input-gradient recursion (for a scalar output) and one gradient step, in the notation and
order of Higham & Higham (SIAM Review, 2019, sections 4 and 5)::

    a^[1] = x,  z^[l] = W^[l] a^[l-1] + b^[l],  a^[l] = σ(z^[l]),  D^[l] = diag(σ'(z^[l]))
    C = (1/N) Σ_x C_x,  δ^[L] = D^[L] ∂C_x/∂a^[L],  δ^[l] = D^[l] (W^[l+1])ᵀ δ^[l+1]
    ∂C/∂W^[l] = (1/N) Σ_k δ^[l](x^{k}) (a^[l-1](x^{k}))ᵀ,  ∂C/∂b^[l] = (1/N) Σ_k δ^[l](x^{k})
    Δ^[L] = 1,  Δ^[l-1] = (W^[l])ᵀ D^[l] Δ^[l],  ∇a^[L](x) = Δ^[1]
    η ∂C/∂W^[l], η ∂C/∂b^[l];  W^[l] ← W^[l] − η ∂C/∂W^[l],  b^[l] ← b^[l] − η ∂C/∂b^[l]

The numbers are those of the reference code itself (:meth:`MLP.forward`, :meth:`MLP.backward`,
:meth:`MLP.input_gradient_recursion`, :class:`mlplab.SGD`); this module only collects and
prints them. A :class:`Trace` prints as a text table and renders as Markdown with LaTeX, as
HTML (shown by Jupyter) and as JSON-ready plain values.

Vectors of N points are shown as the paper writes them, one column per point (n_l × N); in
:meth:`Trace.to_dict` and ``trace[symbol]`` they keep mlplab's array shapes, one row per point
(N, n_l). ``D^[l]`` is held as its diagonal σ'(z^[l]). C_x is the cost at the point x alone,
so that ∂C_x/∂a^[L] and δ^[l] are those of each point, as the paper writes them; class labels
are shown as the one-hot y they stand for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlplab.activations import get_activation
from mlplab.display import symbols_html
from mlplab.losses import Loss, get_loss
from mlplab.optim import SGD
from mlplab.values import as_array, as_real

if TYPE_CHECKING:
    from mlplab.network import MLP

#: Section titles, in the order a trace lists them.
STAGES = {
    "forward": "Forward pass",
    "cost": "Cost",
    "backward": "Backward pass",
    "input_gradient": "Input gradient (n_L = 1)",
    "step": "Gradient step",
}

# The LaTeX written here holds no backslash before a punctuation character (no \\ between
# matrix rows, no \, for a thin space): GitHub applies Markdown's backslash escapes inside
# $...$ and $$...$$, which turn \\ into \ and \, into a comma. Rows end with \cr and a thin
# space is \thinspace, read alike by MathJax (GitHub, Jupyter) and KaTeX.

#: The formula of a quantity that is given, not computed (W^[l], b^[l], y).
GIVEN = "given"

# C_x, the cost at one point x (C = (1/N) Σ_x C_x: every mlplab loss is a mean over the points),
# and ∂C_x/∂a^[L] of the built-in losses (plain text, LaTeX); others are named only.
_LOSS_FORMULAS = {
    "half_sse": (
        "½‖y − a^[L]‖²",
        r"\tfrac12 \lVert y - a^{[L]} \rVert_2^2",
        "a^[L] − y",
        r"a^{[L]} - y",
    ),
    "mse": (
        "(1/n_L) ‖a^[L] − y‖²",
        r"\frac{1}{n_L} \lVert a^{[L]} - y \rVert_2^2",
        "2 (a^[L] − y) / n_L",
        r"\frac{2}{n_L}\left(a^{[L]} - y\right)",
    ),
    "cross_entropy": (
        "−yᵀ log softmax(a^[L])",
        r"-y^{T} \log \operatorname{softmax}(a^{[L]})",
        "softmax(a^[L]) − y",
        r"\operatorname{softmax}(a^{[L]}) - y",
    ),
    "bce": (
        "−(1/n_L) Σ [y log a^[L] + (1 − y) log(1 − a^[L])]",
        r"-\frac{1}{n_L}\sum \left[y \log a^{[L]} + (1-y)\log(1-a^{[L]})\right]",
        "(a^[L] − y) / (a^[L] (1 − a^[L]) n_L)",
        r"\frac{a^{[L]} - y}{a^{[L]}(1-a^{[L]})\thinspace n_L}",
    ),
    "bce_logits": (
        "(1/n_L) Σ [log(1 + exp a^[L]) − y a^[L]]",
        r"\frac{1}{n_L}\sum \left[\log(1+e^{a^{[L]}}) - y\thinspace a^{[L]}\right]",
        "(sigmoid(a^[L]) − y) / n_L",
        r"\frac{1}{n_L}\left(\operatorname{sigmoid}(a^{[L]}) - y\right)",
    ),
}

#: The built-in losses in words, for text a student reads (others go by their name).
LOSS_NAMES = {
    "half_sse": "half the squared error, as in the paper",
    "mse": "the mean squared error",
    "cross_entropy": "the cross-entropy of the softmax of the outputs",
    "bce": "the binary cross-entropy of the outputs",
    "bce_logits": "the binary cross-entropy of the sigmoid of the outputs",
}

# σ' of the activations whose derivative reads well in a, σ(z) (plain text, LaTeX).
_DERIVATIVES = {
    "sigmoid": ("a^[l] ∘ (1 − a^[l])", r"a^{[l]} \circ (1 - a^{[l]})"),
    "tanh": ("1 − a^[l] ∘ a^[l]", r"1 - a^{[l]} \circ a^{[l]}"),
    "relu": ("1 where z^[l] > 0, else 0", r"\mathbb{1}[z^{[l]} > 0]"),
    "identity": ("1", "1"),
}


@dataclass(frozen=True)
class Entry:
    """One quantity of a trace.

    Attributes
    ----------
    stage : str
        A key of :data:`STAGES`.
    symbol, tex : str
        Its name in plain text (``"z^[2]"``) and in LaTeX (``"z^{[2]}"``).
    formula, formula_tex : str
        What it is computed from, in plain text and LaTeX (right-hand side only).
    value : ndarray
        Its value in mlplab's shapes: ``(N, n_l)`` for vectors of N points, ``(n_l, n_{l-1})``
        for W^[l] and ∂C/∂W^[l], ``(n_l,)`` for b^[l] and ∂C/∂b^[l], ``()`` for C.
    kind : {"points", "matrix", "vector", "diagonal", "scalar"}
        How it is laid out: ``"points"`` and ``"diagonal"`` are one column (one diagonal) per point.
    where, where_tex : str
        What a symbol of the formula stands for (``"σ = sigmoid"``), in plain text and LaTeX;
        written after the value, so that it is not read as part of the chain of equalities.
        Empty where the formula needs none.
    """

    stage: str
    symbol: str
    tex: str
    formula: str
    formula_tex: str
    value: np.ndarray
    kind: str
    where: str = ""
    where_tex: str = ""

    def formula_text(self) -> str:
        """The formula with what its symbols stand for: ``"σ(z^[2]), where σ = sigmoid"``."""
        return f"{self.formula}, where {self.where}" if self.where else self.formula

    def columns(self) -> np.ndarray:
        """The value as the paper writes it: a 2-D array (rows × columns)."""
        v = np.asarray(self.value, dtype=float)
        if self.kind in ("points", "diagonal"):
            return v.T
        if self.kind == "vector":
            return v.reshape(-1, 1)
        if self.kind == "scalar":
            return v.reshape(1, 1)
        return v


def _listing(names: list[str]) -> str:
    """``"W^[2]"``, ``"W^[2] and b^[2]"``, ``"W^[3], b^[3] and W^[2]"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _number(v: float, digits: int) -> str:
    """``v`` to ``digits`` significant digits, without a sign on zero."""
    if v == 0.0:
        return "0"
    return f"{v:.{digits}g}"


def _tex_number(v: float, digits: int) -> str:
    text = _number(v, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


class Trace:
    """Every quantity of one forward pass, backward pass, input gradient and gradient step.

    Made by :func:`trace` (or :meth:`MLP.trace`). Index it by symbol (``t["δ^[3]"]``,
    ``t["W^[2]_new"]``) for the value in mlplab's shapes; print it for a text table; render it
    with :meth:`to_markdown`, :meth:`to_html` or :meth:`to_dict`.

    Attributes
    ----------
    entries : list of Entry
        In the paper's order.
    sizes : list of int
    activations : list of str
        σ of layers 2..L.
    loss : str
    lr : float
        η of the step.
    cost : float
        C at the points before the step.
    notes : list of str
        What the trace leaves out and why (e.g. Δ^[l] for n_L > 1), each a sentence with its
        full stop.
    """

    def __init__(
        self,
        entries: list[Entry],
        sizes: list[int],
        activations: list[str],
        loss: str,
        lr: float,
        notes: list[str],
    ) -> None:
        self.entries = entries
        self.sizes = sizes
        self.activations = activations
        self.loss = loss
        self.lr = lr
        self.notes = notes
        self.cost = float(self["C"])

    def entry(self, symbol: str) -> Entry:
        """The :class:`Entry` named ``symbol`` (e.g. ``"δ^[3]"``)."""
        for entry in self.entries:
            if entry.symbol == symbol:
                return entry
        raise KeyError(f"no quantity {symbol!r} in this trace; it has {', '.join(self.symbols())}")

    def __getitem__(self, symbol: str) -> np.ndarray:
        return self.entry(symbol).value

    def symbols(self) -> list[str]:
        """The plain-text symbols of every entry, in order."""
        return [entry.symbol for entry in self.entries]

    def _stages(self) -> list[tuple[str, list[Entry]]]:
        return [
            (title, [e for e in self.entries if e.stage == key])
            for key, title in STAGES.items()
            if any(e.stage == key for e in self.entries)
        ]

    @property
    def n_points(self) -> int:
        """N, the number of points traced."""
        return int(self["a^[1]"].shape[0])

    def header(self) -> str:
        """One line: the network, the loss, η and N."""
        sigma = ", ".join(f"σ_{i + 2} = {name}" for i, name in enumerate(self.activations))
        return (
            f"network {'-'.join(map(str, self.sizes))} ({sigma}), loss {self.loss}, "
            f"η = {self.lr:g}, N = {self.n_points} point{'s' if self.n_points != 1 else ''}"
        )

    # --- text --------------------------------------------------------------------------------

    def to_text(self, digits: int = 6, width: int = 120) -> str:
        """The trace as a terminal table (quantity, formula, value), one section per stage.

        The table fits in ``width`` characters: the formulas wrap, and a value of many columns
        shows fewer of them (its first and last, as a wide one does) where all would not fit.
        No number is cut: a value wider than ``width`` even so widens the table.
        """
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # every symbol and stage title fits (but "Input gradient (n_L = 1)", on two lines); the
        # formulas wrap, down to FORMULA_WIDTH; borders and padding take 10 characters
        quantity = max(14, *(len(entry.symbol) for entry in self.entries))
        room = width - quantity - FORMULA_WIDTH - 10
        stages = [
            (title, [(e, _text_value(e, digits, room)) for e in entries])
            for title, entries in self._stages()
        ]
        values = [value for _, rows in stages for _, value in rows]
        widest = max(len(line) for value in values for line in value.splitlines())
        formula = min(
            max(len(e.formula_text()) for e in self.entries),
            max(FORMULA_WIDTH, width - quantity - widest - 10),
        )
        table = Table(title=self.header(), show_lines=False, title_justify="left")
        table.add_column("quantity", width=quantity)
        table.add_column("formula", width=formula, overflow="fold")
        table.add_column("value", width=widest, no_wrap=True)
        for title, rows in stages:
            table.add_section()
            table.add_row(Text(title, style="bold"), "", "")
            for entry, value in rows:
                table.add_row(Text(entry.symbol), Text(entry.formula_text()), Text(value))
        width = max(width, quantity + formula + widest + 10)
        console = Console(width=width, record=True, file=_Discard(), color_system=None)
        console.print(table)
        for note in self.shown_notes(digits):
            console.print(Text(f"Note: {note}"))
        return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<Trace of {self.header()}>"

    # --- Markdown with LaTeX -----------------------------------------------------------------

    def to_markdown(self, digits: int = 6) -> str:
        """The trace as Markdown: one display equation per quantity, symbol = formula = value."""
        lines = [f"**{self.header()}**", ""]
        for title, entries in self._stages():
            lines += [f"### {title}", ""]
            for entry in entries:
                lines += [f"$$ {self.latex(entry.symbol, digits)} $$", ""]
        for note in self.shown_notes(digits):  # one quote each: lines in a row would merge
            lines += [f"> Note: {note}", ""]
        return "\n".join(lines).rstrip() + "\n"

    def latex(self, symbol: str, digits: int = 6, formula: bool = True) -> str:
        """One quantity as a LaTeX equation: symbol = formula = value, then what the formula's
        symbols stand for (``, where σ = sigmoid``); a given quantity is symbol = value (given).
        With ``formula=False``: symbol = value."""
        entry = self.entry(symbol)
        value = _tex_matrix(entry, digits)
        if not formula:
            return f"{entry.tex} = {value}"
        if entry.formula == GIVEN:
            return rf"{entry.tex} = {value} \quad \text{{(given)}}"
        where = rf", \quad \text{{where }} {entry.where_tex}" if entry.where_tex else ""
        return f"{entry.tex} = {entry.formula_tex} = {value}{where}"

    def shown_notes(self, digits: int) -> list[str]:
        """:attr:`notes`, and one more where the step changes some W^[l] or b^[l] below
        ``digits`` significant digits, so that its new value prints as the old one."""
        hidden, largest = [], 0.0
        for entry in self.entries:
            if entry.symbol.endswith("_new"):
                old = self.entry(entry.symbol.removesuffix("_new"))
                step = self.entry(f"η ∂C/∂{old.symbol}").value
                if np.any(step) and _printed(entry, digits) == _printed(old, digits):
                    hidden.append(old.symbol)
                    largest = max(largest, float(np.max(np.abs(step))))
        if not hidden:
            return list(self.notes)
        return [
            *self.notes,
            f"the step changes {_listing(hidden)} by at most {largest:.1e}, below the {digits} "
            f"significant digits shown, so the new value{'s' if len(hidden) > 1 else ''} print"
            f"{'' if len(hidden) > 1 else 's'} as the old: the rows η ∂C/∂W^[l] and η ∂C/∂b^[l] "
            "show the change.",
        ]

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    # --- HTML --------------------------------------------------------------------------------

    def to_html(self, digits: int = 6, full: bool = False) -> str:
        """The trace as an HTML table; ``full=True`` gives a whole page with its styles."""
        rows = []
        for title, entries in self._stages():
            rows.append(f'<tr class="stage"><th colspan="3">{_html(title)}</th></tr>')
            for entry in entries:
                rows.append(
                    f"<tr><td class='symbol'>{_html(entry.symbol)}</td>"
                    f"<td class='formula'>{_html(entry.formula_text())}</td>"
                    f"<td>{_html_matrix(entry, digits)}</td></tr>"
                )
        notes = "".join(f"<p>Note: {_html(n)}</p>" for n in self.shown_notes(digits))
        body = (
            f'<div class="mlplab-trace"><style>{_CSS}</style>'
            f"<p><b>{_html(self.header())}</b></p>"
            "<table><thead><tr><th>quantity</th><th>formula</th><th>value</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{notes}</div>"
        )
        if not full:
            return body
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>mlplab trace</title></head><body>{body}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    # --- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain values for JSON: the setting and every entry (values as nested lists of floats)."""
        return {
            "sizes": list(self.sizes),
            "activations": list(self.activations),
            "loss": self.loss,
            "lr": float(self.lr),
            "n_points": self.n_points,
            "cost": self.cost,
            "entries": [
                {
                    "stage": e.stage,
                    "symbol": e.symbol,
                    "tex": e.tex,
                    "formula": e.formula,
                    "formula_tex": e.formula_tex,
                    "where": e.where,
                    "kind": e.kind,
                    "shape": list(np.shape(e.value)),
                    "value": np.asarray(e.value, dtype=float).tolist(),
                }
                for e in self.entries
            ],
            "notes": list(self.notes),
        }


class _Discard:
    """A file that drops what is written (the text is taken from rich's record)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


_CSS = (
    ".mlplab-trace table{border-collapse:collapse;font-size:13px}"
    ".mlplab-trace td,.mlplab-trace th{padding:3px 8px;text-align:left;vertical-align:middle;"
    "border-bottom:1px solid #ddd}"
    ".mlplab-trace tr.stage th{background:#eef2f7;padding-top:6px}"
    ".mlplab-trace td.symbol{font-weight:bold;white-space:nowrap}"
    ".mlplab-trace table.m{display:inline-table;vertical-align:middle;border-left:1px solid #333;"
    "border-right:1px solid #333;border-radius:4px;font-family:monospace}"
    ".mlplab-trace .n{font-family:monospace}"
    ".mlplab-trace table.m td{border:none;padding:0 6px;text-align:right}"
)


def _html(text: str) -> str:
    """Plain-text notation in HTML (:func:`~mlplab.display.symbols_html`), with the point's
    index of ``C_x``, ``Σ_k`` and ``x^{k}`` as a sub- or superscript."""
    text = re.sub(r"\^\{(\w+)\}", r"<sup>{\1}</sup>", symbols_html(text))
    return re.sub(r"(?<=[CΣ])_([xk])\b", r"<sub>\1</sub>", text)


def _printed(entry: Entry, digits: int) -> list[str]:
    """Every number of ``entry`` as the trace prints it."""
    return [_number(float(v), digits) for v in np.ravel(entry.columns())]


#: The text table shows a matrix of more than 2 e + 1 rows (columns) by its first and last e,
#: with ⋮ (…) between them: e = 3 rows and at most 2 columns, so that a row of numbers leaves
#: the formula column room in a terminal (1 column where 2 would not fit).
TEXT_EDGE_ROWS, TEXT_EDGE_COLUMNS = 3, 2
#: The narrowest the text table's formula column gets, in characters (its text wraps).
FORMULA_WIDTH = 10


def _shown(n: int, edge: int) -> list[int | None]:
    """The indices of n rows (columns) that the text table shows; None where it leaves some out."""
    if n <= 2 * edge + 1:
        return list(range(n))
    return [*range(edge), None, *range(n - edge, n)]


def _cell(m: np.ndarray, i: int | None, j: int | None, digits: int) -> str:
    if i is None:
        return "⋱" if j is None else "⋮"
    return "…" if j is None else _number(float(m[i, j]), digits)


def _text_value(entry: Entry, digits: int, room: int) -> str:
    """The value of ``entry`` as the text table shows it: with as many of its columns as fit in
    ``room`` characters (``TEXT_EDGE_COLUMNS`` each side), or else one each side."""
    text = _text_matrix(entry, digits)
    if max(len(line) for line in text.splitlines()) <= room:
        return text
    return _text_matrix(entry, digits, 1)


def _text_matrix(entry: Entry, digits: int, edge_columns: int = TEXT_EDGE_COLUMNS) -> str:
    m = entry.columns()
    if entry.kind == "scalar":
        return _number(float(m[0, 0]), digits)
    rows, cols = _shown(m.shape[0], TEXT_EDGE_ROWS), _shown(m.shape[1], edge_columns)
    cells = [[_cell(m, i, j, digits) for j in cols] for i in rows]
    width = max(len(c) for row in cells for c in row)
    body = ["  ".join(c.rjust(width) for c in row) for row in cells]
    n, points = m.shape
    if entry.kind == "diagonal":
        body = [f"diag {line}" if i == 0 else f"     {line}" for i, line in enumerate(body)]
        if points > 1:
            body.append("(one diagonal per column)")
    elif len(body) == 1:
        body = [f"[ {body[0]} ]"]
    else:
        body = [
            ("⎡ " if i == 0 else "⎣ " if i == len(body) - 1 else "⎢ ")
            + line
            + (" ⎤" if i == 0 else " ⎦" if i == len(body) - 1 else " ⎥")
            for i, line in enumerate(body)
        ]
    if None in rows or None in cols:
        if entry.kind == "diagonal":
            size = f"{n} entries" + (f", {points} points" if points > 1 else "")
        else:
            size = f"{n} × {points}"
        body.append(f"({size}, shown in part)")
    return "\n".join(body)


def _tex_matrix(entry: Entry, digits: int) -> str:
    m = entry.columns()
    if entry.kind == "scalar":
        return _tex_number(float(m[0, 0]), digits)
    if entry.kind == "diagonal" and m.shape[1] == 1:
        diagonal = ", ".join(_tex_number(float(v), digits) for v in m[:, 0])
        return rf"\operatorname{{diag}}\left({diagonal}\right)"
    rows = [" & ".join(_tex_number(float(v), digits) for v in row) for row in m]
    matrix = r"\begin{pmatrix} " + r" \cr ".join(rows) + r" \end{pmatrix}"
    if entry.kind == "diagonal":
        return rf"\operatorname{{diag}}\text{{ of each column of }} {matrix}"
    return matrix


def _html_matrix(entry: Entry, digits: int) -> str:
    m = entry.columns()
    if entry.kind == "scalar":
        return f'<span class="n">{_number(float(m[0, 0]), digits)}</span>'
    rows = "".join(
        "<tr>" + "".join(f"<td>{_number(float(v), digits)}</td>" for v in row) + "</tr>"
        for row in m
    )
    prefix = ""
    if entry.kind == "diagonal":
        prefix = "diag " if m.shape[1] == 1 else "diag of each column of "
    return f'{prefix}<table class="m">{rows}</table>'


def _symbol_tex(symbol: str) -> str:
    """A trace symbol in LaTeX: ``z^[2]`` → ``z^{[2]}``, ``∂C/∂W^[3]`` → a fraction, ``_new``."""
    if symbol.startswith("η "):
        return rf"\eta {_symbol_tex(symbol[2:])}"
    tex = re.sub(r"\^\[(\w+)\]", r"^{[\1]}", symbol)
    tex = tex.replace("δ", r"\delta").replace("Δ", r"\Delta")
    if tex.startswith("∂C/∂"):
        tex = rf"\frac{{\partial C}}{{\partial {tex[4:]}}}"
    elif tex.startswith("∂C_x/∂"):
        tex = rf"\frac{{\partial C_x}}{{\partial {tex[6:]}}}"
    return tex.replace("_new", r"_{\text{new}}")


def _gradient_formulas(k: int, n_points: int) -> tuple[str, str, str, str]:
    """∂C/∂W^[k] and ∂C/∂b^[k] from the δ^[k] of each point (plain text, LaTeX of each):
    ``δ^[k] (a^[k-1])ᵀ`` for one point, the mean over the points x^{1}, ..., x^{N} for more."""
    if n_points == 1:
        return (
            f"δ^[{k}] (a^[{k - 1}])ᵀ",
            rf"\delta^{{[{k}]}} (a^{{[{k - 1}]}})^T",
            f"δ^[{k}]",
            rf"\delta^{{[{k}]}}",
        )
    point = r"(x^{\lbrace k\rbrace})"
    mean = r"\frac{1}{N}\sum_{k=1}^{N} "
    return (
        f"(1/N) Σ_k δ^[{k}](x^{{k}}) (a^[{k - 1}](x^{{k}}))ᵀ",
        rf"{mean}\delta^{{[{k}]}}{point} \left(a^{{[{k - 1}]}}{point}\right)^T",
        f"(1/N) Σ_k δ^[{k}](x^{{k}})",
        rf"{mean}\delta^{{[{k}]}}{point}",
    )


def _points(net: MLP, x: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as arrays of N rows; a 1-D ``x`` of length n_1 is one point."""
    x = as_real(x, net.dtype, "x")
    if x.ndim == 1 and x.shape[0] == net.sizes[0]:
        x = x.reshape(1, -1)
    X = net.check_input(x, "x")
    y = as_array(y, "y")
    if y.ndim == 1 and X.shape[0] == 1 and not (loss.integer_targets and y.shape[0] == 1):
        y = y.reshape(1, -1)
    elif y.ndim == 0:
        y = y.reshape(1)
    return X, net.check_target(y, loss, X.shape[0], "y")


def default_output_activation(activation: str, loss: str | Loss) -> str:
    """σ of the output layer where none is given: what the loss needs, or else the paper's.

    The losses on logits (cross_entropy, bce_logits) take the raw outputs (identity), bce takes
    probabilities (sigmoid); for the others the output layer has the hidden layers' σ where that
    is sigmoid or tanh, as in the paper, and identity otherwise (a ReLU-type output is 0, and
    learns nothing, wherever its z is below 0).

    Parameters
    ----------
    activation : str
        σ of the hidden layers.
    loss : str or Loss

    Returns
    -------
    str
    """
    name = get_loss(loss).name
    if name in ("cross_entropy", "bce_logits"):
        return "identity"
    if name == "bce":
        return "sigmoid"
    return activation if get_activation(activation).name in ("sigmoid", "tanh") else "identity"


def _one_hot(labels: np.ndarray) -> tuple[str, str, str, str]:
    """The formula of y given as class labels (plain text, LaTeX) and what e_j stands for."""
    units = [int(c) + 1 for c in labels]
    classes = ", ".join(str(int(c)) for c in labels)
    many = len(units) > 1
    text = ", ".join(f"e_{j}" for j in units)
    tex = ", ".join(f"e_{{{j}}}" for j in units)
    return (
        f"({text}) (classes {classes})" if many else f"{text} (class {classes})",
        rf"\left({tex}\right) \text{{ (classes {classes})}}"
        if many
        else rf"{tex} \text{{ (class {classes})}}",
        "e_j is 1 in entry j and 0 elsewhere; classes count from 0",
        r"e_j \text{ is 1 in entry } j \text{ and 0 elsewhere; classes count from 0}",
    )


def trace(
    net: MLP,
    x: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "half_sse",
    lr: float = 0.05,
) -> Trace:
    """Run one gradient step of ``net`` on the point(s) ``x`` and keep every number.

    The network itself is not changed; the step's new W^[l], b^[l] are in the trace. As in the
    paper, ∂C_x/∂a^[L] and δ^[l] are those of each point x (the cost C_x at x alone), and the
    gradients of C = (1/N) Σ_x C_x are their mean:
    ∂C/∂W^[l] = (1/N) Σ_k δ^[l](x^{k}) (a^[l-1](x^{k}))ᵀ.

    Parameters
    ----------
    net : MLP
    x : ndarray, shape (n_1,) for one point or (N, n_1)
        A 1-D ``x`` of length n_1 is one point (for n_1 = 1, a 1-D ``x`` is N points).
    y : ndarray, shape (n_L,) for one point or (N, n_L); (N,) integer labels for cross-entropy
        Labels are shown as the one-hot vectors y that the formulas take.
    loss : str or Loss, default "half_sse"
        The paper's cost (1/N) Σ ½‖y − a^[L]‖² by default.
    lr : float, default 0.05
        η of the step (the paper's value).

    Returns
    -------
    Trace
    """
    loss = get_loss(loss)
    X, Y = _points(net, x, y, loss)
    N, L = X.shape[0], net.L
    cache = net.forward(X)
    cost = loss.value(cache.output, Y)
    dC_da = loss.grad(cache.output, Y)
    # every mlplab loss is a mean over the points: the point x's own C_x has N times its row
    dCx_da = N * dC_da
    net.backward(cache, dCx_da)
    deltas = cache.delta  # per point, as the paper's δ^[l](x)
    grad = np.empty_like(net.params)
    gW, gb = net.backward(cache, dC_da, out=grad)  # the gradient of C itself, as training takes
    entries: list[Entry] = []

    def add(
        stage: str, symbol: str, formula: str, tex: str, value, kind: str, where=("", "")
    ) -> None:
        entries.append(Entry(stage, symbol, _symbol_tex(symbol), formula, tex, value, kind, *where))

    columns = (
        (
            "column k is the point x^{k}",
            r"\text{column } k \text{ is the point } x^{\lbrace k\rbrace}",
        )
        if N > 1
        else ("", "")
    )
    add("forward", "a^[1]", "x", "x", cache.a[0], "points", columns)
    for i, act in enumerate(net.activations):
        k, j = i + 2, i + 1  # layer l = k and the one before it
        add("forward", f"W^[{k}]", GIVEN, r"\text{given}", net.weights[i].copy(), "matrix")
        add("forward", f"b^[{k}]", GIVEN, r"\text{given}", net.biases[i].copy(), "vector")
        z_text, z_tex = f"W^[{k}] a^[{j}] + b^[{k}]", f"W^{{[{k}]}} a^{{[{j}]}} + b^{{[{k}]}}"
        each = (
            (f"b^[{k}] is added to each column", rf"b^{{[{k}]}} \text{{ is added to each column}}")
            if N > 1
            else ("", "")
        )
        add("forward", f"z^[{k}]", z_text, z_tex, cache.z[i], "points", each)
        sigma = (f"σ = {act.name}", rf"\sigma = \text{{{act.name}}}")
        a_text, a_tex = f"σ(z^[{k}])", rf"\sigma(z^{{[{k}]}})"
        add("forward", f"a^[{k}]", a_text, a_tex, cache.a[i + 1], "points", sigma)
        text, tex = f"diag(σ'(z^[{k}]))", rf"\operatorname{{diag}}(\sigma'(z^{{[{k}]}}))"
        if act.name in _DERIVATIVES:  # σ'(z^[l]) written in a^[l] or z^[l]
            d_text, d_tex = _DERIVATIVES[act.name]
            text += f" = diag({d_text.replace('[l]', f'[{k}]')})"
            tex += rf" = \operatorname{{diag}}({d_tex.replace('{[l]}', f'{{[{k}]}}')})"
        add("forward", f"D^[{k}]", text, tex, act.df(cache.z[i]), "diagonal", sigma)

    if loss.name in _LOSS_FORMULAS:
        cx_text, cx_tex, g_text, g_tex = (
            f.replace("[L]", f"[{L}]") for f in _LOSS_FORMULAS[loss.name]
        )
        c_text, c_tex = "(1/N) Σ_x C_x", r"\frac{1}{N}\sum_x C_x"
        c_where = (f"C_x = {cx_text}", f"C_x = {cx_tex}")
    else:
        c_text, c_tex = f"{loss.name}(a^[{L}], y)", rf"\text{{{loss.name}}}(a^{{[{L}]}}, y)"
        c_where = ("", "")
        g_text, g_tex = f"N ∂C/∂a^[{L}]", rf"N {_symbol_tex(f'∂C/∂a^[{L}]')}"
    if loss.integer_targets and Y.ndim == 1:  # class labels: the one-hot y the formulas take
        text, tex, where, where_tex = _one_hot(Y)
        add("cost", "y", text, tex, loss.prepare(cache.output, Y), "points", (where, where_tex))
    else:
        add("cost", "y", GIVEN, r"\text{given}", Y, "points")
    add("cost", "C", c_text, c_tex, np.asarray(cost), "scalar", c_where)
    add("cost", f"∂C_x/∂a^[{L}]", g_text, g_tex, dCx_da, "points")

    for i in range(len(net.weights) - 1, -1, -1):
        k = i + 2
        if k == L:
            text, tex = f"D^[{L}] ∂C_x/∂a^[{L}]", rf"D^{{[{L}]}} {_symbol_tex(f'∂C_x/∂a^[{L}]')}"
        else:
            text = f"D^[{k}] (W^[{k + 1}])ᵀ δ^[{k + 1}]"
            tex = rf"D^{{[{k}]}} (W^{{[{k + 1}]}})^T \delta^{{[{k + 1}]}}"
        add("backward", f"δ^[{k}]", text, tex, deltas[i], "points")
    for i in range(len(net.weights) - 1, -1, -1):
        k = i + 2
        W_text, W_tex, b_text, b_tex = _gradient_formulas(k, N)
        add("backward", f"∂C/∂W^[{k}]", W_text, W_tex, gW[i].copy(), "matrix")
        add("backward", f"∂C/∂b^[{k}]", b_text, b_tex, gb[i].copy(), "vector")

    notes = []
    if net.sizes[-1] == 1:
        Delta = net.input_gradient_recursion(cache)
        add("input_gradient", f"Δ^[{L}]", "1", "1", Delta[-1], "points")
        for i in range(L - 2, -1, -1):
            k = i + 1
            text = f"(W^[{k + 1}])ᵀ D^[{k + 1}] Δ^[{k + 1}]"
            tex = rf"(W^{{[{k + 1}]}})^T D^{{[{k + 1}]}} \Delta^{{[{k + 1}]}}"
            if k == 1:
                text += f" = ∇a^[{L}](x)"
                tex += rf" = \nabla a^{{[{L}]}}(x)"
            add("input_gradient", f"Δ^[{k}]", text, tex, Delta[i], "points")
    else:
        notes.append(
            f"the input-gradient recursion Δ^[l] needs a scalar output (n_L = 1); this network "
            f"has n_L = {net.sizes[-1]} (net.input_jacobian(x) gives the Jacobian)."
        )

    params = net.params.copy()
    SGD(lr=lr).step(params, grad)
    new_W, new_b = net.unflatten(params)
    for i in range(len(net.weights) - 1, -1, -1):
        k = i + 2
        for name, value, gradient, kind in (
            ("W", new_W[i], gW[i], "matrix"),
            ("b", new_b[i], gb[i], "vector"),
        ):
            partial = f"∂C/∂{name}^[{k}]"
            add("step", f"η {partial}", f"{lr:g} {partial}",
                rf"{lr:g} {_symbol_tex(partial)}", lr * gradient, kind)  # fmt: skip
            text = f"{name}^[{k}] − η {partial}"
            tex = rf"{name}^{{[{k}]}} - \eta {_symbol_tex(partial)}"
            add("step", f"{name}^[{k}]_new", text, tex, value, kind)
    return Trace(
        entries, list(net.sizes), [a.name for a in net.activations], loss.name, float(lr), notes
    )

"""The trace of one step: the reference numbers, a published worked example, every rendering."""

from __future__ import annotations

import html
import json
import re
from functools import partial
from html.parser import HTMLParser

import numpy as np
import pytest

from mlplab import MLP
from mlplab.exercise import make_exercise


def mazur_network() -> MLP:
    """The 2-2-2 sigmoid network of M. Mazur, "A step by step backpropagation example" (2015).

    h1 = σ(w1 i1 + w2 i2 + b1), h2 = σ(w3 i1 + w4 i2 + b1), o1 = σ(w5 h1 + w6 h2 + b2),
    o2 = σ(w7 h1 + w8 h2 + b2).
    """
    net = MLP([2, 2, 2], activation="sigmoid", output_activation="sigmoid")
    net.weights[0][...] = [[0.15, 0.20], [0.25, 0.30]]
    net.biases[0][...] = 0.35
    net.weights[1][...] = [[0.40, 0.45], [0.50, 0.55]]
    net.biases[1][...] = 0.60
    return net


def mazur_trace():
    return mazur_network().trace([0.05, 0.10], [0.01, 0.99], loss="half_sse", lr=0.5)


def assert_printed(value: float, printed: str) -> None:
    """``value`` agrees with a number printed to its last digit (within half a unit of it)."""
    decimals = len(printed.split(".")[1])
    assert abs(value - float(printed)) <= 0.5 * 10.0**-decimals, (value, printed)


def test_the_published_step_by_step_example_to_its_printed_digits():
    t = mazur_trace()
    assert_printed(t["z^[2]"][0, 0], "0.3775")  # net_h1
    assert_printed(t["a^[2]"][0, 0], "0.593269992")  # out_h1
    assert_printed(t["a^[2]"][0, 1], "0.596884378")  # out_h2
    assert_printed(t["z^[3]"][0, 0], "1.105905967")  # net_o1
    assert_printed(t["a^[3]"][0, 0], "0.75136507")  # out_o1
    assert_printed(t["a^[3]"][0, 1], "0.772928465")  # out_o2
    assert_printed(t.cost, "0.298371109")  # E_total
    assert_printed(t["δ^[3]"][0, 0], "0.138498562")  # ∂E/∂net_o1
    assert_printed(t["∂C/∂W^[3]"][0, 0], "0.082167041")  # ∂E/∂w5
    assert_printed(t["∂C/∂W^[2]"][0, 0], "0.000438568")  # ∂E/∂w1
    new_W3, new_W2 = t["W^[3]_new"], t["W^[2]_new"]
    for value, printed in zip(
        new_W3.ravel(), ["0.35891648", "0.408666186", "0.511301270", "0.561370121"], strict=True
    ):
        assert_printed(value, printed)  # w5+, w6+, w7+, w8+
    for value, printed in zip(
        new_W2.ravel(), ["0.149780716", "0.19956143", "0.24975114", "0.29950229"], strict=True
    ):
        assert_printed(value, printed)  # w1+, w2+, w3+, w4+


def test_values_are_the_reference_forward_backward_and_step(rng):
    net = MLP([3, 4, 5, 1], activation="tanh", bias_init="normal:0,0.5", seed=3)
    before = net.params.copy()
    X = rng.standard_normal((4, 3))
    y = rng.standard_normal((4, 1))
    t = net.trace(X, y, loss="mse", lr=0.3)
    np.testing.assert_array_equal(net.params, before)  # the network itself is not stepped
    cache = net.forward(X)
    dC_da = 2.0 * (cache.output - y) / y.size
    gW, gb = net.backward(cache, dC_da)
    Delta = net.input_gradient_recursion(cache)
    # the paper's δ of each point x, from C_x = (1/n_L)‖a^[L] − y‖² at x alone
    dCx_da = 2.0 * (cache.output - y) / y.shape[1]
    delta = [np.empty(0)] * len(net.weights)
    delta[-1] = net.activations[-1].df(cache.z[-1]) * dCx_da
    for i in range(len(net.weights) - 2, -1, -1):
        delta[i] = net.activations[i].df(cache.z[i]) * (delta[i + 1] @ net.weights[i + 1])

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)

    close(t["a^[1]"], X)
    close(t["C"], np.mean((cache.output - y) ** 2))
    close(t["∂C_x/∂a^[4]"], dCx_da)
    for i, act in enumerate(net.activations):
        k = i + 2
        close(t[f"W^[{k}]"], net.weights[i])
        close(t[f"b^[{k}]"], net.biases[i])
        close(t[f"z^[{k}]"], cache.z[i])
        close(t[f"a^[{k}]"], cache.a[i + 1])
        close(t[f"D^[{k}]"], act.df(cache.z[i]))
        close(t[f"δ^[{k}]"], delta[i])
        close(t[f"∂C/∂W^[{k}]"], gW[i])  # the numbers of training's gradient, as before
        close(t[f"∂C/∂b^[{k}]"], gb[i])
        # ∂C/∂W^[l] = (1/N) Σ_k δ^[l](x^{k}) (a^[l-1](x^{k}))ᵀ, as the trace writes it
        close(
            t[f"∂C/∂W^[{k}]"],
            np.mean([np.outer(d, a) for d, a in zip(delta[i], cache.a[i], strict=True)], axis=0),
        )
        close(t[f"∂C/∂b^[{k}]"], np.mean(delta[i], axis=0))
        close(t[f"W^[{k}]_new"], net.weights[i] - 0.3 * gW[i])
        close(t[f"b^[{k}]_new"], net.biases[i] - 0.3 * gb[i])
    for i in range(net.L):
        close(t[f"Δ^[{i + 1}]"], Delta[i])
    close(t["Δ^[1]"], net.input_gradient(X))
    close(t["Δ^[1]"], net.input_jacobian(X)[:, 0, :])


def test_entries_come_in_the_papers_order():
    t = MLP([2, 2, 1], activation="sigmoid", seed=0).trace([0.1, 0.2], [1.0])
    assert t.symbols() == [
        "a^[1]",
        *["W^[2]", "b^[2]", "z^[2]", "a^[2]", "D^[2]"],
        *["W^[3]", "b^[3]", "z^[3]", "a^[3]", "D^[3]"],
        *["y", "C", "∂C_x/∂a^[3]"],
        *["δ^[3]", "δ^[2]", "∂C/∂W^[3]", "∂C/∂b^[3]", "∂C/∂W^[2]", "∂C/∂b^[2]"],
        *["Δ^[3]", "Δ^[2]", "Δ^[1]"],
        *["η ∂C/∂W^[3]", "W^[3]_new", "η ∂C/∂b^[3]", "b^[3]_new"],
        *["η ∂C/∂W^[2]", "W^[2]_new", "η ∂C/∂b^[2]", "b^[2]_new"],
    ]
    formulas = {e.symbol: e.formula for e in t.entries}
    assert formulas["z^[3]"] == "W^[3] a^[2] + b^[3]"
    assert formulas["δ^[2]"] == "D^[2] (W^[3])ᵀ δ^[3]"
    assert formulas["Δ^[1]"] == "(W^[2])ᵀ D^[2] Δ^[2] = ∇a^[3](x)"
    assert formulas["D^[2]"] == "diag(σ'(z^[2])) = diag(a^[2] ∘ (1 − a^[2]))"
    assert formulas["a^[2]"] == "σ(z^[2])" and t.entry("a^[2]").where == "σ = sigmoid"
    assert formulas["η ∂C/∂W^[3]"] == "0.05 ∂C/∂W^[3]"


def test_several_points_and_class_labels(rng):
    net = MLP([1, 3, 3], activation="relu", seed=2)
    t = net.trace(np.array([0.5, -0.25]), np.array([2, 0]), loss="cross_entropy", lr=0.1)
    assert t.n_points == 2 and t["a^[1]"].shape == (2, 1)
    formulas = {e.symbol: e.formula for e in t.entries}
    assert formulas["∂C/∂W^[3]"] == "(1/N) Σ_k δ^[3](x^{k}) (a^[2](x^{k}))ᵀ"
    assert formulas["∂C/∂b^[3]"] == "(1/N) Σ_k δ^[3](x^{k})"
    assert "Δ^[1]" not in t.symbols() and "n_L = 3" in t.notes[0]
    expected = net.backward(net.forward([[0.5], [-0.25]]), t["∂C_x/∂a^[3]"] / 2)[0][1]
    np.testing.assert_allclose(t["∂C/∂W^[3]"], expected, rtol=0, atol=1e-15)


def test_bad_points_are_explained():
    net = MLP([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(3,\) .* \(N, 2\)"):
        net.trace([1.0, 2.0, 3.0], [1.0])
    with pytest.raises(ValueError, match="y has shape"):
        net.trace([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="learning rate"):
        net.trace([1.0, 2.0], [1.0], lr=-1)
    # checked as every input is: no part of a complex number dropped, no text parsed
    with pytest.raises(ValueError, match="^x holds complex128 values; give real numbers"):
        net.trace(np.array([1.0 + 1j, 2.0]), [1.0])
    with pytest.raises(ValueError, match="^x holds <U1 values"):
        net.trace(np.array(["1", "2"]), [1.0])
    with pytest.raises(ValueError, match="^y has rows of different lengths"):
        net.trace([[1.0, 2.0], [3.0, 4.0]], [[1.0], [1.0, 2.0]])


# --- renderings ---------------------------------------------------------------------------------


def test_text_table_lists_every_quantity_formula_and_value():
    t = mazur_trace()
    text = t.to_text(digits=9)
    assert text.splitlines()[0] == (
        "network 2-2-2 (σ_2 = sigmoid, σ_3 = sigmoid), loss half_sse, η = 0.5, N = 1 point"
    )
    for title in ("Forward pass", "Cost", "Backward pass", "Gradient step"):
        assert title in text
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[0]:
            rows[cells[0]] = cells
    for entry in t.entries:
        assert rows[entry.symbol][1] == entry.formula_text()
    assert rows["a^[2]"][1] == "σ(z^[2]), where σ = sigmoid"
    assert rows["C"][2] == "0.298371109"
    assert rows["W^[3]_new"][2] == "⎡  0.35891648  0.408666186 ⎤"
    assert "Note: the input-gradient recursion Δ^[l] needs a scalar output" in text
    assert str(t) == t.to_text()


def test_text_table_shows_a_wide_network_in_part_and_keeps_the_formulas():
    net = MLP([1, 64, 64, 1], "tanh", seed=0)
    t = net.trace([0.3], [0.5])
    lines = t.to_text(width=120).splitlines()
    table = [line for line in lines[1:] if not line.startswith("Note")]
    assert all(len(line) <= 120 and line.endswith(("│", "┃", "┓", "┩", "┤", "┘")) for line in table)
    rows = [line for line in table if line.startswith("│ W^[3] ")]
    assert "│ given " in rows[0] and "…" in rows[0]  # 64 columns: the first and last two
    assert any("│ z^[3]" in line and "W^[3] a^[2] + b^[3]" in line for line in table)
    # W^[3], ∂C/∂W^[3], η ∂C/∂W^[3] and W^[3]_new
    assert sum("(64 × 64, shown in part)" in line for line in table) == 4
    assert "⋱" in "\n".join(table) and "shown in part" not in mazur_trace().to_text()


@pytest.mark.parametrize("n_points", [1, 4])
def test_a_matrix_shown_in_part_has_as_many_rows_above_the_dots_as_below(n_points):
    """Every 64-row value of a 1-64-64-1 trace (W^[2], z^[2], a^[2], D^[2], ...) shows its first
    and last TEXT_EDGE_ROWS rows, whatever its kind."""
    from mlplab.trace import TEXT_EDGE_ROWS, _text_matrix

    t = MLP([1, 64, 64, 1], "tanh", seed=0).trace(np.linspace(-1, 1, n_points), np.ones(n_points))
    shown = [e for e in t.entries if e.columns().shape[0] == 64]
    assert {"W^[2]", "z^[2]", "a^[2]", "D^[2]", "δ^[2]", "Δ^[2]"} <= {e.symbol for e in shown}
    for entry in shown:
        # without "(…, shown in part)" and "(one diagonal per column)"
        lines = [line for line in _text_matrix(entry, 6).splitlines() if line[0] != "("]
        dots = next(i for i, line in enumerate(lines) if "⋮" in line)
        assert (dots, len(lines) - dots - 1) == (TEXT_EDGE_ROWS, TEXT_EDGE_ROWS), entry.symbol


@pytest.mark.parametrize("sizes", [[1, 5, 1], [2, 3, 2], [1, 100, 1], [1, 64, 64, 1]])
@pytest.mark.parametrize(("digits", "width"), [(6, 60), (6, 80), (6, 100), (10, 100), (17, 120)])
def test_text_table_never_cuts_a_value_or_a_column(sizes, digits, width):
    from mlplab.trace import TEXT_EDGE_COLUMNS, _text_matrix

    t = MLP(sizes, "tanh", seed=0).trace(np.full(sizes[0], 0.3), np.ones(sizes[-1]))
    lines = t.to_text(digits=digits, width=width).splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    assert lines[top + 1].split() == ["┃", "quantity", "┃", "formula", "┃", "value", "┃"]
    table = lines[top : next(i for i, line in enumerate(lines) if line.startswith("└")) + 1]
    assert all(line.endswith(("│", "┃", "┓", "┩", "┤", "┘")) for line in table)
    text = "\n".join(table)
    for entry in t.entries:
        assert f"│ {entry.symbol} " in text or entry.symbol.startswith("η ")
        # whole: the first and last TEXT_EDGE_COLUMNS columns, or one each where those do not fit
        shown = [_text_matrix(entry, digits, edge) for edge in (TEXT_EDGE_COLUMNS, 1)]
        assert any(all(line in text for line in value.splitlines()) for value in shown)


@pytest.mark.parametrize("width", [80, 100])
def test_text_table_fits_the_terminal_where_its_values_can(width):
    """An 80-column terminal gets lines of at most 80 characters: the formulas wrap, and a wide
    matrix shows fewer of its columns."""
    few = MLP([2, 3, 1], seed=1).trace([[0.5, -0.2], [0.1, 0.3], [0.9, 0.9]], [1.0, 0.0, 1.0])
    wide = MLP([1, 64, 64, 1], "tanh", seed=0).trace([0.3], [0.5])
    for t in (few, wide):
        lines = t.to_text(width=width).splitlines()
        assert max(len(line) for line in lines) <= width
    assert "(64 × 64, shown in part)" in wide.to_text(width=width)


def test_markdown_is_one_equation_per_quantity_with_its_numbers():
    t = mazur_trace()
    md = t.to_markdown(digits=9)
    equations = [line for line in md.splitlines() if line.startswith("$$")]
    assert len(equations) == len(t.entries)
    for line, entry in zip(equations, t.entries, strict=True):
        if entry.formula == "given":  # symbol = value (given)
            assert line.startswith(f"$$ {entry.tex} = ") and line.endswith(r"\text{(given)} $$")
        else:
            assert line.startswith(f"$$ {entry.tex} = {entry.formula_tex} = ")
        assert line.count("{") == line.count("}")
        assert line.count(r"\begin{pmatrix}") == line.count(r"\end{pmatrix}")
    assert (
        r"C = \frac{1}{N}\sum_x C_x = 0.298371109, \quad \text{where } "
        r"C_x = \tfrac12 \lVert y - a^{[3]} \rVert_2^2 $$" in md
    )
    assert (
        r"\begin{pmatrix} 0.35891648 & 0.408666186 \cr 0.51130127 & 0.561370121 \end{pmatrix}" in md
    )
    assert r"\operatorname{diag}\left(0.241300709, 0.240613417\right)" in md
    assert [line for line in md.splitlines() if line.startswith("### ")] == [
        "### Forward pass",
        "### Cost",
        "### Backward pass",
        "### Gradient step",
    ]


#: A math span of Markdown: $$...$$ or $...$.
MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def math_spans(text: str) -> list[str]:
    return [display or inline for display, inline in MATH.findall(text)]


def loss_trace_markdown(loss: str) -> str:
    """The Markdown of a 2-3-2 trace of two points under ``loss``."""
    output, y = {
        "mse": ("identity", [[1.0, 0.0], [0.0, 1.0]]),
        "bce": ("sigmoid", [[1.0, 0.0], [0.0, 1.0]]),
        "bce_logits": ("identity", [[1.0, 0.0], [0.0, 1.0]]),
        "cross_entropy": ("identity", [0, 1]),
    }[loss]
    net = MLP([2, 3, 2], "tanh", output_activation=output, seed=1)
    return net.trace([[0.1, -0.2], [0.3, 0.4]], y, loss=loss, lr=0.1).to_markdown()


MARKDOWN = {
    "2-2-2 half_sse": lambda: mazur_trace().to_markdown(),
    **{
        loss: partial(loss_trace_markdown, loss)
        for loss in ("mse", "bce", "bce_logits", "cross_entropy")
    },
    "exercise": lambda: make_exercise([2, 3, 1], seed=5).questions(),
    "solution": lambda: make_exercise([2, 3, 1], seed=5).solution(),
}


@pytest.mark.parametrize("markdown", list(MARKDOWN))
def test_markdown_math_survives_markdowns_backslash_escapes(markdown):
    """GitHub applies Markdown's backslash escapes inside $...$ and $$...$$ before MathJax sees
    them (a ``\\\\`` between matrix rows becomes ``\\`` and the matrix one row; ``\\,``
    becomes a comma). Rendered by CommonMark, every math span must come out unchanged."""
    from markdown_it import MarkdownIt

    text = MARKDOWN[markdown]()
    rendered = html.unescape(MarkdownIt("commonmark").render(text))
    assert math_spans(text)
    assert math_spans(rendered) == math_spans(text)


def test_tiny_numbers_are_written_as_powers_of_ten_in_latex():
    net = MLP([1, 1], activation="identity")
    net.weights[0][...] = 1e-7
    md = net.trace([1.0], [0.0], lr=0.1).to_markdown(digits=3)
    given = r"W^{[2]} = \begin{pmatrix} 1 \times 10^{-7} \end{pmatrix} \quad \text{(given)}"
    assert given in md


def test_what_sigma_stands_for_follows_the_value():
    """'a^[2] = σ(z^[2]) = (values), where σ = sigmoid': 'sigmoid' is not set equal to the
    values, and a given matrix is not set equal to the word 'given'."""
    md = mazur_trace().to_markdown()
    a2 = next(line for line in md.splitlines() if line.startswith("$$ a^{[2]} ="))
    assert a2.startswith(r"$$ a^{[2]} = \sigma(z^{[2]}) = \begin{pmatrix}")
    assert a2.endswith(r"\end{pmatrix}, \quad \text{where } \sigma = \text{sigmoid} $$")
    assert r"\text{sigmoid} =" not in md and r"\text{given} =" not in md


def test_the_step_shows_its_update_where_the_new_weights_print_as_the_old():
    net = mazur_network()
    t = net.trace([0.05, 0.10], [0.01, 0.99], loss="half_sse", lr=1e-9)
    gW, gb = net.backward(net.forward([[0.05, 0.10]]), t["∂C_x/∂a^[3]"])  # N = 1
    for k, (W, b) in zip((2, 3), zip(gW, gb, strict=True), strict=True):
        np.testing.assert_array_equal(t[f"η ∂C/∂W^[{k}]"], 1e-9 * W)
        np.testing.assert_array_equal(t[f"η ∂C/∂b^[{k}]"], 1e-9 * b)
    text = t.to_text()
    note = "the step changes W^[3], b^[3], W^[2] and b^[2] by at most 1.4e-10, below the 6"
    assert note in " ".join(text.split()) and note in t.to_markdown()
    assert "below the" not in t.to_text(digits=17)  # every digit shown: the change is visible
    assert "below the" not in mazur_trace().to_text()  # η = 0.5 changes the printed digits


def test_every_note_is_a_sentence_with_its_full_stop():
    t = MLP([2, 3, 2], seed=0).trace([0.1, 0.2], [0.0, 1.0], lr=1e-12)
    notes = t.shown_notes(6)
    assert len(notes) == 2  # no input gradient for n_L = 2; a step below the digits shown
    assert all(note.endswith(".") for note in notes)
    quoted = [line for line in t.to_markdown().splitlines() if line.startswith("> Note: ")]
    assert quoted == [f"> Note: {note}" for note in notes]


class _Cells(HTMLParser):
    """Collects the rows of the outer table and checks that every tag is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_well_formed_and_holds_every_symbol_and_number():
    t = mazur_trace()
    page = t.to_html(digits=9, full=True)
    parser = _Cells()
    parser.feed(page)
    assert parser.open == []
    assert page.startswith("<!DOCTYPE html>")
    fragment = t._repr_html_()
    assert fragment == t.to_html() and "<html" not in fragment
    text = "|".join(parser.text)
    shown = "".join(parser.text)  # indices are <sup>, "new" a <sub>: z^[2] reads z[2]
    for entry in t.entries:
        for plain in (entry.symbol, entry.formula):
            assert plain.replace("^", "").replace("_", "") in shown
    assert "<sup>[3]</sup>" in page and "W<sup>[3]</sup><sub>new</sub>" in page
    assert "σ<sub>2</sub> = sigmoid" in page and "(n<sub>L</sub> = 1)" in page
    assert "^[" not in shown and "n_L" not in shown  # indices in the header and notes too
    for number in ("0.298371109", "0.35891648", "0.408666186", "0.51130127", "0.561370121"):
        assert f"|{number}|" in text
    # one row per quantity, one per stage heading, one header row
    assert page.count("<tr><td class='symbol'>") == len(t.entries)
    assert page.count('<tr class="stage">') == 4


def test_to_dict_is_plain_json_with_every_value():
    t = mazur_trace()
    d = t.to_dict()
    back = json.loads(json.dumps(d))
    assert back == d
    assert d["cost"] == t.cost and d["loss"] == "half_sse" and d["lr"] == 0.5
    assert d["sizes"] == [2, 2, 2] and d["activations"] == ["sigmoid", "sigmoid"]
    assert [e["symbol"] for e in d["entries"]] == t.symbols()
    for item, entry in zip(d["entries"], t.entries, strict=True):
        np.testing.assert_array_equal(np.array(item["value"]), entry.value)
        assert item["shape"] == list(np.shape(entry.value))
        flat = np.ravel(item["value"]).tolist()
        assert all(type(v) is float for v in flat)
    assert d["notes"] == t.notes


def test_a_zero_prints_without_a_sign():
    net = MLP([1, 1], activation="relu", output_activation="relu")
    net.weights[0][...] = -1.0
    t = net.trace([1.0], [1.0], lr=0.1)  # z = −1: σ' = 0, δ = 0 · (−1) = −0.0
    assert not re.search(r"-0(?![.\d])", t.to_text() + t.to_markdown() + t.to_html())

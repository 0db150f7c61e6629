"""The report writer: Markdown tables that render as tables."""

from __future__ import annotations

from mlplab.experiments.report import Check, StudyResult, markdown_table, render_report


def test_a_bar_inside_a_cell_does_not_split_it():
    """``|x| ≤ 0.1`` in a cell is written ``\\|x\\|``: every row keeps its number of cells."""
    table = markdown_table(["N", "error, |x| ≤ 0.1"], [["32", "max |a − f| = 1e-3"]])
    assert table.splitlines() == [
        "| N | error, \\|x\\| ≤ 0.1 |",
        "|---|---|",
        "| 32 | max \\|a − f\\| = 1e-3 |",
    ]
    for line in table.splitlines():
        assert line.replace("\\|", "").count("|") == 3  # two cells: three unescaped bars


def test_a_report_without_figures_has_no_figures_section():
    result = StudyResult("t", "q", [("a", "1")], [], "the answer", {}, [Check("c", False, "m")], {})
    report = render_report("runge", result, "mlplab experiment run runge", 1.0)
    assert "## Figures" not in report
    assert "## Setup" in report and "## Answer\n\nthe answer" in report

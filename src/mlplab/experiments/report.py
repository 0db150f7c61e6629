"""What a study returns and how its report is written.

A study returns a :class:`StudyResult`: the question, the setup as rows of a table, the figures
it saved, the measured answer in one paragraph, its metrics and the :class:`Check` list of what
it must show. :func:`render_report` turns that into ``report.md``; the same checks go into
``metrics.json``, so the tests and the report read one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One thing a study must show.

    Attributes
    ----------
    name : str
        What is claimed, as a short sentence.
    passed : bool
        Whether the measurement shows it.
    measured : str
        The numbers behind the verdict.
    """

    name: str
    passed: bool
    measured: str

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": bool(self.passed), "measured": self.measured}


@dataclass
class StudyResult:
    """Everything a study measured, ready for its report.

    Attributes
    ----------
    title : str
    question : str
    setup : list of (str, str)
        Rows of the setup table (quantity, value).
    figures : list of (str, str)
        File name (in the study folder) and caption of each figure.
    answer : str
        The measured answer, one paragraph with numbers.
    metrics : dict
        JSON-ready numbers (written to ``metrics.json``).
    checks : list of Check
    config : dict
        JSON-ready settings that reproduce the run (written to ``config.json``).
    tables : list of str
        Extra Markdown sections (headed tables) placed after the figures.
    """

    title: str
    question: str
    setup: list[tuple[str, str]]
    figures: list[tuple[str, str]]
    answer: str
    metrics: dict
    checks: list[Check]
    config: dict
    tables: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table from a header and rows of already formatted cells.

    A ``|`` inside a cell (``|x| ≤ 0.1``) is written ``\\|``, so that it does not end the cell.
    """

    def line(cells: list) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def figure(name: str, caption: str) -> str:
    """A figure of a report in Markdown: the image ``name`` (with its caption as the alt
    text) and the caption below it, in italics."""
    return f"![{caption}]({name})\n\n*{caption}*"


#: What a quick report says first: its numbers are not the study's answer.
QUICK_NOTE = (
    "**Quick run.** This is the small version of the study (fewer steps, seeds and sizes, as CI "
    "runs it): its numbers are not converged and may not show what the full study shows. Run "
    "it without `--quick` for the answer."
)

#: What the index of ``run all --quick`` says first, of every study it lists.
QUICK_INDEX_NOTE = (
    "**Quick run.** These are the small versions of the studies (fewer steps, seeds and sizes, "
    "as CI runs them): their numbers are not converged and may not show what the full studies "
    "show. Run them without `--quick` for the answers."
)


def render_report(
    name: str, result: StudyResult, command: str, seconds: float, quick: bool = False
) -> str:
    """The text of ``report.md`` for the study ``name``; ``command`` reruns it.

    A ``quick`` report opens with :data:`QUICK_NOTE`; one without figures (a study stopped by
    a diverged run) has no Figures section.
    """
    parts = [
        f"# {name}: {result.title}" + (" (quick run)" if quick else ""),
        *([QUICK_NOTE] if quick else []),
        f"**Question.** {result.question}",
        "## Setup",
        markdown_table(["quantity", "value"], [[k, v] for k, v in result.setup]),
    ]
    if result.figures:
        parts.append("## Figures")
        parts += [figure(name, caption) for name, caption in result.figures]
    parts += result.tables
    parts += ["## Answer", result.answer, "## Checks"]
    parts.append(
        markdown_table(
            ["check", "result", "measured"],
            [[c.name, "pass" if c.passed else "**FAIL**", c.measured] for c in result.checks],
        )
    )
    parts += [
        "## Rerun",
        f"```\n{command}\n```",
        f"This run took {seconds:.1f} s.",
    ]
    return "\n\n".join(parts) + "\n"

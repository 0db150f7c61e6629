"""The classic studies, one module each, with a report that answers the question.

Each study module defines ``TITLE`` (one line: the title of its report at the default
parameters, from the module's ``title()`` where the title names them), ``DEFAULT_SEEDS``,
``PARAMETERS`` (what ``--set`` may change, :mod:`mlplab.experiments.params`) and
``run(out, quick, seeds, progress, **parameters) -> StudyResult``;
:func:`mlplab.experiments.execute.run_study` runs one and writes its folder (figures,
``metrics.json``, ``config.json``, ``report.md``).
``mlplab experiment list`` shows :data:`STUDIES`; ``mlplab experiment run NAME`` runs one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: CLI name -> module name in this package, in the order ``run all`` runs them.
STUDIES: dict[str, str] = {
    "runge": "runge",
    "cos4": "cos4",
    "label-noise": "label_noise",
    "dead-relu": "dead_relu",
    "depth": "depth",
    "monomials": "monomials",
    "mse-vs-ce": "mse_vs_ce",
    "batch-lr": "batch_lr",
    "higham": "higham",
    "properties": "properties",
}


class UnknownStudyError(ValueError):
    """A study name that is not in :data:`STUDIES`."""


def get_study(name: str) -> ModuleType:
    """The module of the study called ``name`` (its CLI name, e.g. ``"dead-relu"``).

    Raises
    ------
    UnknownStudyError
        For an unknown name; the message lists the valid ones.
    """
    if name not in STUDIES:
        raise UnknownStudyError(
            f"unknown study {name!r}; valid names are: {', '.join(STUDIES)} (or 'all')"
        )
    return importlib.import_module(f"mlplab.experiments.{STUDIES[name]}")


__all__ = ["STUDIES", "UnknownStudyError", "get_study"]

"""Parsing of ``"name"`` / ``"name:p1,p2"`` specifications shared by every registry.

Activations, losses, initialisers and targets can all be named by a short string such as
``"leaky_relu:0.1"`` or ``"normal:0,0.5"``. This module splits such a string into its name and
numeric parameters and turns an unknown name into an error that lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable


class UnknownNameError(ValueError):
    """A name that is not in a registry; the message lists the valid names."""


def parse_spec(spec: str) -> tuple[str, tuple[float, ...]]:
    """Split ``"name:p1,p2"`` into ``("name", (p1, p2))``.

    Parameters
    ----------
    spec : str
        A name, optionally followed by a colon and comma-separated numbers.

    Returns
    -------
    name : str
        The lower-cased name, with ``-`` read as ``_``.
    params : tuple of float
        The numeric parameters, empty when none are given.
    """
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    params: list[float] = []
    if rest.strip():
        for part in rest.split(","):
            try:
                params.append(float(part))
            except ValueError:
                raise ValueError(
                    f"cannot read parameter {part.strip()!r} in {spec!r}: parameters after "
                    f"the colon must be numbers, e.g. 'leaky_relu:0.1' or 'normal:0,0.5'"
                ) from None
    return name, tuple(params)


def unknown(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown ``name`` of a ``kind`` (activation, loss, ...)."""
    names = ", ".join(sorted(valid))
    return UnknownNameError(f"unknown {kind} {name!r}; valid names are: {names}")

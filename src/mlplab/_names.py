"""Parsing of ``"name"`` / ``"name:p1,p2"`` specifications shared by every registry.

Activations, losses, initialisers, schedules and targets can all be named by a short string such
as ``"leaky_relu:0.1"`` or ``"normal:0,0.5"``. This module splits such a string into its name and
numeric parameters, builds the named object with them (:func:`build`, which checks the number of
parameters against the constructor's signature) and turns an unknown name into an error that
lists the valid ones.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from mlplab.errors import ParameterError, UnknownNameError

__all__ = [
    "ParameterError",
    "UnknownNameError",
    "build",
    "check_new_name",
    "no_parameters",
    "parse_spec",
    "spec_number",
    "unknown",
]

T = TypeVar("T")

#: Longest ``name:parameters`` string read (a name and a few numbers).
MAX_SPEC_LENGTH = 200
#: A name a registry can hand out: what :func:`parse_spec` reads back as the same name.
_NEW_NAME = re.compile(r"[a-z][a-z0-9_]*")


def check_new_name(kind: str, name: object) -> None:
    """Refuse a name to register (an activation, loss, optimiser) that no spec could name:
    empty, with a colon, comma or space, capitals or a hyphen (:func:`parse_spec` reads names
    lower-cased, with ``-`` as ``_``), or longer than 60 characters.

    Raises
    ------
    ParameterError
    """
    if not (isinstance(name, str) and _NEW_NAME.fullmatch(name) and len(name) <= 60):
        raise ParameterError(
            f"a {kind} is registered under a name of lower-case letters, digits and _ (at most "
            f"60, starting with a letter), such as 'swish' or 'my_{kind}'; got {name!r}"
        )


def parse_spec(spec: str) -> tuple[str, tuple[float, ...]]:
    """Split ``"name:p1,p2"`` into ``("name", (p1, p2))``.

    Parameters
    ----------
    spec : str
        A name, optionally followed by a colon and comma-separated finite numbers.

    Returns
    -------
    name : str
        The lower-cased name, with ``-`` read as ``_``.
    params : tuple of float
        The numeric parameters, empty when none are given.

    Raises
    ------
    ParameterError
        For a parameter that is not a finite number, or a string longer than
        :data:`MAX_SPEC_LENGTH` characters.
    """
    if len(spec) > MAX_SPEC_LENGTH:
        raise ParameterError(
            f"{spec[:40]!r}... is {len(spec)} characters long; a name with parameters such as "
            f"'normal:0,0.5' has at most {MAX_SPEC_LENGTH}"
        )
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    params: list[float] = []
    if rest.strip():
        for part in rest.split(","):
            try:
                value = float(part)
            except ValueError:
                raise ParameterError(
                    f"cannot read parameter {part.strip()!r} in {spec!r}: the parameters "
                    f"after the colon must be numbers, separated by commas"
                ) from None
            if not math.isfinite(value):
                raise ParameterError(
                    f"parameter {part.strip()!r} in {spec!r} is not a finite number"
                )
            params.append(value)
    return name, tuple(params)


def spec_number(value: float) -> str:
    """``value`` as a parameter of a ``name:p1,p2`` string that :func:`parse_spec` reads back
    exactly: short where that is exact (``0.1``, ``100``), every digit otherwise."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def build(kind: str, spec: str, factory: Callable[..., T], params: tuple[float, ...]) -> T:
    """Call ``factory(*params)`` after checking the count against its signature.

    Parameters
    ----------
    kind : str
        What is built (``"activation"``, ``"schedule"``, ...), for the message.
    spec : str
        The string the parameters came from, for the message.
    factory : callable
        The constructor; its positional parameters name the accepted parameters.
    params : tuple of float
        From :func:`parse_spec`.

    Raises
    ------
    ParameterError
        For too many or too few parameters (naming the ones accepted), or values the
        constructor rejects.
    """
    fields = [
        p
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = sum(p.default is p.empty for p in fields)
    if not required <= len(params) <= len(fields):
        name = spec.partition(":")[0].strip()
        if fields:
            accepted = ",".join(p.name for p in fields)
            count = f"{required} to {len(fields)}" if required < len(fields) else f"{len(fields)}"
            form = f"{count} parameter(s), {name}:{accepted}"
        else:
            form = "no parameters"
        raise ParameterError(f"{kind} {spec!r}: {name} takes {form}; got {len(params)}")
    try:
        return factory(*params)
    except ParameterError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"{kind} {spec!r}: {exc}") from None


def no_parameters(kind: str, spec: str, params: tuple[float, ...]) -> None:
    """Refuse parameters on a name that takes none (``"mse:2"``)."""
    if params:
        name = spec.partition(":")[0].strip()
        raise ParameterError(f"{kind} {name!r} takes no parameters, got {spec!r}")


def unknown(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown ``name`` of a ``kind`` (activation, loss, ...)."""
    names = ", ".join(sorted(valid))
    return UnknownNameError(f"unknown {kind} {name!r}; valid names are: {names}")

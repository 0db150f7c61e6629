"""Sweep specifications: a TOML file that names a base configuration, overrides and seeds.

A spec looks like this (every key of ``[base]``, ``[grid]`` and ``[[runs]]`` is a field of
:class:`mlplab.config.TrainConfig`, i.e. an option of ``mlplab train``)::

    name = "width-lr"            # optional; default: the file name without .toml
    seeds = 2                    # 2 means seeds 0 and 1; or a list such as [0, 7, 42]

    [base]                       # shared by every run
    target = "runge"
    epochs = 300

    [grid]                       # cartesian product of the lists
    hidden = [[16], [32, 32]]
    lr = [1e-3, 1e-2]

    [[runs]]                     # optional list of overrides, each crossed with the grid
    optimizer = "sgd"
    momentum = 0.9

Runs are expanded in a fixed order (``[[runs]]`` entries, then grid points in the order the
lists are written, then seeds), so results tables and run identifiers are reproducible.
Everything is checked before any run starts: TOML syntax (with line and column), unknown keys,
value types, empty lists, and every value of every run as ``mlplab train`` would check it
(:func:`mlplab.config_check.check_config`: names, sizes, ranges such as ``epochs >= 1``). A spec
of more than :data:`MAX_RUNS` runs is refused unless the caller allows more (``--yes``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlplab.config import TrainConfig, option_name
from mlplab.errors import MlplabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TOP_LEVEL_KEYS = ("name", "seeds", "base", "grid", "runs")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FIELD_TYPES = typing.get_type_hints(TrainConfig)
#: Most runs a spec may expand to unless the caller allows more (``mlplab sweep --yes``).
MAX_RUNS = 10_000
#: Most runs a spec may expand to, allowed or not (each run is a folder of its own).
MAX_RUNS_EVER = 1_000_000
#: Largest spec file read (a spec is a few lines of TOML).
MAX_SPEC_BYTES = 2**20


class SpecError(MlplabError):
    """A sweep specification that cannot be run; the message names the problem and the fix."""


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
        12 hex digits of the SHA-256 of the run's full configuration (:func:`run_id`).
    config : TrainConfig
        The complete configuration of the run.
    params : dict
        The run's value on each axis of the sweep (:attr:`SweepSpec.axes`; no seed).
    """

    run_id: str
    config: TrainConfig
    params: dict


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: its name, axes, seeds and expanded runs.

    The axes are the ``[grid]`` keys, then one axis for ``[[runs]]`` (see :func:`_runs_axis`);
    results are plotted against each axis, with a band over seeds.
    """

    name: str
    axes: tuple[str, ...]
    seeds: tuple[int, ...] | None
    runs: tuple[SweepRun, ...]

    @property
    def settings(self) -> int:
        """Number of distinct settings (runs per seed)."""
        return len(self.runs) // len(self.seeds) if self.seeds else len(self.runs)


def run_id(config: TrainConfig) -> str:
    """A stable identifier of ``config``: the first 12 hex digits of SHA-256 of canonical JSON.

    Two configurations get the same identifier exactly when every field is equal (``1`` and
    ``1.0`` are equal for float fields because the spec stores them as floats).
    """
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_spec(
    path: str | Path,
    max_runs: int | None = MAX_RUNS,
    on_count: Callable[[int], None] | None = None,
) -> SweepSpec:
    """Read and validate the sweep specification in the TOML file ``path``.

    Parameters
    ----------
    path : str or Path
    max_runs, on_count
        See :func:`parse_spec`.

    Raises
    ------
    SpecError
        If the file is missing, larger than :data:`MAX_SPEC_BYTES`, not UTF-8, not valid TOML
        (the message gives line and column, or says it is nested too deeply), or describes runs
        that cannot be built.
    """
    from mlplab.files import read_text

    path = Path(path)
    text = read_text(path, MAX_SPEC_BYTES, SpecError, "sweep spec")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{path} is not valid TOML: nested too deeply") from None
    try:
        return parse_spec(table, default_name=path.stem, max_runs=max_runs, on_count=on_count)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def parse_spec(
    table: dict,
    default_name: str = "sweep",
    max_runs: int | None = MAX_RUNS,
    on_count: Callable[[int], None] | None = None,
) -> SweepSpec:
    """Validate a parsed spec (a dict as :mod:`tomllib` returns it) and expand its runs.

    Parameters
    ----------
    table : dict
    default_name : str
        The sweep's name when the spec has no ``name``.
    max_runs : int or None
        Refuse a spec of more runs (None: no limit).
    on_count : callable, optional
        Called with the number of runs as soon as it is known, before the runs are expanded
        and checked (which takes a while for a large grid).

    Raises
    ------
    SpecError
    """
    extra = sorted(set(table) - set(TOP_LEVEL_KEYS))
    if extra:
        raise SpecError(
            f"unknown top-level key(s): {', '.join(extra)}; valid top-level keys are: "
            f"{', '.join(TOP_LEVEL_KEYS)} (training options go in [base], [grid] or [[runs]])"
        )
    name = table.get("name", default_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(f"name must be a folder-safe word (letters, digits, _ . -), got {name!r}")
    base = _overrides(table.get("base", {}), "[base]")
    grid = _grid(table["grid"]) if "grid" in table else {}
    runs = _runs(table["runs"]) if "runs" in table else [{}]
    if "grid" in table and not grid and "runs" not in table:
        raise SpecError(
            "[grid] is empty: give at least one parameter with a list of values, e.g. "
            "lr = [0.001, 0.01], or remove [grid] to run [base] over the seeds only"
        )
    seeds = _seeds(table["seeds"]) if "seeds" in table else None
    run_keys = [k for r in runs for k in r]
    for key in run_keys:  # a key in both would silently take the [grid] value
        if key in grid:
            raise SpecError(f"{key!r} is set in both [grid] and [[runs]]; keep it in one place")
    if seeds is not None and ("seed" in base or "seed" in grid or "seed" in run_keys):
        raise SpecError("give seeds either with the top-level 'seeds' or as 'seed', not both")
    count = len(runs) * math.prod(len(v) for v in grid.values()) * len(seeds or [None])
    if on_count:
        on_count(count)
    limit = MAX_RUNS_EVER if max_runs is None else min(max_runs, MAX_RUNS_EVER)
    if count > limit:
        sizes = " × ".join(
            [f"{len(runs)} [[runs]]"] * ("runs" in table)
            + [f"{len(v)} {k}" for k, v in grid.items()]
            + [f"{len(seeds or [])} seeds"] * (seeds is not None)
        )
        raise SpecError(
            f"the sweep has {count} runs ({sizes}), more than {limit}; shorten the lists "
            f"in [grid]" + (", or confirm with --yes" if limit < MAX_RUNS_EVER else "")
        )
    runs_axis, run_values = _runs_axis(runs if "runs" in table else [])
    axes = tuple(k for k in grid if k != "seed") + ((runs_axis,) if runs_axis else ())
    expanded = []
    for override, run_value in zip(runs, run_values, strict=True):
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values, strict=True))
            for seed in seeds if seeds is not None else [None]:
                values_ = {**base, **override, **point} | ({} if seed is None else {"seed": seed})
                config = TrainConfig.from_dict(values_)
                params = {k: v for k, v in point.items() if k != "seed"}
                if runs_axis:
                    params[runs_axis] = run_value
                expanded.append(SweepRun(run_id(config), config, params))
    _check_unique(expanded)
    _check_buildable(expanded)
    return SweepSpec(name, axes, None if seeds is None else tuple(seeds), tuple(expanded))


def _runs_axis(runs: list[dict]) -> tuple[str | None, list]:
    """The axis that ``[[runs]]`` adds to the sweep, and each entry's value on it.

    When every entry sets the same single key, the axis is that key (``lr``) with its values;
    otherwise it is ``runs``, each entry named by its settings (``optimizer=sgd; lr=0.1``).
    Seeds are never an axis. Without ``[[runs]]`` there is no axis (one empty entry).
    """
    entries = [{k: v for k, v in r.items() if k != "seed"} for r in runs]
    if not any(entries):
        return None, [None] * max(len(runs), 1)
    keys = {tuple(e) for e in entries}
    if len(keys) == 1 and len(next(iter(keys))) == 1:
        (key,) = next(iter(keys))
        return key, [e[key] for e in entries]
    return "runs", ["; ".join(f"{k}={label(v)}" for k, v in e.items()) or "[base]" for e in entries]


def label(value: object) -> str:
    """A short text for a parameter value (lists as JSON, floats in %g)."""
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _overrides(values: object, where: str) -> dict:
    """Check that ``values`` is a table of TrainConfig fields with values of the right type."""
    if not isinstance(values, dict):
        raise SpecError(f"{where} must be a table of training options, got {values!r}")
    _check_keys(values, where)
    return {key: _typed(key, value, f"{where} {key}") for key, value in values.items()}


def _check_keys(keys: dict, where: str) -> None:
    """Reject keys that are not TrainConfig fields, with TrainConfig's own message."""
    unknown = {k: None for k in keys if k not in _FIELD_TYPES}
    if unknown:
        try:
            TrainConfig.from_dict(unknown)
        except ValueError as exc:
            raise SpecError(f"{where}: {exc}") from None


def _grid(grid: object) -> dict[str, list]:
    if not isinstance(grid, dict):
        raise SpecError(f"[grid] must be a table of lists, got {grid!r}")
    _check_keys(grid, "[grid]")
    checked = {}
    for key, values in grid.items():
        if not isinstance(values, list):
            raise SpecError(
                f"[grid] {key} must be a list of values, e.g. {key} = [a, b], got {values!r}"
            )
        if not values:
            raise SpecError(
                f"[grid] {key} is an empty list, so the grid has no points; give it at least "
                f"one value or remove it"
            )
        checked[key] = [_typed(key, v, f"[grid] {key}") for v in values]
    return checked


def _runs(runs: object) -> list[dict]:
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise SpecError("runs must be a list of tables: write each entry as [[runs]]")
    if not runs:
        raise SpecError("runs is an empty list; give at least one [[runs]] entry or remove it")
    return [_overrides(r, f"[[runs]] entry {i + 1}") for i, r in enumerate(runs)]


def _seeds(seeds: object) -> Sequence[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_RUNS_EVER:
            raise SpecError(
                f"seeds = {seeds}: give a number of seeds from 1 to {MAX_RUNS_EVER} or a list "
                f"of seeds"
            )
        return range(seeds)  # counted before any seed is listed
    if (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        if len(set(seeds)) != len(seeds):
            raise SpecError(f"seeds {seeds} lists a seed more than once")
        return list(seeds)
    raise SpecError(
        f"seeds must be a count (seeds = 3) or a non-empty list of whole numbers >= 0 "
        f"(seeds = [0, 7]), got {seeds!r}"
    )


def _typed(key: str, value: object, where: str) -> object:
    """``value`` converted to the type of TrainConfig field ``key`` (ints become floats)."""
    kind = _FIELD_TYPES[key]
    base = [t for t in typing.get_args(kind) if t is not type(None)] if _optional(kind) else []
    kind = base[0] if base else kind
    origin = typing.get_origin(kind)
    if kind is float and _is_number(value):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if origin is tuple and isinstance(value, list) and len(value) == 2:
        if all(_is_number(v) for v in value):
            return [float(v) for v in value]
    if origin is list and isinstance(value, list):
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return list(value)
    expected = {
        float: "a number",
        int: "a whole number",
        str: "a string (in quotes)",
    }.get(kind, "a list of two numbers" if origin is tuple else "a list of whole numbers")
    raise SpecError(f"{where} must be {expected}, got {value!r}")


def _optional(kind: object) -> bool:
    return type(None) in typing.get_args(kind)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_unique(runs: list[SweepRun]) -> None:
    seen: dict[str, SweepRun] = {}
    for r in runs:
        if r.run_id in seen:
            raise SpecError(
                f"two runs have the same configuration ({r.params}, seed {r.config.seed}); "
                f"remove the repeated value from [grid] or [[runs]]"
            )
        seen[r.run_id] = r


def _check_buildable(runs: list[SweepRun]) -> None:
    """Check every distinct configuration (seeds aside) as ``mlplab train`` would, before any
    cluster starts."""
    from mlplab.config_check import check_config

    checked: set[str] = set()
    for r in runs:
        seed = r.config.seed  # seeds share one check, unless a seed itself is bad
        seed = 0 if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else seed
        key = json.dumps({**r.config.to_dict(), "seed": seed}, sort_keys=True)
        if key in checked:
            continue
        checked.add(key)
        try:
            check_config(r.config)
        except MlplabError as exc:
            described = ", ".join(f"{k}={v!r}" for k, v in r.params.items()) or "[base]"
            raise SpecError(
                f"the run with {described} cannot be built: {_as_keys(str(exc))}"
            ) from None


def _as_keys(message: str) -> str:
    """``message`` of :func:`mlplab.config_check.check_config` with each option of ``mlplab
    train`` (``--batch-size``) written as the spec's key (``batch_size``)."""
    for name in _FIELD_TYPES:
        message = re.sub(rf"(?<![\w-]){re.escape(option_name(name))}(?![\w-])", name, message)
    return message

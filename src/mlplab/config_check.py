"""Every value of a :class:`~mlplab.config.TrainConfig` checked before any data or run exists.

``mlplab train`` and every run of a sweep start from a configuration; :func:`check_config`
refuses a value that would fail later (or be ignored) with a message naming the option, so a
sweep is refused before its cluster starts and a run before it writes anything.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlplab.config import option_name as _option
from mlplab.errors import MlplabError, SizeError
from mlplab.limits import check_bytes
from mlplab.values import check_interval, check_positive, check_whole

if TYPE_CHECKING:
    from mlplab.config import TrainConfig


#: What an option counts, where its name alone does not say.
_MEANING = {"n_train": "the number of points", "n_val": "the number of points"}


def _whole(cfg: TrainConfig, name: str, low: int, optional: bool = False) -> None:
    """A whole number >= ``low`` (or, where ``optional``, left out: None)."""
    what = f": {_MEANING[name]}" if name in _MEANING else ""
    if not (optional and getattr(cfg, name) is None):
        check_whole(getattr(cfg, name), f"{_option(name)}{what}", low)


def _number(cfg: TrainConfig, name: str, low: float, high: float = math.inf) -> float:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise MlplabError(f"{_option(name)} must be a number, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        shown = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
        raise MlplabError(f"{_option(name)} must be a finite number {shown}, got {value!r}")
    return float(value)


def _check_data_or_target(cfg: TrainConfig) -> None:
    """Refuse options that would be ignored: target-function options with ``data``, and
    ``val_fraction`` without (so that a run's ``config.json`` says all that it used)."""
    from mlplab.config import TARGET_FIELDS, TrainConfig

    default = TrainConfig()
    if cfg.data:
        given = [_option(k) for k in TARGET_FIELDS if getattr(cfg, k) != getattr(default, k)]
        if given:
            describe, do, them = (
                ("describes", "does", "it") if len(given) == 1 else ("describe", "do", "them")
            )
            raise MlplabError(
                f"{', '.join(given)} {describe} a target function and {do} nothing with --data "
                f"{cfg.data}; drop {them} (--val-fraction sets the validation share)"
            )
    elif cfg.val_fraction is not None:
        raise MlplabError("--val-fraction applies to --data; with a target use --n-val")


def check_config(cfg: TrainConfig) -> None:
    """Check every field of ``cfg`` that can be checked without reading data or training.

    Builds the network once for one input and one output, so names (activation, initialiser,
    loss, optimiser, schedule, target) and sizes are checked as the run will use them.

    Raises
    ------
    MlplabError
        Naming the option (as ``mlplab train`` spells it) and the value.
    """
    from mlplab.data import DATASETS, SAMPLINGS, get_target
    from mlplab.losses import get_loss
    from mlplab.optim import get_schedule
    from mlplab.train import SAMPLINGS as BATCH_SAMPLINGS

    for name in ("epochs", "batch_size", "n_train", "n_val"):
        _whole(cfg, name, 1)
    _whole(cfg, "early_stopping", 1, optional=True)
    _whole(cfg, "seed", 0)
    for name in ("n_train", "n_val"):
        check_bytes(
            f"{_option(name)} {getattr(cfg, name)} (points x and y)", 16.0 * getattr(cfg, name)
        )
    _number(cfg, "noise", 0.0)
    check_positive(cfg.lr, "--lr: the learning rate")
    _number(cfg, "momentum", 0.0, 1.0)
    if cfg.val_fraction is not None:  # None: the default split (see mlplab.train_run.make_data)
        _number(cfg, "val_fraction", 0.0, 1.0)
    _check_data_or_target(cfg)
    if cfg.sampling not in SAMPLINGS:
        raise MlplabError(f"--sampling must be one of {', '.join(SAMPLINGS)}, got {cfg.sampling!r}")
    if cfg.batch_sampling not in BATCH_SAMPLINGS:
        raise MlplabError(
            f"--batch-sampling must be one of {', '.join(BATCH_SAMPLINGS)}, "
            f"got {cfg.batch_sampling!r}"
        )
    check_interval(cfg.domain, "--domain", "-1 1")
    if not isinstance(cfg.hidden, list) or not all(
        isinstance(n, int | np.integer) and not isinstance(n, bool) for n in cfg.hidden
    ):
        raise MlplabError(f"--hidden must be a list of whole widths, got {cfg.hidden!r}")
    if cfg.momentum and cfg.optimizer.strip().lower() != "sgd":
        raise MlplabError(
            f"--momentum applies to SGD only, but the optimizer is {cfg.optimizer!r}: drop "
            f"--momentum or use --optimizer sgd"
        )
    if (
        cfg.data is not None
        and str(cfg.data).strip().lower() not in DATASETS
        and not Path(cfg.data).is_file()
    ):
        raise MlplabError(
            f"no data file at {cfg.data} (--data): give a CSV or NPZ file, or one of the built-in "
            f"data sets: {', '.join(DATASETS)}"
        )
    if not cfg.data:
        get_target(cfg.target)
    loss = get_loss(cfg.loss)
    try:
        cfg.build_network(1, 2 if loss.integer_targets else 1)
    except SizeError as exc:
        raise SizeError(f"--hidden {' '.join(map(str, cfg.hidden))}: {exc}") from None
    cfg.build_optimizer()
    get_schedule(cfg.schedule)

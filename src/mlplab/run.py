"""A training run from one configuration to one run folder.

:class:`TrainConfig` holds everything ``mlplab train`` takes; :func:`train_run` builds the data
and the network, trains, and writes ``config.json``, ``model.npz``, ``history.csv``,
``metrics.json``, ``fit.png`` and ``loss.png`` into the output folder (each file atomically).
Rerunning a ``config.json`` reproduces the run.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlplab.config_check import check_config
from mlplab.data import DATASETS, get_target, load_data, sample, target_values
from mlplab.errors import MlplabError
from mlplab.io import read_json, write_json
from mlplab.limits import check_bytes
from mlplab.losses import get_loss
from mlplab.network import MLP
from mlplab.optim import get_optimizer
from mlplab.run_figures import GRID_POINTS, write_figures
from mlplab.train import DivergenceWarning, History, fit, split_validation

#: A data set of at most this many points is not split for validation unless asked.
SMALL_DATA = 20
#: The validation share of a larger data file, unless asked otherwise.
VAL_FRACTION = 0.2

#: The defaults a built-in data set brings (the paper's network and training for ``higham``:
#: 2-2-3-2 sigmoid, N(0, 0.5²) parameters, half_sse, single-point SGD with replacement,
#: η = 0.05, 10^6 steps).
DATA_DEFAULTS = {
    "higham": {
        "hidden": [2, 3],
        "activation": "sigmoid",
        "output_activation": "sigmoid",
        "init": "normal:0,0.5",
        "bias_init": "normal:0,0.5",
        "loss": "half_sse",
        "optimizer": "sgd",
        "lr": 0.05,
        "epochs": 100_000,
        "batch_size": 1,
        "batch_sampling": "replacement",
    }
}


@dataclass
class TrainConfig:
    """Everything a training run needs (the fields of ``config.json``)."""

    target: str = "runge"
    domain: tuple[float, float] = (-1.0, 1.0)
    n_train: int = 256
    n_val: int = 64
    sampling: str = "uniform"
    noise: float = 0.0
    data: str | None = None
    val_fraction: float | None = None
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    output_activation: str = "identity"
    init: str = "xavier_normal"
    bias_init: str = "0"
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    epochs: int = 2000
    batch_size: int = 32
    batch_sampling: str = "shuffle"
    schedule: str = "constant"
    early_stopping: int | None = None
    seed: int = 0
    dtype: str = "float64"

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build a config from a dict, rejecting unknown keys by name."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(values) - names)
        if extra:
            raise ValueError(
                f"unknown configuration key(s): {', '.join(extra)}; valid keys are: "
                f"{', '.join(sorted(names))}"
            )
        values = dict(values)
        if "domain" in values:
            values["domain"] = tuple(float(v) for v in values["domain"])
        return cls(**values)

    def with_data_defaults(self) -> TrainConfig:
        """This config with a built-in data set's defaults (see :data:`DATA_DEFAULTS`).

        ``target="higham"`` names the data set too. Fields left at the general defaults take the
        data set's; fields set to anything else are kept.
        """
        default = TrainConfig()
        values = self.to_dict()
        name = (self.data or self.target).strip().lower()
        if name not in DATASETS:
            return self
        if self.target.strip().lower() == name:
            values["target"], values["data"] = default.target, name
        for key, value in DATA_DEFAULTS.get(name, {}).items():
            if getattr(self, key) == getattr(default, key):
                values[key] = value
        return TrainConfig.from_dict(values)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["domain"] = list(self.domain)
        return d


def _bias_init(spec: str) -> float | str:
    try:
        return float(spec)
    except ValueError:
        return spec


def make_data(cfg: TrainConfig) -> tuple[np.ndarray, ...]:
    """Training and validation arrays ``x, y, x_val, y_val`` for ``cfg``.

    A data set is split at random by ``cfg.val_fraction`` (0: no validation set, empty arrays);
    unset, it holds out 20 % of a data set of more than :data:`SMALL_DATA` points and nothing of a
    smaller one.
    """
    rng = np.random.default_rng(cfg.seed)
    if cfg.data:
        x, y = load_data(cfg.data)
        fraction = cfg.val_fraction
        if fraction is None:
            fraction = 0.0 if len(x) <= SMALL_DATA else VAL_FRACTION
        if fraction == 0.0:
            return x, y, x[:0], y[:0]  # no validation set
        return split_validation(x, y, fraction, rng)
    f = get_target(cfg.target)
    x = sample(cfg.n_train, cfg.domain, cfg.sampling, rng)
    x_val = sample(cfg.n_val, cfg.domain, cfg.sampling, rng)
    y = target_values(cfg.target, x, f) + cfg.noise * rng.standard_normal(x.shape)
    return x, y, x_val, target_values(cfg.target, x_val, f)


def class_labels(y: np.ndarray, y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer class labels from one target column: ``(labels, val_labels, n_classes)``.

    Raises
    ------
    ValueError
        Unless the single column holds whole numbers >= 0 (and at least two classes).
    """
    if y.shape[1] != 1:
        raise ValueError(
            f"cross_entropy in a run takes one column of integer class labels, got {y.shape[1]}"
        )
    both = np.concatenate([y[:, 0], y_val[:, 0]])
    if np.any(both < 0) or np.any(both != np.round(both)):
        raise ValueError("cross_entropy needs class labels 0, 1, 2, ... in the target column")
    largest = float(both.max())
    check_bytes(
        f"class label {largest:g} (cross_entropy makes one output per class 0..{largest:g}, "
        f"for each of {len(both)} points)",
        8.0 * (largest + 1) * len(both),
        hint="number the classes 0, 1, 2, ... without gaps",
    )
    n_classes = max(int(largest) + 1, 2)
    return y[:, 0].astype(np.intp), y_val[:, 0].astype(np.intp), n_classes


def _one_hot(y: np.ndarray) -> bool:
    """Whether targets are one-hot rows of two or more classes (accuracy is then reported)."""
    return (
        y.ndim == 2
        and y.shape[1] >= 2
        and bool(np.all((y == 0) | (y == 1)))
        and bool(np.all(y.sum(axis=1) == 1))
    )


def build_network(cfg: TrainConfig, n_in: int, n_out: int) -> MLP:
    """The network of ``cfg`` for inputs of width ``n_in`` and ``n_out`` outputs."""
    return MLP(
        [n_in, *cfg.hidden, n_out],
        activation=cfg.activation,
        output_activation=cfg.output_activation,
        init=cfg.init,
        bias_init=_bias_init(cfg.bias_init),
        seed=cfg.seed,
        dtype=cfg.dtype,
    )


def build_optimizer(cfg: TrainConfig):
    """The optimiser of ``cfg`` (momentum applies to SGD only)."""
    extra = {"momentum": cfg.momentum} if cfg.optimizer.lower() == "sgd" else {}
    return get_optimizer(cfg.optimizer, lr=cfg.lr, **extra)


@dataclass
class RunResult:
    """What :func:`train_run` produced."""

    net: MLP
    history: History
    metrics: dict
    out: Path | None


def train_run(cfg: TrainConfig, out: str | Path | None = None, progress: bool = True) -> RunResult:
    """Train the network of ``cfg``; with ``out``, write the run folder.

    Returns
    -------
    RunResult
        ``metrics`` has ``train_mse``, ``val_mse``, ``max_abs_error`` (on a dense grid of the
        domain, for a target function), ``seconds``, ``epochs``, ``status``; with
        ``cross_entropy`` (integer class labels in the last column) ``train_accuracy`` and
        ``val_accuracy`` instead of the squared errors.
    """
    check_config(cfg)
    x, y, x_val, y_val = make_data(cfg)
    classes = get_loss(cfg.loss).integer_targets
    if classes:
        y, y_val, n_out = class_labels(y, y_val)
    else:
        n_out = y.shape[1]
    net = build_network(cfg, x.shape[1], n_out)
    optimizer = build_optimizer(cfg)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # reported by metrics["status"]
        history = fit(
            net,
            x,
            y,
            loss=cfg.loss,
            optimizer=optimizer,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            sampling=cfg.batch_sampling,
            validation=(x_val, y_val) if len(x_val) else None,
            seed=cfg.seed,
            schedule=cfg.schedule,
            early_stopping=cfg.early_stopping,
            progress=progress,
        )
    seconds = time.perf_counter() - start
    scores = {}
    for key, X_, Y_ in (("train", x, y), ("val", x_val, y_val)):
        if not classes:
            scores[f"{key}_mse"] = float(np.mean((net(X_) - Y_) ** 2)) if len(X_) else None
        if classes or _one_hot(y):
            labels = Y_ if classes else Y_.argmax(axis=1)
            accuracy = np.mean(net(X_).argmax(axis=1) == labels) if len(X_) else None
            scores[f"{key}_accuracy"] = None if accuracy is None else float(accuracy)
    metrics = {
        **scores,
        "max_abs_error": None,
        "seconds": seconds,
        "epochs": history.epochs,
        "steps": history.steps,
        "status": history.status,
        "parameters": net.num_parameters,
    }
    grid = None
    if not cfg.data and not classes:
        grid = np.linspace(cfg.domain[0], cfg.domain[1], GRID_POINTS).reshape(-1, 1)
        truth = get_target(cfg.target)(grid)
        metrics["max_abs_error"] = float(np.max(np.abs(net(grid) - truth)))
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "config.json", cfg.to_dict())
        net.save(out / "model.npz")
        history.save_csv(out / "history.csv")
        write_figures(cfg, net, history, x, y, out)
        write_json(out / "metrics.json", metrics)  # last: its presence marks a finished run
    return RunResult(net, history, metrics, out)


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``config.json`` written by :func:`train_run`."""
    values = read_json(path, MlplabError)
    if not isinstance(values, dict):
        raise MlplabError(f"{path} must hold a JSON object of training options")
    return TrainConfig.from_dict(values)

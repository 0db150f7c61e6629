"""The run configuration: :class:`TrainConfig`, one place for every training option.

Each field is an option of ``mlplab train`` (``n_train`` is ``--n-train``), a key of a run's
``config.json`` and a key that a sweep spec may override; its metadata holds the help text and
the group of the option, and :func:`add_options` generates the ``train`` command's options from
them. Adding a training option is adding a field here (and using it where the run is built).
The network, the optimiser and the other arguments of :func:`mlplab.fit` come from
:meth:`TrainConfig.build_network`, :meth:`TrainConfig.build_optimizer` and
:meth:`TrainConfig.fit_arguments`, which ``mlplab train``, the sweeps and the studies share.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlplab.errors import MlplabError
from mlplab.losses import NAMES as LOSS_NAMES
from mlplab.network import MLP
from mlplab.optim import Optimizer, get_optimizer
from mlplab.values import widths

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

#: The option groups of ``mlplab train --help``, in order.
GROUPS = ("data", "network", "training")

#: The fields that describe a target function: they do nothing in a run on ``--data``, whose
#: ``config.json`` writes them as null.
TARGET_FIELDS = ("target", "domain", "n_train", "n_val", "sampling", "noise")


def _option(default, help: str, group: str, **argparse_extra) -> dataclasses.Field:
    """A config field with the help text, group and extra argparse settings of its option."""
    meta = {"help": help, "group": group, "argparse": argparse_extra}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Everything a training run needs (the fields of ``config.json``).

    Build one from settings by name with :meth:`from_dict`, which gives a built-in data set's
    own defaults (``{"data": "higham"}``: the paper's network and training); the constructor
    takes the general defaults for every field it is not given. Names are kept in their
    registry's spelling (``"Logistic"`` becomes ``"sigmoid"``).
    """

    target: str = _option(
        "runge",
        "registered target (runge, cos4, sin, abs, step, monomial:p) or a formula in x such as "
        "'sin(3*x) + x**2'; 'higham' is the paper's data set (as --data)",
        "data",
    )
    domain: tuple[float, float] = _option(
        (-1.0, 1.0), "interval of x", "data", metavar=("LOW", "HIGH")
    )
    n_train: int = _option(256, "training points", "data")
    n_val: int = _option(64, "validation points", "data")
    sampling: str = _option(
        "uniform",
        "how x is drawn; 'normal' uses mean and half-width of --domain",
        "data",
        choices=["uniform", "grid", "normal"],
    )
    noise: float = _option(0.0, "std of Gaussian label noise", "data")
    data: str | None = _option(
        None,
        "CSV (x columns then y) or NPZ (x, y) file instead of --target, or 'higham': the "
        "paper's 10 points with its 2-2-3-2 sigmoid network and SGD as defaults",
        "data",
    )
    val_fraction: float | None = _option(
        None,
        "validation share of --data (default: 0.2, none for 20 points or fewer; 0: none)",
        "data",
    )
    hidden: list[int] = _option(  # noqa: RUF009
        [64, 64],
        "hidden layer widths, whole numbers >= 1 separated by spaces or commas: 64 64 or "
        "64,64 (--hidden alone: no hidden layer)",
        "network",
        metavar="WIDTH",
    )
    activation: str = _option(
        "tanh",
        "sigmoid, tanh, relu, leaky_relu[:alpha], elu[:alpha], softplus, gelu, sin, identity",
        "network",
    )
    output_activation: str = _option("identity", "σ of the output layer", "network")
    init: str = _option(
        "xavier_normal",
        "xavier_normal, xavier_uniform, he_normal, he_uniform, normal[:mu,sigma], uniform[:a,b], "
        "zeros, constant:c",
        "network",
    )
    bias_init: str = _option("0", "a constant or an initialiser name", "network")
    loss: str = _option("mse", f"one of: {', '.join(LOSS_NAMES)}", "training")
    optimizer: str = _option("adam", "sgd, adam or lbfgs", "training")
    lr: float = _option(1e-3, "learning rate (> 0)", "training")
    momentum: float = _option(0.0, "SGD momentum", "training")
    epochs: int = _option(2000, "passes over the training set", "training")
    batch_size: int | None = _option(32, "points per step", "training")  # None: full batch
    batch_sampling: str = _option(
        "shuffle",
        "reshuffled minibatches each epoch, or points drawn with replacement",
        "training",
        choices=["shuffle", "replacement"],
    )
    schedule: str = _option(
        "constant", "constant, step:every,gamma, exponential:gamma, cosine:floor", "training"
    )
    early_stopping: int | None = _option(
        None,
        "stop after this many epochs without a better validation loss",
        "training",
        metavar="PATIENCE",
    )
    seed: int = _option(0, "seeds the data, the initial weights and the batch order", "training")
    dtype: str = _option(
        "float64", "floating-point precision", "network", choices=["float64", "float32"]
    )

    def __post_init__(self) -> None:
        # a target that names a built-in data set is that data set (the constructor keeps the
        # general defaults: from_dict gives the data set's own)
        if self.data is None and (name := _data_set(self.target)):
            self.data, self.target = name, TrainConfig.target
        # every name in the one spelling its registry gives it, so that one run has one
        # config.json and one run id ('Leaky-ReLU:1e-1' is leaky_relu:0.1, 'logistic' is
        # sigmoid, a bias of 1e-1 is 0.1); a name that is not valid stays as given, for
        # check_config to name
        for name, canonical in _canonical_names().items():
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    setattr(self, name, canonical(value))
                except (MlplabError, ValueError, TypeError):
                    pass

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build a config from a dict, rejecting unknown keys by name.

        Keys left out take their defaults: those of a built-in data set
        (:data:`DATA_DEFAULTS`) where ``data`` names one, or ``target`` does (``"higham"``,
        which then moves to ``data``), else the general ones. So ``mlplab train``, a sweep's
        TOML and ``TrainConfig.from_dict`` build the same run from the same settings (the
        constructor, ``TrainConfig(data="higham")``, keeps the general defaults for the fields it
        is not given). With ``data`` set, a field
        of :data:`TARGET_FIELDS` given as None takes its default (as :meth:`to_dict` writes
        them).
        """
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(values) - names)
        if extra:
            raise ValueError(
                f"unknown configuration key(s): {', '.join(extra)}; valid keys are: "
                f"{', '.join(sorted(names))}"
            )
        values = dict(values)
        data = values.get("data")
        if data is not None:
            values = {k: v for k, v in values.items() if not (k in TARGET_FIELDS and v is None)}
        else:
            data = values.get("target")  # a data set's name, which __post_init__ moves to data
        if name := _data_set(data):
            values = DATA_DEFAULTS.get(name, {}) | values
        if "domain" in values:
            values["domain"] = tuple(float(v) for v in values["domain"])
        if "hidden" in values:
            values["hidden"] = list(values["hidden"])
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainConfig:
        """The config of parsed ``mlplab train`` options (see :func:`add_options`): the options
        given, and :meth:`from_dict`'s defaults for the others."""
        return cls.from_dict(
            {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.name in args}
        )

    def to_dict(self) -> dict:
        """The fields as JSON values; with ``data`` set, those of :data:`TARGET_FIELDS` are None."""
        d = dataclasses.asdict(self)
        d["domain"] = list(self.domain)
        if self.data is not None:
            d.update(dict.fromkeys(TARGET_FIELDS))
        return d

    def build_network(self, n_in: int, n_out: int, seed: int | None = None) -> MLP:
        """The network of this config for ``n_in`` inputs and ``n_out`` outputs.

        ``seed`` draws the initial weights (default: the config's ``seed``).
        """
        return MLP(
            [n_in, *self.hidden, n_out],
            activation=self.activation,
            output_activation=self.output_activation,
            init=self.init,
            bias_init=_bias_init(self.bias_init),
            seed=self.seed if seed is None else seed,
            dtype=self.dtype,
        )

    def build_optimizer(self) -> Optimizer:
        """The optimiser of this config (momentum applies to SGD only)."""
        extra = {"momentum": self.momentum} if self.optimizer.lower() == "sgd" else {}
        return get_optimizer(self.optimizer, lr=self.lr, **extra)

    def fit_arguments(self) -> dict:
        """The keyword arguments of :func:`mlplab.fit` (and :func:`mlplab.fit_ensemble`) that
        this config sets, besides the network, the data, the optimiser and the seed."""
        return {
            "loss": self.loss,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "batch_sampling": self.batch_sampling,
            "schedule": self.schedule,
            "early_stopping": self.early_stopping,
        }


def _data_set(name: object) -> str | None:
    """The built-in data set (:data:`mlplab.data.DATASETS`) that ``name`` names, or None."""
    from mlplab.data import DATASETS

    key = name.strip().lower() if isinstance(name, str) else None
    return key if key in DATASETS else None


def _canonical_names() -> dict[str, Callable[[str], str]]:
    """The fields that name a registered definition, each with its registry's spelling."""
    from mlplab._names import parse_spec
    from mlplab.activations import get_activation
    from mlplab.init import get_initializer
    from mlplab.losses import get_loss
    from mlplab.optim import get_schedule

    def activation(spec: str) -> str:
        return get_activation(spec).name

    def initializer(spec: str) -> str:
        return get_initializer(spec).name

    def bias(spec: str) -> str:
        value = _bias_init(spec)
        if isinstance(value, str):
            return initializer(spec)
        text = repr(value)  # the shortest text of the number: 0.1 for 1e-1, 0 for 0.0
        return text.removesuffix(".0")

    def optimizer(spec: str) -> str:
        get_optimizer(spec)  # raises for a name that is not registered
        return parse_spec(spec)[0]

    return {
        "activation": activation,
        "output_activation": activation,
        "init": initializer,
        "bias_init": bias,
        "loss": lambda spec: get_loss(spec).name,
        "optimizer": optimizer,
        "schedule": lambda spec: get_schedule(spec).name,
    }


def _bias_init(spec: str | float) -> float | str:
    try:
        return float(spec)
    except ValueError:
        return spec


def option_name(name: str) -> str:
    """The command-line option of the config field ``name``: ``n_train`` -> ``--n-train``."""
    return "--" + name.replace("_", "-")


class WidthsAction(argparse.Action):
    """An option of layer widths (``--sizes 2 3 1``, ``--sizes 2,3,1``) read by :func:`widths`;
    a bad entry ends the parse with argparse's error for the option, which names it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        try:
            setattr(namespace, self.dest, widths(values))
        except MlplabError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add one option per :class:`TrainConfig` field to ``parser``, in groups.

    Name, type, default, help text, choices and metavar come from the field (its type hint and
    its metadata), so the options and the config cannot drift apart.
    """
    hints = typing.get_type_hints(TrainConfig)
    defaults = TrainConfig()
    fields = sorted(
        dataclasses.fields(TrainConfig), key=lambda f: GROUPS.index(f.metadata["group"])
    )
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for f in fields:
        kind = hints[f.name]
        kwargs = dict(f.metadata["argparse"])
        default = getattr(defaults, f.name)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is tuple:
            kwargs.update(nargs=len(args), type=args[0])
            default = list(default)
        elif origin is list:  # layer widths: 64 64 or 64,64
            kwargs.update(nargs="*", action=WidthsAction)
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if inner[0] is not str:
                kwargs["type"] = inner[0]
        elif kind is not str:
            kwargs["type"] = kind
        helps = f.metadata["help"]
        if "(default:" not in helps:
            helps += f" (default: {default}{_data_default(f.name)})"
        # an option not given is left out of the namespace: from_args then takes the default
        # of the run (a data set's own, see DATA_DEFAULTS), not the general one
        groups[f.metadata["group"]].add_argument(
            option_name(f.name), default=argparse.SUPPRESS, help=helps, **kwargs
        )


def _data_default(name: str) -> str:
    """``"; with --data higham: 0.05"`` for a field a built-in data set sets, else ``""``."""
    return "".join(
        f"; with --data {data}: {defaults[name]}"
        for data, defaults in DATA_DEFAULTS.items()
        if name in defaults
    )


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``config.json`` written by a training run (size and depth bounded)."""
    from mlplab.errors import MlplabError
    from mlplab.io import read_json

    values = read_json(path, MlplabError)
    if not isinstance(values, dict):
        raise MlplabError(f"{path} must hold a JSON object of training options")
    return TrainConfig.from_dict(values)

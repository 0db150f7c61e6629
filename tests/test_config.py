"""TrainConfig: every network and training field reaches what the config builds."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from mlplab.config import TrainConfig, add_options
from mlplab.config_check import check_config
from mlplab.errors import MlplabError

BASE = TrainConfig(hidden=[4], optimizer="sgd", epochs=5)
#: For each field of the network and training groups, a value other than BASE's.
CHANGED = {
    "hidden": [3, 2],
    "activation": "relu",
    "output_activation": "sigmoid",
    "init": "he_normal",
    "bias_init": "0.5",
    "dtype": "float32",
    "loss": "half_sse",
    "optimizer": "adam",
    "lr": 0.5,
    "momentum": 0.9,
    "epochs": 3,
    "batch_size": 4,
    "batch_sampling": "replacement",
    "schedule": "cosine:0.1",
    "early_stopping": 2,
    "seed": 1,
}


def built(cfg: TrainConfig) -> tuple:
    """Everything the config builds, in comparable form."""
    net = cfg.build_network(1, 1)
    x = np.linspace(-2.0, 2.0, 7).reshape(-1, 1)
    optimizer = cfg.build_optimizer()
    return (
        net.sizes,
        str(net.params.dtype),
        net.params.tobytes(),
        net(x.astype(net.params.dtype)).tobytes(),
        type(optimizer).__name__,
        sorted((k, repr(v)) for k, v in vars(optimizer).items()),
        cfg.fit_arguments(),
    )


def test_the_table_names_every_network_and_training_field():
    fields = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata["group"] != "data"}
    assert set(CHANGED) == fields


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_every_network_and_training_field_changes_what_is_built(name):
    assert built(dataclasses.replace(BASE, **{name: CHANGED[name]})) != built(BASE)


def test_a_config_survives_its_dict():
    cfg = dataclasses.replace(BASE, **CHANGED)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_every_name_is_written_in_its_registrys_spelling():
    cfg = TrainConfig(
        activation="Leaky-ReLU:1e-1",
        output_activation="logistic",
        init="He-Normal",
        bias_init="Normal:0,0.5",
        loss="MSE",
        optimizer="SGD",
        schedule="step",
    )
    written = {k: cfg.to_dict()[k] for k in ("activation", "output_activation", "init")}
    assert written == {"activation": "leaky_relu:0.1", "output_activation": "sigmoid",
                       "init": "he_normal"}  # fmt: skip
    assert (cfg.bias_init, cfg.loss, cfg.optimizer, cfg.schedule) == (
        "normal:0,0.5", "mse", "sgd", "step:100,0.5"
    )  # fmt: skip
    assert TrainConfig(bias_init="0.03").bias_init == "0.03"
    assert [TrainConfig(bias_init=b).bias_init for b in ("3e-2", "0.030", "0.0")] == [
        "0.03",
        "0.03",
        "0",
    ]
    # a target that names the built-in data set is that data set
    assert (TrainConfig(target="Higham").data, TrainConfig(target="Higham").target) == (
        "higham", TrainConfig().target
    )  # fmt: skip
    assert TrainConfig(activation="nonsense").activation == "nonsense"  # for check_config to name


def test_a_run_on_data_writes_the_target_fields_as_null_and_reads_them_back():
    from mlplab.config import TARGET_FIELDS

    cfg = dataclasses.replace(BASE, data="points.csv")
    values = cfg.to_dict()
    assert all(values[k] is None for k in TARGET_FIELDS)
    assert TrainConfig.from_dict(values) == cfg
    # without data, the target fields are written as they are, and a null is refused
    assert BASE.to_dict()["target"] == "runge"
    with pytest.raises(MlplabError, match="--n-train"):
        check_config(TrainConfig.from_dict({**BASE.to_dict(), "n_train": None}))


@pytest.mark.parametrize(
    ("words", "hidden"),
    [(["32", "32"], [32, 32]), (["32,32"], [32, 32]), (["8,4", "2"], [8, 4, 2]), ([], [])],
)
def test_hidden_widths_take_spaces_or_commas(words, hidden):
    parser = argparse.ArgumentParser()
    add_options(parser)
    assert TrainConfig.from_args(parser.parse_args(["--hidden", *words])).hidden == hidden

import pytest

from mlplab.config import TrainConfig
from mlplab.config_check import check_config
from mlplab.errors import MlplabError, SizeError


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"epochs": 0}, "--epochs must be a whole number >= 1, got 0"),
        ({"epochs": 2.5}, "--epochs must be a whole number"),
        ({"batch_size": 0}, "--batch-size"),
        ({"n_val": 0}, "--n-val"),
        ({"seed": -1}, "--seed must be a whole number >= 0, got -1"),
        ({"noise": float("nan")}, "--noise must be a finite number >= 0, got nan"),
        ({"lr": 0.0}, "--lr: the learning rate must be a finite number > 0"),
        ({"momentum": 0.9}, "--momentum applies to SGD only, but the optimizer is 'adam'"),
        (
            {"momentum": 1.5, "optimizer": "sgd"},
            "--momentum must be a finite number between 0 and 1",
        ),
        ({"domain": (1.0, -1.0)}, "--domain must be two finite numbers low < high a finite"),
        ({"sampling": "sobol"}, "--sampling must be one of"),
        ({"batch_sampling": "x"}, "--batch-sampling must be one of"),
        ({"loss": "mse:2"}, "takes no parameters"),
        ({"target": "log(y)"}, "unknown name 'y'"),
        ({"early_stopping": 0}, "--early-stopping"),
        ({"data": "/no/such/file.csv"}, "no data file at /no/such/file.csv .--data."),
        ({"schedule": "step:1,0.5,3"}, "step:every,gamma"),
        ({"data": "higham", "n_train": 500}, r"^--n-train describes a target function and does"),
        ({"data": "higham", "noise": 0.1, "target": "sin"}, "^--target, --noise describe a"),
        ({"val_fraction": 0.5}, "--val-fraction applies to --data; with a target use --n-val"),
    ],
)
def test_bad_values_are_named(change, match):
    with pytest.raises(MlplabError, match=match):
        check_config(TrainConfig(**change))


def test_sizes_are_priced_with_the_option(monkeypatch):
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    with pytest.raises(SizeError, match="--n-train 10000000000"):
        check_config(TrainConfig(n_train=10**10))
    with pytest.raises(SizeError, match=r"--hidden 1000 1000: a network of layer widths"):
        check_config(TrainConfig(hidden=[1000, 1000]))


def test_defaults_and_sgd_momentum_pass():
    check_config(TrainConfig())
    check_config(TrainConfig(optimizer="sgd", momentum=0.9, schedule="step:10,0.5"))

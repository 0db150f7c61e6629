import pytest

from mlplab.config import TrainConfig, load_config
from mlplab.train_run import train_run


def test_config_round_trip_and_rerun(tmp_path):
    cfg = TrainConfig(target="cos4", hidden=[6], epochs=3, n_train=20, n_val=5)
    first = train_run(cfg, tmp_path / "a", progress=False)
    again = load_config(tmp_path / "a" / "config.json")
    assert again == cfg
    second = train_run(again, tmp_path / "b", progress=False)
    assert second.metrics["val_mse"] == first.metrics["val_mse"]


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match="unknown configuration key.*widths"):
        TrainConfig.from_dict({"widths": [3]})


def test_run_without_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train_run(TrainConfig(hidden=[4], epochs=2, n_train=10, n_val=4), progress=False)
    assert result.out is None and list(tmp_path.iterdir()) == []
    assert result.metrics["parameters"] == 4 * 2 + 5


def test_noise_that_overflows_the_labels_is_named(tmp_path, capsys):
    from mlplab.cli import main

    args = ["train", "--noise", "1e308", "--epochs", "1", "--hidden", "2", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 2
    assert "--noise 1e+308 makes the labels overflow" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_target_not_finite_on_the_error_grid_is_refused_before_training(tmp_path):
    # 1/x is finite at the 16 drawn points but inf at x = 0, a point of the grid of
    # max_abs_error, which was recorded as inf (null in metrics.json) after training
    cfg = TrainConfig(target="1/x", n_train=16, hidden=[3], epochs=2)
    with pytest.raises(ValueError, match=r"target '1/x' is inf at x = 0 .*choose a --domain"):
        train_run(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()

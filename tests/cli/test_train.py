"""``mlplab train``: its options are the config's fields, and a rerun into the same folder leaves
either the earlier run or the new one, whole (interrupted, killed, failed or raced)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

import mlplab
from mlplab.cli import build_parser, main
from mlplab.config import TrainConfig, WidthsAction, option_name
from mlplab.runfolder import lock

SOURCE = str(Path(mlplab.__file__).resolve().parents[1])
#: A run of a few seconds at most: the earlier run of every rerun test.
QUICK = ["--hidden", "4", "--n-train", "16", "--n-val", "8", "--epochs", "5", "--quiet"]
#: A run that trains until it is stopped.
LONG = ["--hidden", "8", "--n-train", "64", "--epochs", "10000000", "--quiet"]
#: What ``mlplab train`` writes.
FILES = {"config.json", "model.npz", "history.csv", "metrics.json", "fit.png", "loss.png"}


def train_options() -> dict[str, argparse.Action]:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    return {a.dest: a for a in train._actions if a.dest not in ("help", "out", "quiet")}


def test_every_config_field_is_an_option_with_its_type_default_and_help():
    options = train_options()
    fields = dataclasses.fields(TrainConfig)
    assert set(options) == {f.name for f in fields}  # no field without an option, and back
    hints = typing.get_type_hints(TrainConfig)
    default = TrainConfig()
    for f in fields:
        action = options[f.name]
        assert action.option_strings == [option_name(f.name)]
        assert action.help.startswith(f.metadata["help"]) and f.metadata["help"]
        value = getattr(default, f.name)
        shown = list(value) if isinstance(value, tuple) else value
        assert "(default: " in action.help
        assert f"(default: {shown}" in action.help or "(default:" in f.metadata["help"]
        # left out of the namespace when not given: from_args then takes the run's default
        assert action.default is argparse.SUPPRESS
        kind = hints[f.name]
        if kind in (int, float):
            assert action.type is kind
        elif typing.get_origin(kind) is list:  # layer widths: 64 64 or 64,64
            assert isinstance(action, WidthsAction) and action.nargs == "*"
        elif typing.get_origin(kind) is tuple:
            assert action.type is typing.get_args(kind)[0] and action.nargs is not None


def test_options_set_every_field_of_the_config(tmp_path):
    """Parse a command line that changes every field and get exactly that config back."""
    changed = TrainConfig(
        target="sin",
        domain=(-2.0, 3.0),
        n_train=17,
        n_val=9,
        sampling="grid",
        noise=0.25,
        data="points.csv",
        val_fraction=0.3,
        hidden=[5, 6, 7],
        activation="relu",
        output_activation="sigmoid",
        init="he_normal",
        bias_init="0.5",
        loss="half_sse",
        optimizer="sgd",
        lr=0.25,
        momentum=0.5,
        epochs=7,
        batch_size=3,
        batch_sampling="replacement",
        schedule="cosine:0.1",
        early_stopping=4,
        seed=11,
        dtype="float32",
    )
    default = TrainConfig()
    values = dataclasses.asdict(changed)  # to_dict() writes the target fields of a data run as null
    assert all(values[f] != getattr(default, f) for f in values)
    argv = ["train"]
    for key, value in values.items():
        argv += [
            option_name(key),
            *map(str, value if isinstance(value, (list, tuple)) else [value]),
        ]
    assert TrainConfig.from_args(build_parser().parse_args(argv)) == changed


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def earlier(tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A finished run in ``tmp_path/run`` and its bytes."""
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(out)]) == 0
    files = snapshot(out)
    assert set(files) == FILES
    return out, files


@pytest.fixture
def start_training():
    """Start ``python -m mlplab train`` into a folder; every process started is killed at the
    end of the test, whatever happened."""
    started: list[subprocess.Popen] = []
    yield lambda out: _start(out, started)
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=120)


def _start(out: Path, started: list) -> subprocess.Popen:
    """``python -m mlplab train`` into ``out``, returned once it is training."""
    env = {**os.environ, "PYTHONPATH": SOURCE, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlplab", "train", *LONG, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    started.append(proc)
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(f".partial-{out.name}-pid{proc.pid}-*")):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"training did not start: {proc.returncode}")
        time.sleep(0.02)
    time.sleep(0.5)  # well into training
    assert proc.poll() is None
    return proc


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_an_interrupted_rerun_keeps_the_earlier_run_byte_for_byte(
    earlier, start_training, signum, status, word
):
    out, before = earlier
    proc = start_training(out)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert "holds an earlier run" in stderr and word in stderr and "Traceback" not in stderr
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["run"]  # no staging folder, no lock


def test_a_killed_rerun_keeps_the_earlier_run_and_the_next_one_cleans_up(earlier, start_training):
    out, before = earlier
    proc = start_training(out)
    proc.kill()
    proc.wait(timeout=60)
    assert snapshot(out) == before
    left = sorted(p.name for p in out.parent.iterdir())
    assert left[0] == ".lock-run" and left[1].startswith(".partial-run-") and left[2:] == ["run"]
    assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 0
    assert [p.name for p in out.parent.iterdir()] == ["run"]
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    assert set(snapshot(out)) == FILES and snapshot(out) != before


def test_a_rerun_that_fails_while_plotting_keeps_the_earlier_run(earlier, monkeypatch, capsys):
    out, before = earlier

    def full_disk(fig, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("mlplab.plots.save_figure", full_disk)
    assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 2  # one line, exit 2
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["run"]
    # a first run leaves no folder at all
    assert main(["train", *QUICK, "--out", str(out.with_name("new"))]) == 2
    assert [p.name for p in out.parent.iterdir()] == ["run"]


def test_a_second_train_into_the_same_folder_is_refused(earlier, start_training, capsys):
    out, before = earlier
    with lock(out):  # another writer, in this process
        assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"is being written by process {os.getpid()}" in err and "another --out" in err
    assert snapshot(out) == before
    proc = start_training(out)  # another writer, in another process
    try:
        assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 2
        assert f"is being written by process {proc.pid}" in capsys.readouterr().err
        assert snapshot(out) == before
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["run"]


def test_a_rerun_says_that_it_replaces_the_earlier_run(earlier, capsys):
    out, before = earlier
    assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 0
    assert "holds an earlier run: it is replaced when this one finishes" in capsys.readouterr().err
    assert set(snapshot(out)) == FILES and snapshot(out) != before
    assert main(["train", *QUICK, "--out", str(out.with_name("fresh"))]) == 0
    assert "earlier run" not in capsys.readouterr().err


def test_a_folder_of_other_files_is_not_replaced(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", *QUICK, "--out", str(tmp_path)]) == 2
    assert "holds files but no earlier run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_refused_train_does_not_announce_a_replacement(earlier, capsys):
    out, _ = earlier
    with lock(out):
        assert main(["train", *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is being written by" in err and "earlier run" not in err


def test_an_option_that_states_its_default_in_words_is_not_given_a_second_one(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.2, none for 20 points or fewer; 0: none)" in text
    assert "0: none) (default: None)" not in text

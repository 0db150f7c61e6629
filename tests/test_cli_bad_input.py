"""A corpus of bad command lines through every subcommand: each ends with one line on stderr,
exit status 2 and no traceback (``mlplab.cli.main`` in-process, as the ``mlplab`` entry runs it).
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlplab import MLP
from mlplab.cli import main


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def _huge_npy() -> bytes:
    """A .npy entry whose header declares 10^6 × 10^6 float64 (7.28 TiB) over 8 bytes of data."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + b"\0" * 8


def _model_with(path: Path, meta: dict | str | None = None, **entries: bytes) -> Path:
    """An .npz written entry by entry (so that it can hold what numpy.savez never writes)."""
    good = MLP([1, 2, 1]).save(path.with_name("good.npz"))
    with zipfile.ZipFile(good) as z:
        members = {n[:-4]: z.read(n) for n in z.namelist()}
    if meta is not None:
        text = meta if isinstance(meta, str) else json.dumps(meta)
        members["meta"] = _npy(np.array(text))
    members.update(entries)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad-inputs")
    f: dict[str, Path] = {}
    f["model"] = MLP([1, 4, 1], seed=0).save(d / "model.npz")
    with zipfile.ZipFile(f["model"]) as z:
        meta = json.loads(str(np.lib.format.read_array(z.open("meta.npy"))))
    f["typo.csv"] = d / "typo.csv"
    f["typo.csv"].write_text("0.1,0.2x\n0.3,0.4\n0.5,0.6\n")
    f["ragged.csv"] = d / "ragged.csv"
    f["ragged.csv"].write_text("x,y\n1,2\n3,4,5\n")
    f["empty.csv"] = d / "empty.csv"
    f["empty.csv"].write_text("x,y\n")
    f["binary.csv"] = d / "binary.csv"
    f["binary.csv"].write_bytes(b"\xff\xfe\x00\x01garbage")
    f["fake.npz"] = d / "fake.npz"
    f["fake.npz"].write_text("x,y\n1,2\n")
    f["both.npz"] = d / "both.npz"
    np.savez(f["both.npz"], x=np.ones(3), X=np.ones(3), y=np.ones(3))
    f["complex.npz"] = d / "complex.npz"
    np.savez(f["complex.npz"], x=np.ones(3) + 1j, y=np.ones(3))
    f["labels.csv"] = d / "labels.csv"
    f["labels.csv"].write_text("x,label\n0.1,0\n0.2,1e12\n0.3,1\n0.4,0\n0.5,1\n")
    f["huge_shape.npz"] = _model_with(d / "huge_shape.npz", W2=_huge_npy())
    huge = {**meta, "sizes": [1, 10**9, 10**9, 1], "activations": ["tanh"] * 3}
    f["huge_meta.npz"] = _model_with(d / "huge_meta.npz", huge)
    f["strings.npz"] = _model_with(
        d / "strings.npz", W2=_npy(np.array([["a"], ["b"], ["c"], ["d"]]))
    )
    f["bad_meta.npz"] = _model_with(d / "bad_meta.npz", {**meta, "sizes": "1,4,1"})
    f["deep_meta.npz"] = _model_with(d / "deep_meta.npz", "[" * 100_000 + "]" * 100_000)
    f["file"] = d / "a-file"
    f["file"].write_text("")
    f["dir"] = d / "a-dir"
    f["dir"].mkdir()
    specs = {
        "epochs0.toml": "[base]\nepochs = 0\n[grid]\nlr = [0.001, 0.01]\n",
        "huge.toml": "[grid]\nlr = [{}]\nepochs = [{}]\n".format(
            ", ".join(str(1e-4 * (i + 1)) for i in range(1000)),
            ", ".join(map(str, range(1, 1001))),
        ),
        "deep.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "latin1.toml": None,
        "badname.toml": '[base]\nactivation = "leaky_relu:0.1,0.2"\n',
        "momentum.toml": '[base]\noptimizer = "adam"\nmomentum = 0.9\n',
        "hidden.toml": "[base]\nhidden = [200000000]\n",
    }
    for name, text in specs.items():
        f[name] = d / name
        if text is None:
            f[name].write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
        else:
            f[name].write_text(text)
    f["out"] = d / "out"
    return {k: str(v) for k, v in f.items()}


@pytest.fixture(scope="module")
def not_dask() -> str:
    """A TCP server that answers like SSH: the first 8 bytes read as a length ask for exabytes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


TRAIN = ["train", "--quiet", "--epochs", "2", "--n-train", "8", "--n-val", "4", "--hidden", "3"]

CORPUS = [
    # class 1: sizes priced before allocating
    [*TRAIN, "--hidden", "200000000"],
    [*TRAIN, "--n-train", "10000000000"],
    ["gradcheck", "--sizes", "1", "200000000", "1"],
    ["diagnose", "{model}", "--target", "runge", "--n-points", "100000000000"],
    ["train", "--quiet", "--data", "{labels.csv}", "--loss", "cross_entropy", "--epochs", "1"],
    ["predict", "{huge_shape.npz}", "--x", "0"],
    ["predict", "{huge_meta.npz}", "--x", "0"],
    # class 3: name:parameter strings, expressions, numbers
    [*TRAIN, "--activation", "leaky_relu:0.1,0.2"],
    [*TRAIN, "--init", "normal:0,1,2"],
    [*TRAIN, "--schedule", "step:1,0.5,3"],
    [*TRAIN, "--schedule", "step:1e400,0.5"],
    [*TRAIN, "--schedule", "step:0,0.5"],
    [*TRAIN, "--bias-init", "uniform:nan,1"],
    [*TRAIN, "--target", "1" + "0" * 400 + "*x"],
    [*TRAIN, "--target", "sin(" * 150 + "x" + ")" * 150],
    [*TRAIN, "--target=" + "-" * 900 + "x"],
    [*TRAIN, "--target", "2**" * 300 + "x"],
    [*TRAIN, "--target", "__import__('os')"],
    [*TRAIN, "--lr", "nan"],
    [*TRAIN, "--epochs", "0"],
    [*TRAIN, "--batch-size", "0"],
    [*TRAIN, "--early-stopping", "0"],
    ["gradcheck", "--activation", "elu:1,2"],
    ["gradcheck", "--points", "0"],
    ["gradcheck", "--h", "nan"],
    ["gradcheck", "--loss", "nope"],
    ["gradcheck", "--seed", "-5"],
    ["gradcheck", "--points", "100000000000"],
    ["diagnose", "{model}", "--target", "runge", "--seed", "-1"],
    # class 4: misleading results refused
    [*TRAIN, "--noise", "nan"],
    [*TRAIN, "--seed", "-1"],
    [*TRAIN, "--target", "log(x)"],
    [*TRAIN, "--target", "1/x", "--sampling", "grid", "--n-train", "3"],
    [*TRAIN, "--momentum", "0.9", "--optimizer", "adam"],
    [*TRAIN, "--loss", "mse:2"],
    [*TRAIN, "--optimizer", "adam:0.1"],
    ["train", "--quiet", "--data", "{typo.csv}"],
    ["train", "--quiet", "--data", "{ragged.csv}"],
    ["train", "--quiet", "--data", "{empty.csv}"],
    ["train", "--quiet", "--data", "{binary.csv}"],
    ["train", "--quiet", "--data", "{fake.npz}"],
    ["train", "--quiet", "--data", "{both.npz}"],
    ["train", "--quiet", "--data", "{complex.npz}"],
    ["train", "--quiet", "--data", "{dir}"],
    [*TRAIN, "--out", "{file}"],
    ["predict", "{fake.npz}", "--x", "0"],
    ["predict", "{strings.npz}", "--x", "0"],
    ["predict", "{bad_meta.npz}", "--x", "0"],
    ["predict", "{deep_meta.npz}", "--x", "0"],
    ["predict", "{dir}", "--x", "0"],
    ["predict", "{model}", "--input", "{typo.csv}"],
    ["predict", "{model}", "--input", "{complex.npz}"],
    ["predict", "{model}", "--input", "{dir}"],
    ["diagnose", "{model}", "--data", "{typo.csv}"],
    ["diagnose", "{model}", "--target", "x**"],
    ["diagnose", "{model}", "--target", "runge", "--n-points", "0"],
    ["diagnose", "{model}", "--target", "runge", "--threshold", "nan"],
    ["diagnose", "{model}", "--target", "runge", "--loss", "mse:1"],
    ["experiment", "run", "nope"],
    ["experiment", "run", "runge", "--seeds", "0"],
    ["experiment", "run", "runge", "--out", "{file}"],
    # class 5 and sweeps
    ["sweep", "{epochs0.toml}", "--out", "{out}"],
    ["sweep", "{huge.toml}", "--out", "{out}"],
    ["sweep", "{deep.toml}", "--out", "{out}"],
    ["sweep", "{latin1.toml}", "--out", "{out}"],
    ["sweep", "{badname.toml}", "--out", "{out}"],
    ["sweep", "{momentum.toml}", "--out", "{out}"],
    ["sweep", "{hidden.toml}", "--out", "{out}"],
    ["sweep", "{dir}", "--out", "{out}"],
    ["sweep", "{file}.missing", "--out", "{out}"],
    ["sweep", "{badname.toml}", "--timeout", "nan"],
    ["sweep", "{badname.toml}", "--workers", "0"],
]


def _argv(template: list[str], files: dict[str, str]) -> list[str]:
    out = []
    for a in template:
        if a.startswith("{"):
            key, _, rest = a[1:].partition("}")
            a = files[key] + rest
        out.append(a)
    return out


@pytest.mark.parametrize("template", CORPUS, ids=lambda t: " ".join(t)[:60])
def test_bad_command_line_is_one_line_exit_2(template, files, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default --out lands in the test's folder
    status = main(_argv(template, files))
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "allow_pickle" not in err and "Unable to allocate" not in err


def test_scheduler_that_is_not_dask(files, not_dask, capsys, tmp_path):
    spec = Path(tmp_path / "ok.toml")
    spec.write_text("[base]\nepochs = 1\nn_train = 8\nn_val = 4\nhidden = [3]\n")
    status = main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--scheduler", not_dask,
                   "--timeout", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and "is not a Dask scheduler" in err and "Traceback" not in err


def test_huge_grid_prints_the_count_first(files, capsys):
    status = main(["sweep", files["huge.toml"], "--out", files["out"]])
    captured = capsys.readouterr()
    assert status == 2
    assert "1000000 runs" in captured.out
    assert "more than 10000" in captured.err and "--yes" in captured.err


def test_a_genuine_bug_still_shows_its_traceback(monkeypatch):
    import mlplab.train_run

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(mlplab.train_run, "train_run", broken)
    with pytest.raises(ZeroDivisionError):
        main([*TRAIN, "--out", "unused"])


@pytest.mark.parametrize(
    "exc",
    [
        OSError(28, "No space left on device", "runs/x/model.npz"),
        IsADirectoryError(21, "Is a directory", "runs/x/config.json"),
        MemoryError(),
    ],
)
def test_expected_system_errors_are_one_line(exc, monkeypatch, capsys, tmp_path):
    import mlplab.train_run

    def failing(*args, **kwargs):
        raise exc

    monkeypatch.setattr(mlplab.train_run, "train_run", failing)
    assert main([*TRAIN, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if isinstance(exc, OSError):
        assert f"{exc.strerror}: {exc.filename}" in err


def test_probe_refuses_a_silent_server():
    from mlplab.cluster import ClusterError, probe_scheduler

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        with pytest.raises(ClusterError, match="is not a Dask scheduler .it sent nothing"):
            probe_scheduler(f"tcp://127.0.0.1:{server.getsockname()[1]}", 0.5)
    finally:
        server.close()
    with pytest.raises(ClusterError, match="give an address tcp://HOST:PORT"):
        probe_scheduler("tcp://127.0.0.1:port", 0.5)


def test_an_overflowing_initialisation_is_reported_in_one_line_without_warnings(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mlplab", "train", "--init", "normal:0,1e300", "--epochs", "2",
         "--hidden", "3", "--quiet", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr
    assert "training diverged" in proc.stdout + proc.stderr

import argparse
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from mlplab import MLP, __version__
from mlplab.cli import build_parser, main

RUNGE = [
    "train",
    "--target",
    "runge",
    "--domain",
    "-1",
    "1",
    "--n-train",
    "256",
    "--n-val",
    "64",
    "--hidden",
    "64",
    "64",
    "--activation",
    "tanh",
    "--init",
    "xavier_normal",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--epochs",
    "2000",
    "--batch-size",
    "32",
    "--seed",
    "0",
    "--quiet",
]


def run_cli(*args, cwd=None):
    """Run ``python -m mlplab`` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mlplab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"mlplab {__version__}"


def test_every_command_has_help(capsys):
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"train", "gradcheck", "predict", "diagnose"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        assert "usage: mlplab " + name in capsys.readouterr().out


def test_train_runge_example_reaches_the_target(tmp_path):
    out = tmp_path / "runge"
    result = run_cli(*RUNGE, "--out", str(out))
    assert result.returncode == 0, result.stderr
    for name in ("config.json", "model.npz", "history.csv", "metrics.json", "fit.png", "loss.png"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"train_mse", "val_mse", "max_abs_error", "seconds"} <= set(metrics)
    assert metrics["val_mse"] <= 1e-4
    assert "val_mse" in result.stdout and "4353" in result.stdout
    assert (out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert config["hidden"] == [64, 64] and config["epochs"] == 2000
    # the saved model predicts what the run measured
    net = MLP.load(out / "model.npz")
    x = np.linspace(-1, 1, 2001).reshape(-1, 1)
    err = np.max(np.abs(net(x) - 1 / (1 + 25 * x**2)))
    assert err == pytest.approx(metrics["max_abs_error"], rel=1e-12)


def test_train_with_an_expression_and_a_data_file(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--target",
                "sin(3*x) + x**2",
                "--hidden",
                "8",
                "--epochs",
                "3",
                "--quiet",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n" + "\n".join(f"{v},{v * v}" for v in np.linspace(0, 1, 20)))
    assert (
        main(
            [
                "train",
                "--data",
                str(csv),
                "--hidden",
                "4",
                "--epochs",
                "2",
                "--quiet",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    assert (tmp_path / "b" / "fit.png").exists()


def test_gradcheck_passes_and_fails(capsys):
    assert (
        main(["gradcheck", "--sizes", "3", "5", "4", "1", "--activation", "tanh", "--loss", "mse"])
        == 0
    )
    out = capsys.readouterr().out
    assert "input_gradient" in out and "passed" in out
    # the title on one line, the step in the verdict line
    assert out.splitlines()[0].strip() == "gradcheck 3-5-4-1 tanh, loss mse"
    assert "(step h = 1e-05, tolerance 1e-07): passed" in out
    assert main(["gradcheck", "--sizes", "3,5", "4,1", "--activation", "tanh"]) == 0
    assert capsys.readouterr().out == out  # the same network, its widths written with commas
    # an impossible tolerance must fail with exit status 1
    assert main(["gradcheck", "--sizes", "3", "5", "1", "--tol", "1e-30"]) == 1
    failed = capsys.readouterr().out
    assert "FAILED" in failed and "rerun with the default --h" not in failed  # h is the default
    assert "│ W^[2]" in out and "│ b^[3]" in out  # the paper's names of the arrays
    # a step far from the default fails on the differences' own error, and says so
    assert main(["gradcheck", "--sizes", "2", "3", "1", "--h", "1e-12"]) == 1
    text = " ".join(capsys.readouterr().out.split())
    assert "FAILED" in text and "rerun with the default --h 1e-05 before doubting backprop" in text


def test_gradcheck_multi_output_cross_entropy(capsys):
    assert (
        main(
            [
                "gradcheck",
                "--sizes",
                "2",
                "6",
                "6",
                "4",
                "3",
                "--activation",
                "gelu",
                "--loss",
                "cross_entropy",
            ]
        )
        == 0
    )
    title = capsys.readouterr().out.splitlines()[0]
    assert title.strip() == "gradcheck 2-6-6-4-3 gelu, loss cross_entropy"  # never wrapped


def test_predict(tmp_path, capsys):
    path = MLP([2, 3, 1], seed=0).save(tmp_path / "m.npz")
    assert main(["predict", str(path), "--x", "0.1", "0.2", "0.3", "0.4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "x1,x2,y1" and len(lines) == 3
    net = MLP.load(path)
    printed = [float(line.split(",")[2]) for line in lines[1:]]
    assert printed == list(net(np.array([[0.1, 0.2], [0.3, 0.4]]))[:, 0])  # read back exactly
    # each number in its shortest round-tripping form: the inputs as they were typed
    assert lines[1].startswith("0.1,0.2,") and lines[2].startswith("0.3,0.4,")
    assert all(v == repr(float(v)) for line in lines[1:] for v in line.split(","))
    inputs = tmp_path / "in.csv"
    inputs.write_text("0.1,0.2\n0.3,0.4\n")
    assert main(["predict", str(path), "--input", str(inputs)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[1:] == lines[1:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--activation", "swish", "--epochs", "1"], "unknown activation 'swish'"),
        (["train", "--loss", "hinge", "--epochs", "1"], "unknown loss 'hinge'"),
        (["train", "--optimizer", "rmsprop", "--epochs", "1"], "adam, lbfgs, sgd"),
        (["train", "--lr", "0", "--epochs", "1"], "learning rate must be"),
        (["train", "--lr", "-1", "--epochs", "1"], "learning rate must be"),
        (["train", "--hidden", "0", "--epochs", "1"], "'0' is not a layer width"),
        (["train", "--hidden", "8,,8", "--epochs", "1"], "'8,,8' has an empty entry"),
        (["train", "--target", "__import__('os')", "--epochs", "1"], "not an allowed function"),
        (["train", "--n-train", "0", "--epochs", "1"], "number of points"),
        (["train", "--data", "missing.csv", "--epochs", "1"], "no data file"),
        (["gradcheck", "--sizes", "3", "0", "1"], "'0' is not a layer width"),
        (["gradcheck", "--sizes", "3,x,1"], "'x' is not a layer width"),
        (["predict", "missing.npz", "--x", "1"], "no model file"),
        (["diagnose", "missing.npz", "--target", "runge"], "no model file"),
    ],
)
def test_bad_input_gives_a_one_line_error(tmp_path, args, message):
    if args[0] == "train":
        args = [*args, "--quiet", "--out", str(tmp_path / "run")]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_damaged_model_file(tmp_path):
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"PK\x03\x04 broken")
    result = run_cli("predict", str(bad), "--x", "1")
    assert result.returncode == 2 and "is not an .npz archive" in result.stderr


def test_predict_wrong_number_of_inputs(tmp_path):
    path = MLP([2, 3, 1], seed=0).save(tmp_path / "m.npz")
    result = run_cli("predict", str(path), "--x", "1", "2", "3")
    assert result.returncode == 2 and "2 inputs per point" in result.stderr


def test_unwritable_out_file_in_the_way(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("train", "--epochs", "1", "--quiet", "--out", str(blocker / "run"))
    assert result.returncode == 2 and "cannot write to output folder" in result.stderr


def test_diverging_run_exits_non_zero_and_saves_finite_model(tmp_path):
    out = tmp_path / "div"
    result = run_cli(
        "train",
        "--target",
        "10*x",
        "--activation",
        "identity",
        "--hidden",
        "8",
        "8",
        "--optimizer",
        "sgd",
        "--lr",
        "5",
        "--epochs",
        "50",
        "--quiet",
        "--out",
        str(out),
    )
    assert result.returncode == 1
    assert "diverged" in result.stderr
    assert np.all(np.isfinite(MLP.load(out / "model.npz").params))


def test_train_a_classifier_from_a_csv_of_labels(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (150, 2))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.3)
    data = tmp_path / "cls.csv"
    np.savetxt(data, np.column_stack([x, labels]), delimiter=",", header="x1,x2,label", comments="")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--loss",
                "cross_entropy",
                "--hidden",
                "16",
                "--epochs",
                "300",
                "--lr",
                "0.01",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert MLP.load(out / "model.npz").sizes == [2, 16, 3]
    assert metrics["val_accuracy"] > 0.8 and "val_mse" not in metrics


def test_predict_from_an_npz_of_inputs_only(tmp_path, capsys):
    path = MLP([1, 3, 1], seed=0).save(tmp_path / "m.npz")
    np.savez(tmp_path / "x.npz", x=np.array([0.0, 0.5]))
    assert main(["predict", str(path), "--input", str(tmp_path / "x.npz")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_gradcheck_rejects_a_zero_step(capsys):
    assert main(["gradcheck", "--h", "0"]) == 2
    assert "--h and --tol must be > 0" in capsys.readouterr().err


def test_error_messages_keep_square_brackets(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text("[base]\nwidths = [3]\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s")]) == 2
    assert "[base]" in capsys.readouterr().err


def test_options_that_would_be_ignored_are_refused(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("0,1\n1,2\n2,3\n3,4\n4,5\n")
    assert main(["train", "--data", str(data), "--n-train", "10", "--out", str(tmp_path)]) == 2
    assert "--n-train describes a target function" in capsys.readouterr().err
    assert main(["train", "--val-fraction", "0.5", "--out", str(tmp_path)]) == 2
    assert "applies to --data" in capsys.readouterr().err


def table_rows(out: str) -> list[list[str]]:
    """The body rows of diagnose's table (no vertical rules: cells at least two spaces apart,
    the rows from the rule under the header to the first blank line), as lists of cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("─")) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start:end]]


def relu_model(tmp_path):
    """A saved 1-8-8-1 ReLU model whose units 0, 1, 2 of layer 2 are dead on [−1, 1]."""
    net = MLP([1, 8, 8, 1], activation="relu", init="he_normal", seed=0)
    net.weights[0][:3] = 1.0
    net.biases[0][:3] = -2.0
    return net, net.save(tmp_path / "m.npz")


def test_diagnose_with_a_target(tmp_path, capsys):
    from mlplab.data import sample
    from mlplab.diagnostics import diagnose

    net, path = relu_model(tmp_path)
    args = ["diagnose", str(path), "--target", "sin", "--n-points", "50", "--seed", "3"]
    assert main([*args, "--threshold", "0.05"]) == 0
    out = capsys.readouterr().out
    x = sample(50, (-1.0, 1.0), "uniform", 3)
    expected = diagnose(net, x, np.sin(np.pi * x), threshold=0.05)
    assert expected.layers[0].n_dead == 3
    assert table_rows(out) == expected.rows()
    assert "50 points, loss mse" in out and "0.05" in out


def test_diagnose_a_data_file_and_inputs_only(tmp_path, capsys):
    from mlplab.diagnostics import diagnose

    net, path = relu_model(tmp_path)
    x = np.linspace(-1, 1, 30).reshape(-1, 1)
    data = tmp_path / "d.csv"
    np.savetxt(data, np.hstack([x, x**2]), delimiter=",", header="x,y", comments="")
    assert main(["diagnose", str(path), "--data", str(data), "--loss", "half_sse"]) == 0
    assert table_rows(capsys.readouterr().out) == diagnose(net, x, x**2, "half_sse").rows()
    np.savez(tmp_path / "x.npz", x=x[:, 0])
    assert main(["diagnose", str(path), "--input", str(tmp_path / "x.npz")]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows == diagnose(net, x).rows() and rows[0][-2:] == ["n/a", "n/a"]


def test_diagnose_a_run_on_the_papers_data_set_with_the_runs_loss(tmp_path, capsys):
    from mlplab.data import paper_example
    from mlplab.diagnostics import diagnose

    out = tmp_path / "run"
    assert main(["train", "--data", "higham", "--epochs", "5", "--quiet", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out / "model.npz"), "--data", "higham"]) == 0
    text = capsys.readouterr().out
    X, Y = paper_example()
    expected = diagnose(MLP.load(out / "model.npz"), X, Y, "half_sse")  # config.json's loss
    assert table_rows(text) == expected.rows() and "10 points, loss half_sse" in text
    assert main(["diagnose", str(out / "model.npz"), "--data", "higham", "--loss", "mse"]) == 0
    assert "loss mse" in capsys.readouterr().out
    # the points of a target have real values: mse, whatever loss the run trained with
    run = tmp_path / "logits"
    MLP([1, 4, 1], seed=0).save(run / "model.npz")
    (run / "config.json").write_text(json.dumps({"loss": "bce_logits"}))
    assert main(["diagnose", str(run / "model.npz"), "--target", "sin"]) == 0
    assert "loss mse" in capsys.readouterr().out


def test_diagnose_a_classifier_with_a_label_column(tmp_path, capsys):
    from mlplab.diagnostics import diagnose

    net = MLP([2, 4, 3], activation="tanh", seed=0)
    path = net.save(tmp_path / "c.npz")
    rng = np.random.default_rng(0)
    x, labels = rng.uniform(-1, 1, (20, 2)), rng.integers(0, 3, 20)
    data = tmp_path / "c.csv"
    np.savetxt(data, np.column_stack([x, labels]), delimiter=",")
    assert main(["diagnose", str(path), "--data", str(data), "--loss", "cross_entropy"]) == 0
    assert table_rows(capsys.readouterr().out) == diagnose(net, x, labels, "cross_entropy").rows()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "sin(x", "--n-points", "5"], "cannot parse expression"),
        (["--target", "swish", "--n-points", "5"], "unknown name 'swish'"),
        (["--target", "sin", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["--target", "sin", "--threshold", "1.5"], "threshold must be a number in [0, 1)"),
        (["--target", "sin", "--n-points", "0"], "number of points must be a whole number >= 1"),
        (["--input", "three.csv"], "has 3 column(s) but the model takes 1 input(s)"),
        (["--input", "three.csv", "--n-points", "9"], "--n-points describe the points of --target"),
        (["--data", "three.csv"], "y has shape (4, 2) but the network has 1 output(s)"),
        (["--data", "nan.csv"], "contains NaN or inf"),
        (["--target", "pi**pi**pi**pi*x"], "target 'pi**pi**pi**pi*x' is inf at x = "),
        (["--target", "log(x)", "--domain", "-2", "-1"], "target 'log(x)' is nan at x = "),
    ],
)
def test_diagnose_bad_input(tmp_path, capsys, monkeypatch, args, message):
    _, path = relu_model(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "three.csv").write_text("1,2,3\n4,5,6\n7,8,9\n1,1,1\n")
    (tmp_path / "nan.csv").write_text("1,2\nnan,5\n")
    assert main(["diagnose", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_diagnose_a_target_needs_one_input_and_one_output(tmp_path, capsys):
    path = MLP([2, 3, 1], seed=0).save(tmp_path / "two.npz")
    assert main(["diagnose", str(path), "--target", "runge"]) == 2
    assert "the model has 2 input(s) and 1 output(s)" in capsys.readouterr().err


@pytest.mark.parametrize("sizes", [[2, 3, 1], [2, 4, 3]])
def test_predict_prints_the_input_gradient(tmp_path, capsys, sizes):
    net = MLP(sizes, seed=1, bias_init="normal:0,0.5")
    path = net.save(tmp_path / "m.npz")
    assert main(["predict", str(path), "--x", "0.1", "0.2", "-0.3", "0.4", "--gradient"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    n_out = sizes[-1]
    assert lines[0].split(",") == ["x1", "x2"] + [f"y{i + 1}" for i in range(n_out)] + [
        f"dy{i + 1}/dx{j + 1}" for i in range(n_out) for j in range(2)
    ]
    X = np.array([[0.1, 0.2], [-0.3, 0.4]])
    printed = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    J = net.input_jacobian(X)
    np.testing.assert_allclose(printed[:, 2 + n_out :].reshape(J.shape), J, rtol=1e-15)
    if n_out == 1:
        np.testing.assert_allclose(printed[:, 3:], net.input_gradient(X), rtol=1e-14)


def test_train_on_the_papers_data_set_reports_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "higham", "--epochs", "300", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2-2-3-2 sigmoid" in text and "train_accuracy" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"{metrics['train_accuracy']:.1%}" in text
    assert (out / "regions.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "config.json").read_text())["val_fraction"] is None


def test_an_option_given_with_the_papers_data_set_is_kept_even_at_the_general_default(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", "higham", "--activation", "tanh", "--epochs", "3", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["activation"] == "tanh"  # given: kept, though it is the general default
    assert (config["output_activation"], config["hidden"]) == ("sigmoid", [2, 3])  # the paper's


def test_a_network_without_hidden_layers_says_so(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "--hidden", "--epochs", "2", "--n-train", "8", "--n-val", "4"]
    assert main([*args, "--quiet", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "1-1 (no hidden layer, identity output)" in text and "tanh" not in text


def test_gradcheck_activation_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--activation ACTIVATION σ of the hidden layers" in help_text


def test_negative_numbers_in_scientific_notation_are_values():
    args = build_parser().parse_args(["train", "--domain", "-1e-3", "1", "--lr", "1e-3"])
    assert tuple(args.domain) == (-1e-3, 1.0)
    args = build_parser().parse_args(["predict", "m.npz", "--x", "1e308", "-1e308", "-.5", "-2"])
    assert [float(v) for v in args.x] == [1e308, -1e308, -0.5, -2.0]


def test_an_expression_that_starts_with_a_minus_is_a_value(capsys):
    args = build_parser().parse_args(["train", "--target", "-x**2", "--domain", "-2", "-.5"])
    assert args.target == "-x**2" and tuple(args.domain) == (-2.0, -0.5)
    assert build_parser().parse_args(["train", "--target", "-sin(x)"]).target == "-sin(x)"
    # -h is still help, and a word of letters is still taken for a mistyped option
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["train", "-h"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: mlplab train")
    for argv, message in (
        (["train", "-q"], "unrecognized arguments: -q"),
        (["train", "--out", "-quiet"], "argument --out: expected one argument"),
        (["train", "--target", "-x"], "value that starts with '-' goes after '=': --target=-x"),
        (["train", "--targ", "-x"], "value that starts with '-' goes after '=': --target=-x"),
    ):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    # an option given no value at all gets no hint about '-'
    for argv in (
        ["train", "--target"],
        ["train", "--out", "runs/a", "--target"],
        ["train", "--target", "--epochs", "5"],
        ["train", "--target", "--epo=5"],
    ):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        err = capsys.readouterr().err
        assert "argument --target: expected one argument" in err and "goes after" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--hidden", "1,,3"], "argument --hidden: '1,,3' has an empty entry"),
        (["train", "--epochs", "1e3"], "argument --epochs: invalid int value: '1e3'"),
        (["train", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
        (["experiment", "run"], "the following arguments are required: NAME"),
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
        # an unknown option is left over by the command's parser: its --help is the one named
        (["train", "--epohcs", "5"], "unrecognized arguments: --epohcs 5"),
        (["experiment", "run", "cos4", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_mistyped_option_is_one_line_that_points_to_help(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    prog = " ".join(["mlplab", *[w for w in argv[:2] if w in ("train", "experiment", "run")]])
    assert exit_.value.code == 2
    assert err.startswith(f"error: {message}") and "usage:" not in err
    assert err.rstrip().endswith(f"; '{prog} --help' shows the options")
    assert len(err.strip().splitlines()) == 1


def test_every_option_starts_with_two_dashes():
    # what lets the parser read a word with one dash as a value
    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    for parser in parsers(build_parser()):
        for action in parser._actions:
            short = [o for o in action.option_strings if not o.startswith("--")]
            assert short in ([], ["-h"]), (parser.prog, action.option_strings)

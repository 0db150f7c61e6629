"""``mlplab trace``: a model file or an inline network, every format, and exercises."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab import MLP
from mlplab.cli import main
from mlplab.exercise import make_exercise
from tests.test_trace import assert_printed, mazur_network

MAZUR_STEP = ["--x", "0.05", "0.10", "--y", "0.01", "0.99", "--loss", "half_sse", "--lr", "0.5"]


@pytest.fixture
def mazur_model(tmp_path):
    return str(mazur_network().save(tmp_path / "mazur.npz"))


def trace_json(capsys, *args) -> dict:
    assert main(["trace", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_model_file_traces_the_published_example(mazur_model, capsys):
    d = trace_json(capsys, mazur_model, *MAZUR_STEP)
    assert_printed(d["cost"], "0.298371109")
    values = {e["symbol"]: np.array(e["value"]) for e in d["entries"]}
    assert_printed(values["W^[3]_new"][0, 0], "0.35891648")
    assert_printed(values["W^[2]_new"][0, 0], "0.149780716")
    assert d["lr"] == 0.5 and d["sizes"] == [2, 2, 2]


def test_every_format(mazur_model, capsys, tmp_path):
    expected = mazur_network().trace([0.05, 0.10], [0.01, 0.99], loss="half_sse", lr=0.5)
    assert main(["trace", mazur_model, *MAZUR_STEP, "--digits", "9"]) == 0
    text = capsys.readouterr().out
    assert "│ C " in text and "0.298371109" in text and "0.35891648" in text
    assert main(["trace", mazur_model, *MAZUR_STEP, "--format", "md"]) == 0
    assert capsys.readouterr().out == expected.to_markdown()
    assert main(["trace", mazur_model, *MAZUR_STEP, "--format", "html"]) == 0
    assert capsys.readouterr().out == expected.to_html(full=True)
    out = tmp_path / "t.json"
    assert main(["trace", mazur_model, *MAZUR_STEP, "--format", "json", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == expected.to_dict()


@pytest.mark.parametrize("suffix", ["json", "npz"])
def test_an_inline_network_with_a_weights_file(mazur_model, capsys, tmp_path, suffix):
    net = mazur_network()
    weights = tmp_path / f"w.{suffix}"
    arrays = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i + 2}"], arrays[f"b{i + 2}"] = W, b
    if suffix == "json":
        weights.write_text(json.dumps({k: v.tolist() for k, v in arrays.items()}))
    else:
        np.savez(weights, **arrays)
    inline = trace_json(
        capsys,
        "--sizes",
        "2",
        "2",
        "2",
        "--activation",
        "sigmoid",
        "--weights",
        str(weights),
        *MAZUR_STEP,
    )
    assert inline == trace_json(capsys, mazur_model, *MAZUR_STEP)


@pytest.mark.parametrize(
    "options",
    [
        ["--activation", "relu"],
        ["--output-activation", "identity"],
        ["--seed", "3"],
        ["--sizes", "2", "2", "2"],
        ["--activation", "tanh", "--seed", "0"],
    ],
)
def test_a_model_file_refuses_the_options_of_an_inline_network(mazur_model, capsys, options):
    assert main(["trace", mazur_model, *MAZUR_STEP, *options]) == 2
    named = ", ".join(o for o in options if o.startswith("--"))
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    problem = f"{mazur_model} holds the whole network (sizes, activations, weights)"
    assert f"{problem}: drop {named} (for a network given inline with --sizes)" in err


def test_the_text_table_fits_an_80_column_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    step = ["--sizes", "2", "3", "1", "--seed", "1", "--x", "0.5", "-0.2", "0.1", "0.3", "0.9"]
    assert main(["trace", *step, "0.9", "--y", "1", "0", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("│ δ^[3] ") and "-0.112415" in line for line in lines)


def test_a_point_has_its_own_delta_and_the_gradient_takes_their_mean(capsys):
    """δ^[3] of the first of 3 points is σ'(z^[3]) (a^[3] − y) at that point, the paper's per-point
    δ; ∂C/∂W^[3] = (1/N) Σ_k δ^[3](x^{k}) (a^[2](x^{k}))ᵀ, the gradient MLP.backward gives."""
    X, y = [0.5, -0.2, 0.1, 0.3, 0.9, 0.9], ["1", "0", "1"]
    d = trace_json(capsys, "--sizes", "2", "3", "1", "--seed", "1", "--x", *map(str, X), "--y", *y)
    values = {e["symbol"]: np.array(e["value"]) for e in d["entries"]}
    assert_printed(values["δ^[3]"][0, 0], "-0.112415")
    net = MLP([2, 3, 1], activation="sigmoid", output_activation="sigmoid", seed=1)
    X, Y = np.reshape(X, (3, 2)), np.array([[1.0], [0.0], [1.0]])
    cache = net.forward(X)
    gW, gb = net.backward(cache, (cache.output - Y) / 3)
    np.testing.assert_allclose(values["∂C/∂W^[3]"], gW[1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(values["∂C/∂b^[2]"], gb[0], rtol=0, atol=1e-15)


def test_class_labels_are_shown_as_the_one_hot_y_of_the_formulas(capsys):
    step = ["--sizes", "2", "3", "3", "--activation", "tanh", "--seed", "2", "--x", "0.1", "-0.5"]
    d = trace_json(capsys, *step, "--y", "2", "--loss", "cross_entropy")
    assert d["activations"] == ["tanh", "identity"]  # cross_entropy takes logits
    y = next(e for e in d["entries"] if e["symbol"] == "y")
    assert y["value"] == [[0.0, 0.0, 1.0]]
    assert (y["formula"], y["where"]) == (
        "e_3 (class 2)",
        "e_j is 1 in entry j and 0 elsewhere; classes count from 0",
    )


def test_sizes_take_spaces_or_commas(capsys):
    step = ["--x", "0.5", "-1", "--y", "1", "0", "--seed", "3"]
    spaced = trace_json(capsys, "--sizes", "2", "2", "3", "2", *step)
    assert trace_json(capsys, "--sizes", "2,2,3,2", *step) == spaced
    assert trace_json(capsys, "--sizes", "2,2", "3", "2", *step) == spaced
    assert spaced["sizes"] == [2, 2, 3, 2]


def test_a_few_points_and_class_labels(capsys):
    d = trace_json(
        capsys,
        "--sizes",
        "1",
        "3",
        "2",
        "--activation",
        "tanh",
        "--output-activation",
        "identity",
        "--seed",
        "4",
        "--x",
        "0.5",
        "-1",
        "--y",
        "1",
        "0",
        "--loss",
        "cross_entropy",
    )
    net = MLP([1, 3, 2], activation="tanh", output_activation="identity", seed=4)
    expected = net.trace(np.array([0.5, -1.0]), np.array([1, 0]), "cross_entropy", 0.05).to_dict()
    assert d["notes"][-1] == (
        "W^[l] are drawn with --seed 4 (Xavier normal) and b^[l] = 0; give --weights or a model "
        "file for other weights."
    )
    assert {**d, "notes": d["notes"][:-1]} == expected


def test_an_exercise_is_reproducible_from_its_seed(tmp_path, capsys, monkeypatch):
    def make(seed, name):
        out = tmp_path / name
        assert (
            main(["trace", "--random", "--sizes", "2", "3", "1", "--seed", seed, "--out", str(out)])
            == 0
        )
        files = {f: (out / f).read_text() for f in ("exercise.md", "solution.md", "network.json")}
        # the sheet names where its network file is: the one thing that depends on --out
        files["exercise.md"] = files["exercise.md"].replace(str(out), "OUT")
        return files

    first, again, other = make("5", "a"), make("5", "b"), make("6", "c")
    assert first == again
    assert first["network.json"] != other["network.json"]
    sheet = first["exercise.md"]
    assert sheet.startswith("# Backpropagation by hand (exercise 5)")
    assert "## Questions" in sheet and "\n6. The weights and biases after one step" in sheet
    assert r"\nabla a^{[3]}(x)" in sheet  # n_L = 1: the input-gradient question
    weights = json.loads(first["network.json"])
    assert sorted(weights) == ["W2", "W3", "b2", "b3"]
    assert np.shape(weights["W2"]) == (3, 2) and np.shape(weights["b3"]) == (1,)
    for value in np.concatenate([np.ravel(v) for v in weights.values()]):
        assert value * 10 == round(value * 10)  # tenths, to work by hand
    # the command the sheet prints reproduces the solution, as the text table a terminal reads
    command = sheet.split("print them with `mlplab ")[1].split("`")[0].split()
    assert command[command.index("--weights") + 1] == "OUT/network.json"
    command[command.index("--weights") + 1] = str(tmp_path / "a" / "network.json")
    assert_prints_the_solution(command, make_exercise([2, 3, 1], seed=5), capsys, monkeypatch)
    assert first["solution.md"] == make_exercise([2, 3, 1], seed=5).solution()
    assert "(loss half_sse)" not in sheet and "the cost is half the squared error" in sheet


def assert_prints_the_solution(command: list[str], exercise, capsys, monkeypatch) -> None:
    """``mlplab COMMAND`` prints the text table of the exercise's step (no raw LaTeX)."""
    assert "--format" not in command
    monkeypatch.setenv("COLUMNS", "120")
    capsys.readouterr()
    assert main(command) == 0
    assert capsys.readouterr().out == exercise.trace.to_text(width=120)
    assert main([*command, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == exercise.trace.to_dict()


def test_an_exercise_sheet_command_works_from_where_it_was_made(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "--random", "--sizes", "2", "3", "1", "--seed", "5"]) == 0
    sheet = (tmp_path / "exercise-5" / "exercise.md").read_text()
    assert "print them from the folder that holds `exercise-5` with" in sheet
    command = sheet.split("print them from the folder that holds `exercise-5` with `mlplab ")
    command = command[1].split("`")[0].split()
    assert command[command.index("--weights") + 1] == "exercise-5/network.json"
    # as printed, from the folder the exercise was made in
    assert_prints_the_solution(command, make_exercise([2, 3, 1], seed=5), capsys, monkeypatch)


def _folder(path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


def test_an_exercise_replaces_an_earlier_one_whole_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exercise = ["trace", "--random", "--sizes", "2", "3", "1", "--seed", "5"]
    assert main(exercise) == 0
    assert "earlier" not in capsys.readouterr().err
    before = _folder(tmp_path / "exercise-5")
    assert main([*exercise, "--activation", "relu", "--loss", "mse"]) == 0
    assert capsys.readouterr().err.startswith(
        "exercise-5 holds an earlier exercise: it is replaced when this one finishes"
    )
    after = _folder(tmp_path / "exercise-5")
    assert set(after) == set(before) and after["exercise.md"] != before["exercise.md"]

    def fail(self, digits):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mlplab.exercise.Exercise.solution", fail)
    assert main(exercise) == 2  # failed after network.json and exercise.md were written
    assert "No space left on device" in capsys.readouterr().err
    assert _folder(tmp_path / "exercise-5") == after  # the earlier exercise, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exercise-5"]


def test_an_exercise_never_replaces_a_folder_of_other_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    assert main(["trace", "--random", "--sizes", "2", "3", "1", "--out", str(mine)]) == 2
    assert "holds files but no earlier run (network.json is missing)" in capsys.readouterr().err
    assert _folder(mine) == {"notes.md": "mine"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "1", "--y", "1"], "name the network"),
        (["--sizes", "2", "1", "--x", "1", "2"], "give the point"),
        (["--sizes", "2", "1", "--x", "1", "2", "3", "--y", "1"], "2 inputs per point"),
        (["--sizes", "2", "1", "--x", "1", "2", "--y", "1", "2"], "--y needs 1 number"),
        (
            ["--sizes", "2", "1", "--weights", "nope.json", "--x", "1", "2", "--y", "1"],
            "no weights",
        ),
        (["--random", "--sizes", "2", "1", "--x", "1"], "drop --x"),
        (["--random"], "give --sizes"),
        (["--random", "--sizes", "2", "9", "1"], "at most 6 units"),
        (
            ["--random", "--sizes", "2", "3", "1", "--format", "html"],
            "--random writes the exercise as Markdown (exercise.md, solution.md): drop "
            "--format html",
        ),
        (["--sizes", "2", "1", "--x", "1", "2", "--y", "1", "--digits", "0"], "--digits"),
    ],
)
def test_bad_input_is_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where an exercise accepted by mistake would be written
    assert main(["trace", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_weights_file_of_the_wrong_shape(tmp_path, capsys):
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps({"W2": [[1.0, 2.0]], "b2": [0.0, 0.0]}))
    assert (
        main(["trace", "--sizes", "2", "1", "--weights", str(bad), "--x", "1", "2", "--y", "1"])
        == 2
    )
    assert "b2 should have shape (1,) for sizes [2, 1], found (2,)" in capsys.readouterr().err


def test_a_classification_exercise_names_the_class(tmp_path):
    out = tmp_path / "ce"
    args = ["--sizes", "2", "2", "3", "--activation", "relu", "--output-activation", "identity"]
    assert (
        main(
            [
                "trace",
                "--random",
                *args,
                "--loss",
                "cross_entropy",
                "--seed",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    sheet = (out / "exercise.md").read_text()
    label = int(sheet.split(" of class ")[1].split(",")[0])
    column = " \\cr ".join("1" if j == label else "0" for j in range(3))
    # the label (from 0) and the one-hot y = e_{label + 1} (entries from 1) it stands for
    assert f"$y = e_{{{label + 1}}} = \\begin{{pmatrix}} {column} \\end{{pmatrix}}$" in sheet
    assert f"one-hot vector with its 1 in entry {label + 1} (classes are numbered from 0" in sheet
    assert f"--y {label} --loss cross_entropy" in sheet
    assert r"\nabla" not in sheet  # n_L = 3: no input-gradient question


# --- where --out points -----------------------------------------------------------------------

STEP = ["trace", "--sizes", "2", "3", "1", "--x", "1", "2", "--y", "1"]
EXERCISE = ["trace", "--random", "--sizes", "2", "3", "1"]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ".tmp" not in err
    return err


def test_a_trace_out_that_is_a_folder_is_refused_with_a_file_name_to_give(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("mine")
    (tmp_path / "link").symlink_to(mine)
    for out, fmt in ((mine, "text"), (tmp_path / "link", "md")):
        assert main([*STEP, "--format", fmt, "--out", str(out)]) == 2
        suffix = "txt" if fmt == "text" else fmt
        assert f"--out {out} is a folder, and this writes one file: give a file name, such as " \
               f"{out}/trace.{suffix}" in _one_line(capsys)  # fmt: skip
    assert _folder(mine) == {"notes.md": "mine"} and (tmp_path / "link").is_symlink()


def test_an_out_under_a_file_names_the_file(tmp_path, capsys):
    (tmp_path / "a-file").write_text("mine")
    for command, what in ((STEP, "file"), (EXERCISE, "folder")):
        assert main([*command, "--out", str(tmp_path / "a-file" / "t")]) == 2
        assert f"cannot write to output {what} {tmp_path}/a-file/t: {tmp_path}/a-file is a " \
               "file, not a folder; choose another --out" in _one_line(capsys)  # fmt: skip
    assert (tmp_path / "a-file").read_text() == "mine"


def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command, what in ((STEP, "file"), (EXERCISE, "folder")):
        assert main([*command, "--out", ""]) == 2
        assert f"--out is empty: give the name of the output {what}" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []  # not the default exercise-0


def test_a_trace_out_that_is_a_link_writes_the_file_it_links_to(tmp_path, capsys):
    (tmp_path / "trace.md").write_text("old")
    (tmp_path / "link.md").symlink_to("trace.md")
    assert main([*STEP, "--format", "md", "--out", str(tmp_path / "link.md")]) == 0
    assert (tmp_path / "link.md").is_symlink()
    assert (tmp_path / "trace.md").read_text().startswith("**network 2-3-1")


def test_a_failed_write_names_the_out_given_not_a_temporary_file(tmp_path, capsys, monkeypatch):
    def fail(path, text):
        raise OSError(28, "No space left on device", f"{tmp_path}/.t.txt.0123.tmp")

    monkeypatch.setattr("mlplab.io.write_text", fail)
    assert main([*STEP, "--out", str(tmp_path / "t.txt")]) == 2
    assert f"cannot write the trace to {tmp_path}/t.txt: No space left on device; choose " \
           "another --out" in _one_line(capsys)  # fmt: skip


def test_an_exercise_takes_format_md_the_format_it_writes(tmp_path):
    out = tmp_path / "md"
    assert main([*EXERCISE, "--format", "md", "--out", str(out)]) == 0
    assert (out / "solution.md").read_text().startswith("# Solution of exercise 0")

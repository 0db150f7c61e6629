"""Sweep specs: expansion, stable run ids, and every kind of bad input named clearly."""

from __future__ import annotations

import pytest
from sweep_helpers import SPEC, run_cli

from mlplab.config import TrainConfig
from mlplab.sweep import SpecError, load_spec, parse_spec, run_id


def test_grid_times_seeds_in_written_order(spec_file):
    spec = load_spec(spec_file)
    assert spec.name == "tiny"
    assert spec.axes == ("hidden", "lr")
    assert spec.seeds == (0, 1)
    assert spec.settings == 4
    got = [(r.config.hidden, r.config.lr, r.config.seed) for r in spec.runs]
    assert got == [
        ([8], 0.003, 0),
        ([8], 0.003, 1),
        ([8], 0.03, 0),
        ([8], 0.03, 1),
        ([16], 0.003, 0),
        ([16], 0.003, 1),
        ([16], 0.03, 0),
        ([16], 0.03, 1),
    ]
    assert all(r.config.epochs == 200 and r.config.n_train == 64 for r in spec.runs)
    assert spec.runs[2].params == {"hidden": [8], "lr": 0.03}
    assert len({r.run_id for r in spec.runs}) == 8


def test_runs_are_crossed_with_the_grid():
    spec = parse_spec(
        {
            "seeds": [3],
            "grid": {"lr": [0.01, 0.1]},
            "runs": [{"optimizer": "sgd", "momentum": 0.9}, {"optimizer": "adam"}],
        }
    )
    got = [(r.config.optimizer, r.config.momentum, r.config.lr, r.config.seed) for r in spec.runs]
    assert got == [
        ("sgd", 0.9, 0.01, 3),
        ("sgd", 0.9, 0.1, 3),
        ("adam", 0.0, 0.01, 3),
        ("adam", 0.0, 0.1, 3),
    ]
    assert spec.axes == ("lr", "runs")
    assert spec.runs[0].params == {"lr": 0.01, "runs": "optimizer=sgd; momentum=0.9"}


def test_the_papers_data_set_brings_its_defaults_as_in_mlplab_train():
    for base in ({"data": "higham"}, {"target": "higham"}):
        (run,) = parse_spec({"base": {**base, "epochs": 2}}).runs
        assert run.config == TrainConfig.from_dict({"data": "higham", "epochs": 2})
        assert (run.config.hidden, run.config.loss, run.config.batch_size) == (
            [2, 3],
            "half_sse",
            1,
        )


def test_one_configuration_spelt_two_ways_is_one_run():
    (a,) = parse_spec({"base": {"activation": "leaky_relu:0.1"}}).runs
    (b,) = parse_spec({"base": {"activation": "Leaky-ReLU:1e-1"}}).runs
    assert a.run_id == b.run_id and b.config.activation == "leaky_relu:0.1"
    with pytest.raises(SpecError, match="two runs have the same configuration"):
        parse_spec({"grid": {"activation": ["sigmoid", "logistic"]}})


def test_run_id_is_a_stable_hash_of_the_whole_config():
    a = TrainConfig(lr=0.01, hidden=[8])
    assert run_id(a) == run_id(TrainConfig(lr=0.01, hidden=[8]))
    assert len(run_id(a)) == 12 and int(run_id(a), 16) >= 0
    assert run_id(a) != run_id(TrainConfig(lr=0.01, hidden=[8], epochs=3))
    assert run_id(a) != run_id(TrainConfig(lr=0.01, hidden=[8], seed=1))
    # an integer where a float is expected is the same configuration
    one = parse_spec({"base": {"lr": 1}}).runs[0]
    assert one.config.lr == 1.0 and isinstance(one.config.lr, float)
    assert one.run_id == parse_spec({"base": {"lr": 1.0}}).runs[0].run_id


def test_malformed_toml_names_line_and_column(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n\n[base]\nlr = = 0.1\n', encoding="utf-8")
    with pytest.raises(SpecError, match=r"not valid TOML.*line 4, column 6"):
        load_spec(path)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        (
            {"base": {"lerning_rate": 0.1}},
            r"\[base\]: unknown configuration key\(s\): lerning_rate",
        ),
        ({"grid": {"widht": [1, 2]}}, r"\[grid\]: unknown configuration key\(s\): widht"),
        ({"runs": [{"lr": 0.1}, {"optim": "sgd"}]}, r"\[\[runs\]\] entry 2: .*optim\b"),
        ({"seed": 3}, r"unknown top-level key\(s\): seed"),
    ],
)
def test_unknown_keys_are_named(table, named):
    with pytest.raises(SpecError, match=named) as info:
        parse_spec(table)
    assert "valid" in str(info.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"grid": {}}, r"\[grid\] is empty"),
        ({"grid": {"lr": []}}, r"\[grid\] lr is an empty list"),
        ({"grid": {"lr": 0.1}}, r"\[grid\] lr must be a list of values"),
        ({"runs": []}, r"runs is an empty list"),
        ({"seeds": 0}, r"seeds = 0"),
        ({"seeds": [1, 1]}, r"more than once"),
        ({"seeds": 2, "base": {"seed": 4}}, r"not both"),
        ({"base": {"lr": "fast"}}, r"\[base\] lr must be a number, got 'fast'"),
        ({"grid": {"hidden": [8, 16]}}, r"\[grid\] hidden must be a list of whole numbers"),
        ({"grid": {"lr": [0.1, 0.1]}}, r"same configuration"),
        ({"grid": {"lr": [0.1]}, "runs": [{"lr": 0.2}]}, r"both \[grid\] and \[\[runs\]\]"),
        ({"grid": {"activation": ["tanh", "swish"]}}, r"activation='swish'.*unknown activation"),
        ({"name": "a b"}, r"name must be a folder-safe word"),
    ],
)
def test_bad_specs_are_rejected_with_the_fix(table, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(table)


def test_cli_rejects_bad_spec_before_launching_anything(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace("lr = [0.003, 0.03]", "lr = [0.003, 0.03]\nbeta = [1]"))
    out = tmp_path / "never"
    status, _, err = run_cli("sweep", str(path), "--out", str(out))
    assert status == 2
    assert "unknown configuration key(s): beta" in err
    assert not out.exists()
    status, _, err = run_cli("sweep", str(tmp_path / "missing.toml"))
    assert status == 2 and "cannot read sweep spec" in err


# --- the whole spec checked before any cluster; its size limited -------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests.hostile import FUZZ, outcome  # noqa: E402

from mlplab.errors import MlplabError  # noqa: E402
from mlplab.sweep.spec import MAX_RUNS  # noqa: E402


def test_values_are_checked_before_running():
    with pytest.raises(
        SpecError, match="the run with lr=0.01, epochs=0 cannot be built: epochs must be"
    ):
        parse_spec({"grid": {"lr": [0.01], "epochs": [0]}})
    with pytest.raises(SpecError, match="seed must be a whole number >= 0, got -1"):
        parse_spec({"grid": {"seed": [0, -1]}})
    # the spec's keys, not the options of mlplab train
    with pytest.raises(SpecError, match="drop momentum or use optimizer sgd$"):
        parse_spec({"base": {"momentum": 0.5}, "grid": {"optimizer": ["sgd", "adam"]}})
    with pytest.raises(
        SpecError, match="cannot be built: early_stopping must be a whole number >= 1, got 0$"
    ):
        parse_spec({"base": {"early_stopping": 0}})


def test_run_count_is_limited_and_reported_first():
    grid = {"lr": [1e-3 * (i + 1) for i in range(200)], "epochs": list(range(1, 101))}
    counted = []
    with pytest.raises(
        SpecError, match=r"the sweep has 60000 runs \(200 lr × 100 epochs × 3 seeds\)"
    ):
        parse_spec({"grid": grid, "seeds": 3}, on_count=counted.append)
    assert counted == [60000]
    assert MAX_RUNS == 10_000
    spec = parse_spec({"grid": {"lr": [0.01, 0.02, 0.03]}}, max_runs=None)
    assert len(spec.runs) == 3
    with pytest.raises(SpecError, match="more than 2"):
        parse_spec({"grid": {"lr": [0.01, 0.02, 0.03]}}, max_runs=2)


def test_spec_file_bounds(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("x = " + "[" * 50_000 + "]" * 50_000)
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(path)
    path.write_bytes(b"name = '\xe9'")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(path)
    path.write_text("# " + "x" * 2**20)
    with pytest.raises(SpecError, match="larger than"):
        load_spec(path)


_TOML_PIECES = st.sampled_from(
    ["[base]\n", "[grid]\n", "[[runs]]\n", "seeds = 2\n", "seeds = [0, -1]\n", "epochs = 0\n",
     "epochs = 1\n", "hidden = [200000000]\n", "hidden = [[3], [4]]\n", "lr = [0.1, 0.01]\n",
     "lr = nan\n", "n_train = 8\n", "n_val = 4\n", "target = 'log(x)'\n", "target = '((x'\n",
     "activation = 'leaky_relu:1,2'\n", "optimizer = 'adam'\n", "momentum = 0.9\n",
     "name = '../x'\n", "domain = [1, -1]\n", "x = [[[[[[\n", "'\n", "= 1\n", "batch_size = 2.5\n"]
)  # fmt: skip


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(_TOML_PIECES, max_size=10).map(lambda p: "".join(p).encode()),
    )
)
def test_spec_reader_on_hostile_bytes(tmp_path, data):
    path = tmp_path / "hostile.toml"
    path.write_bytes(data)
    result = outcome(lambda: load_spec(path, max_runs=50))
    if not isinstance(result, MlplabError):
        assert 1 <= len(result.runs) <= 50
        assert all(r.config.epochs >= 1 for r in result.runs)


@pytest.mark.parametrize("seeds", [10**9, 10**18, 10**30])
def test_a_huge_seed_count_is_refused_before_any_seed_is_listed(seeds):
    with pytest.raises(SpecError, match="give a number of seeds from 1 to 1000000"):
        parse_spec({"seeds": seeds, "base": {"epochs": 1}}, max_runs=None)
    spec = parse_spec({"seeds": 20_000, "base": {"epochs": 1}}, max_runs=None)  # with --yes
    assert len(spec.runs) == 20_000


def test_workers_are_bounded_by_the_machine(tmp_path):
    status, _, err = run_cli("sweep", str(tmp_path / "s.toml"), "--workers", "100000")
    assert status == 2 and "--workers must be from 1 to" in err and "--scheduler" in err

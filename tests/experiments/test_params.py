"""Study parameters: --set KEY=VALUE, checked, passed to the study, listed by show."""

from __future__ import annotations

import inspect

import pytest

from mlplab.cli import main
from mlplab.experiments import STUDIES, get_study
from mlplab.experiments.execute import command_line, run_study
from mlplab.experiments.params import (
    MAX_LR,
    RENAMED,
    Parameter,
    parameters,
    parse_settings,
    values,
)
from tests.experiments.conftest import assert_one_line_error


def test_settings_are_parsed_and_checked():
    monomials = get_study("monomials")
    assert parse_settings("monomials", monomials, ["width=11", "domain=10"]) == {
        "width": 11,
        "domain": 10.0,
    }
    depth = get_study("depth")
    assert parse_settings("depth", depth, ["depths=2,3"]) == {"depths": (2, 3)}
    noise = get_study("label-noise")
    assert parse_settings("label-noise", noise, ["noise=0.2"]) == {"noise": 0.2}
    with pytest.raises(ValueError, match="noise must be >= 0.01"):
        parse_settings("label-noise", noise, ["noise=0"])
    with pytest.raises(ValueError, match="has no parameter 'hieght'; it takes width, domain"):
        parse_settings("monomials", monomials, ["hieght=3"])
    with pytest.raises(ValueError, match="width takes a whole number, got '2.5'"):
        parse_settings("monomials", monomials, ["width=2.5"])
    with pytest.raises(ValueError, match="domain must be >= 1"):
        parse_settings("monomials", monomials, ["domain=0.5"])
    with pytest.raises(ValueError, match="whole numbers separated by commas"):
        parse_settings("depth", depth, ["depths=2,x"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings("depth", depth, ["width"])
    assert Parameter("n", 3, "n").parse("1e1") == 10


def test_float_lists_and_upper_bounds():
    point = Parameter("point", (0.3, 0.7), "a point", low=0, high=1)
    assert point.parse("0.25,1") == (0.25, 1.0)
    assert point.shown() == "0.3,0.7"
    with pytest.raises(ValueError, match="point takes numbers separated by commas, e.g. 0.3,0.7"):
        point.parse("0.2;0.4")
    with pytest.raises(ValueError, match="point must be between 0 and 1, got '0.5,1.5'"):
        point.parse("0.5,1.5")
    with pytest.raises(ValueError, match="must be between"):
        point.parse("nan,0.5")
    assert Parameter("steps", 1_000_000, "steps").shown() == "1000000"


def test_quick_values_are_used_unless_set():
    depth = get_study("depth")
    assert values(depth, True, {}) == {"width": 32, "depths": (2, 4, 8)}
    assert values(depth, False, {}) == {"width": 32, "depths": (2, 4, 8, 16, 32)}
    assert values(depth, True, {"depths": (2, 16)}) == {"width": 32, "depths": (2, 16)}


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_study_takes_its_parameters_with_their_defaults(name):
    """``run`` accepts each parameter, with the parameter's default as its own default."""
    study = get_study(name)
    assert 1 <= len(parameters(study)) <= 8  # a list a reader takes in at a glance
    signature = inspect.signature(study.run).parameters
    for p in parameters(study):
        assert signature[p.name].default == p.default, p.name
        assert p.parse(p.shown()) == p.default
        if p.quick is not None:
            assert p.parse(p.shown()) != p.quick and type(p.quick) is type(p.default)


def test_the_study_receives_its_parameters(tmp_path, monkeypatch):
    study = get_study("monomials")
    seen = {}
    real = study.run

    def spy(out, quick, seeds, progress, **params):
        seen.update(params)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(study, "run", spy)
    with pytest.raises(KeyboardInterrupt):
        run_study("monomials", tmp_path, quick=True, params={"width": 11, "domain": 10.0})
    assert seen == {"width": 11, "domain": 10.0}
    monkeypatch.setattr(study, "run", real)
    with pytest.raises(ValueError, match="no parameter depths"):
        run_study("monomials", tmp_path, quick=True, params={"depths": (2, 3)})
    assert command_line("depth", tmp_path, True, None, {"width": 8, "depths": (2, 3)}).endswith(
        f"--quick --set width=8 depths=2,3 --out {tmp_path}"
    )


def test_show_lists_the_parameters(capsys):
    assert main(["experiment", "show", "monomials"]) == 0
    out = capsys.readouterr().out
    assert "width" in out and "domain" in out and "9" in out and "10" in out
    assert main(["experiment", "show", "depth"]) == 0
    out = capsys.readouterr().out
    assert "2,4,8,16,32" in out and "2,4,8 " in out and "used as given" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["monomials", "--set", "size=3"], "has no parameter 'size'"),
        (["all", "--set", "width=3"], "name the study, not 'all'"),
        (["monomials", "--set", "width=3", "width=5"], "--set gives width twice"),
    ],
)
def test_bad_settings_are_one_line_errors(args, message, capsys, tmp_path):
    assert main(["experiment", "run", *args, "--quick", "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "old", "new", "takes"),
    [
        ("cos4", "n", "n_train", "n_train, width, epochs, lr, batch_size"),
        ("cos4", "batch", "batch_size", "n_train, width, epochs, lr, batch_size"),
        ("label-noise", "batch", "batch_size", "noise, n_train, width, epochs, lr, batch_size"),
        ("runge", "n", "n_train", "hidden, n_train, epochs, lr, ns, steps, lbfgs"),
        ("mse-vs-ce", "n", "n_train", "hidden, n_train, noise, lr, epochs"),
        ("higham", "eta", "lr", "steps, lr, hidden, point"),
    ],
)
def test_an_old_key_is_refused_with_its_new_name(name, old, new, takes, capsys, tmp_path):
    """The studies use the words of mlplab train, sweep files and mlplab.fit (n_train,
    batch_size, lr); a key they gave up names the one that replaced it."""
    study = get_study(name)
    with pytest.raises(ValueError) as refused:
        parse_settings(name, study, [f"{old}=8"])
    assert str(refused.value) == (
        f"study {name!r} has no parameter {old!r}: it is now {new}; it takes {takes} "
        f"(mlplab experiment show {name})"
    )
    known = {p.name: p for p in parameters(study)}
    assert parse_settings(name, study, [f"{new}=8"]) == {new: known[new].parse("8")}
    assert_one_line_error(capsys, tmp_path, name, f"{old}=8", message=f"{old!r}: it is now {new};")


def test_an_old_key_a_study_never_took_gets_no_new_name():
    """Only a study that takes the new name is pointed to it; no study takes an old one."""
    monomials = get_study("monomials")
    for old in RENAMED:
        with pytest.raises(ValueError) as refused:
            parse_settings("monomials", monomials, [f"{old}=16"])
        assert str(refused.value) == (
            f"study 'monomials' has no parameter {old!r}; it takes width, domain "
            "(mlplab experiment show monomials)"
        )
    assert not set(RENAMED) & {p.name for name in STUDIES for p in parameters(get_study(name))}


#: The learning rates a study's --set changes: (study, parameter).
LEARNING_RATES = [("runge", "lr"), ("cos4", "lr"), ("label-noise", "lr"), ("mse-vs-ce", "lr"),
                  ("higham", "lr")]  # fmt: skip


@pytest.mark.parametrize(("name", "key"), LEARNING_RATES)
def test_every_learning_rate_is_at_most_max_lr(name, key):
    (rate,) = [p for p in parameters(get_study(name)) if p.name == key]
    assert rate.high == MAX_LR == 10
    assert parse_settings(name, get_study(name), [f"{key}=10"]) == {key: 10.0}
    with pytest.raises(ValueError, match=f"{key} must be between .* and 10, got '1e308'"):
        parse_settings(name, get_study(name), [f"{key}=1e308"])


def test_every_study_parameter_of_a_learning_rate_is_listed():
    """A new study's rate gets the bound too: every parameter whose help says "learning rate"
    (batch-lr's grid, log10 of rates, measures divergence: its own bounds)."""
    found = [
        (name, p.name)
        for name in STUDIES
        for p in parameters(get_study(name))
        if "learning rate" in p.help and name != "batch-lr"
    ]
    assert sorted(found) == sorted(LEARNING_RATES)

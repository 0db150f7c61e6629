"""Study parameters: --set KEY=VALUE, checked, passed to the study, listed by show."""

from __future__ import annotations

import pytest

from mlplab.cli import main
from mlplab.experiments import get_study
from mlplab.experiments.execute import command_line, run_study
from mlplab.experiments.params import Parameter, parse_settings


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
    with pytest.raises(ValueError, match="takes no parameters"):
        parse_settings("runge", get_study("runge"), ["n=3"])
    assert Parameter("n", 3, "n").parse("1e1") == 10


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
    assert main(["experiment", "show", "runge"]) == 0
    assert "takes no parameters" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["monomials", "--set", "size=3"], "has no parameter 'size'"),
        (["all", "--set", "width=3"], "name the study, not 'all'"),
    ],
)
def test_bad_settings_are_one_line_errors(args, message, capsys, tmp_path):
    assert main(["experiment", "run", *args, "--quick", "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err

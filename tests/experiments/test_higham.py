import pytest

from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_higham_quick_classifies_all_ten_points(quick_run):
    run = quick_run("higham")
    assert_report_files(run)
    assert run.check("the 10 points are all classified").passed
    assert all(c == 10 for c in run.metrics["classified"]["10"])
    assert len(run.metrics["classified"]["11"]) == len(run.metrics["seeds"])


def test_higham_settings_reach_the_report(tmp_path):
    run = run_with_settings(
        tmp_path, "higham", "steps=1105", "eta=0.5", "hidden=3", "point=0.8,0.2"
    )
    assert run.metrics["steps"] == 1100  # whole passes over the 10 points
    assert run.config["point"] == [0.8, 0.2] and run.config["run"]["hidden"] == [3]
    assert len(run.metrics["classified"]["11"]) == 1
    for text in (
        "2-3-2 sigmoid example",
        "| network | 2-3-2,",
        "variant: (0.8, 0.2) added to B",
        "η = 0.5, 1,100 steps (1,100 for 11 points",
        "With (0.8, 0.2) added",
        "‖y − a^[3]‖²",
    ):
        assert text in run.report
    assert "(0.3, 0.7)" not in run.report and "0.05" not in run.report


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["point=0.5"], "point takes two numbers x,y"),
        (["point=2,0"], "point must be between 0 and 1"),
        (["point=0.5,a"], "point takes numbers separated by commas, e.g. 0.3,0.7"),
        (["steps=5"], "steps must be >= 11"),
    ],
)
def test_higham_bad_settings_are_one_line_errors(capsys, tmp_path, settings, message):
    assert_one_line_error(capsys, tmp_path, "higham", *settings, message=message)

import pytest

from mlplab.experiments.higham import change_text, classified_text
from tests.experiments.conftest import assert_one_line_error, assert_report_files, run_with_settings


def test_higham_quick_classifies_all_ten_points(quick_run):
    run = quick_run("higham")
    assert_report_files(run)
    assert run.check("the 10 points are all classified").passed
    assert all(c == 10 for c in run.metrics["classified"]["10"])
    assert len(run.metrics["classified"]["11"]) == len(run.metrics["seeds"])
    # what the regions figures show is said in the answer and marked in the figure
    report = (run.out / "report.md").read_text()
    seed = run.metrics["figure_seeds"]["11"]
    assert run.metrics["figure_seeds"] == {"10": seed, "11": seed}
    assert "the 10-point network puts (0.3, 0.7) in region " in report
    assert "a red ring marks a misclassified point" in report
    for point in run.metrics["misclassified"]["11"]:
        assert point in report


@pytest.mark.parametrize(
    ("n", "classified", "seeds", "text"),
    [
        (10, [10], [1], "seed 1 classifies all 10 points"),
        (11, [10], [1], "seed 1 classifies 10 of the 11 points"),
        (10, [10, 10], [0, 1], "seeds 0 and 1 classify all 10 points"),
        (11, [0], [3], "seed 3 classifies none of them"),
        (
            11,
            [10, 11, 10, 9],
            [0, 1, 2, 3],
            "seed 1 classifies all 11 points, seeds 0 and 2 classify 10 of the 11 points and "
            "seed 3 classifies 9 of the 11 points",
        ),
    ],
)
def test_the_points_classified_are_said_in_sentences(n, classified, seeds, text):
    assert classified_text(n, classified, seeds) == text


def test_the_change_between_the_regions_figures_is_said_from_its_numbers():
    change = {
        "added_point_region": {"10": "A", "11": "B"},
        "region_b_share": {"10": 0.312, "11": 0.471},
        "changed_share": 0.18,
        "misclassified": {"10": [], "11": ["(0.6, 0.9) of category A"]},
    }
    text = change_text(change, {10: 0, 11: 1}, "(0.3, 0.7)")
    assert text == (
        "In the figures (the lowest-cost seed of each problem: seed 0 for 10 points, seed 1 "
        "for 11), the 10-point network puts (0.3, 0.7) in region A, and training with it in "
        "category B moves it to region B. Region B covers 31% of [0, 1]² before and 47% after; "
        "18% of the square changes region. The 11-point network misclassifies (0.6, 0.9) of "
        "category A."
    )
    change["added_point_region"]["11"] = "A"
    change["misclassified"]["11"] = []
    text = change_text(change, {10: 0, 11: 0}, "(0.3, 0.7)")
    assert "seed 0 for both" in text and "leaves it in region A" in text
    assert text.endswith("Both networks classify all their points.")


def test_higham_settings_reach_the_report(tmp_path):
    run = run_with_settings(tmp_path, "higham", "steps=1105", "lr=0.5", "hidden=3", "point=0.8,0.2")
    assert run.metrics["steps"] == 1100  # whole epochs of 10 draws
    assert run.config["point"] == [0.8, 0.2] and run.config["run"]["hidden"] == [3]
    assert run.config["steps"] == 1100 and "epochs" not in run.config["run"]  # steps: the length
    assert len(run.metrics["classified"]["11"]) == 1
    for text in (
        "2-3-2 sigmoid example",
        "| network | 2-3-2,",
        "variant: (0.8, 0.2) added to B",
        "η = 0.5, 1,100 steps (1,100 for 11 points",
        "With (0.8, 0.2) added",
        "‖y − a^[3]‖²",
        "| seeds | 1 (seed 1) |",  # how many, and which: a quick run starts at seed 1
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

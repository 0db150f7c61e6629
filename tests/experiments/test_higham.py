from tests.experiments.conftest import assert_report_files


def test_higham_quick_classifies_all_ten_points(quick_run):
    run = quick_run("higham")
    assert_report_files(run)
    assert run.check("the 10 points are all classified").passed
    assert all(c == 10 for c in run.metrics["classified"]["10"])
    assert len(run.metrics["classified"]["11"]) == len(run.metrics["seeds"])

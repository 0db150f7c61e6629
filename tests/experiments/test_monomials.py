from tests.experiments.conftest import assert_report_files


def test_monomials_quick_table_covers_every_power_and_domain(quick_run):
    run = quick_run("monomials")
    assert_report_files(run)
    errors = run.metrics["relative_error_median"]
    assert set(errors) == {"[−1, 1]", "[−10, 10] raw", "[−10, 10] rescaled"}
    assert all(len(v) == 6 for v in errors.values())
    assert run.result.passed, [c for c in run.result.checks if not c.passed]
    report = (run.out / "report.md").read_text()
    assert "| k = 5 |" in report and "p = " not in report  # p is the parameter count elsewhere
    assert "still span 1 to 10^5 in one MSE" in report and "1e+05" not in report

from tests.experiments.conftest import assert_report_files


def test_dead_relu_units_unchanged_to_the_bit_and_leaky_units_move(quick_run):
    run = quick_run("dead-relu")
    assert_report_files(run)
    assert run.check("dead ReLU units: incoming weights and biases bitwise equal").passed
    assert run.check("dead ReLU units: outgoing weights bitwise equal").passed
    assert run.check("leaky ReLU units in the same place moved").passed
    assert run.check("units active on some point").passed
    assert all(b > 0 for b in run.metrics["leaky_max_bias_change"])

import itertools

from tests.experiments.conftest import assert_report_files


def test_depth_sigmoid_gradient_norms_decrease_with_depth(quick_run):
    run = quick_run("depth")
    assert_report_files(run)
    assert run.check("sigmoid: first-layer gradient norm decreases with depth").passed
    norms = run.metrics["first_layer_grad_norm"]["sigmoid"]
    assert all(b < a for a, b in itertools.pairwise(norms))
    assert run.metrics["decay_per_layer"]["sigmoid"] < 1

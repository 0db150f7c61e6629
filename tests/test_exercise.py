"""mlplab.exercise: the exercise sheet says what the network is in plain words."""

from __future__ import annotations

import numpy as np
import pytest

from mlplab.errors import MlplabError
from mlplab.exercise import make_exercise
from mlplab.trace import default_output_activation


@pytest.mark.parametrize(
    ("sizes", "activation", "output", "said"),
    [
        ([2, 3, 1], "sigmoid", None, "has σ = sigmoid in every layer;"),
        ([2, 3, 2, 1], "tanh", "tanh", "has σ = tanh in every layer;"),
        (
            [2, 3, 1],
            "relu",
            "identity",
            "has σ = relu in its hidden layer and σ = identity in its output layer;",
        ),
        (
            [2, 3, 3, 1],
            "tanh",
            "sigmoid",
            "has σ = tanh in its hidden layers and σ = sigmoid in its output layer;",
        ),
        ([2, 1], "sigmoid", None, "has no hidden layer and σ = sigmoid in its output layer;"),
    ],
)
def test_the_sheet_names_sigma_once_where_every_layer_has_the_same(sizes, activation, output, said):
    sheet = make_exercise(
        sizes, seed=5, activation=activation, output_activation=output
    ).questions()
    assert said in sheet


@pytest.mark.parametrize("sizes", [[2, 3, 2, 1], [2, 3, 1]])
def test_every_relu_exercise_has_something_to_backpropagate(sizes):
    """A ReLU output of z < 0 gave a^[L] = 0, D^[L] = 0 and every δ and gradient 0 (19 of these
    40 seeds for 2-3-2-1): such a draw is drawn again."""
    for seed in range(40):
        t = make_exercise(sizes, seed, activation="relu", output_activation="relu").trace
        for k in range(2, len(sizes) + 1):
            assert np.any(t[f"D^[{k}]"]) and np.any(t[f"∂C/∂W^[{k}]"]), (seed, k)
    again = make_exercise(sizes, 1, activation="relu", output_activation="relu")
    assert again.trace.to_dict() == make_exercise(sizes, 1, "relu", "relu").trace.to_dict()


def test_an_exercise_of_the_first_draw_is_that_draw():
    rng = np.random.default_rng(5)
    first = rng.integers(-10, 11, size=13) / 10.0
    np.testing.assert_array_equal(make_exercise([2, 3, 1], seed=5).net.params, first)


def test_no_draw_with_something_to_backpropagate_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("mlplab.exercise.MAX_DRAWS", 1)
    with pytest.raises(
        MlplabError, match="^none of 1 draws of seed 1 gives every layer of a 2-3-2-1 "
    ):
        make_exercise([2, 3, 2, 1], 1, activation="relu", output_activation="relu")


@pytest.mark.parametrize(
    ("activation", "loss", "output"),
    [
        ("sigmoid", "half_sse", "sigmoid"),
        ("tanh", "mse", "tanh"),
        ("relu", "half_sse", "identity"),
        ("leaky_relu:0.1", "half_sse", "identity"),
        ("tanh", "cross_entropy", "identity"),
        ("sigmoid", "bce_logits", "identity"),
        ("relu", "bce", "sigmoid"),
    ],
)
def test_the_default_output_activation(activation, loss, output):
    assert default_output_activation(activation, loss) == output
    net = make_exercise([2, 3, 2], seed=0, activation=activation, loss=loss).net
    assert net.activations[-1].name == output


def test_a_relu_exercise_has_an_identity_output_unless_told():
    sheet = make_exercise([2, 3, 2, 1], seed=1, activation="relu").questions()
    assert "σ = relu in its hidden layers and σ = identity in its output layer" in sheet
    assert "--activation relu --output-activation identity" in sheet

"""mlplab.exercise: the exercise sheet says what the network is in plain words."""

from __future__ import annotations

import pytest

from mlplab.exercise import make_exercise


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

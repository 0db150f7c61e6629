import numpy as np
import pytest

from mlplab import MLP
from mlplab.transforms import sigmoid_to_tanh, tanh_to_sigmoid


@pytest.fixture
def X(rng):
    return rng.normal(0.0, 3.0, size=(200, 3))


@pytest.mark.parametrize("output", ["identity", "sigmoid", "tanh"])
def test_sigmoid_network_and_its_tanh_twin_agree(X, output):
    net = MLP([3, 8, 6, 2], "sigmoid", output, init="normal:0,2", bias_init="normal:0,1", seed=4)
    twin = sigmoid_to_tanh(net)
    assert [a.name for a in twin.activations] == ["tanh", "tanh", output]
    np.testing.assert_allclose(twin(X), net(X), rtol=0, atol=1e-12)


def test_twin_leaves_the_original_alone_and_round_trips(X):
    net = MLP([3, 8, 6, 1], "sigmoid", bias_init="normal:0,1", seed=2)
    before = net.params.copy()
    back = tanh_to_sigmoid(sigmoid_to_tanh(net))
    assert np.array_equal(net.params, before)
    assert [a.name for a in back.activations] == [a.name for a in net.activations]
    np.testing.assert_allclose(back.params, net.params, rtol=0, atol=1e-14)


def test_only_sigmoid_hidden_layers_change_in_a_mixed_network(X):
    net = MLP([3, 5, 4, 6, 1], ["sigmoid", "relu", "sigmoid"], bias_init="normal:0,1", seed=9)
    twin = sigmoid_to_tanh(net)
    assert [a.name for a in twin.activations] == ["tanh", "relu", "tanh", "identity"]
    np.testing.assert_allclose(twin(X), net(X), rtol=0, atol=1e-12)


def test_formulas_of_the_first_two_layers():
    net = MLP([1, 2, 1], "sigmoid", bias_init="normal:0,1", seed=0)
    twin = sigmoid_to_tanh(net)
    W2, b2, W3, b3 = net.weights[0], net.biases[0], net.weights[1], net.biases[1]
    np.testing.assert_array_equal(twin.weights[0], W2 / 2)
    np.testing.assert_array_equal(twin.biases[0], b2 / 2)
    np.testing.assert_array_equal(twin.weights[1], W3 / 2)
    np.testing.assert_allclose(twin.biases[1], b3 + W3.sum(axis=1) / 2)


def test_a_saved_twin_loads_back(tmp_path, X):
    net = MLP([3, 4, 1], "sigmoid", seed=1)
    twin = sigmoid_to_tanh(net)
    loaded = MLP.load(twin.save(tmp_path / "twin.npz"))
    np.testing.assert_allclose(loaded(X), net(X), rtol=0, atol=1e-12)

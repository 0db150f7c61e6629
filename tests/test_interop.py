"""mlplab.interop: PyTorch, scikit-learn and ONNX round trips, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.interop import InteropError, from_sklearn, from_torch, to_onnx, to_torch
from mlplab.losses import softmax

torch = pytest.importorskip("torch")

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu:0.1", "elu:0.5", "softplus",
               "gelu", "sin"]  # fmt: skip


@pytest.fixture
def X() -> np.ndarray:
    return 3.0 * np.random.default_rng(0).standard_normal((64, 3))


def _net(act: str, dtype: str = "float64") -> mlplab.MLP:
    return mlplab.MLP([3, 8, 6, 2], activation=act, output_activation=act, seed=1, dtype=dtype)


# --- PyTorch ------------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_to_torch_and_back_reproduce_the_network(act, X):
    net = _net(act)
    module = to_torch(net)
    y = module(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(y, net(X), rtol=0, atol=1e-12)
    back = from_torch(module)
    assert [a.name for a in back.activations] == [a.name for a in net.activations]
    np.testing.assert_array_equal(back.params, net.params)


def test_softplus_module_equals_mlplab_beyond_torchs_threshold():
    net = mlplab.MLP([1, 1], activation="softplus", output_activation="softplus", seed=0)
    net.weights[0][...] = 1.0
    z = np.array([[-50.0], [-1.0], [0.0], [19.0], [25.0], [39.0], [45.0]])
    y = to_torch(net)(torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(y, net(z), rtol=1e-15, atol=0)


def test_from_torch_reads_a_float32_sequential_without_bias():
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2, bias=False)
    )
    net = from_torch(module)
    assert net.dtype == np.float32 and net.sizes == [3, 5, 2]
    assert [a.name for a in net.activations] == ["tanh", "identity"]
    x = np.random.default_rng(1).standard_normal((10, 3)).astype(np.float32)
    np.testing.assert_allclose(net(x), module(torch.from_numpy(x)).detach().numpy(), atol=1e-6)
    np.testing.assert_array_equal(net.biases[1], 0.0)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (lambda: [torch.nn.Linear(3, 4), torch.nn.Dropout(0.1)], "Dropout"),
        (lambda: [torch.nn.Linear(3, 4), torch.nn.Softmax(dim=1)], "Softmax"),
        (lambda: [torch.nn.Tanh(), torch.nn.Linear(3, 4)], "must follow a Linear"),
        (lambda: [torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.ReLU()], "must follow"),
        (lambda: [torch.nn.Linear(3, 4), torch.nn.Linear(5, 1)], "takes 5 inputs"),
        (lambda: [], "no Linear"),
    ],
)
def test_from_torch_names_what_it_cannot_read(layers, message):
    with pytest.raises(InteropError, match=message):
        from_torch(torch.nn.Sequential(*layers()))


def test_from_torch_refuses_other_modules():
    with pytest.raises(InteropError, match="Sequential"):
        from_torch(torch.nn.Linear(3, 4))


def test_user_defined_activation_is_named_in_the_error():
    mine = mlplab.Activation("cube", lambda z: z**3, lambda z: 3 * z**2, lambda z: 6 * z)
    net = mlplab.MLP([2, 3, 1], activation=mine, seed=0)
    with pytest.raises(InteropError, match="'cube'.*PyTorch"):
        to_torch(net)
    with pytest.raises(InteropError, match="'cube'.*ONNX"):
        to_onnx(net, "unused.onnx")


# --- scikit-learn -------------------------------------------------------------------------------

sklearn_nn = pytest.importorskip("sklearn.neural_network")


def _fitted(cls, act, X, y, **kw):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(
            hidden_layer_sizes=(7, 5), activation=act, max_iter=30, random_state=0, **kw
        ).fit(X, y)


@pytest.mark.parametrize("act", ["identity", "logistic", "tanh", "relu"])
def test_from_sklearn_regressor_outputs_equal_predict(act, X):
    y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
    est = _fitted(sklearn_nn.MLPRegressor, act, X, y)
    net = from_sklearn(est)
    assert net.sizes == [3, 7, 5, 2]
    np.testing.assert_allclose(net(X), est.predict(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(net.weights[0], est.coefs_[0].T)


def test_from_sklearn_classifiers_give_probabilities_or_logits(X):
    binary = _fitted(sklearn_nn.MLPClassifier, "tanh", X, X[:, 0] > 0)
    p = from_sklearn(binary)(X)
    np.testing.assert_allclose(p[:, 0], binary.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    three = _fitted(sklearn_nn.MLPClassifier, "relu", X, np.digitize(X[:, 0], [-1, 1]))
    with pytest.raises(InteropError, match="softmax.*logits=True"):
        from_sklearn(three)
    logits = from_sklearn(three, logits=True)(X)
    np.testing.assert_allclose(softmax(logits), three.predict_proba(X), rtol=0, atol=1e-12)


def test_from_sklearn_input_gradient_equals_central_differences_of_predict(X):
    est = _fitted(sklearn_nn.MLPRegressor, "tanh", X, np.sin(X[:, 0]) + X[:, 1] ** 2)
    g = from_sklearn(est).input_gradient(X)
    h = 1e-6
    fd = np.empty_like(X)
    for j in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[j] = h
        fd[:, j] = (est.predict(X + e) - est.predict(X - e)) / (2 * h)
    assert np.linalg.norm(g - fd) / np.linalg.norm(fd) < 1e-8


def test_from_sklearn_refuses_an_unfitted_estimator_and_the_poisson_output(X):
    with pytest.raises(InteropError, match="fitted"):
        from_sklearn(sklearn_nn.MLPRegressor())
    est = _fitted(sklearn_nn.MLPRegressor, "tanh", X, np.exp(X[:, 0] / 3), loss="poisson")
    with pytest.raises(InteropError, match="'exp'"):
        from_sklearn(est)


def test_weights_that_are_not_finite_are_refused_not_copied(X):
    # a NaN weight became a network whose every output is NaN, without a word
    est = _fitted(sklearn_nn.MLPRegressor, "tanh", X, np.sin(X[:, 0]))
    est.coefs_[1][0, 0] = np.nan
    with pytest.raises(InteropError, match=r"W\^\[3\] or b\^\[3\] holds NaN or inf"):
        from_sklearn(est)
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.bias[1] = float("inf")
    with pytest.raises(InteropError, match=r"W\^\[2\] or b\^\[2\] holds NaN or inf"):
        from_torch(torch.nn.Sequential(layer))


# --- ONNX ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_onnx_model_under_onnxruntime_equals_the_network(act, dtype, X, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    if act == "gelu" and dtype == "float64":
        pytest.skip("onnxruntime has no float64 Erf kernel")
    net = _net(act, dtype)
    path = to_onnx(net, tmp_path / "net.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = X.astype(dtype)
    (y,) = session.run(None, {"x": x})
    assert y.dtype == np.dtype(dtype) and y.shape == (len(X), 2)
    np.testing.assert_allclose(y, net(x), rtol=0, atol=1e-6 if dtype == "float32" else 1e-12)


def test_onnx_dtype_argument_converts_the_model(X, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = _net("tanh")
    path = to_onnx(net, tmp_path / "net32.onnx", dtype="float32")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": X.astype(np.float32)})
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, net(X), atol=1e-5)


def test_onnx_float32_of_parameters_beyond_float32_is_refused(tmp_path):
    net = mlplab.MLP([1, 3, 1], bias_init=1e300, seed=0)
    # was an overflow warning in the cast and a file of inf biases
    with pytest.raises(mlplab.MlplabError, match="beyond the range of float32"):
        to_onnx(net, tmp_path / "big.onnx", dtype="float32")
    assert not (tmp_path / "big.onnx").exists()


def test_from_torch_refuses_meta_weights_and_prices_the_copy(monkeypatch):
    meta = torch.nn.Sequential(torch.nn.Linear(100_000, 100_000, device="meta"))
    with pytest.raises(InteropError, match="meta device and hold no values"):
        from_torch(meta)  # tried to allocate 40 GB
    monkeypatch.setenv("MLPLAB_MAX_BYTES", "100")
    small = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with pytest.raises(mlplab.MlplabError, match="from_torch of a module with 13 parameters"):
        from_torch(small)


def test_import_interop_loads_neither_torch_nor_onnx():
    import subprocess
    import sys

    code = (
        "import sys, mlplab.interop; "
        "print([m for m in ('torch', 'onnx', 'onnxruntime', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

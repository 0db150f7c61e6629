import json
import zipfile

import numpy as np
import pytest

from mlplab import MLP, ModelFileError
from mlplab.activations import Activation
from mlplab.io import atomic_open, write_json


def test_round_trip_keeps_everything(tmp_path, rng):
    net = MLP(
        [3, 5, 4, 2],
        activation="leaky_relu:0.2",
        output_activation="sigmoid",
        dtype="float32",
        seed=1,
    )
    path = net.save(tmp_path / "model.npz")
    back = MLP.load(path)
    assert back.sizes == net.sizes and back.dtype == np.float32
    assert [a.name for a in back.activations] == ["leaky_relu:0.2", "leaky_relu:0.2", "sigmoid"]
    np.testing.assert_array_equal(back.params, net.params)
    X = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(back(X), net(X))


def test_suffix_is_added(tmp_path):
    assert MLP([1, 2, 1]).save(tmp_path / "m").name == "m.npz"


def test_file_holds_no_pickles(tmp_path):
    path = MLP([1, 2, 1], seed=0).save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["W2", "W3", "b2", "b3", "meta"]
        meta = json.loads(str(data["meta"]))
    assert meta["format_version"] == 1 and meta["sizes"] == [1, 2, 1]


def test_damaged_file(tmp_path):
    path = MLP([1, 2, 1]).save(tmp_path / "m.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        MLP.load(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="damaged"):
        MLP.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no model file"):
        MLP.load(tmp_path / "nothing.npz")


def _rewrite_meta(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_other_format_version_is_explained(tmp_path):
    path = MLP([1, 2, 1]).save(tmp_path / "m.npz")
    _rewrite_meta(path, format_version=99)
    with pytest.raises(ModelFileError, match="version 99.*reads version 1"):
        MLP.load(path)


def test_inconsistent_arrays(tmp_path):
    path = MLP([1, 2, 1]).save(tmp_path / "m.npz")
    _rewrite_meta(path, sizes=[1, 3, 1])
    with pytest.raises(ModelFileError, match="W2 should be real floats of shape"):
        MLP.load(path)


def test_plain_npz_is_not_a_model(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not an mlplab model"):
        MLP.load(tmp_path / "x.npz")


def test_user_defined_activation_needs_to_be_given(tmp_path):
    cube = Activation("cube", lambda z: z**3, lambda z: 3 * z**2, lambda z: 6 * z)
    path = MLP([1, 2, 1], activation=cube, seed=0).save(tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="activations="):
        MLP.load(path)
    assert MLP.load(path, activations={"cube": cube}).activations[0] is cube


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_written_model_is_a_zip(tmp_path):
    assert zipfile.is_zipfile(MLP([1, 2, 1]).save(tmp_path / "m.npz"))


def test_text_files_are_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    from mlplab.io import write_text

    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a, **k: "ascii")
    path = write_text(tmp_path / "r.md", "σ ∇ ≫")
    assert path.read_bytes().decode("utf-8") == "σ ∇ ≫"

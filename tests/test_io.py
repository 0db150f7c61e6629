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


# --- hostile model files: a valid network or mlplab's own error, within the memory bound -----

import io  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlplab.errors import MlplabError, SizeError  # noqa: E402
from mlplab.io import read_json  # noqa: E402
from tests.hostile import FUZZ, outcome  # noqa: E402


def _model_bytes(net: MLP) -> bytes:
    buf = io.BytesIO()
    arrays = {"meta": np.array(json.dumps({"format": "mlplab-model", "format_version": 1,
                                           **net.config()}))}  # fmt: skip
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i + 2}"], arrays[f"b{i + 2}"] = W, b
    np.savez(buf, **arrays)
    return buf.getvalue()


_VALID = _model_bytes(MLP([2, 3, 1], seed=0))
_META = json.loads(str(np.load(io.BytesIO(_VALID))["meta"]))


def _check_model(result):
    if not isinstance(result, MlplabError):
        assert isinstance(result, MLP) and np.all(np.isfinite(result.params))


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=6).map(
            lambda edits: bytes(dict(edits).get(i, b) for i, b in enumerate(_VALID))
        ),
    )
)
def test_model_reader_on_hostile_bytes(tmp_path, data):
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    _check_model(outcome(lambda: MLP.load(path)))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.sampled_from(
        ["sizes", "activations", "dtype", "format_version", "format", "pde_problem", "other"]
    ),
    _JSON,
    st.sampled_from(["W2", "b2", "W3", "b3", "meta"]),
    st.sampled_from([None, (3, 2), (10**6, 10**6), (), (2**62, 4), "strings", "complex", "f4"]),
)
def test_model_reader_on_hostile_metadata_and_arrays(tmp_path, key, value, entry, replacement):
    meta = {**_META, key: value}
    entries = {"meta": np.array(json.dumps(meta))}
    with zipfile.ZipFile(io.BytesIO(_VALID)) as z:
        for name in ("W2", "b2", "W3", "b3"):
            entries[name] = np.lib.format.read_array(z.open(f"{name}.npy"))
    raw = {}
    if replacement == "strings":
        entries[entry] = np.array(["a", "b"])
    elif replacement == "complex":
        entries[entry] = entries[entry] * (1 + 1j) if entry != "meta" else np.array(1j)
    elif replacement == "f4":
        entries[entry] = (
            np.asarray(entries[entry], np.float32) if entry != "meta" else entries[entry]
        )
    elif replacement is not None:
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            head, {"descr": "<f8", "fortran_order": False, "shape": replacement}
        )
        raw[entry] = head.getvalue() + b"\0" * 64
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, array in entries.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array, allow_pickle=False)
            z.writestr(f"{name}.npy", raw.get(name, buf.getvalue()))
    _check_model(outcome(lambda: MLP.load(path)))


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_declared_huge_shape_is_refused_before_any_read(tmp_path):
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    with zipfile.ZipFile(io.BytesIO(_VALID)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["W2.npy"] = head.getvalue() + b"\0" * 8
    path = _zip(tmp_path / "m.npz", members)
    with pytest.raises(ModelFileError, match=r"W2 should be real floats of shape \(3, 2\), found "
                       r"float64 of shape \(1000000, 1000000\)"):  # fmt: skip
        MLP.load(path)


def test_declared_huge_sizes_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(_VALID)
    _rewrite_meta(path, sizes=[2, 10**9, 10**9, 1], activations=["tanh"] * 3)
    with pytest.raises(SizeError, match=r"declares a network of layer widths .* would allocate"):
        MLP.load(path)


def test_only_the_needed_entries_are_read(tmp_path, monkeypatch):
    """An extra entry, even a damaged one declaring terabytes, is never opened."""
    with zipfile.ZipFile(io.BytesIO(_VALID)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["junk.npy"] = b"\x93NUMPY garbage" * 1000
    path = _zip(tmp_path / "m.npz", members)
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(
        zipfile.ZipFile,
        "open",
        lambda self, name, *a, **k: opened.append(name) or real_open(self, name, *a, **k),
    )
    net = MLP.load(path)
    assert net.sizes == [2, 3, 1]
    assert "junk.npy" not in opened and set(opened) == {
        "meta.npy",
        "W2.npy",
        "b2.npy",
        "W3.npy",
        "b3.npy",
    }


def test_metadata_types_are_checked(tmp_path):
    path = tmp_path / "m.npz"
    for change, match in [
        ({"sizes": [2, "3", 1]}, "'sizes' must be a list"),
        ({"sizes": [2, True, 1]}, "'sizes' must be a list"),
        ({"activations": ["tanh"]}, "1 activations for 2 layers"),
        ({"activations": [1, 2]}, "'activations' must be a list of names"),
        ({"dtype": "complex128"}, "'dtype' must be 'float64' or 'float32'"),
    ]:
        path.write_bytes(_VALID)
        _rewrite_meta(path, **change)
        with pytest.raises(ModelFileError, match=match):
            MLP.load(path)


def test_csv_renamed_npz_gets_mlplabs_message(tmp_path):
    path = tmp_path / "m.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ModelFileError, match="is not an .npz archive") as info:
        MLP.load(path)
    assert "pickle" not in str(info.value)


def test_read_json_bounds_depth_and_encoding(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        read_json(path)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ModelFileError, match="not UTF-8"):
        read_json(path)
    path.write_text('{"a": [1, 2]}')
    assert read_json(path) == {"a": [1, 2]}


def test_a_deeply_nested_weights_file_is_refused_in_one_line(tmp_path):
    from mlplab.io import read_parameters

    path = tmp_path / "w.json"
    path.write_text('{"W2": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match="not valid JSON \\(nested too deeply\\)"):
        read_parameters(path, MLP([2, 1]))


def test_saving_onto_a_folder_asks_for_a_file_name(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder; give the model a file name"):
        MLP([1, 1]).save(tmp_path)
    assert list(tmp_path.parent.glob(tmp_path.name + ".npz")) == []


def test_json_files_hold_null_where_a_number_is_not_finite(tmp_path):
    path = write_json(tmp_path / "m.json", {"a": float("inf"), "b": [1.0, float("nan")], "c": 2})
    assert json.loads(path.read_text(), parse_constant=pytest.fail) == {
        "a": None,
        "b": [1.0, None],
        "c": 2,
    }


@pytest.mark.parametrize("extra", [{"W4": [[1.0]]}, {"W2x": [[1.0]]}])  # a layer too many, a typo
def test_a_weights_file_with_a_name_the_network_has_not_is_refused(tmp_path, extra):
    from mlplab.errors import DataFileError
    from mlplab.io import read_parameters

    sizes = [2, 3, 1]
    net = MLP(sizes, seed=0)
    arrays = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        arrays[f"W{i + 2}"], arrays[f"b{i + 2}"] = W, b
    name = next(iter(extra))
    message = (
        rf"holds '{name}', which a weights file for sizes \[2, 3, 1\] does not: the names are "
        r"W2, b2, W3, b3; remove the others, or give the --sizes the file was written for"
    )
    path = tmp_path / "w.json"
    path.write_text(json.dumps({**{k: v.tolist() for k, v in arrays.items()}, **extra}))
    with pytest.raises(DataFileError, match=message):
        read_parameters(path, MLP(sizes, seed=1))
    np.savez(tmp_path / "w.npz", **arrays, **{k: np.array(v) for k, v in extra.items()})
    with pytest.raises(DataFileError, match=message):
        read_parameters(tmp_path / "w.npz", MLP(sizes, seed=1))
    copy = read_parameters(net.save(tmp_path / "m.npz"), MLP(sizes, seed=1))  # meta is known
    assert all(np.array_equal(a, b) for a, b in zip(copy.weights, net.weights, strict=True))

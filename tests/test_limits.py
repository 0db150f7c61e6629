import pytest

from mlplab import MLP
from mlplab.errors import MlplabError, SizeError
from mlplab.limits import MAX_BYTES, check_bytes, format_bytes, max_bytes


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(8 * 10**12) == "7.28 TiB"
    assert format_bytes(float("inf")) == "inf PiB"


def test_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv("MLPLAB_MAX_BYTES", raising=False)
    assert max_bytes() == MAX_BYTES
    monkeypatch.setenv("MLPLAB_MAX_BYTES", "1e6")
    assert max_bytes() == 10**6
    check_bytes("--n-train 1000", 10**6)  # at the limit: allowed
    with pytest.raises(
        SizeError, match=r"--n-train 2000 would allocate 1.91 MiB \(2000000 bytes\)"
    ):
        check_bytes("--n-train 2000", 2 * 10**6)
    for bad in ("lots", "0", "nan", "-5"):
        monkeypatch.setenv("MLPLAB_MAX_BYTES", bad)
        with pytest.raises(SizeError, match="MLPLAB_MAX_BYTES"):
            max_bytes()


def test_nan_and_inf_sizes_are_refused():
    for n in (float("nan"), float("inf")):
        with pytest.raises(SizeError):
            check_bytes("a size", n)


def test_network_is_priced_before_allocating(monkeypatch):
    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    MLP([1, 100, 1])  # 301 parameters
    with pytest.raises(SizeError, match=r"layer widths \[1, 200000000, 1\] \(p = 600000001"):
        MLP([1, 200_000_000, 1])
    assert issubclass(SizeError, MlplabError) and issubclass(MlplabError, ValueError)


def test_forward_over_a_training_set_is_priced(monkeypatch):
    import numpy as np

    import mlplab

    monkeypatch.setenv("MLPLAB_MAX_BYTES", str(2**20))
    net = MLP([1, 1000, 1], seed=0)
    x = np.zeros((1000, 1))
    with pytest.raises(SizeError, match="a forward pass over the training data"):
        mlplab.fit(net, x, x, epochs=1, progress=False)

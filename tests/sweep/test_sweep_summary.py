"""The sweep summary: medians per setting, figures per metric, failures listed."""

from __future__ import annotations

import numpy as np

from mlplab.sweep.summary import MAX_LINES, _wide, write_summary


def _rows():
    """4 activations × 3 lr × 2 depths × 2 seeds of made-up results; two runs failed."""
    rows, params = [], []
    for act in ("tanh", "relu", "sigmoid", "sin"):
        for lr in (1e-3, 1e-2, 1e-1):
            for depth in ("[8]", "[8, 8]"):
                for seed in (0, 1):
                    failed = act == "relu" and lr == 1e-1 and seed == 1
                    rows.append(
                        {
                            "run_id": f"{len(rows):012x}",
                            "status": "failed" if failed else "ok",
                            "seed": seed,
                            "val_mse": None if failed else lr * (1 + seed),
                            "seconds": None if failed else 0.1 + 0.01 * seed,
                            "error": "ValueError: boom" if failed else "",
                        }
                    )
                    params.append({"activation": act, "lr": lr, "hidden": depth})
    return rows, params


def test_summary_table_figures_and_failures(tmp_path):
    rows, params = _rows()
    assert 4 * 2 > MAX_LINES  # the lr panel pools the other settings
    path = write_summary(rows, params, tmp_path, "made-up")
    text = path.read_text()
    assert "48 runs (24 settings); 46 ok, 2 failed. Swept: activation, lr, hidden." in text
    assert "| activation | lr | hidden | runs ok | val_mse | seconds |" in text
    assert "| tanh | 0.01 | [8] | 2/2 | 0.015 | 0.105 |" in text  # medians of 0.01, 0.02
    assert "| relu | 0.1 | [8] | 1/2 | 0.1 | 0.1 |" in text  # the failed seed is left out
    assert "| 000000000017 | activation = relu, lr = 0.1, hidden = [8, 8], seed = 1 | " in text
    for metric in ("val_mse", "seconds"):
        assert (tmp_path / "figures" / f"{metric}.png").stat().st_size > 20_000
    assert not (tmp_path / "figures" / "train_mse.png").exists()  # no values: no figure


def test_log_axis_only_for_positive_values_spanning_a_decade():
    assert _wide(np.array([1e-3, 1e-2]))
    assert not _wide(np.array([0.1, 0.5]))
    assert not _wide(np.array([0.0, 1.0, 100.0]))
    assert not _wide(np.array([5.0]))

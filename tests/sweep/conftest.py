"""Fixtures of the sweep tests: the tiny spec as a file and its embedded-cluster run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import SPEC, run_cli


@pytest.fixture(scope="session")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.toml"
    path.write_text(SPEC, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def local_sweep(spec_file, tmp_path_factory) -> tuple[Path, int, str]:
    """The tiny spec run by ``mlplab sweep`` on an embedded cluster of two workers."""
    out = tmp_path_factory.mktemp("local") / "tiny"
    status, stdout, _ = run_cli("sweep", str(spec_file), "--out", str(out), "--workers", "2")
    return out, status, stdout

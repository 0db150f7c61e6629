"""Sweeps: grids of training runs in parallel on Dask (a local cluster or a running scheduler).

``load_spec`` reads a TOML spec, ``run_sweep`` runs it and writes ``results.csv`` and
``summary.md``; ``run_configs`` runs any list of :class:`mlplab.config.TrainConfig` the same way
(resumable, one run folder per configuration) and returns the results rows.
"""

from mlplab.cluster import ClusterError
from mlplab.sweep.pipeline import run_sweep
from mlplab.sweep.spec import SpecError, SweepRun, SweepSpec, load_spec, parse_spec, run_id
from mlplab.sweep.tasks import run_configs

__all__ = [
    "ClusterError",
    "SpecError",
    "SweepRun",
    "SweepSpec",
    "load_spec",
    "parse_spec",
    "run_configs",
    "run_id",
    "run_sweep",
]

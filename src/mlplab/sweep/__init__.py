"""Sweeps: grids of training runs in parallel on Dask (a local cluster or a running scheduler).

``load_spec`` reads a TOML spec, ``run_sweep`` runs it and writes ``results.csv`` and
``summary.md``; ``run_configs`` runs any list of :class:`mlplab.run.TrainConfig` the same way
(resumable, one run folder per configuration) and returns the results rows.
"""

from mlplab.sweep.execute import ClusterError, run_configs
from mlplab.sweep.run import run_sweep
from mlplab.sweep.spec import SpecError, SweepRun, SweepSpec, load_spec, parse_spec, run_id

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

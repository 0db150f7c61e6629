"""Running studies (what ``mlplab experiment run`` does): each into its folder, here or as Dask
tasks, and ``run all``'s index report.

A study writes its figures, ``metrics.json``, ``config.json`` and ``report.md`` into a staging
folder beside ``out``, which then replaces ``out`` whole (:func:`mlplab.runfolder.staged`). If
the study fails or is interrupted (Ctrl-C), ``out`` keeps whatever complete run it held before.
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from mlplab.experiments import STUDIES, get_study
from mlplab.experiments.common import TrainingDivergedError, diverged_result
from mlplab.experiments.params import RENAMED, parameters, values, written
from mlplab.experiments.report import (
    QUICK_INDEX_NOTE,
    StudyResult,
    markdown_table,
    render_report,
)
from mlplab.io import write_json, write_text
from mlplab.runfolder import staged

REPORT = "report.md"


def command_line(
    name: str, out: Path, quick: bool, seeds: int | None, params: dict | None = None
) -> str:
    """The ``mlplab experiment run`` command that reruns this study."""
    args = ["mlplab", "experiment", "run", name]
    if quick:
        args.append("--quick")
    if seeds is not None:
        args += ["--seeds", str(seeds)]
    if params:
        args += ["--set", *(f"{k}={written(v)}" for k, v in params.items())]
    args += ["--out", str(out)]
    return shlex.join(args)


#: Most seeds a study runs (each seed is a whole set of trainings).
MAX_SEEDS = 1000


def check_seeds(seeds: int | None) -> None:
    """Raise ValueError unless ``seeds`` is None (the study's default) or a whole number in
    1..:data:`MAX_SEEDS`."""
    if seeds is not None and (
        isinstance(seeds, bool) or int(seeds) != seeds or not 1 <= seeds <= MAX_SEEDS
    ):
        raise ValueError(f"--seeds must be a whole number from 1 to {MAX_SEEDS}, got {seeds}")


def run_study(
    name: str,
    out: str | Path,
    quick: bool = False,
    seeds: int | None = None,
    progress: bool = True,
    params: dict | None = None,
) -> StudyResult:
    """Run the study ``name`` and write its folder ``out``.

    Parameters
    ----------
    name : str
        A key of :data:`mlplab.experiments.STUDIES`.
    out : str or Path
        The study folder: written whole, replacing an earlier run of a study there.
    quick : bool
        The small version for CI (seconds).
    seeds : int, optional
        Number of seeds; default the study's own (``DEFAULT_SEEDS``, fewer with ``quick``).
    progress : bool
        Show progress bars.
    params : dict, optional
        Values of the study's parameters (:mod:`mlplab.experiments.params`), checked values
        from :func:`~mlplab.experiments.params.parse_settings`; the study gets every parameter,
        the ones not given at their (quick) default, and ``config.json`` records them all.

    Returns
    -------
    StudyResult
        The study's; where a training run diverged, one whose answer says which runs diverged
        and how to fix it, and whose one check fails
        (:func:`mlplab.experiments.common.diverged_result`).
    """
    study = get_study(name)
    check_seeds(seeds)
    params = dict(params or {})
    known = [p.name for p in parameters(study)]
    unknown = sorted(set(params) - set(known))
    if unknown:
        now = [f"{k} is now {RENAMED[k]}" for k in unknown if RENAMED.get(k) in known]
        raise ValueError(
            f"study {name!r} has no parameter {', '.join(unknown)}"
            + (f" ({'; '.join(now)})" if now else "")
            + f"; it takes {', '.join(known)}"
        )
    n_seeds = seeds if seeds is not None else study.DEFAULT_SEEDS[quick]
    out = Path(out)
    with staged(out) as stage:
        start = time.perf_counter()
        used = values(study, quick, params)
        try:
            result = study.run(stage.path, quick=quick, seeds=n_seeds, progress=progress, **used)
        except TrainingDivergedError as stop:
            for before in stage.path.iterdir():  # figures of the runs before it
                if before.is_dir():
                    shutil.rmtree(before)
                else:
                    before.unlink()
            result = diverged_result(stop, question(study), parameters(study), used, n_seeds)
        seconds = time.perf_counter() - start
        config = {
            "study": name,
            "quick": quick,
            "seeds": n_seeds,
            "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in used.items()},
            **result.config,
        }
        metrics = {
            "study": name,
            "seconds": seconds,
            "passed": result.passed,
            "checks": [c.to_dict() for c in result.checks],
            **result.metrics,
        }
        write_json(stage.path / "config.json", config)
        write_json(stage.path / "metrics.json", metrics)
        write_text(
            stage.path / REPORT,
            render_report(
                name, result, command_line(name, out, quick, seeds, params), seconds, quick
            ),
        )
    return result


def question(study: ModuleType) -> str:
    """What the study ``study`` does: the first paragraph of its module's docstring, in
    Markdown."""
    first = (study.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(first.replace("``", "`").split())


def run_all(
    out: str | Path,
    quick: bool = False,
    seeds: int | None = None,
    progress: bool = True,
    names: Sequence[str] | None = None,
    cluster: dict | None = None,
) -> dict[str, StudyResult]:
    """Run every study (or ``names``) into ``out/NAME`` and write the index ``out/report.md``.

    Parameters
    ----------
    cluster : dict, optional
        Run the studies as tasks on Dask, the machinery of ``mlplab sweep``: the arguments of
        :func:`mlplab.cluster.connect` (``scheduler``, ``workers``, ``timeout``); an
        empty dict starts a local cluster. Without it the studies run here, one after another.
    """
    out = Path(out)
    names = list(STUDIES if names is None else names)
    start = time.perf_counter()
    results = run_studies({name: out / name for name in names}, quick, seeds, progress, cluster)
    seconds = time.perf_counter() - start
    rows = [
        [
            f"[{name}]({name}/{REPORT})",
            res.title,
            f"{sum(c.passed for c in res.checks)}/{len(res.checks)}",
        ]
        for name, res in results.items()
    ]
    mode = " (quick)" if quick else ""
    text = "\n\n".join(
        [
            f"# mlplab experiments{mode}",
            "Each study answers one question with numbers; open its report for the figures."
            + (f"\n\n{QUICK_INDEX_NOTE}" if quick else ""),
            markdown_table(["study", "title", "checks passed"], rows),
            f"All studies took {seconds:.0f} s. Rerun with:",
            f"```\n{command_line('all', out, quick, seeds)}\n```",
        ]
    )
    write_text(out / REPORT, text + "\n")
    return results


def run_studies(
    jobs: dict[str, Path],
    quick: bool = False,
    seeds: int | None = None,
    progress: bool = True,
    cluster: dict | None = None,
    params: dict | None = None,
) -> dict[str, StudyResult]:
    """Run each study ``name`` of ``jobs`` into its folder ``jobs[name]``.

    Without ``cluster`` the studies run here one after another; with it (see :func:`run_all`)
    each is a Dask task. Results come back in the order of ``jobs``. ``params`` go to every
    study (give them for one study).
    """
    if cluster is None:
        return {
            name: run_study(name, out, quick, seeds, progress, params) for name, out in jobs.items()
        }
    from mlplab.cluster import connect, dashboard_address, gather

    with connect(**cluster) as client:
        link = dashboard_address(client)
        results = gather(
            client,
            lambda: {  # absolute folders: a remote worker has a working directory of its own
                client.submit(
                    run_study, name, Path(out).resolve(), quick, seeds, False, params, pure=False
                ): name
                for name, out in jobs.items()
            },
            "studies",
            progress=progress,
            header=f"Dask dashboard: {link}" if link else None,
        )
    return {name: results[name] for name in jobs}

"""What the studies share: one helper that trains a configuration over several seeds, progress
bars and small numeric helpers.

A study describes each of its runs as a :class:`mlplab.config.TrainConfig` (the network and
training fields; it makes its own data), the configuration of ``mlplab train``. Every "run this
configuration over K seeds" goes through :func:`train_seeds`, which trains with
:func:`mlplab.fit` or, where :func:`mlplab.ensemble.prefer_ensemble` says it is faster, all
seeds at once with :func:`mlplab.fit_ensemble`. Runs that do not depend on each other (a
study's sweep) go through :func:`each_run`, which spreads them over the cores.

A run that diverges stops the study: :func:`train_seeds` raises
:class:`TrainingDivergedError`, and :func:`mlplab.experiments.execute.run_study` writes a report
whose answer says which runs diverged, at what learning rate, and how to fix it
(:func:`diverged_result`), instead of a report of NaN or of networks stopped where their cost
blew up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import NamedTuple, TypeVar

import numpy as np

from mlplab.compute import each_task
from mlplab.config import TrainConfig
from mlplab.ensemble import Ensemble, fit_ensemble, prefer_ensemble
from mlplab.experiments.params import Parameter, written
from mlplab.experiments.report import Check, StudyResult
from mlplab.network import MLP
from mlplab.train import History, fit, quiet_divergence

#: The training fields an optimiser does not use: momentum is SGD's alone, and full-batch
#: L-BFGS picks its steps by line search (no learning rate, batches or schedule).
UNUSED = {
    "sgd": {"seed"},
    "adam": {"seed", "momentum"},
    "lbfgs": {"seed", "momentum", "lr", "batch_size", "batch_sampling", "schedule"},
}


def settings(cfg: TrainConfig, *groups: str) -> dict:
    """The fields of ``cfg`` in ``groups`` (default ``"network"`` and ``"training"``) that its
    optimiser uses, without the seed: what a study's ``config.json`` records of a configuration
    (a study makes its own data and names its seeds)."""
    groups = groups or ("network", "training")
    values = cfg.to_dict()
    unused = UNUSED.get(cfg.optimizer.lower(), {"seed"})
    return {
        f.name: values[f.name]
        for f in dataclasses.fields(cfg)
        if f.metadata["group"] in groups and f.name not in unused
    }


R = TypeVar("R")


def each_run(runs: list[Callable[[], R]], cost: list[float] | None = None) -> list[R]:
    """The results of ``runs``, independent training runs, in order; run on the cores by
    :func:`mlplab.compute.each_task`, the costliest first where ``cost`` estimates each.

    Use it for runs made of long array operations (full-batch steps on many points), during
    which NumPy lets the other thread run; runs of many small steps hold Python's interpreter
    lock and run slower side by side than one after the other (``benchmarks/LOG.md``).

    Every run's numbers are those of running it alone (BLAS on one thread either way). The runs
    report divergence through their :class:`~mlplab.History` status, without a
    DivergenceWarning (:func:`mlplab.train.quiet_divergence`).
    """
    if cost is not None and len(cost) != len(runs):
        raise ValueError(f"{len(runs)} runs need {len(runs)} costs, got {len(cost)}")
    order = sorted(range(len(runs)), key=lambda k: 0 if cost is None else -cost[k])
    results: list = [None] * len(runs)

    def one(k: int) -> None:
        with quiet_divergence():
            results[order[k]] = runs[order[k]]()

    each_task(len(runs), one)
    return results


class SeedRun(NamedTuple):
    """One trained network: the net, its :class:`~mlplab.History`, and the monitor's values
    after every epoch (empty without a monitor)."""

    net: MLP
    history: History
    monitor: list


def train_seeds(
    cfg: TrainConfig,
    X: np.ndarray,
    y: np.ndarray,
    seeds: list[int],
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    monitor: Callable[[MLP], object] | None = None,
    start: list[MLP] | None = None,
    advance: Callable[[], object] | None = None,
    n_out: int | None = None,
    expect_divergence: bool = False,
) -> list[SeedRun]:
    """Train the network of ``cfg`` on ``(X, y)`` once per seed.

    Seed s draws the initial weights and the minibatch order (``cfg.seed`` is not used). Where
    :func:`mlplab.ensemble.prefer_ensemble` says so, the seeds train together as one
    :class:`~mlplab.Ensemble` (the same results as seed by seed, in one pass); otherwise seed
    by seed with :func:`mlplab.fit`.
    A diverging run stops at its last finite epoch with ``history.status == "diverged"``; no
    warning is given, and unless ``expect_divergence`` the seeds' training ends in
    :class:`TrainingDivergedError`.

    Parameters
    ----------
    cfg : TrainConfig
        The network and training fields are used; the data fields are not.
    X : ndarray, shape (N, n_1)
    y : ndarray, shape (N, n_L), or (N,) labels for cross-entropy
    seeds : list of int
    validation : (X_val, y_val), optional
    monitor : callable, optional
        ``monitor(net)`` is called before training and after every epoch; its values are kept
        in :attr:`SeedRun.monitor` (epochs + 1 values).
    start : list of MLP, optional
        Networks to continue training (one per seed, trained in place) instead of new ones.
    advance : callable, optional
        Called after each seed (a progress bar's ``advance``).
    n_out : int, optional
        Output width n_L; default the columns of ``y`` (give it for class labels).
    expect_divergence : bool, default False
        Whether divergence is something the caller measures (a study of stable learning
        rates): its runs are returned with their status instead.

    Returns
    -------
    list of SeedRun
        One per seed, in order.

    Raises
    ------
    TrainingDivergedError
        When a seed diverged and ``expect_divergence`` is False, after every seed has trained.
    """
    if start is None:
        width = y.shape[1] if n_out is None else n_out
        nets = [cfg.build_network(X.shape[1], width, seed=seed) for seed in seeds]
    else:
        nets = list(start)
    values: list[list] = [[monitor(net)] if monitor is not None else [] for net in nets]
    arguments = {**cfg.fit_arguments(), "validation": validation, "progress": False}
    with quiet_divergence():
        together = prefer_ensemble(nets[0], len(nets), cfg.loss, cfg.build_optimizer(),
                                   cfg.batch_size, len(X), cfg.epochs)  # fmt: skip
        if together:
            histories = _train_together(nets, X, y, seeds, monitor, values, cfg, arguments)
            if advance is not None:
                for _ in nets:
                    advance()
        else:
            histories = []
            for k, (net, seed) in enumerate(zip(nets, seeds, strict=True)):
                callbacks = _recorder(monitor, values[k])
                optimizer = cfg.build_optimizer()  # fresh state for every seed
                histories.append(
                    fit(net, X, y, optimizer=optimizer, seed=seed, callbacks=callbacks, **arguments)
                )
                if advance is not None:
                    advance()
    if not expect_divergence and any(h.status == "diverged" for h in histories):
        sizes = [X.shape[1], *cfg.hidden, nets[0].sizes[-1]]
        raise TrainingDivergedError(cfg, sizes, len(X), seeds, histories)
    return [SeedRun(*run) for run in zip(nets, histories, values, strict=True)]


#: How a report names each optimiser.
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "lbfgs": "L-BFGS"}


class TrainingDivergedError(RuntimeError):
    """The seeds of one configuration were trained and some diverged: the cost overflowed, and
    each diverged run kept the weights of its last finite epoch, so its numbers describe a
    network stopped where its cost blew up, not a result.

    Attributes
    ----------
    cfg : TrainConfig
        The configuration trained.
    sizes : list of int
        The network's widths n_1, ..., n_L.
    n_points : int
        Training points.
    seeds : list of int
        Every seed trained.
    diverged : list of (int, History)
        The seeds that diverged, with their histories.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        sizes: list[int],
        n_points: int,
        seeds: list[int],
        histories: list[History],
    ) -> None:
        self.cfg, self.sizes, self.n_points, self.seeds = cfg, sizes, n_points, list(seeds)
        self.diverged = [
            (seed, h) for seed, h in zip(seeds, histories, strict=True) if h.status == "diverged"
        ]
        super().__init__(f"training diverged: {self.runs()}")

    @property
    def optimizer(self) -> str:
        """The optimiser as a report names it (``"Adam"``)."""
        return OPTIMIZER_NAMES.get(self.cfg.optimizer.lower(), self.cfg.optimizer)

    @property
    def uses_lr(self) -> bool:
        """Whether the optimiser takes a learning rate (L-BFGS picks its steps itself)."""
        return "lr" not in UNUSED.get(self.cfg.optimizer.lower(), set())

    def runs(self) -> str:
        """Which runs diverged, and how: ``"SGD at lr 9 (batch 16, 30 epochs) on 64 points,
        1-8-8-1 sigmoid: seed 0 of 2 diverged; for seed 0, training diverged at epoch 23: the
        cost became inf"``."""
        cfg = self.cfg
        batch = "full batch" if cfg.batch_size is None else f"batch {cfg.batch_size}"
        how = f" at lr {cfg.lr:g} ({batch}, {plural(cfg.epochs, 'epoch')})" if self.uses_lr else ""
        seed, history = self.diverged[0]
        first = history.message.split(". ")[0].rstrip(".")
        return (
            f"{self.optimizer}{how} on {plural(self.n_points, 'point')}, "
            f"{'-'.join(map(str, self.sizes))} {cfg.activation}: "
            f"{seeds_named([s for s, _ in self.diverged])} of {len(self.seeds)} diverged; "
            f"for seed {seed}, {first}"
        )


def diverged_result(
    stop: TrainingDivergedError,
    question: str,
    parameters: tuple[Parameter, ...],
    used: dict,
    seeds: int,
) -> StudyResult:
    """The result of a study that ``stop`` ended: titled "training diverged" (a study's own
    title may name sizes of its default run), the answer says which runs diverged, at what
    learning rate, and the fix; one check fails, and there are no figures.

    Parameters
    ----------
    stop : TrainingDivergedError
    question : str
        What the study asks or does.
    parameters : tuple of Parameter
        The study's parameters; the one whose value was the diverged runs' learning rate is
        named in the fix.
    used : dict
        Every parameter's value in this run.
    seeds : int
        Seeds the study ran.

    Returns
    -------
    StudyResult
    """
    runs = stop.runs()
    answer = (
        f"**Training diverged**, so this run answers nothing: {runs}. The cost overflowed, and a "
        f"diverged run keeps the weights of its last finite epoch, so its numbers would describe "
        f"a network stopped where its cost blew up, not a trained one; the study stopped there, "
        f"without figures. " + divergence_fix(stop, parameters, used)
    )
    return StudyResult(
        title="training diverged",
        question=question,
        setup=[
            *((f"{p.help} ({p.name})", written(used[p.name])) for p in parameters),
            ("seeds", str(seeds)),
        ],
        figures=[],
        answer=answer,
        metrics={
            "diverged": {
                "optimizer": stop.optimizer,
                "lr": stop.cfg.lr if stop.uses_lr else None,
                "seeds": [seed for seed, _ in stop.diverged],
                "of_seeds": stop.seeds,
                "messages": [h.message for _, h in stop.diverged],
            }
        },
        checks=[Check("every training run ends without diverging", False, runs)],
        config={},
    )


def divergence_fix(
    stop: TrainingDivergedError, parameters: tuple[Parameter, ...], used: dict
) -> str:
    """What to change after ``stop``: a smaller learning rate, as the ``--set`` that gives it
    where a parameter of the study (one whose help says "learning rate") set the rate."""
    if not stop.uses_lr:
        return (
            f"Fix: {stop.optimizer} picks its own steps (no learning rate), so undo the --set "
            f"values that made training overflow, or look at the data and the scale of the "
            f"initial weights for values that overflow."
        )
    lr = stop.cfg.lr
    named = [p for p in parameters if "learning rate" in p.help and used.get(p.name) == lr]
    if len(named) != 1:
        return (
            f"Fix: a smaller learning rate; this study sets it to {lr:g} itself, so undo the "
            f"--set values that made training overflow."
        )
    p = named[0]
    smaller = p.default if p.default < lr else lr / 10
    default = " (the default)" if smaller == p.default else ""
    return f"Fix: a smaller learning rate, e.g. `--set {p.name}={written(smaller)}`{default}."


def _recorder(monitor: Callable[[MLP], object] | None, values: list) -> list:
    """Callbacks that append ``monitor(net)`` to ``values`` after every epoch."""
    if monitor is None:
        return []
    return [lambda epoch, history, net: values.append(monitor(net))]


def _train_together(
    nets: list[MLP],
    X: np.ndarray,
    y: np.ndarray,
    seeds: list[int],
    monitor: Callable[[MLP], object] | None,
    values: list[list],
    cfg: TrainConfig,
    arguments: dict,
) -> list[History]:
    """All seeds as one ensemble (members on a leading axis); ``nets`` get the results.

    Each member's result equals training it alone with :func:`mlplab.fit` and its seed.
    """
    ensemble = Ensemble.from_nets(nets, seeds)
    callbacks = []
    if monitor is not None:
        row = {id(ensemble.member(i)): i for i in range(len(nets))}
        callbacks.append(lambda epoch, history, net: values[row[id(net)]].append(monitor(net)))
    histories = fit_ensemble(
        ensemble,
        X,
        y,
        optimizer=cfg.build_optimizer(),
        seeds=seeds,
        callbacks=callbacks,
        **arguments,
    )
    for net, params in zip(nets, ensemble.params, strict=True):
        net.params[...] = params
    return histories


def over_seeds(seeds: int, lead: str = "median of", band: bool = False) -> str:
    """``"median of 3 seeds (band: min–max)"``, or ``"1 seed"`` where there is one (no median)."""
    if seeds == 1:
        return "One seed" if lead[:1].isupper() else "1 seed"
    return f"{lead} {seeds} seeds" + (" (band: min–max)" if band else "")


def plural(n: int, word: str) -> str:
    """``"1 seed"``, ``"3 seeds"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def listing(items: list) -> str:
    """``"0"``, ``"0 and 1"``, ``"0, 1 and 2"``: items as a sentence lists them."""
    words = [str(item) for item in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def seeds_named(seeds: list[int]) -> str:
    """``"seed 1"``, ``"seeds 0 and 1"``: which seeds, as a sentence names them."""
    return f"seed{'s' if len(seeds) > 1 else ''} {listing(seeds)}"


def signed(values: Iterable[float], decimals: int) -> str:
    """``"−0.13, +1.00"``: numbers with their sign, a minus sign (−) for negative ones."""
    return ", ".join(f"{v:+.{decimals}f}".replace("-", "−") for v in values)


def seed_list(seeds: int) -> list[int]:
    """The seeds 0, 1, ..., seeds − 1."""
    return list(range(seeds))


def stack(runs: list[SeedRun], attr: str) -> np.ndarray:
    """``history.<attr>`` (or ``"monitor"``) of every run as rows of one array (runs, epochs).

    Runs that stopped early (diverged) are padded with their last value.
    """
    rows = [run.monitor if attr == "monitor" else getattr(run.history, attr) for run in runs]
    n = max(len(r) for r in rows)
    return np.array([list(r) + [r[-1]] * (n - len(r)) for r in rows], dtype=float)


#: A network "trains" when its MSE falls below this fraction of Var(y), the MSE of the best
#: constant; above it, it has not learnt the function within the budget.
TRAINS = 0.1


def fmt(x: float, digits: int = 3) -> str:
    """A number in short scientific notation, e.g. ``3.14e-05``."""
    return f"{x:.{digits - 1}e}"

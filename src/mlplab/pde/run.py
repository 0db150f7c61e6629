"""Solve a built-in problem and write its run folder: report.md, metrics.json, config.json,
history.csv, model.npz and the figures.

The folder is written to a staging folder beside it and moved into place whole, so an
interrupted run never leaves a half-written folder or mixes with an earlier one.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from mlplab.experiments.report import figure, markdown_table
from mlplab.io import save_model, write_json, write_text
from mlplab.network import MLP
from mlplab.pde import figures
from mlplab.pde.problems import Builtin, Setup, get_builtin
from mlplab.pde.solve import solve
from mlplab.progress import progress_bar
from mlplab.runfolder import staged

SLICE_TIMES = (0.25, 0.5, 0.75)


def relative_l2(u: np.ndarray, exact: np.ndarray) -> float:
    """‖u − u_exact‖₂ / ‖u_exact‖₂ over the points."""
    return float(np.linalg.norm(u - exact) / np.linalg.norm(exact))


def run_problem(name: str, out: str | Path, quick: bool = False, progress: bool = True) -> dict:
    """Solve the built-in problem ``name`` and write its folder ``out``.

    Parameters
    ----------
    name : str
        A key of :data:`mlplab.pde.problems.BUILTINS`.
    out : str or Path
        The run folder, written whole (an earlier run there is replaced).
    quick : bool
        The small setup (seconds), as CI runs it.
    progress : bool
        Show a progress bar over the solver's steps, with the loss.

    Returns
    -------
    dict
        The metrics (also in ``metrics.json``): ``rel_l2_error`` on the dense grid,
        ``max_abs_error``, ``final_loss``, ``steps``, ``status``, ``seconds``.
    """
    builtin = get_builtin(name)
    setup = builtin.quick if quick else builtin.full
    with staged(out) as stage:  # written aside, moved into place whole (mlplab.runfolder)
        return _solve_into(builtin, setup, stage.path, quick, progress)


def _solve_into(builtin: Builtin, setup: Setup, folder: Path, quick: bool, progress: bool) -> dict:
    problem = builtin.problem
    dim = problem.domain.dim
    net = MLP([dim, *setup.hidden, 1], activation=setup.activation, seed=setup.seed)
    terms = problem.terms(setup.n_interior, setup.n_boundary, setup.sampling, setup.seed)
    phases: list[tuple[str, int]] = []
    s = setup.schedule
    start = time.perf_counter()
    with progress_bar(builtin.name, s.adam + s.lbfgs + s.lm, progress) as advance:
        history = solve(
            net,
            terms,
            s,
            callback=lambda _step, h, _net: advance(info=f"loss {h.train_loss[-1]:.3e}"),
            phases=phases,
        )
    seconds = time.perf_counter() - start

    X, axes = problem.domain.grid(setup.n_grid)
    u = problem.solution(net, X)
    exact = problem.exact(problem.domain.points(X))
    err = relative_l2(u, exact)
    metrics = {
        "problem": builtin.name,
        "quick": quick,
        "rel_l2_error": err,
        "max_abs_error": float(np.abs(u - exact).max()),
        "final_loss": history.train_loss[-1] if history.train_loss else math.nan,
        "steps": history.steps,
        "phases": dict(phases),
        "status": history.status,
        "seconds": seconds,
        "grid_points": int(X.shape[0]),
        "parameters": net.num_parameters,
    }
    config = {
        "problem": builtin.name,
        "quick": quick,
        "sizes": net.sizes,
        "activation": setup.activation,
        "n_interior": setup.n_interior,
        "n_boundary": setup.n_boundary,
        "collocation_points": [int(t.X.shape[0]) for t in terms],
        "sampling": setup.sampling,
        "schedule": vars(setup.schedule),
        "seed": setup.seed,
    }
    names = problem.domain.names
    pics = []  # (file name, caption), in the report's order
    if dim == 1:
        figures.solution_1d(folder / "solution.png", axes[0], u, exact, builtin.name)
        pics.append(
            (
                "solution.png",
                f"The network's u and the exact solution against {names[0]} (left), and the "
                "error u − u_exact (right).",
            )
        )
    else:
        shape = tuple(len(a) for a in axes)
        U, E = u.reshape(shape), exact.reshape(shape)
        figures.solution_2d(folder / "solution.png", axes, names, U, E, builtin.name)
        pics.append(
            (
                "solution.png",
                f"The network's u, the exact solution and the error u − u_exact over "
                f"({names[0]}, {names[1]}).",
            )
        )
        if names[0] == "t":
            figures.slices(folder / "slices.png", axes[0], axes[1], U, E, SLICE_TIMES)
            times = ", ".join(f"{t:g}" for t in SLICE_TIMES)
            pics.append(
                (
                    "slices.png",
                    f"u against {names[1]} at the grid times nearest t = {times}: the network "
                    "and the exact solution.",
                )
            )
    figures.losses(folder / "loss.png", history.train_loss, phases)
    pics.append(
        (
            "loss.png",
            "The loss C(θ) per step (log scale); a dotted line marks where each solver starts, "
            "named at the foot of the plot.",
        )
    )
    write_json(folder / "metrics.json", metrics)
    write_json(folder / "config.json", config)
    history.save_csv(folder / "history.csv")
    save_model(net, folder / "model.npz", pde_problem=builtin.name)  # predict gives u
    write_text(folder / "report.md", _report(builtin, setup, metrics, config, pics, history))
    return metrics


#: The relative L2 error below which a report says that the network solves the problem.
SOLVED = 1e-2


def _answer(metrics: dict, how_it_ended: str) -> str:
    """The report's answer: the error against the exact solution, and whether it is below
    :data:`SOLVED`."""
    error = metrics["rel_l2_error"]
    measured = (
        f"a relative L2 error of {error:.2e} against the exact solution on a grid of "
        f"{metrics['grid_points']} points, in {metrics['seconds']:.3g} s ({how_it_ended})"
    )
    if error < SOLVED:
        return f"**Answer.** The network solves the problem: {measured}."
    more = " A quick run takes few steps; the full run (without --quick) takes more." * bool(
        metrics["quick"]
    )
    return f"**Answer.** The network does not solve the problem to {SOLVED:.0%}: {measured}.{more}"


def _report(builtin, setup, metrics, config, pics, history) -> str:
    quick = " --quick" if metrics["quick"] else ""
    phases = ", ".join(f"{n} {k}" for n, k in metrics["phases"].items() if k) or "none"
    rows = [
        ["relative L2 error (dense grid)", f"{metrics['rel_l2_error']:.3e}"],
        ["largest absolute error on the grid", f"{metrics['max_abs_error']:.3e}"],
        ["final loss C(θ)", f"{metrics['final_loss']:.3e}"],
        ["steps", f"{metrics['steps']} ({phases})"],
        ["time", f"{metrics['seconds']:.3g} s"],
    ]
    figs = "\n\n".join(figure(name, caption) for name, caption in pics)
    return (
        "\n\n".join(
            [
                f"# {builtin.name}{' (quick)' if quick else ''}",
                f"**Problem.** {builtin.title}.",
                "**Setup.** "
                + f"Network {'-'.join(map(str, config['sizes']))} ({setup.activation}), "
                + f"{metrics['parameters']} parameters; "
                + f"{config['collocation_points'][0]} collocation points ({setup.sampling}); "
                + "; ".join(builtin.notes)
                + ". Derivatives of u with respect to the input by the forward recursion, the loss "
                + "gradient and the residual Jacobian by reverse mode through it.",
                markdown_table(["measure", "value"], rows),
                _answer(metrics, history.message),
                figs,
                f"Rerun with:\n\n```\nmlplab pde run {builtin.name}{quick}\n```",
            ]
        )
        + "\n"
    )

"""Built-in problems with exact solutions, and the settings each is solved with.

- ``poisson1d``: −u'' = π² sin(πx) on [−1, 1], u(±1) = 0; u = sin(πx) (DeepXDE's example).
- ``poisson2d``: −Δu = 2π² sin(πx) sin(πy) on [0, 1]², u = 0 on the boundary;
  u = sin(πx) sin(πy).
- ``burgers``: u_t + u u_x − (0.01/π) u_xx = 0, x ∈ [−1, 1], t ∈ [0, 1], u(0, x) = −sin(πx),
  u(t, ±1) = 0 (Raissi, Perdikaris & Karniadakis, J. Comput. Phys. 2019); exact solution by the
  Cole–Hopf transform (:mod:`mlplab.pde.burgers_exact`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlplab._names import unknown
from mlplab._version import __version__
from mlplab.errors import ModelFileError
from mlplab.io import model_meta
from mlplab.network import MLP
from mlplab.pde.burgers_exact import NU, burgers_exact
from mlplab.pde.problem import Box, Problem
from mlplab.pde.solve import Schedule

PI = np.pi


@dataclass(frozen=True)
class Setup:
    """How a built-in problem is solved: network, points and solver steps."""

    hidden: tuple[int, ...]
    n_interior: int
    n_boundary: int
    sampling: str
    schedule: Schedule
    activation: str = "tanh"
    n_grid: int = 201  # points per variable of the dense grid the error is measured on
    seed: int = 0


@dataclass(frozen=True)
class Builtin:
    """A problem with its description and its full and quick setups."""

    name: str
    title: str
    problem: Problem
    full: Setup
    quick: Setup
    notes: list[str] = field(default_factory=list)


def poisson1d() -> Problem:
    return Problem(
        Box(x=(-1, 1)),
        residual=lambda p, u: -u.xx - PI**2 * np.sin(PI * p.x),
        transform=lambda p: (0.0, 1 - p.x**2),
        exact=lambda p: np.sin(PI * p.x),
        name="poisson1d",
    )


def poisson2d() -> Problem:
    return Problem(
        Box(x=(0, 1), y=(0, 1)),
        residual=lambda p, u: -u.lap - 2 * PI**2 * np.sin(PI * p.x) * np.sin(PI * p.y),
        transform=lambda p: (0.0, p.x * (1 - p.x) * p.y * (1 - p.y)),
        exact=lambda p: np.sin(PI * p.x) * np.sin(PI * p.y),
        name="poisson2d",
    )


def burgers() -> Problem:
    return Problem(
        Box(t=(0, 1), x=(-1, 1)),
        residual=lambda p, u: u.t + u * u.x - NU * u.xx,
        transform=lambda p: (-np.sin(PI * p.x), p.t * (1 - p.x**2)),
        exact=lambda p: burgers_exact(p.t, p.x),
        name="burgers",
    )


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin(
            "poisson1d",
            "Poisson in 1-D: −u'' = π² sin(πx) on [−1, 1], u(±1) = 0",
            poisson1d(),
            full=Setup((20, 20), 64, 0, "grid", Schedule(lm=60)),
            quick=Setup((10,), 24, 0, "grid", Schedule(lm=20)),
            notes=["boundary condition by the output transform u = (1 − x²) a^[L](x)"],
        ),
        Builtin(
            "poisson2d",
            "Poisson in 2-D: −Δu = 2π² sin(πx) sin(πy) on [0, 1]², u = 0 on the boundary",
            poisson2d(),
            full=Setup((20, 20), 400, 0, "lhs", Schedule(lm=150), n_grid=101),
            quick=Setup((8,), 64, 0, "lhs", Schedule(lm=15), n_grid=41),
            notes=["boundary condition by the output transform u = x(1−x)y(1−y) a^[L](x, y)"],
        ),
        Builtin(
            "burgers",
            "Burgers: u_t + u u_x = (0.01/π) u_xx, u(0, x) = −sin(πx), u(t, ±1) = 0",
            burgers(),
            full=Setup(
                (20, 20, 20), 5000, 0, "lhs", Schedule(adam=300, lr=3e-3, lm=1200), n_grid=256
            ),
            quick=Setup((10, 10), 300, 0, "lhs", Schedule(lm=15), n_grid=64),
            notes=[
                "initial and boundary conditions by the output transform "
                "u = −sin(πx) + t(1 − x²) a^[L](t, x)"
            ],
        ),
    ]
}


def get_builtin(name: str) -> Builtin:
    """The built-in problem ``name``; an unknown name lists the valid ones."""
    if name not in BUILTINS:
        raise unknown("problem", name, tuple(BUILTINS))
    return BUILTINS[name]


def load_model(path: str | Path) -> tuple[MLP, Problem | None]:
    """A saved network and, for a model written by ``mlplab pde run``, the built-in problem
    whose solution u = ``problem.solution(net, X)`` it gives (None for any other model, whose
    output a^[L] is the answer).

    Raises
    ------
    ModelFileError
        For a file that :meth:`mlplab.MLP.load` refuses, a problem this mlplab does not have,
        or a network whose inputs and outputs do not fit the problem.
    """
    net = MLP.load(path)
    meta = model_meta(path)
    name = meta.get("pde_problem")
    if name is None:
        return net, None
    if name not in BUILTINS:
        raise ModelFileError(
            f"{path} holds the network a^[L] of the PDE problem {name!r}, whose solution u this "
            f"mlplab ({__version__}, problems {', '.join(BUILTINS)}) cannot compute; use the "
            f"mlplab that wrote it ({str(meta.get('mlplab_version', 'unknown'))[:40]!r})"
        )
    problem = BUILTINS[name].problem
    if net.sizes[0] != problem.domain.dim or net.sizes[-1] != 1:
        raise ModelFileError(
            f"{path} records the PDE problem {name!r}, of inputs {', '.join(problem.domain.names)} "
            f"and one output, but holds a network of sizes {net.sizes}"
        )
    return net, problem

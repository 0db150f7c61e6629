"""A differential equation for a network to solve: a domain, a residual, conditions.

A problem is written with the solution's derivatives by name: for variables ``("t", "x")`` a
residual sees ``u``, ``u.t``, ``u.x``, ``u.tt``, ``u.tx``, ``u.xx`` and ``u.lap`` (the Laplacian
over all variables). Only the second derivatives a residual reads are computed: each residual is
run once on a probe to find them.

Example (Poisson in 1-D, a soft boundary condition)::

    problem = Problem(
        Box(x=(-1, 1)),
        residual=lambda p, u: -u.xx - np.pi**2 * np.sin(np.pi * p.x),
        conditions=[Condition("boundary", lambda p, u: u)],
        exact=lambda p: np.sin(np.pi * p.x),
    )
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mlplab.errors import MlplabError
from mlplab.limits import check_bytes
from mlplab.pde.fields import Field, Jet, NotInBoxError
from mlplab.second_order import Derivatives, Operators, to_block, to_derivatives
from mlplab.values import check_interval, check_positive, check_whole

SAMPLINGS = ("grid", "uniform", "lhs")

# How to fix a refused number of points (mlplab.limits.check_bytes).
_FEWER_POINTS = "use fewer points (or raise MLPLAB_MAX_BYTES)"


class Points:
    """Coordinates of B points by variable name: ``p.x`` is the column of x, shape (B,)."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self._columns = columns

    def __getattr__(self, name: str):
        columns = self.__dict__["_columns"]
        if name not in columns:
            raise NotInBoxError(
                f"p has no variable {name!r}; the box has "
                f"{', '.join('p.' + n for n in columns)}: write one of those"
            )
        return columns[name]


class Box:
    """The box a_1 ≤ x_1 ≤ b_1, ..., named by variable: ``Box(t=(0, 1), x=(-1, 1))``.

    The variables keep their order: it is the order of the network's inputs.
    """

    def __init__(self, **bounds: tuple[float, float]) -> None:
        if not bounds:
            raise MlplabError("a Box needs at least one variable, e.g. Box(x=(-1, 1))")
        self.bounds = {
            name: check_interval(ab, f"the bounds of {name}", f"Box({name}=(-1, 1))")
            for name, ab in bounds.items()
        }
        # u.xx is ∂²u/∂x²: a variable named xx (or lap) could not be told from it
        second = {a + b for a in bounds for b in bounds} | {"lap"}
        clash = [name for name in bounds if name in second]
        if clash:
            raise MlplabError(
                f"variable name(s) {', '.join(clash)} are also names of second derivatives "
                f"(u.xx is ∂²u/∂x², u.lap the Laplacian); rename them, e.g. to x1, x2"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.bounds)

    @property
    def dim(self) -> int:
        return len(self.bounds)

    def faces(self, on: str) -> list[tuple[int, float]]:
        """The faces named by ``on``: ``"boundary"`` (all), a variable (both of its faces) or
        ``"var=value"`` with value one of its bounds; as (variable index, fixed value) pairs."""
        if on == "boundary":
            return [(i, v) for i, name in enumerate(self.names) for v in self.bounds[name]]
        name, _, value = on.partition("=") if isinstance(on, str) else (None, "", "")
        name = name and name.strip()
        if name not in self.bounds:
            raise MlplabError(
                f"condition on {on!r}: use 'boundary', a variable ({', '.join(self.names)}) "
                f"or 'variable=bound' such as '{self.names[0]}={self.bounds[self.names[0]][0]:g}'"
            )
        i = self.names.index(name)
        if not value:
            return [(i, v) for v in self.bounds[name]]
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if v not in self.bounds[name]:
            raise MlplabError(f"condition on {on!r}: {name} must be one of its bounds")
        return [(i, v)]

    def sample(self, n: int, method: str = "lhs", seed: int | None = 0) -> np.ndarray:
        """n points in the box (a grid takes ⌈n^(1/d)⌉ per variable), shape (n', d)."""
        return _scale(_unit(n, self.dim, method, seed), list(self.bounds.values()))

    def sample_on(self, on: str, n: int, method: str = "lhs", seed: int | None = 0) -> np.ndarray:
        """About n points on the faces ``on``, shared equally; a face of a 1-D box is a point."""
        faces = self.faces(on)
        per = max(1, math.ceil(check_whole(n, "the number of points", 0) / len(faces)))
        _check_points(len(faces) * (per if self.dim > 1 else 1), self.dim)
        parts = []
        for k, (i, v) in enumerate(faces):
            others = [b for j, b in enumerate(self.bounds.values()) if j != i]
            m = 1 if not others else per
            unit = _unit(m, len(others), method, None if seed is None else seed + 1 + k)
            pts = _scale(unit, others)
            parts.append(np.insert(pts, i, v, axis=1))
        return np.concatenate(parts)

    def grid(self, n_per_dim: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """A tensor grid with endpoints: the points (n^d, d) and each variable's 1-D grid."""
        _check_points(check_whole(n_per_dim, "the points per variable", 1) ** self.dim, self.dim)
        axes = [np.linspace(lo, hi, n_per_dim) for lo, hi in self.bounds.values()]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1), axes

    def points(self, X: np.ndarray) -> Points:
        return Points({name: X[:, i] for i, name in enumerate(self.names)})


def _unit(n: int, d: int, method: str, seed: int | None) -> np.ndarray:
    """n points in [0, 1]^d by a grid, uniform draws or Latin hypercube sampling."""
    n = check_whole(n, "the number of points", 1)
    if d == 0:
        return np.zeros((1, 0))
    _check_points(n, d)
    if method == "grid":
        m = max(2, math.ceil(round(n ** (1 / d), 9)))
        _check_points(m**d, d)
        axes = [np.linspace(0, 1, m)] * d
        return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    rng = np.random.default_rng(seed)
    if method == "uniform":
        return rng.uniform(size=(n, d))
    if method == "lhs":  # one point in each of n strata per variable, strata paired at random
        strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
        return (strata + rng.uniform(size=(n, d))) / n
    raise MlplabError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {method!r}")


def _check_points(count: int, d: int) -> None:
    """Refuse ``count`` points in ``d`` variables whose sampling (the points and two working
    copies) would take more memory than :func:`mlplab.limits.check_bytes` allows."""
    check_bytes(
        lambda: f"{count} points in {d} variable(s) (with the working copies of sampling)",
        3.0 * 8 * d * min(count, 2**80),
        _FEWER_POINTS,
    )


def _scale(unit: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return lo + unit * (hi - lo)


ResidualFn = Callable[[Points, Field], Field]


@dataclass
class Condition:
    """A condition on faces of the box, as a residual that must vanish there (a soft penalty).

    Parameters
    ----------
    on : str
        ``"boundary"``, a variable (both of its faces) or ``"var=bound"`` (e.g. ``"t=0"``).
    residual : callable
        ``residual(p, u)``: e.g. ``lambda p, u: u + np.sin(np.pi * p.x)`` for u = −sin(πx).
    weight : float
        The penalty's weight in the loss, a finite number >= 0.

    Raises
    ------
    MlplabError
        For a weight that is negative, NaN, infinite or not a number.
    """

    on: str
    residual: ResidualFn
    weight: float = 1.0

    def __post_init__(self) -> None:
        self.weight = check_positive(self.weight, "a Condition's weight", "1.0", zero=True)


@dataclass
class Problem:
    """A differential equation on a box: residual(p, u) = 0 inside, the conditions on faces.

    Parameters
    ----------
    domain : Box
    residual : callable
        ``residual(p, u)`` with coordinates ``p.x`` (arrays) and the solution ``u`` (a Field).
    conditions : sequence of Condition
        Soft penalties.
    exact : callable, optional
        ``exact(p)``: the exact solution, for the error.
    transform : callable, optional
        A hard constraint: ``transform(p) -> (g, h)`` with the coordinates as Jets; the solution
        is u = g + h · a^[L], which meets the conditions whatever the network (e.g.
        ``lambda p: (0.0, 1 - p.x**2)`` for u(±1) = 0).
    name : str
    """

    domain: Box
    residual: ResidualFn
    conditions: Sequence[Condition] = ()
    exact: Callable[[Points], np.ndarray] | None = None
    transform: Callable[[Points], tuple] | None = None
    name: str = "problem"
    _ops: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.domain, Box):
            raise MlplabError(
                f"a Problem's domain must be a Box, e.g. Box(x=(-1, 1)), "
                f"got a {type(self.domain).__name__}"
            )
        for what, fn, example in [
            ("residual", self.residual, "lambda p, u: -u.xx - 1"),
            ("exact", self.exact, "lambda p: np.sin(np.pi * p.x)"),
            ("transform", self.transform, "lambda p: (0.0, 1 - p.x**2)"),
        ]:
            if not (callable(fn) or (fn is None and what != "residual")):
                raise MlplabError(
                    f"a Problem's {what} must be a function, such as {example}, "
                    f"got a {type(fn).__name__}"
                )
        if isinstance(self.conditions, (Condition, str)) or not isinstance(
            self.conditions, Iterable
        ):
            raise MlplabError(
                f"a Problem's conditions must be a list of Condition, such as "
                f"[Condition('boundary', lambda p, u: u)], got a {type(self.conditions).__name__}"
            )
        self.conditions = tuple(self.conditions)
        for k, c in enumerate(self.conditions):
            if not isinstance(c, Condition):
                raise MlplabError(
                    f"conditions[{k}] is a {type(c).__name__}, not a Condition; say where it "
                    f"holds, e.g. Condition('boundary', lambda p, u: u)"
                )
            self.domain.faces(c.on)

    def term(self, X: np.ndarray, fn: ResidualFn, weight: float) -> Term:
        """The loss term weight · mean(fn² at X)."""
        return Term(self, np.asarray(X, dtype=np.float64), fn, weight)

    def terms(
        self, n_interior: int, n_boundary: int, sampling: str = "lhs", seed: int | None = 0
    ) -> list[Term]:
        """The residual at n_interior points of the box and each condition at n_boundary."""
        out = [self.term(self.domain.sample(n_interior, sampling, seed), self.residual, 1.0)]
        for k, c in enumerate(self.conditions):
            X = self.domain.sample_on(
                c.on, n_boundary, sampling, None if seed is None else seed + 7 * k
            )
            out.append(self.term(X, c.residual, c.weight))
        return out

    def solution(self, net, X: np.ndarray) -> np.ndarray:
        """u at the points (N,): the network's output through the transform, if any."""
        X = np.asarray(X, dtype=np.float64)
        v = net(X)[:, 0]
        if self.transform is None:
            return v
        g, h = self._jets(X, np.zeros((0, self.domain.dim, self.domain.dim)))
        return g.value + h.value * v

    def solution_gradient(self, net, X: np.ndarray) -> np.ndarray:
        """∇u at the points (N, d): the network's input gradient through the transform, if any
        (∇u = ∇g + a^[L] ∇h + h ∇a^[L])."""
        X = np.asarray(X, dtype=np.float64)
        dv = net.input_jacobian(X)[:, 0, :]
        if self.transform is None:
            return dv
        g, h = self._jets(X, np.zeros((0, self.domain.dim, self.domain.dim)))
        T = np.concatenate([net(X)[:, 0][None], dv.T])[:, :, None]  # the block of a^[L]
        return _transform(T, g, h)[1:, :, 0].T

    def _jets(self, X: np.ndarray, C: np.ndarray) -> tuple[Jet, Jet]:
        """g and h of the transform at the points X, with the operators of coefficients C."""
        (B, d), K = X.shape, C.shape[0]
        check_bytes(
            lambda: (
                f"the output transform at {B} points (its jets, each of {1 + d + K} numbers "
                f"a point, the coordinates, g, h and the formula's steps between)"
            ),
            8.0 * 8 * B * (1 + d + K),
            _FEWER_POINTS,
        )
        p = Points({n: Jet.coordinate(X, i, C) for i, n in enumerate(self.domain.names)})
        gh = self.transform(p)
        if not (isinstance(gh, (tuple, list)) and len(gh) == 2):
            got = f"{len(gh)} values" if isinstance(gh, (tuple, list)) else f"a {type(gh).__name__}"
            raise MlplabError(
                f"a transform returns the pair (g, h) of u = g + h·a^[L], such as "
                f"lambda p: (0.0, 1 - p.x**2); it returned {got}"
            )
        for name, v in zip("gh", gh, strict=True):
            if not (
                isinstance(v, Jet) or (isinstance(v, numbers.Real) and not isinstance(v, bool))
            ):
                raise MlplabError(
                    f"a transform's {name} must be a number or a formula in the coordinates, "
                    f"such as 1 - p.x**2, got a {type(v).__name__}"
                )
        zero = Jet.coordinate(X, 0, C) * 0.0
        return zero + gh[0], zero + gh[1]

    def operators_for(self, fn: ResidualFn) -> tuple[Operators, dict[str, int]]:
        """The second-order operators ``fn`` reads (found on a probe), and the rows of the
        output block by derivative name."""
        if fn not in self._ops:  # keyed by the function itself, which the dict keeps alive
            self._ops[fn] = self._probe(fn)
        return self._ops[fn]

    def _probe(self, fn: ResidualFn) -> tuple[Operators, dict[str, int]]:
        names, d = self.domain.names, self.domain.dim
        second: dict[str, np.ndarray] = {}
        for i, j in itertools.combinations_with_replacement(range(d), 2):
            c = np.zeros((d, d))
            c[i, j] = c[j, i] = 1.0 if i == j else 0.5
            second[names[i] + names[j]] = second[names[j] + names[i]] = c
        second["lap"] = np.eye(d)
        rows = {n: 1 + i for i, n in enumerate(names)}
        candidates = dict(rows)
        candidates.update({n: 1 + d + k for k, n in enumerate(second)})
        read = _Recorder(candidates)
        T = np.full((1 + d + len(second), 1, 1), 0.37)
        X = np.array([[(lo + hi) / 2 for lo, hi in self.domain.bounds.values()]])
        fn(self.domain.points(X), Field(T[0, :, 0], np.zeros((1, T.shape[0])), read))
        wanted: dict[str, int] = {}
        for n in read.used:
            if n in second:
                key = next(k for k, m in second.items() if np.array_equal(m, second[n]))
                wanted.setdefault(key, len(wanted))
        ops = Operators([second[k] for k in wanted], d)
        for n, m in second.items():
            for k, key in enumerate(wanted):
                if np.array_equal(m, second[key]):
                    rows[n] = 1 + d + k
        return ops, rows


class _Recorder(dict):
    """Names the probe's residual read."""

    def __init__(self, candidates: dict[str, int]) -> None:
        super().__init__({n: (np.full(1, 0.37), k) for n, k in candidates.items()})
        self.used: list[str] = []

    def __getitem__(self, name: str):
        self.used.append(name)
        return super().__getitem__(name)


@dataclass
class Term:
    """weight · (1/N) Σ_i r_i² over N points, r the residual ``fn`` of ``problem``."""

    problem: Problem
    X: np.ndarray
    fn: ResidualFn
    weight: float

    def __post_init__(self) -> None:
        self.ops, self.rows = self.problem.operators_for(self.fn)
        self.points = self.problem.domain.points(self.X)
        # the transform's g and h depend on the points alone: computed once
        self.jets = None
        if self.problem.transform is not None:
            self.jets = self.problem._jets(self.X, self.ops.C)

    @property
    def scale(self) -> float:
        return self.weight / self.X.shape[0]

    def residual(
        self, rows: slice, x: np.ndarray, d: Derivatives
    ) -> tuple[np.ndarray, Derivatives]:
        """The :data:`mlplab.second_order.Residual` of the network's output a^[L] at the rows
        ``rows`` of X: r and ∂r/∂(a^[L], ∂a^[L]/∂x, 𝓛_k a^[L])."""
        n = self.ops.n_in
        T = to_block(d, n)
        jets = None
        if self.jets is not None:
            jets = tuple(j.rows(rows) for j in self.jets)
            T = _transform(T, *jets)
        p = Points({name: col[rows] for name, col in self.points._columns.items()})
        r = self.fn(p, Field.output(T, self.rows))
        if not isinstance(r, Field):
            raise MlplabError("a residual must be written with u (it returned no derivative of u)")
        partial = r.partial
        if jets is not None:
            partial = _transform_adjoint(partial, *jets)
        return r.value, to_derivatives(np.ascontiguousarray(partial.T)[:, :, None], n)


def _transform(T: np.ndarray, g: Jet, h: Jet) -> np.ndarray:
    """The block of u = g + h v from the block of v (R, B, 1)."""
    n = g.grad.shape[1]
    v, dv, Sv = T[0, :, 0], T[1 : 1 + n, :, 0].T, T[1 + n :, :, 0].T
    w = np.einsum("kij,bi->bkj", g.C + g.C.transpose(0, 2, 1), h.grad)
    out = np.empty_like(T)
    out[0, :, 0] = g.value + h.value * v
    out[1 : 1 + n, :, 0] = (g.grad + h.grad * v[:, None] + h.value[:, None] * dv).T
    S = g.ops + h.ops * v[:, None] + np.einsum("bkj,bj->bk", w, dv) + h.value[:, None] * Sv
    out[1 + n :, :, 0] = S.T
    return out


def _transform_adjoint(partial: np.ndarray, g: Jet, h: Jet) -> np.ndarray:
    """∂r/∂(v-block) from ∂r/∂(u-block), both (B, R), for u = g + h v."""
    n = g.grad.shape[1]
    pu, pdu, pS = partial[:, 0], partial[:, 1 : 1 + n], partial[:, 1 + n :]
    w = np.einsum("kij,bi->bkj", g.C + g.C.transpose(0, 2, 1), h.grad)
    out = np.empty_like(partial)
    out[:, 0] = h.value * pu + np.sum(h.grad * pdu, axis=1) + np.sum(h.ops * pS, axis=1)
    out[:, 1 : 1 + n] = h.value[:, None] * pdu + np.einsum("bk,bkj->bj", pS, w)
    out[:, 1 + n :] = h.value[:, None] * pS
    return out

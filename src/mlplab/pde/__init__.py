"""Physics-informed networks: differential equations solved by an MLP whose derivatives with
respect to its input come from the forward recursion of :mod:`mlplab.second_order`.

A problem is a :class:`Box`, a residual written with u and its derivatives by name, and
:class:`Condition` s on faces (soft penalties) or a hard constraint by an output transform;
:meth:`Problem.terms` samples collocation points and :func:`solve` trains with Adam, L-BFGS and
Levenberg–Marquardt on the exact residual Jacobian. Built-in problems with exact solutions are in
:mod:`mlplab.pde.problems`.
"""

from mlplab.pde.fields import Field, Jet
from mlplab.pde.problem import SAMPLINGS, Box, Condition, Points, Problem, Term
from mlplab.pde.solve import Schedule, loss, loss_value, normal_equations, solve

__all__ = [
    "SAMPLINGS",
    "Box",
    "Condition",
    "Field",
    "Jet",
    "Points",
    "Problem",
    "Schedule",
    "Term",
    "loss",
    "loss_value",
    "normal_equations",
    "solve",
]

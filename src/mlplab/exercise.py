"""Backpropagation exercises: a small random network and point, the questions, a worked solution.

:func:`make_exercise` draws weights, biases, the point and its target as short decimals (one
digit after the point), so that a student can work the step by hand; the solution is the
:class:`~mlplab.trace.Trace` of that step. A draw where backpropagation would show nothing (a
layer whose σ'(z) is 0 at every unit, as a ReLU layer with every z < 0 has, or a gradient of
all zeros) is drawn again, from the same generator. The same seed gives the same exercise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlplab.errors import MlplabError
from mlplab.losses import get_loss
from mlplab.network import MLP
from mlplab.trace import LOSS_NAMES, Trace, default_output_activation, trace

#: The largest exercise worked by hand: widths and number of layers L.
MAX_WIDTH, MAX_LAYERS = 6, 5
#: How many draws of its seed an exercise tries for one where backpropagation shows something.
MAX_DRAWS = 100


@dataclass(frozen=True)
class Exercise:
    """One exercise: the network, the point, and the step's trace (its solution).

    Attributes
    ----------
    net : MLP
    x : ndarray, shape (n_1,)
    y : ndarray, shape (n_L,), or () for a class label
    trace : Trace
    seed : int
    """

    net: MLP
    x: np.ndarray
    y: np.ndarray
    trace: Trace
    seed: int

    def command(self, weights_file: str = "network.json") -> str:
        """The ``mlplab trace`` command line that prints the solution."""
        acts = self.trace.activations
        return (
            f"mlplab trace --sizes {' '.join(map(str, self.net.sizes))} "
            f"--activation {acts[0] if len(acts) > 1 else acts[-1]} "
            f"--output-activation {acts[-1]} --weights {weights_file} "
            f"--x {' '.join(f'{v:g}' for v in self.x)} "
            f"--y {' '.join(f'{v:g}' for v in np.ravel(self.y))} "
            f"--loss {self.trace.loss} --lr {self.trace.lr:g}"
        )

    def questions(self, weights_file: str = "network.json") -> str:
        """The exercise sheet (Markdown with LaTeX).

        Parameters
        ----------
        weights_file : str
            Where the sheet's ``mlplab trace`` command finds the network: ``network.json``
            written as the path from the folder the exercise was made in (e.g.
            ``exercise-5/network.json``), as the sheet says.
        """
        t, L = self.trace, self.net.L
        sizes = "-".join(map(str, self.net.sizes))
        given = [
            f"$$ {t.latex(f'{name}^[{k}]', formula=False)} $$\n"
            for k in range(2, L + 1)
            for name in ("W", "b")
        ]
        C = t.entry("C")
        cost = f"$C = {C.formula_tex}$" + (f" with ${C.where_tex}$" if C.where_tex else "")
        loss = LOSS_NAMES.get(t.loss, f"the loss {t.loss}")
        folder = Path(weights_file).parent
        where = (
            " in the exercise's folder"
            if folder == Path(".")
            else ""
            if folder.is_absolute()
            else f" from the folder that holds `{folder}`"
        )
        lines = [
            f"# Backpropagation by hand (exercise {self.seed})",
            "",
            f"A network with layer widths {sizes} (L = {L}) has {self._sigmas()}; "
            r"$z^{[l]} = W^{[l]} a^{[l-1]} + b^{[l]}$, $a^{[l]} = \sigma(z^{[l]})$. "
            "Its weights and biases are",
            "",
            *given,
            f"The point is {self._point_tex()}; the cost is {loss}, {cost}, at N = 1 point; "
            f"and the learning rate is $\\eta = {t.lr:g}$.",
            "",
            "## Questions",
            "",
            *self._question_list(),
            "",
            f"Check your answers against `solution.md`, or print them{where} with "
            f"`{self.command(weights_file)}`.",
        ]
        return "\n".join(lines) + "\n"

    def _sigmas(self) -> str:
        """Its σ in words: ``"σ = sigmoid in every layer"``, or the hidden layers' and the
        output layer's."""
        *hidden, output = self.trace.activations
        if not hidden:
            return f"no hidden layer and σ = {output} in its output layer"
        if set(hidden) == {output}:
            return f"σ = {output} in every layer"
        layers = "layers" if len(hidden) > 1 else "layer"
        return (
            f"σ = {', '.join(sorted(set(hidden)))} in its hidden {layers} and σ = {output} in its "
            "output layer"
        )

    def _point_tex(self) -> str:
        x = self.trace.latex("a^[1]", formula=False).replace("a^{[1]}", "x", 1)
        if self.y.ndim == 0:  # a class label
            label = int(self.y)
            y = self.trace.latex("y", formula=False).replace("y =", f"y = e_{{{label + 1}}} =", 1)
            return (
                f"${x}$ of class {label}, so ${y}$, the one-hot vector with its 1 in entry "
                f"{label + 1} (classes are numbered from 0, as `--y` takes them, and the entries "
                "of a vector from 1)"
            )
        y = self.trace.latex("y", formula=False)
        return f"${x}$ with target ${y}$"

    def _question_list(self) -> list[str]:
        L = self.net.L
        layers = ", ".join(str(k) for k in range(2, L + 1))
        down = ", ".join(str(k) for k in range(L, 1, -1))
        items = [
            f"The forward pass: $z^{{[l]}}$ and $a^{{[l]}}$ for l = {layers}.",
            f"The cost $C$ and $\\partial C_x / \\partial a^{{[{L}]}}$.",
            f"$D^{{[l]}} = \\operatorname{{diag}}(\\sigma'(z^{{[l]}}))$ and the errors "
            f"$\\delta^{{[l]}}$ for l = {down}, by backpropagation.",
            "The gradients $\\partial C / \\partial W^{[l]}$ and $\\partial C / \\partial b^{[l]}$ "
            f"for l = {down}.",
        ]
        if self.net.sizes[-1] == 1:
            items.append(
                f"The input gradient $\\nabla a^{{[{L}]}}(x)$ by the recursion "
                f"$\\Delta^{{[{L}]}} = 1$, "
                "$\\Delta^{[l-1]} = (W^{[l]})^T D^{[l]} \\Delta^{[l]}$."
            )
        items.append("The weights and biases after one step of gradient descent with rate η.")
        return [f"{i}. {text}" for i, text in enumerate(items, start=1)]

    def solution(self, digits: int = 6) -> str:
        """The worked solution (Markdown with LaTeX): every quantity with its formula."""
        return (
            f"# Solution of exercise {self.seed}\n\n"
            "Every quantity with the formula it comes from, in the order of the questions.\n\n"
            + self.trace.to_markdown(digits=digits)
        )

    def weights(self) -> dict:
        """W2, b2, W3, ... as lists: the ``--weights`` JSON file of ``mlplab trace``."""
        out = {}
        for i, (W, b) in enumerate(zip(self.net.weights, self.net.biases, strict=True)):
            out[f"W{i + 2}"], out[f"b{i + 2}"] = W.tolist(), b.tolist()
        return out


def _tenths(rng: np.random.Generator, low: int, high: int, shape) -> np.ndarray:
    """Numbers k/10 for whole k in [low, high], drawn uniformly."""
    return rng.integers(low, high + 1, size=shape) / 10.0


def make_exercise(
    sizes: Sequence[int],
    seed: int,
    activation: str = "sigmoid",
    output_activation: str | None = None,
    loss: str = "half_sse",
    lr: float = 0.5,
) -> Exercise:
    """A random network and point, with the trace of one gradient step as its solution.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_1, ..., n_L]``, each at most :data:`MAX_WIDTH`, L at most :data:`MAX_LAYERS`.
    seed : int
        The same seed gives the same exercise.
    activation : str, default "sigmoid"
        σ of the hidden layers.
    output_activation : str, optional
        σ of the output layer; by default
        :func:`~mlplab.trace.default_output_activation` (``activation`` where it is sigmoid or
        tanh, as in the paper; identity for ReLU-type and other activations, and for the losses
        on logits).
    loss : str, default "half_sse"
    lr : float, default 0.5

    Returns
    -------
    Exercise

    Raises
    ------
    MlplabError
        Where none of :data:`MAX_DRAWS` draws of the seed has a σ'(z) that is not all 0 in every
        layer and a gradient ∂C/∂W^[l] that is not all 0 for every l.
    """
    sizes = list(sizes)
    if len(sizes) > MAX_LAYERS or any(int(n) > MAX_WIDTH for n in sizes):
        raise ValueError(
            f"an exercise by hand takes at most {MAX_LAYERS} layers of at most {MAX_WIDTH} units; "
            f"got sizes {sizes}"
        )
    output = output_activation or default_output_activation(activation, loss)
    net = MLP(sizes, activation=activation, output_activation=output)
    loss = get_loss(loss)
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        net.set_params(_tenths(rng, -10, 10, net.num_parameters))
        x = _tenths(rng, -10, 10, net.sizes[0])
        if loss.integer_targets:
            y = np.asarray(rng.integers(0, net.sizes[-1]))
        else:
            y = _tenths(rng, 0, 10, net.sizes[-1])
        step = trace(net, x, np.atleast_1d(y), loss=loss, lr=lr)
        if _shows_backpropagation(step):
            return Exercise(net, x, y, step, int(seed))
    raise MlplabError(
        f"none of {MAX_DRAWS} draws of seed {seed} gives every layer of a "
        f"{'-'.join(map(str, sizes))} network ({activation}, output {output}) a σ'(z) and a "
        "gradient that are not all 0: choose another activation or other sizes"
    )


def _shows_backpropagation(step: Trace) -> bool:
    """Whether every layer l of the step has a unit with σ'(z^[l]) ≠ 0 and a gradient
    ∂C/∂W^[l] that is not all 0 (else its δ^[l], or its whole step, would be 0)."""
    return all(
        np.any(step[f"D^[{k}]"]) and np.any(step[f"∂C/∂W^[{k}]"])
        for k in range(2, len(step.sizes) + 1)
    )

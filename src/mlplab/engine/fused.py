"""Fused elementwise kernels for the dense stepper: one pass over memory, and no GIL.

NumPy spends a pass over memory (and a call) on every operation; the dense stepper's
elementwise work — adding the biases, scaling δ by σ'(z), summing δ over the batch — is short
enough that passes and calls, not arithmetic, decide its time. These Numba kernels do each in
one pass, in the same order of floating-point operations as the NumPy code they replace, so
the values are bit for bit those of :meth:`mlplab.MLP.forward` and :meth:`mlplab.MLP.backward`.
They release the GIL, so the threads of an ensemble's lanes run them side by side.

Arrays are C-contiguous, with the ensemble's model axis first (M = 1 for one network): a
batch quantity is ``(M, B, n)`` and a per-layer vector ``(M, n)``.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy", nogil=True)
def add_bias(z, b):
    """z[m, r, :] += b[m, :] for every row r. Shapes (M, B, n) and (M, n)."""
    for m in range(z.shape[0]):
        for r in range(z.shape[1]):
            for j in range(z.shape[2]):
                z[m, r, j] += b[m, j]


@njit(cache=True, error_model="numpy", nogil=True)
def affine_scalar_input(a, w, b, z):
    """z[m, r, j] = a[m, r] * w[m, j] + b[m, j]: a layer fed by one input unit (n_{l-1} = 1).

    Shapes: ``a`` (M, B), ``w`` and ``b`` (M, n), ``z`` (M, B, n).
    """
    for m in range(z.shape[0]):
        for r in range(z.shape[1]):
            x = a[m, r]
            for j in range(z.shape[2]):
                z[m, r, j] = x * w[m, j] + b[m, j]


@njit(cache=True, error_model="numpy", nogil=True)
def column_sums(d, out):
    """out[m, :] = Σ_r d[m, r, :] (rows added in order). Shapes (M, B, n) and (M, n)."""
    for m in range(d.shape[0]):
        for j in range(d.shape[2]):
            out[m, j] = d[m, 0, j]
        for r in range(1, d.shape[1]):
            for j in range(d.shape[2]):
                out[m, j] += d[m, r, j]


@njit(cache=True, error_model="numpy", nogil=True)
def times_dsigmoid(out, a, one):
    """out *= σ'(z) = (1 − a) a for the logistic sigmoid, from a = σ(z); flat arrays."""
    for k in range(out.shape[0]):
        out[k] *= (one - a[k]) * a[k]


@njit(cache=True, error_model="numpy", nogil=True)
def times_dtanh(out, a, one):
    """out *= σ'(z) = 1 − a² for tanh, from a = tanh(z); flat arrays."""
    for k in range(out.shape[0]):
        out[k] *= one - a[k] * a[k]

"""Transposing a small matrix in registers, for the transposed weights of the BLAS loop.

Batches split in halves read each layer's weights transposed (:mod:`mlplab.engine.blas_loop`),
and each thread writes them anew after every step. Element by element, one load and one store
each, a 64 × 64 matrix took 1.3–1.4 µs on an AVX2 processor (Zen 3): a thirtieth of a float32
``cos4`` step. :func:`transpose` moves square blocks of :data:`BLOCK_BYTES`-wide rows instead:
it loads a block's rows as vectors, transposes them with vector shuffles (:func:`_strip`,
written in LLVM's vector operations) and stores the block's columns as vectors.
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from mlplab.engine.gemm import _FLOATS, _arguments, _same_float_arrays

#: Bytes per row of a block: a block of float32 is 8 × 8, of float64 4 × 4.
BLOCK_BYTES = 32


def _swap_masks(n: int, s: int) -> tuple[list[int], list[int]]:
    """The shuffles that swap the off-diagonal s × s sub-blocks of rows i and i + s (i & s
    clear) of an n × n block held in two n-wide vectors: the first picks from row i where
    bit s of the position is clear and from row i + s (positions n on) where it is set; the
    second the other two sub-blocks."""
    low = [x if x & s == 0 else n + x - s for x in range(n)]
    high = [x + s if x & s == 0 else n + x for x in range(n)]
    return low, high


@intrinsic
def _strip(typingctx, W, w_off, w_stride, T, t_off, t_stride, count):
    """Transpose ``count`` n × n blocks one under the other (n: :data:`BLOCK_BYTES` over the
    item size), for two float arrays of one type: block b takes
    T[t_off + k t_stride + b n + j] = W[w_off + (b n + j) w_stride + k] for j, k < n.

    The transpose swaps each bit of the row index with that bit of the column index in turn;
    for bit s, rows i and i + s exchange their off-diagonal s × s sub-blocks
    (:func:`_swap_masks`), one shuffle per row: 3 × 8 shuffles for a float32 block. The
    blocks run in a loop of their own, on n row pointers, so that the loop keeps its
    addresses in registers.
    """
    if not _same_float_arrays(W, T):
        return None
    n = BLOCK_BYTES * 8 // W.dtype.bitwidth
    sig = types.void(W, w_off, w_stride, T, t_off, t_stride, count)

    def codegen(context, builder, signature, args):
        ft = _FLOATS[W.dtype]
        vt = ir.VectorType(ft, n)
        masks = ir.VectorType(ir.IntType(32), n)
        align = W.dtype.bitwidth // 8
        i64 = ir.IntType(64)
        integer, data = _arguments(context, builder, signature, args)

        def vector_at(k, offset):
            return builder.bitcast(builder.gep(data(k), [offset]), vt.as_pointer())

        wo, ws, to, ts, blocks = (integer(k) for k in (1, 2, 4, 5, 6))
        with cgutils.for_range(builder, blocks) as loop:
            step = builder.mul(loop.index, ir.Constant(i64, n))
            first = builder.add(wo, builder.mul(step, ws))
            rows = [
                builder.load(vector_at(0, builder.add(first, builder.mul(ws, ir.Constant(i64, j)))),
                             align=align)
                for j in range(n)
            ]  # fmt: skip
            s = n // 2
            while s >= 1:
                low, high = (ir.Constant(masks, m) for m in _swap_masks(n, s))
                for i in range(n):
                    if not i & s:
                        a, b = rows[i], rows[i + s]
                        rows[i] = builder.shuffle_vector(a, b, low)
                        rows[i + s] = builder.shuffle_vector(a, b, high)
                s //= 2
            top = builder.add(to, step)
            for k in range(n):
                target = vector_at(3, builder.add(top, builder.mul(ts, ir.Constant(i64, k))))
                builder.store(rows[k], target, align=align)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, error_model="numpy", nogil=True)
def transpose(W, w_off, rows, cols, T, t_off):
    """T[t_off + k rows + j] = W[w_off + j cols + k] for j < rows, k < cols: the (rows, cols)
    row-major matrix at ``w_off`` in ``W`` transposed into the (cols, rows) one at ``t_off`` in
    ``T``, 1-D float32 or float64 arrays of one type: whole blocks in registers
    (:func:`_strip`), the entries they leave over one by one. Nothing is checked: both must
    lie within their arrays."""
    n = BLOCK_BYTES // W.itemsize
    full_rows, full_cols = rows - rows % n, cols - cols % n
    for k in range(0, full_cols, n):  # T's rows in turn: a float64 64 × 64 pair exceeds L1
        _strip(W, w_off + k, cols, T, t_off + k * rows, rows, full_rows // n)
    for j in range(rows):
        for k in range(full_cols if j < full_rows else 0, cols):
            T[t_off + k * rows + j] = W[w_off + j * cols + k]

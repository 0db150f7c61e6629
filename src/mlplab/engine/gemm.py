"""Small matrix products in registers, for the BLAS loop's batches split in halves.

A 1-64-64-1 network's products are 64 × 64 × 64: too small for BLAS to pay back what it spends
around its arithmetic. OpenBLAS packs both operands into buffers of its own and clears the
result before every product; without the small-matrix kernels it has for AVX-512 processors,
that took a third of a float32 product's time on an AVX2 processor (Zen 3), where the products
are most of a ``cos4`` step. :func:`product` multiplies the operands where they lie: a tile
of :data:`ROWS` rows by two vectors of the result sits in registers while the inner dimension
runs, each step one vector load per vector of B, one broadcast per row of A and a fused
multiply-add per register, written in LLVM's vector operations (:func:`_tile`), so that it
compiles to the same instructions on every processor with the vector width of the host. A
64 × 64 × 64 float32 product took 5.5 µs against OpenBLAS's 8.5 µs there, and 128 × 64 × 64
11 µs against 15 µs.

The products are those of a layer's forward pass, backprop and weight gradient:

    C = bias + op(A) B,    op(A)[i, k] = A[a_off + i a_si + k a_sk],

with B's rows and C's rows contiguous (row strides ``b_sk`` and ``c_si``), so that
A @ Wᵀ (with the transposed weights), Δ @ W and Δᵀ @ A_prev are all of this form. Each entry
is summed over k in order, one fused multiply-add at a time.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array

#: Rows of the result per tile (with two vectors of columns: eight accumulator registers).
ROWS = 4
#: Vectors of columns per tile.
_VECTORS = 2
#: Vectors of columns per tile of the rows the tiles leave over, one row at a time: eight
#: accumulators, whose fused multiply-adds overlap (two made each tile wait on the latency of
#: its own; a 1 × 64 × 64 float32 weight gradient, a one-unit layer's, took 0.26 µs so).
_WIDE = 8


def _vector_bytes() -> int:
    """The width of the host's vector registers: 64 bytes with AVX-512, else 32."""
    return 64 if llvm.get_host_cpu_features().get("avx512f", False) else 32


#: Bytes per vector of a tile's row.
VECTOR_BYTES = _vector_bytes()
_FLOATS = {types.float32: ir.FloatType(), types.float64: ir.DoubleType()}


def _same_float_arrays(*arrays) -> bool:
    """Whether all are 1-D contiguous arrays of one float type (the tiles index their memory
    from the data pointer)."""
    first = arrays[0]
    return all(
        isinstance(a, types.Array)
        and a.ndim == 1
        and a.layout == "C"
        and a.dtype == first.dtype
        and a.dtype in _FLOATS
        for a in arrays
    )


def _arguments(context, builder, signature, args):
    """Readers of an intrinsic's arguments in its code generation: ``integer(k)``, argument k
    as an int64, and ``data(k)``, the data pointer of array argument k."""

    def integer(k):
        return context.cast(builder, args[k], signature.args[k], types.int64)

    def data(k):
        return make_array(signature.args[k])(context, builder, args[k]).data

    return integer, data


def _make_tile(rows: int, vectors: int):
    """The intrinsic for a tile of ``rows`` rows by ``vectors`` vectors (see :func:`_tile`)."""

    @intrinsic
    def tile(typingctx, A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, K, bias, b0, S,
             s_off, sums, g0):  # fmt: skip
        if not _same_float_arrays(A, B, C, bias, S, sums):
            return None
        lanes = VECTOR_BYTES * 8 // A.dtype.bitwidth
        ft = _FLOATS[A.dtype]
        sig = types.void(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, K, bias, b0, S,
                         s_off, sums, g0)  # fmt: skip

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            integer, data = _arguments(context, builder, signature, args)
            a_data, b_data, c_data, bias_data = data(0), data(4), data(7), data(11)
            s_data, sums_data = data(13), data(15)
            ao, asi, ask, bo, bsk, co, csi, kk, bias_at, so, go = (
                integer(k) for k in (1, 2, 3, 5, 6, 8, 9, 10, 12, 14, 16)
            )
            vt = ir.VectorType(ft, lanes)
            name = f"llvm.fma.v{lanes}f{A.dtype.bitwidth}"
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vt, [vt, vt, vt]), name
            )
            align = A.dtype.bitwidth // 8

            def vector_at(base, offset):
                pointer = builder.gep(base, [offset])
                return builder.bitcast(pointer, vt.as_pointer())

            def lanes_in(v):  # the offset of vector v in a row
                return ir.Constant(i64, v * lanes)

            def entry(base, start, i, v):  # vector v of row i of a tile laid out as C's
                offset = builder.mul(csi, ir.Constant(i64, i))
                return vector_at(base, builder.add(start, builder.add(offset, lanes_in(v))))

            # accumulators start from the biases (b0 < 0: from zero)
            zero = ir.Constant(vt, [ir.Constant(ft, 0.0)] * lanes)
            with_bias = builder.icmp_signed(">=", bias_at, ir.Constant(i64, 0))
            starts = []
            for v in range(vectors):
                offset = builder.add(bias_at, ir.Constant(i64, v * lanes))
                with builder.if_else(with_bias) as (then, otherwise):
                    with then:
                        loaded = builder.load(vector_at(bias_data, offset), align=align)
                        then_block = builder.block
                    with otherwise:
                        else_block = builder.block
                start = builder.phi(vt)
                start.add_incoming(loaded, then_block)
                start.add_incoming(zero, else_block)
                starts.append(start)
            acc = [[cgutils.alloca_once_value(builder, s) for s in starts] for _ in range(rows)]
            splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
            with cgutils.for_range(builder, kk) as loop:
                k = loop.index
                row = builder.add(bo, builder.mul(k, bsk))
                bvec = [
                    builder.load(vector_at(b_data, builder.add(row, lanes_in(v))), align=align)
                    for v in range(vectors)
                ]  # fmt: skip
                column = builder.add(ao, builder.mul(k, ask))
                for i in range(rows):
                    at = builder.add(column, builder.mul(asi, ir.Constant(i64, i)))
                    scalar = builder.load(builder.gep(a_data, [at]))
                    lane0 = builder.insert_element(
                        ir.Constant(vt, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0)
                    )
                    broadcast = builder.shuffle_vector(lane0, ir.Constant(vt, ir.Undefined), splat)
                    for v in range(vectors):
                        total = builder.call(fma, [broadcast, bvec[v], builder.load(acc[i][v])])
                        builder.store(total, acc[i][v])
            one = ir.Constant(vt, [ir.Constant(ft, 1.0)] * lanes)
            sloped = builder.icmp_signed(">=", so, ir.Constant(i64, 0))
            with builder.if_else(sloped) as (scaled, plain):
                with scaled:  # C ⊙ a (1 − a), and its columns' sums, row after row
                    for v in range(vectors):
                        column_sums = vector_at(sums_data, builder.add(go, lanes_in(v)))
                        total = builder.load(column_sums, align=align)
                        for i in range(rows):
                            a = builder.load(entry(s_data, so, i, v), align=align)
                            slope = builder.fmul(builder.fsub(one, a), a)
                            x = builder.fmul(builder.load(acc[i][v]), slope)
                            builder.store(x, entry(c_data, co, i, v), align=align)
                            total = builder.fadd(total, x)
                        builder.store(total, column_sums, align=align)
                with plain:
                    for i in range(rows):
                        for v in range(vectors):
                            value = builder.load(acc[i][v])
                            builder.store(value, entry(c_data, co, i, v), align=align)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile = _make_tile(ROWS, _VECTORS)
_tile_row = _make_tile(1, _VECTORS)
_tile_wide = _make_tile(1, _WIDE)


@intrinsic
def _fma(typingctx, a, b, c):
    """a b + c rounded once (LLVM's ``fma``), for three floats of one type: the tiles' sum on
    the entries they leave over, on every processor."""
    if a not in _FLOATS or not a == b == c:
        return None

    def codegen(context, builder, signature, args):
        ft = _FLOATS[a]
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ft, [ft, ft, ft]), f"llvm.fma.f{a.bitwidth}"
        )
        return builder.call(fn, args)

    return a(a, b, c), codegen


@njit(cache=True, error_model="numpy", nogil=True)
def _edge(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, i0, i1, j0, j1, K, bias, b0,
          S, s_off, sums, g0):  # fmt: skip
    """The entries [i0, i1) × [j0, j1) of :func:`_tiled`, one at a time (k in order)."""
    one = C.dtype.type(1.0)
    for i in range(i0, i1):
        for j in range(j0, j1):
            total = bias[b0 + j] if b0 >= 0 else bias.dtype.type(0.0)
            for k in range(K):
                total = _fma(A[a_off + i * a_si + k * a_sk], B[b_off + k * b_sk + j], total)
            if s_off >= 0:
                a = S[s_off + i * c_si + j]
                total = total * ((one - a) * a)
                sums[g0 + j] += total
            C[c_off + i * c_si + j] = total


@njit(cache=True, error_model="numpy", nogil=True)
def _tiled(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, M, N, K, bias, b0, S, s_off,
           sums, g0):  # fmt: skip
    """:func:`product`, or :func:`product_slope` where ``s_off >= 0``: the tiles over the
    result, then the entries they leave over, each entry's sum in order of k."""
    lanes = VECTOR_BYTES // A.itemsize
    columns, wide = _VECTORS * lanes, _WIDE * lanes
    full_rows = M - M % ROWS
    full_columns = N - N % columns
    for j in range(0, full_columns, columns):
        bj = b0 + j if b0 >= 0 else -1
        for i in range(0, full_rows, ROWS):
            _tile(A, a_off + i * a_si, a_si, a_sk, B, b_off + j, b_sk, C, c_off + i * c_si + j,
                  c_si, K, bias, bj, S, s_off + i * c_si + j if s_off >= 0 else -1, sums,
                  g0 + j)  # fmt: skip
    for i in range(full_rows, M):  # the rows left over: wide tiles, then narrow ones
        j = 0
        while j < full_columns:
            bj, ai, cij = b0 + j if b0 >= 0 else -1, a_off + i * a_si, c_off + i * c_si + j
            sij = s_off + i * c_si + j if s_off >= 0 else -1
            if j + wide <= full_columns:
                _tile_wide(A, ai, a_si, a_sk, B, b_off + j, b_sk, C, cij, c_si, K, bias, bj, S,
                           sij, sums, g0 + j)  # fmt: skip
                j += wide
            else:
                _tile_row(A, ai, a_si, a_sk, B, b_off + j, b_sk, C, cij, c_si, K, bias, bj, S,
                          sij, sums, g0 + j)  # fmt: skip
                j += columns
    if full_columns < N:
        _edge(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, 0, M, full_columns, N, K,
              bias, b0, S, s_off, sums, g0)  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def product(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, M, N, K, bias, b0):
    """C[i, j] = bias[b0 + j] + Σ_k op(A)[i, k] B[k, j] for i < M, j < N, in float32 or float64.

    Parameters
    ----------
    A, B, C : ndarray, 1-D, float32 or float64 (all of one type, with ``bias``)
        Flat buffers: op(A)[i, k] = A[a_off + i a_si + k a_sk], B[k, j] = B[b_off + k b_sk + j],
        C[i, j] = C[c_off + i c_si + j].
    a_off, a_si, a_sk : int
        Where op(A) starts in ``A``, and its strides between rows (i) and along k.
    b_off, b_sk : int
        Where B starts in ``B``, and its row stride; a row's entries are contiguous.
    c_off, c_si : int
        Where C starts in ``C``, and its row stride; a row's entries are contiguous.
    M, N, K : int
        The result's rows and columns, and the inner dimension.
    bias : ndarray, 1-D
        Added to every row of the result from ``bias[b0]`` on.
    b0 : int
        Where the biases start in ``bias``; ``b0 < 0`` adds nothing.

    Each entry's terms are added in order of k, one fused multiply-add at a time, starting
    from its bias (or zero). Nothing is checked: the offsets must lie within the buffers.
    """
    _tiled(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, M, N, K, bias, b0, bias, -1,
           bias, 0)  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def product_slope(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, M, N, K, S, s_off, sums,
                  g0):  # fmt: skip
    """C[i, j] = (Σ_k op(A)[i, k] B[k, j]) · (1 − a) a, a = S[s_off + i c_si + j], and
    sums[g0 + j] = Σ_i C[i, j]: backprop into a logistic sigmoid layer (a = σ(z), σ'(z) =
    (1 − a) a), its δ and its bias gradient in the products' own pass.

    The arguments up to ``K`` are those of :func:`product` (no biases); ``S`` is laid out as
    C, from ``s_off``, and ``sums`` (n,) receives the column sums from ``g0``. Each entry is
    summed in order of k and then scaled, as ``d * ((1 - a) * a)``; each column's sum adds its
    entries row after row from zero: the numbers of a product, then a pass of δ ⊙ σ' that adds
    each row into the bias gradient as it goes.
    """
    for j in range(N):
        sums[g0 + j] = 0.0
    _tiled(A, a_off, a_si, a_sk, B, b_off, b_sk, C, c_off, c_si, M, N, K, sums, -1, S, s_off,
           sums, g0)  # fmt: skip

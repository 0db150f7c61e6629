"""Views of flat buffers that the compiled loops take without a library call.

Numba's ``reshape`` calls a C helper to check that it can reshape without a copy: about 40 ns
a call. The BLAS loop takes some fifty views a step (each layer's block of the work buffers,
each weight matrix, each gradient block), which came to nearly a tenth of a float32 ``cos4``
step. The views here build the array directly from the buffer's pointer, shape and strides
(under a nanosecond) and share its memory, which they keep alive as a slice would.

They check nothing: the loops compute every offset and size from the network's layout, within
the buffer.
"""

from __future__ import annotations

from numba.core import cgutils, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _flat_buffer(arr: types.Type) -> bool:
    """Whether the Numba type ``arr`` is a C-contiguous 1-D array."""
    return isinstance(arr, types.Array) and arr.layout == "C" and arr.ndim == 1


def _borrow(context, builder, src, dst_type, data, shape, strides):
    """The array of ``dst_type`` over ``data`` with ``shape`` and ``strides`` (LLVM values),
    sharing the memory (and its owner) of the array ``src``."""
    dst = make_array(dst_type)(context, builder)
    populate_array(dst, data=data, shape=cgutils.pack_array(builder, shape),
                   strides=cgutils.pack_array(builder, strides), itemsize=src.itemsize,
                   meminfo=src.meminfo, parent=src.parent)  # fmt: skip
    return impl_ret_borrowed(context, builder, dst_type, dst._getvalue())


@intrinsic
def rows_view(typingctx, buf, offset, rows, n):
    """``buf[offset : offset + rows * n].reshape(rows, n)`` for a C-contiguous 1-D ``buf``:
    a C-contiguous ``(rows, n)`` view, unchecked (see the module)."""
    if not _flat_buffer(buf):
        return None
    view = buf.copy(ndim=2, layout="C")

    def codegen(context, builder, signature, args):
        src = make_array(signature.args[0])(context, builder, args[0])
        kinds = signature.args[1:]
        start, r, c = (
            context.cast(builder, value, kind, types.intp)
            for value, kind in zip(args[1:], kinds, strict=True)
        )
        data = builder.gep(src.data, [start])
        return _borrow(context, builder, src, signature.return_type, data, [r, c],
                       [builder.mul(c, src.itemsize), src.itemsize])  # fmt: skip

    return view(buf, offset, rows, n), codegen

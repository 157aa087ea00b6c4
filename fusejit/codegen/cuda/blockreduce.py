"""Reduction algebra shared by the row, column and tree kernels: identities, combine steps, and the
block-wide reduction (warp shuffles, then one shared-memory slot per warp, then shuffles again).

The block reduction is executed by every thread of the block (no divergent ``if warp == 0``), so
the same code also runs in numba-cuda's simulator, which has no warp shuffles: there
``shfl_down``/``shfl_idx`` are emulated through shared memory and ``syncthreads`` (see
``SIM_SHUFFLES``); on a GPU they are ``shfl_down_sync``/``shfl_sync``.
"""

from __future__ import annotations

import numpy as np

from ...ir import Node
from . import ops
from .emit import Block, acc_dtype
from .ops import CudaLoweringError

KINDS = {"reduce_sum": "sum", "reduce_prod": "prod", "reduce_max": "max", "reduce_min": "min"}

GPU_SHUFFLES = '''
def shfl_down(v, off):
    return cuda.shfl_down_sync(0xFFFFFFFF, v, off)

def shfl_idx(v, src):
    return cuda.shfl_sync(0xFFFFFFFF, v, src)
'''

SIM_SHUFFLES = '''
def shfl_down(v, off):
    buf = cuda.shared.array(1024, np.object_)
    t = cuda.threadIdx.x + cuda.threadIdx.y * cuda.blockDim.x
    cuda.syncthreads()
    buf[t] = v
    cuda.syncthreads()
    r = buf[t + off] if t % 32 + off < 32 else v
    cuda.syncthreads()
    return r

def shfl_idx(v, src):
    buf = cuda.shared.array(1024, np.object_)
    t = cuda.threadIdx.x + cuda.threadIdx.y * cuda.blockDim.x
    cuda.syncthreads()
    buf[t] = v
    cuda.syncthreads()
    r = buf[t - t % 32 + src]
    cuda.syncthreads()
    return r
'''


def kind_of(node: Node) -> str:
    if node.op not in KINDS:
        raise CudaLoweringError(f"GPU backend: {node.op} is not implemented")
    kind = KINDS[node.op]
    if node.dtype.kind == "b":  # on bool, sum is any() and prod is all()
        kind = {"sum": "max", "prod": "min"}.get(kind, kind)
    return kind


def identity(node: Node) -> str:
    dt, acc = node.dtype, acc_dtype(node.dtype)
    kind = kind_of(node)
    if kind in ("sum", "prod"):
        return ops.literal(0 if kind == "sum" else 1, acc)
    if dt.kind == "b":
        return ops.literal(0 if kind == "max" else 1, acc)
    if dt.kind == "f":
        return ops.literal(-np.inf if kind == "max" else np.inf, acc)
    info = np.iinfo(dt)
    return ops.literal(info.min if kind == "max" else info.max, acc)


def to_acc(node: Node, x: str) -> str:
    acc = acc_dtype(node.dtype)
    if node.dtype.kind == "b":
        return f"({ops.literal(1, acc)} if {x} else {ops.literal(0, acc)})"
    return ops.cast(x, acc)


def combine(node: Node, a: str, x: str) -> str:
    """``a (op) x`` in the accumulator dtype; max/min propagate NaN like NumPy."""
    acc = acc_dtype(node.dtype)
    kind = kind_of(node)
    if kind == "sum":
        return ops.cast(f"{a} + {x}", acc)
    if kind == "prod":
        return ops.cast(f"{a} * {x}", acc)
    cmp = ">" if kind == "max" else "<"
    nan = f" or {x} != {x}" if acc.kind == "f" else ""
    return f"({x} if ({x} {cmp} {a}{nan}) else {a})"


def from_acc(node: Node, a: str) -> str:
    acc = acc_dtype(node.dtype)
    if node.dtype.kind == "b":
        return f"({a} != {ops.literal(0, acc)})"
    return ops.cast(a, node.dtype)


def block_reduce(block: Block, node: Node, acc: str, shared: str, warp_size: int) -> None:
    """Reduce ``acc`` over the block; afterwards every thread holds the total in ``acc``.

    Needs ``lane``, ``warp`` and ``nwarps`` defined and a shared array ``shared`` of ``warp_size``
    accumulators; ends with a barrier so the shared slots can be reused at once.
    """
    offsets = []
    off = warp_size // 2
    while off:
        offsets.append(off)
        off //= 2
    for off in offsets:
        block.add(f"{acc}_s = shfl_down({acc}, {off})", f"{acc} = {combine(node, acc, acc + '_s')}")
    block.add("if lane == 0:", f"    {shared}[warp] = {acc}", "cuda.syncthreads()",
              f"{acc} = {shared}[lane] if lane < nwarps else {identity(node)}")
    for off in offsets:
        block.add(f"{acc}_s = shfl_down({acc}, {off})", f"{acc} = {combine(node, acc, acc + '_s')}")
    block.add(f"{acc} = shfl_idx({acc}, 0)", "cuda.syncthreads()")

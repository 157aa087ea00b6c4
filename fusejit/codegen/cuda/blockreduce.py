"""Reduction algebra shared by the row, column and tree kernels: identities, combine steps, and the
block-wide reduction (warp shuffles, then one shared-memory slot per warp, then shuffles again).

The block reduction is executed by every thread of the block (no divergent ``if warp == 0``):
full-mask shuffles need every lane, and the same source then runs in numba-cuda's simulator,
whose missing shuffles ``simwarp`` supplies.
"""

from __future__ import annotations

import numpy as np

from ...ir import Node
from . import ops
from .emit import Block, acc_dtype
from .ops import CudaLoweringError

KINDS = {"reduce_sum": "sum", "reduce_prod": "prod", "reduce_max": "max", "reduce_min": "min"}

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
    warp_tree = [line for off in offsets for line in (
        f"{acc}_s = cuda.shfl_down_sync(0xFFFFFFFF, {acc}, {off})", f"{acc} = {combine(node, acc, acc + '_s')}")]
    block.add(*warp_tree)
    block.add("if lane == 0:", f"    {shared}[warp] = {acc}", "cuda.syncthreads()",
              f"{acc} = {shared}[lane] if lane < nwarps else {identity(node)}")
    block.add(*warp_tree)
    block.add(f"{acc} = cuda.shfl_sync(0xFFFFFFFF, {acc}, 0)", "cuda.syncthreads()")

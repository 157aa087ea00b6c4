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

KINDS = {"reduce_sum": "sum", "reduce_prod": "prod", "reduce_max": "max", "reduce_min": "min",
         "argmax": "max", "argmin": "min"}

def kind_of(node: Node) -> str:
    if node.op not in KINDS:
        raise CudaLoweringError(f"GPU backend: {node.op} is not implemented")
    kind = KINDS[node.op]
    if node.dtype.kind == "b":  # on bool, sum is any() and prod is all()
        kind = {"sum": "max", "prod": "min"}.get(kind, kind)
    return kind


def is_arg(node: Node) -> bool:
    return node.op in ("argmax", "argmin")


def value_dtype(node: Node) -> np.dtype:
    """The dtype compared or accumulated: the operand's for argmax/argmin, else the result's."""
    return node.args[0].dtype if is_arg(node) else node.dtype


def identity(node: Node) -> str:
    dt = value_dtype(node)
    acc = acc_dtype(dt)
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
    dt = value_dtype(node)
    acc = acc_dtype(dt)
    if dt.kind == "b":
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


def _arg_takes(node: Node, v: str, i: str, w: str, j: str) -> str:
    """Whether candidate (w at index j) beats (v at index i): more extreme, or NaN (NumPy counts the
    first NaN as the extreme), or equal and earlier."""
    cmp = ">" if node.op == "argmax" else "<"
    if acc_dtype(value_dtype(node)).kind != "f":
        return f"({w} {cmp} {v} or ({w} == {v} and {j} < {i}))"
    return (f"({w} {cmp} {v} or ({w} != {w} and {v} == {v}) or "
            f"({j} < {i} and ({w} == {v} or ({w} != {w} and {v} != {v}))))")


NO_INDEX = "t_i64(9223372036854775807)"


def init(node: Node, acc: str) -> list[str]:
    """Statements starting an accumulator (a value, and an index for argmax/argmin)."""
    return [f"{acc} = {identity(node)}"] + ([f"{acc}_i = {NO_INDEX}"] if is_arg(node) else [])


def update(node: Node, acc: str, x: str, pos: str) -> list[str]:
    """Statements folding element ``x`` at position ``pos`` (along the reduced axis) into ``acc``."""
    if not is_arg(node):
        return [f"{acc} = {combine(node, acc, to_acc(node, x))}"]
    return [f"{acc}_w = {to_acc(node, x)}", f"if {_arg_takes(node, acc, acc + '_i', acc + '_w', pos)}:",
            f"    {acc} = {acc}_w", f"    {acc}_i = {pos}"]


def result(node: Node, acc: str) -> str:
    if is_arg(node):
        return f"{acc}_i"
    return from_acc(node, acc)


def shared_decls(node: Node, acc: str, warp_size: int) -> list[str]:
    lines = [f"{acc}_sh = cuda.shared.array({warp_size}, {ops.tname(acc_dtype(value_dtype(node)))})"]
    return lines + ([f"{acc}_shi = cuda.shared.array({warp_size}, t_i64)"] if is_arg(node) else [])


def from_acc(node: Node, a: str) -> str:
    acc = acc_dtype(node.dtype)
    if node.dtype.kind == "b":
        return f"({a} != {ops.literal(0, acc)})"
    return ops.cast(a, node.dtype)


def block_reduce(block: Block, node: Node, acc: str, warp_size: int) -> None:
    """Reduce ``acc`` over the block; afterwards every thread holds the total in ``acc``.

    Needs ``lane``, ``warp`` and ``nwarps`` defined and the shared arrays of ``shared_decls``;
    ends with a barrier so the shared slots can be reused at once.
    """
    offsets = []
    off = warp_size // 2
    while off:
        offsets.append(off)
        off //= 2
    arg = is_arg(node)
    names = [acc, acc + "_i"] if arg else [acc]
    warp_tree = []
    for off in offsets:
        warp_tree += [f"{n}_s = cuda.shfl_down_sync(0xFFFFFFFF, {n}, {off})" for n in names]
        if arg:
            warp_tree += [f"if {_arg_takes(node, acc, acc + '_i', acc + '_s', acc + '_i_s')}:",
                          f"    {acc} = {acc}_s", f"    {acc}_i = {acc}_i_s"]
        else:
            warp_tree.append(f"{acc} = {combine(node, acc, acc + '_s')}")
    block.add(*warp_tree)
    block.add("if lane == 0:", f"    {acc}_sh[warp] = {acc}", *([f"    {acc}_shi[warp] = {acc}_i"] if arg else []),
              "cuda.syncthreads()", f"{acc} = {acc}_sh[lane] if lane < nwarps else {identity(node)}",
              *([f"{acc}_i = {acc}_shi[lane] if lane < nwarps else {NO_INDEX}"] if arg else []))
    block.add(*warp_tree)
    block.add(*(f"{n} = cuda.shfl_sync(0xFFFFFFFF, {n}, 0)" for n in names), "cuda.syncthreads()")

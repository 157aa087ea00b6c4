"""Accumulators for reductions: identity, combine step, and NumPy-like accuracy.

Floating-point sums and products are accumulated *pairwise* like NumPy's: the reduced row
is cut into blocks of ``BLOCK`` elements; each block is one loop whose accumulator ``fadd``
alone carries the ``reassoc`` flag, so LLVM vectorizes it into interleaved vector
accumulators (a fixed order for a given build, so results never depend on threads), and
block results are merged by a binary carry stack (exactly pairwise for 2^k blocks). The
rest of the expression keeps strict IEEE semantics. max/min propagate NaN
(``llvm.maximum``/``llvm.minimum``); argmax/argmin keep the first extreme, NaN first.
float16 accumulates in float32 and rounds once, like NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir import Node
from .elementwise import _intrinsic
from .types import F32, I1, I64, reg_type

BLOCK = 1024
PAIRWISE = ("reduce_sum", "reduce_prod")


@dataclass
class Acc:
    node: Node

    @property
    def op(self) -> str:
        return self.node.op

    @property
    def src(self) -> np.dtype:
        return self.node.args[0].dtype

    @property
    def ty(self) -> ir.Type:
        if self.src.kind == "f" and self.src.itemsize == 2:
            return F32
        return reg_type(self.src)

    @property
    def is_arg(self) -> bool:
        return self.op in ("argmax", "argmin")

    @property
    def pairwise(self) -> bool:
        return self.op in PAIRWISE and self.src.kind == "f"

    def identity(self) -> ir.Constant:
        ty, dt, op = self.ty, self.src, self.op
        if op == "reduce_sum":
            return ir.Constant(ty, 0.0 if dt.kind == "f" else 0)
        if op == "reduce_prod":
            return ir.Constant(ty, 1.0 if dt.kind == "f" else 1)
        big = op in ("reduce_min", "argmin")
        if dt.kind == "f":
            return ir.Constant(ty, float("inf") if big else float("-inf"))
        if dt.kind == "b":
            return ir.Constant(I1, int(big))
        bits = ty.width
        if dt.kind == "u":
            return ir.Constant(ty, (1 << bits) - 1 if big else 0)
        return ir.Constant(ty, (1 << (bits - 1)) - 1 if big else -(1 << (bits - 1)))

    def widen(self, b: ir.IRBuilder, x: ir.Value) -> ir.Value:
        return b.fpext(x, F32) if self.ty == F32 and self.src.itemsize == 2 else x

    def combine(self, b: ir.IRBuilder, acc: ir.Value, x: ir.Value, in_block: bool = False) -> ir.Value:
        """``acc (op) x``; ``in_block`` marks the vectorizable per-block accumulation."""
        dt, op = self.src, self.op
        if dt.kind == "b":
            return b.or_(acc, x) if op in ("reduce_sum", "reduce_max") else b.and_(acc, x)
        if dt.kind == "f":
            if op == "reduce_sum":
                return _flagged(b.fadd(acc, x), in_block)
            if op == "reduce_prod":
                return _flagged(b.fmul(acc, x), in_block)
            return _intrinsic(b, "maximum" if op == "reduce_max" else "minimum", [acc, x])
        if op == "reduce_sum":
            return b.add(acc, x)
        if op == "reduce_prod":
            return b.mul(acc, x)
        name = ("s" if dt.kind == "i" else "u") + ("max" if op == "reduce_max" else "min")
        return _intrinsic(b, name, [acc, x])

    def better(self, b: ir.IRBuilder, x: ir.Value, best: ir.Value) -> ir.Value:
        """argmax/argmin: does ``x`` replace ``best``? (strictly better, or the first NaN)."""
        gt = self.op == "argmax"
        if self.src.kind == "f":
            cmp = b.fcmp_ordered(">" if gt else "<", x, best)
            first_nan = b.and_(b.fcmp_unordered("uno", x, x), b.fcmp_ordered("ord", best, best))
            return b.or_(cmp, first_nan)
        if self.src.kind == "b":
            return b.and_(x, b.not_(best)) if gt else b.and_(best, b.not_(x))
        cmp = b.icmp_signed if self.src.kind == "i" else b.icmp_unsigned
        return cmp(">" if gt else "<", x, best)

    def finish(self, b: ir.IRBuilder, acc: ir.Value) -> ir.Value:
        if self.ty == F32 and self.src.itemsize == 2:
            return b.fptrunc(acc, reg_type(self.node.dtype))
        return acc


def _flagged(inst: ir.Instruction, in_block: bool) -> ir.Instruction:
    if in_block:
        inst.flags.append("reassoc")
    return inst


__all__ = ["Acc", "BLOCK", "I64"]

"""The ``philox`` primitive as LLVM IR: Philox-4x32-10 rounds on the flat index of one point.

Each point computes its own block (see :mod:`fusejit.ir.philox` for the counter layout), so the
loop vectorizer widens the rounds like any other elementwise code (32x32->64 multiplies become
``vpmuludq``) and the bits do not depend on the loop version, the vector width or the thread.
"""

from __future__ import annotations

from llvmlite import ir

from ...ir.philox import MUL, ROUNDS, WEYL
from .types import I64

I32 = ir.IntType(32)


def _c32(v: int) -> ir.Constant:
    return ir.Constant(I32, v)


def _mul_hilo(b: ir.IRBuilder, m: int, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    p = b.mul(ir.Constant(I64, m), b.zext(x, I64))
    return b.trunc(b.lshr(p, ir.Constant(I64, 32)), I32), b.trunc(p, I32)


def emit_philox(b: ir.IRBuilder, state: list[ir.Value], stream: int, index: ir.Value, word: int,
                wide: bool) -> ir.Value:
    """Word ``word`` (``i32``) or word pair ``word`` (``i64``: ``w[2j] | w[2j+1] << 32``) of the
    block at flat ``index`` (``i64``) for the four ``i32`` state words."""
    s0, s1, s2, s3 = state
    hi_lo = b.or_(b.shl(b.zext(s3, I64), ir.Constant(I64, 32)), b.zext(s2, I64))
    if stream:
        hi_lo = b.add(hi_lo, ir.Constant(I64, stream))
    c = [b.trunc(index, I32), b.trunc(b.lshr(index, ir.Constant(I64, 32)), I32),
         b.trunc(hi_lo, I32), b.trunc(b.lshr(hi_lo, ir.Constant(I64, 32)), I32)]
    k0, k1 = s0, s1
    for r in range(ROUNDS):
        if r:
            k0, k1 = b.add(k0, _c32(WEYL[0])), b.add(k1, _c32(WEYL[1]))
        hi0, lo0 = _mul_hilo(b, MUL[0], c[0])
        hi1, lo1 = _mul_hilo(b, MUL[1], c[2])
        c = [b.xor(b.xor(hi1, c[1]), k0), lo1, b.xor(b.xor(hi0, c[3]), k1), lo0]
    if not wide:
        return c[word]
    lo, hi = c[2 * word], c[2 * word + 1]
    return b.or_(b.zext(lo, I64), b.shl(b.zext(hi, I64), ir.Constant(I64, 32)))

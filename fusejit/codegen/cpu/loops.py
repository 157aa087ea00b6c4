"""Counted loops for llvmlite builders: ``for i in range(lo, hi)`` with a phi induction variable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llvmlite import ir

from .types import I64


@contextmanager
def for_range(b: ir.IRBuilder, lo: ir.Value, hi: ir.Value, name: str = "i",
              unroll: bool = True) -> Iterator[ir.Value]:
    """Emit a loop; the body is whatever is emitted inside the ``with``. Zero trips if lo >= hi.
    ``unroll=False`` tells LLVM not to unroll it (less code to compile for a large body)."""
    pre = b.block
    head = b.append_basic_block(f"{name}.head")
    body = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(lo, pre)
    b.cbranch(b.icmp_signed("<", i, hi), body, done)
    b.position_at_end(body)
    yield i
    nxt = b.add(i, ir.Constant(I64, 1), name=f"{name}.next", flags=["nsw"])
    i.add_incoming(nxt, b.block)
    back = b.branch(head)
    if not unroll:
        back.set_metadata("llvm.loop", _no_unroll(b.module))
    b.position_at_end(done)


def _no_unroll(module: ir.Module) -> ir.MDValue:
    """A loop ID ``!N = !{!N, !{"llvm.loop.unroll.disable"}}`` (LLVM wants it to name itself)."""
    opt = module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")])
    loop = module.add_metadata([opt, ir.MetaDataString(module, f"fusejit.loop.{len(module.metadata)}")])
    loop.operands = (loop, opt)
    return loop


@contextmanager
def if_then(b: ir.IRBuilder, cond: ir.Value) -> Iterator[None]:
    with b.if_then(cond):
        yield


def delinearize(b: ir.IRBuilder, flat: ir.Value, dims: list[ir.Value]) -> list[ir.Value]:
    """Row-major multi-index of ``flat`` in a box of ``dims``."""
    out: list[ir.Value] = []
    for d in reversed(dims[1:]):
        out.append(b.urem(flat, d))
        flat = b.udiv(flat, d)
    out.append(flat)
    return out[::-1] if dims else []


def product(b: ir.IRBuilder, dims: list[ir.Value]) -> ir.Value:
    p: ir.Value = ir.Constant(I64, 1)
    for d in dims:
        p = b.mul(p, d) if not (isinstance(p, ir.Constant) and p.constant == 1) else d
    return p

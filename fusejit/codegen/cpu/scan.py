"""``cumsum`` / ``cumprod`` kernels: a running total along one axis, in NumPy's order.

NumPy's ``add.accumulate`` computes ``out[i] = out[i-1] op x[i]`` one element after the other in
the result dtype (float16: each step in float32, rounded to half), so a float scan is a fixed
sequence of roundings; this kernel performs exactly that sequence and its results are bitwise
NumPy's. Along the last axis the running value stays in a register. Along any other axis the scan
advances whole inner blocks at a time, ``out[.., i, :] = out[.., i-1, :] op x[.., i, :]``, whose
innermost loop is independent per element (LLVM vectorizes it) without changing any element's
order of operations. The operand may have any strides (a graph input's runtime strides, a C-order
scratch buffer, a constant); the output is a C-order buffer of the kernel's own. One thread.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...ir import Node
from ...passes.fusion import Kernel
from . import abi
from .exprs import FnEnv
from .loops import for_range
from .types import I32, I64, PTR, i64, mem_type


def emit_scan(module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, name: str,
              constant: Callable[[Node], ir.Value]) -> ir.Function:
    """``i32 name(ptr args)`` computing ``kernel.anchor`` (a cumsum/cumprod) into its buffer."""
    node = kernel.anchor
    assert node is not None and node.op in ("cumsum", "cumprod")
    x, axis = node.args[0], node.attrs["axis"]
    fn = ir.Function(module, ir.FunctionType(I32, [PTR]), name)
    fn.linkage = "internal"
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(fn.append_basic_block("body"))
    args = fn.args[0]

    def pointer(n: Node) -> ir.Value:
        if n.op == "constant":
            return constant(n)
        return b.load(b.gep(args, [i64(layout.word[id(n)])], source_etype=I64), typ=PTR)

    px, po = pointer(x), pointer(node)
    env = FnEnv(b, entry, args, layout, {id(x): px, id(node): po}, contiguous=False)
    dims, xs, os_ = env.dims(node.shape), env.strides(x), env.strides(node)
    ty = mem_type(node.dtype)
    is_f = node.dtype.kind == "f"
    combine = (b.fadd if is_f else b.add) if node.op == "cumsum" else (b.fmul if is_f else b.mul)
    acc = ir.IRBuilder(entry).alloca(ty, name="acc")  # promoted to a register by LLVM

    def at(p: ir.Value, off: ir.Value) -> ir.Value:
        return b.gep(p, [off], source_etype=ty)

    def load(p: ir.Value, off: ir.Value) -> ir.Value:
        return b.load(at(p, off), typ=ty)

    def nest(lo: int, hi: int, xoff: ir.Value, ooff: ir.Value, body: Callable[[ir.Value, ir.Value], None]) -> None:
        """Loops over dims ``lo..hi-1`` (row-major), calling ``body`` with the element offsets."""
        if lo == hi:
            body(xoff, ooff)
            return
        with for_range(b, i64(0), dims[lo], f"d{lo}") as i:
            nest(lo + 1, hi, b.add(xoff, b.mul(i, xs[lo])), b.add(ooff, b.mul(i, os_[lo])), body)

    n, xa, oa = dims[axis], xs[axis], os_[axis]
    last = axis == node.ndim - 1

    def line(xo: ir.Value, oo: ir.Value) -> None:
        with b.if_then(b.icmp_signed(">", n, i64(0))):
            if last:  # running value in a register
                first = load(px, xo)
                b.store(first, at(po, oo))
                b.store(first, acc)
                with for_range(b, i64(1), n, "s") as i:
                    v = combine(b.load(acc, typ=ty), load(px, b.add(xo, b.mul(i, xa))))
                    b.store(v, at(po, b.add(oo, b.mul(i, oa))))
                    b.store(v, acc)
                return
            nest(axis + 1, node.ndim, xo, oo, lambda xi, oi: b.store(load(px, xi), at(po, oi)))
            with for_range(b, i64(1), n, "s") as i:
                xi0, oi0 = b.add(xo, b.mul(i, xa)), b.add(oo, b.mul(i, oa))

                def step(xi: ir.Value, oi: ir.Value) -> None:
                    b.store(combine(load(po, b.sub(oi, oa)), load(px, xi)), at(po, oi))

                nest(axis + 1, node.ndim, xi0, oi0, step)

    nest(0, axis, i64(0), i64(0), line)
    b.ret(ir.Constant(I32, 0))
    ir.IRBuilder(entry).branch(b.function.blocks[1])
    return fn

"""``scatter_add`` kernels: zero the output, then add every update at its index, in order.

``out[o, idx[j], i] += upd[o, j, i]`` for the outer indices ``o`` (dims before ``axis``), every
index position ``j`` (the index array's dims, in row-major order) and the inner indices ``i``.
Repeated indices accumulate in that order, as ``np.add.at`` does, so results are NumPy's bit
for bit. Negative indices wrap once; an index out of range sets the error flag (IndexError) and
is skipped. The operands may have any strides; the output is the kernel's own C-order buffer.
It runs on one thread: two threads could add into the same element.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...ir import Node
from ...passes.fusion import Kernel
from . import abi
from .exprs import FnEnv
from .loops import for_range
from .types import I64, PTR, i64, mem_type

ERR_SCATTER_OOB = abi.ERR_TAKE_OOB  # same condition as the gather it transposes: same IndexError


def emit_scatter(module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, name: str,
                 constant: Callable[[Node], ir.Value]) -> ir.Function:
    """``i32 name(ptr args)``: the ``scatter_add`` anchor of ``kernel`` into its buffer; returns
    0 or an error code."""
    node = kernel.anchor
    assert node is not None and node.op == "scatter_add"
    upd, idx = node.args
    axis, q = node.attrs["axis"], idx.ndim
    fn = ir.Function(module, ir.FunctionType(ir.IntType(32), [PTR]), name)
    fn.linkage = "internal"
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(fn.append_basic_block("body"))
    args = fn.args[0]

    def pointer(n: Node) -> ir.Value:
        if n.op == "constant":
            return constant(n)
        return b.load(b.gep(args, [i64(layout.word[id(n)])], source_etype=I64), typ=PTR)

    pu, pi, po = pointer(upd), pointer(idx), pointer(node)
    env = FnEnv(b, entry, args, layout, {id(upd): pu, id(idx): pi, id(node): po}, contiguous=False)
    us, is_, os_ = env.strides(upd), env.strides(idx), env.strides(node)
    udims, odims = env.dims(upd.shape), env.dims(node.shape)
    ty, ity = mem_type(node.dtype), mem_type(idx.dtype)
    size = env.dim(node.attrs["size"])
    zero = ir.Constant(ty, 0.0 if node.dtype.kind == "f" else 0)

    def nest(dims: list[ir.Value], strides: list[list[ir.Value]], offs: list[ir.Value],
             body: Callable[[list[ir.Value]], None], tag: str) -> None:
        """Row-major loops over ``dims``; ``body`` gets one running offset per stride list."""
        if not dims:
            body(offs)
            return
        with for_range(b, i64(0), dims[0], f"{tag}{len(dims)}") as i:
            nest(dims[1:], [s[1:] for s in strides], [b.add(o, b.mul(i, s[0])) for o, s in zip(offs, strides)],
                 body, tag)

    nest(odims, [os_], [i64(0)], lambda o: b.store(zero, b.gep(po, [o[0]], source_etype=ty)), "z")

    def per_index(offs: list[ir.Value]) -> None:
        uo, io, oo = offs
        raw = b.load(b.gep(pi, [io], source_etype=ity), typ=ity)
        signed = idx.dtype.kind == "i"
        k = raw if ity.width == 64 else (b.sext(raw, I64) if signed else b.zext(raw, I64))
        if signed:
            k = b.select(b.icmp_signed("<", k, i64(0)), b.add(k, size), k)
        bad = b.or_(b.icmp_signed("<", k, i64(0)), b.icmp_signed(">=", k, size))
        env.raise_if(bad, ERR_SCATTER_OOB)
        with b.if_then(b.not_(bad)):
            base = b.add(oo, b.mul(k, os_[axis]))

            def add(inner: list[ir.Value]) -> None:
                dst = b.gep(po, [inner[1]], source_etype=ty)
                v = b.load(b.gep(pu, [inner[0]], source_etype=ty), typ=ty)
                old = b.load(dst, typ=ty)
                b.store(b.fadd(old, v) if node.dtype.kind == "f" else b.add(old, v), dst)

            rest = axis + q
            nest(udims[rest:], [us[rest:], os_[axis + 1:]], [uo, base], add, "r")

    def outer(offs: list[ir.Value]) -> None:
        nest(udims[axis:axis + q], [us[axis:axis + q], is_, [i64(0)] * q], offs, per_index, "j")

    nest(udims[:axis], [us[:axis], [i64(0)] * axis, os_[:axis]], [i64(0)] * 3, outer, "o")
    b.ret(env.error_code())
    ir.IRBuilder(entry).branch(fn.blocks[1])
    return fn

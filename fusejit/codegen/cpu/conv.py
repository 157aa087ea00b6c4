"""``conv2d`` as a direct convolution: a register-blocked micro-kernel in LLVM IR, no im2col.

The kernel reads the NHWC input and the HWIO filter where they are (``O`` innermost: a filter
tap's row for one input channel is a run of contiguous output channels, the vector operand).
For each output row ``(n, oh)``, group and block of ``cb`` channel vectors, it walks the row's
columns ``rb`` at a time and keeps an ``rb x cb`` tile of accumulators in vector registers:

    for kh, kw, ci:  wv[c] = W[kh, kw, ci, j0 + c*VW : ...]          (cb vector loads)
                     acc[r][c] += broadcast(X[n, oh*sh + kh*dh, (ow0 + r)*sw + kw*dw, ci]) * wv[c]

so each loaded element feeds ``rb`` or ``cb`` fused multiply-adds (the "high-performance
zero-memory-overhead direct convolution" blocking; ``rb x cb`` fills the register file:
6 x 4 zmm vectors with AVX-512, 6 x 2 ymm with AVX2, chosen from the CPU's features at
compile time). The last channel block uses a shorter vector type (LLVM splits it; no reads
past the filter), the last column block a smaller ``rb``. Rows are split over the thread pool;
every output element is computed by one thread in one order, so results do not depend on the
thread count.

Before planning, :func:`prepare_conv_operands` rewrites each ``conv2d`` so the kernel sees a
zero-padded, C-contiguous input (padding becomes a fused loop kernel of concatenated zeros,
~1% of the convolution's time at 3x3 64->64 56x56) and a C-contiguous filter; the kernel
itself then only handles ``VALID`` windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir import Graph, Node, constant, make
from ...ir.graph import rebuild
from ...passes.fusion import Kernel
from . import abi, threadpool
from .loops import for_range
from .types import F32, F64, I32, I64, PTR, i64

CONV_OPS = ("conv2d_blocked",)
PARALLEL_FLOPS = 1 << 21  # below this a convolution runs on the calling thread
_LANES = {"avx512": 64, "avx2": 32, "none": 16}  # vector bytes per ISA
_REGS = {"avx512": 32, "avx2": 16, "none": 16}


@dataclass(frozen=True)
class Blocking:
    """Register tile of the micro-kernel: ``rb`` output columns x ``cb`` vectors of ``vw`` channels."""

    vw: int
    cb: int
    rb: int


def tile_columns(isa: str, cb: int, ow: int) -> int:
    """Output columns per tile: as many as the registers hold next to ``cb`` filter vectors, then
    evened out over the row (14 columns: 2 tiles of 7, not 6 + 6 + 2)."""
    most = max(1, min(ow, (_REGS[isa] - cb - 1) // cb, 14))
    tiles = -(-ow // most)
    return -(-ow // tiles)


def blocking(isa: str, itemsize: int, og: int, ow: int) -> Blocking:
    """The tile for a group of ``og`` output channels and rows of ``ow`` columns: ``cb`` vectors
    of channels (4 zmm with AVX-512, 2 ymm with AVX2) by :func:`tile_columns` columns."""
    vw = _LANES[isa] // itemsize
    cb = max(1, min(math.ceil(og / vw), 4 if _REGS[isa] == 32 else 2))
    return Blocking(vw, cb, tile_columns(isa, cb, ow))


def _zeros(dtype: np.dtype, shape: tuple) -> Node:
    return make("broadcast", constant(np.zeros((), dtype)), shape=list(shape))


def _pad(x: Node, axis: int, lo: int, hi: int) -> Node:
    """``x`` with ``lo`` zeros before and ``hi`` after along ``axis`` (a concat: one fused copy)."""
    if not lo and not hi:
        return x
    parts = []
    for k in (lo, None, hi):
        if k is None:
            parts.append(x)
        elif k:
            shape = list(x.shape)
            shape[axis] = k
            parts.append(_zeros(x.dtype, tuple(shape)))
    return make("concat", *parts, axis=axis)


def pack_filter(w: Node, groups: int, width: int) -> Node:
    """HWIO ``w`` as [groups, blocks, kh, kw, in/groups, width]: each block of ``width`` output
    channels of a group is one contiguous run the micro-kernel streams through (zero-filled
    past the group's last channel)."""
    kh, kw, cg, o = w.shape
    og = o // groups
    nb = -(-og // width)
    w5 = make("reshape", w, shape=[kh, kw, cg, groups, og])
    w5 = _pad(w5, 4, 0, nb * width - og)
    w6 = make("reshape", w5, shape=[kh, kw, cg, groups, nb, width])
    return make("transpose", w6, perm=[3, 4, 0, 1, 2, 5])


def _own_buffer(node: Node) -> Node:
    """``node`` itself if its buffer is ours (C-contiguous); a graph input (any strides) gets a copy."""
    return make("reshape", node, shape=list(node.shape)) if node.op == "input" else node


def prepare_conv_operands(graph: Graph, isa: str) -> Graph:
    """Each ``conv2d`` as ``conv2d_blocked`` of a zero-padded C-contiguous input and a packed filter."""
    def prepare(node: Node, args: tuple[Node, ...]) -> Node | None:
        if node.op != "conv2d":
            return None
        x, w = args
        t, b, left, r = node.attrs["pads"]
        x = _own_buffer(_pad(_pad(x, 1, t, b), 2, left, r))
        groups, o = node.attrs["groups"], w.shape[3]
        blk = blocking(isa, node.dtype.itemsize, o // groups, node.shape[2])
        wp = pack_filter(w, groups, blk.vw * blk.cb)
        return make("conv2d_blocked", x, wp, strides=node.attrs["strides"], dilations=node.attrs["dilations"],
                    out_channels=o)

    return rebuild(graph, prepare)


def _pointer(b: ir.IRBuilder, args: ir.Value, layout: abi.ArgLayout, node: Node,
             constant_of: Callable[[Node], ir.Value]) -> ir.Value:
    if node.op == "constant":
        return constant_of(node)
    return b.load(b.gep(args, [i64(layout.word[id(node)])], source_etype=I64), typ=PTR)


def _dim(b: ir.IRBuilder, args: ir.Value, layout: abi.ArgLayout, d: int | str) -> ir.Value:
    if isinstance(d, int):
        return i64(d)
    return b.load(b.gep(args, [i64(layout.symbol_word[d])], source_etype=I64), typ=I64)


class _Emitter:
    """The row worker ``i32 (ptr args, i32 mode, i64 lo, i64 hi, ptr scratch)`` of one ``conv2d_blocked``."""

    def __init__(self, module: ir.Module, conv: Node, out: Node, layout: abi.ArgLayout, isa: str,
                 constant_of: Callable[[Node], ir.Value], name: str) -> None:
        x, wp = conv.args
        _, self.h, self.w, self.c = x.shape
        self.groups, self.nb, self.kh, self.kw, self.cg, self.bw = wp.shape
        _, self.oh, self.ow, self.o = conv.shape
        self.sh, self.sw = conv.attrs["strides"]
        self.dh, self.dw = conv.attrs["dilations"]
        self.og = self.o // self.groups
        self.itemsize = conv.dtype.itemsize
        self.fty = F32 if self.itemsize == 4 else F64
        self.vw = math.gcd(self.bw, _LANES[isa] // self.itemsize)
        self.rb = tile_columns(isa, self.bw // self.vw, self.ow)
        self.module = module
        fn = ir.Function(module, threadpool.KERN_FN, name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        self.fn = fn
        args, _, lo, hi, _ = fn.args
        self.entry = fn.append_basic_block("entry")
        body = fn.append_basic_block("body")
        self.b = b = ir.IRBuilder(body)
        self.xp = _pointer(b, args, layout, x, constant_of)
        self.wp = _pointer(b, args, layout, wp, constant_of)
        self.op = _pointer(b, args, layout, out, constant_of)
        self.accs: dict[tuple[int, int], ir.AllocaInstr] = {}
        with for_range(b, lo, hi, "row", unroll=False) as row:
            self.row(row)
        b.ret(ir.Constant(I32, 0))
        ir.IRBuilder(self.entry).branch(body)

    def vec(self, lanes: int) -> ir.Type:
        return ir.VectorType(self.fty, lanes)

    def fma(self, lanes: int) -> ir.Function:
        """``llvm.fma`` on ``lanes``-wide vectors (llvmlite's builder takes scalars only)."""
        name = f"llvm.fma.v{lanes}f{8 * self.itemsize}"
        fn = self.module.globals.get(name)
        if fn is None:
            ty = self.vec(lanes)
            fn = ir.Function(self.module, ir.FunctionType(ty, [ty, ty, ty]), name)
        return fn

    def gep(self, p: ir.Value, off: ir.Value) -> ir.Value:
        return self.b.gep(p, [off], source_etype=self.fty)

    def row(self, row: ir.Value) -> None:
        """Output row ``row = n * OH + oh``: every group, channel block and column tile of it."""
        b = self.b
        n, oh = b.udiv(row, i64(self.oh)), b.urem(row, i64(self.oh))
        xrow = b.mul(b.add(b.mul(n, i64(self.h)), b.mul(oh, i64(self.sh))), i64(self.w * self.c))
        orow = b.mul(row, i64(self.ow * self.o))
        full, tail = divmod(self.og, self.bw)
        with for_range(b, i64(0), i64(self.groups), "grp", unroll=False) as g:
            if full:
                with for_range(b, i64(0), i64(full), "cblk", unroll=False) as blk:
                    self.columns(xrow, orow, g, blk, self.bw)
            if tail:
                self.columns(xrow, orow, g, i64(full), tail)

    def columns(self, xrow: ir.Value, orow: ir.Value, g: ir.Value, blk: ir.Value, lanes: int) -> None:
        b, rb = self.b, self.rb
        full, tail = divmod(self.ow, rb)
        if full:
            with for_range(b, i64(0), i64(full), "cols", unroll=False) as cblock:
                self.tile(xrow, orow, g, blk, b.mul(cblock, i64(rb)), rb, lanes)
        if tail:
            self.tile(xrow, orow, g, blk, i64(full * rb), tail, lanes)

    def _acc(self, r: int, c: int) -> ir.AllocaInstr:
        if (r, c) not in self.accs:
            self.accs[r, c] = ir.IRBuilder(self.entry).alloca(self.vec(self.vw), name=f"acc{r}_{c}")
        return self.accs[r, c]

    def tile(self, xrow: ir.Value, orow: ir.Value, g: ir.Value, blk: ir.Value, ow0: ir.Value,
             rb: int, lanes: int) -> None:
        """Output columns ``ow0 .. ow0+rb`` x the first ``lanes`` channels of block ``blk`` of group
        ``g``: an accumulator tile over all taps and input channels, then stored."""
        b, vw = self.b, self.vw
        nvec = -(-lanes // vw)
        vty = self.vec(vw)
        accs = [[self._acc(r, c) for c in range(nvec)] for r in range(rb)]
        for row in accs:
            for a in row:
                b.store(ir.Constant(vty, None), a)
        cin0 = b.mul(g, i64(self.cg))
        wblock = b.mul(b.add(b.mul(g, i64(self.nb)), blk), i64(self.kh * self.kw * self.cg * self.bw))
        splat = ir.Constant(ir.VectorType(I32, vw), [0] * vw)
        with for_range(b, i64(0), i64(self.kh), "kh", unroll=False) as kh:
            with for_range(b, i64(0), i64(self.kw), "kw", unroll=False) as kw:
                col = b.add(b.mul(ow0, i64(self.sw)), b.mul(kw, i64(self.dw)))
                xoff = b.add(xrow, b.add(b.mul(kh, i64(self.dh * self.w * self.c)),
                                         b.add(b.mul(col, i64(self.c)), cin0)))
                tap = b.add(b.mul(kh, i64(self.kw)), kw)
                woff = b.add(wblock, b.mul(tap, i64(self.cg * self.bw)))
                xb, wb = self.gep(self.xp, xoff), self.gep(self.wp, woff)
                with for_range(b, i64(0), i64(self.cg), "ci") as ci:
                    wrow = self.gep(wb, b.mul(ci, i64(self.bw)))
                    wv = []
                    for c in range(nvec):
                        ld = b.load(self.gep(wrow, i64(c * vw)), typ=vty)
                        ld.align = self.itemsize
                        wv.append(ld)
                    for r in range(rb):
                        s = b.load(self.gep(xb, b.add(ci, i64(r * self.sw * self.c))), typ=self.fty)
                        sv = b.shuffle_vector(b.insert_element(ir.Constant(vty, None), s, i64(0)),
                                              ir.Constant(vty, None), splat)
                        for c in range(nvec):
                            b.store(b.call(self.fma(vw), [sv, wv[c], b.load(accs[r][c])]), accs[r][c])
        ocol = b.add(b.mul(g, i64(self.og)), b.mul(blk, i64(self.bw)))
        for r in range(rb):
            base = b.add(orow, b.add(b.mul(b.add(ow0, i64(r)), i64(self.o)), ocol))
            for c in range(nvec):
                v = b.load(accs[r][c])
                part = min(vw, lanes - c * vw)
                if part < vw:  # the group's last channels: store only those lanes
                    v = b.shuffle_vector(v, ir.Constant(vty, None),
                                         ir.Constant(ir.VectorType(I32, part), list(range(part))))
                st = b.store(v, self.gep(self.op, b.add(base, i64(c * vw))))
                st.align = self.itemsize


def emit_conv(module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, name: str, isa: str,
              constant_of: Callable[[Node], ir.Value], threads: int) -> ir.Function:
    """``i32 name(ptr args)``: the convolution of ``kernel.anchor`` into ``kernel.alias``'s buffer,
    its output rows split over the thread pool when it is large enough."""
    conv, out = kernel.anchor, kernel.alias
    assert conv is not None and out is not None and conv.op in CONV_OPS
    worker = _Emitter(module, conv, out, layout, isa, constant_of, f"{name}.rows").fn
    fn = ir.Function(module, ir.FunctionType(I32, [PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = fn.args[0]
    rows = b.mul(_dim(b, args, layout, conv.shape[0]), i64(conv.shape[1]))
    nul = ir.Constant(PTR, None)
    _, _, kh, kw, cg, _ = conv.args[1].shape
    per_row = 2 * kh * kw * cg * conv.shape[2] * conv.shape[3]  # flops
    if threads > 1:
        work = b.mul(rows, i64(per_row))
        with b.if_else(b.icmp_signed(">=", work, i64(PARALLEL_FLOPS))) as (par, one):
            with par:
                chunk = b.udiv(b.add(rows, i64(threads * 4 - 1)), i64(threads * 4))
                rc = b.call(threadpool.declare_run(module),
                            [worker, args, ir.Constant(I32, 0), rows, chunk, nul, ir.Constant(I32, threads)])
                with b.if_then(b.icmp_signed("!=", rc, ir.Constant(I32, 0))):
                    b.ret(rc)
            with one:
                b.call(worker, [args, ir.Constant(I32, 0), i64(0), rows, nul])
    else:
        b.call(worker, [args, ir.Constant(I32, 0), i64(0), rows, nul])
    b.ret(ir.Constant(I32, 0))
    return fn


def uses_pool(kernel: Kernel, threads: int) -> bool:
    """Does this conv kernel call the thread pool?"""
    conv = kernel.anchor
    return threads > 1 and conv is not None and conv.op in CONV_OPS

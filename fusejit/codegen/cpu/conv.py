"""The convolution kernels: direct convolutions in LLVM IR with register-blocked micro-kernels, no im2col.

**Forward** (``conv2d_blocked``). The filter is packed per block of ``cb`` vectors of output channels
(``[groups, blocks, kh, kw, in, width]``, zero past a group's last channel), so a block is one
contiguous stream. A work item is one (block, output row ``n * OH + oh``) pair, block-major, so a
thread's chunk of items keeps its block in L2. Along the row it takes ``rb`` columns at a time and
keeps an ``rb x cb`` tile of accumulators in vector registers:

    for kh, kw, ci:  wv[c] = Wpacked[g, blk, kh, kw, ci, c*VW : (c+1)*VW]        (cb vector loads)
                     acc[r][c] += broadcast(X[n, oh*sh + kh*dh, (ow0 + r)*sw + kw*dw, g*Cg + ci]) * wv[c]

so each loaded element feeds ``rb`` or ``cb`` fused multiply-adds (the "high-performance
zero-memory-overhead direct convolution" blocking; the tile fills the register file: up to 6 x 4
zmm with AVX-512, 6 x 2 ymm with AVX2, chosen from the CPU's features at compile time). A group's
last block stores only its channels (shorter vector stores); the last column tile is narrower.

**Filter gradient** (``conv2d_backprop_filter``): see :class:`_FilterGrad`.

Every output element is computed by one thread in one order, so results do not depend on the
thread count. Before planning, :func:`.conv_operands.prepare_conv_operands` rewrites the graph so the kernels see
zero-padded, C-contiguous inputs (padding is a fused loop kernel of concatenated zeros, ~1% of the
convolution's time at 3x3 64->64 56x56) and the packed filter: the kernels only handle ``VALID``
windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir import Node
from ...passes.fusion import Kernel
from . import abi, threadpool
from .loops import for_range
from .types import F32, F64, I32, I64, PTR, i64

CONV_OPS = ("conv2d_blocked", "conv2d_backprop_filter")
PARALLEL_FLOPS = 1 << 21  # below this a convolution runs on the calling thread
CHUNKS_PER_THREAD = 16
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
    evened out over the row (14 columns next to 4 vectors: tiles of 5, 5, 4 rather than 6, 6, 2)."""
    most = max(1, min(ow, (_REGS[isa] - cb - 1) // cb, 14))
    tiles = -(-ow // most)
    return -(-ow // tiles)


def blocking(isa: str, itemsize: int, og: int, ow: int) -> Blocking:
    """The tile for a group of ``og`` output channels and rows of ``ow`` columns: ``cb`` vectors
    of channels (4 zmm with AVX-512, 2 ymm with AVX2) by :func:`tile_columns` columns."""
    vw = _LANES[isa] // itemsize
    cb = max(1, min(math.ceil(og / vw), 4 if _REGS[isa] == 32 else 2))
    return Blocking(vw, cb, tile_columns(isa, cb, ow))


def _pointer(b: ir.IRBuilder, args: ir.Value, layout: abi.ArgLayout, node: Node,
             constant_of: Callable[[Node], ir.Value]) -> ir.Value:
    if node.op == "constant":
        return constant_of(node)
    return b.load(b.gep(args, [i64(layout.word[id(node)])], source_etype=I64), typ=PTR)


def _dim(b: ir.IRBuilder, args: ir.Value, layout: abi.ArgLayout, d: int | str) -> ir.Value:
    if isinstance(d, int):
        return i64(d)
    return b.load(b.gep(args, [i64(layout.symbol_word[d])], source_etype=I64), typ=I64)


class _Worker:
    """A thread-pool worker ``i32 (ptr args, i32 mode, i64 lo, i64 hi, ptr scratch)`` and the vector
    helpers both convolution kernels use. ``body(args, mode, lo, hi)`` emits the work."""

    def __init__(self, module: ir.Module, dtype: np.dtype, name: str) -> None:
        self.module = module
        self.itemsize = dtype.itemsize
        self.fty = F32 if self.itemsize == 4 else F64
        fn = ir.Function(module, threadpool.KERN_FN, name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        self.fn = fn
        self.entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(fn.append_basic_block("body"))
        self.accs: dict[tuple[int, int], ir.AllocaInstr] = {}

    def finish(self) -> ir.Function:
        self.b.ret(ir.Constant(I32, 0))
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])
        return self.fn

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

    def acc(self, r: int, c: int, lanes: int) -> ir.AllocaInstr:
        """Accumulator ``(r, c)`` (an entry-block alloca: LLVM keeps it in a register)."""
        if (r, c) not in self.accs:
            self.accs[r, c] = ir.IRBuilder(self.entry).alloca(self.vec(lanes), name=f"acc{r}_{c}")
        return self.accs[r, c]

    def splat(self, p: ir.Value, lanes: int) -> ir.Value:
        """The scalar at ``p`` in every lane (a broadcast load; AVX-512 folds it into the FMA)."""
        b, vty = self.b, self.vec(lanes)
        s = b.load(p, typ=self.fty)
        return b.shuffle_vector(b.insert_element(ir.Constant(vty, None), s, i64(0)), ir.Constant(vty, None),
                                ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))

    def load(self, p: ir.Value, lanes: int, part: int) -> ir.Value:
        """``lanes`` values at ``p``, of which only the first ``part`` are read (the rest zero)."""
        ld = self.b.load(p, typ=self.vec(part))
        ld.align = self.itemsize
        if part == lanes:
            return ld
        pick = ir.Constant(ir.VectorType(I32, lanes), list(range(part)) + [part] * (lanes - part))
        return self.b.shuffle_vector(ld, ir.Constant(self.vec(part), None), pick)  # lane ``part``: a zero

    def store(self, v: ir.Value, p: ir.Value, lanes: int, part: int) -> None:
        """The first ``part`` of the ``lanes`` values of ``v`` to ``p``."""
        if part < lanes:
            v = self.b.shuffle_vector(v, ir.Constant(self.vec(lanes), None),
                                      ir.Constant(ir.VectorType(I32, part), list(range(part))))
        self.b.store(v, p).align = self.itemsize

    def madd(self, acc: ir.AllocaInstr, x: ir.Value, y: ir.Value, lanes: int) -> None:
        self.b.store(self.b.call(self.fma(lanes), [x, y, self.b.load(acc)]), acc)


class _Forward(_Worker):
    """The task worker of one ``conv2d_blocked``: ``[lo, hi)`` are (channel block, output row) pairs."""

    def __init__(self, module: ir.Module, conv: Node, out: Node, layout: abi.ArgLayout, isa: str,
                 constant_of: Callable[[Node], ir.Value], name: str) -> None:
        super().__init__(module, conv.dtype, name)
        x, wp = conv.args[:2]
        _, self.h, self.w, self.c = x.shape
        self.groups, self.nb, self.kh, self.kw, self.cg, self.bw = wp.shape
        _, self.oh, self.ow, self.o = conv.shape
        self.sh, self.sw = conv.attrs["strides"]
        self.dh, self.dw = conv.attrs["dilations"]
        self.og = self.o // self.groups
        self.vw = math.gcd(self.bw, _LANES[isa] // self.itemsize)
        self.rb = tile_columns(isa, self.bw // self.vw, self.ow)
        b = self.b
        args, _, lo, hi, _ = self.fn.args
        self.xp = _pointer(b, args, layout, x, constant_of)
        self.wp = _pointer(b, args, layout, wp, constant_of)
        self.op = _pointer(b, args, layout, out, constant_of)
        self.epilogue = list(zip(conv.attrs["epilogue"], (_pointer(b, args, layout, a, constant_of)
                                                          for a in conv.args[2:])))
        self.relu = conv.attrs["relu"]
        self.rows = b.mul(_dim(b, args, layout, x.shape[0]), i64(self.oh))
        with for_range(b, lo, hi, "task", unroll=False) as t:
            self.task(t)
        self.finish()

    def task(self, t: ir.Value) -> None:
        """Task ``t``: output row ``t % rows`` (``n * OH + oh``) of channel block ``t / rows`` (group-major):
        consecutive tasks share a block, so a thread's chunk streams one packed filter block from L2
        (all blocks of a 256->256 3x3 filter, 2.4 MB, would not fit)."""
        b = self.b
        row, rest = b.urem(t, self.rows), b.udiv(t, self.rows)
        g, blk = b.udiv(rest, i64(self.nb)), b.urem(rest, i64(self.nb))
        n, oh = b.udiv(row, i64(self.oh)), b.urem(row, i64(self.oh))
        xrow = b.mul(b.add(b.mul(n, i64(self.h)), b.mul(oh, i64(self.sh))), i64(self.w * self.c))
        orow = b.mul(row, i64(self.ow * self.o))
        tail = self.og - (self.nb - 1) * self.bw  # lanes of the group's last block
        if tail == self.bw:
            self.columns(xrow, orow, g, blk, self.bw)
            return
        with b.if_else(b.icmp_signed("==", blk, i64(self.nb - 1))) as (last, full):
            with last:
                self.columns(xrow, orow, g, blk, tail)
            with full:
                if self.nb > 1:
                    self.columns(xrow, orow, g, blk, self.bw)

    def columns(self, xrow: ir.Value, orow: ir.Value, g: ir.Value, blk: ir.Value, lanes: int) -> None:
        b, rb = self.b, self.rb
        full, tail = divmod(self.ow, rb)
        if full:
            with for_range(b, i64(0), i64(full), "cols", unroll=False) as cblock:
                self.tile(xrow, orow, g, blk, b.mul(cblock, i64(rb)), rb, lanes)
        if tail:
            self.tile(xrow, orow, g, blk, i64(full * rb), tail, lanes)

    def tile(self, xrow: ir.Value, orow: ir.Value, g: ir.Value, blk: ir.Value, ow0: ir.Value,
             rb: int, lanes: int) -> None:
        """Output columns ``ow0 .. ow0+rb`` x the first ``lanes`` channels of block ``blk`` of group
        ``g``: an accumulator tile over all taps and input channels, then stored."""
        b, vw = self.b, self.vw
        nvec = -(-lanes // vw)
        accs = [[self.acc(r, c, vw) for c in range(nvec)] for r in range(rb)]
        for row in accs:
            for a in row:
                b.store(ir.Constant(self.vec(vw), None), a)
        cin0 = b.mul(g, i64(self.cg))
        wblock = b.mul(b.add(b.mul(g, i64(self.nb)), blk), i64(self.kh * self.kw * self.cg * self.bw))
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
                    wv = [self.load(self.gep(wrow, i64(c * vw)), vw, vw) for c in range(nvec)]
                    for r in range(rb):
                        sv = self.splat(self.gep(xb, b.add(ci, i64(r * self.sw * self.c))), vw)
                        for c in range(nvec):
                            self.madd(accs[r][c], sv, wv[c], vw)
        ocol = b.add(b.mul(g, i64(self.og)), b.mul(blk, i64(self.bw)))
        parts = [min(vw, lanes - c * vw) for c in range(nvec)]
        chan = [(code, [self.load(self.gep(p, b.add(ocol, i64(c * vw))), vw, parts[c]) for c in range(nvec)])
                for code, p in self.epilogue]
        zero = ir.Constant(self.vec(vw), None)
        for r in range(rb):
            base = b.add(orow, b.add(b.mul(b.add(ow0, i64(r)), i64(self.o)), ocol))
            for c in range(nvec):
                v = b.load(accs[r][c])
                for code, vals in chan:  # EPILOGUE_OPS: v + c, v - c, c - v, v * c
                    v = (b.fadd(v, vals[c]), b.fsub(v, vals[c]), b.fsub(vals[c], v), b.fmul(v, vals[c]))[code]
                if self.relu:  # np.maximum(v, 0): v if v > 0 or v is NaN, else +0.0
                    v = b.select(b.fcmp_unordered(">", v, zero), v, zero)
                self.store(v, self.gep(self.op, b.add(base, i64(c * vw))), vw, parts[c])


class _FilterGrad(_Worker):
    """The task worker of one ``conv2d_backprop_filter`` (padded, contiguous operands): task ``t`` of
    ``[lo, hi)`` is one tap, group, block of ``rb`` input channels and block of ``cb`` vectors of
    output channels; ``mode`` is the chunk of output rows ``n * OH + oh`` to add in. Each task
    keeps its ``rb x cb`` tile of the filter gradient in registers over the chunk's positions:

        acc[i][c] += broadcast(X[n, oh*sh + kh*dh, ow*sw + kw*dw, ci0 + i]) * DY[n, oh, ow, co0 + c*VW : ...]

    Chunks are small enough for their rows of X and DY to stay in L2 while every task reads them."""

    def __init__(self, module: ir.Module, node: Node, out: Node, layout: abi.ArgLayout, isa: str,
                 constant_of: Callable[[Node], ir.Value], name: str) -> None:
        super().__init__(module, node.dtype, name)
        x, dy = node.args
        _, self.h, self.w, self.c = x.shape
        _, self.oh, self.ow, self.o = dy.shape
        self.kh, self.kw = node.attrs["ksize"]
        self.sh, self.sw = node.attrs["strides"]
        self.dh, self.dw = node.attrs["dilations"]
        self.groups = node.attrs["groups"]
        self.cg, self.og = self.c // self.groups, self.o // self.groups
        blk = blocking(isa, self.itemsize, self.og, self.cg)
        self.vw, self.cb, self.rb = blk.vw, blk.cb, blk.rb
        self.nci, self.nco = -(-self.cg // self.rb), -(-self.og // (self.vw * self.cb))
        self.rows = chunk_rows(node)
        b = self.b
        args, chunk, lo, hi, _ = self.fn.args
        self.xp = _pointer(b, args, layout, x, constant_of)
        self.dyp = _pointer(b, args, layout, dy, constant_of)
        self.op = _pointer(b, args, layout, out, constant_of)
        nrows = b.mul(_dim(b, args, layout, x.shape[0]), i64(self.oh))
        self.r0 = b.mul(b.zext(chunk, I64), i64(self.rows))
        end = b.add(self.r0, i64(self.rows))
        self.r1 = b.select(b.icmp_signed("<", end, nrows), end, nrows)
        self.first = b.icmp_signed("==", chunk, ir.Constant(I32, 0))
        with for_range(b, lo, hi, "task", unroll=False) as t:
            self.task(t)
        self.finish()

    def task(self, t: ir.Value) -> None:
        b = self.b
        coblk = b.urem(t, i64(self.nco))
        rest = b.udiv(t, i64(self.nco))
        ciblk = b.urem(rest, i64(self.nci))
        rest = b.udiv(rest, i64(self.nci))
        g, tap = b.urem(rest, i64(self.groups)), b.udiv(rest, i64(self.groups))
        ci_tail, co_tail = self.cg % self.rb, self.og % (self.vw * self.cb)
        ci_last = b.icmp_signed("==", ciblk, i64(self.nci - 1))
        co_last = b.icmp_signed("==", coblk, i64(self.nco - 1))

        def by_co(rb: int) -> None:
            if co_tail:
                with b.if_else(co_last) as (last, full):
                    with last:
                        self.tile(tap, g, ciblk, coblk, rb, co_tail)
                    with full:
                        if self.nco > 1:
                            self.tile(tap, g, ciblk, coblk, rb, self.vw * self.cb)
            else:
                self.tile(tap, g, ciblk, coblk, rb, self.vw * self.cb)

        if ci_tail:
            with b.if_else(ci_last) as (last, full):
                with last:
                    by_co(ci_tail)
                with full:
                    if self.nci > 1:
                        by_co(self.rb)
        else:
            by_co(self.rb)

    def tile(self, tap: ir.Value, g: ir.Value, ciblk: ir.Value, coblk: ir.Value, rb: int, lanes: int) -> None:
        b, vw = self.b, self.vw
        nvec = -(-lanes // vw)
        parts = [min(vw, lanes - c * vw) for c in range(nvec)]
        ci0 = b.add(b.mul(g, i64(self.cg)), b.mul(ciblk, i64(self.rb)))  # channel of x
        co0 = b.add(b.mul(g, i64(self.og)), b.mul(coblk, i64(self.vw * self.cb)))  # channel of dy and dw
        kh, kw = b.udiv(tap, i64(self.kw)), b.urem(tap, i64(self.kw))
        dwrow = b.add(b.mul(b.add(b.mul(tap, i64(self.cg)), b.mul(ciblk, i64(self.rb))), i64(self.o)), co0)
        accs = [[self.acc(i, c, vw) for c in range(nvec)] for i in range(rb)]
        for i in range(rb):
            for c in range(nvec):
                old = self.load(self.gep(self.op, b.add(dwrow, i64(i * self.o + c * vw))), vw, parts[c])
                b.store(b.select(self.first, ir.Constant(self.vec(vw), None), old), accs[i][c])
        with for_range(b, self.r0, self.r1, "r", unroll=False) as r:
            n, oh = b.udiv(r, i64(self.oh)), b.urem(r, i64(self.oh))
            ih = b.add(b.mul(oh, i64(self.sh)), b.mul(kh, i64(self.dh)))
            xrow = b.add(b.mul(b.add(b.mul(b.add(b.mul(n, i64(self.h)), ih), i64(self.w)), b.mul(kw, i64(self.dw))),
                               i64(self.c)), ci0)
            dyrow = b.add(b.mul(r, i64(self.ow * self.o)), co0)
            with for_range(b, i64(0), i64(self.ow), "ow") as ow:
                dp = self.gep(self.dyp, b.add(dyrow, b.mul(ow, i64(self.o))))
                dv = [self.load(self.gep(dp, i64(c * vw)), vw, parts[c]) for c in range(nvec)]
                xpos = self.gep(self.xp, b.add(xrow, b.mul(ow, i64(self.sw * self.c))))
                for i in range(rb):
                    sv = self.splat(self.gep(xpos, i64(i)), vw)
                    for c in range(nvec):
                        self.madd(accs[i][c], sv, dv[c], vw)
        for i in range(rb):
            for c in range(nvec):
                self.store(b.load(accs[i][c]), self.gep(self.op, b.add(dwrow, i64(i * self.o + c * vw))), vw, parts[c])

    @property
    def tasks(self) -> int:
        return self.kh * self.kw * self.groups * self.nci * self.nco


def chunk_rows(node: Node) -> int:
    """Output rows per chunk of a filter gradient: their rows of X and DY fill about 512 KiB."""
    x, dy = node.args
    per_row = (dy.shape[2] * dy.shape[3] + node.attrs["strides"][0] * x.shape[2] * x.shape[3]) * node.dtype.itemsize
    return max(1, (512 << 10) // per_row)


def _parallel_or_not(b: ir.IRBuilder, module: ir.Module, worker: ir.Function, args: ir.Value, mode: ir.Value,
                     total: ir.Value, work: ir.Value, threads: int) -> None:
    """``worker`` over ``[0, total)``: on the thread pool when ``work`` flops are worth it."""
    nul = ir.Constant(PTR, None)
    if threads <= 1:
        b.call(worker, [args, mode, i64(0), total, nul])
        return
    with b.if_else(b.icmp_signed(">=", work, i64(PARALLEL_FLOPS))) as (par, one):
        with par:
            # small chunks: a worker descheduled on a shared machine holds up at most one
            chunk = b.udiv(b.add(total, i64(threads * CHUNKS_PER_THREAD - 1)), i64(threads * CHUNKS_PER_THREAD))
            b.call(threadpool.declare_run(module), [worker, args, mode, total, chunk, nul, ir.Constant(I32, threads)])
        with one:
            b.call(worker, [args, mode, i64(0), total, nul])


def emit_conv(module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, name: str, isa: str,
              constant_of: Callable[[Node], ir.Value], threads: int) -> ir.Function:
    """``i32 name(ptr args)``: the convolution (or filter gradient) of ``kernel.anchor`` into
    ``kernel.alias``'s buffer, split over the thread pool when it is large enough."""
    conv, out = kernel.anchor, kernel.alias
    assert conv is not None and out is not None and conv.op in CONV_OPS
    fn = ir.Function(module, ir.FunctionType(I32, [PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    args = fn.args[0]
    batch = _dim(b, args, layout, conv.args[0].shape[0])
    if conv.op == "conv2d_backprop_filter":
        if any(conv.attrs["pads"]):
            raise AssertionError("conv2d_backprop_filter reached codegen with padding: prepare_conv_operands not run")
        fg = _FilterGrad(module, conv, out, layout, isa, constant_of, f"{name}.tasks")
        rows = b.mul(batch, i64(fg.oh))
        nchunks = b.udiv(b.add(rows, i64(fg.rows - 1)), i64(fg.rows))
        nchunks = b.select(b.icmp_signed("<", nchunks, i64(1)), i64(1), nchunks)  # chunk 0 zeroes an empty batch
        work = i64(2 * fg.rows * fg.ow * fg.cg * fg.o * fg.kh * fg.kw)
        with for_range(b, i64(0), nchunks, "chunk", unroll=False) as c:
            _parallel_or_not(b, module, fg.fn, args, b.trunc(c, I32), i64(fg.tasks), work, threads)
    else:
        worker = _Forward(module, conv, out, layout, isa, constant_of, f"{name}.tasks").fn
        groups, nb, kh, kw, cg, bw = conv.args[1].shape
        tasks = b.mul(batch, i64(conv.shape[1] * groups * nb))
        per_task = 2 * kh * kw * cg * conv.shape[2] * bw  # flops
        _parallel_or_not(b, module, worker, args, ir.Constant(I32, 0), tasks, b.mul(tasks, i64(per_task)), threads)
    b.ret(ir.Constant(I32, 0))
    return fn


def uses_pool(kernel: Kernel, threads: int) -> bool:
    """Does this conv kernel call the thread pool?"""
    conv = kernel.anchor
    return threads > 1 and conv is not None and conv.op in CONV_OPS

"""Streaming (non-temporal) stores for large kernel outputs, through an L1 staging tile.

A plain store to a line that is not in cache first reads it (read-for-ownership): a kernel
writing a 40 MB output moves 80 MB for it, where a copy-bandwidth roofline counts 40. x86's
non-temporal stores (``movntps``) write whole lines without reading them. LLVM's loop
vectorizer refuses to widen a scalar store tagged ``!nontemporal`` unless it is vector-aligned,
which a scalar store never provably is, so the kernel's own loop body (unchanged, compiled once,
no longer inlined) is called on tiles of the range with each output pointer redirected to a
64-byte aligned stack tile, and an explicit ``<16 x i32>`` loop copies the tile to the output
with non-temporal stores (the tile stays in L1: one extra L1 store and load per element).
Row kernels keep a tile of whole rows, so what a row pass stashes in its output (softmax's exp)
is reloaded from L1 too.

It pays only when the output would not stay in cache anyway: a kernel streams when its whole
output (not the thread's share, so the choice never depends on the thread count) is at least
``STREAM_MIN_BYTES`` and every output buffer is 64-byte aligned (the caching allocator's are);
otherwise the wrapper calls the body once on its whole range. Streaming changes where values
go, never what they are: the same code computes them, and flat tiles start on the 64-element
grid the unstreamed loop's vector body runs on.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir import Node
from .exprs import FnEnv
from .loops import for_range, product
from .types import I32, I64, PTR, i64

if TYPE_CHECKING:
    from .kernels import BodyBuilder

STREAM_MIN_BYTES = 1 << 24  # half this machine's L3: a smaller output may still be in cache for its reader
STAGE = 512  # elements per flat tile: a multiple of 64, so tiles of any dtype are whole lines
ROW_TILE_BYTES = 1 << 14  # a row kernel streams rows of up to 16 KiB per output (4096 float32)
LINE = 64
VEC = ir.VectorType(I32, 16)  # one cache line; its ABI alignment (64) aligns the stack tiles
STREAM_ISAS = ("avx512", "avx2")  # x86 with non-temporal vector stores


def can_stream(isa: str, outputs: list[Node], space: tuple[int | str, ...]) -> bool:
    """Worth a streaming wrapper: x86, and outputs that may reach ``STREAM_MIN_BYTES`` (a static
    shape below it gets no wrapper at all: no compile time spent on it)."""
    if isa not in STREAM_ISAS or not outputs:
        return False
    if any(isinstance(d, str) for d in space):
        return True
    return math.prod(space) * sum(o.dtype.itemsize for o in outputs) >= STREAM_MIN_BYTES


class _Wrapper:
    """``i32 <body>.stream(buffers..., args, lo, hi, scratch)``: same signature as the body."""

    def __init__(self, bb: BodyBuilder, body: ir.Function, outputs: list[Node]) -> None:
        body.attributes.discard("alwaysinline")
        body.attributes.add("noinline")  # one copy of the loop, called per tile
        self.body, self.outputs = body, outputs
        self.fn = fn = ir.Function(body.module, body.function_type, body.name + ".stream")
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        self.bufs = list(fn.args[:len(bb.bufs)])
        self.args, self.lo, self.hi, self.scratch = fn.args[len(bb.bufs):]
        self.entry = entry = fn.append_basic_block("entry")  # allocas and hoisted loads
        self.b = b = ir.IRBuilder(fn.append_basic_block("body"))
        self.slots = [next(i for i, n in enumerate(bb.bufs) if n is o) for o in outputs]
        self.env = FnEnv(b, entry, self.args, bb.layout, {}, bb.env.contiguous)
        self.tiles: list[ir.Value] = []
        self.rc = self.env._hoisted().alloca(I32, name="rc")
        b.store(ir.Constant(I32, 0), self.rc)

    def decide(self, count: ir.Value) -> ir.Value:
        """i1: stream (``count`` elements per output, at least STREAM_MIN_BYTES, aligned)."""
        b = self.b
        nbytes = b.mul(count, i64(sum(o.dtype.itemsize for o in self.outputs)))
        ok = b.icmp_signed(">=", nbytes, i64(STREAM_MIN_BYTES))
        for s in self.slots:
            ok = b.and_(ok, _aligned(b, self.bufs[s]))
        return ok

    def stage(self, nbytes: list[int]) -> None:
        for n in nbytes:
            tile = self.env._hoisted().alloca(VEC, size=i64(-(-n // LINE)), name="stage")
            tile.type = PTR  # an opaque pointer: the tile holds any dtype (llvmlite would type it)
            self.tiles.append(tile)

    def call(self, lo: ir.Value, hi: ir.Value, origin: ir.Value | None = None) -> None:
        """Run the body on [lo, hi); with ``origin`` (an element offset) outputs go to the tiles,
        element ``origin`` of each output at the tile's start."""
        b = self.b
        bufs = list(self.bufs)
        if origin is not None:
            for s, o, tile in zip(self.slots, self.outputs, self.tiles):
                bufs[s] = b.gep(tile, [b.mul(origin, i64(-o.dtype.itemsize))], source_etype=ir.IntType(8))
        rc = b.call(self.body, [*bufs, self.args, lo, hi, self.scratch])
        b.store(b.select(b.icmp_signed("!=", rc, ir.Constant(I32, 0)), rc, b.load(self.rc, typ=I32)), self.rc)

    def flush(self, origin: ir.Value, count: ir.Value) -> None:
        """Stream ``count`` elements of each tile to its output at element ``origin``."""
        b = self.b
        for s, o, tile in zip(self.slots, self.outputs, self.tiles):
            size = i64(o.dtype.itemsize)
            dst = b.gep(self.bufs[s], [b.mul(origin, size)], source_etype=ir.IntType(8))
            copy_streaming(b, tile, dst, b.mul(count, size))

    def finish(self, stream: ir.Value) -> ir.Function:
        b = self.b
        with b.if_then(stream):
            fence(b)
        b.ret(b.load(self.rc, typ=I32))
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])
        return self.fn


def _aligned(b: ir.IRBuilder, p: ir.Value) -> ir.Value:
    return b.icmp_unsigned("==", b.and_(b.ptrtoint(p, I64), i64(LINE - 1)), i64(0))


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def copy_streaming(b: ir.IRBuilder, src: ir.Value, dst: ir.Value, nbytes: ir.Value) -> None:
    """Copy ``nbytes`` (a multiple of 64) from the aligned tile to the aligned ``dst``, line by
    line, with non-temporal stores: a call of one shared function per module (compile time)."""
    fn = b.module.globals.get("fj.stream_copy")
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ir.VoidType(), [PTR, PTR, I64]), "fj.stream_copy")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        d, s, n = fn.args
        d.add_attribute("noalias")
        s.add_attribute("noalias")
        cb = ir.IRBuilder(fn.append_basic_block("entry"))
        nt = b.module.add_metadata([ir.Constant(I32, 1)])
        with for_range(cb, i64(0), cb.udiv(n, i64(LINE)), "nt") as c:
            v = cb.load(cb.gep(s, [c], source_etype=VEC), typ=VEC, align=LINE)
            cb.store(v, cb.gep(d, [c], source_etype=VEC), align=LINE).set_metadata("nontemporal", nt)
        cb.ret_void()
    b.call(fn, [dst, src, nbytes])


def fence(b: ir.IRBuilder) -> None:
    """Order the weakly ordered streaming stores before whatever synchronizes with this thread."""
    fn = b.module.globals.get("llvm.x86.sse.sfence")
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
    b.call(fn, [])


def stream_flat(bb: BodyBuilder, body: ir.Function, outputs: list[Node]) -> ir.Function:
    """Flat loop ``body`` over elements: a head up to the first 64-element boundary and a tail
    after the last one run directly; between them, tiles of ``STAGE`` elements are staged."""
    w = _Wrapper(bb, body, outputs)
    b, lo, hi = w.b, w.lo, w.hi
    w.stage([STAGE * o.dtype.itemsize for o in outputs])
    stream = w.decide(product(b, w.env.dims(bb.kernel.space)))
    with b.if_else(stream) as (then, other):
        with then:
            a = _min(b, b.and_(b.add(lo, i64(LINE - 1)), i64(-LINE)), hi)
            down = b.and_(hi, i64(-LINE))
            z = b.select(b.icmp_signed(">", down, a), down, a)
            w.call(lo, a)
            ntiles = b.udiv(b.add(b.sub(z, a), i64(STAGE - 1)), i64(STAGE))
            with for_range(b, i64(0), ntiles, "tile") as t:
                t0 = b.add(a, b.mul(t, i64(STAGE)))
                t1 = _min(b, b.add(t0, i64(STAGE)), z)
                w.call(t0, t1, t0)
                w.flush(t0, b.sub(t1, t0))
            w.call(z, hi)
        with other:
            w.call(lo, hi)
    return w.finish(stream)


def stream_rows(bb: BodyBuilder, body: ir.Function, outputs: list[Node]) -> ir.Function:
    """Row loop ``body`` over rows whose ``outputs`` are C-ordered rows of the reduced dims:
    groups of whole rows (up to ``ROW_TILE_BYTES`` per output) are staged. Rows must be whole
    lines and fit the tile; otherwise the body runs on the whole range."""
    k = bb.kernel
    w = _Wrapper(bb, body, outputs)
    b, lo, hi = w.b, w.lo, w.hi
    w.stage([ROW_TILE_BYTES] * len(outputs))
    row = product(b, w.env.dims(k.space[len(k.outer):]))
    widest = max(o.dtype.itemsize for o in outputs)
    row_bytes = b.mul(row, i64(widest))
    stream = w.decide(b.mul(product(b, w.env.dims(k.outer)), row))
    for o in outputs:
        nbytes = b.mul(row, i64(o.dtype.itemsize))
        stream = b.and_(stream, b.icmp_unsigned("==", b.and_(nbytes, i64(LINE - 1)), i64(0)))
    stream = b.and_(stream, b.icmp_unsigned("<=", row_bytes, i64(ROW_TILE_BYTES)))
    with b.if_else(stream) as (then, other):
        with then:
            per = b.udiv(i64(ROW_TILE_BYTES), b.select(stream, row_bytes, i64(1)))  # rows per tile
            ngroups = b.udiv(b.add(b.sub(hi, lo), b.sub(per, i64(1))), per)
            with for_range(b, i64(0), ngroups, "group") as g:
                r0 = b.add(lo, b.mul(g, per))
                r1 = _min(b, b.add(r0, per), hi)
                origin = b.mul(r0, row)
                w.call(r0, r1, origin)
                w.flush(origin, b.mul(b.sub(r1, r0), row))
        with other:
            w.call(lo, hi)
    return w.finish(stream)


__all__ = ["ROW_TILE_BYTES", "STAGE", "STREAM_ISAS", "STREAM_MIN_BYTES", "can_stream", "stream_flat",
           "stream_rows"]

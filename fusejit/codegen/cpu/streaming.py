"""How large kernels move bytes: software prefetch of the next row and non-temporal stores.

Row kernels over rows of a few KiB are bound by memory, not by their passes over a row in L1:
hardware prefetchers stop at page boundaries, so each row's first pass would wait on DRAM, and
a plain store reads every output line first. The contiguous version of a row kernel therefore
prefetches the next row of each full-size input while it computes the current one, and a row
output of at least ``STREAM_MIN_BYTES`` in all (an output that cannot stay in cache anyway) is
written with non-temporal stores when its buffer is 64-byte aligned. Flat loops stream the same
way (outputs of at least ``STREAM_MIN_BYTES`` in all, aligned; whole lines, the last partial one
plain): a plain store reads each output line before writing it, so the chain moves 5 streams
instead of 4. Both change where bytes travel, never a value: results are bitwise the same
whichever path runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from ...ir import Node, get_op
from ...passes.fusion import Kernel, axes_of
from .loops import delinearize, for_range, product
from .types import I32, I64, PTR, i64, reg_type

if TYPE_CHECKING:
    from .kernels import BodyBuilder

LINE = 64  # bytes per cache line: the unit of prefetches and of non-temporal stores
PREFETCH_MAX_BYTES = 1 << 14  # the next row's first bytes a row kernel prefetches, per input
PREFETCH_MIN_BYTES = 1 << 20  # no prefetch code for an input statically smaller than this
STREAM_MIN_BYTES = 1 << 24  # row outputs this large in all bypass the cache (half this L3)
STREAM_ISAS = ("avx512", "avx2")  # x86: non-temporal vector stores (vmovntps / vmovntpd)


def reachable(root: Node, members: set[int], reductions: set[int]) -> set[int]:
    """The members ``root`` is evaluated from per element: a reduction's operand is not, its
    result comes from the pass that computed it."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if id(n) in seen or id(n) not in members:
            continue
        seen.add(id(n))
        if id(n) not in reductions:
            stack.extend(n.args)
    return seen


def sfence(b: ir.IRBuilder, stream: ir.Value) -> None:
    """Order the weakly ordered non-temporal stores before the caller's synchronization."""
    with b.if_then(stream):
        b.call(declare(b.module, "llvm.x86.sse.sfence", ir.FunctionType(ir.VoidType(), [])), [])


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    fn = module.globals.get(name)
    return fn if fn is not None else ir.Function(module, fnty, name)


def prefetch_next_row(bb: BodyBuilder, r: ir.Value, outer: list[ir.Value], red: list[ir.Value]) -> None:
    """Prefetch the next row (up to ``PREFETCH_MAX_BYTES``) of every input read whole, row by
    row: its first pass then finds it in cache instead of waiting on DRAM line by line."""
    k, b, ex = bb.kernel, bb.b, bb.expr
    if not bb.env.contiguous or len(red) != 1 or not outer:
        return
    nodes = [n for n in k.inputs if n.shape == k.space and id(n) in bb.env.pointers]
    if all(isinstance(d, int) for d in k.space):  # statically small: it stays in cache anyway
        nodes = [n for n in nodes if math.prod(k.space) * n.dtype.itemsize >= PREFETCH_MIN_BYTES]
    if not nodes:
        return
    prefetch = declare(b.module, "llvm.prefetch.p0", ir.FunctionType(ir.VoidType(), [PTR, I32, I32, I32]))
    nxt = b.add(r, i64(1))
    with b.if_then(b.icmp_signed("<", nxt, product(b, outer))):
        nidx = delinearize(b, nxt, outer)
        for n in nodes:
            per_line = max(1, LINE // n.dtype.itemsize)
            lines = b.udiv(b.add(red[0], i64(per_line - 1)), i64(per_line))
            cap = i64(PREFETCH_MAX_BYTES // LINE)
            lines = b.select(b.icmp_signed("<", lines, cap), lines, cap)
            with for_range(b, i64(0), lines, "pf") as li:
                addr = ex.address(n, nidx + [b.mul(li, i64(per_line))])
                b.call(prefetch, [addr, ir.Constant(I32, 0), ir.Constant(I32, 3), ir.Constant(I32, 1)])


def stream_flag(bb: BodyBuilder, outs: list[Node], red: list[ir.Value] | None = None) -> ir.Value | None:
    """i1 (in the entry block): write ``outs`` with non-temporal stores. ``red`` is the row of
    a row kernel (one reduced dim), None for a flat loop. None when this kernel version never
    streams: not x86, strided, rows that are not whole lines, outputs written in place over
    inputs, ops the explicit vector store cannot take whole (see ``streamable``), or a static
    size below ``STREAM_MIN_BYTES``."""
    k, env = bb.kernel, bb.env
    if bb.isa not in STREAM_ISAS or not env.contiguous or not outs:
        return None
    size = outs[0].dtype.itemsize
    if any(o.dtype.kind != "f" or o.dtype.itemsize not in (4, 8) or o.dtype.itemsize != size
           or o.shape != k.space for o in outs):
        return None
    row = red[0] if red else None
    if isinstance(row, ir.Constant) and row.constant * size % LINE:
        return None
    if not streamable(k, outs, bb.isa if row is None else None):
        return None
    graph = bb.layout.graph
    if any(o is graph.outputs[i] for o in outs for i in bb.layout.inplace):
        return None
    if all(isinstance(d, int) for d in k.space) and math.prod(k.space) * size * len(outs) < STREAM_MIN_BYTES:
        return None
    dims = env.dims(k.space)
    hb = env._hoisted()
    total = hb.mul(product(hb, dims), i64(size * len(outs)))
    ok = hb.icmp_signed(">=", total, i64(STREAM_MIN_BYTES))
    if row is not None and not isinstance(row, ir.Constant):  # every row starts on a line
        ok = hb.and_(ok, hb.icmp_unsigned("==", hb.and_(hb.mul(row, i64(size)), i64(LINE - 1)), i64(0)))
    for o in outs:
        addr = hb.ptrtoint(env.pointers[id(o)], I64)
        ok = hb.and_(ok, hb.icmp_unsigned("==", hb.and_(addr, i64(LINE - 1)), i64(0)))
    return ok


def streamable(k: Kernel, outs: list[Node], isa: str | None) -> bool:
    """What varies along the row is plain arithmetic (no gathers or selects between loads),
    and math only inline (:func:`.vecmath.is_inline` on ``isa``; None: no math at all). A
    libmvec call could take another vector variant in the line loop than in the plain loop's
    tail (other bits). Row kernels pass None: a row output with inline exp along the row
    measured slower streamed (1 thread, [4096,1024]: p10 1.50 -> 1.79 ms); flat GELU and the
    chain gain. Per-row values (a reduction's epilogue, ``sqrt(var + eps)``) may be anything:
    lanes share them."""
    from ..vecmath import MATH_OPS, is_inline

    members = {id(n) for n in k.nodes}
    inner = len(k.space) - 1
    seen: set[int] = set()
    for o in outs:
        seen |= reachable(o, members, set(k.reduce_maps))
    for n in k.nodes:
        if id(n) not in seen or id(n) in k.reduce_maps or not any(
                inner in axes_of(e) for e in k.maps.get(id(n), ())):
            continue
        if n.op not in ("cast", "broadcast", "reshape") and (
                get_op(n.op).fusion != "elementwise"
                or (n.op in MATH_OPS and not (isa and is_inline(n.op, n.dtype.itemsize == 8, isa)))):
            return False
    return True


def store_row_streaming(bb: BodyBuilder, outs: list[Node], oidx: list[ir.Value], inner: ir.Value) -> None:
    """One row of ``outs`` a cache line at a time (see ``store_line``)."""
    b = bb.b
    lanes = LINE // outs[0].dtype.itemsize
    with for_range(b, i64(0), b.udiv(inner, i64(lanes)), "nt") as line:
        j0 = b.mul(line, i64(lanes))
        store_line(bb, outs, lambda lane, j0=j0: oidx + [b.add(j0, lane)])


def store_line(bb: BodyBuilder, outs: list[Node], idx: Callable[[ir.Value], list[ir.Value]]) -> None:
    """One cache line of each of ``outs``, lane ``j`` at index ``idx(j)``: a loop over the
    lanes (the loop vectorizer makes it one vector iteration, the same code as the plain loop)
    fills a 64-byte tile on the stack, which goes out as one aligned non-temporal vector
    store. (LLVM does not vectorize a scalar ``!nontemporal`` store. 16 scalar lanes fused by
    SLP give the same assembly, but cost GELU's and the chain's compile ~1.5x more.)"""
    b, ex = bb.b, bb.expr
    ety = reg_type(outs[0].dtype)
    lanes = LINE // outs[0].dtype.itemsize
    vty = ir.VectorType(ety, lanes)
    hb = bb.env._hoisted()
    tiles = []
    for _ in outs:
        t = hb.alloca(ety, size=i64(lanes), name="line")
        t.align = LINE
        tiles.append(t)
    with for_range(b, i64(0), i64(lanes), "lane") as lane:
        ex.reset()
        at = idx(lane)
        for o, t in zip(outs, tiles):
            b.store(ex.value(o, at), b.gep(t, [lane], source_etype=ety))
    nt = b.module.add_metadata([ir.Constant(I32, 1)])
    first = idx(i64(0))
    for o, t in zip(outs, tiles):
        b.store(b.load(t, typ=vty, align=LINE), ex.address(o, first), align=LINE).set_metadata("nontemporal", nt)

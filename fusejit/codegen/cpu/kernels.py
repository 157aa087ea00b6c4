"""One LLVM function per kernel version: ``i32 body(ptr noalias buffers..., ptr args, i64 lo, i64 hi)``.

``[lo, hi)`` is the slice of the kernel's parallel range this call computes: flat elements
(``flat`` loop version), or rows of the outer dims (every other version), so a kernel runs
whole on one thread or split across threads with identical per-element code. Versions:
``contiguous`` ones read graph inputs with C-order strides (unit inner stride: vector
loads), the generic one with the runtime strides (any view, negative or zero strides).

Large kernels prefetch rows and write their outputs with non-temporal stores: see :mod:`.streaming`.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...ir import Node
from ...passes.fusion import Kernel, is_splat
from . import abi
from .exprs import Expr, FnEnv
from .loops import delinearize, for_range, product
from .reductions import BLOCK, Acc
from .streaming import LINE, prefetch_next_row, reachable, sfence, store_line, store_row_streaming, stream_flag
from .types import I1, I32, I64, PTR, i64, reg_type

ConstFn = Callable[[Node], ir.Value]


def buffer_nodes(kernel: Kernel, layout: abi.ArgLayout) -> list[Node]:
    """The kernel's buffers in parameter order: inputs read from memory, then outputs (one per
    word: an output written in place over an input shares that input's parameter)."""
    out, words = [], set()
    for n in [*kernel.inputs, *kernel.outputs]:
        if layout.has(n) and layout.word[id(n)] not in words:
            words.add(layout.word[id(n)])
            out.append(n)
    return out


def is_flat(kernel: Kernel) -> bool:
    """A loop kernel whose every memory read is at the identity index of a same-shaped buffer
    (scalars broadcast from 0-d values are fine): it can run as one flat loop."""
    if kernel.kind == "row":
        return False
    ident = tuple(range(len(kernel.space)))
    members = {id(n) for n in kernel.nodes}
    for n in kernel.nodes:
        if n is kernel.anchor:
            continue
        if n.op == "broadcast" and n.args[0].ndim == 0:
            continue
        if n.op in ("broadcast", "transpose", "reshape", "slice", "concat", "update_slice", "take"):
            return False
        if kernel.maps[id(n)] != ident:
            return False
        for a in n.args if n.op != "philox" else ():  # philox reads its state whole, at fixed indices
            if id(a) not in members and a.ndim and a.shape != kernel.space and not is_splat(a):
                return False
    return True


class BodyBuilder:
    def __init__(self, module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, isa: str,
                 constant: ConstFn, name: str, contiguous: bool, flat: bool) -> None:
        self.kernel = kernel
        self.layout = layout
        self.isa = isa
        self.bufs = buffer_nodes(kernel, layout)
        fnty = ir.FunctionType(I32, [PTR] * len(self.bufs) + [PTR, I64, I64, PTR])
        self.fn = fn = ir.Function(module, fnty, name)
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        for i, _n in enumerate(self.bufs):
            fn.args[i].add_attribute("noalias")
        args, self.lo, self.hi, self.scratch = fn.args[len(self.bufs):]
        args.add_attribute("noalias")
        entry = fn.append_basic_block("entry")
        body = fn.append_basic_block("body")
        self.b = b = ir.IRBuilder(body)
        pointers = {id(n): fn.args[i] for i, n in enumerate(self.bufs)}
        by_word = {layout.word[id(n)]: fn.args[i] for i, n in enumerate(self.bufs)}
        for n in kernel.outputs:  # in-place outputs: the input's pointer (see abi.inplace_outputs)
            if layout.has(n):
                pointers.setdefault(id(n), by_word[layout.word[id(n)]])
        if kernel.anchor is not None and kernel.alias is not kernel.anchor:
            pointers[id(kernel.anchor)] = pointers[id(kernel.alias)]
        self.env = FnEnv(b, entry, args, layout, pointers, contiguous)
        leaves = {id(n) for n in kernel.inputs} | ({id(kernel.anchor)} if kernel.anchor is not None else set())
        self.expr = Expr(self.env, isa, leaves, flat=flat, constant=constant)
        self.entry = entry

    def finish(self) -> ir.Function:
        self.b.ret(self.env.error_code())
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])
        return self.fn


def emit_loop_body(bb: BodyBuilder) -> ir.Function:
    k, b, ex = bb.kernel, bb.b, bb.expr
    outs = [o for o in k.outputs if o is not k.anchor]
    if ex.flat:
        _emit_flat(bb, outs)
        return bb.finish()
    env = bb.env
    if not k.space:
        with b.if_then(b.icmp_signed("<", bb.lo, bb.hi)):
            ex.reset()
            for o in outs:
                ex.store(o, [], ex.value(o, []))
        return bb.finish()
    outer = env.dims(k.space[:-1])
    inner = env.dim(k.space[-1])
    with for_range(b, bb.lo, bb.hi, "r") as r:
        oidx = delinearize(b, r, outer)
        with for_range(b, i64(0), inner) as i:
            ex.reset()
            idx = oidx + [i]
            for o in outs:
                ex.store(o, idx, ex.value(o, idx))
    return bb.finish()


def _emit_flat(bb: BodyBuilder, outs: list[Node]) -> None:
    """``[lo, hi)`` as one loop; with outputs that stream (see ``stream_flag``), whole lines
    from ``lo`` go out as non-temporal stores and only the last partial line takes the plain
    loop. Thread chunks start on multiples of ``module.FLAT_ALIGN`` elements, whole lines of an
    aligned buffer; a ``lo`` that is not (never, today) makes this call plain instead."""
    b, ex = bb.b, bb.expr
    stream = stream_flag(bb, outs)
    start = bb.lo
    if stream is not None:
        lanes = LINE // outs[0].dtype.itemsize
        stream = b.and_(stream, b.icmp_unsigned("==", b.and_(bb.lo, i64(lanes - 1)), i64(0)))
        lines = b.sdiv(b.sub(bb.hi, bb.lo), i64(lanes))
        with b.if_then(stream):
            with for_range(b, i64(0), lines, "nt", unroll=False) as line:
                j0 = b.add(bb.lo, b.mul(line, i64(lanes)))
                store_line(bb, outs, lambda lane, j0=j0: [b.add(j0, lane)])
        start = b.select(stream, b.add(bb.lo, b.mul(lines, i64(lanes))), bb.lo)
    with for_range(b, start, bb.hi) as i:
        ex.reset()
        for o in outs:
            ex.store(o, [i], ex.value(o, [i]))
    if stream is not None:
        sfence(b, stream)


def _depends(node: Node, targets: set[int], members: set[int], memo: dict[int, bool]) -> bool:
    """Does ``node`` (inside the kernel) read any reduction in ``targets``?"""
    if id(node) in memo:
        return memo[id(node)]
    r = False
    for a in node.args:
        if id(a) in members and (id(a) in targets or _depends(a, targets, members, memo)):
            r = True
            break
    memo[id(node)] = r
    return r


def reduction_phases(kernel: Kernel) -> list[list[Node]]:
    """Reductions grouped into passes over the row: each pass needs only earlier passes."""
    members = {id(n) for n in kernel.nodes}
    pending = [n for n in kernel.nodes if id(n) in kernel.reduce_maps]
    phases: list[list[Node]] = []
    while pending:
        ids = {id(n) for n in pending}
        memo: dict[int, bool] = {}
        ready = [n for n in pending if not _depends(n.args[0], ids, members, memo)]
        phases.append(ready)
        pending = [n for n in pending if all(n is not r for r in ready)]
    return phases


def bail_if_empty(bb: BodyBuilder, nred: ir.Value) -> None:
    """max/min/argmax/argmin over an empty axis: NumPy raises even when there are no rows, so
    the kernel returns the error before touching anything (any/all have identities)."""
    k, b, env = bb.kernel, bb.b, bb.env
    needs_items = [n for n in k.nodes if n.op in ("argmax", "argmin")
                   or (n.op in ("reduce_max", "reduce_min") and n.dtype.kind != "b")]
    if not needs_items:
        return
    empty = b.icmp_signed("==", nred, i64(0))
    code = abi.ERR_EMPTY_ARG if any(n.op.startswith("arg") for n in needs_items) else abi.ERR_EMPTY_REDUCE
    env.raise_if(empty, code)
    cont = b.append_basic_block("nonempty")
    bail = b.append_basic_block("empty")
    b.cbranch(empty, bail, cont)
    b.position_at_end(bail)
    b.ret(ir.Constant(I32, code))
    b.position_at_end(cont)


def emit_row_body(bb: BodyBuilder) -> ir.Function:
    k, b, ex, env = bb.kernel, bb.b, bb.expr, bb.env
    nouter = len(k.outer)
    outer = env.dims(k.outer)
    red = env.dims(k.space[nouter:])
    nred = product(b, red)
    bail_if_empty(bb, nred)
    phases = reduction_phases(k)
    full = tuple(range(len(k.space)))
    if is_chunked(k):  # [lo, hi) are chunks of the one reduced dim; partials go to scratch
        (phase,) = phases
        ch = chunk_size(b, nred)
        with for_range(b, bb.lo, bb.hi, "c") as c:
            start = b.mul(c, ch)
            stop = b.add(start, ch)
            stop = b.select(b.icmp_signed("<", stop, nred), stop, nred)
            raw = _emit_phase(bb, phase, [], red, (start, stop))
            for j, (a, t) in enumerate(raw):
                slot = b.gep(bb.scratch, [b.add(b.mul(c, i64(len(raw))), i64(j))], source_etype=I64)
                b.store(b.load(t, typ=a.ty), slot)
        return bb.finish()
    stash = _stash_plan(k, phases)
    row_outs = [o for o in k.outputs if k.maps[id(o)] == full and red]
    stream = stream_flag(bb, row_outs, red) if not stash and len(red) == 1 and k.outer else None
    with for_range(b, bb.lo, bb.hi, "r") as r:
        oidx = delinearize(b, r, outer)
        ex.reduced = {}
        prefetch_next_row(bb, r, outer, red)
        for pi, phase in enumerate(phases):
            _emit_phase(bb, phase, oidx, red, stash={e: o for e, (o, p) in stash.items() if p == pi})
        ex.reset()
        for o in k.outputs:
            if k.maps[id(o)] != full or not red:
                ex.store(o, oidx, ex.value(o, oidx))
        if row_outs and stream is not None:
            with b.if_else(stream) as (streamed, cached):
                with streamed:
                    store_row_streaming(bb, row_outs, oidx, red[0])
                with cached:
                    _nest(b, red, lambda ridx: _store_all(ex, row_outs, oidx + ridx, stash))
        elif row_outs:
            _nest(b, red, lambda ridx: _store_all(ex, row_outs, oidx + ridx, stash))
    if stream is not None:
        sfence(b, stream)
    return bb.finish()


def _stash_plan(k: Kernel, phases: list[list[Node]]) -> dict[int, tuple[Node, int]]:
    """Expensive row values (exp in softmax) a reduction pass computes and a row output needs
    again: the pass also writes them into that output's buffer, the output pass reloads them
    instead of recomputing. id(value) -> (output whose buffer holds it, pass index)."""
    from ..vecmath import MATH_OPS

    full = tuple(range(len(k.space)))
    if not k.reduce_maps or any(m != full for m in k.reduce_maps.values()):
        return {}
    members = {id(n) for n in k.nodes}
    outs = [o for o in k.outputs if k.maps[id(o)] == full]
    reds = set(k.reduce_maps)
    in_out = {o: reachable(o, members, reds) for o in outs}
    plan: dict[int, tuple[Node, int]] = {}
    used: set[int] = set()
    for n in k.nodes:
        if n.op not in MATH_OPS or k.maps.get(id(n)) != full:
            continue
        last = max((pi for pi, ph in enumerate(phases)
                    if any(id(n) in reachable(r.args[0], members, reds) for r in ph)), default=None)
        target = next((o for o in outs if o is not n and id(o) not in used and o.dtype == n.dtype
                       and id(n) in in_out[o]), None)
        if last is not None and target is not None:
            plan[id(n)] = (target, last)
            used.add(id(target))
    return plan


CHUNK_MIN = 1 << 16
MAX_CHUNKS = 1024


def is_chunked(k: Kernel) -> bool:
    """A full reduction over one dim: split into fixed chunks (parallel), partials combined
    pairwise afterwards. Chunks depend only on the length, so results never depend on threads.
    A static length of at most ``CHUNK_MIN`` is one chunk, below ``PARALLEL_MIN``: a plain row
    (the same sums; the chunk loop and its finish cost ~1/3 of a small program's compile)."""
    if k.kind != "row" or k.outer or k.reduce_ndim != 1 or any(o.ndim for o in k.outputs):
        return False
    if isinstance(k.space[-1], int) and k.space[-1] <= CHUNK_MIN:
        return False
    phases = reduction_phases(k)
    return len(phases) == 1 and not any(n.op.startswith("arg") for n in phases[0])


def chunk_size(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """max(CHUNK_MIN, ceil(n / MAX_CHUNKS) rounded up to BLOCK): at most MAX_CHUNKS chunks."""
    per = b.udiv(b.add(n, i64(MAX_CHUNKS - 1)), i64(MAX_CHUNKS))
    per = b.mul(b.udiv(b.add(per, i64(BLOCK - 1)), i64(BLOCK)), i64(BLOCK))
    return b.select(b.icmp_signed("<", per, i64(CHUNK_MIN)), i64(CHUNK_MIN), per)


def emit_chunk_finish(bb: BodyBuilder) -> ir.Function:
    """Combine the chunk partials in scratch (carry-stack pairwise) and store the outputs."""
    k, b, ex = bb.kernel, bb.b, bb.expr
    (phase,) = reduction_phases(k)
    hb = bb.env._hoisted()
    accs = [Acc(n) for n in phase]
    blocks = [hb.alloca(a.ty, name="part") for a in accs]
    stacks = [hb.alloca(a.ty, size=i64(64), name="stack") for a in accs]
    sp = hb.alloca(I64, name="sp")
    cnt = hb.alloca(I64, name="carry")
    b.store(i64(0), sp)
    with for_range(b, bb.lo, bb.hi, "c") as c:
        for j, (a, bl) in enumerate(zip(accs, blocks)):
            slot = b.gep(bb.scratch, [b.add(b.mul(c, i64(len(accs))), i64(j))], source_etype=I64)
            b.store(b.load(slot, typ=a.ty), bl)
        _carry(b, accs, blocks, stacks, sp, cnt, c)
    ex.reduced = {}
    for a, bl, st in zip(accs, blocks, stacks):
        b.store(a.identity(), bl)
        n = b.load(sp, typ=I64)
        with for_range(b, i64(0), n, "s") as s:
            ptr = b.gep(st, [b.sub(b.sub(n, s), i64(1))], source_etype=a.ty)
            b.store(a.combine(b, b.load(ptr, typ=a.ty), b.load(bl, typ=a.ty)), bl)
        ex.reduced[id(a.node)] = a.finish(b, b.load(bl, typ=a.ty))
    ex.reset()
    for o in k.outputs:
        ex.store(o, [], ex.value(o, []))
    return bb.finish()


COLUMN_TILE = 64


def is_column(k: Kernel) -> bool:
    """Reductions that keep the innermost input dim (``x.sum(axis=0)``): reading along the
    reduced dim would stride through memory, so tiles of output elements accumulate row by
    row instead (contiguous vector loads; per element the order is serial, like NumPy's)."""
    if k.kind != "row" or not k.outer or any(o.ndim != len(k.outer) for o in k.outputs):
        return False
    phases = reduction_phases(k)
    last = len(k.outer) - 1
    return (len(phases) == 1 and not any(n.op.startswith("arg") for n in phases[0])
            and all(m[-1] == last for m in k.reduce_maps.values()))


def column_tiles(b: ir.IRBuilder, inner: ir.Value) -> ir.Value:
    return b.udiv(b.add(inner, i64(COLUMN_TILE - 1)), i64(COLUMN_TILE))


def emit_column_body(bb: BodyBuilder) -> ir.Function:
    k, b, ex, env = bb.kernel, bb.b, bb.expr, bb.env
    (phase,) = reduction_phases(k)
    nouter = len(k.outer)
    outer = env.dims(k.outer)
    red = env.dims(k.space[nouter:])
    inner = outer[-1]
    bail_if_empty(bb, product(b, red))  # the column path must refuse empty max/min like the row path
    tiles = column_tiles(b, inner)
    hb = env._hoisted()
    accs = [Acc(n) for n in phase]
    arrays = [hb.alloca(a.ty, size=i64(COLUMN_TILE), name="cols") for a in accs]
    with for_range(b, bb.lo, bb.hi, "t") as t:
        rest = delinearize(b, b.udiv(t, tiles), outer[:-1])
        j0 = b.mul(b.urem(t, tiles), i64(COLUMN_TILE))
        w = b.sub(inner, j0)
        w = b.select(b.icmp_signed("<", w, i64(COLUMN_TILE)), w, i64(COLUMN_TILE))
        with for_range(b, i64(0), w, "j") as j:
            for a, arr in zip(accs, arrays):
                b.store(a.identity(), b.gep(arr, [j], source_etype=a.ty))

        def accumulate(ridx: list[ir.Value]) -> None:
            with for_range(b, i64(0), w, "j") as j:
                ex.reset()
                space_idx = rest + [b.add(j0, j)] + ridx
                for a, arr in zip(accs, arrays):
                    x = a.widen(b, ex.value(a.node.args[0], [space_idx[m] for m in k.reduce_maps[id(a.node)]]))
                    p = b.gep(arr, [j], source_etype=a.ty)
                    b.store(a.combine(b, b.load(p, typ=a.ty), x), p)

        _nest(b, red, accumulate)
        with for_range(b, i64(0), w, "j") as j:
            ex.reset()
            oidx = rest + [b.add(j0, j)]
            ex.reduced = {id(a.node): a.finish(b, b.load(b.gep(arr, [j], source_etype=a.ty), typ=a.ty))
                          for a, arr in zip(accs, arrays)}
            for o in k.outputs:
                ex.store(o, oidx, ex.value(o, oidx))
    return bb.finish()


def _store_all(ex: Expr, outs: list[Node], idx: list[ir.Value],
               stash: dict[int, tuple[Node, int]] | None = None) -> None:
    ex.reset()
    for e, (o, _) in (stash or {}).items():
        ex.memo[(e, tuple(id(i) for i in idx))] = ex.load(o, idx)
    for o in outs:
        ex.store(o, idx, ex.value(o, idx))


def _nest(b: ir.IRBuilder, dims: list[ir.Value], body: Callable[[list[ir.Value]], None],
          idx: list[ir.Value] | None = None) -> None:
    idx = idx or []
    if len(idx) == len(dims):
        body(idx)
        return
    with for_range(b, i64(0), dims[len(idx)], f"j{len(idx)}") as j:
        _nest(b, dims, body, idx + [j])


def _emit_phase(bb: BodyBuilder, phase: list[Node], oidx: list[ir.Value], red: list[ir.Value],
                span: tuple[ir.Value, ir.Value] | None = None,
                stash: dict[int, Node] | None = None) -> list[tuple[Acc, ir.Value]]:
    """One pass over the reduced dims computing every reduction of ``phase`` for this row."""
    b, ex, k = bb.b, bb.expr, bb.kernel
    hb = bb.env._hoisted()
    accs = [Acc(n) for n in phase]
    totals = [hb.alloca(a.ty, name="total") for a in accs]
    blocks = [hb.alloca(a.ty, name="blk") for a in accs]
    stacks = [hb.alloca(a.ty, size=i64(64), name="stack") if a.pairwise else None for a in accs]
    bests = [hb.alloca(I64, name="argbest") if a.is_arg else None for a in accs]
    sp = hb.alloca(I64, name="sp")
    cnt_slot = hb.alloca(I64, name="carry")
    for a, t, bi in zip(accs, totals, bests):
        b.store(a.identity(), t)
        if bi is not None:
            b.store(i64(0), bi)
    inner = red[-1]

    def point(ridx: list[ir.Value], flat_j: ir.Value, accs_into: list[ir.Value]) -> None:
        ex.reset()
        space_idx = oidx + ridx
        for a, slot, bi in zip(accs, accs_into, bests):
            rmap = k.reduce_maps[id(a.node)]
            x = a.widen(b, ex.value(a.node.args[0], [space_idx[m] for m in rmap]))
            cur = b.load(slot, typ=a.ty)
            if a.is_arg:
                better = a.better(b, x, cur)
                b.store(b.select(better, x, cur), slot)
                b.store(b.select(better, flat_j, b.load(bi, typ=I64)), bi)
            else:
                b.store(a.combine(b, cur, x, in_block=a.pairwise), slot)
        for e, o in (stash or {}).items():
            v = ex.memo.get((e, tuple(id(i) for i in space_idx)))
            if v is not None:
                ex.store(o, space_idx, v)

    def row(ridx_outer: list[ir.Value]) -> None:
        # blocked pairwise over the innermost reduced dim; running accumulators use `totals`
        if span is None and isinstance(inner, ir.Constant) and 0 < inner.constant <= BLOCK:
            one_block(ridx_outer)
            return
        b.store(i64(0), sp)
        start, stop = span if span is not None else (i64(0), inner)
        nblk = b.udiv(b.add(b.sub(stop, start), i64(BLOCK - 1)), i64(BLOCK))
        with for_range(b, i64(0), nblk, "blk") as blk:
            for a, bl in zip(accs, blocks):
                if a.pairwise:
                    b.store(a.identity(), bl)
            lo = b.add(start, b.mul(blk, i64(BLOCK)))
            hi = b.add(lo, i64(BLOCK))
            hi = b.select(b.icmp_signed("<", hi, stop), hi, stop)
            slots = [bl if a.pairwise else t for a, bl, t in zip(accs, blocks, totals)]
            with for_range(b, lo, hi, "e") as e:
                point(ridx_outer + [e], e, slots)
            if any(a.pairwise for a in accs):
                _carry(b, accs, blocks, stacks, sp, cnt_slot, blk)
        for a, t, bl, st in zip(accs, totals, blocks, stacks):
            if st is None:
                continue
            b.store(a.identity(), bl)  # fold the stack, top first, then into the running total
            n = b.load(sp, typ=I64)
            with for_range(b, i64(0), n, "s") as s:
                ptr = b.gep(st, [b.sub(b.sub(n, s), i64(1))], source_etype=a.ty)
                b.store(a.combine(b, b.load(ptr, typ=a.ty), b.load(bl, typ=a.ty)), bl)
            b.store(a.combine(b, b.load(t, typ=a.ty), b.load(bl, typ=a.ty)), t)
    def one_block(ridx_outer: list[ir.Value]) -> None:
        """A static row of at most BLOCK elements: what ``row`` computes for one block,
        without the block loop and the carry stack (less IR for LLVM to optimize away)."""
        for a, bl in zip(accs, blocks):
            if a.pairwise:
                b.store(a.identity(), bl)
        slots = [bl if a.pairwise else t for a, bl, t in zip(accs, blocks, totals)]
        with for_range(b, i64(0), inner, "e") as e:
            point(ridx_outer + [e], e, slots)
        for a, t, bl in zip(accs, totals, blocks):
            if a.pairwise:  # the stack holds this one block: fold it as ``row`` does
                folded = a.combine(b, b.load(bl, typ=a.ty), a.identity())
                b.store(a.combine(b, b.load(t, typ=a.ty), folded), t)

    _nest(b, red[:-1], row)
    for a, t, bi in zip(accs, totals, bests):
        ex.reduced[id(a.node)] = b.load(bi, typ=I64) if bi is not None else a.finish(b, b.load(t, typ=a.ty))
    return list(zip(accs, totals))


def _carry(b: ir.IRBuilder, accs: list[Acc], blocks: list[ir.Value], stacks: list, sp: ir.Value,
           cnt_slot: ir.Value, blk: ir.Value) -> None:
    """Push this block's partial sums; merge equal-sized partials (binary counter of blk+1)."""
    b.store(b.add(blk, i64(1)), cnt_slot)
    head = b.append_basic_block("carry.head")
    body = b.append_basic_block("carry.body")
    done = b.append_basic_block("carry.done")
    b.branch(head)
    b.position_at_end(head)
    cnt = b.load(cnt_slot, typ=I64)
    b.cbranch(b.icmp_unsigned("==", b.and_(cnt, i64(1)), i64(0)), body, done)
    b.position_at_end(body)
    top = b.sub(b.load(sp, typ=I64), i64(1))
    b.store(top, sp)
    for a, bl, st in zip(accs, blocks, stacks):
        if st is not None:
            ptr = b.gep(st, [top], source_etype=a.ty)
            b.store(a.combine(b, b.load(ptr, typ=a.ty), b.load(bl, typ=a.ty)), bl)
    b.store(b.lshr(cnt, i64(1)), cnt_slot)
    b.branch(head)
    b.position_at_end(done)
    pos = b.load(sp, typ=I64)
    for a, bl, st in zip(accs, blocks, stacks):
        if st is not None:
            b.store(b.load(bl, typ=a.ty), b.gep(st, [pos], source_etype=a.ty))
    b.store(b.add(pos, i64(1)), sp)


__all__ = ["BodyBuilder", "emit_loop_body", "emit_row_body", "is_flat", "reg_type", "I1"]

"""Build the LLVM module of a whole program: every kernel plus one C-ABI entry point.

``int32 <name>(int64 *args)`` (layout in :mod:`.abi`) runs the kernels in order and returns
0 or the first error code. Per kernel it picks a version at run time — generic strides,
unit-innermost-stride inputs, or one flat loop when every access is the identity — and runs it on
one thread or, above ``PARALLEL_MIN`` elements, on up to ``threads`` threads of the process's
pool (:mod:`.threadpool`), which the caller joins. Chunks of the parallel range are aligned
(1024 elements for flat loops) so every element takes the same code path whatever thread runs
it and however many there are: results are bitwise independent of both. This module only
builds IR; :mod:`fusejit.runtime.engine` compiles it.

Glue — the entry, the BLAS calls (not the inline loops of other dtypes' dots), the
Python-facing wrapper (:mod:`.pyentry`) — is marked :func:`glue`: LLVM neither optimizes it nor
selects its instructions carefully. It runs once per call, in nanoseconds, and at O3 it took 40%
of LLVM's time on the MNIST step; the kernels it calls keep O3 (never inlined into it).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir import Graph, Node
from ...passes.fusion import FusionPlan, Kernel
from . import abi, threadpool
from .blas import calls_blas, emit_dot
from .conv import CONV_OPS, emit_conv
from .conv import uses_pool as conv_uses_pool
from .kernels import (
    MAX_CHUNKS,
    BodyBuilder,
    buffer_nodes,
    chunk_size,
    column_tiles,
    emit_chunk_finish,
    emit_column_body,
    emit_loop_body,
    emit_row_body,
    is_chunked,
    is_column,
    is_flat,
)
from .loops import product
from .profiling import Stamps
from .scan import emit_scan
from .scatter import emit_scatter
from .types import I8, I32, I64, PTR, i64

# Elements; below this one thread. Measured with bench_cpu_backend.py's thread_crossover protocol
# (2 cores shared with other jobs, load 6-14): when the second core was free, back-to-back calls
# gained x1.3 at 2^16 and x1.7-1.9 at 2^17-2^19; when it is not, a parallel call costs <= 1 us
# more than one thread (the caller runs the chunks). After a 10 ms idle gap the worker sleeps:
# waking it costs the caller 5-17 us (x0.86-0.96 at 2^16-2^17; libgomp's join cost ~80 us).
PARALLEL_MIN = 1 << 16
FLAT_ALIGN = 1024
MAX_THREADS = 64
CHUNKS_PER_THREAD = 8  # a late or descheduled worker holds up at most one small chunk
GENERIC, CONTIGUOUS, FLAT = 0, 1, 2
GENERIC_FN = ir.FunctionType(I32, [PTR, I64, I64, PTR])  # a lazily compiled generic version
ERR_NEED_GENERIC = 101  # lazy module: a kernel needs its generic-stride version, not compiled yet


@dataclass
class CpuModule:
    module: ir.Module
    layout: abi.ArgLayout
    plan: FusionPlan
    entry: str
    threads: int
    lazy_generic: tuple[int, ...] = ()  # kernels whose generic version lives in build_generic_module
    profile_steps: tuple[tuple[int, str], ...] = ()  # profiling variant: (kernel, part) per timestamp after the first
    external: dict[int, str] | None = None  # constants outside the module (:mod:`.weights`)

    def generic_pointer(self, ki: int) -> str:
        """The global the runtime sets to the address of kernel ``ki``'s generic version."""
        return f"{self.entry}_genptr{ki}"

    def generic_function(self, ki: int) -> str:
        return f"{self.entry}_gen{ki}"

    @property
    def llvm_ir(self) -> str:
        return str(self.module)


class _Consts:
    """Constant arrays as module globals; those in ``external`` (``id(node) -> symbol``, JIT only) are
    declared and resolved to buffers of the process (:mod:`.weights`)."""

    def __init__(self, module: ir.Module, external: dict[int, str] | None = None) -> None:
        self.module = module
        self.external = external or {}
        self.globals: dict[int, ir.GlobalVariable] = {}

    def __call__(self, node: Node) -> ir.Value:
        g = self.globals.get(id(node))
        if g is None and id(node) in self.external:
            symbol = self.external[id(node)]
            ty = ir.ArrayType(I8, node.attrs["value"].size * node.dtype.itemsize)
            g = self.module.globals.get(symbol) or ir.GlobalVariable(self.module, ty, symbol)
            g.global_constant = True
            g.align = 64
            self.globals[id(node)] = g
        elif g is None:
            data = np.ascontiguousarray(node.attrs["value"], dtype=node.dtype).tobytes()
            ty = ir.ArrayType(I8, len(data))
            g = ir.GlobalVariable(self.module, ty, f"const{len(self.globals)}")
            g.global_constant = True
            g.linkage = "internal"
            g.align = 64
            g.initializer = ir.Constant(ty, bytearray(data))
            self.globals[id(node)] = g
        return g


def glue(fn: ir.Function) -> ir.Function:
    """Mark ``fn`` as straight-line glue: compiled unoptimized (``optnone``, which needs
    ``noinline``). Whatever it calls must not be ``alwaysinline``: that would be compiled unoptimized too."""
    fn.attributes.add("optnone")
    fn.attributes.add("noinline")
    return fn


def build_module(graph: Graph, plan: FusionPlan, *, isa: str, threads: int = 1,
                 name: str = "fj_main", blas_ilp64: bool = False, lazy_generic: bool = False,
                 donate: dict[int, int] | None = None, layout: abi.ArgLayout | None = None,
                 profile: bool = False, external: dict[int, str] | None = None) -> CpuModule:
    """The LLVM module (and its argument layout) for ``plan``; nothing is compiled here.
    ``blas_ilp64``: ``fj_sgemm``/``fj_dgemm`` take 64-bit integers (default: Fortran ``int``).

    ``lazy_generic`` (JIT): generic-stride versions are left out — about half the compile
    time. A kernel then calls its generic version through a global pointer
    (``generic_pointer``) and returns ``ERR_NEED_GENERIC`` while it is null; the runtime
    compiles :func:`build_generic_module`, sets the pointers and calls again (the entry never
    writes its inputs before that, so a second call is a clean rerun).
    ``donate``: outputs that may be written over inputs (:func:`.abi.inplace_outputs`).
    ``layout``: the one already made of ``plan`` (with its donations) by the caller, if any.
    ``profile``: the profiling variant (:class:`.profiling.Stamps`): the entry stores a monotonic timestamp
    before the first step and after every step; without it no instrumentation is emitted at all.
    ``external``: constants declared, not defined (:mod:`.weights`; JIT only)."""
    module = ir.Module(name)
    layout = layout if layout is not None else abi.ArgLayout(graph, plan, donate)
    consts = _Consts(module, external)
    entry = glue(ir.Function(module, ir.FunctionType(I32, [PTR]), name))
    entry.args[0].add_attribute("noalias")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    args = entry.args[0]
    threads = max(1, min(int(threads), MAX_THREADS))
    nacc = max((len(k.reduce_maps) for k in plan.kernels if is_chunked(k)), default=0)
    scratch = b.alloca(I64, size=i64(max(1, MAX_CHUNKS * nacc)), name="partials")
    lazy: list[int] = []
    stamp = Stamps(module, b, name) if profile else None
    for ki, k in enumerate(plan.kernels):
        _kernel_steps(module, graph, plan, layout, b, args, ki, k, isa, consts, threads, scratch, name,
                      blas_ilp64, lazy_generic, lazy, stamp)
    if stamp is not None:
        stamp.finish()
        assert tuple(stamp.steps) == profile_steps(plan), "profile_steps disagrees with the emitted entry"
    b.ret(ir.Constant(I32, 0))
    return CpuModule(module, layout, plan, name, threads, tuple(lazy), tuple(stamp.steps) if stamp else (),
                     external)


def profile_steps(plan: FusionPlan) -> tuple[tuple[int, str], ...]:
    """(kernel, part) of every timestamp after the first in the profiling variant's entry — what
    :func:`_kernel_steps` marks, known without building the module (for a disk-cache hit)."""
    steps: list[tuple[int, str]] = []
    for ki, k in enumerate(plan.kernels):
        if k.kind == "dot":
            conv = k.anchor is not None and k.anchor.op in CONV_OPS
            steps.append((ki, "blas" if not conv and calls_blas(k) else "main"))
            if len(k.nodes) > 1:
                steps.append((ki, "epilogue"))
        else:
            steps.append((ki, "main"))
    return tuple(steps)


def _kernel_steps(module: ir.Module, graph: Graph, plan: FusionPlan, layout: abi.ArgLayout, b: ir.IRBuilder,
                  args: ir.Value, ki: int, k: Kernel, isa: str, consts: _Consts, threads: int, scratch: ir.Value,
                  name: str, blas_ilp64: bool, lazy_generic: bool, lazy: list[int], stamp: Stamps | None) -> None:
    """Emit the calls that run kernel ``ki`` into the entry (``stamp``: after each of its steps)."""
    def mark(part: str) -> None:
        if stamp is not None:
            stamp(ki, part)

    if k.kind == "scan":  # on one thread: splitting its lines over two measured no gain here
        assert k.anchor is not None
        lines = product(b, [_dim(b, args, layout, d) for d in k.space[:k.anchor.attrs["axis"]]])
        kern = emit_scan(module, k, layout, f"scan{ki}", consts)
        _check(b, b.call(kern, [args, ir.Constant(I32, GENERIC), i64(0), lines, scratch]))
        return mark("main")
    if k.kind == "scatter":
        _check(b, b.call(emit_scatter(module, k, layout, f"scatter{ki}", consts), [args]))
        return mark("main")
    if k.kind == "dot" and k.anchor is not None and k.anchor.op in CONV_OPS:
        _check(b, b.call(emit_conv(module, k, layout, f"conv{ki}", isa, consts, threads), [args]))
        mark("main")
        if len(k.nodes) == 1:
            return
    elif k.kind == "dot":
        dot = emit_dot(module, k, layout, f"dot{ki}", consts, blas_ilp64)
        if calls_blas(k):  # else its loop is inline: keeps O3
            glue(dot)
        _check(b, b.call(dot, [args]))
        mark("blas" if calls_blas(k) else "main")
        if len(k.nodes) == 1:
            return
    pointer = None
    if lazy_generic and ki in generic_kernels(graph, plan):
        lazy.append(ki)
        pointer = ir.GlobalVariable(module, PTR, f"{name}_genptr{ki}")
        pointer.initializer = ir.Constant(PTR, None)
    kern, flat = _kernel_fn(module, k, layout, isa, consts, ki, pointer)
    _run(b, module, graph, layout, k, ki, kern, flat, args, threads, scratch,
         stamp.chunk_wrapper(kern, ki) if stamp is not None and parallel(k, threads) else kern)
    if is_chunked(k):
        fin = emit_chunk_finish(BodyBuilder(module, k, layout, isa, consts, f"k{ki}.finish", True, False))
        fin.attributes.discard("alwaysinline")  # its loops keep O3: not inlined into the glue
        fin.attributes.add("noinline")
        ptrs = _buffer_pointers(b, args, k, layout)
        n = _dim(b, args, layout, k.space[0])
        nchunks = b.udiv(b.add(n, b.sub(chunk_size(b, n), i64(1))), chunk_size(b, n))
        _check(b, b.call(fin, [*ptrs, args, i64(0), nchunks, scratch]))
    mark("epilogue" if k.kind == "dot" else "main")


def build_generic_module(cm: CpuModule, isa: str) -> ir.Module:
    """The generic-stride versions left out of a ``lazy_generic`` module: one exported
    ``i32 <entry>_gen<ki>(ptr args, i64 lo, i64 hi, ptr scratch)`` per kernel."""
    module = ir.Module(f"{cm.entry}_generic")
    consts = _Consts(module, cm.external)
    for ki in cm.lazy_generic:
        k = cm.plan.kernels[ki]
        body = _emitter(k)(BodyBuilder(module, k, cm.layout, isa, consts, f"k{ki}.generic", False, False))
        fn = ir.Function(module, GENERIC_FN, cm.generic_function(ki))
        args, lo, hi, scratch = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        b.ret(b.call(body, [*_buffer_pointers(b, args, k, cm.layout), args, lo, hi, scratch]))
    return module


def _emitter(k: Kernel):
    return (emit_column_body if is_column(k) else emit_row_body) if k.kind == "row" else emit_loop_body


def _buffer_pointers(b: ir.IRBuilder, args: ir.Value, k: Kernel, layout: abi.ArgLayout) -> list[ir.Value]:
    return [b.load(b.gep(args, [i64(layout.word[id(n)])], source_etype=I64), typ=PTR)
            for n in buffer_nodes(k, layout)]


def generic_kernels(graph: Graph, plan: FusionPlan) -> tuple[int, ...]:
    """Kernels with a lazily compiled generic-stride version (they read a graph input that has
    strides). Not scans nor scatters (one version each, strided, whatever they fuse) nor a bare
    ``dot`` (BLAS takes strides): :func:`build_module` gives none of them a pointer to set."""
    return tuple(ki for ki, k in enumerate(plan.kernels)
                 if k.kind not in ("scan", "scatter") and not (k.kind == "dot" and len(k.nodes) == 1)
                 and _reads_inputs(k, graph))


def _check(b: ir.IRBuilder, rc: ir.Value) -> None:
    with b.if_then(b.icmp_signed("!=", rc, ir.Constant(I32, 0)), likely=False):
        b.ret(rc)


def _reads_inputs(k: Kernel, graph: Graph) -> list[Node]:
    ids = {id(n) for n in graph.inputs}
    return [n for n in k.inputs if id(n) in ids and any(d != 1 for d in n.shape)]


def _kernel_fn(module: ir.Module, k: Kernel, layout: abi.ArgLayout, isa: str, consts: _Consts,
               ki: int, pointer: ir.GlobalVariable | None = None) -> tuple[ir.Function, bool]:
    """``i32 kern(ptr args, i32 mode, i64 lo, i64 hi)`` dispatching to the kernel's versions.
    With ``pointer`` the generic version is called through it (see ``lazy_generic``)."""
    emit = _emitter(k)
    generic = pointer is None and bool(_reads_inputs(k, layout.graph))
    flat = _is_flat(k) and len(k.space) >= 1  # 1-d too: its flat range is what threads split
    # a flat kernel never runs its nd contiguous version: flat covers contiguous inputs
    versions = {FLAT: emit(BodyBuilder(module, k, layout, isa, consts, f"k{ki}.flat", True, True))} if flat else {
        CONTIGUOUS: emit(BodyBuilder(module, k, layout, isa, consts, f"k{ki}.contig", True, False))}
    if generic:
        versions[GENERIC] = emit(BodyBuilder(module, k, layout, isa, consts, f"k{ki}.generic", False, False))
    fn = ir.Function(module, ir.FunctionType(I32, [PTR, I32, I64, I64, PTR]), f"kern{ki}")
    fn.linkage = "internal"
    fn.attributes.add("noinline")  # called from the entry and the thread trampoline: one copy
    args, mode, lo, hi, scratch = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    if pointer is not None:
        with b.if_then(b.icmp_signed("==", mode, ir.Constant(I32, GENERIC)), likely=False):
            target = _FnPointerLoad(b.block, pointer, typ=PTR)
            b._insert(target)
            with b.if_then(b.icmp_unsigned("==", target, ir.Constant(PTR, None)), likely=False):
                b.ret(ir.Constant(I32, ERR_NEED_GENERIC))
            b.ret(b.call(target, [args, lo, hi, scratch]))
    ptrs = _buffer_pointers(b, args, k, layout)
    last = list(versions.values())[-1]
    for v, f in list(versions.items())[:-1]:
        with b.if_then(b.icmp_signed("==", mode, ir.Constant(I32, v))):
            b.ret(b.call(f, [*ptrs, args, lo, hi, scratch]))
    b.ret(b.call(last, [*ptrs, args, lo, hi, scratch]))
    return fn, flat


def _is_flat(k: Kernel) -> bool:
    """:func:`.kernels.is_flat`, where a dot's transposed operands (BLAS takes them as a 'T' flag,
    :mod:`.blas`) do not count as reads of the epilogue when nothing else in the kernel uses them:
    ``w - lr * (x.T @ g)`` then runs as one flat loop, not one short loop per row (which cost the
    MNIST step 14% of its LLVM time)."""
    if is_flat(k):
        return True
    if k.kind != "dot" or k.anchor is None:
        return False
    used = {id(a) for n in k.nodes if n is not k.anchor for a in n.args} | {id(o) for o in k.outputs}
    flags = {id(a) for a in k.anchor.args if a.op == "transpose" and id(a) not in used}
    return bool(flags) and is_flat(dataclasses.replace(k, nodes=[n for n in k.nodes if id(n) not in flags]))


class _FnPointerLoad(ir.LoadInstr):
    """An opaque ``ptr`` load that llvmlite accepts as callee: it reads ``function_type``."""

    function_type = GENERIC_FN


def _word(b: ir.IRBuilder, args: ir.Value, w: int) -> ir.Value:
    return b.load(b.gep(args, [i64(w)], source_etype=I64), typ=I64)


def _dim(b: ir.IRBuilder, args: ir.Value, layout: abi.ArgLayout, d: int | str) -> ir.Value:
    return i64(d) if isinstance(d, int) else _word(b, args, layout.symbol_word[d])


def _run(b: ir.IRBuilder, module: ir.Module, graph: Graph, layout: abi.ArgLayout, k: Kernel, ki: int,
         kern: ir.Function, flat: bool, args: ir.Value, threads: int, scratch: ir.Value,
         pool_kern: ir.Function) -> None:
    """Run ``kern`` on the calling thread or, when large, on the pool (``pool_kern``: ``kern``, or in
    the profiling variant a wrapper logging each chunk's thread and times)."""
    contig: ir.Value = ir.Constant(ir.IntType(1), 1)  # every input C-contiguous (flat loops)
    unit: ir.Value = ir.Constant(ir.IntType(1), 1)  # every input has unit innermost stride
    for n in _reads_inputs(k, graph):
        expect: ir.Value = i64(1)
        for j in reversed(range(n.ndim)):
            d = n.shape[j]
            if d != 1:
                ok = b.icmp_signed("==", _word(b, args, layout.stride_word[id(n)] + j), expect)
                contig = b.and_(contig, ok)
                if j == n.ndim - 1:
                    unit = b.and_(unit, ok)
            expect = b.mul(expect, _dim(b, args, layout, d))
    dims = [_dim(b, args, layout, d) for d in k.space]
    work = product(b, dims)
    rows = product(b, dims[:len(k.outer)] if k.kind == "row" else dims[:-1])
    if flat:
        mode = b.select(contig, ir.Constant(I32, FLAT), ir.Constant(I32, GENERIC))
        total = b.select(contig, work, rows)
    else:
        mode = b.select(unit, ir.Constant(I32, CONTIGUOUS), ir.Constant(I32, GENERIC))
        total = rows if k.space else i64(1)
    if is_chunked(k):
        total = b.udiv(b.add(work, b.sub(chunk_size(b, work), i64(1))), chunk_size(b, work))
    elif is_column(k):
        total = b.mul(product(b, dims[:len(k.outer) - 1]), column_tiles(b, dims[len(k.outer) - 1]))
    if parallel(k, threads):
        par = b.and_(b.icmp_signed(">=", work, i64(PARALLEL_MIN)), b.icmp_signed(">", total, i64(1)))
        with b.if_else(par) as (then, other):
            with then:
                align = b.select(b.icmp_signed("==", mode, ir.Constant(I32, FLAT)), i64(FLAT_ALIGN), i64(1))
                rc_par = _parallel(b, module, pool_kern, args, mode, total, align, threads, scratch)
                par_end = b.block
            with other:
                rc_one = b.call(kern, [args, mode, i64(0), total, scratch])
                one_end = b.block
        rc = b.phi(I32)
        rc.add_incoming(rc_par, par_end)
        rc.add_incoming(rc_one, one_end)
    else:
        rc = b.call(kern, [args, mode, i64(0), total, scratch])
    _check(b, rc)


def parallel(k: Kernel, threads: int) -> bool:
    """Does kernel ``k`` get a parallel branch (a call to the thread pool)?"""
    # after BLAS its spinning threads hold the cores; a convolution ran on our own pool
    own = k.kind == "dot" and k.anchor is not None and k.anchor.op in CONV_OPS
    if threads <= 1 or (k.kind in ("dot", "scan", "scatter") and not own):
        return False
    # statically too small to split: no parallel branch to compile
    return not (all(isinstance(d, int) for d in k.space) and math.prod(k.space) < PARALLEL_MIN)


def uses_pool(plan: FusionPlan, threads: int) -> bool:
    """Does the program of ``plan`` call the thread pool (``fj_pool_run``)?"""
    return any(parallel(k, threads) or conv_uses_pool(k, threads) for k in plan.kernels)


def _parallel(b: ir.IRBuilder, module: ir.Module, kern: ir.Function, args: ir.Value, mode: ir.Value,
              total: ir.Value, align: ir.Value, threads: int, scratch: ir.Value) -> ir.Value:
    """Run ``[0, total)`` on the thread pool in chunks of ``align``-multiples, ``CHUNKS_PER_THREAD``
    per thread: workers that are late or not scheduled leave their chunks to the caller."""
    parts = i64(threads * CHUNKS_PER_THREAD)
    chunk = b.udiv(b.add(total, b.sub(parts, i64(1))), parts)
    chunk = b.mul(b.udiv(b.add(chunk, b.sub(align, i64(1))), align), align)
    return b.call(threadpool.declare_run(module),
                  [kern, args, mode, total, chunk, scratch, ir.Constant(I32, threads)])

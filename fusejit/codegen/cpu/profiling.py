"""Instrumentation of the profiling variant of a program (:mod:`fusejit.profiler`); never emitted
into an ordinary program.

- :class:`Stamps`: the entry writes ``clock_gettime(CLOCK_MONOTONIC)`` (Python's
  ``time.monotonic_ns`` clock) into the global ``<entry>_prof`` before its first step and after
  each step.
- :meth:`Stamps.chunk_wrapper`: a kernel run on the thread pool is handed a wrapper that logs
  every chunk it runs — kernel, range, start, end, ``pthread_self()`` (CPython's thread ident on
  Linux) — into ``<entry>_chunks`` (``CHUNK_WORDS`` words per chunk, at most ``MAX_CHUNK_LOG``
  chunks per call; ``<entry>_nchunks`` counts them, reset at each call), so pool workers get
  tracks of their own.

Calls of one program must not overlap while these are read (the runtime serializes them).
"""

from __future__ import annotations

from llvmlite import ir

from .types import I32, I64, PTR, i64

MAX_CHUNK_LOG = 4096
CHUNK_WORDS = 6  # kernel, lo, hi, start ns, end ns, thread
KERN_FN = ir.FunctionType(I32, [PTR, I32, I64, I64, PTR])  # the kernels' signature (module._kernel_fn)


class Stamps:
    def __init__(self, module: ir.Module, b: ir.IRBuilder, name: str) -> None:
        self.module, self.b, self.name = module, b, name
        self.steps: list[tuple[int, str]] = []
        self.now = _now_function(module, name)
        self.table = ir.GlobalVariable(module, PTR, f"{name}_prof_table")  # points at the global below
        ty = ir.ArrayType(I64, MAX_CHUNK_LOG * CHUNK_WORDS)
        self.chunks = ir.GlobalVariable(module, ty, f"{name}_chunks")
        self.chunks.initializer = ir.Constant(ty, None)
        self.nchunks = ir.GlobalVariable(module, I64, f"{name}_nchunks")
        self.nchunks.initializer = i64(0)
        b.store_atomic(i64(0), self.nchunks, "monotonic", 8)
        self._stamp(0)

    def _stamp(self, index: int) -> None:
        b = self.b
        table = b.load(self.table, typ=PTR)
        b.store(b.call(self.now, []), b.gep(table, [i64(index)], source_etype=I64))

    def __call__(self, ki: int, part: str) -> None:
        self.steps.append((ki, part))
        self._stamp(len(self.steps))

    def finish(self) -> None:
        """Define the timestamp words now that the number of steps is known."""
        ty = ir.ArrayType(I64, len(self.steps) + 1)
        words = ir.GlobalVariable(self.module, ty, f"{self.name}_prof")
        words.initializer = ir.Constant(ty, None)
        self.table.initializer = words

    def chunk_wrapper(self, kern: ir.Function, ki: int) -> ir.Function:
        """``kern`` with each call (a chunk on some thread) logged; same signature."""
        fn = ir.Function(self.module, KERN_FN, f"{kern.name}_logged")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        args, mode, lo, hi, scratch = fn.args
        t0 = b.call(self.now, [])
        rc = b.call(kern, [args, mode, lo, hi, scratch])
        t1 = b.call(self.now, [])
        slot = b.atomic_rmw("add", self.nchunks, i64(1), "monotonic")
        self_fn = self.module.globals.get("pthread_self") or ir.Function(self.module, ir.FunctionType(I64, []),
                                                                          "pthread_self")
        with b.if_then(b.icmp_unsigned("<", slot, i64(MAX_CHUNK_LOG))):
            base = b.mul(slot, i64(CHUNK_WORDS))
            for j, v in enumerate([i64(ki), lo, hi, t0, t1, b.call(self_fn, [])]):
                b.store(v, b.gep(self.chunks, [i64(0), b.add(base, i64(j))]))
        b.ret(rc)
        return fn


def _now_function(module: ir.Module, name: str) -> ir.Function:
    """``i64 now()``: CLOCK_MONOTONIC in nanoseconds."""
    clock = ir.Function(module, ir.FunctionType(I32, [I32, PTR]), "clock_gettime")
    fn = ir.Function(module, ir.FunctionType(I64, []), f"{name}_now")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ts = b.alloca(ir.LiteralStructType([I64, I64]), name="ts")
    b.call(clock, [ir.Constant(I32, 1), ts])  # CLOCK_MONOTONIC
    sec = b.load(b.gep(ts, [i64(0)], source_etype=I64), typ=I64)
    nsec = b.load(b.gep(ts, [i64(1)], source_etype=I64), typ=I64)
    b.ret(b.add(b.mul(sec, i64(1_000_000_000)), nsec))
    return fn

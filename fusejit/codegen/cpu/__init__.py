"""The CPU backend: fused kernels as LLVM IR, compiled by llvmlite, behind one native call.

``compile_cpu(graph)`` plans fusion (:mod:`fusejit.passes.fusion`), builds one LLVM module
(:mod:`.module`; kernels from :mod:`.kernels`, ops from :mod:`.elementwise`, BLAS from
:mod:`.blas`), compiles it to object code (:mod:`fusejit.runtime.engine`, with the on-disk
object cache), links it into an engine of its own and wraps it
(:mod:`fusejit.runtime.cpu_executable`).

Lifetime: a process-wide table maps each program's cache key to its :class:`Program` weakly;
every executable made from it holds it strongly, so the native code lives exactly as long as
some executable (hence some jitted function's cache) uses it, and two executables of one program
share it. Threads: a key is compiled once while other threads asking for it wait
(:class:`fusejit.runtime.once.OncePerKey`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...ir import Graph, print_graph
from ...passes.fusion import FusionPlan, plan_fusion
from ...profiler.recorder import phase
from ...runtime.once import OncePerKey
from .module import (
    MAX_THREADS,
    CpuModule,
    build_generic_module,
    build_module,
    generic_kernels,
    profile_steps,
    uses_pool,
)
from .weights import bind_constants

if TYPE_CHECKING:
    from ...runtime.cpu_executable import CpuExecutable
    from ...runtime.engine import NativeCode
    from . import abi


class Program:
    """One compiled program in this process: its native code and entry address, and whether its
    lazily compiled generic-stride kernels are linked yet."""

    def __init__(self, code: NativeCode, entry: int) -> None:
        self.code = code
        self.entry = entry
        self.generic_linked = False
        self.lock = threading.Lock()
        self.profiled: Profiled | None = None  # its profiling variant, compiled on first need
        self.weights: list[np.ndarray] = []  # buffers its code reads as external constants (.weights)


@dataclass(frozen=True)
class Profiled:
    """A program's profiling variant (:mod:`fusejit.profiler`): same argument table, an entry
    that also writes a timestamp per step into the words at ``stamps``."""

    code: NativeCode
    entry: int
    stamps: int
    steps: tuple[tuple[int, str], ...]
    chunks: int  # the pool chunks' log and its count (codegen/cpu/profiling.py)
    nchunks: int


_programs: weakref.WeakValueDictionary[str, Program] = weakref.WeakValueDictionary()  # cache key -> program
_compiling: OncePerKey[Program] = OncePerKey()


def live_programs() -> int:
    """How many compiled programs this process holds (for tests of their lifetime)."""
    return len(_programs)


def build_cpu_module(graph: Graph, *, fuse: bool = True, threads: int | None = None,
                     name: str | None = None, blas_ilp64: bool = False, lazy_generic: bool = False,
                     donate: dict[int, int] | None = None,
                     planned: tuple[FusionPlan, abi.ArgLayout] | None = None, profile: bool = False,
                     external: dict[int, str] | None = None) -> CpuModule:
    """The LLVM module for ``graph`` (entry ``name``, C ABI in :mod:`.abi`), not compiled.

    For ahead-of-time builds: give the module its thread pool (``threadpool.define_pool(result.module,
    internal=True, destructor=True)`` when ``threads > 1``), emit an object from ``str(result.module)``;
    link with ``-lmvec -lm -lpthread`` and a BLAS providing ``fj_sgemm``/``fj_dgemm``.
    ``lazy_generic``: see :func:`.module.build_module` (the JIT's choice). ``donate``: output
    index -> input index that output may be written over (:func:`.abi.inplace_outputs`).
    ``planned``: the fusion plan and argument layout the caller already made of ``graph``.
    ``profile``: the profiling variant (timestamps between kernels, :mod:`fusejit.profiler`).
    ``external``: large constants left out of the module (:mod:`.weights`; the JIT's choice).
    """
    from ..vecmath import host_isa
    from .pyentry import emit_pyentry

    threads = threads if threads is not None else (os.cpu_count() or 1)
    plan, layout = planned if planned is not None else (plan_fusion(graph, fuse=fuse), None)
    if name is None:
        digest = hashlib.sha256(f"{fuse}|{threads}|{print_graph(graph)}".encode()).hexdigest()[:20]
        name = f"fj_{digest}"
    cm = build_module(graph, plan, isa=host_isa(), threads=threads, name=name, blas_ilp64=blas_ilp64,
                      lazy_generic=lazy_generic, donate=donate, layout=layout, profile=profile,
                      external=external)
    emit_pyentry(cm.module, graph, cm.layout, cm.module.globals[name])
    return cm


@functools.cache
def _source_digest() -> str:
    """Hash of the code that decides what gets compiled: a new fusejit invalidates the cache."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for sub in ("codegen", "passes/fusion.py", "ir"):
        for f in sorted((root / sub).rglob("*.py")) if (root / sub).is_dir() else [root / sub]:
            h.update(f.read_bytes())
    return h.hexdigest()


def compile_cpu(graph: Graph, *, fuse: bool = True, threads: int | None = None,
                donate: dict[int, int] | None = None) -> CpuExecutable:
    """Compile ``graph`` for this CPU. ``fuse=False``: one kernel per op. ``threads``:
    maximum threads per kernel (default: all cores); results do not depend on it.
    ``donate``: output index -> input index whose buffer that output may overwrite (variable
    updates); the executable's ``inplace`` says which ones it does.

    Cache hits (in this process, or on disk from an earlier one) skip building the IR: the
    key is the graph's IR text, the options, the host CPU and the source of this backend.
    """
    from ...runtime.gc_pause import gc_paused

    with gc_paused():
        return _compile_cpu(graph, fuse, threads, donate)


def _compile_cpu(graph: Graph, fuse: bool, threads: int | None, donate: dict[int, int] | None) -> CpuExecutable:
    from ...runtime import disk_cache
    from ...runtime.cpu_executable import CpuExecutable
    from ...runtime.engine import NativeCode, bind_blas, bind_symbols, bind_thread_pool, emit_object, host
    from ..vecmath import host_isa
    from . import abi
    from .lowering import lower_for_cpu

    t0 = time.perf_counter()
    bind_symbols()
    graph = lower_for_cpu(graph, fuse)
    threads = threads if threads is not None else (os.cpu_count() or 1)
    threads = max(1, min(int(threads), MAX_THREADS))
    external, weights = bind_constants(graph)
    text = print_graph(graph, external)
    with phase("plan"):
        plan = plan_fusion(graph, fuse=fuse)
    donate = dict(sorted((donate or {}).items()))
    layout = abi.ArgLayout(graph, plan, donate)
    ilp64 = bind_blas() if any(k.kind == "dot" and k.anchor.op == "dot" for k in plan.kernels) else False
    if uses_pool(plan, threads):
        bind_thread_pool()
    inplace = f"|inplace={layout.inplace}" if layout.inplace else ""
    name = "fj_" + hashlib.sha256(f"{fuse}|{threads}|{ilp64}{inplace}|{text}".encode()).hexdigest()[:20]
    _, cpu, features = host()
    key = disk_cache.key(f"{name}|{_source_digest()}|{text}", cpu, features)
    built: list[CpuModule] = []

    def module() -> CpuModule:
        if not built:
            built.append(build_cpu_module(graph, fuse=fuse, threads=threads, name=name, blas_ilp64=ilp64,
                                          lazy_generic=True, donate=donate, planned=(plan, layout),
                                          external=external))
        return built[0]

    loaded: list[bool] = []  # set when this call made the program: from disk (True) or not

    def make() -> Program:
        obj = disk_cache.load(key)
        loaded.append(obj is not None)
        if obj is None:
            with phase("llvm"):
                obj = emit_object(module().llvm_ir)
            disk_cache.store(key, obj)
        with phase("load"):
            code = NativeCode(obj)
        program = Program(code, code.address(name + "_py"))
        program.weights = weights  # its external constants (bound above)
        return program

    program = _compiling.get(_programs, key, make)
    ms = (time.perf_counter() - t0) * 1e3

    def load_generic() -> None:
        """Compile (or load from disk) the generic-stride versions and point the kernels at them."""
        lazy = generic_kernels(graph, plan)
        with program.lock:
            if program.generic_linked or not lazy:
                return
            gkey = key + "-generic"
            obj = disk_cache.load(gkey)
            if obj is None:
                obj = emit_object(str(build_generic_module(module(), host_isa())))
                disk_cache.store(gkey, obj)
            program.code.add(obj)
            for ki in lazy:
                ctypes.c_void_p.from_address(program.code.global_address(f"{name}_genptr{ki}")).value = \
                    program.code.address(f"{name}_gen{ki}")
            program.generic_linked = True

    def profiled() -> Profiled:
        """The profiling variant, every kernel version compiled in (no lazy generic pointers)."""
        with program.lock:
            if program.profiled is None:
                pname = name + "_prof"
                pkey = key + "-prof"
                obj = disk_cache.load(pkey)
                with phase("llvm (profiling variant)"):
                    if obj is None:
                        cm = build_cpu_module(graph, fuse=fuse, threads=threads, name=pname, blas_ilp64=ilp64,
                                              donate=donate, planned=(plan, layout), profile=True,
                                              external=external)
                        obj = emit_object(cm.llvm_ir)
                        disk_cache.store(pkey, obj)
                        steps = cm.profile_steps
                    else:
                        steps = profile_steps(plan)
                code = NativeCode(obj)
                program.profiled = Profiled(code, code.address(pname + "_py"),
                                            code.global_address(pname + "_prof"), steps,
                                            code.global_address(pname + "_chunks"),
                                            code.global_address(pname + "_nchunks"))
            return program.profiled

    def llvm_ir() -> str:
        text = module().llvm_ir
        if module().lazy_generic:
            text += "\n; generic-stride versions, compiled on first need\n"
            text += str(build_generic_module(module(), host_isa()))
        return text

    def asm() -> str:
        from ...runtime.engine import emit_assembly

        return emit_assembly(module().llvm_ir)

    return CpuExecutable(graph, plan, layout, threads, program.entry, llvm_ir, asm, fuse, ms, any(loaded),
                         load_generic, keepalive=program, profiled=profiled)


__all__ = ["build_cpu_module", "compile_cpu"]

"""The CPU backend: fused kernels as LLVM IR, compiled by llvmlite, behind one native call.

``compile_cpu(graph)`` plans fusion (:mod:`fusejit.passes.fusion`), builds one LLVM module
(:mod:`.module`; kernels from :mod:`.kernels`, ops from :mod:`.elementwise`, BLAS from
:mod:`.blas`), JIT-compiles it in the process-wide engine (:mod:`fusejit.runtime.engine`,
with the on-disk object cache) and wraps it (:mod:`fusejit.runtime.cpu_executable`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ...ir import Graph, print_graph
from ...passes.fusion import FusionPlan, plan_fusion
from .module import MAX_THREADS, CpuModule, build_generic_module, build_module, generic_kernels, uses_pool

if TYPE_CHECKING:
    from ...runtime.cpu_executable import CpuExecutable
    from . import abi

_compiled: dict[str, int] = {}  # cache key -> entry address, for this process
_generic_loaded: set[str] = set()  # cache keys whose lazy generic versions are linked in
_lock = threading.Lock()


def build_cpu_module(graph: Graph, *, fuse: bool = True, threads: int | None = None,
                     name: str | None = None, blas_ilp64: bool = False, lazy_generic: bool = False,
                     donate: dict[int, int] | None = None,
                     planned: tuple[FusionPlan, abi.ArgLayout] | None = None) -> CpuModule:
    """The LLVM module for ``graph`` (entry ``name``, C ABI in :mod:`.abi`), not compiled.

    For ahead-of-time builds: give the module its thread pool (``threadpool.define_pool(result.module,
    internal=True, destructor=True)`` when ``threads > 1``), emit an object from ``str(result.module)``;
    link with ``-lmvec -lm -lpthread`` and a BLAS providing ``fj_sgemm``/``fj_dgemm``.
    ``lazy_generic``: see :func:`.module.build_module` (the JIT's choice). ``donate``: output
    index -> input index that output may be written over (:func:`.abi.inplace_outputs`).
    ``planned``: the fusion plan and argument layout the caller already made of ``graph``.
    """
    from ..vecmath import host_isa
    from .pyentry import emit_pyentry

    threads = threads if threads is not None else (os.cpu_count() or 1)
    plan, layout = planned if planned is not None else (plan_fusion(graph, fuse=fuse), None)
    if name is None:
        digest = hashlib.sha256(f"{fuse}|{threads}|{print_graph(graph)}".encode()).hexdigest()[:20]
        name = f"fj_{digest}"
    cm = build_module(graph, plan, isa=host_isa(), threads=threads, name=name, blas_ilp64=blas_ilp64,
                      lazy_generic=lazy_generic, donate=donate, layout=layout)
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
    from ...runtime.engine import bind_blas, bind_thread_pool, engine, host
    from ..vecmath import host_isa
    from . import abi
    from .lowering import lower_for_cpu

    t0 = time.perf_counter()
    graph = lower_for_cpu(graph)
    threads = threads if threads is not None else (os.cpu_count() or 1)
    threads = max(1, min(int(threads), MAX_THREADS))
    text = print_graph(graph)
    plan = plan_fusion(graph, fuse=fuse)
    donate = dict(sorted((donate or {}).items()))
    layout = abi.ArgLayout(graph, plan, donate)
    eng = engine()
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
                                          lazy_generic=True, donate=donate, planned=(plan, layout)))
        return built[0]

    from_cache = False
    with _lock:
        addr = _compiled.get(key)
        if addr is None:
            obj = disk_cache.load(key)
            if obj is not None:
                eng.load_object(name, obj)
                from_cache = True
            else:
                _, obj = eng.compile(module().llvm_ir)
                if obj is not None:
                    disk_cache.store(key, obj)
            addr = eng.address(name + "_py")
            _compiled[key] = addr
    ms = (time.perf_counter() - t0) * 1e3

    def load_generic() -> None:
        """Compile (or load from disk) the generic-stride versions and point the kernels at them."""
        lazy = generic_kernels(graph, plan)
        with _lock:
            if key in _generic_loaded or not lazy:
                return
            gname, gkey = f"{name}_generic", key + "-generic"
            obj = disk_cache.load(gkey)
            if obj is not None:
                eng.load_object(gname, obj)
            else:
                _, obj = eng.compile(str(build_generic_module(module(), host_isa())))
                if obj is not None:
                    disk_cache.store(gkey, obj)
            for ki in lazy:
                ctypes.c_void_p.from_address(eng.global_address(f"{name}_genptr{ki}")).value = \
                    eng.address(f"{name}_gen{ki}")
            _generic_loaded.add(key)

    def llvm_ir() -> str:
        text = module().llvm_ir
        if module().lazy_generic:
            text += "\n; generic-stride versions, compiled on first need\n"
            text += str(build_generic_module(module(), host_isa()))
        return text

    def asm() -> str:
        import llvmlite.binding as llvm

        from ...runtime.engine import optimize

        m = llvm.parse_assembly(module().llvm_ir)
        optimize(m, eng.tm)
        return eng.asm(m)

    return CpuExecutable(graph, plan, layout, threads, addr, llvm_ir, asm, fuse, ms, from_cache, load_generic)


__all__ = ["build_cpu_module", "compile_cpu"]

"""The CPU backend: fused kernels as LLVM IR, compiled by llvmlite, behind one native call.

``compile_cpu(graph)`` plans fusion (:mod:`fusejit.passes.fusion`), builds one LLVM module
(:mod:`.module`; kernels from :mod:`.kernels`, ops from :mod:`.elementwise`, BLAS from
:mod:`.blas`), JIT-compiles it in the process-wide engine (:mod:`fusejit.runtime.engine`,
with the on-disk object cache) and wraps it (:mod:`fusejit.runtime.cpu_executable`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import TYPE_CHECKING

from ...ir import Graph, print_graph
from ...passes.fusion import plan_fusion
from .module import CpuModule, build_module

if TYPE_CHECKING:
    from ...runtime.cpu_executable import CpuExecutable

_compiled: dict[str, int] = {}  # cache key -> entry address, for this process
_lock = threading.Lock()


def build_cpu_module(graph: Graph, *, fuse: bool = True, threads: int | None = None,
                     name: str | None = None) -> CpuModule:
    """The LLVM module for ``graph`` (entry ``name``, C ABI in :mod:`.abi`), not compiled.

    For ahead-of-time builds: emit an object from ``str(result.module)``; link with
    ``-lmvec -lm -lgomp`` and a BLAS providing ``fj_sgemm``/``fj_dgemm``.
    """
    from ..vecmath import host_isa
    from .pyentry import emit_pyentry

    threads = threads if threads is not None else (os.cpu_count() or 1)
    plan = plan_fusion(graph, fuse=fuse)
    if name is None:
        digest = hashlib.sha256(f"{fuse}|{threads}|{print_graph(graph)}".encode()).hexdigest()[:20]
        name = f"fj_{digest}"
    cm = build_module(graph, plan, isa=host_isa(), threads=threads, name=name)
    emit_pyentry(cm.module, graph, cm.layout, cm.module.globals[name])
    return cm


def compile_cpu(graph: Graph, *, fuse: bool = True, threads: int | None = None) -> CpuExecutable:
    """Compile ``graph`` for this CPU. ``fuse=False``: one kernel per op. ``threads``:
    maximum threads per kernel (default: all cores); results do not depend on it."""
    from ...runtime import disk_cache
    from ...runtime.cpu_executable import CpuExecutable
    from ...runtime.engine import engine, host

    t0 = time.perf_counter()
    cm = build_cpu_module(graph, fuse=fuse, threads=threads)
    ir_text = cm.llvm_ir
    _, cpu, features = host()
    key = disk_cache.key(ir_text, cpu, features)
    eng = engine()
    from_cache = False
    with _lock:
        addr = _compiled.get(key)
        mod = None
        if addr is None:
            obj = disk_cache.load(key)
            from_cache = obj is not None
            mod, new_obj = eng.compile(ir_text, obj)
            if new_obj is not None and not from_cache:
                disk_cache.store(key, new_obj)
            addr = eng.address(cm.entry + "_py")
            _compiled[key] = addr
    ms = (time.perf_counter() - t0) * 1e3

    def asm() -> str:
        import llvmlite.binding as llvm

        from ...runtime.engine import optimize

        m = llvm.parse_assembly(ir_text)
        optimize(m, eng.tm)
        return eng.asm(m)

    return CpuExecutable(graph, cm.plan, cm, addr, ir_text, asm, fuse, ms, from_cache)


__all__ = ["build_cpu_module", "compile_cpu"]

"""The bridge to the CPU backend: the fused program of a graph as a relocatable object for a target CPU.

The backend builds the same LLVM module it JIT-compiles (``int32 <symbol>(int64 *args)``, argument
layout in :mod:`fusejit.codegen.cpu.abi`); here it is optimized and emitted as position-independent
code for ``target_cpu`` instead of the host, with vector math for that CPU's widest libmvec ISA.
The BLAS symbols it calls (``fj_sgemm``/``fj_dgemm``) are renamed to ``<prefix>__sgemm``/``__dgemm``,
which the library's own GEMM (:mod:`.runtime_c`) defines, so no BLAS is needed at run time and two
AOT libraries never clash. A threaded program gets the thread pool compiled into the same object
with internal linkage (:mod:`fusejit.codegen.cpu.threadpool`: POSIX threads, a futex, no libgomp),
plus a destructor that joins its workers. Programs are single-threaded by default: a served model
is usually called from several threads at once.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Any

from .signature import AotError

GEMM_SYMBOLS = {"fj_sgemm": "sgemm", "fj_dgemm": "dgemm", "fj_sgemv": "sgemv", "fj_dgemv": "dgemv"}
LEVEL_ISA = {"x86-64": "none", "x86-64-v2": "none", "x86-64-v3": "avx2", "x86-64-v4": "avx512"}


@dataclass
class Program:
    object_code: bytes
    layout: Any  # fusejit.codegen.cpu.abi.ArgLayout of the compiled graph
    gemms: list[str]  # which of 'sgemm', 'dgemm', 'sgemv', 'dgemv' the program calls
    threaded: bool  # whether kernels run on the library's thread pool
    cpu: str  # the LLVM CPU name code was generated for
    isa: str  # libmvec ISA: 'avx512', 'avx2' or 'none'


def vector_isa(target_cpu: str, cc: str = "gcc") -> str:
    """The widest libmvec ISA every CPU of ``target_cpu`` runs (asks the C compiler for other names)."""
    if target_cpu in LEVEL_ISA:
        return LEVEL_ISA[target_cpu]
    try:
        proc = subprocess.run([cc, f"-march={target_cpu}", "-dM", "-E", "-"], input="", capture_output=True,
                              text=True, check=False)
    except FileNotFoundError:
        raise AotError(f"{cc} is needed to build AOT libraries but was not found") from None
    if proc.returncode:
        raise AotError(f"unknown target CPU {target_cpu!r} ({cc}: {proc.stderr.strip().splitlines()[0]})")
    macros = set(re.findall(r"#define (__\w+__) 1", proc.stdout))
    if "__AVX512F__" in macros:
        return "avx512"
    return "avx2" if {"__AVX2__", "__FMA__"} <= macros else "none"


def _target_machine(target_cpu: str) -> tuple[Any, str]:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    if target_cpu == "native":
        cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
    else:
        cpu, features = target_cpu, ""
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic", codemodel="default"), cpu


def emit_program(graph: Any, symbol: str, prefix: str, target_cpu: str, threads: int = 1) -> Program:
    """Plan, build, optimize and emit ``graph`` (an ``ir.Graph``) as an object defining ``symbol``;
    large kernels run on up to ``threads`` threads."""
    try:
        import llvmlite.binding as llvm

        from ..codegen.cpu import threadpool
        from ..codegen.cpu.module import build_module
        from ..passes.fusion import plan_fusion
        from ..runtime.engine import llvm_section, optimize
    except ImportError as exc:
        raise AotError(f"AOT compilation needs the CPU backend, which cannot be imported here ({exc})") from None
    isa = vector_isa(target_cpu)
    plan = plan_fusion(graph, fuse=True)
    cm = build_module(graph, plan, isa=isa, threads=threads, name=symbol)
    threaded = threadpool.RUN in cm.module.globals
    if threaded:
        threadpool.define_pool(cm.module, internal=True, destructor=True)
    with llvm_section():  # LLVM's global context is shared with the JIT's threads
        tm, cpu = _target_machine(target_cpu)
        mod = llvm.parse_assembly(cm.llvm_ir)
        mod.triple = llvm.get_process_triple()
        mod.data_layout = str(tm.target_data)
        mod.verify()
        gemms = []
        for fn in mod.functions:
            if fn.name in GEMM_SYMBOLS:
                gemms.append(GEMM_SYMBOLS[fn.name])
                fn.name = f"{prefix}__{GEMM_SYMBOLS[fn.name]}"
        optimize(mod, tm)
        obj = tm.emit_object(mod)
        mod.close()
        tm.close()
    return Program(obj, cm.layout, sorted(gemms), threaded, cpu, isa)

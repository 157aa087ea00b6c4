"""The process-wide LLVM JIT: one target machine per engine, one MCJIT engine for all programs.

Modules are optimized at O3 for the host CPU (name and features) and added to a single
long-lived MCJIT engine. External symbols the generated code calls are made visible here:
libmvec (vector math), the thread pool (``fj_pool_run``, compiled once per process when a
program first has a kernel large enough to split: :func:`bind_thread_pool`), and
scipy's BLAS ``sgemm``/``dgemm`` function pointers bound to ``fj_sgemm``/``fj_dgemm``. An
object cache keyed by IR text lets a new process skip LLVM's code generation (see :mod:`.disk_cache`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np

from ..codegen import vecmath

_lock = threading.RLock()


@functools.cache
def host() -> tuple[str, str, str]:
    """(triple, cpu name, feature string) of this machine."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def _capsule_pointer(capsule: object) -> int:
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(get_ptr(capsule, get_name(capsule)))


@functools.cache
def bind_symbols() -> None:
    """Make every external function the generated code calls resolvable by the JIT."""
    host()
    vecmath.ensure_libmvec_loaded()
    llvm.load_library_permanently("libgcc_s.so.1")  # half-precision conversions (__truncdfhf2, ...)


_pool_engines: list[llvm.ExecutionEngine] = []  # the thread pool's code lives as long as the process


@functools.cache
def bind_thread_pool() -> None:
    """Compile :mod:`fusejit.codegen.cpu.threadpool` (or load it from the disk cache) into an
    engine of its own and bind ``fj_pool_run`` for every module compiled after it. Called before
    compiling or loading a program that calls it (:func:`fusejit.codegen.cpu.module.uses_pool`):
    programs of small static shapes never do, and skip its ~20 ms cold start."""
    bind_symbols()
    from ..codegen.cpu import threadpool, types
    from . import disk_cache

    triple, cpu, features = host()
    source = b"".join(Path(m.__file__).read_bytes() for m in (threadpool, types))  # the IR is theirs alone
    key = disk_cache.key(f"fj_threadpool {hashlib.sha256(source).hexdigest()}", cpu, features)
    obj = disk_cache.load(key)  # keyed by source: building the IR text to hash it costs more than loading
    if obj is None:
        mod = llvm.parse_assembly(str(threadpool.pool_module()))
        mod.triple = triple
        tm = target_machine(opt=0)  # not optimized: its loops wait; O3 would cost ~50 ms of a cold start
        mod.data_layout = str(tm.target_data)
        obj = tm.emit_object(mod)
        disk_cache.store(key, obj)
    ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine())
    ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
    ee.finalize_object()
    llvm.add_symbol(threadpool.RUN, ee.get_function_address(threadpool.RUN))
    _pool_engines.append(ee)


def _numpy_blas() -> dict[str, int] | None:
    """NumPy's own OpenBLAS (ILP64 Fortran ``scipy_sgemm_64_``): sharing it with NumPy means
    one BLAS thread pool in the process, not two pools fighting over the cores."""
    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libdir.glob("libscipy_openblas64_*.so")):
        try:
            lib = ctypes.CDLL(str(path))
            return {n: ctypes.cast(getattr(lib, f"scipy_{n}_64_"), ctypes.c_void_p).value for n in ("sgemm", "dgemm")}
        except (OSError, AttributeError):
            continue
    return None


@functools.cache
def bind_blas() -> bool:
    """Bind ``fj_sgemm``/``fj_dgemm``; True when they take 64-bit integers (ILP64).

    Prefers NumPy's bundled OpenBLAS; falls back to scipy's LP64 ``cython_blas`` pointers.
    Only programs with ``dot`` call this (importing scipy costs ~50 ms)."""
    ptrs = _numpy_blas()
    if ptrs is not None:
        for name, addr in ptrs.items():
            llvm.add_symbol(f"fj_{name}", addr)
        return True
    from scipy.linalg import cython_blas

    for name in ("sgemm", "dgemm"):
        llvm.add_symbol(f"fj_{name}", _capsule_pointer(cython_blas.__pyx_capi__[name]))
    return False


def target_machine(opt: int = 3) -> llvm.TargetMachine:
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=opt, reloc="default", codemodel="jitdefault")


def optimize(mod: llvm.ModuleRef, tm: llvm.TargetMachine) -> None:
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_interleaving = True
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = True
    pb = llvm.create_pass_builder(tm, pto)
    pm = pb.getModulePassManager()
    pm.run(mod, pb)


class Engine:
    """The long-lived MCJIT engine; ``add(ir_text)`` compiles a module and returns it."""

    def __init__(self) -> None:
        bind_symbols()
        self.tm = target_machine()  # for optimization and assembly listings
        backing = llvm.parse_assembly("")
        self.ee = llvm.create_mcjit_compiler(backing, target_machine())
        self.modules: list[llvm.ModuleRef] = []
        self._cache_get: Callable[[llvm.ModuleRef], bytes | None] | None = None
        self._pending_obj: dict[str, bytes] = {}
        self.ee.set_object_cache(self._notify, self._getbuffer)

    def _notify(self, mod: llvm.ModuleRef, data: bytes) -> None:
        self._pending_obj[mod.name] = data

    def _getbuffer(self, mod: llvm.ModuleRef) -> bytes | None:
        return self._cache_get(mod) if self._cache_get else None

    def compile(self, ir_text: str, cached_object: bytes | None = None) -> tuple[llvm.ModuleRef, bytes | None]:
        """Optimize (unless an object is cached) and finalize; returns the module and its object code."""
        with _lock:
            mod = llvm.parse_assembly(ir_text)
            triple, _, _ = host()
            mod.triple = triple
            mod.data_layout = str(self.tm.target_data)
            if cached_object is None:
                mod.verify()
                optimize(mod, self.tm)
                self._cache_get = None
            else:
                self._cache_get = lambda _m: cached_object
            self.ee.add_module(mod)
            self.ee.finalize_object()
            self.ee.run_static_constructors()
            self._cache_get = None
            self.modules.append(mod)
            return mod, self._pending_obj.pop(mod.name, None)

    def load_object(self, name: str, obj: bytes) -> None:
        """Add a cached object without its IR: an empty module named ``name`` stands in for
        it, and the object cache hands MCJIT the object (no parsing, no code generation)."""
        with _lock:
            mod = llvm.parse_assembly("")
            mod.name = name
            mod.triple = host()[0]
            mod.data_layout = str(self.tm.target_data)
            self._cache_get = lambda _m: obj
            try:
                self.ee.add_module(mod)
                self.ee.finalize_object()
            finally:
                self._cache_get = None
            self.modules.append(mod)

    def address(self, name: str) -> int:
        return self.ee.get_function_address(name)

    def global_address(self, name: str) -> int:
        return self.ee.get_global_value_address(name)

    def asm(self, mod: llvm.ModuleRef) -> str:
        return self.tm.emit_assembly(mod)


@functools.cache
def engine() -> Engine:
    return Engine()

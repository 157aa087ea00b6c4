"""The LLVM JIT: compile modules to objects, and give each program an engine of its own.

Modules are optimized at O3 for the host CPU (name and features) and emitted as object code
(:func:`emit_object`); :class:`NativeCode` links objects into an MCJIT engine that belongs to
one program and is freed with it (issue 12, item 9: a single process-wide engine kept every
program's code for the life of the process). External symbols the generated code calls are made
visible here: libmvec (vector math), the thread pool (``fj_pool_run``, compiled once per process
when a program first has a kernel large enough to split: :func:`bind_thread_pool`), and NumPy's
or scipy's BLAS ``sgemm``/``dgemm`` bound to ``fj_sgemm``/``fj_dgemm``. Object code is what the
disk cache keeps (see :mod:`.disk_cache`).

Threads: LLVM's global context, its symbol table and the engines are not thread-safe, and
llvmlite releases the GIL in every call, so every LLVM call in the process goes through
:func:`llvm_section` (one re-entrant lock). It also defers Ctrl-C (:mod:`.interrupts`): a
``KeyboardInterrupt`` never lands between creating an engine and recording what it holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import llvmlite.binding as llvm
import numpy as np

from ..codegen import vecmath
from .interrupts import deferred_interrupts

_lock = threading.RLock()
_T = TypeVar("_T")


@contextlib.contextmanager
def llvm_section() -> Iterator[None]:
    """Hold the process's LLVM lock, with Ctrl-C deferred to the end of the section."""
    with deferred_interrupts(), _lock:
        yield


def once(fn: Callable[[], _T]) -> Callable[[], _T]:
    """``functools.cache`` for a setup step, made a lock: concurrent first callers wait for the
    one that runs it (a plain cache lets each of them run it, e.g. bind the thread pool twice)."""
    cached = functools.cache(fn)

    @functools.wraps(fn)
    def wrapper() -> _T:
        with llvm_section():
            return cached()

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper


@once
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


@once
def bind_symbols() -> None:
    """Make every external function the generated code calls resolvable by the JIT."""
    host()
    vecmath.ensure_libmvec_loaded()
    vecmath.host_isa()
    llvm.load_library_permanently("libgcc_s.so.1")  # half-precision conversions (__truncdfhf2, ...)


_pool_code: list[NativeCode] = []  # the thread pool's code lives as long as the process


@once
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
        obj = emit_object(str(threadpool.pool_module()), opt=0)  # its loops wait: O3 would cost ~50 ms cold
        disk_cache.store(key, obj)
    code = NativeCode(obj)
    llvm.add_symbol(threadpool.RUN, code.address(threadpool.RUN))
    _pool_code.append(code)


BLAS_ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv")  # bound as fj_<name> (codegen/cpu/blas.py)


def _numpy_blas() -> dict[str, int] | None:
    """NumPy's own OpenBLAS (ILP64 Fortran ``scipy_sgemm_64_``): sharing it with NumPy means
    one BLAS thread pool in the process, not two pools fighting over the cores."""
    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libdir.glob("libscipy_openblas64_*.so")):
        try:
            lib = ctypes.CDLL(str(path))
            return {n: ctypes.cast(getattr(lib, f"scipy_{n}_64_"), ctypes.c_void_p).value for n in BLAS_ROUTINES}
        except (OSError, AttributeError):
            continue
    return None


@once
def bind_blas() -> bool:
    """Bind ``fj_sgemm``/``fj_dgemm``/``fj_sgemv``/``fj_dgemv``; True when they take 64-bit integers (ILP64).

    Prefers NumPy's bundled OpenBLAS; falls back to scipy's LP64 ``cython_blas`` pointers.
    Only programs with ``dot`` call this (importing scipy costs ~50 ms)."""
    ptrs = _numpy_blas()
    if ptrs is not None:
        for name, addr in ptrs.items():
            llvm.add_symbol(f"fj_{name}", addr)
        return True
    from scipy.linalg import cython_blas

    for name in BLAS_ROUTINES:
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
    try:
        pm.run(mod, pb)
    finally:
        _close(pm, pb, pto)


def _close(*objs: object) -> None:
    """Free llvmlite objects now, inside the caller's :func:`llvm_section`: left to ``__del__``, a
    Ctrl-C landing inside its ``close()`` (between freeing and marking freed) is a later double free."""
    for o in objs:
        o.close()  # type: ignore[attr-defined]


def _parse(ir_text: str, tm: llvm.TargetMachine) -> llvm.ModuleRef:
    mod = llvm.parse_assembly(ir_text)
    try:
        mod.triple = host()[0]
        mod.data_layout = str(tm.target_data)
        mod.verify()
    except BaseException:
        mod.close()
        raise
    return mod


def emit_object(ir_text: str, opt: int = 3) -> bytes:
    """Optimize (at ``opt`` > 0) and compile LLVM IR text to object code for this CPU."""
    with llvm_section():
        tm = target_machine(opt)
        try:
            mod = _parse(ir_text, tm)
            try:
                if opt:
                    optimize(mod, tm)
                return tm.emit_object(mod)
            finally:
                mod.close()
        finally:
            tm.close()


def emit_assembly(ir_text: str) -> str:
    """The optimized assembly listing of LLVM IR text (for inspection)."""
    with llvm_section():
        tm = target_machine()
        try:
            mod = _parse(ir_text, tm)
            try:
                optimize(mod, tm)
                return tm.emit_assembly(mod)
            finally:
                mod.close()
        finally:
            tm.close()


class NativeCode:
    """Object code linked into an MCJIT engine of its own; the engine, and the code, are freed
    when this object is (whoever calls into the code must hold a reference to it)."""

    def __init__(self, obj: bytes) -> None:
        bind_symbols()
        collect_engines()
        with llvm_section():
            ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target_machine())
            self._finalizer = weakref.finalize(self, _dispose, ee)
            self._finalizer.atexit = False  # at exit, threads may still run in it: the OS frees it
            self._ee = ee
            self._link(obj)

    def _link(self, obj: bytes) -> None:
        ref = llvm.ObjectFileRef.from_data(obj)
        try:
            self._ee.add_object_file(ref)
        finally:
            ref.close()
        self._ee.finalize_object()

    def add(self, obj: bytes) -> None:
        """Link one more object (e.g. a program's generic-stride kernels) into this engine."""
        with llvm_section():
            self._link(obj)

    def address(self, name: str) -> int:
        """Address of function ``name``; a missing symbol is an error, never a null pointer."""
        with llvm_section():
            addr = self._ee.get_function_address(name)
        if not addr:
            raise RuntimeError(f"fusejit: compiled code has no function {name!r}")
        return addr

    def global_address(self, name: str) -> int:
        with llvm_section():
            addr = self._ee.get_global_value_address(name)
        if not addr:
            raise RuntimeError(f"fusejit: compiled code has no global {name!r}")
        return addr


_disposed: list[llvm.ExecutionEngine] = []  # engines of dropped programs, closed at the next LLVM section


def _dispose(ee: llvm.ExecutionEngine) -> None:
    """The finalizer of :class:`NativeCode` only queues its engine: it runs wherever the garbage
    collector happens to run (possibly inside an LLVM section of this or another thread, where a
    deferred Ctrl-C could not be delivered), and closing an engine is LLVM work."""
    _disposed.append(ee)


def collect_engines() -> None:
    """Close the engines of dropped programs (their code is no longer reachable)."""
    with llvm_section():
        while _disposed:
            _disposed.pop().close()

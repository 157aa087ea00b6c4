"""The event recorder behind :func:`fusejit.profile`: Chrome trace events, compile phases, and the
switch that points compiled programs at their profiling variants.

Zero cost when off: nothing here runs on a call unless a recording is active. A compiled CPU
program's generated call looks its native entry up as ``fn`` in its own globals
(:class:`fusejit.runtime.cpu_executable.CpuExecutable`); while a recording is active that name
is rebound to :func:`_profiled_call` over the program's profiling variant (compiled on first
need, with timestamps between kernels), and restored when the recording ends. The ordinary
variant's machine code never changes. This module imports nothing heavy: the CPU backend
imports it for :func:`phase`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_lock = threading.Lock()
_active: Recorder | None = None
_executables: weakref.WeakSet[Any] = weakref.WeakSet()  # every live CPU and GPU executable


@dataclass
class Recorder:
    """One ``with fusejit.profile():`` recording: complete events (``ph: X``) in microseconds of
    ``time.monotonic_ns`` (the clock the native timestamps read), and the threads seen."""

    raw: list[tuple] = field(default_factory=list)  # (name, cat, t0 ns, t1 ns, tid, args): cheap to append
    threads: dict[int, str] = field(default_factory=dict)
    start_ns: int = field(default_factory=time.monotonic_ns)
    end_ns: int = 0

    def complete(self, name: str, cat: str, t0_ns: int, t1_ns: int, args: dict[str, Any] | None = None) -> None:
        """Record one complete event on the calling thread (kept as a tuple: a dict per event made
        the garbage collector rescan every recorded event, ~9 us per event in a long recording)."""
        tid = threading.get_ident()
        if tid not in self.threads:
            self.threads[tid] = threading.current_thread().name
        self.raw.append((name, cat, t0_ns, t1_ns, tid, args))

    def complete_on(self, tid: int, name: str, cat: str, t0_ns: int, t1_ns: int, args: dict[str, Any]) -> None:
        """An event of another thread (a pool worker, by its ``pthread_self``, which is CPython's ident)."""
        if tid not in self.threads:
            workers = sum(n.startswith("fusejit pool") for n in self.threads.values())
            self.threads[tid] = f"fusejit pool worker {workers}"
        self.raw.append((name, cat, t0_ns, t1_ns, tid, args))

    @property
    def events(self) -> list[dict[str, Any]]:
        """The complete events as Chrome trace dicts (microseconds), in recording order."""
        pid = os.getpid()
        out = []
        for name, cat, t0, t1, tid, args in self.raw:
            event = {"name": name, "cat": cat, "ph": "X", "ts": t0 / 1e3, "dur": (t1 - t0) / 1e3,
                     "pid": pid, "tid": tid}
            if args:
                event["args"] = args
            out.append(event)
        return out

    def trace_events(self) -> list[dict[str, Any]]:
        """Thread-name metadata, then the events sorted by start (longest first on ties: parents
        before the children they contain)."""
        pid = os.getpid()
        meta = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "fusejit"}}]
        meta += [{"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}
                 for tid, name in self.threads.items()]
        return meta + sorted(self.events, key=lambda e: (e["ts"], -e["dur"]))


def active() -> Recorder | None:
    return _active


class _Phase:
    """Times one compile phase as an event on the calling thread (only while recording)."""

    __slots__ = ("name", "t0")

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.t0 = time.monotonic_ns()

    def __exit__(self, *exc: object) -> None:
        rec = _active
        if rec is not None:
            rec.complete(self.name, "compile", self.t0, time.monotonic_ns())


_OFF = contextlib.nullcontext()


def phase(name: str) -> contextlib.AbstractContextManager[None]:
    """``with phase("llvm"): ...`` — an event for a compile phase while a recording is active."""
    return _Phase(name) if _active is not None else _OFF


def register(exe: Any) -> None:
    """Called by every new CPU executable: profiled at once if a recording is active."""
    with _lock:
        _executables.add(exe)
        if _active is not None:
            _instrument(exe)


@contextlib.contextmanager
def recording() -> Iterator[Recorder]:
    """Activate a recording (one at a time per process) for the duration of the block."""
    global _active
    with _lock:
        if _active is not None:
            raise RuntimeError("fusejit.profile: a profile is already being recorded in this process; "
                               "nested or concurrent profiles are not supported")
        rec = _active = Recorder()
        for exe in list(_executables):
            _instrument(exe)
    try:
        yield rec
    finally:
        with _lock:
            rec.end_ns = time.monotonic_ns()
            _active = None
            for exe in list(_executables):
                if hasattr(exe, "_env"):
                    exe._env["fn"] = exe._fn
                else:
                    from . import gpu

                    gpu.restore(exe)


def _instrument(exe: Any) -> None:
    """Point ``exe``'s generated call at a profiling wrapper; its variant compiles on first call.
    GPU executables get timed kernel and copy methods instead (:mod:`.gpu`)."""
    if not hasattr(exe, "_env"):
        from . import gpu

        gpu.instrument(exe, active)
        return
    if exe._profiled is None:
        return
    from ..codegen.cpu.profiling import CHUNK_WORDS, MAX_CHUNK_LOG
    from .kernels import ProgramInfo

    state: dict[str, Any] = {}

    def call(table: Any) -> int:
        rec = _active
        if "variant" not in state:
            variant = exe._profiled()
            info = ProgramInfo(exe, variant.steps)
            entry = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)(variant.entry)
            state.update(variant=variant, info=info, fn=entry,
                         words=(ctypes.c_int64 * (len(variant.steps) + 1)).from_address(variant.stamps),
                         nchunks=ctypes.c_int64.from_address(variant.nchunks), lock=threading.Lock())
        with state["lock"]:  # one timestamp table per program: calls of it take turns
            t0 = time.monotonic_ns()
            rc = state["fn"](table)
            t1 = time.monotonic_ns()
            stamps = list(state["words"])
            n = min(state["nchunks"].value, MAX_CHUNK_LOG)
            chunks = list((ctypes.c_int64 * (n * CHUNK_WORDS)).from_address(state["variant"].chunks)) if n else []
        if rec is not None:
            state["info"].record(rec, table, t0, t1, stamps, rc)
            state["info"].record_chunks(rec, chunks)
        return rc

    exe._env["fn"] = call

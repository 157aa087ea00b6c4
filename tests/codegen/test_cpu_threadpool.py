"""The thread pool (codegen/cpu/threadpool.py) called directly with Python kernels, and through
compiled programs: every chunk once, the lowest failing chunk's code, the caller's share when no
worker helps, concurrent callers, and a child process after fork."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import threading
import time
from collections.abc import Callable

import llvmlite.binding as llvm
import numpy as np
import pytest

from fusejit.codegen.cpu import build_cpu_module, compile_cpu, threadpool
from fusejit.codegen.cpu.module import uses_pool
from fusejit.ir import parse
from fusejit.runtime.engine import bind_thread_pool

from ..cpu_graphs import CHAIN, SUMSQ

KERN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_int64,
                        ctypes.c_void_p)


@pytest.fixture(scope="module")
def pool_run():
    bind_thread_pool()  # binds fj_pool_run
    return ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64,
                            ctypes.c_int64, ctypes.c_void_p, ctypes.c_int32)(llvm.address_of_symbol(threadpool.RUN))


class Recorder:
    """A kernel (as a C function pointer) that records which thread ran which units."""

    def __init__(self, fail: dict[int, int] | None = None, wait_for_help: bool = False) -> None:
        self.units: list[tuple[int, int]] = []
        self.fail = fail or {}
        self.wait_for_help = wait_for_help
        self.caller = threading.get_native_id()
        self.fn = KERN(self)

    def __call__(self, args: int, mode: int, lo: int, hi: int, scratch: int) -> int:
        tid = threading.get_native_id()
        if self.wait_for_help and lo == 0:  # the caller's first chunk waits until a worker ran one
            deadline = time.monotonic() + 5
            while not any(t != tid for t, _ in self.units) and time.monotonic() < deadline:
                time.sleep(1e-4)
        self.units += [(tid, u) for u in range(lo, hi)]
        return next((self.fail[u] for u in range(lo, hi) if u in self.fail), 0)

    @property
    def pointer(self) -> int:
        return ctypes.cast(self.fn, ctypes.c_void_p).value


def in_threads(fn: Callable[[int], None], n: int) -> None:
    """fn(0) ... fn(n - 1) at once, each on its own Python thread."""
    threads = [threading.Thread(target=fn, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


@pytest.mark.parametrize("total, chunk", [(1000, 7), (64, 1), (5, 100), (1, 1), (0, 4)])
def test_every_unit_runs_once(pool_run, total: int, chunk: int) -> None:
    for threads in (1, 2, 8):
        k = Recorder()
        assert pool_run(k.pointer, None, 0, total, chunk, None, threads) == 0
        assert sorted(u for _, u in k.units) == list(range(total))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the pool has no worker")
def test_a_worker_takes_chunks_the_caller_left(pool_run) -> None:
    """The caller's first chunk blocks until another thread has run one: only a worker can."""
    k = Recorder(wait_for_help=True)
    assert pool_run(k.pointer, None, 0, 64, 1, None, 2) == 0
    assert sorted(u for _, u in k.units) == list(range(64))
    assert len({t for t, _ in k.units}) == 2


def test_the_lowest_failing_chunk_decides_the_code(pool_run) -> None:
    for threads in (1, 2, 4):
        for _ in range(5):
            k = Recorder(fail={900: 9, 37: 5, 38: 6})
            assert pool_run(k.pointer, None, 0, 1000, 10, None, threads) == 5
            assert sorted(u for _, u in k.units) == list(range(1000))  # other chunks still ran


def test_concurrent_callers(pool_run) -> None:
    """Python threads call the pool at once (ctypes releases the GIL): one holds it, the others
    run their chunks themselves; every call completes every unit."""
    errors: list[str] = []

    def call(t: int) -> None:
        for _ in range(20):
            k = Recorder(fail={t * 10 + 3: t + 1})
            rc = pool_run(k.pointer, None, 0, 200, 3, None, 2)
            if rc != t + 1 or sorted(u for _, u in k.units) != list(range(200)):
                errors.append(f"thread {t}: rc {rc}")

    in_threads(call, 4)
    assert errors == []


def test_concurrent_compiled_calls_give_the_serial_bits() -> None:
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(1 << 19).astype(np.float32) for _ in range(3)]
    chain, sumsq = compile_cpu(parse(CHAIN), threads=2), compile_cpu(parse(SUMSQ), threads=2)
    want = chain(*args)[0], sumsq(args[0])[0]
    bad: list[int] = []

    def call(t: int) -> None:
        for _ in range(10):
            got = chain(*args)[0], sumsq(args[0])[0]
            if any(g.tobytes() != w.tobytes() for g, w in zip(got, want)):
                bad.append(t)

    in_threads(call, 3)
    assert bad == []


def _child(args: list[np.ndarray], queue: multiprocessing.Queue) -> None:
    queue.put(compile_cpu(parse(CHAIN), threads=2)(*args)[0])


def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    """The parent's workers do not survive fork: a child calling a parallel kernel must neither
    deadlock nor rely on them (it starts its own), and gets the same bits."""
    rng = np.random.default_rng(6)
    args = [rng.standard_normal(1 << 19).astype(np.float32) for _ in range(3)]
    want = compile_cpu(parse(CHAIN), threads=2)(*args)[0]  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(args, queue))
    child.start()
    got = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("size, threads, pooled", [("N", 2, True), ("100000", 2, True), ("1000", 2, False),
                                                   ("N", 1, False)])
def test_only_programs_with_a_kernel_big_enough_to_split_call_the_pool(size: str, threads: int,
                                                                        pooled: bool) -> None:
    """A program of small static shapes never calls ``fj_pool_run``: the JIT then does not
    compile the pool, and says so through ``uses_pool``."""
    cm = build_cpu_module(parse(CHAIN.replace("[N]", f"[{size}]")), threads=threads)
    assert (threadpool.RUN in cm.module.globals) == pooled
    assert uses_pool(cm.plan, threads) == pooled

"""Warp shuffles for numba-cuda's simulator, which has none.

Generated kernels call ``cuda.shfl_down_sync`` / ``cuda.shfl_sync`` exactly as on a GPU; in the
simulator these methods are added to its fake ``cuda`` module. Each simulated thread publishes
its value in a per-block table, meets the others at one barrier and reads its source lane's
entry: the full-mask semantics the kernels rely on (every lane of every warp participates; a
source lane outside the warp returns the caller's own value, as the hardware does). Successive
shuffles alternate between two tables, so a thread that runs ahead writes the other table while
slower ones still read this one; it cannot get two shuffles ahead without passing the barrier.
"""

from __future__ import annotations

import threading
from typing import Any


def _exchange(value: Any, source: int) -> Any:
    t = threading.current_thread()
    tables = t._manager.__dict__.setdefault("_fusejit_shuffle", ({}, {}))  # per simulated block
    parity = t.__dict__.get("_fusejit_parity", 0)
    t._fusejit_parity = 1 - parity
    table = tables[parity]
    table[t.thread_id] = value
    t.syncthreads()
    return table.get(source, value)


def _shfl_down_sync(self: Any, mask: int, value: Any, delta: int) -> Any:
    tid = threading.current_thread().thread_id
    return _exchange(value, tid + delta if tid % 32 + delta < 32 else tid)


def _shfl_sync(self: Any, mask: int, value: Any, lane: int) -> Any:
    tid = threading.current_thread().thread_id
    return _exchange(value, tid - tid % 32 + lane)


def install() -> None:
    """Give the simulator's fake cuda module the two shuffles (idempotent)."""
    from numba.cuda.simulator.kernelapi import FakeCUDAModule

    if not hasattr(FakeCUDAModule, "shfl_down_sync"):
        FakeCUDAModule.shfl_down_sync = _shfl_down_sync
        FakeCUDAModule.shfl_sync = _shfl_sync

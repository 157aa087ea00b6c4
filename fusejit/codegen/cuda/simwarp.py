"""Warp shuffles for numba-cuda's simulator, which has none.

Generated kernels call ``cuda.shfl_down_sync`` / ``cuda.shfl_sync`` exactly as on a GPU; in the
simulator these methods are added to its fake ``cuda`` module. Each simulated thread publishes
its value in a per-block table between two barriers and reads its source lane's entry, which is
the full-mask semantics the kernels rely on (every lane of every warp participates; a source lane
outside the warp returns the caller's own value, as the hardware does).
"""

from __future__ import annotations

import threading
from typing import Any


def _exchange(value: Any, source: int) -> Any:
    t = threading.current_thread()
    table = t._manager.__dict__.setdefault("_fusejit_shuffle", {})  # one per simulated block
    t.syncthreads()
    table[t.thread_id] = value
    t.syncthreads()
    result = table.get(source, value)
    t.syncthreads()
    return result


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

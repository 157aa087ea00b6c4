"""The memory-bandwidth roofline: the fastest a workload can run if it only moves its compulsory
bytes (each input read once, each output written once) at the machine's copy bandwidth.

Bandwidth is measured in the same run, STREAM-style: a copy of ``n`` bytes moves ``2n`` (read
plus write), over a buffer far larger than the caches, into a destination already faulted in,
best of several tries, on one thread and on ``threads`` threads (NumPy releases the GIL while
copying); the higher figure is the roof.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


def compulsory_bytes(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> int:
    return int(sum(a.nbytes for a in inputs) + sum(np.asarray(o).nbytes for o in outputs))


def roofline_seconds(nbytes: int, bandwidth: float) -> float:
    """Time to move ``nbytes`` at ``bandwidth`` bytes per second."""
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    return nbytes / bandwidth


def roofline_share(nbytes: int, bandwidth: float, seconds: float) -> float:
    """Fraction of the roofline reached: ideal time ÷ measured time (1.0 = at the roof)."""
    if seconds <= 0:
        raise ValueError(f"measured time must be positive, got {seconds}")
    return roofline_seconds(nbytes, bandwidth) / seconds


@dataclass(frozen=True)
class Bandwidth:
    single_thread: float  # bytes per second
    threaded: float
    threads: int
    buffer_bytes: int

    @property
    def best(self) -> float:
        return max(self.single_thread, self.threaded)


def _best_copy_seconds(dst: np.ndarray, src: np.ndarray, threads: int, tries: int) -> float:
    chunks = np.array_split(np.arange(src.size), threads) if threads > 1 else None
    best = float("inf")
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        for _ in range(tries):
            t0 = time.perf_counter()
            if chunks is None:
                np.copyto(dst, src)
            else:
                list(pool.map(lambda c: np.copyto(dst[c[0]:c[-1] + 1], src[c[0]:c[-1] + 1]), chunks))
            best = min(best, time.perf_counter() - t0)
    return best


def measure_copy_bandwidth(threads: int = 1, nbytes: int = 1 << 28, tries: int = 7) -> Bandwidth:
    """Copy bandwidth in bytes per second (read + write counted), single- and multi-threaded."""
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.zeros_like(src)  # zeros_like may map lazily: the first copy below faults it in
    np.copyto(dst, src)
    moved = 2 * src.nbytes
    single = moved / _best_copy_seconds(dst, src, 1, tries)
    multi = moved / _best_copy_seconds(dst, src, threads, tries) if threads > 1 else single
    return Bandwidth(single, multi, threads, src.nbytes)

"""Device properties and the launch configurations derived from them (never fixed block counts).

Kernel source bakes in what must be static (warp size, GEMM tile), chosen from ``DeviceProps`` at
lowering time; grid and block sizes are computed per call from the bound sizes. ``H100`` is the
target the PTX/cubin checks use; ``SIMULATOR`` describes numba-cuda's simulator as a small device
so simulated launches stay fast (each simulated thread is a Python thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DeviceProps:
    name: str
    cc: tuple[int, int]
    sm_count: int
    max_threads_per_block: int
    max_threads_per_sm: int
    warp_size: int
    shared_per_block: int  # bytes of static shared memory a block may use

    @staticmethod
    def of(device: Any) -> DeviceProps:
        """Properties of a numba-cuda device (``cuda.get_current_device()``)."""
        return DeviceProps(
            name=device.name.decode() if isinstance(device.name, bytes) else str(device.name),
            cc=tuple(device.compute_capability),
            sm_count=device.MULTIPROCESSOR_COUNT,
            max_threads_per_block=device.MAX_THREADS_PER_BLOCK,
            max_threads_per_sm=device.MAX_THREADS_PER_MULTI_PROCESSOR,
            warp_size=device.WARP_SIZE,
            shared_per_block=device.MAX_SHARED_MEMORY_PER_BLOCK,
        )


H100 = DeviceProps("NVIDIA H100 (sm_90)", (9, 0), sm_count=132, max_threads_per_block=1024,
                   max_threads_per_sm=2048, warp_size=32, shared_per_block=48 * 1024)
SIMULATOR = DeviceProps("numba-cuda simulator", (9, 0), sm_count=2, max_threads_per_block=256,
                        max_threads_per_sm=512, warp_size=32, shared_per_block=48 * 1024)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    return cdiv(a, b) * b


def stream_threads(p: DeviceProps) -> int:
    """Threads per block for grid-stride loops: 8 resident blocks per SM at full occupancy."""
    return min(p.max_threads_per_block, max(p.warp_size, p.max_threads_per_sm // 8))


def stream_launch(n: int, p: DeviceProps) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """One full wave of blocks (or fewer when ``n`` is small); the kernel strides over the rest."""
    t = stream_threads(p)
    waves = p.sm_count * (p.max_threads_per_sm // t)
    return (min(cdiv(n, t), waves),), (t,)


def row_threads(cols: int, p: DeviceProps) -> int:
    """Threads per row: about 4 columns per thread, whole warps, at most a quarter of the block limit."""
    cap = max(p.warp_size, p.max_threads_per_block // 4)
    return max(p.warp_size, min(cap, round_up(cdiv(cols, 4), p.warp_size)))


def row_launch(rows: int, cols: int, p: DeviceProps) -> tuple[tuple[int, ...], tuple[int, ...]]:
    t = row_threads(cols, p)
    return (min(rows, p.sm_count * (p.max_threads_per_sm // t)),), (t,)


@dataclass(frozen=True)
class GemmTile:
    bm: int
    bn: int
    bk: int
    tm: int  # outputs per thread along M
    tn: int

    @property
    def threads(self) -> tuple[int, int]:
        return self.bn // self.tn, self.bm // self.tm

    def shared_bytes(self, itemsize: int) -> int:
        return (self.bm * self.bk + self.bk * self.bn) * itemsize


GEMM_TILES = (GemmTile(128, 128, 8, 8, 8), GemmTile(64, 64, 16, 4, 4), GemmTile(32, 32, 16, 4, 4),
              GemmTile(16, 16, 16, 2, 2))


def gemm_tile(p: DeviceProps, itemsize: int, m: int | None, n: int | None) -> GemmTile:
    """Largest tile that fits the device (threads, shared memory) and is not mostly padding for a
    static small M x N."""
    fits = [t for t in GEMM_TILES
            if t.threads[0] * t.threads[1] <= max(p.warp_size, p.max_threads_per_block // 4)
            and t.shared_bytes(itemsize) <= p.shared_per_block]
    if not fits:
        raise RuntimeError(f"no GEMM tile fits device {p.name}")
    for t in fits:
        if (m is None or m > t.bm // 2) and (n is None or n > t.bn // 2):
            return t
    return fits[-1]

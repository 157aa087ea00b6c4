"""``fusejit.profile_summary()``: the recorded kernel events as a table, against a roofline.

The roofline is this machine's, measured once per process when a summary is first made: memory
bandwidth as the best of a few 64 MiB ``np.copyto`` (read + write bytes over time) and peak
arithmetic as the best of a few float32 512×512 matrix products through NumPy's BLAS. A kernel's
attainable time is ``max(bytes / bandwidth, flops / peak)``; "% roof" is attainable / measured.
Kernels whose data sits in cache can beat the DRAM roofline (above 100%): the figure says how
far a kernel is from streaming its bytes at memory speed, not an absolute bound.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from typing import Any

import numpy as np


@functools.cache
def roofline() -> tuple[float, float]:
    """(bytes per second, flops per second) measured on this machine."""
    src = np.ones(8 << 20, np.float64)
    dst = np.empty_like(src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(3))
    bandwidth = 2 * src.nbytes / best
    a = np.ones((512, 512), np.float32)
    best = min(_timed(lambda: a @ a) for _ in range(3))
    return bandwidth, 2 * 512 ** 3 / best


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return max(time.perf_counter() - t0, 1e-9)


def summarize(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per kernel (and BLAS call): calls, total and mean time, bytes, flops; by total time."""
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "us": 0.0, "bytes": 0, "flops": 0})
    for e in events:
        if e.get("cat") not in ("kernel", "blas"):
            continue
        a = e["args"]
        row = rows[a["kernel"] + (" (blas)" if e["cat"] == "blas" else "")]
        row.update(ops=a["ops"], name=e["name"])
        row["calls"] += 1
        row["us"] += e["dur"]
        row["bytes"] += a["bytes"]
        row["flops"] += a["flops"]
    out = [{"kernel": k, **v} for k, v in rows.items()]
    return sorted(out, key=lambda r: -r["us"])


def format_summary(events: list[dict[str, Any]], wall_us: float | None = None) -> str:
    """The table ``fusejit.profile_summary()`` prints, with totals: native calls, kernels, and
    (given the recording's wall time) the share of it spent outside compiled code."""
    rows = summarize(events)
    bandwidth, peak = roofline() if rows else (1.0, 1.0)
    head = f"{'kernel':<28} {'ops fused':<34} {'calls':>6} {'total ms':>9} {'mean us':>9} {'GB/s':>7} {'% roof':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        secs = r["us"] / 1e6
        attainable = max(r["bytes"] / bandwidth, r["flops"] / peak)
        ops = "+".join(r["ops"])
        ops = ops if len(ops) <= 34 else ops[:31] + "..."
        lines.append(f"{r['kernel'][-28:]:<28} {ops:<34} {r['calls']:>6} {r['us'] / 1e3:>9.3f} "
                     f"{r['us'] / r['calls']:>9.2f} {r['bytes'] / secs / 1e9 if secs else 0:>7.2f} "
                     f"{100 * attainable / secs if secs else 0:>6.0f}%")
    kernel_us = sum(r["us"] for r in rows)
    call_us = sum(e["dur"] for e in events if e.get("cat") == "call")
    compile_us = sum(e["dur"] for e in events if e.get("cat") == "compile")
    lines.append("-" * len(head))
    lines.append(f"kernels {kernel_us / 1e3:.3f} ms in native calls of {call_us / 1e3:.3f} ms; "
                 f"compile phases {compile_us / 1e3:.3f} ms")
    if wall_us is not None:
        lines.append(f"recorded wall time {wall_us / 1e3:.3f} ms "
                     f"(outside native calls and compiles: {(wall_us - call_us - compile_us) / 1e3:.3f} ms)")
    lines.append(f"roofline: {bandwidth / 1e9:.1f} GB/s memory, {peak / 1e9:.1f} GFLOP/s (float32 BLAS), measured here")
    return "\n".join(lines)

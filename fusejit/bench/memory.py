"""Peak extra memory of one call, as tracemalloc sees it (NumPy reports its data buffers to it).

"Extra" is the high-water mark above what was allocated before the call, so it includes the
outputs and every temporary; libraries with their own allocators (JAX, torch, numba's NRT) are
invisible to tracemalloc and get no figure rather than a wrong one.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any


def peak_extra_bytes(fn: Callable[[], Any]) -> int:
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        if started:
            tracemalloc.stop()
    return max(0, peak - before)

"""The caching allocator: recycled blocks, exact-size mappings that tracemalloc sees."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np

from fusejit import jit
from fusejit.runtime import allocator


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_blocks_are_2mib_aligned_exact_and_recycled():
    block = allocator.POOL.take(5 << 20)
    assert block.__array_interface__["data"][0] % (2 << 20) == 0
    block[:] = 7  # writable, mapped
    size = block.nbytes
    allocator.POOL.give(block)
    assert allocator.POOL.take(5 << 20).nbytes == size


def test_peak_extra_memory_of_a_fused_call_is_its_output_plus_under_1mb():
    x = np.random.default_rng(0).standard_normal((512, 1024), dtype=np.float32)
    f = jit(softmax, backend="cpu")
    f(x)
    allocator.POOL.clear()
    gc.collect()
    tracemalloc.start()
    try:
        y = f(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= y.nbytes + (1 << 20), peak
    np.testing.assert_allclose(y, softmax(x), rtol=1e-5, atol=1e-7)

"""Streaming stores: kernels that stage their outputs and write them with non-temporal stores give
bit-identical results to the plain loop, for any thread count, range split, dtype and row length."""

from __future__ import annotations

import numpy as np
import pytest

from fusejit.codegen.cpu import compile_cpu, streaming
from fusejit.codegen.vecmath import host_isa
from fusejit.ir import parse
from tests.cpu_graphs import CHAIN, LAYERNORM, SOFTMAX
from tests.helpers import assert_same

TWO_OUTPUTS = """func @two(%x: f64[N], %y: f64[N]) -> (f64[N], bool[N], i32[N]) {
  %0 = mul(%x, %y) : f64[N]
  %1 = gt(%x, %y) : bool[N]
  %2 = cast(%0) {dtype=i32} : i32[N]
  return %0, %1, %2
}"""

pytestmark = pytest.mark.skipif(host_isa() not in streaming.STREAM_ISAS, reason="no streaming stores on this ISA")


def _run(text: str, args: tuple[np.ndarray, ...], threshold: int, threads: int):
    old = streaming.STREAM_MIN_BYTES
    streaming.STREAM_MIN_BYTES = threshold
    try:
        exe = compile_cpu(parse(text), threads=threads)
    finally:
        streaming.STREAM_MIN_BYTES = old
    return exe, exe(*args)


def _bitwise(a, b) -> None:
    a, b = (v if isinstance(v, (tuple, list)) else [v] for v in (a, b))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


@pytest.mark.parametrize("n", [1, 63, 64, 511, 4096 + 37, 300_001])
def test_streamed_flat_kernels_equal_plain_ones_bitwise(n: int) -> None:
    rng = np.random.default_rng(n)
    xs = tuple(rng.standard_normal(n).astype(np.float32) for _ in range(3))
    exe, plain = _run(CHAIN, xs, 1 << 62, 1)
    expected = parse(CHAIN).evaluate(*xs)
    assert_same(plain, expected)
    for threads in (1, 2):
        exe, streamed = _run(CHAIN, xs, 0, threads)
        assert "movnt" in exe.asm and "sfence" in exe.asm
        _bitwise(streamed, plain)


def test_streamed_outputs_of_several_dtypes() -> None:
    rng = np.random.default_rng(1)
    x, y = (rng.standard_normal(100_003) * 1e3 for _ in range(2))
    _, plain = _run(TWO_OUTPUTS, (x, y), 1 << 62, 2)
    _, streamed = _run(TWO_OUTPUTS, (x, y), 0, 2)
    assert_same(plain, parse(TWO_OUTPUTS).evaluate(x, y))
    _bitwise(streamed, plain)


@pytest.mark.parametrize("cols", [16, 1000, 1024, 4096, 5000])  # 1000: 4000-byte rows, 5000: over the tile
@pytest.mark.parametrize("text", [SOFTMAX, LAYERNORM], ids=["softmax", "layernorm"])
def test_streamed_row_kernels_equal_plain_ones_bitwise(text: str, cols: int) -> None:
    x = np.random.default_rng(cols).standard_normal((37, cols)).astype(np.float32)
    _, plain = _run(text, (x,), 1 << 62, 1)
    assert_same(plain, parse(text).evaluate(x), rtol=1e-5)
    for threads in (1, 2):
        exe, streamed = _run(text, (x,), 0, threads)
        assert "movnt" in exe.asm
        _bitwise(streamed, plain)


def test_small_outputs_do_not_stream_at_run_time() -> None:
    """The default threshold: the same program streams a large call and not a small one."""
    exe = compile_cpu(parse(CHAIN))
    assert "movnt" in exe.asm
    for n in (1000, streaming.STREAM_MIN_BYTES // 4 + 5):
        xs = tuple(np.random.default_rng(n).standard_normal(n).astype(np.float32) for _ in range(3))
        assert_same(exe(*xs), parse(CHAIN).evaluate(*xs))


def test_streamed_output_written_over_its_donated_input() -> None:
    """An output donated the buffer of an input (variable updates) is written over it right,
    threshold 0 or not (such a kernel is not staged today; if it were, each tile reads its
    inputs before its copy lands)."""
    rng = np.random.default_rng(7)
    xs = tuple(rng.standard_normal(70_001).astype(np.float32) for _ in range(3))
    expected = parse(CHAIN).evaluate(*xs)
    old = streaming.STREAM_MIN_BYTES
    streaming.STREAM_MIN_BYTES = 0
    try:
        exe = compile_cpu(parse(CHAIN), threads=2, donate={0: 0})
    finally:
        streaming.STREAM_MIN_BYTES = old
    x0 = xs[0].copy()
    out = exe(x0, xs[1], xs[2])
    assert_same(out, expected)
    if exe.inplace:
        assert np.shares_memory(out[0], x0)

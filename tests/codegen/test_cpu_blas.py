"""The BLAS dot path's fallback: operands BLAS cannot take run the shared out-of-line triple loop."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_float_dot_on_strides_blas_cannot_take(dt: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 20)).astype(dt)
    b = rng.standard_normal((15, 18)).astype(dt)
    f = fusejit.jit(lambda x, y: x @ y + 1)
    for x, y in [(a[:, ::2], b[:10, ::2]), (a[::-1, 1:11], b[::-1, ::-1][:10]), (a[:, :10], b[:10, ::3])]:
        np.testing.assert_allclose(f(x, y), x @ y + 1, rtol=1e-5, atol=1e-5)


def test_one_fallback_loop_per_dtype_and_module() -> None:
    f = fusejit.jit(lambda x, w1, w2: (x @ w1) @ w2)
    x, w1, w2 = (np.ones(s, np.float32) for s in ((4, 8), (8, 16), (16, 2)))
    ir_text = f.lower(x, w1, w2).llvm_ir
    assert ir_text.count('define internal void @"fj.naive_gemm.float32"') == 1
    np.testing.assert_allclose(f(x[:, ::-1], w1, w2), (x[:, ::-1] @ w1) @ w2)


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_dot_with_a_captured_array_operand(dt: str) -> None:
    """A matrix captured by the traced function is a constant of the graph: BLAS (or the
    fallback loop) reads it from the module's own global, on either side of the product."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((12, 12)) * 4).astype(dt)
    x = (rng.standard_normal((5, 12)) * 4).astype(dt)
    for fn in (lambda v: v @ w + 1, lambda v: w @ v.T, lambda v: v @ np.eye(12, dtype=dt), lambda v: v[:, :3] @ w[2:5]):
        np.testing.assert_allclose(fusejit.jit(fn)(x), fn(x), rtol=1e-5)

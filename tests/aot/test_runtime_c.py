"""The library's own GEMM (runtime_c.py), through compiled graphs: both dtypes, transposed operands,
batches, and sizes that cross every blocking boundary (MR=16, NR=4, KC=256, MC=128)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fusejit.aot
from fusejit.ir import Graph, Node, TensorType, constant, make

from .conftest import needs_toolchain

pytestmark = needs_toolchain


def inp(name: str, dtype: type, shape: tuple) -> Node:
    return Node("input", (), {}, TensorType(np.dtype(dtype), shape), name=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_shapes_and_transposes(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(0)
    a = inp("a", dtype, (300, "M"))  # used transposed: A^T is [M, 300]
    b = inp("b", dtype, (300, "N"))
    w = constant(rng.standard_normal((300, 7)).astype(dtype))
    at = make("transpose", a, perm=[1, 0])
    ab = make("dot", at, b)  # [M, N]
    abw = make("dot", make("transpose", b, perm=[1, 0]), w)  # [N, 7]
    g = Graph([a, b], [ab, abw], "g")
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "g"))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for m, n in [(1, 1), (17, 13), (129, 5), (300, 260)]:
        xa = rng.standard_normal((300, m)).astype(dtype)
        xb = rng.standard_normal((300, n)).astype(dtype)
        got = model(xa, xb)
        want = g.evaluate(xa, xb)
        for x, y in zip(got, want):
            np.testing.assert_allclose(x, y, rtol=tol, atol=tol * 30)


def test_batched_dot_with_empty_batch(tmp_path: Path) -> None:
    x = inp("x", np.float32, ("B", 3, 40))
    y = inp("y", np.float32, ("B", 40, 5))
    g = Graph([x, y], [make("dot", x, y)], "bd")
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "bd"))
    rng = np.random.default_rng(1)
    for batch in (0, 1, 6):
        xa, ya = rng.standard_normal((batch, 3, 40)).astype(np.float32), rng.standard_normal((batch, 40, 5)).astype(
            np.float32)
        np.testing.assert_allclose(model(xa, ya), np.matmul(xa, ya), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_vector_products(tmp_path: Path, dtype: type) -> None:
    """One row or one column (the matrix-vector path): weights as stored and transposed, odd
    lengths around the unroll widths, strided operands, and NaN from 0 * inf kept as NumPy does."""
    rng = np.random.default_rng(2)
    x = inp("x", dtype, ("M", "K"))
    w = inp("w", dtype, ("K", "N"))
    v = inp("v", dtype, ("N", "K"))  # used transposed, as a PyTorch-style (out, in) weight
    xt = inp("xt", dtype, ("K", "M"))  # a batch stored column-major
    g = Graph([x, w, v, xt], [make("dot", x, w), make("dot", x, make("transpose", v, perm=[1, 0])),
                              make("dot", make("transpose", xt, perm=[1, 0]), w)], "mv")
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "mv"))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for m, k, n in [(1, 1, 1), (1, 3, 5), (1, 67, 129), (1, 784, 512), (5, 67, 1), (1, 130, 1), (9, 33, 1)]:
        xa = rng.standard_normal((m, k)).astype(dtype)
        wa = rng.standard_normal((k, n)).astype(dtype)
        va = rng.standard_normal((n, k)).astype(dtype)
        for got, want in zip(model(xa, wa, va, np.ascontiguousarray(xa.T)), (xa @ wa, xa @ va.T, xa @ wa)):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 30)
    xa = np.ones((1, 6), dtype)
    xa[0, 2] = 0
    wa, va = np.ones((6, 3), dtype), np.ones((3, 6), dtype)
    wa[2, 1] = va[1, 2] = np.inf
    with np.errstate(invalid="ignore"):
        want = xa @ wa
    for got in model(xa, wa, va, np.ascontiguousarray(xa.T)):
        np.testing.assert_array_equal(got, want)  # [6, nan, 6]

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

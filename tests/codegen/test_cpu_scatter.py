"""The CPU ``scatter_add`` kernel (the gradient of integer-array indexing) against np.add.at."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit.driver import compile_graph
from fusejit.ir import Graph, Node, make
from fusejit.ir.shapes import TensorType


def _scatter(upd: np.ndarray, idx: np.ndarray, axis: int, size: int) -> np.ndarray:
    u = Node("input", (), {}, TensorType(upd.dtype, upd.shape), name="u")
    i = Node("input", (), {}, TensorType(idx.dtype, idx.shape), name="i")
    g = Graph([u, i], [make("scatter_add", u, i, axis=axis, size=size)])
    return compile_graph(g, backend="cpu")(upd, idx)[0]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
@pytest.mark.parametrize("upd_shape,idx_shape,axis,size", [
    ((6,), (6,), 0, 4), ((3, 5, 2), (5,), 1, 3), ((2, 2, 3, 4), (2, 3), 1, 7), ((4, 0), (0,), 1, 3),
    ((2, 3), (3,), 1, 0 + 1), ((0, 3), (0,), 0, 2),
])
def test_matches_add_at(dtype: str, upd_shape: tuple, idx_shape: tuple, axis: int, size: int) -> None:
    rng = np.random.default_rng(3)
    upd = (rng.standard_normal(upd_shape) * 10).astype(dtype)
    idx = rng.integers(-size, size, idx_shape) if size else np.zeros(idx_shape, np.int64)
    want = np.zeros(upd_shape[:axis] + (size,) + upd_shape[axis + len(idx_shape):], dtype)
    np.add.at(want, (slice(None),) * axis + (idx,), upd)
    got = _scatter(upd, idx, axis, size)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # same order of additions: bitwise


def test_strided_operands_and_narrow_indices() -> None:
    rng = np.random.default_rng(4)
    upd = rng.standard_normal((8, 6))[::2, ::-1]
    idx = np.array([3, 0, 3, 1, 1, 2], np.int8)[::-1]
    want = np.zeros((4, 4))
    np.add.at(want, (slice(None), idx), upd)
    np.testing.assert_array_equal(_scatter(upd, idx, 1, 4), want)


def test_out_of_range_index_raises() -> None:
    with pytest.raises(IndexError, match="index out of bounds"):
        _scatter(np.ones(3), np.array([0, 5, 1]), 0, 4)


def test_gradient_of_fancy_indexing_compiled() -> None:
    """The cross-entropy pick ``logp[np.arange(n), y]``: its gradient is one scatter."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((5, 3)), np.array([0, 2, 2, 1, 0])

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.sum(x[np.arange(5), y] ** 2) + np.sum(x[[0, 0, 4]])

    want = np.zeros_like(x)
    np.add.at(want, (np.arange(5), y), 2 * x[np.arange(5), y])
    np.add.at(want, [0, 0, 4], 1.0)
    np.testing.assert_allclose(fusejit.grad(f)(x, y), want, rtol=1e-14)

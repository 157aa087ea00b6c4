"""scatter_add (the gradient of integer-array indexing) on the GPU backend (simulated) vs np.add.at."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit

pytestmark = [pytest.mark.usefixtures("sim")]


def test_gradient_of_fancy_indexing_on_the_gpu() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)).astype(np.float32), np.array([0, 2, 2, 1, -1])

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.sum(x[np.arange(5), y] ** 2) + np.sum(np.take(x, [0, 0, 2], axis=1) * 3)

    g = fusejit.jit(fusejit.grad(f), device="gpu")
    want = fusejit.jit(fusejit.grad(f), device="cpu")(x, y)
    np.testing.assert_array_equal(g(x, y), want)
    with pytest.raises(IndexError):
        g(x, np.array([0, 2, 7, 1, 0]))


def test_lowered_as_one_scatter_kernel_per_lane() -> None:
    from fusejit.codegen.cuda import lower_graph

    graph = fusejit.jit(fusejit.grad(lambda x: np.sum(np.take(x, [1, 1], axis=1))), backend="reference").lower(
        np.ones((4, 3), np.float32)).graph
    (ks,) = [k for k in lower_graph(graph) if k.kind == "scatter"]
    assert "for jj in range(2):" in ks.source and "err[0] = 1" in ks.source

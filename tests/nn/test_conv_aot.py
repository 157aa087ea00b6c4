"""A frozen graph with a convolution, compiled ahead of time and called through the C API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fusejit
import fusejit.aot
from fusejit import nn
from tests.aot.conftest import needs_toolchain

from .reference import conv2d_nhwc


@needs_toolchain
@pytest.mark.parametrize("threads", [1, 2])
def test_conv_bias_relu_aot_matches_reference(tmp_path: Path, threads: int) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 3, 20), dtype=np.float32)
    b = rng.standard_normal(20, dtype=np.float32)

    def f(x):
        return np.maximum(nn.conv2d(x, w, 2, "SAME") + b, 0)

    graph = fusejit.freeze(fusejit.jit(f), fusejit.Spec((None, 11, 11, 3), np.float32))
    lib = fusejit.aot.load(fusejit.aot.compile(graph, tmp_path / "out", "convnet", threads=threads))
    x = rng.standard_normal((3, 11, 11, 3), dtype=np.float32)
    want = np.maximum(conv2d_nhwc(x, w, (2, 2), (1, 1, 1, 1), (1, 1), 1) + b, 0)
    np.testing.assert_allclose(lib(x), want, rtol=1e-4, atol=1e-4)
    big = rng.standard_normal((64, 11, 11, 3), dtype=np.float32)  # enough work (> 2 MFLOP) for the thread pool
    np.testing.assert_array_equal(lib(big), fusejit.jit(f, threads=1)(big))

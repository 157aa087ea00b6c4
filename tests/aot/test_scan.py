"""A frozen graph with cumsum/cumprod compiles into a library and runs like NumPy, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import fusejit
import fusejit.aot

from .conftest import needs_toolchain

pytestmark = needs_toolchain


def test_frozen_scan_graph_compiles_and_runs(tmp_path: Path) -> None:
    w = fusejit.Variable(np.linspace(0.5, 1.5, 7, dtype=np.float32), name="w")

    @fusejit.jit
    def f(x):
        return np.cumsum(x * w, axis=0) + 1, np.cumprod(x, axis=1), np.cumsum(x.astype(np.int8), axis=1)

    g = fusejit.freeze(f, fusejit.Spec((None, 7), np.float32))
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "scan"))
    for n in (0, 1, 50):
        x = np.random.default_rng(n).standard_normal((n, 7)).astype(np.float32)
        want = (np.cumsum(x * w.read(), axis=0) + 1, np.cumprod(x, axis=1), np.cumsum(x.astype(np.int8), axis=1))
        for got, exp in zip(model(x), want):
            assert got.dtype == exp.dtype and got.shape == exp.shape
            np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(exp).view(np.uint8))
        strided = np.asfortranarray(x)
        np.testing.assert_array_equal(model(strided)[1], np.cumprod(x, axis=1))

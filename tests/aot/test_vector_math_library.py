"""A library whose kernels call glibc's vector math (float32 sin, float64 tanh) links libmvec,
says so in its header, and answers like NumPy — from Python and from a statically linked C program."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

import fusejit
import fusejit.aot
from fusejit.aot.build import needed_libraries
from fusejit.ir import Graph, Node, TensorType, make

from .conftest import needs_toolchain

pytestmark = needs_toolchain

APP_C = r"""
#include <stdio.h>
#include "vm.h"
int main(void) {
    float x[40]; double y[40], s[40], t[40];
    for (int i = 0; i < 40; i++) { x[i] = (float)i * 0.37f - 7.0f; y[i] = i * 0.11 - 2.0; }
    int rc = vm_run(40, x, y, s, t);
    for (int i = 0; i < 40; i++) printf("%.9g %.17g\n", (double)s[i], t[i]);
    return rc;
}
"""


def vector_math_graph() -> Graph:
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N",)), name="x")
    y = Node("input", (), {}, TensorType(np.dtype(np.float64), ("N",)), name="y")
    return Graph([x, y], [make("cast", make("sin", x), dtype=np.dtype(np.float64)), make("tanh", y)], "vm")


def test_vector_math_library_links_libmvec_and_matches_numpy(tmp_path: Path) -> None:
    lib = fusejit.aot.compile(vector_math_graph(), tmp_path / "build", "vm")
    assert "libmvec.so.1" in needed_libraries(lib / "libvm.so")
    assert "libvm.a -lmvec -lm" in (lib / "vm.h").read_text()
    x = (np.arange(1000, dtype=np.float32) * 0.37 - 180).astype(np.float32)
    y = np.arange(1000) * 0.011 - 5.0
    s, t = fusejit.aot.load(lib)(x, y)
    np.testing.assert_array_max_ulp(s.astype(np.float32), np.sin(x), maxulp=4)
    np.testing.assert_array_max_ulp(t, np.tanh(y), maxulp=4)

    (tmp_path / "app.c").write_text(APP_C)
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", f"-I{lib}", str(tmp_path / "app.c"), "-o", str(tmp_path / "app"),
                    str(lib / "libvm.a"), "-lmvec", "-lm"], check=True)
    out = subprocess.run([str(tmp_path / "app")], capture_output=True, text=True, check=True).stdout.split()
    got = np.array(out, float).reshape(40, 2)
    xs = np.arange(40, dtype=np.float32) * np.float32(0.37) - np.float32(7.0)
    ys = np.arange(40) * 0.11 - 2.0
    np.testing.assert_array_max_ulp(got[:, 0].astype(np.float32), np.sin(xs), maxulp=4)
    np.testing.assert_array_max_ulp(got[:, 1], np.tanh(ys), maxulp=4)

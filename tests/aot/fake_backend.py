"""A stand-in for the CPU backend's ``emit_object`` so the AOT writer, header, wrapper, linking and
loader are tested on their own: the program for ``demo_graph`` hand-written in C, compiled by gcc
into the same kind of object (relocatable, PIC, one ``<name>__program`` symbol).

demo_graph: x: f32[N,3] -> (exp(x * w) + 1 : f32[N,3], sum over axis 1 : f32[N]); ``w`` is an
array constant (so it is lifted and embedded), ``1`` a scalar constant (kept inline).
The program returns kernel error code 4 if x[0,0] is -1, to exercise the status mapping.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from fusejit.ir import Graph, Node, TensorType, constant, make

W = np.array([0.5, -1.25, 2.0], np.float32)

PROGRAM_C = r"""
#include <math.h>
#include <stdint.h>
int32_t SYMBOL(void *const *b, const int64_t *d) {
    const float *x = b[0], *w = b[3];
    float *y = b[1], *s = b[2];
    if (d[0] > 0 && x[0] == -1.0f) return 4;
    for (int64_t i = 0; i < d[0]; i++) {
        float acc = 0.0f;
        for (int j = 0; j < 3; j++) {
            float v = expf(x[i * 3 + j] * w[j]) + 1.0f;
            y[i * 3 + j] = v;
            acc += v;
        }
        s[i] = acc;
    }
    return 0;
}
"""


def demo_graph() -> Graph:
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 3)), name="x")
    e = make("exp", make("mul", x, make("broadcast", constant(W), shape=["N", 3])))
    y = make("add", e, make("broadcast", constant(np.float32(1)), shape=["N", 3]))
    return Graph([x], [y, make("reduce_sum", y, axes=[1])], "demo")


def emit_object(graph: Graph, symbol: str, target_cpu: str) -> bytes:
    params = [str(n.type) for n in graph.inputs]
    assert params == ["f32[N,3]", "f32[3]"], params  # x, then the lifted w; the scalar 1 stays inline
    with tempfile.TemporaryDirectory() as tmp:
        src, obj = Path(tmp) / "p.c", Path(tmp) / "p.o"
        src.write_text(PROGRAM_C.replace("SYMBOL", symbol))
        subprocess.run(["gcc", "-c", "-O2", "-fPIC", f"-march={target_cpu}", str(src), "-o", str(obj)], check=True)
        return obj.read_bytes()

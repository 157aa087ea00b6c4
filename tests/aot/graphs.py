"""Graphs the AOT tests compile, with the properties each one exercises."""

from __future__ import annotations

import numpy as np

import fusejit
from fusejit.ir import Graph, Node, TensorType, constant, make

W = np.array([0.5, -1.25, 2.0], np.float32)


def demo_graph() -> Graph:
    """x: f32[N,3] -> (exp(x * w) + 1 : f32[N,3], row sums : f32[N]); ``w`` is an embedded weight,
    ``1`` a scalar kept inline; float32 exp is inline code (no libmvec)."""
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 3)), name="x")
    e = make("exp", make("mul", x, make("broadcast", constant(W), shape=["N", 3])))
    y = make("add", e, make("broadcast", constant(np.float32(1)), shape=["N", 3]))
    return Graph([x], [y, make("reduce_sum", y, axes=[1])], "demo")


def classifier_graph(seed: int = 0) -> Graph:
    """The issue's workflow: Variables, a jitted softmax classifier, frozen with a symbolic batch."""
    rng = np.random.default_rng(seed)
    w1 = fusejit.Variable(rng.standard_normal((64, 32)).astype(np.float32) / 8, name="W1")
    b1 = fusejit.Variable(rng.standard_normal(32).astype(np.float32), name="b1")
    w2 = fusejit.Variable(rng.standard_normal((32, 10)).astype(np.float32) / 6, name="W2")

    @fusejit.jit
    def predict(x):
        h = np.tanh(x @ w1 + b1)
        z = h @ w2
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True), z.argmax(axis=-1)

    return fusejit.freeze(predict, fusejit.Spec((None, 64), np.float32))


def odd_outputs_graph() -> Graph:
    """Outputs the program does not write: an input, an array and a scalar constant, a repeat,
    an element count; plus an int gather whose out-of-range index is a kernel error."""
    x = Node("input", (), {}, TensorType(np.dtype(np.int32), ("B", 4)), name="x")
    idx = Node("input", (), {}, TensorType(np.dtype(np.int64), ("K",)), name="idx")
    g = make("take", x, idx, axis=1)
    s = make("reduce_sum", make("mul", g, g), axes=[1])
    table = constant(np.arange(6, dtype=np.uint8).reshape(2, 3))
    return Graph([x, idx], [s, x, table, constant(np.float64(2.5)), s, make("numel", x, axes=[0, 1],
                                                                              dtype=np.dtype(np.int64))], "odd")

"""Hypothesis strategies for random well-typed graphs (shared by IR and pass tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fusejit.ir import Graph, Node, TensorType, constant, make

FLOAT_UNARY = ["exp", "log", "sqrt", "tanh", "sin", "neg", "abs", "floor", "erf", "logistic", "expm1", "sign"]
BINARY = ["add", "sub", "mul", "div", "max", "min", "pow", "atan2", "fmax"]
COMPARE = ["lt", "eq", "ge", "ne"]
SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, np.inf, -np.inf, np.nan, 1e-30, 3.25, -7.0]


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 12, symbolic: bool = True) -> Graph:
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64"])))
    dims = draw(st.sampled_from([(3, 4), ("N", 4), (2, 3), (5,), ()])) if symbolic else \
        draw(st.sampled_from([(3, 4), (2, 3), (5,), ()]))
    n_inputs = draw(st.integers(1, 3))
    inputs = [Node("input", (), {}, TensorType(dtype, dims), name=f"x{i}") for i in range(n_inputs)]
    pool: list[Node] = list(inputs)

    def pick() -> Node:
        return pool[draw(st.integers(0, len(pool) - 1))]

    for _ in range(draw(st.integers(1, max_nodes))):
        kind = draw(st.sampled_from(["unary", "binary", "const", "compare", "reduce", "transpose", "cast"]))
        a = pick()
        if a.dtype != dtype or a.shape != dims:
            continue
        if kind == "unary":
            pool.append(make(draw(st.sampled_from(FLOAT_UNARY)), a))
        elif kind == "binary":
            pool.append(make(draw(st.sampled_from(BINARY)), a, _same_typed(draw, pick, a)))
        elif kind == "const":
            c = constant(np.array(draw(st.sampled_from(SPECIALS)), dtype))
            pool.append(make(draw(st.sampled_from(BINARY)), a, make("broadcast", c, shape=list(dims))))
        elif kind == "compare":
            cond = make(draw(st.sampled_from(COMPARE)), a, _same_typed(draw, pick, a))
            pool.append(make("where", cond, a, _same_typed(draw, pick, a)))
        elif kind == "reduce" and dims:
            op = draw(st.sampled_from(["reduce_sum", "reduce_max", "reduce_min"]))
            r = make(op, a, axes=[len(dims) - 1])
            pool.append(make("broadcast", make("reshape", r, shape=list(dims[:-1]) + [1]), shape=list(dims)))
        elif kind == "transpose" and len(dims) == 2 and dims[0] == dims[1]:
            pool.append(make("transpose", a, perm=[1, 0]))
        elif kind == "cast":
            other = np.dtype("float64" if dtype == np.float32 else "float32")
            pool.append(make("cast", make("cast", a, dtype=other), dtype=dtype))
    outs = [n for n in pool[n_inputs:]] or [inputs[0]]
    k = draw(st.integers(1, min(3, len(outs))))
    return Graph(inputs, outs[-k:], name="g")


def _same_typed(draw: st.DrawFn, pick: object, a: Node) -> Node:
    for _ in range(4):
        b = pick()  # type: ignore[operator]
        if b.type == a.type:
            return b
    return a


def input_arrays(graph: Graph, draw: st.DrawFn) -> list[np.ndarray]:
    n = draw(st.integers(0, 4))
    out = []
    for node in graph.inputs:
        shape = tuple(n if isinstance(d, str) else d for d in node.shape)
        flat = draw(st.lists(st.one_of(st.sampled_from(SPECIALS), st.floats(-10, 10, width=32)),
                             min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        out.append(np.array(flat, dtype=node.dtype).reshape(shape))
    return out

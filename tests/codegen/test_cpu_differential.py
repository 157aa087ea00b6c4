"""Random IR graphs, compiled fused and unfused, against the reference evaluator.

Graphs are built with ``make`` from a random program over 1-2 inputs of a random 0-3 dim
shape (with symbolic dims): elementwise ops, casts, layout ops (broadcast, transpose,
slice, reshape), reductions over random axes, with random strides on the arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fusejit.codegen.cpu import compile_cpu
from fusejit.ir import Graph, Node, make
from fusejit.ir.shapes import TensorType
from tests.helpers import assert_same

UNARY = ["neg", "abs", "exp", "tanh", "sqrt", "floor", "sign", "logistic", "log1p", "sin", "square"]
BINARY = ["add", "sub", "mul", "div", "max", "min", "fmax", "pow", "atan2", "floordiv", "mod", "fmod"]
COMPARE = ["lt", "ge", "eq", "ne"]
REDUCE = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]
DTYPES = [np.float32, np.float64, np.int32, np.float16]


@st.composite
def programs(draw):
    rank = draw(st.integers(0, 3))
    sizes = [draw(st.integers(0 if draw(st.booleans()) else 1, 5)) for _ in range(rank)]
    symbolic = [draw(st.booleans()) for _ in range(rank)]
    dims = tuple(f"S{i}" if s else n for i, (n, s) in enumerate(zip(sizes, symbolic)))
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    ins = [Node("input", (), {}, TensorType(dt, dims), name=f"x{i}") for i in range(draw(st.integers(1, 2)))]
    pool: list[Node] = list(ins)
    for _ in range(draw(st.integers(1, 7))):
        a = draw(st.sampled_from(pool))
        kind = draw(st.sampled_from(["unary", "binary", "binary", "cmp", "cast", "layout", "reduce"]))
        try:
            node = _step(draw, kind, a, pool)
        except (TypeError, ValueError, KeyError):
            continue
        if node is not None:
            pool.append(node)
    outs = draw(st.lists(st.sampled_from(pool[len(ins):] or pool), min_size=1, max_size=2))
    concrete = [n for n in sizes]
    return Graph(ins, outs, name="rand"), concrete


def _step(draw, kind: str, a: Node, pool: list[Node]) -> Node | None:
    if kind == "unary":
        op = draw(st.sampled_from(UNARY))
        if op == "square":
            return make("mul", a, a)
        if a.dtype.kind != "f" and op in ("exp", "tanh", "sqrt", "logistic", "log1p", "sin"):
            return None
        return make(op, a)
    if kind in ("binary", "cmp"):
        b = draw(st.sampled_from(pool))
        if b.shape != a.shape or b.dtype != a.dtype:
            if b.ndim == 0 and b.dtype == a.dtype:
                b = make("broadcast", b, shape=list(a.shape))
            else:
                b = a
        op = draw(st.sampled_from(COMPARE if kind == "cmp" else BINARY))
        if op == "atan2" and a.dtype.kind != "f":
            return None
        if op == "pow" and a.dtype.kind != "f":
            b = make("abs", b)
        return make(op, a, b)
    if kind == "cast":
        return make("cast", a, dtype=np.dtype(draw(st.sampled_from(DTYPES))))
    if kind == "layout":
        if a.ndim == 0:
            return make("broadcast", a, shape=[3])
        choice = draw(st.sampled_from(["T", "flip", "bcast", "expand", "slice"]))
        if choice == "T":
            return make("transpose", a, perm=list(reversed(range(a.ndim))))
        if choice == "bcast":
            return make("broadcast", a, shape=[2, *a.shape])
        if choice == "expand":
            return make("reshape", a, shape=[*a.shape[:1], 1, *a.shape[1:]])
        d = a.shape[0]
        if isinstance(d, str):
            return None
        if choice == "flip":
            return make("slice", a, starts=[d - 1] + [0] * (a.ndim - 1), stops=[-1] + list(a.shape[1:]),
                        steps=[-1] + [1] * (a.ndim - 1))
        return make("slice", a, starts=[min(1, d)] + [0] * (a.ndim - 1), stops=list(a.shape),
                    steps=[2] + [1] * (a.ndim - 1))
    if kind == "reduce" and a.ndim:
        axes = sorted(draw(st.sets(st.integers(0, a.ndim - 1), min_size=1)))
        op = draw(st.sampled_from(REDUCE))
        return make(op, a, axes=axes)
    return None


def _arg(node: Node, sizes: list[int], rng: np.random.Generator, strided: bool) -> np.ndarray:
    shape = tuple(sizes)
    v = rng.standard_normal(shape) * 2
    if node.dtype.kind == "i":
        v = np.round(v * 3)
    a = v.astype(node.dtype)
    if strided and a.ndim:
        big = np.zeros(tuple(2 * s for s in shape), node.dtype)
        big[tuple(slice(None, None, 2) for _ in shape)] = a
        a = big[tuple(slice(None, None, 2) for _ in shape)][::-1]
        a = a[::-1]
    return a


def check_program(prog, seed: int, strided: bool, run, error: type[Exception]) -> None:
    """``run(g, args)`` equals the reference evaluator on a random program; where NumPy raises
    (an empty max/min), ``run`` must raise ``error`` with the same message."""
    g, sizes = prog
    rng = np.random.default_rng(seed)
    args = [_arg(n, sizes, rng, strided) for n in g.inputs]
    try:
        with np.errstate(all="ignore"):
            expected = g.evaluate(*args)
    except TypeError:  # NumPy has no loop (neg on bool): the tracer never emits this
        assume(False)
    except ValueError as e:  # an empty max/min: NumPy raises, so must we
        with pytest.raises(error, match=str(e)[:20]):
            run(g, args)
        return
    got = run(g, args)
    half = any(n.dtype == np.float16 for n in (*g.nodes, *g.inputs))
    assert_same(got if isinstance(got, list) else [got], expected, rtol=2e-2 if half else 2e-5)


@pytest.mark.parametrize("fuse", [True, False])
@given(prog=programs(), seed=st.integers(0, 1000), strided=st.booleans())
def test_random_graphs_match_the_reference_evaluator(fuse: bool, prog, seed: int, strided: bool) -> None:
    check_program(prog, seed, strided, lambda g, args: compile_cpu(g, fuse=fuse)(*args), ValueError)

"""IR text round-trips exactly; the parser and the verifier reject malformed graphs clearly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from fusejit.ir import (
    Graph,
    IRParseError,
    Node,
    TensorType,
    VerificationError,
    constant,
    make,
    parse,
    print_graph,
    verify,
)
from tests.ir.strategies import graphs


@given(graphs())
def test_print_parse_print_is_identity(g):
    verify(g)
    text = print_graph(g)
    again = parse(text)
    verify(again)
    assert print_graph(again) == text


def test_constants_round_trip_bit_exactly():
    values = np.array([0.1, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38, 1 / 3], np.float32)
    for dt in (np.float16, np.float32, np.float64):
        v = values.astype(dt)
        g = Graph([], [constant(v, np.dtype(dt))])
        back = parse(print_graph(g)).outputs[0].attrs["value"]
        assert back.dtype == v.dtype and back.tobytes() == v.tobytes()
    ints = np.array([np.iinfo(np.int64).min, -1, np.iinfo(np.int64).max])
    g = Graph([], [constant(ints), constant(np.array([True, False])), constant(np.uint64(2**64 - 1))])
    back = parse(print_graph(g))
    assert [o.attrs["value"].tolist() for o in back.outputs] == [ints.tolist(), [True, False], 2**64 - 1]


def test_golden_text():
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 784)), name="x")
    w = Node("input", (), {}, TensorType(np.dtype(np.float32), (784, 10)), name="w")
    g = Graph([x, w], [make("exp", make("dot", x, w))], name="f")
    assert print_graph(g) == (
        "func @f(%x: f32[N,784], %w: f32[784,10]) -> (f32[N,10]) {\n"
        "  %0 = dot(%x, %w) : f32[N,10]\n"
        "  %1 = exp(%0) : f32[N,10]\n"
        "  return %1\n"
        "}\n")


@pytest.mark.parametrize("text,message", [
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%y) : f32[3]\n  return %0\n}", "used before it is defined"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f64[3]\n  return %0\n}", "declared f64"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = frobnicate(%x) : f32[3]\n  return %0\n}", "unknown op"),
    ("func @f(%x: f32[3], %y: f32[4]) -> (f32[3]) {\n  %0 = add(%x, %y) : f32[3]\n  return %0\n}", "differ"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n", "expected"),
    ("func @f(%x: q32[3]) -> (f32[3]) {\n  return %x\n}", "unknown dtype"),
    ("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3] $$\n  return %0\n}", "unexpected text"),
])
def test_parser_rejects_malformed_text(text, message):
    with pytest.raises((IRParseError, ValueError, KeyError), match=message):
        parse(text)


def test_verifier_rejects_malformed_graphs():
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), (3,)), name="x")
    bad_type = Node("exp", (x,), {}, TensorType(np.dtype(np.float64), (3,)))
    with pytest.raises(VerificationError, match="declared type f64"):
        verify(Graph([x], [bad_type]))
    stranger = Node("input", (), {}, TensorType(np.dtype(np.float32), (3,)), name="y")
    with pytest.raises(VerificationError, match="an input that is not a graph parameter"):
        verify(Graph([x], [make("add", x, stranger)]))
    with pytest.raises(VerificationError, match="unknown op"):
        verify(Graph([x], [Node("nope", (x,), {}, x.type)]))
    with pytest.raises(VerificationError, match="takes 2 operand"):
        verify(Graph([x], [Node("add", (x,), {}, x.type)]))
    with pytest.raises(VerificationError, match="missing attribute"):
        verify(Graph([x], [Node("transpose", (x,), {}, x.type)]))

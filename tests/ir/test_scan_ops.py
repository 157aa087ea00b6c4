"""The scan primitives: type rule, reference semantics, text and file round-trips, verifier errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusejit.ir import (
    Graph,
    IRParseError,
    IRTypeError,
    Node,
    TensorType,
    VerificationError,
    get_op,
    load_graph,
    make,
    parse,
    print_graph,
    save_graph,
    verify,
)


def scan_graph() -> Graph:
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 4)), name="x")
    i = Node("input", (), {}, TensorType(np.dtype(np.int8), (3,)), name="i")
    return Graph([x, i], [make("cumsum", x, axis=0), make("cumprod", x, axis=1),
                          make("cumsum", make("cast", i, dtype=np.dtype(np.int64)), axis=0)], "scans")


def test_registry_entries() -> None:
    for name in ("cumsum", "cumprod"):
        op = get_op(name)
        assert (op.arity, op.fusion, op.attrs) == (1, "opaque", ("axis",))


def test_text_and_file_round_trip(tmp_path: Path) -> None:
    g = scan_graph()
    verify(g)
    text = print_graph(g)
    assert "%0 = cumsum(%x) {axis=0} : f32[N,4]" in text
    assert print_graph(parse(text)) == text
    save_graph(g, tmp_path / "g.fj")
    assert print_graph(load_graph(tmp_path / "g.fj")) == text


def test_reference_keeps_the_operand_dtype_and_wraps() -> None:
    x = np.array([[1.5, 2.0, -1.0, 4.0]] * 3, np.float32)
    i = np.array([100, 100, 100], np.int8)
    s, p, c = scan_graph().evaluate(x, i)
    np.testing.assert_array_equal(s, np.cumsum(x, axis=0))
    np.testing.assert_array_equal(p, np.cumprod(x, axis=1))
    assert c.dtype == np.int64 and c.tolist() == [100, 200, 300]
    wrap = get_op("cumsum").ref(np.array([100, 100], np.int8), axis=0)
    assert wrap.dtype == np.int8 and wrap.tolist() == [100, -56]


def test_type_errors() -> None:
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), (2, 3)), name="x")
    with pytest.raises(IRTypeError, match=r"cumsum: bad axis 2 for shape \(2, 3\)"):
        make("cumsum", x, axis=2)
    with pytest.raises(IRTypeError, match="cumprod: bad axis -1"):
        make("cumprod", x, axis=-1)
    b = Node("input", (), {}, TensorType(np.dtype(bool), (2,)), name="b")
    with pytest.raises(IRTypeError, match="cumsum needs an integer or floating-point operand, got bool"):
        make("cumsum", b, axis=0)
    with pytest.raises(IRParseError, match=r"line 2: cumsum: bad axis None for shape \(3,\)"):
        parse("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = cumsum(%x) : f32[3]\n  return %0\n}")
    bad = make("cumsum", x, axis=1)
    bad.attrs["axis"] = 5
    with pytest.raises(VerificationError, match=r"node %0 \(cumsum\): cumsum: bad axis 5"):
        verify(Graph([x], [bad]))

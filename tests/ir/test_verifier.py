"""The verifier as the gate for untrusted graph files (issue 12, item 8): every attribute of every
op is checked against its operand types, every type against what native code can address, and a
hostile file is a ``GraphFileError`` — never an out-of-bounds read, an ``IndexError`` or a
``RecursionError``. The fuzz writes text graphs with out-of-range attributes and checks that
whatever loads also runs (NumPy reference) without an error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fusejit.ir import GraphFileError, evaluate, load_graph
from fusejit.ir.printer import format_attr
from fusejit.ir.registry import all_ops, get_op
from fusejit.ir.shapes import TensorType
from fusejit.ir.verifier import ATTRIBUTES

HEADER = "# fusejit graph text format 1\n"


def _load(tmp_path: Path, text: str):
    p = tmp_path / "g.fjg"
    p.write_text(HEADER + text)
    return load_graph(p)


def test_every_attribute_of_every_op_has_a_declared_kind() -> None:
    undeclared = {name: [a for a in op.attrs if a not in ATTRIBUTES.get(name, {})]
                  for name, op in all_ops().items()}
    assert not {k: v for k, v in undeclared.items() if v}, "declare their kinds in ir/verifier.ATTRIBUTES"


@pytest.mark.parametrize("body, match", [
    ("%0 = slice(%x) {starts=[0], stops=[10], steps=[1]} : f32[10]", "outside a dim of size 6"),
    ("%0 = slice(%x) {starts=[0], stops=[100000000], steps=[1]} : f32[100000000]", "outside a dim of size 6"),
    ("%0 = slice(%x) {starts=[3], stops=[-6], steps=[-1]} : f32[9]", "outside a dim of size 6"),
    ("%0 = slice(%x) {starts=[7], stops=[7], steps=[1]} : f32[0]", "6"),
    ("%0 = concat(%x, %x) {axis=-1} : f32[12,6]", "axis=-1"),  # the type rule alone gives f32[12,6]
    ("%0 = cumsum(%x) {axis=1} : f32[6]", "axis"),
    ("%0 = reduce_sum(%x) {axes=[0, 0]} : f32[]", "axes"),
    ("%0 = argmax(%x) {axis=true} : i64[]", "bad axes"),
    ("%0 = numel(%x) {axes=[3], dtype=i64} : i64[]", "axes"),
    ("%0 = numel(%x) {axes=[0], dtype=f16, x=1} : f16[]", "unknown attribute"),
    ("%0 = broadcast(%x) {shape=[1267650600228229401496703205376, 6]} : f32[1267650600228229401496703205376,6]",
     "not an integer in"),
    ("%0 = reshape(%x) {shape=[6], extra=1} : f32[6]", "unknown attribute"),
])
def test_hostile_attributes_are_graph_file_errors(tmp_path: Path, body: str, match: str) -> None:
    text = f"func @f(%x: f32[6]) -> (f32[0]) {{\n  {body}\n  return %0\n}}\n"
    with pytest.raises(GraphFileError, match=match):
        _load(tmp_path, text)


@pytest.mark.parametrize("dims", ["1267650600228229401496703205376", "4611686018427387904",
                                  "2147483648,2147483648,2"])
def test_unaddressable_input_types_are_graph_file_errors(tmp_path: Path, dims: str) -> None:
    text = f"func @f(%x: f32[{dims}]) -> (f32[{dims}]) {{\n  %0 = neg(%x) : f32[{dims}]\n  return %0\n}}\n"
    with pytest.raises(GraphFileError):
        _load(tmp_path, text)


def test_a_50000_node_chain_loads(tmp_path: Path) -> None:
    n = 50_000
    lines = ["func @f(%x: f32[4]) -> (f32[4]) {", "  %0 = neg(%x) : f32[4]"]
    lines += [f"  %{i} = mul(%{i - 1}, %x) : f32[4]" for i in range(1, n)]
    graph = _load(tmp_path, "\n".join([*lines, f"  return %{n - 1}", "}"]))
    assert len(graph.nodes) == n


# ---- the fuzz ------------------------------------------------------------------------------------

BIG = [-(1 << 100), -(1 << 63), -(1 << 62), -7, -2, -1, 0, 1, 2, 3, 5, 6, 7, (1 << 31), (1 << 62), (1 << 100)]
ints = st.one_of(st.integers(-3, 8), st.sampled_from(BIG))
junk = st.one_of(ints, st.booleans(), st.sampled_from([1.5, "N", "x y", None]), st.lists(ints, max_size=3))
int_lists = st.one_of(st.lists(ints, min_size=0, max_size=4), junk)
dims = st.lists(st.one_of(st.integers(0, 5), st.sampled_from([1 << 40, 1 << 62, 1 << 100])), min_size=0, max_size=3)
dtypes = st.sampled_from(["f32", "f64", "i32", "i64", "u8", "bool", "u32", "u64"])

TEMPLATES = {  # op -> (extra operand types (given x's), attribute strategies)
    "slice": ([], {"starts": int_lists, "stops": int_lists, "steps": int_lists}),
    "update_slice": (["x"], {"starts": int_lists, "stops": int_lists, "steps": int_lists}),
    "concat": (["x"], {"axis": junk}),
    "reduce_sum": ([], {"axes": int_lists}),
    "reduce_max": ([], {"axes": int_lists}),
    "argmax": ([], {"axis": junk}),
    "cumsum": ([], {"axis": junk}),
    "take": (["i64[2]"], {"axis": junk}),
    "transpose": ([], {"perm": int_lists}),
    "reshape": ([], {"shape": int_lists}),
    "broadcast": ([], {"shape": int_lists}),
    "numel": ([], {"axes": int_lists, "dtype": dtypes}),
    "cast": ([], {"dtype": dtypes}),
    "scatter_add": (["i64[2]"], {"axis": junk, "size": junk}),
}


def _declared(op: str, types: list[TensorType], attrs: dict) -> str:
    """The type the op's own rule gives (so the file is consistent and the checks after it are what
    decides), or operand 0's when the rule refuses."""
    from fusejit.ir.dtypes import parse_dtype

    parsed = {k: parse_dtype(v) if k == "dtype" else v for k, v in attrs.items()}
    try:
        return str(get_op(op).infer(types, parsed))
    except Exception:  # noqa: BLE001 - any refusal: the loader must refuse too
        return str(types[0])


@given(op=st.sampled_from(sorted(TEMPLATES)), shape=dims, data=st.data())
def test_fuzzed_attributes_give_graph_file_errors_or_graphs_that_run(op: str, shape: list,
                                                                     data: st.DataObject) -> None:
    from fusejit.ir.dtypes import parse_dtype

    xt = f"f32[{','.join(map(str, shape))}]"
    extra, strategies = TEMPLATES[op]
    operand_types = [xt] + [xt if e == "x" else e for e in extra]
    attrs = {k: data.draw(s, label=k) for k, s in strategies.items()}
    try:
        types = [TensorType(parse_dtype(t.split("[")[0]), tuple(int(d) for d in t[:-1].split("[")[1].split(",") if d))
                 for t in operand_types]
        declared = _declared(op, types, attrs)
    except Exception:  # noqa: BLE001
        declared = xt
    params = ", ".join(f"%a{i}: {t}" for i, t in enumerate(operand_types))
    attr_text = ", ".join(f"{k}={format_attr(k, v)}" for k, v in attrs.items())
    text = (f"func @f({params}) -> ({declared}) {{\n"
            f"  %0 = {op}({', '.join(f'%a{i}' for i in range(len(operand_types)))}) {{{attr_text}}} : {declared}\n"
            "  return %0\n}\n")
    with tempfile.TemporaryDirectory() as d:
        try:
            graph = _load(Path(d), text)
        except GraphFileError:
            return
    if any(np.prod(n.shape, dtype=float) > 1e6 for n in [*graph.inputs, *graph.nodes]):
        return  # a legal type too large to run here (2**40 elements)
    args = [np.zeros(n.shape, n.dtype) for n in graph.inputs]
    try:
        results = evaluate(graph, args)
    except np.exceptions.AxisError:
        raise  # an axis the verifier should have refused
    except (ValueError, IndexError) as exc:  # what NumPy raises for these values: argmax of nothing, index 0 of 0
        assert any(w in str(exc) for w in ("empty", "zero-size", "out of bounds for axis")), exc
        return
    # NumPy clamps what it reads; a declared shape it does not give means the graph reads outside its input
    assert [r.shape for r in results] == [o.shape for o in graph.outputs]

"""The C signature: identifiers, symbolic dims, header and wrapper text for unusual graphs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from fusejit.aot.build import toolchain_available
from fusejit.aot.header import generate_header
from fusejit.aot.signature import AotError, Signature, c_identifiers, signature_of
from fusejit.aot.wrapper import Layout, generate_wrapper
from fusejit.ir import Graph, Node, TensorType, constant, make


def inp(name: str, dtype: str, shape: tuple) -> Node:
    return Node("input", (), {}, TensorType(np.dtype(dtype), shape), name=name)


def test_c_identifiers_are_valid_and_distinct() -> None:
    taken = {"m_run"}
    assert c_identifiers(["x", "x", "int", "a.b", "m_run", "N"], taken) == ["x", "x_1", "int_1", "a_b", "m_run_1", "N"]


def weird_graph() -> Graph:
    a = inp("int", "float16", ("B", "T", 4))
    b = inp("b.mask", "bool", ("T",))
    c = inp("idx", "int32", ())
    cast = make("cast", a, dtype=np.dtype(np.float32))
    return Graph([a, b, c], [cast, b, constant(np.zeros((2, 2), np.uint64))], "weird")


def test_signature_of_many_dims_dtypes_and_names() -> None:
    sig = signature_of(weird_graph(), "w")
    assert sig.dims == ("B", "T")
    assert [(t.name, t.ctype, t.shape) for t in sig.inputs] == [
        ("int_1", "uint16_t", ("B", "T", 4)), ("b_mask", "bool", ("T",)), ("idx", "int32_t", ())]
    assert [(t.name, t.ctype, t.shape) for t in sig.outputs] == [
        ("out0", "float", ("B", "T", 4)), ("out1", "bool", ("T",)), ("out2", "uint64_t", (2, 2))]
    assert Signature.from_json(sig.to_json()) == sig


def test_bad_names() -> None:
    with pytest.raises(AotError, match="must be a C identifier"):
        signature_of(weird_graph(), "int")


@pytest.mark.skipif(not toolchain_available(), reason="gcc not installed")
def test_generated_c_compiles_cleanly(tmp_path: Path) -> None:
    """Header and wrapper for a graph with two dims, no constants, a 0-d input and float16/bool."""
    sig = signature_of(weird_graph(), "w")
    (tmp_path / "w.h").write_text(generate_header(sig, ["m"]))
    layout = Layout(nwords=9, const_words=[], const_shapes=[], output_words=[3], slot_words=[4],
                    slot_sizes=[[(4, (0, 1), 4), (2, (1,), 8)]], symbol_words=[5, 6], input_stride_words=[7, 10, 11],
                    results=[("out", 0), ("input", 1), ("bytes", b"\0" * 32)], errors={1: 'a "quoted" error'})
    (tmp_path / "w_api.c").write_text(generate_wrapper(sig, layout))
    assert "int w_run(int64_t B, int64_t T, const uint16_t *int_1, const bool *b_mask, const int32_t *idx, " \
           "float *out0, bool *out1, uint64_t *out2);" in (tmp_path / "w.h").read_text()
    subprocess.run(["gcc", "-c", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{tmp_path}",
                    str(tmp_path / "w_api.c"), "-o", str(tmp_path / "w.o")], check=True)


@pytest.mark.skipif(not toolchain_available(), reason="gcc not installed")
def test_graph_without_inputs_or_dims_compiles(tmp_path: Path) -> None:
    g = Graph([], [constant(np.arange(3.0))], "k")
    sig = signature_of(g, "k")
    (tmp_path / "k.h").write_text(generate_header(sig, ["m"]))
    layout = Layout(nwords=1, const_words=[0], const_shapes=[(3,)], output_words=[], slot_words=[], slot_sizes=[],
                    symbol_words=[], input_stride_words=[0], results=[("const", 0)])
    (tmp_path / "k_api.c").write_text(generate_wrapper(sig, layout))
    assert "int k_run(double *out);" in (tmp_path / "k.h").read_text()
    assert "int k_output_shape(int index, int64_t *shape);" in (tmp_path / "k.h").read_text()
    subprocess.run(["gcc", "-c", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{tmp_path}",
                    str(tmp_path / "k_api.c"), "-o", str(tmp_path / "k.o")], check=True)

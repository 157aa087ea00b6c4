"""The optimizer on cumsum/cumprod: folded through the reference, merged by CSE, dropped by DCE,
left alone by the algebraic and layout rewrites (a scan is not elementwise)."""

from __future__ import annotations

import numpy as np

from fusejit.passes.pipeline import optimize

from .golden import ir, same_bits, sample_args


def ops(text: str) -> list[str]:
    return [n.op for n in optimize(ir(text)).graph.nodes]


def test_constant_scan_folds_bitwise() -> None:
    g = optimize(ir("""func @f(%x: f32[5]) -> (f32[5]) {
      %0 = constant {value=[0.1, 0.2, 0.3, 0.4, 0.5]} : f32[5]
      %1 = cumsum(%0) {axis=0} : f32[5]
      %2 = add(%x, %1) : f32[5]
      return %2
    }""")).graph
    assert [n.op for n in g.nodes] == ["constant", "add"]
    folded = g.nodes[0].attrs["value"]
    same_bits(folded, np.cumsum(np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)))


def test_cse_merges_and_dce_drops() -> None:
    assert ops("""func @f(%x: f32[4,3]) -> (f32[4,3]) {
      %0 = cumsum(%x) {axis=0} : f32[4,3]
      %1 = cumsum(%x) {axis=0} : f32[4,3]
      %2 = cumprod(%x) {axis=1} : f32[4,3]
      %3 = add(%0, %1) : f32[4,3]
      return %3
    }""") == ["cumsum", "add"]


def test_scan_of_a_broadcast_or_transpose_is_not_rewritten_through() -> None:
    text = """func @f(%x: f32[3], %y: f32[3,4]) -> (f32[4,3], f32[4,3]) {
      %0 = broadcast(%x) {shape=[4, 3]} : f32[4,3]
      %1 = cumsum(%0) {axis=0} : f32[4,3]
      %2 = transpose(%y) {perm=[1, 0]} : f32[4,3]
      %3 = cumprod(%2) {axis=1} : f32[4,3]
      return %1, %3
    }"""
    g = ir(text)
    opt = optimize(g).graph
    assert [n.op for n in opt.nodes].count("cumsum") == 1 and [n.op for n in opt.nodes].count("cumprod") == 1
    args = sample_args(g)
    for a, b in zip(opt.evaluate(*args), g.evaluate(*args)):
        same_bits(a, b)

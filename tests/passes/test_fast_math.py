import numpy as np

from fusejit.passes import optimize
from fusejit.passes.fast_math import fast_math

from .golden import check, ir, sample_args

SRC = """func @f(%x: f32[N]) -> (f32[N], f32[N]) {
  %0 = constant {value=3.0} : f32[]
  %1 = broadcast(%0) {shape=[N]} : f32[N]
  %2 = div(%x, %1) : f32[N]
  %3 = constant {value=1.0} : f32[]
  %4 = broadcast(%3) {shape=[N]} : f32[N]
  %5 = add(%x, %4) : f32[N]
  %6 = constant {value=2.0} : f32[]
  %7 = broadcast(%6) {shape=[N]} : f32[N]
  %8 = sub(%5, %7) : f32[N]
  return %2, %8
}"""


def test_fast_math_rewrites() -> None:
    check(fast_math, SRC, """func @f(%x: f32[N]) -> (f32[N], f32[N]) {
      %0 = constant {value=3.0} : f32[]
      %1 = broadcast(%0) {shape=[N]} : f32[N]
      %2 = reciprocal(%1) : f32[N]
      %3 = mul(%x, %2) : f32[N]
      %4 = constant {value=1.0} : f32[]
      %5 = broadcast(%4) {shape=[N]} : f32[N]
      %6 = constant {value=2.0} : f32[]
      %7 = broadcast(%6) {shape=[N]} : f32[N]
      %8 = neg(%7) : f32[N]
      %9 = add(%5, %8) : f32[N]
      %10 = add(%x, %9) : f32[N]
      return %3, %10
    }""", exact=False)


def test_off_by_default_and_folded_when_on() -> None:
    graph = ir(SRC)
    assert [n.op for n in optimize(graph).graph.nodes if n.op in ("div", "sub")] == ["div", "sub"]
    fast = optimize(graph, fast_math=True).graph
    ops = [n.op for n in fast.nodes]
    assert ops.count("mul") == 1 and ops.count("add") == 1 and "div" not in ops and "sub" not in ops
    args = sample_args(graph, 0, symbol_size=64)
    for want, got in zip(graph.evaluate(*args), fast.evaluate(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-6)

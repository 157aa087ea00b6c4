import numpy as np

from fusejit.ir import Graph, Node, TensorType, constant, make
from fusejit.passes import optimize
from fusejit.passes.affine_folding import affine_folding

from .golden import check, sample_args, unchanged

SCALED = """func @f(%x: f32[N,2]) -> (f32[N,2]) {
  %0 = constant {value=[[1.0, 2.0], [3.0, 4.0]]} : f32[2,2]
  %1 = dot(%x, %0) : f32[N,2]
  %2 = constant {value=[2.0, 0.5]} : f32[2]
  %3 = broadcast(%2) {shape=[N, 2]} : f32[N,2]
  %4 = mul(%1, %3) : f32[N,2]
  %5 = constant {value=[[1.0, -1.0]]} : f32[1,2]
  %6 = broadcast(%5) {shape=[N, 2]} : f32[N,2]
  %7 = add(%4, %6) : f32[N,2]
  %8 = constant {value=4.0} : f32[]
  %9 = broadcast(%8) {shape=[N, 2]} : f32[N,2]
  %10 = div(%7, %9) : f32[N,2]
  return %10
}"""


def test_scale_shift_and_divide_fold_into_weights_and_bias() -> None:
    check(affine_folding, SCALED, """func @f(%x: f32[N,2]) -> (f32[N,2]) {
      %0 = constant {value=[[0.5, 0.25], [1.5, 0.5]]} : f32[2,2]
      %1 = dot(%x, %0) : f32[N,2]
      %2 = constant {value=[0.25, -0.25]} : f32[2]
      %3 = broadcast(%2) {shape=[N, 2]} : f32[N,2]
      %4 = add(%1, %3) : f32[N,2]
      return %4
    }""", exact=False)


def test_not_folded_when_the_dot_has_another_reader_or_the_scale_varies_by_row() -> None:
    unchanged(affine_folding, """func @f(%x: f32[2,2]) -> (f32[2,2], f32[2,2]) {
      %0 = constant {value=[[1.0, 2.0], [3.0, 4.0]]} : f32[2,2]
      %1 = dot(%x, %0) : f32[2,2]
      %2 = constant {value=[2.0, 0.5]} : f32[2]
      %3 = broadcast(%2) {shape=[2, 2]} : f32[2,2]
      %4 = mul(%1, %3) : f32[2,2]
      return %4, %1
    }""")
    unchanged(affine_folding, """func @f(%x: f32[2,2]) -> (f32[2,2]) {
      %0 = constant {value=[[1.0, 2.0], [3.0, 4.0]]} : f32[2,2]
      %1 = dot(%x, %0) : f32[2,2]
      %2 = constant {value=[[2.0], [0.5]]} : f32[2,1]
      %3 = broadcast(%2) {shape=[2, 2]} : f32[2,2]
      %4 = mul(%1, %3) : f32[2,2]
      return %4
    }""")


def _dense_batch_norm() -> Graph:
    """(dot(x, W) + c - mean) / sqrt(var + eps) * gamma + beta, as a tracer would emit it."""
    rng = np.random.default_rng(0)
    x = Node("input", (), {}, TensorType(np.dtype(np.float32), ("N", 8)), name="x")
    vec = [constant(rng.standard_normal(5).astype(np.float32)) for _ in range(4)]
    c, mean, gamma, beta = vec
    var = constant(rng.uniform(0.5, 2, 5).astype(np.float32))
    eps = constant(np.float32(1e-5))

    def bc(n: Node) -> Node:
        return make("broadcast", n, shape=["N", 5])

    y = make("dot", x, constant(rng.standard_normal((8, 5)).astype(np.float32)))
    y = make("sub", make("add", y, bc(c)), bc(mean))
    y = make("div", y, bc(make("sqrt", make("add", var, make("broadcast", eps, shape=[5])))))
    y = make("add", make("mul", y, bc(gamma)), bc(beta))
    return Graph([x], [y], name="dense_bn")


def test_batch_norm_after_a_dense_layer_becomes_one_dot_and_one_add() -> None:
    graph = _dense_batch_norm()
    assert "affine_folding" not in [s.name for s in optimize(graph).stats]  # not bit-exact: opt-in
    folded = optimize(graph, fold_affine=True, verify_each=True).graph
    assert [n.op for n in folded.nodes if n.op not in ("constant", "broadcast")] == ["dot", "add"]
    args = [a.clip(-10, 10) for a in sample_args(graph, 0, symbol_size=16)]
    args[0][~np.isfinite(args[0])] = 1.0
    np.testing.assert_allclose(folded.evaluate(*args)[0], graph.evaluate(*args)[0], rtol=2e-5, atol=2e-5)


def test_batched_matmul_with_broadcast_weights() -> None:
    check(affine_folding, """func @f(%x: f32[B,5,2]) -> (f32[B,5,2]) {
      %0 = constant {value=[[1.0, 2.0], [3.0, 4.0]]} : f32[2,2]
      %1 = broadcast(%0) {shape=[B, 2, 2]} : f32[B,2,2]
      %2 = dot(%x, %1) : f32[B,5,2]
      %3 = constant {value=[2.0, 0.5]} : f32[2]
      %4 = broadcast(%3) {shape=[B, 5, 2]} : f32[B,5,2]
      %5 = mul(%2, %4) : f32[B,5,2]
      return %5
    }""", """func @f(%x: f32[B,5,2]) -> (f32[B,5,2]) {
      %0 = constant {value=[[2.0, 1.0], [6.0, 2.0]]} : f32[2,2]
      %1 = broadcast(%0) {shape=[B, 2, 2]} : f32[B,2,2]
      %2 = dot(%x, %1) : f32[B,5,2]
      return %2
    }""", exact=False)

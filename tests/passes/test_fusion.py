"""The fusion planner: which ops land in which kernel, and what is never fused."""

from __future__ import annotations

import pytest

from fusejit.ir import parse
from fusejit.passes.fusion import plan_fusion
from tests.cpu_graphs import CHAIN, LAYERNORM, MLP, SOFTMAX, SUMSQ


def kinds(text: str, fuse: bool = True) -> list[str]:
    return [k.kind for k in plan_fusion(parse(text), fuse=fuse).kernels]


@pytest.mark.parametrize("text, expected", [
    (CHAIN, ["loop"]), (SOFTMAX, ["row"]), (LAYERNORM, ["row"]), (SUMSQ, ["row"]), (MLP, ["dot", "dot"]),
])
def test_workloads_fuse_to_expected_kernels(text: str, expected: list[str]) -> None:
    assert kinds(text) == expected


def test_mlp_epilogues_are_fused_into_the_dot_kernels() -> None:
    plan = plan_fusion(parse(MLP))
    first, second = plan.kernels
    assert first.anchor.op == "dot" and first.alias is plan.kernels[1].inputs[0]
    assert {"add", "max", "broadcast"} <= set(first.ops)
    assert second.ops.count("add") == 1 and second.alias is plan.graph.outputs[0]


def test_unfused_is_one_kernel_per_op() -> None:
    g = parse(SOFTMAX)
    plan = plan_fusion(g, fuse=False)
    assert len(plan.kernels) == len([n for n in g.nodes if n.op not in ("constant", "numel")])
    assert all(len(k.nodes) == 1 for k in plan.kernels)


def test_softmax_row_kernel_reads_x_once_and_writes_only_the_output() -> None:
    (k,) = plan_fusion(parse(SOFTMAX)).kernels
    assert [n.op for n in k.inputs] == ["input"]
    assert [n.op for n in k.outputs] == ["div"]
    assert k.reduce_ndim == 1


@pytest.mark.parametrize("src, out, kernels", [
    # exp(a) would be re-evaluated for every row: materialized once instead
    ("%0 = exp(%a) : f32[N]\n %1 = broadcast(%0) {shape=[M,N]} : f32[M,N]", "f32[M,N]", 2),
    # constant along the innermost loop only: LLVM hoists it out, so it fuses
    ("%0 = exp(%a) : f32[N]\n %r = reshape(%0) {shape=[N,1]} : f32[N,1]\n"
     " %1 = broadcast(%r) {shape=[N,M]} : f32[N,M]", "f32[N,M]", 1),
])
def test_expensive_producer_is_not_recomputed_across_a_broadcast(src: str, out: str, kernels: int) -> None:
    shape = out[4:-1]
    g = parse(f"""func @f(%a: f32[N], %x: {out}) -> ({out}) {{
      {src}
      %2 = mul(%x, %1) : {out}
      return %2
    }}""")
    plan = plan_fusion(g)
    assert len(plan.kernels) == kernels, (shape, str(plan))
    assert sum(k.ops.count("exp") for k in plan.kernels) == 1


def test_shared_producer_with_two_consumer_kernels_is_materialized_once() -> None:
    g = parse("""func @f(%x: f32[N]) -> (f32[], f32[]) {
      %0 = exp(%x) : f32[N]
      %1 = reduce_sum(%0) {axes=[0]} : f32[]
      %2 = reduce_max(%0) {axes=[0]} : f32[]
      return %1, %2
    }""")
    plan = plan_fusion(g)
    exps = [k for k in plan.kernels if "exp" in k.ops]
    assert len(exps) == 1 and sum(n.op == "exp" for n in exps[0].nodes) == 1


def test_reduction_epilogue_fuses_into_the_reduction() -> None:
    g = parse("""func @f(%x: f32[N,D]) -> (f32[N]) {
      %0 = reduce_sum(%x) {axes=[1]} : f32[N]
      %n = numel(%x) {axes=[1], dtype=f32} : f32[]
      %nb = broadcast(%n) {shape=[N]} : f32[N]
      %1 = div(%0, %nb) : f32[N]
      return %1
    }""")
    (k,) = plan_fusion(g).kernels
    assert k.kind == "row" and k.outer == ("N",) and k.outputs[0].op == "div"


def test_column_reduction_is_a_row_kernel_over_the_permuted_space() -> None:
    g = parse("""func @f(%x: f32[N,D]) -> (f32[D]) {
      %0 = reduce_sum(%x) {axes=[0]} : f32[D]
      return %0
    }""")
    (k,) = plan_fusion(g).kernels
    assert k.space == ("D", "N") and list(k.reduce_maps.values()) == [(1, 0)]


def test_plan_prints_readably() -> None:
    text = str(plan_fusion(parse(SOFTMAX)))
    assert text.startswith("kernel 0: row kernel over (N, D), reduce 1 trailing: reduce_max")


def test_siblings_reading_one_input_become_one_multi_output_kernel() -> None:
    g = parse("""func @f(%x: f32[N,D], %y: f32[N,D]) -> (f32[N], f32[N], f32[N,D], f32[N,D]) {
      %0 = reduce_sum(%x) {axes=[1]} : f32[N]
      %1 = reduce_max(%x) {axes=[1]} : f32[N]
      %2 = add(%x, %y) : f32[N,D]
      %3 = mul(%x, %y) : f32[N,D]
      return %0, %1, %2, %3
    }""")
    (k,) = plan_fusion(g).kernels  # the row kernel's output pass writes x+y and x*y
    assert k.kind == "row" and len(k.outputs) == 4 and [n.op for n in k.inputs] == ["input", "input"]
    assert len(plan_fusion(g, fuse=False).kernels) == 4


def test_dependent_kernels_are_not_merged() -> None:
    g = parse("""func @f(%x: f32[N,N]) -> (f32[N,N], f32[N,N]) {
      %0 = exp(%x) : f32[N,N]
      %t = transpose(%0) {perm=[1,0]} : f32[N,N]
      %2 = add(%x, %t) : f32[N,N]
      return %0, %2
    }""")
    plan = plan_fusion(g)
    assert len(plan.kernels) == 2
    order = [set(map(id, k.outputs)) for k in plan.kernels]
    for i, k in enumerate(plan.kernels):  # every input is produced by an earlier kernel
        for n in k.inputs:
            assert not any(id(n) in o for o in order[i:])


def test_a_value_read_by_numel_and_a_reduction_plans_without_error() -> None:
    """numel reads only its operand's shape: it is no kernel's member (a planner KeyError before)."""
    text = """func @p(%x: f32[N]) -> (f32[], f64[]) {
  %0 = mul(%x, %x) : f32[N]
  %1 = reduce_sum(%0) {axes=[0]} : f32[]
  %2 = numel(%0) {axes=[0], dtype=f64} : f64[]
  return %1, %2
}"""
    assert kinds(text) == ["row"]


def test_row_value_read_through_a_flattening_reshape_is_not_recomputed_per_point() -> None:
    """log-softmax picked by ``logp[np.arange(n), y]`` (a gather from the flattened array): the
    row's ``log(sum)`` stays in the row kernel instead of running once per element of the loop."""
    import numpy as np

    import fusejit

    def xent(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -logp[np.arange(4), y].mean()

    graph = fusejit.jit(xent, backend="reference").lower(np.ones((4, 8), np.float32), np.zeros(4, np.int64)).graph
    plan = plan_fusion(graph)
    (log_kernel,) = [k for k in plan.kernels if "log" in k.ops]
    assert log_kernel.kind == "row"


def test_gathered_operand_is_evaluated_at_the_gathered_positions() -> None:
    """``take(f(x), idx)`` with pointwise ``f``: f runs inside the gather's kernel at the gathered
    positions only (no buffer of f(x)); a reduction under it stays a kernel of its own."""
    import numpy as np

    import fusejit

    def pick(x: np.ndarray, y: np.ndarray, i: np.ndarray) -> tuple:
        centered = x - x.max(axis=1, keepdims=True)
        return (np.exp(centered * 2)[np.arange(4), y], np.take(np.sin(x.T + 1), i, axis=1),
                np.take(x.sum(axis=0), i))

    rng = np.random.default_rng(0)
    x, y, i = rng.standard_normal((4, 6)), np.array([5, 0, -1, 2]), np.array([[3, -4], [0, 3]])
    jf = fusejit.jit(pick)
    for got, want in zip(jf(x, y, i), pick(x, y, i)):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    plan = plan_fusion(jf.lower(x, y, i).graph)
    gathers = [k for k in plan.kernels if "take" in k.ops]
    assert any("exp" in k.ops for k in gathers) and any("sin" in k.ops for k in gathers)
    assert all("reduce_sum" not in k.ops for k in gathers)
    with pytest.raises(IndexError):
        jf(x, np.array([0, 6, 1, 1]), i)

"""Multi-output kernels: consumers of one value merge so it is computed once, in one pass.

When a value's readers sit in several kernels with the same loops, the planner merges those
kernels (they must not depend on each other) and fuses the value into the merged kernel rather
than materializing it: Black-Scholes is one loop kernel writing call and put with no scratch.
Every plan is also run on the CPU against NumPy (fused vs the reference evaluator).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusejit.bench.workloads import WORKLOADS
from fusejit.codegen.cpu import compile_cpu
from fusejit.ir import Graph, parse
from fusejit.passes.fusion import SOURCES, FusionPlan, compute_ok, is_computing, is_splat, plan_fusion
from tests.codegen.test_cpu_differential import programs
from tests.ir.strategies import graphs
from tests.passes.test_fusion_unit_dims import agrees_with_numpy, planned


def black_scholes_plan(n: int) -> tuple[FusionPlan, tuple[np.ndarray, ...]]:
    from scipy.special import erf

    from fusejit.bench.workloads import namespace

    w = WORKLOADS["black_scholes"]
    xp = namespace(np, erf=erf)
    args = w.inputs(n)
    return planned(lambda *a: w.body(xp, *a), *args), args


def test_black_scholes_is_one_multi_output_loop_kernel_without_scratch() -> None:
    plan, _ = black_scholes_plan(1000)
    (k,) = plan.kernels
    assert k.kind == "loop" and len(k.outputs) == 2
    assert all(n.op in SOURCES for n in k.inputs)  # nothing materialized between kernels
    assert {"exp", "log", "erf"} <= set(k.ops)
    ops = [n.op for n in plan.graph.nodes]
    assert k.ops.count("erf") == ops.count("erf") == 2  # d1 and d2, each once: shared by call and put


def test_black_scholes_compiled_matches_numpy_with_no_scratch() -> None:
    from scipy.special import erf

    from fusejit.bench.workloads import namespace

    w = WORKLOADS["black_scholes"]
    xp = namespace(np, erf=erf)
    args = w.inputs(4097)
    plan, _ = black_scholes_plan(4097)
    exe = compile_cpu(plan.graph)
    assert exe.num_kernels == 1 and "scratch" not in exe.describe()
    for got, want in zip(exe(*args), w.body(xp, *args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_consumers_of_a_shared_expensive_value_merge_and_compute_it_once() -> None:
    g = parse("""func @f(%x: f32[N], %y: f32[N]) -> (f32[N], f32[N]) {
      %0 = exp(%x) : f32[N]
      %1 = add(%0, %y) : f32[N]
      %2 = mul(%0, %y) : f32[N]
      return %1, %2
    }""")
    (k,) = plan_fusion(g).kernels
    assert k.ops == ["exp", "add", "mul"] and len(k.outputs) == 2


def test_consumers_that_depend_on_each_other_are_not_merged() -> None:
    """%3 reads a column sum of %1, so %1's kernel and %3's cannot be one: exp is materialized
    (once), and the kernels run producer first."""
    g = parse("""func @f(%x: f32[N,D]) -> (f32[N,D], f32[N,D]) {
      %0 = exp(%x) : f32[N,D]
      %1 = add(%0, %x) : f32[N,D]
      %c = reduce_sum(%1) {axes=[0]} : f32[D]
      %b = broadcast(%c) {shape=[N,D]} : f32[N,D]
      %3 = mul(%0, %b) : f32[N,D]
      return %1, %3
    }""")
    plan = plan_fusion(g)
    assert sum(k.ops.count("exp") for k in plan.kernels) == 1
    assert_valid(plan)
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    for got, want in zip(compile_cpu(g)(x), g.evaluate(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_sibling_merge_keeps_producers_first() -> None:
    """exp(x) and x + colsum(y) share x; merged, the kernel must still run after the column
    sum it reads (it used to take the first sibling's place, before the sum: wrong result)."""
    g = parse("""func @f(%x: f32[4,8], %y: f32[4,8]) -> (f32[4,8], f32[4,8]) {
      %a = exp(%x) : f32[4,8]
      %c = reduce_sum(%y) {axes=[0]} : f32[8]
      %bc = broadcast(%c) {shape=[4,8]} : f32[4,8]
      %b = add(%x, %bc) : f32[4,8]
      return %a, %b
    }""")
    plan = plan_fusion(g)
    assert len(plan.kernels) == 2
    assert_valid(plan)
    rng = np.random.default_rng(1)
    x, y = (rng.standard_normal((4, 8)).astype(np.float32) for _ in range(2))
    for got, want in zip(compile_cpu(g)(x, y), g.evaluate(x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_row_reduction_and_an_elementwise_sibling_share_one_row_pass() -> None:
    def fn(x, y):
        return x.sum(-1), x * y

    rng = np.random.default_rng(2)
    x, y = (rng.standard_normal((6, 33)).astype(np.float32) for _ in range(2))
    (k,) = planned(fn, x, y).kernels
    assert k.kind == "row" and len(k.outputs) == 2
    agrees_with_numpy(fn, x, y)


def test_softmax_with_its_cross_entropy_is_one_row_kernel() -> None:
    """Probabilities and the per-row loss read the same exp/sum: one kernel, x read once."""
    def fn(x, y):
        s = x - x.max(-1, keepdims=True)
        e = np.exp(s)
        z = e.sum(-1, keepdims=True)
        return e / z, -(y * (s - np.log(z))).sum(-1)

    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 10)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
    (k,) = planned(fn, x, y).kernels
    assert k.kind == "row" and len(k.outputs) == 2
    agrees_with_numpy(fn, x, y)


def layer_norm_with_stats(x):
    mean, var = x.mean(-1), x.var(-1)
    return (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True), mean, var


def softmax_with_logsumexp(x):
    s = x - x.max(-1, keepdims=True)
    z = np.exp(s).sum(-1, keepdims=True)
    return np.exp(s) / z, np.log(z[:, 0])


def layer_norm_training_forward(x, gamma):
    """What a training step saves for the backward pass: the normalized rows, mean, 1/std."""
    mean, var = x.mean(-1), x.var(-1)
    rstd = 1 / np.sqrt(var + np.float32(1e-5))
    return (x - mean[:, None]) * rstd[:, None] * gamma, mean, rstd


@pytest.mark.parametrize("fn", [layer_norm_with_stats, softmax_with_logsumexp, layer_norm_training_forward],
                         ids=lambda f: f.__name__)
def test_row_statistics_returned_beside_the_rows_stay_in_the_row_kernel(fn) -> None:
    """mean and var are outputs and read by the normalization: the normalization reads them
    from registers in the kernel that computes them (was 4 kernels each)."""
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((9, 40)).astype(np.float32), rng.standard_normal(40).astype(np.float32))
    args = args[:fn.__code__.co_argcount]
    (k,) = planned(fn, *args).kernels
    assert k.kind == "row" and all(n.op == "input" for n in k.inputs)
    agrees_with_numpy(fn, *args, rtol=1e-4)


def test_shared_value_read_through_different_spaces_is_materialized_once() -> None:
    """exp(a) feeds a (M, N) kernel (re-evaluated per row there) and an (N,) one: one exp."""
    def fn(a, x):
        e = np.exp(a)
        return x * e, e + a

    rng = np.random.default_rng(4)
    a, x = rng.standard_normal(16).astype(np.float32), rng.standard_normal((4, 16)).astype(np.float32)
    plan = planned(fn, a, x)
    assert sum(k.ops.count("exp") for k in plan.kernels) == 1
    agrees_with_numpy(fn, a, x)


@pytest.mark.parametrize("name", ["chain", "gelu", "softmax", "layer_norm", "sum_of_squares"])
def test_single_output_workloads_stay_one_kernel(name: str) -> None:
    w = WORKLOADS[name]
    args = w.inputs(w.quick_sizes[0] if w.quick_sizes[0] < 1000 else 1000)
    assert len(planned(lambda *a: w.body(np, *a), *args).kernels) == 1


def assert_valid(plan: FusionPlan) -> None:
    """Every op in exactly one kernel; kernels read only sources and earlier kernels' outputs;
    no computing op re-evaluated across a loop; every graph output written by some kernel."""
    g: Graph = plan.graph
    placed = [id(n) for k in plan.kernels for n in k.nodes]
    assert len(placed) == len(set(placed))
    outputs = {id(o) for o in g.outputs}
    unplaced = [n for n in g.nodes if n.op not in SOURCES and id(n) not in set(placed)]
    assert all(is_splat(n) and id(n) not in outputs for n in unplaced), unplaced  # splats: computed where read
    written: set[int] = set()
    for k in plan.kernels:
        members = {id(n) for n in k.nodes}
        assert all(id(o) in members for o in k.outputs)
        for n in k.inputs:
            assert n.op in SOURCES or id(n) in written, f"{k} reads {n} before it is written"
        for n in k.nodes:
            if is_computing(n) and get_fusion(n) != "reduce" and n is not k.anchor:
                assert compute_ok(k, k.maps[id(n)]), f"{n} recomputed in {k}"
            for a in n.args:  # a member reads other members or the kernel's inputs
                assert id(a) in members or any(a is i for i in k.inputs) or a.op in ("constant", "numel") \
                    or (is_splat(a) and id(a) in map(id, unplaced))
        written |= {id(o) for o in k.outputs}
    assert all(o.op in SOURCES or id(o) in written for o in g.outputs)


def get_fusion(n) -> str:
    from fusejit.ir import get_op

    return get_op(n.op).fusion


@settings(derandomize=True, max_examples=200, deadline=None)
@given(graphs(max_nodes=16), st.booleans())
def test_random_plans_are_valid(g: Graph, fuse: bool) -> None:
    assert_valid(plan_fusion(g, fuse=fuse))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(programs(), st.booleans())
def test_random_layout_programs_plan_validly(prog, fuse: bool) -> None:
    """Layout ops, reductions over any axes, sizes 0 and 1, symbolic dims."""
    assert_valid(plan_fusion(prog[0], fuse=fuse))

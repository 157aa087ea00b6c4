import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusejit.ir import Graph, Node, TensorType, make, print_graph, verify
from fusejit.passes import ALL_PASS_NAMES, PASS_NAMES, PassError, format_stats, optimize
from fusejit.passes import pipeline as pipeline_module
from fusejit.passes.rewrite import splat

from .golden import assert_same_bits, ir, normalized, same_bits, sample_args

SRC = """func @f(%x: f32[N,3], %b: f32[3]) -> (f32[N,3], f32[N,3], f32[N,3], f32[N]) {
  %0 = constant {value=-0.0} : f32[]
  %1 = broadcast(%0) {shape=[N,3]} : f32[N,3]
  %2 = add(%x, %1) : f32[N,3]
  %3 = transpose(%2) {perm=[1, 0]} : f32[3,N]
  %4 = exp(%3) : f32[3,N]
  %5 = transpose(%4) {perm=[1, 0]} : f32[N,3]
  %6 = exp(%x) : f32[N,3]
  %7 = broadcast(%b) {shape=[N,3]} : f32[N,3]
  %8 = mul(%6, %7) : f32[N,3]
  %9 = mul(%5, %7) : f32[N,3]
  %10 = reduce_sum(%9) {axes=[1]} : f32[N]
  return %8, %9, %x, %10
}"""
OPTIMIZED = """func @f(%x: f32[N,3], %b: f32[3]) -> (f32[N,3], f32[N,3], f32[N,3], f32[N]) {
  %0 = exp(%x) : f32[N,3]
  %1 = broadcast(%b) {shape=[N, 3]} : f32[N,3]
  %2 = mul(%0, %1) : f32[N,3]
  %3 = reduce_sum(%2) {axes=[1]} : f32[N]
  return %2, %2, %x, %3
}"""


def test_default_pipeline_end_to_end() -> None:
    graph = ir(SRC)
    result = optimize(graph, verify_each=True)
    assert print_graph(result.graph) == normalized(OPTIMIZED)
    assert result.converged and result.iterations == 2
    assert result.graph.outputs[2] is graph.inputs[0]  # an output that is an input survives
    assert [s.name for s in result.stats] == list(PASS_NAMES)
    assert sum(s.rewrites for s in result.stats) > 0 and all(s.runs == 2 for s in result.stats)
    assert_same_bits(graph, result.graph)


def test_stats_table_names_every_pass() -> None:
    stats = optimize(ir(SRC)).stats
    table = format_stats(stats)
    lines = table.splitlines()
    assert lines[0].split() == ["pass", "runs", "nodes", "before", "nodes", "after", "rewrites", "time", "ms"]
    assert [line.split()[0] for line in lines[1:]] == [*PASS_NAMES, "total"]
    assert lines[-1].split()[2:4] == ["11", "4"]  # 11 nodes in, 4 out


def test_dump_files(tmp_path: "os.PathLike[str]") -> None:
    optimize(ir(SRC), dump_dir=str(tmp_path))
    names = sorted(os.listdir(tmp_path))
    runs = [f"{i + 1:02d}_{p}.txt" for i, p in enumerate(PASS_NAMES * 2)]
    assert names == sorted(["00_input.txt", *runs, "final.txt", "final.dot", "stats.txt"])
    assert (tmp_path / "00_input.txt").read_text() == normalized(SRC)
    assert (tmp_path / "final.txt").read_text() == normalized(OPTIMIZED)
    assert (tmp_path / "final.dot").read_text().startswith('digraph "f" {')
    assert all(p in (tmp_path / "stats.txt").read_text() for p in PASS_NAMES)
    ir((tmp_path / runs[2]).read_text())  # every dump parses back


def test_dump_dir_from_environment(tmp_path: "os.PathLike[str]", monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSEJIT_DUMP", str(tmp_path / "dumps"))
    optimize(ir(SRC))
    assert "01_constant_folding.txt" in os.listdir(tmp_path / "dumps")


def test_disable_by_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    result = optimize(ir(SRC), disabled=["layout", "cse"])
    assert [s.name for s in result.stats] == [p for p in PASS_NAMES if p not in ("layout", "cse")]
    assert any(n.op == "transpose" for n in result.graph.nodes)
    monkeypatch.setenv("FUSEJIT_DISABLE_PASSES", " layout, algebraic ")
    result = optimize(ir(SRC), disabled=["cse"])
    assert [s.name for s in result.stats] == ["constant_folding", "dce"]


def test_unknown_pass_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown pass name.s. csee in disabled passes .*the passes are "
                                         "constant_folding, algebraic, fast_math"):
        optimize(ir(SRC), disabled=["csee"])
    monkeypatch.setenv("FUSEJIT_DISABLE_PASSES", "nope")
    with pytest.raises(ValueError, match="nope"):
        optimize(ir(SRC))


def test_opt_in_passes() -> None:
    assert "fast_math" not in PASS_NAMES and "affine_folding" not in PASS_NAMES
    names = [s.name for s in optimize(ir(SRC), fold_affine=True).stats]
    assert "affine_folding" in names and "fast_math" not in names
    names = [s.name for s in optimize(ir(SRC), fast_math=True).stats]
    assert names == list(ALL_PASS_NAMES)


def _retyped(node: Node, *args: Node) -> Node:
    return Node(node.op, args or node.args, node.attrs, TensorType(np.dtype(np.float64), node.type.shape))


def _breaks_inside(graph: Graph) -> tuple[Graph, int]:
    out = graph.outputs[0]
    inner = Node(out.op, (_retyped(out.args[0]),), out.attrs, out.type)
    return Graph(graph.inputs, [inner], graph.name), 1


def _breaks_signature(graph: Graph) -> tuple[Graph, int]:
    return Graph(graph.inputs, [_retyped(graph.outputs[0])], graph.name), 1


def test_verification_names_the_guilty_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n  %1 = exp(%0) : f32[3]\n  return %1\n}"
    pipeline = tuple((n, _breaks_inside if n == "cse" else p) for n, p in pipeline_module.PIPELINE)
    monkeypatch.setattr(pipeline_module, "PIPELINE", pipeline)
    monkeypatch.setenv("FUSEJIT_VERIFY", "1")
    with pytest.raises(PassError, match="pass 'cse' produced an invalid graph: node %0 .exp.: declared type f64"):
        optimize(ir(src))


def test_signature_check_runs_without_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = exp(%x) : f32[3]\n  return %0\n}"
    pipeline = tuple((n, _breaks_signature if n == "dce" else p) for n, p in pipeline_module.PIPELINE)
    monkeypatch.setattr(pipeline_module, "PIPELINE", pipeline)
    with pytest.raises(PassError, match="pass 'dce' changed the graph's signature"):
        optimize(ir(src))


def test_max_iterations_bounds_the_fixed_point() -> None:
    result = optimize(ir(SRC), max_iterations=1)
    assert result.iterations == 1 and not result.converged
    with pytest.raises(ValueError, match="max_iterations must be at least 1, got 0"):
        optimize(ir(SRC), max_iterations=0)


# ---- the exactness property: random graphs evaluate bit-identically before and after ---------

FLOAT_UNARY = ["neg", "abs", "exp", "log", "sqrt", "sin", "tanh", "floor", "reciprocal", "sign", "expm1",
               "logistic"]
FLOAT_BINARY = ["add", "sub", "mul", "div", "max", "min", "pow", "fmax", "copysign"]
INT_UNARY = ["neg", "abs", "not"]
INT_BINARY = ["add", "sub", "mul", "max", "min", "and", "or", "xor", "pow"]
FLOAT_SPLATS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -4.0, 3.0, np.nan, np.inf, -np.inf]
INT_SPLATS = [0, 1, -1, 2, 3]
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]
BROADCASTS = {(3,): [["N", 3], [1, 3]], (): [["N", 3], [1], [3]], (1, 3): [["N", 3], [2, 3]]}
RESHAPES = {("N", 3): [("N", 1, 3), ("N", 3, 1), (1, "N", 3)], (3,): [(1, 3), (3, 1)], (): [(1,), (1, 1)]}


def _size_key(shape: tuple) -> tuple:
    return tuple(sorted(str(d) for d in shape if d != 1))


@st.composite
def random_graphs(draw: st.DrawFn) -> Graph:
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64", "float16", "int32"])))
    is_float = dtype.kind == "f"
    unary, binary = (FLOAT_UNARY, FLOAT_BINARY) if is_float else (INT_UNARY, INT_BINARY)
    splats = FLOAT_SPLATS if is_float else INT_SPLATS
    inputs = [Node("input", (), {}, TensorType(dtype, shape), name=name)
              for name, shape in (("x", ("N", 3)), ("y", ("N", 3)), ("v", (3,)), ("s", ()))]
    pool = list(inputs)

    def pick(pred=lambda n: True) -> Node | None:  # noqa: ANN001
        options = [n for n in pool if pred(n)]
        return draw(st.sampled_from(options)) if options else None

    def partner(a: Node) -> Node:
        how = draw(st.sampled_from(["splat", "pool", "self", "vector", "folded"]))
        if how == "pool":
            return pick(lambda n: n.type == a.type) or a
        if how == "self":
            return a
        if how == "vector" and a.shape and a.shape[-1] == 3:
            vals = draw(st.lists(st.sampled_from(splats), min_size=3, max_size=3))
            from fusejit.ir import constant
            return make("broadcast", constant(np.array(vals).astype(dtype), dtype), shape=list(a.shape))
        if how == "folded":
            c1, c2 = draw(st.sampled_from(splats)), draw(st.sampled_from(splats))
            return make(draw(st.sampled_from(["add", "mul", "sub"])), splat(c1, a), splat(c2, a))
        return splat(draw(st.sampled_from(splats)), a)

    for _ in range(draw(st.integers(3, 12))):
        a = pool[-1 - draw(st.integers(0, min(2, len(pool) - 1)))]  # recent nodes: long chains
        kind = draw(st.sampled_from(["binary", "unary", "binary", "transpose", "binary", "reshape", "unary",
                                     "reduce", "binary", "where", "cast", "double", "broadcast"]))
        if kind == "unary":
            new = make(draw(st.sampled_from(unary)), a)
        elif kind == "binary":
            b = partner(a)
            op = draw(st.sampled_from(binary))
            if op == "pow" and (not is_float or draw(st.booleans())):  # ints: negative powers raise
                new = make(op, a, splat(draw(st.sampled_from([1, 2] if not is_float else [1, 2, 0.5, -1])), a))
            else:
                new = make(op, *((a, b) if draw(st.booleans()) else (b, a)))
        elif kind == "transpose" and a.ndim >= 2:
            perm = draw(st.permutations(range(a.ndim)))
            new = make("transpose", a, perm=list(perm))
        elif kind == "reshape":
            targets = [s for shapes in RESHAPES.values() for s in [*shapes, *RESHAPES]
                       if _size_key(s) == _size_key(a.shape) and s != a.shape]
            if not targets:
                continue
            new = make("reshape", a, shape=list(draw(st.sampled_from(targets))))
        elif kind == "reduce" and a.ndim:
            axes = draw(st.lists(st.integers(0, a.ndim - 1), unique=True, max_size=a.ndim))
            op = draw(st.sampled_from(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]))
            new = make(op, a, axes=sorted(axes))
        elif kind == "where":
            b = partner(a)
            cond = make(draw(st.sampled_from(COMPARISONS)), a, b)
            if draw(st.booleans()):
                cond = make("not", cond)
            new = make("where", cond, a, b)
        elif kind == "cast":
            mid = np.dtype(draw(st.sampled_from(["float64", "float32", "int64", "int16", "uint32", "bool"])))
            new = make("cast", make("cast", a, dtype=mid), dtype=dtype)
        elif kind == "double":
            op = draw(st.sampled_from(["neg", "abs"] if is_float else ["neg", "not"]))
            new = make(op, make(op, a))
        elif kind == "broadcast" and a.shape in BROADCASTS:
            new = make("broadcast", a, shape=draw(st.sampled_from(BROADCASTS[a.shape])))
        else:
            continue
        pool.append(new)
    extra = draw(st.lists(st.sampled_from(pool), max_size=2))
    return Graph(inputs, [pool[-1], *extra], name="random")


@settings(max_examples=300, suppress_health_check=list(HealthCheck))  # rest: tests/conftest.py profile
@given(random_graphs())
def test_default_pipeline_is_bit_exact(graph: Graph) -> None:
    result = optimize(graph)
    verify(result.graph)
    assert len(result.graph.nodes) <= 3 * len(graph.nodes) + 4  # no blow-up (splats and sunk broadcasts add a few)
    for size in (7, 1):
        for seed in (0, 1):
            args = sample_args(graph, seed, symbol_size=size)
            for i, (x, y) in enumerate(zip(graph.evaluate(*args), result.graph.evaluate(*args))):
                assert same_bits(x, y), (f"output {i} (N={size}, seed {seed}):\n{print_graph(graph)}\n"
                                         f"{print_graph(result.graph)}\n{x!r}\n{y!r}")


@pytest.mark.parametrize("src", [
    # a sunk broadcast runs pow on a [1] array made by broadcasting a 0-d value (stride 0):
    # the evaluator must hand NumPy plain strides, or pow(-inf, 0.5) takes its 0-d path (nan)
    """func @f(%x: f32[N,3], %s: f32[]) -> (f32[N,3]) {
      %0 = reduce_sum(%s) {axes=[]} : f32[]
      %1 = broadcast(%0) {shape=[N, 3]} : f32[N,3]
      %2 = constant {value=0.5} : f32[]
      %3 = broadcast(%2) {shape=[N, 3]} : f32[N,3]
      %4 = pow(%1, %3) : f32[N,3]
      return %4
    }""",
    # fmax(0.0, -0.0) depends on the lane in NumPy: it must not be folded on a smaller shape
    """func @f(%x: f32[N,3], %s: f32[]) -> (f32[N,3]) {
      %0 = constant {value=0.0} : f32[]
      %1 = broadcast(%0) {shape=[N, 3]} : f32[N,3]
      %2 = constant {value=0.0} : f32[]
      %3 = mul(%2, %s) : f32[]
      %4 = broadcast(%3) {shape=[N, 3]} : f32[N,3]
      %5 = fmax(%1, %4) : f32[N,3]
      return %5
    }""",
])
def test_regressions_found_by_longer_runs_of_the_property(src: str) -> None:
    graph = ir(src)
    after = optimize(graph).graph
    for size in (1, 7):
        for seed in range(4):
            args = sample_args(graph, seed, symbol_size=size)
            args[1] = np.array(-np.inf if seed % 2 else -1.0, np.float32)
            assert all(same_bits(a, b) for a, b in zip(graph.evaluate(*args), after.evaluate(*args)))

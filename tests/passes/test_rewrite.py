import numpy as np
import pytest

from fusejit.ir import constant, make, print_graph
from fusejit.passes.rewrite import Context, RewriteError, is_splat, rewrite, splat, splat_value

from .golden import ir

SRC = """func @f(%x: f32[3]) -> (f32[3], f32[3]) {
  %0 = exp(%x) : f32[3]
  %1 = neg(%0) : f32[3]
  return %1, %0
}"""


def test_rules_see_rewritten_operands_and_the_input_graph_is_untouched() -> None:
    graph = ir(SRC)
    before = print_graph(graph)
    seen = []

    def exp_to_tanh(node, ctx: Context):  # noqa: ANN001, ANN202
        seen.append((node.op, node.args[0].op if node.args else None, ctx.uses(node)))
        return make("tanh", node.args[0]) if node.op == "exp" else None

    out, count = rewrite(graph, [exp_to_tanh])
    assert count == 1 and print_graph(graph) == before
    assert [n.op for n in out.nodes] == ["tanh", "neg"] and out.outputs[1] is out.nodes[0]
    # exp is read by neg and is an output: 2 uses; the tanh that replaces it inherits them
    assert seen == [("exp", "input", 2), ("tanh", "input", 2), ("neg", "tanh", 1)]


def test_unchanged_graph_is_returned_as_is() -> None:
    graph = ir(SRC)
    assert rewrite(graph, [lambda n, c: None]) == (graph, 0)


def test_a_rule_that_changes_a_type_is_named() -> None:
    def to_f64(node, ctx):  # noqa: ANN001, ANN202
        return make("cast", node, dtype=np.dtype(np.float64)) if node.op == "exp" else None

    with pytest.raises(RewriteError, match="rule to_f64 turned exp : f32.3. into cast : f64.3."):
        rewrite(ir(SRC), [to_f64])


def test_a_rule_that_never_settles_is_an_error() -> None:
    with pytest.raises(RewriteError, match="rules kept rewriting exp"):
        rewrite(ir(SRC), [lambda n, c: make("exp", *n.args) if n.op == "exp" else None])


def test_splats_compare_bits() -> None:
    zero = splat(0.0, make("broadcast", constant(np.float32(1)), shape=[4]))
    assert print_graph.__name__ and zero.op == "broadcast" and zero.type.shape == (4,)
    assert is_splat(zero, 0.0) and not is_splat(zero, -0.0)
    assert is_splat(constant(np.array([np.nan, np.nan], np.float32)), np.nan)
    assert splat_value(constant(np.array([0.0, -0.0], np.float32))) is None
    assert splat_value(constant(np.zeros((0,), np.float32))) is None

"""The fast-math tier: rewrites that change rounding; off unless ``optimize(fast_math=True)``.

    a / c                    -> a * (1/c)          any constant c (power-of-two c is exact and
                                                   already done by algebraic.py)
    a - c                    -> a + (-c)           (exact; it exposes add chains)
    (a + c1) + c2            -> a + (c1 + c2)      reassociation
    (a * c1) * c2            -> a * (c1 * c2)
plus affine folding (affine_folding.py).

What it can change: results by a few ulp, overflow and underflow (``(a*1e300)*1e-300`` is ``inf``
exactly evaluated, ``a`` reassociated), and the sign of zero. NaN stays NaN, a finite result of
a finite input may become ±inf or 0 at the edges of the range. Floats only; the new constants
are folded by constant folding on the next iteration.
"""

from __future__ import annotations

from ..ir import Graph, Node, make
from .rewrite import Context, const_array, rewrite


def fast_math(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [reciprocal_division, reassociate])


def is_constant(node: Node) -> bool:
    """A constant, or an expression of constants (folded by constant folding next round)."""
    return const_array(node) is not None or (node.op != "input" and bool(node.args) and
                                             all(is_constant(a) for a in node.args))


def reciprocal_division(node: Node, ctx: Context) -> Node | None:
    if node.op not in ("div", "sub") or node.dtype.kind != "f" or not is_constant(node.args[1]):
        return None
    if node.op == "div":
        return make("mul", node.args[0], make("reciprocal", node.args[1]))
    if node.op == "sub" and not is_constant(node.args[0]):
        return make("add", node.args[0], make("neg", node.args[1]))
    return None


def reassociate(node: Node, ctx: Context) -> Node | None:
    if node.op not in ("add", "mul") or node.dtype.kind != "f":
        return None
    for inner, c2 in (node.args, node.args[::-1]):
        if inner.op != node.op or not is_constant(c2) or is_constant(inner):
            continue
        for a, c1 in (inner.args, inner.args[::-1]):
            if is_constant(c1) and not is_constant(a):
                return make(node.op, a, make(node.op, c1, c2))
    return None

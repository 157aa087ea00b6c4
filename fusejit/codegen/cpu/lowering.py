"""Backend lowering before fusion.

``unshare_constant_broadcasts``: a broadcast scalar constant read by several kernels would be
materialized as a full-size array (CSE merges the broadcasts the optimizer sank to each consumer);
one private copy per reader lets every kernel fold it into its loop instead.

``expand_small_powers``: ``x ** c`` for c in {2, 3, 4} becomes multiplications.

A general vector ``pow`` costs a log, a multiply and an exp per element (libmvec ``powf`` is
~20x a multiply); ``x*x*x`` is two correctly rounded multiplies, within 2 ulp of the exact
power, so within the 4-ulp budget against NumPy's own ``pow``. Integer powers are exact either
way (both wrap modulo 2^bits). This is a code generation choice, not an optimizer rewrite: the
optimizer's passes promise bit-identical results under the reference evaluator, which this
does not.
"""

from __future__ import annotations

import numpy as np

from ...ir import Graph, Node, make

SMALL_POWERS = (2.0, 3.0, 4.0)


def _is_constant_broadcast(node: Node) -> bool:
    return node.op == "broadcast" and node.args[0].op == "constant" and node.args[0].ndim == 0


def lower_for_cpu(graph: Graph) -> Graph:
    return unshare_constant_broadcasts(expand_small_powers(graph))


def unshare_constant_broadcasts(graph: Graph) -> Graph:
    """Every reader of a broadcast scalar constant gets its own copy of the broadcast node."""
    uses: dict[int, int] = {}
    for node in graph.nodes:
        for a in node.args:
            uses[id(a)] = uses.get(id(a), 0) + 1
    if not any(_is_constant_broadcast(n) and uses.get(id(n), 0) > 1 for n in graph.nodes):
        return graph
    memo: dict[int, Node] = {id(n): n for n in graph.inputs}
    for node in graph.nodes:
        args = tuple(Node(a.op, a.args, a.attrs, a.type) if _is_constant_broadcast(a) and uses[id(a)] > 1
                     else memo[id(a)] for a in node.args)
        memo[id(node)] = Node(node.op, args, node.attrs, node.type) if any(
            x is not y for x, y in zip(args, node.args)) else node
    return Graph(graph.inputs, [memo[id(o)] for o in graph.outputs], name=graph.name)


def _splat(node: Node) -> float | None:
    while node.op == "broadcast":
        node = node.args[0]
    if node.op != "constant":
        return None
    value = node.attrs["value"]
    flat = value.reshape(-1)
    if flat.size == 0 or not np.all(flat == flat[0]):
        return None
    return float(flat[0])


def _power(x: Node, c: float) -> Node:
    square = make("mul", x, x)
    if c == 2.0:
        return square
    if c == 3.0:
        return make("mul", square, x)
    return make("mul", square, square)


def expand_small_powers(graph: Graph) -> Graph:
    """The graph with ``pow(x, c)``, c a splat 2, 3 or 4, as multiplications (same types)."""
    memo: dict[int, Node] = {id(n): n for n in graph.inputs}
    changed = False
    for node in graph.nodes:
        args = tuple(memo[id(a)] for a in node.args)
        c = _splat(args[1]) if node.op == "pow" and node.dtype.kind in "fiu" else None
        if c in SMALL_POWERS:
            memo[id(node)] = _power(args[0], c)
            changed = True
        elif any(a is not b for a, b in zip(args, node.args)):
            memo[id(node)] = Node(node.op, args, node.attrs, node.type)
        else:
            memo[id(node)] = node
    if not changed:
        return graph
    return Graph(graph.inputs, [memo[id(o)] for o in graph.outputs], name=graph.name)

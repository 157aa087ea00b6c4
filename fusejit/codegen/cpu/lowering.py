"""Backend lowering before fusion.

``unshare_constant_broadcasts``: a broadcast scalar constant read by several kernels would be
materialized as a full-size array (CSE merges the broadcasts the optimizer sank to each consumer);
one private copy per reader lets every kernel fold it into its loop instead.

``prepare_conv_operands`` (:mod:`.conv`): convolutions read zero-padded, C-contiguous operands.

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
from ...ir.graph import rebuild

SMALL_POWERS = (2.0, 3.0, 4.0)


def _is_constant_broadcast(node: Node) -> bool:
    return node.op == "broadcast" and node.args[0].op == "constant" and node.args[0].ndim == 0


def lower_for_cpu(graph: Graph, fuse: bool = True) -> Graph:
    """``fuse=False`` (one kernel per op) also leaves a convolution's epilogue ops to kernels of their own."""
    from ..vecmath import host_isa
    from .conv_operands import prepare_conv_operands

    return unshare_constant_broadcasts(expand_small_powers(prepare_conv_operands(graph, host_isa(), fuse)))


def unshare_constant_broadcasts(graph: Graph) -> Graph:
    """Every reader of a broadcast scalar constant gets its own copy of the broadcast node."""
    uses: dict[int, int] = {}
    for node in graph.nodes:
        for a in node.args:
            uses[id(a)] = uses.get(id(a), 0) + 1

    def copy_shared(node: Node, args: tuple[Node, ...]) -> Node | None:
        if not any(_is_constant_broadcast(a) and uses[id(a)] > 1 for a in node.args):
            return None
        copies = tuple(Node(a.op, a.args, a.attrs, a.type) if _is_constant_broadcast(a) and uses[id(a)] > 1
                       else b for a, b in zip(node.args, args))
        return Node(node.op, copies, node.attrs, node.type)

    return rebuild(graph, copy_shared)


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
    def expand(node: Node, args: tuple[Node, ...]) -> Node | None:
        if node.op != "pow" or node.dtype.kind not in "fiu":
            return None
        c = _splat(args[1])
        return _power(args[0], c) if c in SMALL_POWERS else None

    return rebuild(graph, expand)

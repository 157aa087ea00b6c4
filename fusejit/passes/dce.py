"""Dead-code elimination and identity removal (Grappler's ``strip_unused_nodes``/``remove_nodes``).

A ``Graph`` is built from its outputs, so a node nothing reads is already gone after any pass
rebuilds the graph; what is left to remove are the ops that return their operand unchanged:

    cast(x) {dtype = x.dtype}            -> x      astype to the same dtype copies bits
    transpose(x) {perm = identity}       -> x
    reshape(x) {shape = x.shape}         -> x
    broadcast(x) {shape = x.shape}       -> x
    slice(x) covering every element      -> x
    concat(x)                            -> x      one operand
    update_slice(base, u) covering base  -> u      every element is overwritten

All exact: each returns its operand's elements unchanged, in the same order.
"""

from __future__ import annotations

from ..ir import Graph, Node
from .rewrite import Context, rewrite


def dce(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [identity_ops])


def _covers(shape: tuple, attrs: dict) -> bool:
    return all(a == 0 and b == d and c == 1
               for d, a, b, c in zip(shape, attrs["starts"], attrs["stops"], attrs["steps"]))


def identity_ops(node: Node, ctx: Context) -> Node | None:
    op = node.op
    x = node.args[0] if node.args else None
    if op in ("cast", "reshape", "broadcast", "slice") and x is not None and x.type == node.type:
        return x if op != "slice" or _covers(x.shape, node.attrs) else None
    if op == "transpose" and list(node.attrs["perm"]) == list(range(node.ndim)):
        return x
    if op == "concat" and len(node.args) == 1:
        return x
    if op == "update_slice" and _covers(node.shape, node.attrs):
        return node.args[1]
    return None

"""Common-subexpression elimination (Grappler's ``merge_duplicate_nodes``).

    op(a, b){attrs} ... op(a, b){attrs}   -> one node           same op, operands, attrs, type
    constant c1 ... constant c2           -> one constant       same dtype, shape and bytes
    add/mul/eq/ne/and/or/xor(a, b) ... (b, a) -> one node       commutative

Exact: every op is a deterministic function of its operands and attributes. Commutativity
holds bit for bit for these ops, except which NaN payload an add/mul of two NaNs returns.
(max/min are not merged across operand order: NumPy's maximum(-0.0, 0.0) depends on it.)
Constants compare by bytes, so -0.0 and 0.0, or two NaN payloads, stay distinct.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Graph, Node
from .rewrite import Context, rewrite

COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "and", "or", "xor"})


def cse(graph: Graph) -> tuple[Graph, int]:
    table: dict[Any, Node] = {}

    def merge_duplicates(node: Node, ctx: Context) -> Node | None:
        key = node_key(node)
        seen = table.setdefault(key, node)
        return seen if seen is not node else None

    return rewrite(graph, [merge_duplicates])


def node_key(node: Node) -> tuple:
    """What a node computes: equal keys mean equal values."""
    args = [id(a) for a in node.args]
    if node.op in COMMUTATIVE:
        args.sort()
    attrs = tuple(sorted((k, _attr_key(v)) for k, v in node.attrs.items()))
    return node.op, tuple(args), attrs, node.type


def _attr_key(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.dtype.str, v.shape, v.tobytes()
    if isinstance(v, (list, tuple)):
        return tuple(_attr_key(x) for x in v)
    return v

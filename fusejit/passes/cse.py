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

import hashlib
from typing import Any

import numpy as np

from ..ir import Graph, Node
from .rewrite import Context, rewrite

COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "and", "or", "xor"})


def cse(graph: Graph) -> tuple[Graph, int]:
    table: dict[Any, Node] = {}
    digests: dict[int, tuple[np.ndarray, str]] = {}

    def merge_duplicates(node: Node, ctx: Context) -> Node | None:
        key = node_key(node, digests)
        seen = table.setdefault(key, node)
        return seen if seen is not node else None

    return rewrite(graph, [merge_duplicates])


DIGEST_BYTES = 64 << 10  # larger arrays are keyed by SHA-256 of their bytes, not by the bytes


def node_key(node: Node, digests: dict[int, tuple[np.ndarray, str]] | None = None) -> tuple:
    """What a node computes: equal keys mean equal values. ``digests`` memoizes large arrays' digests
    for one pass (a rewrite visits a node more than once; VGG-19's 548 MB of weights spent 10 s in
    ``tobytes`` and hashing keys before)."""
    args = [id(a) for a in node.args]
    if node.op in COMMUTATIVE:
        args.sort()
    memo = digests if digests is not None else {}
    attrs = tuple(sorted((k, _attr_key(v, memo)) for k, v in node.attrs.items()))
    return node.op, tuple(args), attrs, node.type


def _attr_key(v: Any, digests: dict[int, tuple[np.ndarray, str]]) -> Any:
    if isinstance(v, np.ndarray):
        if v.nbytes < DIGEST_BYTES:
            return v.dtype.str, v.shape, v.tobytes()
        held = digests.get(id(v))
        if held is None or held[0] is not v:
            # a transposed view (a folded weight transpose) is hashed in its own order, without a copy:
            # equal keys still mean equal values; only a merge across layouts is missed
            order, flat = ("F", v.T) if v.flags.f_contiguous and not v.flags.c_contiguous else \
                ("C", np.ascontiguousarray(v))
            held = digests[id(v)] = (v, order + hashlib.sha256(flat).hexdigest())
        return v.dtype.str, v.shape, "sha256", held[1]
    if isinstance(v, (list, tuple)):
        return tuple(_attr_key(x, digests) for x in v)
    return v

"""The one rewrite engine every pass uses: rules ``node -> replacement | None``, applied bottom-up.

A rule sees a node whose operands are already rewritten and returns a node computing the same
value (same type) or ``None``. The engine rebuilds the graph in topological order, re-applies the
rules to each replacement until none fires, and counts the rewrites so the pass manager knows
when it reached a fixed point. Input nodes are never touched and unchanged nodes are shared, so
the input graph is never modified (nodes are immutable).

Helpers here are the small vocabulary rules are written in: ``splat_value`` (the scalar a
constant or a broadcast constant holds everywhere), ``splat`` (build one), ``same_bits``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir import Graph, Node, constant, make

# NumPy computes these differently in SIMD lanes and scalar tails for some inputs (measured:
# fmax(0.0, -0.0) gives 0.0 or -0.0, and a float -> uint32 cast of an out-of-range value gives
# different integers, depending on the element's position), so a pass may not change the shape
# or order in which they run (lazy folds, sunk broadcasts, moved transposes).
POSITION_DEPENDENT = frozenset({"fmax", "fmin"})


def position_dependent(node: Node) -> bool:
    """See POSITION_DEPENDENT; float -> integer casts are out of range-undefined in C, so all."""
    if node.op == "cast":
        return node.args[0].dtype.kind == "f" and node.dtype.kind in "iu"
    return node.op in POSITION_DEPENDENT

_MAX_RULE_STEPS = 64  # per node: a rule set that keeps firing on its own output is a bug


class RewriteError(RuntimeError):
    """A rule broke the engine's contract (changed a value's type, or never settled)."""


class Context:
    """What a rule may ask about the graph being rewritten: use counts of the input graph."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._uses: dict[int, int] | None = None  # computed on the first question
        self._origin: dict[int, list[int]] = {}  # id(replacement) -> ids of the input nodes it replaces

    def record(self, old: Node, new: Node) -> None:
        if new is not old:
            self._origin.setdefault(id(new), []).append(id(old))

    def uses(self, node: Node) -> int:
        """Readers (and output slots) of the input-graph node(s) ``node`` stands for; 0 if new."""
        if self._uses is None:
            self._uses = {}
            for n in self._graph.nodes:
                for a in n.args:
                    self._uses[id(a)] = self._uses.get(id(a), 0) + 1
            for o in self._graph.outputs:
                self._uses[id(o)] = self._uses.get(id(o), 0) + 1
        return sum(self._uses.get(i, 0) for i in self._origin.get(id(node), (id(node),)))


Rule = Callable[[Node, Context], "Node | None"]


def rewrite(graph: Graph, rules: Sequence[Rule]) -> tuple[Graph, int]:
    """Apply ``rules`` to every node bottom-up; return the new graph and the number of rewrites."""
    ctx = Context(graph)
    memo: dict[int, Node] = {id(n): n for n in graph.inputs}
    count = 0
    for node in graph.nodes:
        cur = node
        if node.args:
            args = tuple([memo[id(a)] for a in node.args])
            if any(a is not b for a, b in zip(args, node.args)):
                cur = Node(node.op, args, node.attrs, node.type)
                ctx.record(node, cur)
        for _ in range(_MAX_RULE_STEPS):
            new = _first_match(cur, rules, ctx)
            if new is None:
                break
            count += 1
            cur = new
            ctx.record(node, cur)
        else:
            raise RewriteError(f"rules kept rewriting {node.op} : {node.type} ({_MAX_RULE_STEPS} steps)")
        memo[id(node)] = cur
    if count == 0:
        return graph, 0
    return Graph(graph.inputs, [memo[id(o)] for o in graph.outputs], name=graph.name), count


def _first_match(node: Node, rules: Sequence[Rule], ctx: Context) -> Node | None:
    for rule in rules:
        new = rule(node, ctx)
        if new is not None and new is not node:
            if new.type != node.type:
                raise RewriteError(f"rule {rule.__name__} turned {node.op} : {node.type} into "
                                   f"{new.op} : {new.type}")
            return new
    return None


# ---- vocabulary for rules --------------------------------------------------------------------

def const_array(node: Node) -> np.ndarray | None:
    return node.attrs["value"] if node.op == "constant" else None


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit equality (so -0.0 != 0.0 and NaN == the same NaN)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def splat_value(node: Node) -> np.generic | None:
    """The scalar every element of ``node`` equals bit for bit, if it is a (broadcast) constant."""
    while node.op == "broadcast":
        node = node.args[0]
    arr = const_array(node)
    if arr is None or arr.size == 0:
        return None
    flat = arr.reshape(-1)
    bits = flat.view(f"u{flat.dtype.itemsize}")
    if bits[0] != bits[-1] or not (bits == bits[0]).all():
        return None
    return flat[0]


def is_splat(node: Node, value: Any) -> bool:
    """``node`` holds ``value`` everywhere, with the same bits (sign of zero included)."""
    v = splat_value(node)
    if v is None:
        return False
    want = np.array(value).astype(node.dtype)
    return same_bits(np.array(v), want)


def splat(value: Any, like: Node) -> Node:
    """A constant ``value`` of ``like``'s dtype, broadcast lazily to ``like``'s shape."""
    c = constant(np.array(value).astype(like.dtype), like.dtype)
    return c if like.shape == () else make("broadcast", c, shape=list(like.shape))

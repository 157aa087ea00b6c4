"""SSA graph: every ``Node`` is one op producing one typed value; a ``Graph`` is a function.

Nodes are identity-hashed and immutable in what they compute (op, args, attrs, type); passes
build new nodes instead of editing old ones, so a node can be shared by several graphs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .shapes import Shape, TensorType


class Node:
    __slots__ = ("op", "args", "attrs", "type", "name", "__weakref__")

    def __init__(self, op: str, args: Sequence[Node], attrs: dict[str, Any], type: TensorType,
                 name: str | None = None) -> None:
        self.op = op
        self.args = tuple(args)
        self.attrs = attrs
        self.type = type
        self.name = name  # only graph inputs carry names

    @property
    def dtype(self) -> np.dtype:
        return self.type.dtype

    @property
    def shape(self) -> Shape:
        return self.type.shape

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    def __repr__(self) -> str:
        return f"<Node {self.op} : {self.type}>"


def make(op: str, *args: Node, **attrs: Any) -> Node:
    """Build a node, inferring its type with the op's registered rule."""
    from .registry import get_op

    opdef = get_op(op)
    return Node(op, args, attrs, opdef.infer([a.type for a in args], attrs))


def constant(value: Any, dtype: np.dtype | None = None) -> Node:
    arr = np.array(value, dtype=dtype)
    arr.setflags(write=False)
    return Node("constant", (), {"value": arr}, TensorType(arr.dtype, arr.shape))


def topo_order(outputs: Iterable[Node]) -> list[Node]:
    """Every node reachable from ``outputs``, producers before consumers (iterative DFS)."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in outputs:
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if id(a) not in seen)
    return order


class Graph:
    """A function: named typed inputs, nodes in topological order, outputs."""

    def __init__(self, inputs: Sequence[Node], outputs: Sequence[Node], name: str = "main") -> None:
        self.name = name
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        reachable = topo_order(self.outputs)
        input_ids = {id(n) for n in self.inputs}
        self.nodes = [n for n in reachable if id(n) not in input_ids]

    def users(self) -> dict[int, list[Node]]:
        """id(node) -> the nodes that read it (outputs not included)."""
        out: dict[int, list[Node]] = {id(n): [] for n in (*self.inputs, *self.nodes)}
        for n in self.nodes:
            for a in n.args:
                out[id(a)].append(n)
        return out

    def symbols(self) -> list[str]:
        seen: dict[str, None] = {}
        for n in self.inputs:
            for d in n.shape:
                if isinstance(d, str):
                    seen.setdefault(d)
        return list(seen)

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the IR text
        p.text(str(self))

    def save(self, path: str | os.PathLike[str], text: bool = False) -> None:
        """Write the graph to ``path``: binary ``.fjg`` by default, IR text if ``text`` (see serialize.py)."""
        from .serialize import save_graph

        save_graph(self, path, text=text)

    def evaluate(self, *args: Any) -> list[np.ndarray]:
        """Run the graph op by op with the NumPy reference implementations."""
        from .evaluator import evaluate

        return evaluate(self, args)


def same_value(a: Node, b: Node) -> bool:
    """True when two nodes provably compute the same value: the same op, attributes and type
    over operands that are themselves the same (inputs only by identity)."""
    if a is b:
        return True
    if a.op != b.op or a.type != b.type or a.op == "input" or len(a.args) != len(b.args):
        return False
    if a.attrs.keys() != b.attrs.keys():
        return False
    for k, v in a.attrs.items():
        w = b.attrs[k]
        if isinstance(v, np.ndarray):
            if not (isinstance(w, np.ndarray) and v.dtype == w.dtype and v.shape == w.shape
                    and v.tobytes() == w.tobytes()):
                return False
        elif v != w:
            return False
    return all(same_value(x, y) for x, y in zip(a.args, b.args))


def rebuild(graph: Graph, transform: Callable[[Node, tuple[Node, ...]], Node | None] | None = None, *,
            replacements: dict[int, Node] | None = None, inputs: Sequence[Node] | None = None) -> Graph:
    """A copy of ``graph``: nodes listed in ``replacements`` (by id; e.g. inputs frozen into
    constants) are swapped, and ``transform(node, rebuilt_args)`` may return a new node for any
    other node. Nodes whose operands did not change are shared, not copied. ``inputs`` defaults to
    the inputs that were not replaced."""
    replacements = replacements or {}
    memo: dict[int, Node] = dict(replacements)
    for n in graph.inputs:
        memo.setdefault(id(n), n)
    for node in graph.nodes:
        if id(node) in memo:
            continue
        args = tuple(memo[id(a)] for a in node.args)
        new = transform(node, args) if transform is not None else None
        if new is None:
            new = node if all(a is b for a, b in zip(args, node.args)) else Node(node.op, args, node.attrs, node.type)
        memo[id(node)] = new
    kept = [n for n in graph.inputs if id(n) not in replacements] if inputs is None else list(inputs)
    return Graph(kept, [memo[id(o)] for o in graph.outputs], name=graph.name)

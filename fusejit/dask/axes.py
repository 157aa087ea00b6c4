"""Which axes of a traced program may be split into chunks: an axis-dependency analysis on the IR.

A program can run chunk by chunk along an axis exactly when every output element depends only on
input elements at the same position along that axis. The analysis gives every axis of every
array input an *id* (NumPy's right-aligned broadcasting: axis ``j`` of an input with ``n`` dims
is id ``rank - n + j``) and follows ids through the graph:

- elementwise ops keep the id of each axis; a size-1 or stretched (broadcast) axis is *uniform*
  and agrees with anything; two different ids meeting on one axis (``x + x.T``), or an axis that
  varies without being tied to an input axis (a constant array) meeting an id, *couple* the ids;
- ``transpose`` permutes ids, a ``reshape`` that only adds or drops size-1 dims keeps them;
- a reduction, scan, arg-reduction or ``numel`` over an axis couples its id (the chunk would
  see only part of the data along it);
- every other op (slices, concatenation, matmul, gathers, general reshapes) couples all ids of
  its operands and makes axes that are tied to no input.

A *full reduction* (``reduce_sum``/``prod``/``max``/``min`` or ``numel`` over every axis of an
operand that spans all chunked ids) is recorded separately: its coupling can be undone by a tree
reduction (per-chunk partials, then a combine), see :mod:`fusejit.dask.tree`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph, Node
from ..ir.graph import topo_order
from ..ir.registry import get_op

UNIFORM = "uniform"  # the value does not vary along the axis (size 1 or stretched by broadcast)
OPAQUE = "opaque"  # varies along the axis, but not as any input axis does
AxisId = int | str

TREE_REDUCTIONS = {"reduce_sum": "reduce_sum", "reduce_prod": "reduce_prod", "reduce_max": "reduce_max",
                   "reduce_min": "reduce_min", "numel": "reduce_sum"}  # op -> how its partials combine


@dataclass
class AxisAnalysis:
    ids: dict[int, tuple[AxisId, ...]]  # id(node) -> the id of each of its axes
    coupled_at: dict[int, set[int]] = field(default_factory=dict)  # id(node) -> input-axis ids it couples
    rank: int = 0

    def of(self, node: Node) -> tuple[AxisId, ...]:
        return self.ids[id(node)]

    def coupled(self, skip: set[int] = frozenset()) -> set[int]:
        """Every coupled input-axis id, leaving out the nodes in ``skip`` (tree reductions)."""
        return {a for n, ids in self.coupled_at.items() if n not in skip for a in ids}


def input_ids(graph: Graph, rank: int) -> dict[int, tuple[AxisId, ...]]:
    return {id(n): tuple(UNIFORM if d == 1 else rank - n.ndim + j for j, d in enumerate(n.shape))
            for n in graph.inputs}


def analyse(graph: Graph, rank: int, hidden: set[int] = frozenset()) -> AxisAnalysis:
    """Follow axis ids through ``graph``; ``hidden`` inputs (id of node) are passed whole to every
    chunk, so their axes couple."""
    result = AxisAnalysis(dict(input_ids(graph, rank)), rank=rank)
    for node in graph.inputs:
        if id(node) in hidden:
            result.coupled_at[id(node)] = {a for a in result.of(node) if isinstance(a, int)}
    for node in topo_order(graph.outputs):
        if id(node) in result.ids:
            continue
        ids, coupled = _rule(node, result)
        result.ids[id(node)] = ids
        if coupled:
            result.coupled_at[id(node)] = coupled
    return result


def _ints(ids: tuple[AxisId, ...]) -> set[int]:
    return {a for a in ids if isinstance(a, int)}


def _rule(node: Node, an: AxisAnalysis) -> tuple[tuple[AxisId, ...], set[int]]:
    op, args = node.op, node.args
    fusion = get_op(op).fusion
    if op == "constant":
        return tuple(UNIFORM if d == 1 else OPAQUE for d in node.shape), set()
    if fusion == "elementwise":
        return _merge([an.of(a) for a in args], node)
    if op == "broadcast":
        src, offset = an.of(args[0]), node.ndim - args[0].ndim
        return tuple(UNIFORM if j < offset or args[0].shape[j - offset] == 1 and d != 1 else src[j - offset]
                     for j, d in enumerate(node.shape)), set()
    if op == "transpose":
        src = an.of(args[0])
        return tuple(src[p] for p in node.attrs["perm"]), set()
    if op == "reshape":
        src = an.of(args[0])
        kept = [a for a, d in zip(src, args[0].shape) if d != 1]
        if [d for d in args[0].shape if d != 1] == [d for d in node.shape if d != 1]:
            it = iter(kept)
            return tuple(UNIFORM if d == 1 else next(it) for d in node.shape), set()
    if op in ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "numel", "argmax", "argmin",
              "cumsum", "cumprod"):
        src = an.of(args[0])
        axes = node.attrs["axes"] if "axes" in node.attrs else [node.attrs["axis"]]
        coupled = {src[a] for a in axes if isinstance(src[a], int)}
        if op in ("cumsum", "cumprod"):
            return src, coupled
        return tuple(a for j, a in enumerate(src) if j not in axes), coupled
    # anything else mixes positions: its operands' ids couple, its axes are tied to no input
    coupled = set().union(*(_ints(an.of(a)) for a in args)) if args else set()
    return tuple(UNIFORM if d == 1 else OPAQUE for d in node.shape), coupled


def _merge(operands: list[tuple[AxisId, ...]], node: Node) -> tuple[tuple[AxisId, ...], set[int]]:
    out: list[AxisId] = []
    coupled: set[int] = set()
    for j, d in enumerate(node.shape):
        seen = {ids[j - (node.ndim - len(ids))] for ids in operands if j >= node.ndim - len(ids)}
        ints = {a for a in seen if isinstance(a, int)}
        if len(ints) > 1 or (ints and OPAQUE in seen):
            coupled |= ints
        out.append(min(ints) if ints else OPAQUE if OPAQUE in seen and d != 1 else UNIFORM)
    return tuple(out), coupled


def tree_reductions(graph: Graph, an: AxisAnalysis, chunked: set[int]) -> list[Node]:
    """The full reductions whose coupling a tree reduction undoes: over every axis of an operand
    that spans all ``chunked`` ids (so the chunks partition exactly what it reduces)."""
    found = []
    for node in topo_order(graph.outputs):
        if node.op in TREE_REDUCTIONS and node.ndim == 0 and chunked <= _ints(an.of(node.args[0])):
            found.append(node)
    return found


__all__ = ["AxisAnalysis", "OPAQUE", "TREE_REDUCTIONS", "UNIFORM", "analyse", "tree_reductions"]

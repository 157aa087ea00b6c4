"""The C ABI of a compiled program: one ``int32 entry(int64 *args)`` and the layout of ``args``.

``args`` is a flat table of 64-bit words::

    [input data pointers] [output data pointers] [scratch slot pointers]
    [symbol sizes, in Graph.symbols() order] [input strides in elements, per input per dim]

Intermediates (materialized values that are not outputs) live in scratch *slots*; a slot is
reused by a later value once every kernel that reads its previous value has run
(liveness-based buffer reuse), so slot ``s`` must hold ``slot_bytes(s)`` bytes. The entry
returns 0, or an error code (see ``ERRORS``) that the runtime turns into an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import Graph, Node
from ...ir.shapes import Size
from ...passes.fusion import SOURCES, FusionPlan

ERR_EMPTY_REDUCE, ERR_EMPTY_ARG, ERR_TAKE_OOB, ERR_NEG_POWER = 1, 2, 3, 4
ERRORS: dict[int, tuple[type[Exception], str]] = {
    ERR_EMPTY_REDUCE: (ValueError, "zero-size array to reduction operation {op} which has no identity"),
    ERR_EMPTY_ARG: (ValueError, "attempt to get {op} of an empty sequence"),
    ERR_TAKE_OOB: (IndexError, "index out of bounds in take (gather) along axis {axis} with size {size}"),
    ERR_NEG_POWER: (ValueError, "Integers to negative integer powers are not allowed."),
}
SLOT_ALIGN = 64


@dataclass(frozen=True)
class Slot:
    sizes: tuple[tuple[Size, int], ...]  # (element count, itemsize) of every value it holds


class ArgLayout:
    """Where every buffer pointer, symbol and stride sits in ``args``."""

    def __init__(self, graph: Graph, plan: FusionPlan) -> None:
        self.graph = graph
        self.symbols = graph.symbols()
        nin = len(graph.inputs)
        self.word: dict[int, int] = {id(n): i for i, n in enumerate(graph.inputs)}
        self.output_nodes: list[Node] = []
        for o in graph.outputs:
            if o.op not in SOURCES and id(o) not in self.word:
                self.word[id(o)] = nin + len(self.output_nodes)
                self.output_nodes.append(o)
        base = nin + len(self.output_nodes)
        self.slots = self._assign_slots(plan, base)
        self.symbol_word = {s: base + len(self.slots) + i for i, s in enumerate(self.symbols)}
        w = base + len(self.slots) + len(self.symbols)
        self.stride_word: dict[int, int] = {}
        for n in graph.inputs:
            self.stride_word[id(n)] = w
            w += n.ndim
        self.nwords = w

    def _assign_slots(self, plan: FusionPlan, base: int) -> list[Slot]:
        last_use: dict[int, int] = {}
        for ki, k in enumerate(plan.kernels):
            for n in k.inputs:
                last_use[id(n)] = ki
        free: list[int] = []  # slot indices whose last reader has run
        members: list[list[Node]] = []
        releases: dict[int, list[int]] = {}
        for ki, k in enumerate(plan.kernels):
            for n in k.outputs:
                if id(n) in self.word:
                    continue
                s = free.pop() if free else len(members)
                if s == len(members):
                    members.append([])
                members[s].append(n)
                self.word[id(n)] = base + s
                releases.setdefault(last_use.get(id(n), ki), []).append(s)
            free.extend(releases.pop(ki, []))
        return [Slot(tuple((Size.of(n.shape), n.dtype.itemsize) for n in m)) for m in members]

    def slot_bytes(self, s: int, bindings: dict[str, int]) -> int:
        best = 0
        for size, item in self.slots[s].sizes:
            n = size.factor
            for sym in size.syms:
                n *= bindings[sym]
            best = max(best, n * item)
        return best

    def has(self, node: Node) -> bool:
        return id(node) in self.word


def pointer_word(layout: ArgLayout, node: Node) -> int:
    return layout.word[id(node)]


def empty_args(layout: ArgLayout) -> np.ndarray:
    return np.zeros(layout.nwords, dtype=np.int64)

"""The C ABI of a compiled program: one ``int32 entry(int64 *args)`` and the layout of ``args``.

``args`` is a flat table of 64-bit words::

    [input data pointers] [output data pointers] [scratch slot pointers]
    [symbol sizes, in Graph.symbols() order] [input strides in elements, per input per dim]

Intermediates (materialized values that are not outputs) live in scratch *slots*; a slot is
reused by a later value once every kernel that reads its previous value has run
(liveness-based buffer reuse), so slot ``s`` must hold ``slot_bytes(s)`` bytes. The entry
returns 0, or an error code (see ``ERRORS``) that the runtime turns into an exception.

In-place outputs (``donate``, the JIT's variable updates): output ``o`` may be written
straight into the buffer of input ``i`` — ``o``'s pointer *is* word ``i`` and it gets no
output word — when :func:`inplace_outputs` proves the program never reads ``i``'s old
value after that write. The rule, from the kernel model (kernels run in plan order; a loop
kernel stores its outputs point by point, loading each leaf once per point):

1. ``o`` is computed by a kernel ``K`` (not a source), is not ``i``, and ``i`` is not itself
   a graph output (that result would be read after the call);
2. every other kernel that reads ``i`` runs before ``K``;
3. if ``K`` reads ``i``: every member reading ``i`` is elementwise at the identity index of
   ``o``'s points (the loop space; a row kernel's outer space, all of whose outputs are
   outer-shaped: the reduction epilogue ``b - lr * g.sum(0)``) — no layout op, reduction,
   BLAS operand or gather reads it — and ``o``'s own expression reads ``i`` (so the point's
   load of ``i`` precedes the store of ``o``; later outputs of ``K`` reuse that load). A
   point is computed by one thread, and its reduction passes run before its outputs are stored;
   in a dot kernel whose BLAS call would write into ``o``'s buffer, BLAS writes into a
   scratch slot instead (``alias = anchor``) so the epilogue still sees ``i``'s old value;
4. no kernel from ``K`` on can return an error (gather, integer power, max/min/argmax/argmin
   over an axis that may be empty): a call that raises leaves every input unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...ir import Graph, Node, get_op
from ...ir.shapes import Size
from ...passes.fusion import SOURCES, FusionPlan, Kernel

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

    def __init__(self, graph: Graph, plan: FusionPlan, donate: Mapping[int, int] | None = None) -> None:
        self.graph = graph
        self.symbols = graph.symbols()
        nin = len(graph.inputs)
        self.word: dict[int, int] = {id(n): i for i, n in enumerate(graph.inputs)}
        self.inplace = inplace_outputs(graph, plan, donate or {})  # output index -> input index
        for o, i in self.inplace.items():
            self.word[id(graph.outputs[o])] = i
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


def inplace_outputs(graph: Graph, plan: FusionPlan, donate: Mapping[int, int]) -> dict[int, int]:
    """The subset of ``donate`` (output index -> input index) that is safe to write in place
    (rule in the module docstring); rewires dot kernels whose BLAS target must move."""
    out: dict[int, int] = {}
    written: set[int] = set()
    outputs = {id(o) for o in graph.outputs}
    for oi, ii in sorted(donate.items()):
        o, i = graph.outputs[oi], graph.inputs[ii]
        if o.op in SOURCES or id(o) in written or id(i) in outputs or i.shape != o.shape or i.dtype != o.dtype:
            continue
        k = plan.kernel_of(o)
        if k is None:
            continue
        kpos = next(p for p, kk in enumerate(plan.kernels) if kk is k)
        if any(p > kpos for p, kk in enumerate(plan.kernels) if kk is not k and _reads(kk, i)) \
                or any(_may_fail(kk) for kk in plan.kernels[kpos:]):
            continue
        if _reads(k, i):
            if not _reads_at_own_index(k, i, o):
                continue
            if k.kind == "dot" and k.alias is o:
                k.alias = k.anchor  # BLAS into scratch: the epilogue reads i's old value
                k.outputs.append(k.anchor)
        out[oi] = ii
        written.add(id(o))
    return out


def _may_fail(k: Kernel) -> bool:
    for n in k.nodes:
        if n.op in ("take", "scatter_add") or (n.op == "pow" and n.dtype.kind in "iu"):
            return True
        if n.op in ("argmax", "argmin") or (n.op in ("reduce_max", "reduce_min") and n.dtype.kind != "b"):
            axes = n.attrs["axes"] if "axes" in n.attrs else (n.attrs["axis"],)
            if any(not isinstance(n.args[0].shape[a], int) or n.args[0].shape[a] == 0 for a in axes):
                return True
    return False


def _reads(k: Kernel, i: Node) -> bool:
    return any(n is i for n in k.inputs)


def _reads_at_own_index(k: Kernel, i: Node, o: Node) -> bool:
    if tuple(k.outer) != tuple(o.shape):
        return False
    ident = tuple(range(len(k.outer)))
    if k.kind == "row" and any(k.maps[id(x)] != ident for x in k.outputs):
        return False  # row outputs are stored in passes of their own (and stash values in their buffers)
    for n in k.nodes:
        if any(a is i for a in n.args) and (get_op(n.op).fusion != "elementwise" or k.maps.get(id(n)) != ident):
            return False
    members = {id(n) for n in k.nodes}
    stack, seen = [o], set()
    while stack:  # does o's expression read i?
        n = stack.pop()
        if n is i:
            return True
        if id(n) in members and id(n) not in seen:
            seen.add(id(n))
            stack.extend(n.args)
    return False

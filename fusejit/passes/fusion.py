"""The fusion planner: partition an optimized graph into kernels (backend-neutral).

A :class:`Kernel` is a loop nest over an iteration ``space`` with an expression per point;
``nodes`` are the ops evaluated inside it, ``inputs`` the values it reads from memory,
``outputs`` the values it writes. Every node that is not fused away is *materialized*:
it is the output of exactly one kernel. Kinds:

- ``loop``: ``space`` is the shape of the outputs (all outputs are read at the identity
  index). Elementwise ops, casts, ``where``, constants and every layout op (broadcast,
  transpose, slice, reshape, concat, update_slice) and ``take`` are index arithmetic.
- ``row``: ``space = outer + reduced`` with ``reduce_ndim`` trailing reduced dims. Every
  reduction in the kernel reduces exactly those dims (``reduce_maps`` gives, per reduction,
  the space axis of each of its operand's dims). Outputs are either ``outer``-shaped
  (reductions and their elementwise epilogue) or ``space``-shaped (row fusion: softmax,
  layer norm). ``sum(x*x)`` is a row kernel with an empty ``outer``.
- ``dot``: ``anchor`` is a ``dot`` node computed by BLAS straight into the buffer of
  ``alias`` (an output of the kernel with the dot's shape and dtype, else the dot itself);
  the remaining nodes are a fused epilogue over ``space`` (bias, activation, scaling).

How groups form (one backwards sweep, as in XLA's instruction fusion): a node joins the
kernel of its users when all its users are in that one kernel and they all read it
through the same index map; otherwise it is materialized and starts a kernel. Index maps
(one entry per dim of the node: a space axis, ``None`` for index 0, or a token for
slices/reshapes/concat) are what make the rules precise:

- a computing op is never fused where its value would be re-evaluated for many points
  (its map drops a space axis other than the innermost loop, or passes through concat /
  update_slice / gather selects): it is materialized instead, so ``exp`` runs once per
  element of its own shape;
- a reduction joins its consumer's kernel when the consumer iterates its rows (row fusion)
  or only its outer shape (reduction epilogue); its producers then fuse into it (input
  fusion, ``sum(x*x)`` reads ``x`` once);
- ``dot`` joins an elementwise consumer that has an output of its shape (epilogue fusion);
  its operands stay in memory (BLAS reads them), except a transpose of the last two axes,
  which becomes a BLAS transpose flag.

Groups are convex (every member reaches the group's first node through members only), so
kernels run in the order of their first node. ``fuse=False`` gives one kernel per op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ir import Graph, Node, get_op
from ..ir.shapes import Shape

SOURCES = ("input", "constant", "numel")
Entry = Any  # int (space axis) | None (index 0) | tuple token
Map = tuple[Entry, ...]


@dataclass
class Kernel:
    kind: str  # 'loop' | 'row' | 'dot'
    space: Shape
    nodes: list[Node] = field(default_factory=list)  # topological
    outputs: list[Node] = field(default_factory=list)
    inputs: list[Node] = field(default_factory=list)
    reduce_ndim: int = 0
    maps: dict[int, Map] = field(default_factory=dict)  # id(node) -> its index map into space
    reduce_maps: dict[int, tuple[int, ...]] = field(default_factory=dict)  # id(reduction) -> operand map
    anchor: Node | None = None  # the dot of a 'dot' kernel
    alias: Node | None = None  # the output buffer BLAS writes into

    @property
    def outer(self) -> Shape:
        return self.space[:len(self.space) - self.reduce_ndim]

    @property
    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def __str__(self) -> str:
        from ..ir.shapes import format_shape

        extra = f", reduce {self.reduce_ndim} trailing" if self.reduce_ndim else ""
        return f"{self.kind} kernel over {format_shape(self.space)}{extra}: {' '.join(self.ops)}"


@dataclass
class FusionPlan:
    graph: Graph
    kernels: list[Kernel]

    def kernel_of(self, node: Node) -> Kernel | None:
        for k in self.kernels:
            if any(n is node for n in k.outputs):
                return k
        return None

    def __str__(self) -> str:
        return "\n".join(f"kernel {i}: {k}" for i, k in enumerate(self.kernels))


def axes_of(e: Entry) -> set[int]:
    if isinstance(e, int) and not isinstance(e, bool):
        return {e}
    if isinstance(e, tuple):
        out: set[int] = set()
        for x in e[1:]:
            if isinstance(x, frozenset):
                out |= x
            elif isinstance(x, (int, tuple)) and not isinstance(x, bool):
                out |= axes_of(x) if isinstance(x, tuple) or x >= 0 else set()
        return out
    return set()


def _tokens(m: Map) -> set[str]:
    return {e[0] for e in m if isinstance(e, tuple)}


def is_computing(node: Node) -> bool:
    return get_op(node.op).fusion in ("elementwise", "reduce", "opaque") or node.op == "take"


def _reshape_map(user: Node, umap: Map, arg: Node) -> Map:
    src, dst = arg.shape, user.shape
    src_big = [i for i, d in enumerate(src) if d != 1]
    dst_big = [i for i, d in enumerate(dst) if d != 1]
    if [src[i] for i in src_big] == [dst[i] for i in dst_big]:
        out: list[Entry] = [None] * len(src)
        for i, j in zip(src_big, dst_big):
            out[i] = umap[j]
        return tuple(out)
    every = frozenset().union(*(axes_of(e) for e in umap)) if umap else frozenset()
    return tuple(("r", id(user), j, every) for j in range(len(src)))


def map_to_arg(user: Node, umap: Map, i: int) -> Map | None:
    """The index map of ``user.args[i]`` when ``user`` is evaluated through ``umap``; None
    when the argument cannot be fused into ``user``'s kernel at all."""
    arg = user.args[i]
    op = user.op
    cls = get_op(op).fusion
    if "dot" in _tokens(umap):  # a dot operand's transpose: its operand must be a buffer
        return None
    if cls == "elementwise":
        return umap
    if op == "broadcast":
        off = user.ndim - arg.ndim
        return tuple(None if arg.shape[j] == 1 and user.shape[j + off] != 1 else umap[j + off]
                     for j in range(arg.ndim))
    if op == "transpose":
        out: list[Entry] = [None] * arg.ndim
        for k, p in enumerate(user.attrs["perm"]):
            out[p] = umap[k]
        return tuple(out)
    if op == "reshape":
        return _reshape_map(user, umap, arg)
    if op == "slice":
        a = user.attrs
        return tuple(umap[d] if (a["starts"][d], a["stops"][d], a["steps"][d]) == (0, arg.shape[d], 1)
                     else ("s", a["starts"][d], a["steps"][d], umap[d]) for d in range(arg.ndim))
    if op in ("concat", "update_slice") and (i > 0 or op == "concat"):
        if is_computing(arg):
            return None
        axis = user.attrs.get("axis", -1)
        return tuple(("c", id(user), i, umap[d]) if (op == "concat" and d == axis) or op == "update_slice"
                     else umap[d] for d in range(arg.ndim))
    if op == "update_slice":
        return umap
    if op == "take":
        if i == 0:
            return None
        axis = user.attrs["axis"] % user.args[0].ndim
        return umap[axis:axis + arg.ndim]
    if op == "dot":
        perm = list(range(arg.ndim))
        perm[-2:] = perm[-1], perm[-2]
        if arg.op == "transpose" and list(arg.attrs["perm"]) == perm:
            return ("dot",) * arg.ndim
        return None
    if cls == "reduce":
        raise AssertionError("reduction operand maps come from the kernel")
    return None


def reduce_operand_map(node: Node) -> tuple[tuple[int, ...], Shape]:
    """A reduction's operand map into its row space (kept dims first, then reduced) and that space."""
    axes = sorted(node.attrs["axes"]) if "axes" in node.attrs else [node.attrs["axis"] % node.args[0].ndim]
    src = node.args[0].shape
    kept = [d for d in range(len(src)) if d not in axes]
    order = kept + axes
    m = [0] * len(src)
    for pos, d in enumerate(order):
        m[d] = pos
    return tuple(m), tuple(src[d] for d in order)


def _num_reduced(node: Node) -> int:
    return len(node.attrs["axes"]) if "axes" in node.attrs else 1


class _Planner:
    def __init__(self, graph: Graph, fuse: bool) -> None:
        self.graph = graph
        self.fuse = fuse
        self.users = graph.users()
        self.out_ids = {id(o) for o in graph.outputs}
        self.group: dict[int, Kernel] = {}
        self.kernels: list[Kernel] = []

    def plan(self) -> FusionPlan:
        for node in reversed(self.graph.nodes):
            if node.op in SOURCES:
                continue
            if not (self.fuse and self._try_join(node)):
                self._start(node)
        order = {id(n): i for i, n in enumerate(self.graph.nodes)}
        kernels = []
        for k in reversed(self.kernels):  # created consumers-first
            k.nodes.sort(key=lambda n: order[id(n)])
            k.outputs.sort(key=lambda n: order[id(n)])
            members = {id(n) for n in k.nodes}
            seen: set[int] = set()
            for n in k.nodes:
                for a in n.args:
                    if id(a) not in members and id(a) not in seen and not _inline(a):
                        seen.add(id(a))
                        k.inputs.append(a)
            kernels.append(k)
        kernels.sort(key=lambda k: order[id(k.nodes[-1])])
        if self.fuse:
            kernels = _merge_siblings(kernels, order)
        return FusionPlan(self.graph, kernels)

    def _add(self, k: Kernel, node: Node, m: Map) -> None:
        k.nodes.append(node)
        k.maps[id(node)] = m
        self.group[id(node)] = k

    def _start(self, node: Node) -> None:
        cls = get_op(node.op).fusion
        if cls == "reduce" and _num_reduced(node) and node.args[0].ndim:
            rmap, space = reduce_operand_map(node)
            k = Kernel("row", space, reduce_ndim=_num_reduced(node))
            k.reduce_maps[id(node)] = rmap
        elif node.op == "dot":
            k = Kernel("dot", node.shape, anchor=node, alias=node)
        else:
            k = Kernel("loop", node.shape)
        self.kernels.append(k)
        self._add(k, node, tuple(range(node.ndim)))
        k.outputs.append(node)

    def _try_join(self, node: Node) -> bool:
        users = self.users[id(node)]
        groups = {id(self.group[id(u)]): self.group[id(u)] for u in users}
        if len(groups) != 1:
            return False
        (k,) = groups.values()
        maps = set()
        for u in users:
            umap = k.maps[id(u)]
            for i, a in enumerate(u.args):
                if a is node:
                    if get_op(u.op).fusion == "reduce":
                        maps.add(k.reduce_maps[id(u)])
                    else:
                        maps.add(map_to_arg(u, umap, i))
        if len(maps) != 1 or None in maps:
            return False
        (m,) = maps
        is_out = id(node) in self.out_ids
        cls = get_op(node.op).fusion
        if is_out and not self._output_ok(k, m):
            return False
        if cls == "reduce":
            if not self._join_reduce(k, node, m):
                return False
        elif node.op == "dot":
            if not self._join_dot(k, node, m):
                return False
        elif is_computing(node) and not self._compute_ok(k, m):
            return False
        self._add(k, node, m)
        if is_out:
            k.outputs.append(node)
        return True

    def _output_ok(self, k: Kernel, m: Map) -> bool:
        full = tuple(range(len(k.space)))
        if k.kind == "row":
            return m == full[:len(k.outer)] or (m == full and self._trailing_rows(k))
        return m == full

    def _trailing_rows(self, k: Kernel) -> bool:
        return all(rm == tuple(range(len(k.space))) for rm in k.reduce_maps.values())

    def _compute_ok(self, k: Kernel, m: Map) -> bool:
        if _tokens(m) & {"c", "dot"}:
            return False
        covered = set().union(*(axes_of(e) for e in m)) if m else set()
        needed = set(range(len(k.outer))) if k.kind == "row" else set(range(max(len(k.space) - 1, 0)))
        return needed <= covered

    def _join_reduce(self, k: Kernel, node: Node, m: Map) -> bool:
        if k.kind == "dot" or m != tuple(range(node.ndim)) or not _num_reduced(node) or not node.args[0].ndim:
            return False
        rmap, space = reduce_operand_map(node)
        nred = _num_reduced(node)
        if k.kind == "loop":
            if tuple(k.space) == tuple(node.shape):  # reduction epilogue: promote to a row kernel
                k.kind, k.space, k.reduce_ndim = "row", space, nred
            elif tuple(k.space) == tuple(space) and rmap == tuple(range(len(space))):  # row fusion
                k.kind, k.reduce_ndim = "row", nred
            else:
                return False
        elif tuple(k.space) != tuple(space) or k.reduce_ndim != nred:
            return False
        elif rmap != tuple(range(len(space))) and any(
                k.maps[id(o)] == tuple(range(len(k.space))) for o in k.outputs):
            return False  # a space-shaped output needs every reduction to be trailing
        k.reduce_maps[id(node)] = rmap
        return True

    def _join_dot(self, k: Kernel, node: Node, m: Map) -> bool:
        if k.kind != "loop" or m != tuple(range(node.ndim)):
            return False
        target = next((o for o in k.outputs if o.shape == node.shape and o.dtype == node.dtype), None)
        if target is None:
            return False
        k.kind, k.anchor, k.alias = "dot", node, target
        return True


def _siblings(a: Kernel, b: Kernel) -> bool:
    """Can ``a`` and ``b`` run as one multi-output kernel (same loops, a shared input)?"""
    if a.kind != b.kind or a.kind == "dot" or tuple(a.space) != tuple(b.space) or a.reduce_ndim != b.reduce_ndim:
        return False
    if a.kind == "row":
        full = tuple(range(len(a.space)))
        trailing = all(m == full for k in (a, b) for m in k.reduce_maps.values())
        rows_out = any(k.maps[id(o)] == full for k in (a, b) for o in k.outputs)
        if rows_out and not trailing:
            return False
    return any(x is y for x in a.inputs for y in b.inputs)


def _merge_siblings(kernels: list[Kernel], order: dict[int, int]) -> list[Kernel]:
    """Horizontal fusion: kernels over the same space reading a common input, neither
    depending on the other (even through a third kernel), become one kernel that reads the
    input once (``x.sum()`` and ``x.max()``, ``a+b`` and ``a*b``)."""
    producer: dict[int, int] = {}
    for i, k in enumerate(kernels):
        for o in k.outputs:
            producer[id(o)] = i
    deps = [{producer[id(n)] for n in k.inputs if id(n) in producer} for k in kernels]

    def reaches(src: int, dst: int) -> bool:  # does kernel dst depend on kernel src?
        stack, seen = [dst], set()
        while stack:
            j = stack.pop()
            if j == src:
                return True
            if j not in seen:
                seen.add(j)
                stack.extend(deps[j])
        return False

    alive = list(range(len(kernels)))
    merged = True
    while merged:
        merged = False
        for ai in alive:
            for bi in alive:
                if bi <= ai or not _siblings(kernels[ai], kernels[bi]) or reaches(ai, bi) or reaches(bi, ai):
                    continue
                a, b = kernels[ai], kernels[bi]
                a.nodes = sorted(a.nodes + b.nodes, key=lambda n: order[id(n)])
                a.outputs = sorted(a.outputs + b.outputs, key=lambda n: order[id(n)])
                a.inputs += [n for n in b.inputs if all(n is not m for m in a.inputs)]
                a.maps.update(b.maps)
                a.reduce_maps.update(b.reduce_maps)
                deps[ai] |= deps[bi]
                for d in deps:
                    if bi in d:
                        d.discard(bi)
                        d.add(ai)
                alive.remove(bi)
                merged = True
                break
            if merged:
                break
    return [kernels[i] for i in alive]


def _inline(node: Node) -> bool:
    """Values codegen materializes from nothing: scalar constants and element counts."""
    return node.op == "numel" or (node.op == "constant" and node.attrs["value"].size == 1
                                  and node.ndim == 0)


def plan_fusion(graph: Graph, fuse: bool = True) -> FusionPlan:
    """Partition ``graph`` into kernels; ``fuse=False`` gives one kernel per op."""
    return _Planner(graph, fuse).plan()


def kernel_ops(plan: FusionPlan) -> Sequence[list[str]]:
    return [k.ops for k in plan.kernels]

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
- ``dot``: ``anchor`` is a ``dot`` node computed by BLAS (or a ``conv2d``, computed by the
  backend's convolution kernel; ``ANCHORS``) straight into the buffer of ``alias`` (the anchor
  itself when it is returned or nothing shares its shape and dtype, else an output of the
  kernel that does, which the epilogue then overwrites point by point); the remaining nodes
  are a fused epilogue over ``space`` (bias, activation, scaling, residual add).
- ``scan``: ``anchor`` is a ``cumsum``/``cumprod`` node: a running total along its axis is
  sequential, so its consumers and producers are loop kernels of their own, reading and writing
  memory, except a ``cast`` read only by the scan (to NumPy's accumulation dtype), which the scan
  applies as it loads.
- ``scatter``: ``anchor`` is a ``scatter_add`` (the gradient of a gather): it zeroes its buffer and
  adds each update at its index, so it reads its operands from memory and nothing joins it.

How groups form (one backwards sweep, as in XLA's instruction fusion): a node joins the
kernel of its users when they all read it through the same index map; otherwise it is
materialized and starts a kernel. When its users sit in several kernels with the same loops
(none reading what another writes through a third kernel, and direct reads only at the
point where the value is computed), those kernels first merge into one multi-output kernel,
so the node is computed once per point for all of them instead of being written to memory
and read back (Black-Scholes: call and put share d1, d2, exp(-rt) in one loop; layer norm
returning its mean and variance reads them from registers). Index maps (one entry per dim
of the node: a space axis, ``None`` for index 0, or a token for slices/reshapes/concat) are
what make the rules precise; they are compared up to dims of size 1 (always index 0), so a
(1, D) softmax plans like an (N, D) one:

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

Groups are convex (every member reaches the group's first node through members only).
After the sweep, kernels with the same loops that read a common input, or one the other's
outputs at their own points, merge (horizontal fusion), and kernels are scheduled producers
first. ``fuse=False`` gives one kernel per op.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ir import Graph, Node, get_op
from ..ir.primitives import SCAN_OPS
from ..ir.shapes import Shape, Size

SOURCES = ("input", "constant", "numel")
# computed into a buffer by a library-style routine (BLAS, the convolution kernels), then an epilogue
ANCHORS = ("dot", "conv2d", "conv2d_blocked", "conv2d_backprop_filter")
Entry = Any  # int (space axis) | None (index 0) | tuple token
Map = tuple[Entry, ...]


@dataclass
class Kernel:
    kind: str  # 'loop' | 'row' | 'dot' | 'scan' | 'scatter'
    space: Shape
    nodes: list[Node] = field(default_factory=list)  # topological
    outputs: list[Node] = field(default_factory=list)
    inputs: list[Node] = field(default_factory=list)
    reduce_ndim: int = 0
    maps: dict[int, Map] = field(default_factory=dict)  # id(node) -> its index map into space
    reduce_maps: dict[int, tuple[int, ...]] = field(default_factory=dict)  # id(reduction) -> operand map
    anchor: Node | None = None  # the dot of a 'dot' kernel, the scan of a 'scan' kernel
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


def canonical(m: Map, node: Node, space: Shape) -> Map:
    """``m`` with size-1 dims made exact: a dim of size 1 is read at index 0 whatever its entry
    says, so its entry is ``None``, unless the map is the identity into a prefix of ``space``
    up to such dims (the axis it names has size 1 too), in which case it is that identity.
    Equal canonical maps read the same elements: f32[1] through reshape/broadcast into a
    (1, D) row space is the reduction's own identity, as it is for (N, D)."""
    shape = node.shape
    m = tuple(None if d == 1 else e for d, e in zip(shape, m))
    ident = tuple(range(len(shape)))
    if len(shape) <= len(space) and all(e == j if d != 1 else space[j] == 1
                                        for j, (d, e) in enumerate(zip(shape, m))):
        return ident
    return m


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
        axis = user.attrs["axis"] % user.args[0].ndim
        q = user.args[1].ndim
        if i == 0:  # the gathered operand, read at the index array's values ("g": data-dependent)
            every = frozenset().union(*(axes_of(e) for e in umap[axis:axis + q])) if q else frozenset()
            return umap[:axis] + (("g", id(user), every),) + umap[axis + q:]
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


def _reduced_axes(node: Node) -> list[int]:
    return sorted(node.attrs["axes"]) if "axes" in node.attrs else [node.attrs["axis"] % node.args[0].ndim]


def operand_map(node: Node, m: Map, space: Shape, nred: int) -> tuple[int, ...] | None:
    """The operand map of reduction ``node`` in a row kernel over ``space`` (``nred`` trailing
    reduced axes) where the reduction's result is read through ``m``; None unless every row
    computes exactly one result element: its reduced dims are the kernel's, its kept dims
    land on the outer axes (a kept dim of size 1 on an outer axis of size 1) and cover every
    outer axis longer than 1. So (N,) = sum over D of (N, D) fits (N, 1, D) rows."""
    axes, src = _reduced_axes(node), node.args[0].shape
    nouter = len(space) - nred
    if len(axes) != nred or any(space[nouter + i] != src[d] for i, d in enumerate(axes)):
        return None
    ones = [a for a in range(nouter) if space[a] == 1]
    out: list[int] = [0] * len(src)
    kept = [d for d in range(len(src)) if d not in axes]
    for j, d in enumerate(kept):
        e = m[j]
        if e is None and ones:
            e = ones[0]
        if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e < nouter:
            return None
        out[d] = e
    for i, d in enumerate(axes):
        out[d] = nouter + i
    if not {a for a in range(nouter) if space[a] != 1} <= {out[d] for d in kept}:
        return None
    return tuple(out)


def reduce_operand_map(node: Node) -> tuple[tuple[int, ...], Shape]:
    """A reduction's operand map into its row space (kept dims first, then reduced) and that space."""
    axes = _reduced_axes(node)
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
        self.kernels: dict[int, Kernel] = {}  # id -> kernel, in creation order

    def plan(self) -> FusionPlan:
        for node in reversed(self.graph.nodes):
            if node.op in SOURCES or (self.fuse and is_splat(node) and id(node) not in self.out_ids
                                      and not self._read_as_buffer(node)):
                continue
            if not (self.fuse and self._try_join(node)):
                self._start(node)
        order = {id(n): i for i, n in enumerate(self.graph.nodes)}
        kernels = []
        for k in reversed(self.kernels.values()):  # created consumers-first
            k.nodes.sort(key=lambda n: order[id(n)])
            k.outputs.sort(key=lambda n: order[id(n)])
            members = {id(n) for n in k.nodes}
            seen: set[int] = set()
            for n in k.nodes:
                for a in n.args:
                    if id(a) not in members and id(a) not in seen and not _inline(a) \
                            and not (is_splat(a) and id(a) not in self.group):
                        seen.add(id(a))
                        k.inputs.append(a)
            kernels.append(k)
        kernels = _merge_siblings(kernels, order, self.out_ids, self.users) if self.fuse \
            else _schedule(kernels, order)
        return FusionPlan(self.graph, kernels)

    def _read_as_buffer(self, node: Node) -> bool:
        """Does an opaque op or a scan read ``node`` from memory (a BLAS operand: ``zeros @ w``)?
        Then a splat is materialized like any other value, not computed where it is read."""
        return any(get_op(u.op).fusion == "opaque" or u.op in SCAN_OPS for u in self.users[id(node)])

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
        elif node.op in ANCHORS:
            k = Kernel("dot", node.shape, anchor=node, alias=node)
        elif node.op in SCAN_OPS:
            k = Kernel("scan", node.shape, anchor=node, alias=node)
        elif node.op == "scatter_add":
            k = Kernel("scatter", node.shape, anchor=node, alias=node)
        else:
            k = Kernel("loop", node.shape)
        self.kernels[id(k)] = k
        self._add(k, node, tuple(range(node.ndim)))
        k.outputs.append(node)

    def _try_join(self, node: Node) -> bool:
        if node.op in SCAN_OPS or node.op == "scatter_add":
            return False
        users = [u for u in self.users[id(node)] if u.op not in SOURCES]  # numel reads only the shape
        if any(self.group[id(u)].kind == "scatter" for u in users):
            return False  # a scatter reads its operands from buffers
        if any(self.group[id(u)].kind == "scan" for u in users):
            return self._join_scan(node, users)
        groups = list({id(self.group[id(u)]): self.group[id(u)] for u in users}.values())
        if not groups:
            return False
        if len(groups) == 1:
            k = groups[0]
        else:  # consumers in several kernels: one multi-output kernel computes node once for all
            k = combine(groups) if node.op not in ANCHORS else None
            if k is None and get_op(node.op).fusion == "reduce" and _num_reduced(node) and node.args[0].ndim:
                # the reduction's rows and its outer shape: one row kernel once it joins
                space = reduce_operand_map(node)[1]
                k = combine([*groups, Kernel("row", space, reduce_ndim=_num_reduced(node))])
            if k is None or not self._mergeable(groups, k):
                return False
        maps = set()
        for u in users:
            umap = k.maps[id(u)]
            for i, a in enumerate(u.args):
                if a is node:
                    m = k.reduce_maps[id(u)] if get_op(u.op).fusion == "reduce" else map_to_arg(u, umap, i)
                    maps.add(None if m is None else canonical(m, node, k.space))
        if len(maps) != 1 or None in maps:
            return False
        (m,) = maps
        if "g" in _tokens(m) and get_op(node.op).fusion not in ("elementwise", "layout"):
            return False  # only pointwise work is evaluated at gathered positions (never a reduction)
        if k.kind == "dot" and "dot" in m and not (node.op == "transpose" and all(u is k.anchor for u in users)):
            return False  # BLAS reads its operands from buffers: only the anchor's transposed operand joins
        is_out = id(node) in self.out_ids
        cls = get_op(node.op).fusion
        if is_out and not self._output_ok(k, m):
            return False
        if cls == "reduce":
            if not self._join_reduce(k, node, m):
                return False
        elif node.op in ANCHORS:
            if not self._join_dot(k, node, m):
                return False
        elif is_computing(node) and (not compute_ok(k, m) or _repeated_through_reshape(k, node, m)):
            return False
        if len(groups) > 1:
            for g in groups:
                del self.kernels[id(g)]
            self.kernels[id(k)] = k
            for n in k.nodes:
                self.group[id(n)] = k
            k.outputs = [o for o in k.outputs if id(o) in self.out_ids
                         or any(self.group[id(u)] is not k for u in self.users[id(o)] if u.op not in SOURCES)]
        self._add(k, node, m)
        if is_out:
            k.outputs.append(node)
        return True

    def _mergeable(self, groups: list[Kernel], k: Kernel) -> bool:
        """Can ``groups`` run as the one kernel ``k``? Only if none reads what another writes
        through a third kernel (merged, it would wait for itself), and every direct read of a
        sibling's value is at the index that sibling computes it at, so the merged kernel reads
        it from a register (layer norm that also returns its mean and variance)."""
        targets = {id(g): g for g in groups}
        for g in groups:
            stack, seen = [g], {id(g)}
            while stack:
                kern = stack.pop()
                for n in kern.nodes:
                    for i, a in enumerate(n.args):
                        ka = self.group.get(id(a))
                        if ka is None or ka is kern or (kern is not g and id(ka) in seen):
                            continue
                        if id(ka) in targets:
                            if kern is not g or not same_point(g, n, i, ka, k.space):
                                return False
                            continue
                        if id(ka) not in seen:
                            seen.add(id(ka))
                            stack.append(ka)
        return True

    def _output_ok(self, k: Kernel, m: Map) -> bool:
        full = tuple(range(len(k.space)))
        if k.kind == "row":
            return m == full[:len(k.outer)] or (m == full and self._trailing_rows(k))
        return m == full

    def _trailing_rows(self, k: Kernel) -> bool:
        return all(rm == tuple(range(len(k.space))) for rm in k.reduce_maps.values())

    def _join_reduce(self, k: Kernel, node: Node, m: Map) -> bool:
        if k.kind == "dot" or not _num_reduced(node) or not node.args[0].ndim:
            return False
        rmap, space = reduce_operand_map(node)
        nred = _num_reduced(node)
        full = tuple(range(len(space)))
        if k.kind == "loop":
            if tuple(k.space) == tuple(space) and rmap == full and m == tuple(range(node.ndim)):  # row fusion
                k.kind, k.reduce_ndim = "row", nred
            else:  # reduction epilogue: the loop runs over the reduction's result, promote it to a row kernel
                row_space = tuple(k.space) + tuple(space[len(space) - nred:])
                rmap = operand_map(node, m, row_space, nred)
                if rmap is None:
                    return False
                k.kind, k.space, k.reduce_ndim = "row", row_space, nred
        else:
            if k.reduce_ndim != nred:
                return False
            rmap = operand_map(node, m, k.space, nred)
            full = tuple(range(len(k.space)))
            if rmap is None or (rmap != full and any(k.maps[id(o)] == full for o in k.outputs)):
                return False  # a space-shaped output needs every reduction to be trailing
        k.reduce_maps[id(node)] = rmap
        return True

    def _join_scan(self, node: Node, users: list[Node]) -> bool:
        """A cast read only by a scan converts as the scan loads (``cumsum`` of int8 or bool reads the
        narrow operand, not an int64 copy of it); nothing else joins a scan."""
        k = self.group[id(users[0])]
        if node.op != "cast" or len(users) != 1 or len(k.nodes) != 1 or id(node) in self.out_ids:
            return False
        self._add(k, node, tuple(range(node.ndim)))
        return True

    def _join_dot(self, k: Kernel, node: Node, m: Map) -> bool:
        if k.kind != "loop" or m != tuple(range(node.ndim)):
            return False
        if id(node) in self.out_ids:  # returned itself (``z, relu(z)``): BLAS writes the dot's own
            target = node  # buffer, which the epilogue reads; never another output's, which it overwrites
        else:
            target = next((o for o in k.outputs if o.shape == node.shape and o.dtype == node.dtype), None)
        if target is None:
            return False
        k.kind, k.anchor, k.alias = "dot", node, target
        return True


def compute_ok(k: Kernel, m: Map) -> bool:
    """May a computing op read through ``m`` be evaluated inside ``k``? Only when it is not
    re-evaluated for many points: ``m`` covers every axis the kernel loops over (all but the
    innermost loop, whose invariants LLVM hoists; the outer axes of a row kernel), except axes
    of size 1."""
    if _tokens(m) & {"c", "dot"}:
        return False
    covered = set().union(*(axes_of(e) for e in m)) if m else set()
    loops = range(len(k.outer)) if k.kind == "row" else range(max(len(k.space) - 1, 0))
    return {a for a in loops if k.space[a] != 1} <= covered


def _repeated_through_reshape(k: Kernel, node: Node, m: Map) -> bool:
    """A loop kernel reading a smaller computed value through a reshape's index arithmetic (the
    row-wise ``log(sum)`` of a log-softmax, read by a flattened gather) would evaluate it once per
    point, not once per element of it: ``i // 1024`` is not invariant in the innermost loop."""
    if k.kind != "loop" or "r" not in _tokens(m):
        return False
    ratio = Size.of(k.space).divide(Size.of(node.shape))  # space = ratio * node: node is smaller
    return ratio is not None and ratio != Size(1, ())


def combine(kernels: Sequence[Kernel]) -> Kernel | None:
    """One multi-output kernel doing the work of ``kernels`` in the same loops, or None when
    their loops differ. Loop kernels join a row kernel over its whole space (row outputs: every
    reduction must then be trailing) or over its outer shape (epilogue outputs). Nodes keep
    their index maps; the caller orders them."""
    if any(k.kind in ("dot", "scan", "scatter") for k in kernels):
        return None
    rows = [k for k in kernels if k.kind == "row"]
    base = rows[0] if rows else kernels[0]
    space, nred = tuple(base.space), base.reduce_ndim
    outer = space[:len(space) - nred]
    for k in kernels:
        if (k.kind == "row" and (tuple(k.space) != space or k.reduce_ndim != nred)) or \
                (k.kind == "loop" and tuple(k.space) != space and not (rows and tuple(k.space) == outer)):
            return None
    c = Kernel(base.kind, base.space, reduce_ndim=nred)
    for k in kernels:
        c.nodes += k.nodes
        c.outputs += k.outputs
        seen = {id(n) for n in c.inputs}
        c.inputs += [n for n in k.inputs if id(n) not in seen]
        c.maps.update(k.maps)
        c.reduce_maps.update(k.reduce_maps)
    if rows:
        full = tuple(range(len(space)))
        if any(c.maps[id(o)] == full for o in c.outputs) and any(m != full for m in c.reduce_maps.values()):
            return None  # a row output needs the rows in the order the reductions walk them
        if not all(compute_ok(c, k.maps[id(n)]) for k in kernels if k.kind == "loop"
                   for n in k.nodes if is_computing(n)):
            return None
    return c


def same_point(k: Kernel, user: Node, i: int, producer: Kernel, space: Shape) -> bool:
    """Does ``user`` (in ``k``) read its ``i``-th operand, an output of ``producer``, at the
    index ``producer`` computes it at (so one kernel over ``space`` can do both)?"""
    a = user.args[i]
    m = k.reduce_maps[id(user)] if get_op(user.op).fusion == "reduce" else map_to_arg(user, k.maps[id(user)], i)
    return m is not None and canonical(m, a, space) == producer.maps[id(a)]


def _dependencies(kernels: list[Kernel]) -> list[set[int]]:
    producer = {id(o): i for i, k in enumerate(kernels) for o in k.outputs}
    return [{producer[id(n)] for n in k.inputs if id(n) in producer} for k in kernels]


def _schedule(kernels: list[Kernel], order: dict[int, int]) -> list[Kernel]:
    """Kernels in an order that runs every producer before its readers (among the ready ones,
    the one whose last node comes first in the graph)."""
    deps = _dependencies(kernels)
    readers: list[list[int]] = [[] for _ in kernels]
    for i, d in enumerate(deps):
        for j in d:
            readers[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [(order[id(k.nodes[-1])], i) for i, k in enumerate(kernels) if not waiting[i]]
    heapq.heapify(ready)
    out: list[Kernel] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(kernels[i])
        for j in readers[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (order[id(kernels[j].nodes[-1])], j))
    assert len(out) == len(kernels), "fusion planner: kernels depend on each other in a cycle"
    return out


def _ranks(deps: list[set[int]]) -> list[int]:
    """Longest-path depth of every kernel (0 for kernels reading no other): a rank that grows along
    every dependency, so two kernels whose ranks differ by at most one have no path of two edges."""
    rank: list[int] = [-1] * len(deps)
    for root in range(len(deps)):
        stack = [root]
        while stack:
            j = stack[-1]
            if rank[j] >= 0:
                stack.pop()
                continue
            todo = [d for d in deps[j] if rank[d] < 0]
            if todo:
                stack.extend(todo)
            else:
                rank[j] = 1 + max((rank[d] for d in deps[j]), default=-1)
                stack.pop()
    return rank


class _KernelDag:
    """The kernels under horizontal fusion: who depends on whom, a rank that grows along every
    dependency (kept valid as kernels merge, by pushing readers' ranks up), who reads which value,
    and which kernel owns each node. The rank keeps every reachability question local: a path from
    ``src`` to ``dst`` only passes through kernels ranked strictly between them, so siblings at the
    same depth (the common case) are answered without a search, and planning stays near-linear in
    the number of kernels instead of an all-pairs scan with a whole-graph search per pair."""

    def __init__(self, kernels: list[Kernel]) -> None:
        self.kernels = kernels
        self.deps = _dependencies(kernels)
        self.readers: list[set[int]] = [set() for _ in kernels]
        for i, d in enumerate(self.deps):
            for j in d:
                self.readers[j].add(i)
        self.rank = _ranks(self.deps)
        self.reading: dict[int, set[int]] = {}  # id(value) -> kernels reading it from memory
        self.owner: dict[int, int] = {}  # id(node) -> its kernel
        for i, k in enumerate(kernels):
            for n in k.inputs:
                self.reading.setdefault(id(n), set()).add(i)
            for n in k.nodes:
                self.owner[id(n)] = i

    def reaches(self, src: int, dst: int) -> bool:
        """Does ``dst`` depend on ``src`` through a third kernel?"""
        lo = self.rank[src]
        if self.rank[dst] - lo <= 1:
            return False
        stack = [j for j in self.deps[dst] if j != src and self.rank[j] > lo]
        seen = set(stack)
        while stack:
            j = stack.pop()
            if src in self.deps[j]:
                return True
            for p in self.deps[j]:
                if p not in seen and self.rank[p] > lo:
                    seen.add(p)
                    stack.append(p)
        return False

    def candidates(self, ai: int) -> list[int]:
        """Kernels after ``ai`` worth trying to merge with it: those sharing an input with it, and its
        direct producers and readers."""
        out = self.readers[ai] | self.deps[ai]
        for n in self.kernels[ai].inputs:
            out |= self.reading.get(id(n), set())
        return sorted(j for j in out if j > ai)

    def merge(self, ai: int, bi: int, c: Kernel, out_ids: set[int], users: dict[int, list[Node]]) -> None:
        """Kernel ``bi`` is gone; ``ai`` is now ``c``, their union."""
        a, b = self.kernels[ai], self.kernels[bi]
        for n in b.nodes:
            self.owner[id(n)] = ai
        for n in a.inputs + b.inputs:
            self.reading.get(id(n), set()).difference_update((ai, bi))
        c.outputs = [o for o in c.outputs if id(o) in out_ids
                     or any(self.owner.get(id(u)) != ai for u in users[id(o)])]
        c.inputs = [n for n in c.inputs if self.owner.get(id(n)) != ai]
        for n in c.inputs:
            self.reading.setdefault(id(n), set()).add(ai)
        self.kernels[ai] = c
        deps, readers, rank = self.deps, self.readers, self.rank
        for r in readers[bi]:
            deps[r].discard(bi)
            deps[r].add(ai)
        for d in deps[bi]:
            readers[d].discard(bi)
            readers[d].add(ai)
        deps[ai] = (deps[ai] | deps[bi]) - {ai, bi}
        readers[ai] = (readers[ai] | readers[bi]) - {ai, bi}
        deps[bi], readers[bi] = set(), set()
        rank[ai] = max(rank[ai], rank[bi])
        stack = [ai]
        while stack:  # keep the rank growing along every dependency
            j = stack.pop()
            for r in readers[j]:
                if rank[r] <= rank[j]:
                    rank[r] = rank[j] + 1
                    stack.append(r)


def _merge_siblings(kernels: list[Kernel], order: dict[int, int], out_ids: set[int],
                    users: dict[int, list[Node]]) -> list[Kernel]:
    """Horizontal fusion: kernels with the same loops reading a common input, neither
    depending on the other through a third kernel, become one kernel that reads the input
    once (``x.sum()`` and ``x.max()``, ``a+b`` and ``a*b``). A kernel reading another's outputs
    at the points that one computes them joins it too (a per-row ``1/sqrt(var)`` output beside
    layer norm's rows): the values stay in registers, and are written only if still needed.
    Kernels are visited producers first, each merging with the first candidate after it that
    fits, until a sweep merges nothing."""
    dag = _KernelDag(kernels)

    def direct_reads_ok(pi: int, ci: int, space: Shape) -> bool:
        prod, cons = dag.kernels[pi], dag.kernels[ci]
        return all(same_point(cons, u, i, prod, space) for o in prod.outputs for u in users[id(o)]
                   if dag.owner.get(id(u)) == ci for i, x in enumerate(u.args) if x is o)

    alive = [True] * len(kernels)
    merged = True
    while merged:
        merged = False
        for ai in range(len(kernels)):
            tried: set[int] = set()
            while alive[ai]:
                for bi in dag.candidates(ai):
                    if bi in tried or not alive[bi]:
                        continue
                    tried.add(bi)
                    if dag.reaches(ai, bi) or dag.reaches(bi, ai):
                        continue
                    c = combine([dag.kernels[ai], dag.kernels[bi]])
                    if c is None or not (direct_reads_ok(ai, bi, c.space) and direct_reads_ok(bi, ai, c.space)):
                        continue
                    dag.merge(ai, bi, c, out_ids, users)
                    alive[bi] = False
                    merged = True
                    break
                else:
                    break
    out = [dag.kernels[i] for i in range(len(kernels)) if alive[i]]
    for k in out:
        k.nodes.sort(key=lambda n: order[id(n)])
        k.outputs.sort(key=lambda n: order[id(n)])
    return _schedule(out, order)


def _inline(node: Node) -> bool:
    """Values codegen materializes from nothing: scalar constants and element counts."""
    return node.op == "numel" or (node.op == "constant" and node.attrs["value"].size == 1
                                  and node.ndim == 0)


def is_splat(node: Node) -> bool:
    """A broadcast of a scalar constant or element count: unless it is an output, every kernel
    reading it computes it (one register) and it is in no kernel. After CSE one splat (the ``0.5``
    of ``x * 0.5``) is shared by every consumer in the program; were it a kernel of its own, all of
    them would read it from memory and, sharing an input, be tried against each other for merging."""
    return node.op == "broadcast" and (node.args[0].op == "numel" or (
        node.args[0].op == "constant" and node.args[0].ndim == 0))


def plan_fusion(graph: Graph, fuse: bool = True) -> FusionPlan:
    """Partition ``graph`` into kernels; ``fuse=False`` gives one kernel per op."""
    return _Planner(graph, fuse).plan()

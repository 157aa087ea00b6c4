"""Layout canonicalization: layout ops move toward consumers, merge, and cancel.

So that fusion sees plain index maps on loads, and elementwise work runs on the smallest data:

    transpose(transpose(x, p), q)      -> transpose(x, p∘q)   (x if p∘q is the identity)
    reshape(reshape(x, s1), s2)        -> reshape(x, s2)      row-major order is preserved
    broadcast(broadcast(x, s1), s2)    -> broadcast(x, s2)
    transpose/reshape(broadcast(s, S)) -> broadcast(s, S')    s has only size-1 dims (a splat)
    f(transpose(a, p), ..., splat)     -> transpose(f(a, ..., splat'), p)     f elementwise
    f(reshape(a, S), ..., splat)       -> reshape(f(a, ..., splat'), S)       a's shapes equal
    f(broadcast(a, S), broadcast(b, S)) -> broadcast(f(broadcast(a, C), broadcast(b, C)), S)
                                          C = the sources' common shape, when smaller than S

Exact: layout ops only move elements; an elementwise op computes each element from the
elements at the same index, so applying it before or after a permutation, reshape or
broadcast gives the same elements (the evaluator keeps values C-contiguous, so NumPy's loop
choice does not depend on where the layout op sits; its elementwise loops give each element the
same bits whatever the array's length). Three things are left alone: computations never move
to or from rank 0 (NumPy's ``pow`` on 0-d operands rounds differently than on arrays);
reductions (moving a transpose through a sum would change its summation order); ops whose
NumPy result depends on the element's position (fmax/fmin on signed zeros, float -> integer
casts: ``position_dependent`` in rewrite.py).
"""

from __future__ import annotations

from ..ir import Graph, Node, broadcast_shapes, get_op, make
from .dce import identity_ops
from .rewrite import Context, position_dependent, rewrite


def layout(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [merge_layout_chains, layout_of_splat, push_through_elementwise,
                           sink_broadcasts, identity_ops])


def merge_layout_chains(node: Node, ctx: Context) -> Node | None:
    inner = node.args[0] if node.args else None
    if inner is None or inner.op != node.op:
        return None
    x = inner.args[0]
    if node.op == "transpose":
        p, q = inner.attrs["perm"], node.attrs["perm"]
        return make("transpose", x, perm=[p[i] for i in q])
    if node.op in ("reshape", "broadcast"):
        return make(node.op, x, shape=list(node.shape))
    return None


def _is_splat_broadcast(node: Node) -> bool:
    return node.op == "broadcast" and all(d == 1 for d in node.args[0].shape)


def _splat_to(src: Node, shape: tuple) -> Node:
    """Broadcast ``src`` (only size-1 dims) to ``shape``, dropping its dims if it has too many."""
    if src.ndim > len(shape):
        src = make("reshape", src, shape=[])
    return make("broadcast", src, shape=list(shape))


def layout_of_splat(node: Node, ctx: Context) -> Node | None:
    if node.op in ("transpose", "reshape") and _is_splat_broadcast(node.args[0]):
        return _splat_to(node.args[0].args[0], node.shape)
    return None


def _movable(node: Node) -> bool:
    return get_op(node.op).fusion == "elementwise" and bool(node.args) and not position_dependent(node)


def push_through_elementwise(node: Node, ctx: Context) -> Node | None:
    if not _movable(node):
        return None
    moved = [a for a in node.args if a.op in ("transpose", "reshape")]
    if not moved:
        return None
    first = moved[0]
    key = _layout_key(first)
    if any(_layout_key(a) != key for a in moved):
        return None
    if any(a.op not in ("transpose", "reshape") and not _is_splat_broadcast(a) for a in node.args):
        return None
    inner_shape = first.args[0].shape
    if not inner_shape or not node.shape:
        return None  # NumPy computes pow/log10 differently on 0-d arrays
    args = [a.args[0] if a.op in ("transpose", "reshape") else _splat_to(a.args[0], inner_shape)
            for a in node.args]
    inner = make(node.op, *args, **node.attrs)
    return make(first.op, inner, **first.attrs)


def _layout_key(node: Node) -> tuple:
    """Layout ops with equal keys map their operands' indices the same way."""
    if node.op == "transpose":
        return "transpose", tuple(node.attrs["perm"])
    return "reshape", node.args[0].shape, tuple(node.shape)


def sink_broadcasts(node: Node, ctx: Context) -> Node | None:
    if not _movable(node):
        return None
    if any(a.op != "broadcast" for a in node.args):
        return None
    sources = [a.args[0] for a in node.args]
    rank = node.ndim
    common = broadcast_shapes(*(((1,) * (rank - s.ndim)) + tuple(s.shape) for s in sources))
    if common == node.shape:
        return None
    ones = next((i for i, d in enumerate(common) if d != 1), rank)
    common = common[min(ones, rank - max(s.ndim for s in sources), rank - 1):]  # broadcast re-adds them
    args = [s if s.shape == common else make("broadcast", s, shape=list(common)) for s in sources]
    return make("broadcast", make(node.op, *args, **node.attrs), shape=list(node.shape))

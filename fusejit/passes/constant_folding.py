"""Constant folding (Grappler's ``constant_folding``): evaluate what depends only on constants.

    op(c1, ..., cn)                      -> constant(ref(c1, ..., cn))      result <= size limit
    f(broadcast(c1, S), ..., cn)         -> broadcast(constant(f(c1', ..., cn')), S)   f elementwise
    numel(x){axes}                       -> constant(prod of x's dims)      those dims static
    op(e1, ..., en)                      -> constant(ref(0s of e_i's shape))  every e_i constant or
                                                                          statically empty

An empty operand has no values for the result to depend on, so a reduction over one (``mean`` of
an empty slice) becomes NumPy's own result; computed in a kernel instead, its ``0 / 0`` would be
folded by LLVM, which picks a NaN of the other sign than NumPy's.

Exact by construction: the value is computed by the same reference implementation, on the same
C-contiguous operands, that the evaluator would run. The lazy form evaluates an elementwise op on
the smallest shape the constants broadcast to (``c'`` = ``c`` broadcast to that shape) and keeps
the broadcast, so a scalar added to an ``[N, 4096]`` tensor stays a ``[1]`` constant; it relies on
NumPy's elementwise loops computing each lane independently of the array's length (tested). A
0-d array is different: NumPy computes ``pow`` (f32/f64) and ``log10`` (f16) on 0-d operands
with other code than on arrays, and the bits differ, so a computation never moves between
rank 0 and rank >= 1, and ops whose NumPy result depends on the lane (``fmax``/``fmin`` on
signed zeros, float -> integer casts; see rewrite.py) are only folded whole. ``broadcast(c)``
itself is never materialized, and no folded constant exceeds ``MAX_FOLD_BYTES`` unless it is
no larger than the constants it replaces. Ops that raise on their constant operands (an integer
to a negative power, an out-of-range gather) are left for run time, where they raise.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, constant, get_op, make
from ..ir.evaluator import run_node
from .rewrite import Context, const_array, position_dependent, rewrite

MAX_FOLD_BYTES = 1 << 20


def constant_folding(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [fold_numel, fold_constants, fold_empty_operands, fold_lazy_broadcasts])


def fold_numel(node: Node, ctx: Context) -> Node | None:
    if node.op != "numel":
        return None
    dims = [node.args[0].shape[a] for a in node.attrs["axes"]]
    if not all(isinstance(d, int) for d in dims):
        return None
    return constant(np.array(int(np.prod(dims, dtype=np.int64)), dtype=node.dtype), node.dtype)


def fold_constants(node: Node, ctx: Context) -> Node | None:
    if not node.args or node.op == "broadcast" or not node.type.is_static:
        return None
    values = [const_array(a) for a in node.args]
    if any(v is None for v in values):
        return None
    return _constant_or_none(node, values, sum(v.nbytes for v in values))


def fold_empty_operands(node: Node, ctx: Context) -> Node | None:
    """Fold a node whose operands are constants or statically empty, at least one empty."""
    if not node.args or not node.type.is_static or not any(_empty(a) for a in node.args):
        return None
    values = [const_array(a) for a in node.args]
    if any(v is None and not _empty(a) for v, a in zip(values, node.args)):
        return None
    values = [np.zeros(a.shape, a.dtype) if v is None else v for v, a in zip(values, node.args)]
    return _constant_or_none(node, values, sum(v.nbytes for v in values))


def _empty(node: Node) -> bool:
    return node.op != "constant" and node.type.is_static and 0 in node.shape


def fold_lazy_broadcasts(node: Node, ctx: Context) -> Node | None:
    if get_op(node.op).fusion != "elementwise" or position_dependent(node):
        return None
    if not any(a.op == "broadcast" for a in node.args):
        return None
    sources = [_broadcast_source(a) for a in node.args]
    if any(s is None for s in sources):
        return None
    rank = node.ndim
    padded = [s.reshape((1,) * (rank - s.ndim) + s.shape) for s in sources]
    small = tuple(max(p.shape[i] for p in padded) for i in range(rank))
    operands = [np.broadcast_to(p, small) for p in padded]
    folded = _constant_or_none(node, operands, sum(s.nbytes for s in sources))
    if folded is None or small == node.shape:
        return folded
    value = folded.attrs["value"]
    kept = value.shape[min(next((i for i, d in enumerate(value.shape) if d != 1), rank), rank - 1):]
    return make("broadcast", constant(value.reshape(kept), node.dtype), shape=list(node.shape))


def _broadcast_source(node: Node) -> np.ndarray | None:
    while node.op == "broadcast":
        node = node.args[0]
    return const_array(node)


def _constant_or_none(node: Node, operands: list[np.ndarray], input_bytes: int) -> Node | None:
    try:
        value = run_node(node, [np.asarray(v, order="C") for v in operands], {})
    except (ArithmeticError, ValueError, LookupError, TypeError):
        return None
    if value.nbytes > max(MAX_FOLD_BYTES, input_bytes):
        return None
    return constant(value, node.dtype)

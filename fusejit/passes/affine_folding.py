"""Affine folding (Grappler's ``fold_batch_norms``): per-column scales and shifts of a matmul with
constant weights fold into the weights and one bias.

    dot(x, W) * s                      -> dot(x, W')               W' = W * s
    dot(x, W) / s                      -> dot(x, W')               W' = W / s
    (dot(x, W) + b) * s, ... / s       -> dot(x, W') + b'          b' = b * s, b / s
    (dot(x, W) + b) ± c                -> dot(x, W) + b'           b' = b ± c
    dot(x, W) - c                      -> dot(x, W) + (-c)
So a batch norm after a dense layer, ``(dot(x, W) + c - mean) / sqrt(var + eps) * gamma + beta``
(with ``sqrt(var + eps)`` already constant-folded), becomes ``dot(x, W') + b'``.

``W`` is a constant (or a broadcast one: batched matmuls broadcast 2-D weights); ``s``, ``b``,
``c`` are constants (or broadcast constants) that vary only along the last (column) axis; each
folded dot and add has no other reader. The new constants are computed in float64 and rounded
once to the weights' dtype.

NOT exact: ``dot(x, W*s)`` rounds differently from ``dot(x, W)*s`` (typically within a few ulp
of the result's scale), and where ``W*s`` over- or underflows it differs outright. So it is not
in the default pipeline, which promises bit-identical results: ``optimize(..., fold_affine=True)``
turns it on (``fusejit.freeze`` does, as Grappler folds batch norms when freezing for
deployment), and so does ``fast_math=True``.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, constant, make
from .rewrite import Context, const_array, rewrite


def affine_folding(graph: Graph) -> tuple[Graph, int]:
    return rewrite(graph, [fold_affine])


def _column(node: Node, out: Node) -> np.ndarray | None:
    """``node``'s value as a float64 vector over ``out``'s last axis, if it only varies there."""
    while node.op == "broadcast":
        node = node.args[0]
    arr = const_array(node)
    if arr is None or out.ndim == 0 or arr.ndim > out.ndim or any(d != 1 for d in arr.shape[:-1]):
        return None
    n = out.shape[-1]
    if not isinstance(n, int) or arr.size not in (1, n):
        return None
    return np.broadcast_to(arr.reshape(-1).astype(np.float64), (n,))


def _affine(node: Node, ctx: Context) -> tuple[Node, Node, np.ndarray, np.ndarray | None] | None:
    """``node`` as ``dot(x, W) [+ b]`` with a constant (or broadcast constant) ``W``, each part read
    only here: (x, W, W's constant, b)."""
    bias = None
    if node.op == "add" and ctx.uses(node) <= 1:
        for d, other in (node.args, node.args[::-1]):
            b = _column(other, node) if d.op == "dot" else None
            if b is not None:
                node, bias = d, b
                break
    if node.op != "dot" or ctx.uses(node) > 1 or node.dtype.kind != "f":
        return None
    w = node.args[1]
    while w.op == "broadcast":  # a batched matmul broadcasts 2-D weights over the batch
        w = w.args[0]
    value = const_array(w)
    if value is None or value.shape[-1:] != node.shape[-1:]:
        return None
    return node.args[0], node.args[1], value.astype(np.float64), bias


def fold_affine(node: Node, ctx: Context) -> Node | None:
    if node.op not in ("mul", "div", "add", "sub") or node.dtype.kind != "f":
        return None
    orders = [node.args] if node.op in ("div", "sub") else [node.args, node.args[::-1]]
    for a, c_node in orders:
        form, c = _affine(a, ctx), _column(c_node, node)
        if form is None or c is None:
            continue
        x, w_node, w, b = form
        if node.op == "add" and b is None:
            return None  # already dot(x, W) + b
        zero = np.zeros_like(c)
        b = zero if b is None else b
        if node.op == "mul":
            w, b = w * c, b * c
        elif node.op == "div":
            w, b = w / c, b / c
        else:
            b = b + c if node.op == "add" else b - c
        weights = constant(w.astype(node.dtype), node.dtype)
        if weights.shape != w_node.shape:
            weights = make("broadcast", weights, shape=list(w_node.shape))
        out = make("dot", x, weights)
        if node.op in ("mul", "div") and not np.any(b):
            return out
        bias = make("broadcast", constant(b.astype(node.dtype), node.dtype), shape=list(node.shape))
        return make("add", out, bias)
    return None

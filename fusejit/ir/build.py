"""Small node builders for the gradient rules in ``primitives.py``: splats, arithmetic, axis moves.

Rules are written in terms of these so they read like the math (``mul(g, cos(x))``) and so every
implicit step (a broadcast constant, a keep-dims reshape) is an ordinary, visible IR node.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Node, constant, make
from .shapes import Shape


def splat(value: Any, like: Node) -> Node:
    """``value`` in ``like``'s dtype, broadcast to its shape."""
    c = constant(np.array(value).astype(like.dtype), like.dtype)
    return c if like.shape == () else make("broadcast", c, shape=list(like.shape))


def splat_value(node: Node) -> float | None:
    """The value of a constant (or a broadcast of one) whose elements are all equal, else None."""
    while node.op == "broadcast":
        node = node.args[0]
    if node.op != "constant":
        return None
    v = node.attrs["value"]
    if v.size == 0 or not (v == v.flat[0]).all():
        return None
    return float(v.flat[0])


def zeros(like: Node) -> Node:
    return splat(0, like)


def add(a: Node, b: Node) -> Node:
    return make("add", a, b)


def sub(a: Node, b: Node) -> Node:
    return make("sub", a, b)


def mul(a: Node, b: Node) -> Node:
    return make("mul", a, b)


def div(a: Node, b: Node) -> Node:
    return make("div", a, b)


def neg(a: Node) -> Node:
    return make("neg", a)


def where(c: Node, a: Node, b: Node) -> Node:
    return make("where", c, a, b)


def unary(op: str, a: Node) -> Node:
    return make(op, a)


def scaled(g: Node, d: Node) -> Node:
    """``g * d`` where a local derivative ``d`` that is exactly 0 stops the cotangent even when
    ``g`` is ±inf or NaN (0·∞ = 0 in the chain rule): ``sqrt(x*x)`` and ``norm`` at 0 get
    gradient 0, not NaN. A finite constant ``g`` (the 1 that seeds a gradient) needs no guard."""
    c = splat_value(g)
    if c is not None and np.isfinite(c):
        return mul(g, d)
    return where(make("eq", d, zeros(d)), zeros(d), mul(g, d))


def keep_dims(g: Node, shape: Shape, axes: list[int]) -> Node:
    """A reduction's cotangent (``axes`` removed) broadcast back over the operand's ``shape``."""
    kept = [1 if i in axes else d for i, d in enumerate(shape)]
    r = g if g.shape == tuple(kept) else make("reshape", g, shape=kept)
    return r if r.shape == tuple(shape) else make("broadcast", r, shape=list(shape))


def reduce_sum(x: Node, axes: list[int]) -> Node:
    return make("reduce_sum", x, axes=list(axes)) if axes else x


def flip(x: Node, axis: int) -> Node:
    """``x`` reversed along a static ``axis``."""
    n = x.shape[axis]
    starts = [n - 1 if i == axis else 0 for i in range(x.ndim)]
    stops = [-1 if i == axis else d for i, d in enumerate(x.shape)]
    steps = [-1 if i == axis else 1 for i in range(x.ndim)]
    return make("slice", x, starts=starts, stops=stops, steps=steps)


def swap_last(x: Node) -> Node:
    """``x`` with its last two axes exchanged (the matrix transpose of a batched matrix)."""
    perm = list(range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return make("transpose", x, perm=perm)

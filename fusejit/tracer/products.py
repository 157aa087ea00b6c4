"""Matrix products under trace: matmul, dot, inner, outer, tensordot, einsum, linalg.norm."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Node, constant, make
from ..ir.shapes import broadcast_shapes, format_shape, normalize_axis
from . import einsum as _einsum
from .array import TracedArray, broadcast, cast, reshape, wrap
from .errors import UnsupportedFunctionError
from .functions import _ravel, arr, handles
from .reductions import normalize_axes
from .ufuncs import write_out

# ---- products ----------------------------------------------------------------------------------

def _promote(a: TracedArray, b: TracedArray) -> tuple[Node, Node]:
    """Both operands in the product's dtype; a boolean product (NumPy: OR of ANDs) is computed
    as an int64 count of true pairs, compared with 0 by :func:`_logical` (exact for any size)."""
    dt = np.result_type(a.dtype, b.dtype)
    if dt == np.bool_:
        dt = np.dtype(np.int64)
    return cast(a.node, dt), cast(b.node, dt)


def _logical(node: Node, a: TracedArray, b: TracedArray) -> Node:
    if np.result_type(a.dtype, b.dtype) != np.bool_:
        return node
    return make("ne", node, broadcast(constant(np.array(0, node.dtype)), node.shape))


@handles(np.matmul)
def matmul(x1: Any, x2: Any, out: Any = None, **kwargs: Any) -> TracedArray:
    a, b = arr(x1), arr(x2)
    if a.node.ndim == 0 or b.node.ndim == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions")
    an, bn = _promote(a, b)
    squeeze_a, squeeze_b = an.ndim == 1, bn.ndim == 1
    if squeeze_a:
        an = reshape(an, (1,) + an.shape)
    if squeeze_b:
        bn = reshape(bn, bn.shape + (1,))
    if an.shape[-1] != bn.shape[-2]:
        raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0 (size {bn.shape[-2]} "
                         f"is different from {an.shape[-1]}): shapes {format_shape(a.node.shape)} and "
                         f"{format_shape(b.node.shape)}")
    batch = broadcast_shapes(an.shape[:-2], bn.shape[:-2])
    an = broadcast(an, batch + an.shape[-2:])
    bn = broadcast(bn, batch + bn.shape[-2:])
    node = _logical(make("dot", an, bn), a, b)
    if squeeze_a or squeeze_b:
        shape = node.shape[:-2] + (() if squeeze_a else node.shape[-2:-1]) + (() if squeeze_b else node.shape[-1:])
        node = reshape(node, shape)
    result = wrap(node)
    if out is not None:
        return write_out(out, result, True, "same_kind", "np.matmul")
    return result


@handles(np.dot)
def _dot(a: Any, b: Any, out: Any = None) -> TracedArray:
    x, y = arr(a), arr(b)
    if x.node.ndim == 0 or y.node.ndim == 0:
        return np.multiply(x, y)
    if y.node.ndim <= 2:
        return matmul(x, y)
    return _tensordot(x, y, axes=([x.node.ndim - 1], [y.node.ndim - 2]))


@handles(np.vdot)
def _vdot(a: Any, b: Any) -> TracedArray:
    return matmul(_ravel(a), _ravel(b))


@handles(np.inner)
def _inner(a: Any, b: Any) -> TracedArray:
    x, y = arr(a), arr(b)
    if x.node.ndim == 0 or y.node.ndim == 0:
        return np.multiply(x, y)
    return _tensordot(x, y, axes=([x.node.ndim - 1], [y.node.ndim - 1]))


@handles(np.outer)
def _outer(a: Any, b: Any, out: Any = None) -> TracedArray:
    x, y = _ravel(a), _ravel(b)
    return np.multiply(x[:, None], y[None, :])


@handles(np.tensordot)
def _tensordot(a: Any, b: Any, axes: Any = 2) -> TracedArray:
    x, y = arr(a), arr(b)
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        ax_a, ax_b = list(range(x.node.ndim - k, x.node.ndim)), list(range(k))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    ax_a = [normalize_axis(i, x.node.ndim) for i in ax_a]
    ax_b = [normalize_axis(i, y.node.ndim) for i in ax_b]
    an, bn = _promote(x, y)
    return wrap(_logical(_einsum.contract(an, bn, [], [], ax_a, ax_b), x, y))


@handles(np.einsum)
def _einsum_handler(subscripts: str, *operands: Any, out: Any = None, optimize: Any = False, **kw: Any) -> TracedArray:
    if out is not None or kw:
        raise UnsupportedFunctionError("np.einsum: out=, dtype= and casting= are not supported")
    xs = [arr(o) for o in operands]
    dt = np.result_type(*(x.dtype for x in xs))
    return wrap(_einsum.einsum(subscripts, [cast(x.node, dt) for x in xs]))


@handles(np.linalg.norm)
def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> TracedArray:
    a = arr(x)
    if a.dtype.kind != "f":
        a = TracedArray(cast(a.node, np.dtype(np.float64)))
    nd = a.node.ndim
    axes = normalize_axes(axis, nd)
    if axis is None and ord is None:  # the 2-norm of the flattened array, whatever its rank
        return np.sqrt(np.sum(a * a, keepdims=keepdims))
    if len(axes) == 2 and ord not in (None, "fro"):
        raise UnsupportedFunctionError(f"np.linalg.norm: matrix norm ord={ord!r} is not supported; only 'fro'")
    if len(axes) > 2:
        raise ValueError("Improper number of dimensions to norm.")
    ax = tuple(axes)
    if ord in (None, 2, "fro") and (ord != 2 or len(axes) == 1):
        return np.sqrt(np.sum(a * a, axis=ax, keepdims=keepdims))
    if len(axes) != 1:
        raise UnsupportedFunctionError(f"np.linalg.norm: ord={ord!r} over two axes is not supported")
    if ord == np.inf:
        return np.max(np.abs(a), axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(np.abs(a), axis=ax, keepdims=keepdims)
    if ord == 1:
        return np.sum(np.abs(a), axis=ax, keepdims=keepdims)
    if ord == 0:
        return np.sum((a != 0).astype(a.dtype), axis=ax, keepdims=keepdims)
    p = float(ord)
    return np.sum(np.abs(a) ** p, axis=ax, keepdims=keepdims) ** (1.0 / p)



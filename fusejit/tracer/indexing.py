"""Indexing: basic slicing as ``slice``/``reshape`` views, integer arrays as ``take`` (gather),
boolean masks as masked selections that may only feed an update through the same mask.

Writes (``x[idx] = v``, ``x[m] *= a``) become functional updates: ``update_slice`` for basic
indices, ``where`` for masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Node, constant, make
from ..ir.graph import same_value
from ..ir.shapes import broadcast_shapes, format_shape
from .array import TracedArray, Weak, broadcast, cast, lift, reshape, to_node, transpose, wrap
from .errors import DataDependentShapeError, UnsupportedFunctionError


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _expand_key(key: Any, ndim: int) -> list[Any]:
    key = list(key) if isinstance(key, tuple) else [key]
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed")
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if ellipses:
        i = ellipses[0]
        key[i:i + 1] = [slice(None)] * (ndim - consumed)
    else:
        key += [slice(None)] * (ndim - consumed)
    return key


def _basic(node: Node, key: list[Any]) -> tuple[dict[str, list], tuple, tuple]:
    """Slice attrs over the source dims, the sliced shape, and the result shape (ints dropped,
    None inserted)."""
    starts, stops, steps, sliced, result = [], [], [], [], []
    dim = 0
    for k in key:
        if k is None:
            result.append(1)
            continue
        size = node.shape[dim]
        if isinstance(k, slice):
            if isinstance(size, str):
                if k != slice(None):
                    raise UnsupportedFunctionError(
                        f"slicing the dynamic dimension {size} with {k} is not supported; only `:` is")
                a, b, c = 0, size, 1
                n: Any = size
            else:
                a, b, c = k.indices(size)
                n = len(range(a, b, c))
            result.append(n)
        elif _is_int(k):
            if isinstance(size, str):
                raise UnsupportedFunctionError(f"integer index into the dynamic dimension {size} is not supported")
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for axis {dim} with size {size}")
            a, b, c, n = i % size, i % size + 1, 1, 1
        else:
            raise IndexError(f"unsupported index {k!r} of type {type(k).__name__}")
        starts.append(a)
        stops.append(b)
        steps.append(c)
        sliced.append(n)
        dim += 1
    return {"starts": starts, "stops": stops, "steps": steps}, tuple(sliced), tuple(result)


def _is_whole(attrs: dict[str, list], shape: tuple) -> bool:
    return all((a, b, c) == (0, d, 1) for a, b, c, d in zip(attrs["starts"], attrs["stops"], attrs["steps"], shape))


def _advanced_index(k: Any) -> TracedArray | None:
    """An integer-array index as a traced operand (None if ``k`` is a basic index)."""
    if isinstance(k, TracedArray) or (isinstance(k, (list, np.ndarray)) and not isinstance(k, str)):
        return lift(k) if not isinstance(k, TracedArray) else k
    return None


def getitem(x: TracedArray, key: Any) -> TracedArray:
    x._require_unmasked("indexing")
    node = x.node
    mask = _as_mask(key, node)
    if mask is not None:
        return TracedArray(node, mask=mask)
    keys = _expand_key(key, node.ndim)
    adv = [(i, _advanced_index(k)) for i, k in enumerate(keys)]
    adv = [(i, a) for i, a in adv if a is not None]
    if adv:  # integers among integer arrays are advanced indices too (they broadcast as 0-d arrays)
        keys = [np.array(k) if _is_int(k) else k for k in keys]
        adv = [(i, _advanced_index(k)) for i, k in enumerate(keys) if _advanced_index(k) is not None]
        return _gather(x, keys, adv)
    attrs, sliced, result = _basic(node, keys)
    out = node if _is_whole(attrs, node.shape) else make("slice", node, **attrs)
    return wrap(reshape(out, result), view_of=x)


def _gather(x: TracedArray, keys: list[Any], adv: list[tuple[int, TracedArray]]) -> TracedArray:
    """Integer-array indexing. Several index arrays broadcast together and address the element
    at their combined position; NumPy puts the broadcast dims where the indexed axes were if
    those are adjacent, else in front."""
    if any(k is None for k in keys):
        raise UnsupportedFunctionError("mixing None with integer-array indexing is not supported")
    for _, idx in adv:
        if idx.dtype.kind not in "iu":
            raise IndexError(f"arrays used as indices must be of integer (or boolean) type, not {idx.dtype}")
    positions = [p for p, _ in adv]
    sizes = [x.node.shape[p] for p in positions]
    if any(isinstance(n, str) for n in sizes):
        raise UnsupportedFunctionError("integer-array indexing into a dynamic dimension is not supported")
    for (pos, idx), size in zip(adv, sizes):
        _check_constant_bounds(idx, pos, size)
    # the basic part first (slices on the other axes), keeping the indexed axes whole
    rest = getitem(x, tuple(slice(None) if i in positions else k for i, k in enumerate(keys)))
    node = rest.node
    kept = [i for i, k in enumerate(keys) if i in positions or isinstance(k, slice)]  # axes left in `node`
    axes = [kept.index(p) for p in positions]
    adjacent = axes == list(range(axes[0], axes[0] + len(axes)))
    if not adjacent:
        others = [i for i in range(node.ndim) if i not in axes]
        node = transpose(node, axes + others)
        axes = list(range(len(axes)))
    first = axes[0]
    merged = reshape(node, node.shape[:first] + (int(np.prod(sizes)),) + node.shape[first + len(axes):])
    if len(adv) == 1:
        flat = adv[0][1].node
    else:
        flat = _flat_index([idx for _, idx in adv], sizes)
    return wrap(make("take", merged, flat, axis=first))


def _check_constant_bounds(idx: TracedArray, axis: int, size: int) -> None:
    if idx.node.op == "constant":
        vals = idx.node.attrs["value"]
        if vals.size and (vals.min() < -size or vals.max() >= size):
            bad = vals[(vals < -size) | (vals >= size)].flat[0]
            raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {size}")


def _flat_index(indices: list[TracedArray], sizes: list[int]) -> Node:
    """Row-major position of each broadcast index tuple; an out-of-range component maps to an
    out-of-range position, so the gather still raises IndexError at run time."""
    i64 = np.dtype(np.int64)
    shape = broadcast_shapes(*(i.node.shape for i in indices))
    total = int(np.prod(sizes))
    flat: Node | None = None
    valid: Node | None = None
    for idx, size in zip(indices, sizes):
        i = broadcast(cast(idx.node, i64), shape)
        n = broadcast(constant(np.array(size, i64)), shape)
        zero = broadcast(constant(np.array(0, i64)), shape)
        i = make("where", make("lt", i, zero), make("add", i, n), i)  # negative indices wrap once
        ok = make("and", make("ge", i, zero), make("lt", i, n))
        valid = ok if valid is None else make("and", valid, ok)
        flat = i if flat is None else make("add", make("mul", flat, n), i)
    assert flat is not None and valid is not None
    return make("where", valid, flat, broadcast(constant(np.array(total, i64)), shape))


def _as_mask(key: Any, node: Node) -> Node | None:
    """A boolean index covering all dims, as a bool node of ``node``'s shape."""
    if isinstance(key, TracedArray) and key.dtype == np.bool_:
        if key.node.shape != node.shape:
            raise IndexError(f"boolean index of shape {format_shape(key.node.shape)} does not match the "
                             f"indexed array of shape {format_shape(node.shape)}")
        return key.node
    if isinstance(key, np.ndarray) and key.dtype == np.bool_:
        if key.shape != node.shape:
            raise IndexError(f"boolean index of shape {format_shape(key.shape)} does not match the "
                             f"indexed array of shape {format_shape(node.shape)}")
        return constant(key, np.dtype(bool))
    return None


def setitem(x: TracedArray, key: Any, value: Any) -> None:
    x.dirty_views[:] = [v for v in x.dirty_views if v is not value]  # `x[k] += v` writes its view back
    x._require_unmasked("assignment into")
    base = x.node
    mask = _as_mask(key, base)
    val = lift(value)
    if mask is not None:
        if isinstance(val, TracedArray) and val.mask is not None:
            if not same_value(val.mask, mask):
                raise DataDependentShapeError("assigning a selection made through one boolean mask into another")
            new = cast(val.node, base.dtype)
        elif isinstance(val, Weak) or val.node.ndim == 0:
            new = broadcast(_cast_value(val, base.dtype), base.shape)
        else:
            raise DataDependentShapeError(
                f"`x[mask] = v` with v of shape {format_shape(val.node.shape)}: the number of selected elements "
                "depends on the data; assign a scalar, or an expression of `x[mask]` itself, or use np.where")
        x._assign(make("where", mask, new, base), "x[mask] = ...")
        return
    if isinstance(val, TracedArray) and val.mask is not None:
        raise DataDependentShapeError("a boolean-mask selection can only be assigned back through the same mask")
    keys = _expand_key(key, base.ndim)
    if any(_advanced_index(k) is not None for k in keys):
        raise UnsupportedFunctionError("assignment through integer-array indices (scatter) is not supported; "
                                       "use a boolean mask or np.where")
    attrs, sliced, result = _basic(base, keys)
    v = _cast_value(val, base.dtype)
    extra = 0  # NumPy's setitem drops leading size-1 dims of a value with more dims than the target
    while v.ndim - extra > len(result) and v.shape[extra] == 1:
        extra += 1
    if extra:
        v = reshape(v, v.shape[extra:])
    try:
        v = broadcast(v, result)
    except TypeError as exc:
        raise ValueError(f"could not broadcast input array from shape {format_shape(v.shape)} into shape "
                         f"{format_shape(result)}") from exc
    v = reshape(v, sliced)
    if _is_whole(attrs, base.shape):
        x._assign(v, "x[...] = ...")
    else:
        x._assign(make("update_slice", base, v, **attrs), "x[idx] = ...")


def _cast_value(val: Any, dtype: np.dtype) -> Node:
    """NumPy's setitem casts unsafely (``a[0] = 1.7`` stores 1 in an int array)."""
    if isinstance(val, Weak) and not (isinstance(val.value, int) and dtype.kind in "iu"):
        with np.errstate(all="ignore"):
            return constant(np.array(val.value).astype(dtype), dtype)
    return to_node(val, dtype)


def _install() -> None:
    TracedArray.__getitem__ = getitem  # type: ignore[method-assign]
    TracedArray.__setitem__ = setitem  # type: ignore[method-assign]


_install()

"""NumPy functions that move elements to new places, built from slices, concatenation and
gathers: roll, take_along_axis, diagonal, diag, trace.

All of them need the static length of the axes they rearrange (the slice bounds and gather
offsets are compile-time numbers); a dynamic (symbolic) one is refused with a clear error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.shapes import normalize_axis
from .array import TracedArray
from .errors import UnsupportedFunctionError
from .functions import _concatenate, _ravel, arr, handles


def _static(x: TracedArray, axes: list[int], fn: str) -> list[int]:
    dims = [x.node.shape[a] for a in axes]
    dynamic = [d for d in dims if isinstance(d, str)]
    if dynamic:
        raise UnsupportedFunctionError(f"{fn} along the dynamic dimension {dynamic[0]} is not supported; "
                                       "declare that dimension with a fixed size")
    return dims


def _int(value: Any, what: str) -> int:
    if isinstance(value, TracedArray):
        raise UnsupportedFunctionError(f"{what} must be a Python int, not a traced array (it fixes the "
                                       "shape of the program)")
    return int(value)


@handles(np.roll)
def _roll(a: Any, shift: Any, axis: Any = None) -> TracedArray:
    x = arr(a)
    if axis is None:
        return _roll(_ravel(x), shift, 0).reshape(x.node.shape)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    shifts = (shift,) * len(axes) if isinstance(shift, TracedArray) or np.ndim(shift) == 0 else tuple(shift)
    if len(shifts) != len(axes):
        raise ValueError(f"np.roll: 'shift' and 'axis' should be scalars or 1D sequences of the same length "
                         f"(got {len(shifts)} shifts for {len(axes)} axes)")
    total: dict[int, int] = {}
    for s, ax in zip(shifts, axes):
        ax = normalize_axis(int(ax), x.ndim)
        total[ax] = total.get(ax, 0) + _int(s, "np.roll's shift")
    for ax, s in total.items():
        (n,) = _static(x, [ax], "np.roll")
        s = s % n if n else 0
        if s:
            head = tuple(slice(n - s, None) if i == ax else slice(None) for i in range(x.ndim))
            tail = tuple(slice(None, n - s) if i == ax else slice(None) for i in range(x.ndim))
            x = _concatenate([x[head], x[tail]], axis=ax)
    return x


@handles(np.take_along_axis)
def _take_along_axis(a: Any, indices: Any, axis: Any = -1) -> TracedArray:
    """A gather from the flattened array at offsets computed from ``indices`` and each other
    axis's position; an out-of-range index is mapped past the end so the gather raises."""
    x, idx = arr(a), arr(indices)
    if idx.dtype.kind not in "iu":
        raise IndexError("np.take_along_axis: `indices` must be an integer array")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError("np.take_along_axis: when axis=None, `indices` must have a single dimension")
        x, axis = _ravel(x), 0
    if idx.ndim != x.ndim:
        raise ValueError("np.take_along_axis: `indices` and `arr` must have the same number of dimensions")
    ax = normalize_axis(int(axis), x.ndim)
    shape = _static(x, list(range(x.ndim)), "np.take_along_axis")
    size = int(np.prod(shape))
    strides = [int(np.prod(shape[d + 1:])) for d in range(x.ndim)]
    n = shape[ax]
    pos = idx.astype(np.int64)
    pos = np.where(pos < 0, pos + n, pos)
    offset = pos * strides[ax]
    for d in range(x.ndim):
        if d != ax:
            offset = offset + (np.arange(shape[d], dtype=np.int64) * strides[d]).reshape(
                [shape[d] if i == d else 1 for i in range(x.ndim)])
    offset = np.where((pos >= 0) & (pos < n), offset, size)
    return np.take(_ravel(x), offset)


@handles(np.diagonal)
def _diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> TracedArray:
    x = arr(a)
    if x.ndim < 2:
        raise ValueError("np.diagonal: the array must have at least two dimensions")
    a1, a2 = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    if a1 == a2:
        raise ValueError("np.diagonal: axis1 and axis2 cannot be the same")
    rows, cols = _static(x, [a1, a2], "np.diagonal")
    k = _int(offset, "np.diagonal's offset")
    x = np.moveaxis(x, (a1, a2), (-2, -1))
    lead = x.node.shape[:-2]
    length = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    start = k if k >= 0 else -k * cols
    flat = x.reshape(lead + (rows * cols,))
    return flat[..., start:start + max(0, (length - 1) * (cols + 1) + 1):cols + 1] if length else flat[..., :0]


@handles(np.diag)
def _diag(v: Any, k: int = 0) -> TracedArray:
    x = arr(v)
    k = _int(k, "np.diag's k")
    if x.ndim == 2:
        return _diagonal(x, k)
    if x.ndim != 1:
        raise ValueError("np.diag: input must be 1- or 2-d")
    (n,) = _static(x, [0], "np.diag")
    size = n + abs(k)
    pad = np.zeros(abs(k), x.dtype)
    per_row = _concatenate([x, pad] if k >= 0 else [pad, x]) if k else x
    return np.where(np.eye(size, k=k, dtype=bool), per_row[:, None], np.zeros((), x.dtype))


@handles(np.trace)
def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    if out is not None:
        raise UnsupportedFunctionError("np.trace: out= is not supported (return the result instead)")
    return np.sum(_diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)

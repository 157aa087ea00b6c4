"""NumPy functions that assemble arrays from pieces, written with the calls the tracer translates:
delete, insert, ediff1d, vander, cross, kron, meshgrid.

NumPy's own implementations of these fill an ``empty`` array in place (which holds no traced
values), so they get translations of their own. Positions (``obj`` of delete/insert) must be
static: they decide the result's shape.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..ir.shapes import normalize_axis
from .array import TracedArray
from .errors import UnsupportedFunctionError
from .functions import arr, handles


def _positions(obj: Any, n: int, fn: str) -> np.ndarray:
    if isinstance(obj, TracedArray):
        raise UnsupportedFunctionError(f"{fn}: the positions must be static (they decide the result's shape); "
                                       "pass them as Python ints, a slice or a NumPy array")
    if isinstance(obj, slice):
        return np.arange(n)[obj]
    return np.asarray(obj)


def _axis_of(x: TracedArray, axis: Any) -> tuple[TracedArray, int]:
    if axis is None:
        return np.ravel(x), 0
    return x, normalize_axis(operator.index(axis), x.ndim)


@handles(np.delete)
def _delete(arr_: Any, obj: Any, axis: Any = None) -> TracedArray:
    x, ax = _axis_of(arr(arr_), axis)
    n = x.shape[ax]
    drop = _positions(obj, n, "np.delete")
    if drop.dtype == bool:
        if drop.shape != (n,):
            raise ValueError(f"boolean array argument obj to delete must be one dimensional and match the axis "
                             f"length of {n}")
        keep = np.flatnonzero(~drop)
    else:
        drop = drop.astype(np.intp).ravel()
        if drop.size and (drop.min() < -n or drop.max() >= n):
            raise IndexError(f"index {drop[(drop < -n) | (drop >= n)][0]} is out of bounds for axis {ax} with size {n}")
        keep = np.setdiff1d(np.arange(n), drop % n if n else drop)
    return np.take(x, keep, axis=ax)


@handles(np.insert)
def _insert(arr_: Any, obj: Any, values: Any, axis: Any = None) -> TracedArray:
    x, ax = _axis_of(arr(arr_), axis)
    n = x.shape[ax]
    where = _positions(obj, n, "np.insert")
    if where.ndim > 0 or where.dtype == bool:
        raise UnsupportedFunctionError("np.insert: only a single position (an int) is supported inside a traced "
                                       "function; insert several with np.concatenate of slices")
    k = int(where)
    if not -n <= k <= n:
        raise IndexError(f"index {k} is out of bounds for axis {ax} with size {n}")
    k = k + n if k < 0 else k
    v = np.asarray(values, dtype=x.dtype)
    v = np.moveaxis(v, 0, ax) if v.ndim == x.ndim else np.expand_dims(v, ax) if v.ndim == x.ndim - 1 else v
    shape = list(x.shape)
    shape[ax] = v.shape[ax] if v.ndim == x.ndim else 1
    v = np.broadcast_to(v, tuple(shape))
    before = np.take(x, np.arange(k), axis=ax)
    after = np.take(x, np.arange(k, n), axis=ax)
    return np.concatenate([before, v, after], axis=ax)


@handles(np.ediff1d)
def _ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> TracedArray:
    x = np.ravel(arr(ary))
    parts = [np.ravel(np.asarray(to_begin, dtype=x.dtype))] if to_begin is not None else []
    parts.append(x[1:] - x[:-1])
    if to_end is not None:
        parts.append(np.ravel(np.asarray(to_end, dtype=x.dtype)))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


@handles(np.vander)
def _vander(x: Any, N: Any = None, increasing: bool = False) -> TracedArray:
    v = arr(x)
    if v.ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = v.shape[0] if N is None else operator.index(N)
    cols = [np.ones_like(v)] if n else []
    for _ in range(n - 1):  # x*x*...*x in order, as NumPy's multiply.accumulate
        cols.append(cols[-1] * v if len(cols) > 1 else v)
    if not increasing:
        cols.reverse()
    return np.stack(cols, axis=1) if cols else np.zeros_like(v, shape=(v.shape[0], 0))


@handles(np.cross)
def _cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None) -> TracedArray:
    if axis is not None:
        axisa = axisb = axisc = axis
    u, v = np.moveaxis(arr(a), axisa, -1), np.moveaxis(arr(b), axisb, -1)
    if u.shape[-1] not in (2, 3) or v.shape[-1] not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    if u.shape[-1] == 2 and v.shape[-1] == 2:
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    u0, u1 = u[..., 0], u[..., 1]
    v0, v1 = v[..., 0], v[..., 1]
    u2 = u[..., 2] if u.shape[-1] == 3 else None
    v2 = v[..., 2] if v.shape[-1] == 3 else None
    c0 = (u1 * v2 if v2 is not None else 0 * u1) - (u2 * v1 if u2 is not None else 0 * v1)
    c1 = (u2 * v0 if u2 is not None else 0 * v0) - (u0 * v2 if v2 is not None else 0 * u0)
    c2 = u0 * v1 - u1 * v0
    c0, c1, c2 = np.broadcast_arrays(c0, c1, c2)
    return np.moveaxis(np.stack([c0, c1, c2], axis=-1), -1, axisc)


@handles(np.kron)
def _kron(a: Any, b: Any) -> TracedArray:
    x, y = arr(a), arr(b)
    nd = max(x.ndim, y.ndim)
    x = x.reshape((1,) * (nd - x.ndim) + tuple(x.shape))
    y = y.reshape((1,) * (nd - y.ndim) + tuple(y.shape))
    # out[i0*m0 + j0, ...] = x[i0, ...] * y[j0, ...]: interleave the axes, multiply, merge pairs
    xi = x.reshape(tuple(d for s in x.shape for d in (s, 1)))
    yi = y.reshape(tuple(d for s in y.shape for d in (1, s)))
    return (xi * yi).reshape(tuple(p * q for p, q in zip(x.shape, y.shape)))


@handles(np.meshgrid)
def _meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    vs = [np.ravel(arr(v)) for v in xi]
    nd = len(vs)
    shapes = [[1] * nd for _ in vs]
    for i, v in enumerate(vs):
        shapes[i][i] = v.shape[0]
    if indexing == "xy" and nd > 1:
        for s in shapes:
            s[0], s[1] = s[1], s[0]
    out = [v.reshape(tuple(s)) for v, s in zip(vs, shapes)]
    if not sparse:
        out = [np.copy(o) for o in np.broadcast_arrays(*out)]
    return tuple(out)

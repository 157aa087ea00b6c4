"""NumPy functions built from primitives: NaN-aware reductions, isclose, nan_to_num, diff,
repeat, pad, triu/tril."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.shapes import normalize_axis
from .array import TracedArray, broadcast, reshape, wrap
from .errors import UnsupportedFunctionError
from .functions import _concatenate, _expand_dims, _like, _ravel, arr, handles
from .reductions import REDUCERS

# ---- NaN-aware reductions and other compositions ---------------------------------------------

def replace_nan(x: TracedArray, fill: float) -> TracedArray:
    """``x`` with NaNs replaced by ``fill`` (NumPy's ``_replace_nan``): only float dtypes have NaN."""
    return np.where(np.isnan(x), x.dtype.type(fill), x) if x.dtype.kind == "f" else x


def _nan_reduction(reducer: str, fill: Any) -> Callable[..., Any]:
    def impl(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
             **kwargs: Any) -> Any:
        x = replace_nan(arr(a), fill)
        fn = REDUCERS[reducer]
        return fn(x, axis=axis, keepdims=keepdims, **({"dtype": dtype} if dtype is not None else {}))
    return impl


handles(np.nansum)(_nan_reduction("sum", 0))
handles(np.nanprod)(_nan_reduction("prod", 1))


@handles(np.nanmax, np.nanmin)
def _nanextreme(*args: Any, **kwargs: Any) -> Any:
    raise UnsupportedFunctionError("np.nanmax/np.nanmin are not supported (all-NaN slices warn and give NaN); "
                                   "use np.fmax.reduce or np.where(np.isnan(x), -np.inf, x).max()")


@handles(np.nanmean)
def _nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    x = arr(a)
    if x.dtype.kind != "f":
        return REDUCERS["mean"](x, axis=axis, dtype=dtype, keepdims=keepdims)
    valid = ~np.isnan(x)
    total = np.sum(np.where(valid, x, 0), axis=axis, dtype=dtype, keepdims=keepdims)
    count = np.sum(valid, axis=axis, keepdims=keepdims)
    return (total / count).astype(total.dtype)


@handles(np.isclose)
def _isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:
    x, y = arr(a), arr(b)
    dt = np.result_type(x.dtype, y.dtype, 1.0)
    x, y = x.astype(dt), y.astype(dt)
    with np.errstate(all="ignore"):
        close = (np.abs(x - y) <= atol + rtol * np.abs(y)) & np.isfinite(y) | (x == y)
    if equal_nan:
        close = close | (np.isnan(x) & np.isnan(y))
    return close


@handles(np.nan_to_num)
def _nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    a = arr(x)
    if a.dtype.kind != "f":
        return TracedArray(a.node)
    info = np.finfo(a.dtype)
    out = np.where(np.isnan(a), a.dtype.type(nan), a)
    out = np.where(out == np.inf, a.dtype.type(info.max if posinf is None else posinf), out)
    return np.where(out == -np.inf, a.dtype.type(info.min if neginf is None else neginf), out)


@handles(np.diff)
def _diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = np._NoValue, append: Any = np._NoValue) -> Any:
    if prepend is not np._NoValue or append is not np._NoValue:
        raise UnsupportedFunctionError("np.diff: prepend= and append= are not supported")
    x = arr(a)
    ax = normalize_axis(axis, x.ndim)
    for _ in range(n):
        hi = tuple(slice(1, None) if i == ax else slice(None) for i in range(x.ndim))
        lo = tuple(slice(None, -1) if i == ax else slice(None) for i in range(x.ndim))
        x = np.not_equal(x[hi], x[lo]) if x.dtype == np.bool_ else x[hi] - x[lo]
    return x


@handles(np.repeat)
def _repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    if not isinstance(repeats, (int, np.integer)):
        raise UnsupportedFunctionError("np.repeat with per-element repeat counts is not supported")
    x = arr(a) if axis is not None else _ravel(a)
    ax = 0 if axis is None else normalize_axis(axis, x.ndim)
    expanded = _expand_dims(x, ax + 1)
    shape = list(expanded.node.shape)
    shape[ax + 1] = int(repeats)
    size = x.node.shape[ax]
    if isinstance(size, str):
        raise UnsupportedFunctionError(f"np.repeat along the dynamic dimension {size} is not supported")
    out = list(x.node.shape)
    out[ax] = size * int(repeats)
    return wrap(reshape(broadcast(expanded.node, tuple(shape)), tuple(out)))


@handles(np.pad)
def _pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    if mode != "constant":
        raise UnsupportedFunctionError(f"np.pad: mode={mode!r} is not supported; only 'constant'")
    x = arr(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    value = kwargs.get("constant_values", 0)
    if np.ndim(value) != 0:
        raise UnsupportedFunctionError("np.pad: per-axis constant_values are not supported")
    for ax, (before, after) in enumerate(widths.tolist()):
        parts = []
        for w in (before, after):
            shape = list(x.node.shape)
            shape[ax] = w
            parts.append(_like(x, value, None, tuple(shape)) if w else None)
        pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
        x = _concatenate(pieces, axis=ax) if len(pieces) > 1 else x
    return x


def _triangle(m: Any, k: int, upper: bool) -> Any:
    x = arr(m)
    rows, cols = x.node.shape[-2:]
    if isinstance(rows, str) or isinstance(cols, str):
        raise UnsupportedFunctionError("np.triu/np.tril on dynamic dimensions are not supported")
    keep = np.triu(np.ones((rows, cols), bool), k) if upper else np.tril(np.ones((rows, cols), bool), k)
    return np.where(keep, x, np.zeros((), x.dtype))


handles(np.triu)(lambda m, k=0: _triangle(m, k, True))
handles(np.tril)(lambda m, k=0: _triangle(m, k, False))



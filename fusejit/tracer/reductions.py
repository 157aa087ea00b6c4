"""Reductions (sum, mean, var, argmax, ...) as NumPy computes them, in primitives.

Result dtypes are NumPy's own: we ask NumPy what the reduction of a one-element array of the
operand's dtype gives. ``mean`` divides in float64 and rounds once, exactly like NumPy's
``true_divide(sum, intp_count)``; float16 means accumulate in float32 as NumPy does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Node, make
from ..ir.shapes import normalize_axis
from .array import TracedArray, broadcast, cast, lift, reshape, wrap
from .errors import DataDependentShapeError, UnsupportedFunctionError

F64 = np.dtype(np.float64)


def normalize_axes(axis: Any, ndim: int, ufunc_reduce: bool = False) -> list[int]:
    """The axes ``axis`` names. ``ufunc_reduce``: on a 0-d array an integer axis 0 or -1 names no
    axis (``np.sum(x, axis=0)`` is NumPy's ``add.reduce``, which allows it); a tuple never does."""
    if axis is None:
        return list(range(ndim))
    if ufunc_reduce and ndim == 0 and isinstance(axis, (int, np.integer)) and int(axis) in (0, -1):
        return []
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out = [normalize_axis(int(a), ndim) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError("duplicate value in 'axis'")
    return out


def keep(node: Node, src_shape: tuple, axes: list[int], keepdims: bool) -> Node:
    if not keepdims:
        return node
    return reshape(node, tuple(1 if i in axes else d for i, d in enumerate(src_shape)))


def numpy_result_dtype(fn: Any, operand_dtype: np.dtype, **kwargs: Any) -> np.dtype:
    """The dtype NumPy's reduction gives for this operand dtype (asked of NumPy itself)."""
    with np.errstate(all="ignore"):
        return np.asarray(fn(np.ones(2, operand_dtype), **kwargs)).dtype


def _operand(a: Any, what: str) -> TracedArray:
    x = lift(a)
    if not isinstance(x, TracedArray):
        from ..ir import constant

        x = TracedArray(constant(np.asarray(x.value)))
    if x.mask is not None:
        if what != "sum":
            raise DataDependentShapeError(
                f"np.{what} of a boolean-mask selection `x[mask]` (its shape depends on the data); "
                "use np.where(mask, x, identity) and reduce the full array")
    return x


def _check_kwargs(what: str, out: Any, where: Any, initial: Any = None) -> None:
    if out is not None:
        raise UnsupportedFunctionError(f"np.{what}: out= is not supported in a traced function")
    if where is not True:
        raise UnsupportedFunctionError(f"np.{what}: where= is not supported in a traced function")
    if initial is not None:
        raise UnsupportedFunctionError(f"np.{what}: initial= is not supported in a traced function")


def _masked_full(x: TracedArray, identity: Any) -> Node:
    from ..ir import constant

    fill = broadcast(constant(np.array(identity, x.dtype)), x.node.shape)
    return make("where", x.mask, x.node, fill)


def reduce_with(kind: str, a: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
                keepdims: bool = False, initial: Any = None, where: Any = True) -> TracedArray:
    """``np.<ufunc>.reduce`` (default axis 0, unlike the functions)."""
    return REDUCERS[kind](a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial, where=where)


def _sum_like(kind: str, prim: str, npfn: Any) -> Any:
    def reducer(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
                initial: Any = None, where: Any = True) -> TracedArray:
        _check_kwargs(kind, out, where, initial)
        x = _operand(a, kind)
        if x.mask is not None:  # sum over a masked selection: zeros elsewhere, over everything
            node, axes = _masked_full(x, 0), list(range(x.node.ndim))
            if axis not in (None, 0, -1, (0,)) or keepdims:
                raise DataDependentShapeError(f"np.{kind} of `x[mask]` supports only the whole selection")
        else:
            node, axes = x.node, normalize_axes(axis, x.node.ndim, ufunc_reduce=True)
        acc = numpy_result_dtype(npfn, x.dtype, dtype=dtype)
        red = make(prim, cast(node, acc), axes=axes)
        return wrap(keep(red, node.shape, axes, keepdims))
    return reducer


def _order_reduction(kind: str, prim: str, logical: bool) -> Any:
    """max/min (no identity: empty axes are an error) and any/all (on the operand's truth values)."""
    def reducer(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
                where: Any = True, dtype: Any = None) -> TracedArray:
        _check_kwargs(kind, out, where, initial)
        x = _operand(a, kind)
        axes = normalize_axes(axis, x.ndim, ufunc_reduce=True)
        if logical:
            node = cast(x.node, np.dtype(bool))
        else:
            if any(x.node.shape[i] == 0 for i in axes):
                op = "maximum" if prim == "reduce_max" else "minimum"
                raise ValueError(f"zero-size array to reduction operation {op} which has no identity")
            node = x.node if dtype is None else cast(x.node, np.dtype(dtype))
        return wrap(keep(make(prim, node, axes=axes), x.node.shape, axes, keepdims))
    return reducer


def count(node: Node, axes: list[int]) -> Node:
    return make("numel", node, axes=axes, dtype=F64)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, *,
         where: Any = True) -> TracedArray:
    _check_kwargs("mean", out, where)
    x = _operand(a, "mean")
    axes = normalize_axes(axis, x.ndim)
    result_dtype = numpy_result_dtype(np.mean, x.dtype, dtype=dtype)
    acc = np.dtype(dtype) if dtype is not None else (
        F64 if x.dtype.kind in "biu" else np.dtype(np.float32) if x.dtype == np.float16 else x.dtype)
    total = make("reduce_sum", cast(x.node, acc), axes=axes)
    m = _divide_by_count(total, count(x.node, axes))
    return wrap(keep(cast(m, result_dtype), x.node.shape, axes, keepdims))


def _divide_by_count(total: Node, n: Node) -> Node:
    """``true_divide(total, intp count)`` as NumPy does it: in float64, rounded once."""
    q = make("div", cast(total, F64), broadcast(n, total.shape))
    return cast(q, total.dtype)


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False,
        *, where: Any = True, mean: Any = None, correction: Any = None) -> TracedArray:
    _check_kwargs("var", out, where)
    if mean is not None:
        raise UnsupportedFunctionError("np.var: mean= is not supported in a traced function")
    if correction is not None:
        ddof = correction
    x = _operand(a, "var")
    axes = normalize_axes(axis, x.ndim)
    result_dtype = numpy_result_dtype(np.var, x.dtype, dtype=dtype)
    acc = np.dtype(dtype) if dtype is not None else (F64 if x.dtype.kind in "biu" else x.dtype)
    n = count(x.node, axes)
    total = make("reduce_sum", cast(x.node, acc), axes=axes)
    mu = keep(_divide_by_count(total, n), x.node.shape, axes, True)
    diff_dtype = np.result_type(x.dtype, mu.dtype)
    d = make("sub", cast(x.node, diff_dtype), broadcast(cast(mu, diff_dtype), x.node.shape))
    ss = make("reduce_sum", cast(make("mul", d, d), acc), axes=axes)
    from ..ir import constant

    dof = make("max", make("sub", n, constant(np.array(ddof, F64))), constant(np.array(0.0)))
    v = _divide_by_count(ss, dof)
    return wrap(keep(cast(v, result_dtype), x.node.shape, axes, keepdims))


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0, keepdims: bool = False,
        *, where: Any = True, mean: Any = None, correction: Any = None) -> TracedArray:
    v = var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, where=where, mean=mean,
            correction=correction)
    return wrap(make("sqrt", v.node)) if v.dtype.kind == "f" else v


def _arg(kind: str, prim: str) -> Any:
    def reducer(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> TracedArray:
        _check_kwargs(kind, out, True)
        x = _operand(a, kind)
        node = x.node
        if axis is None or node.ndim == 0:  # NumPy ravels a 0-d operand whatever the axis
            node = reshape(node, (_flat_len(node),))
            ax = normalize_axis(int(axis or 0), 1)
        else:
            ax = normalize_axis(int(axis), node.ndim)
        if node.shape[ax] == 0:
            raise ValueError(f"attempt to get {kind} of an empty sequence")
        red = make(prim, node, axis=ax)
        if keepdims:
            red = reshape(red, tuple(1 for _ in x.node.shape) if axis is None or not x.node.ndim else
                          tuple(1 if i == ax else d for i, d in enumerate(node.shape)))
        return wrap(red)
    return reducer


def _flat_len(node: Node) -> Any:
    from ..ir.shapes import Size

    dim = Size.of(node.shape).as_dim()
    if dim is None:
        raise UnsupportedFunctionError("flattening an array with several symbolic dims is not supported")
    return dim


REDUCERS: dict[str, Any] = {
    "sum": _sum_like("sum", "reduce_sum", np.sum),
    "prod": _sum_like("prod", "reduce_prod", np.prod),
    "max": _order_reduction("max", "reduce_max", logical=False),
    "min": _order_reduction("min", "reduce_min", logical=False),
    "any": _order_reduction("any", "reduce_max", logical=True),
    "all": _order_reduction("all", "reduce_min", logical=True),
    "mean": mean, "var": var, "std": std,
    "argmax": _arg("argmax", "argmax"), "argmin": _arg("argmin", "argmin"),
}

"""NumPy functions (``__array_function__``) on traced arrays: layout, creation, joins, products.

Each entry translates one NumPy function into primitives; a function missing from the table is
an ``UnsupportedFunctionError`` naming it.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import constant, make
from ..ir.shapes import Size, broadcast_shapes, format_shape, normalize_axis
from .array import TracedArray, Weak, broadcast, cast, lift, reshape, to_node, transpose, wrap
from .errors import ConcretizationError, DataBranchError, UnsupportedFunctionError
from .reductions import REDUCERS, normalize_axes
from .ufuncs import elementwise, write_out

HANDLERS: dict[Any, Callable[..., Any]] = {}


def handles(*funcs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        for f in funcs:
            HANDLERS[f] = impl
        return impl
    return register


def numpy_implementation(func: Any) -> Callable[..., Any] | None:
    """NumPy's own Python implementation of a dispatched function (``np.cross``, ``np.average``,
    ``np.cov``...): run on traced arrays it decomposes into the functions this module translates
    (its ``asarray`` calls pass traced arrays through, see :mod:`.constructors`)."""
    impl = getattr(func, "_implementation", None)
    module = getattr(func, "__module__", None) or ""
    return impl if isinstance(impl, types.FunctionType) and module.split(".")[0] == "numpy" else None


_running = threading.local()  # NumPy implementations being run, per thread


def apply_function(func: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    if getattr(func, "__module__", None) == "fusejit.tracer.constructors":  # like= found our np.asarray
        func = func.__wrapped__
    impl = HANDLERS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    impl = numpy_implementation(func)
    running = _running.__dict__.setdefault("funcs", set())
    if impl is None or func in running:  # not when it comes back to itself (np.sort -> a.sort)
        raise UnsupportedFunctionError(f"{function_name(func)} is not supported in a traced function (fusejit has "
                                       "no translation for it); supported NumPy functions are listed in "
                                       "fusejit.tracer.supported_functions()")
    running.add(func)
    try:
        return impl(*args, **kwargs)
    except (UnsupportedFunctionError, ConcretizationError, AttributeError) as exc:  # AttributeError: a method
        if str(exc).startswith(function_name(func)) or isinstance(exc, DataBranchError):  # or attribute of
            raise  # ndarray that traced arrays lack; a branch on data is the caller's to follow
        raise UnsupportedFunctionError(
            f"{function_name(func)} is not supported in a traced function: fusejit has no translation for it, and "
            f"NumPy's own Python implementation of it, run on traced arrays, stopped: {exc}") from exc
    finally:
        running.discard(func)


def function_name(func: Any) -> str:
    """``np.convolve``, ``np.linalg.solve``: a NumPy function as users spell it."""
    name = f"{func.__module__.replace('numpy._core', 'numpy').replace('numpy.', 'np.')}.{func.__name__}" \
        if hasattr(func, "__module__") else str(func)
    return name.replace("numpy.", "np.").replace("np.fromnumeric.", "np.").replace("np.numeric.", "np.")


def arr(x: Any) -> TracedArray:
    """Any array-like as a TracedArray (Python scalars become strong-typed 0-d arrays, like np.asarray)."""
    op = lift(x)
    if isinstance(op, Weak):
        a = np.asarray(op.value)
        return TracedArray(constant(a, a.dtype))
    op._require_unmasked("this function")
    return op


for _name, _impl in REDUCERS.items():
    handles(getattr(np, _name))(_impl)
handles(np.amax)(REDUCERS["max"])
handles(np.amin)(REDUCERS["min"])


# ---- layout --------------------------------------------------------------------------------

def resolve_shape(shape: Any, src: tuple) -> tuple:
    """NumPy reshape target with at most one -1, over int-or-symbol dims."""
    shape = (shape,) if isinstance(shape, (int, np.integer, str)) else tuple(shape)
    shape = tuple(str(d) if isinstance(d, str) else int(d) for d in shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension")
    if unknown:
        known = Size.of(d for d in shape if d != -1)
        rest = Size.of(src).divide(known)
        dim = rest.as_dim() if rest is not None else None
        if dim is None:
            raise ValueError(f"cannot reshape array of shape {format_shape(src)} into shape {format_shape(shape)}")
        shape = tuple(dim if d == -1 else d for d in shape)
    if Size.of(shape) != Size.of(src):
        raise ValueError(f"cannot reshape array of shape {format_shape(src)} into shape {format_shape(shape)}")
    return shape


@handles(np.reshape)
def _reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> TracedArray:
    x = arr(a)
    target = resolve_shape(shape if shape is not None else newshape, x.node.shape)
    order = _index_order(x, order, "np.reshape")
    if order == "F":  # Fortran index order: reverse the axes, reshape in C order, reverse back
        flipped = reshape(transpose(x.node, list(range(x.ndim))[::-1]), target[::-1])
        return wrap(transpose(flipped, list(range(len(target)))[::-1]))
    return wrap(reshape(x.node, target), view_of=x)


def _index_order(x: TracedArray, order: str | None, what: str) -> str:
    """'C' or 'F'. 'K' and 'A' follow the memory layout, which a traced value has not; they mean 'C'
    when at most one dim is longer than 1 (every layout reads the elements in the same order)."""
    order = "C" if order is None else order
    if order in ("K", "A"):
        if sum(1 for d in x.shape if d != 1) > 1:
            raise UnsupportedFunctionError(
                f"{what}: order={order!r} follows the memory layout of the array, which a traced value does not "
                f"have (shape {format_shape(x.shape)}); say order='C' (what it means for C-contiguous arrays) "
                "or order='F'")
        return "C"
    if order not in ("C", "F"):
        raise ValueError(f"{what}: order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    return order


@handles(np.may_share_memory)
def _may_share_memory(a: Any, b: Any, max_work: Any = None) -> bool:
    """Traced values have no memory to compare; "may" allows a false positive, so True (callers then
    copy to be safe, as scikit-learn's check_array does)."""
    return True


@handles(np.ravel)
def _ravel(a: Any, order: str = "C") -> TracedArray:
    return _reshape(a, -1, order=order)


@handles(np.transpose)
def _transpose(a: Any, axes: Any = None) -> TracedArray:
    x = arr(a)
    n = x.node.ndim
    perm = list(range(n))[::-1] if axes is None else [normalize_axis(int(p), n) for p in axes]
    if sorted(perm) != list(range(n)):
        raise ValueError("axes don't match array")
    return wrap(transpose(x.node, perm), view_of=x)


@handles(np.swapaxes)
def _swapaxes(a: Any, axis1: int, axis2: int) -> TracedArray:
    x = arr(a)
    n = x.node.ndim
    perm = list(range(n))
    i, j = normalize_axis(axis1, n), normalize_axis(axis2, n)
    perm[i], perm[j] = perm[j], perm[i]
    return _transpose(x, perm)


@handles(np.moveaxis)
def _moveaxis(a: Any, source: Any, destination: Any) -> TracedArray:
    x = arr(a)
    n = x.node.ndim
    src = normalize_axes(source, n)
    dst = normalize_axes(destination, n)
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _transpose(x, order)


@handles(np.expand_dims)
def _expand_dims(a: Any, axis: Any) -> TracedArray:
    x = arr(a)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out_ndim = x.node.ndim + len(axes)
    axes = normalize_axes(axes, out_ndim)
    dims = iter(x.node.shape)
    shape = tuple(1 if i in axes else next(dims) for i in range(out_ndim))
    return wrap(reshape(x.node, shape), view_of=x)


@handles(np.squeeze)
def _squeeze(a: Any, axis: Any = None) -> TracedArray:
    x = arr(a)
    shape = x.node.shape
    if axis is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    else:
        axes = normalize_axes(axis, len(shape))
        for i in axes:
            if shape[i] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return wrap(reshape(x.node, tuple(d for i, d in enumerate(shape) if i not in axes)), view_of=x)


@handles(np.broadcast_to)
def _broadcast_to(a: Any, shape: Any, subok: bool = False) -> TracedArray:
    x = arr(a)
    shape = (shape,) if isinstance(shape, (int, np.integer, str)) else tuple(shape)
    shape = tuple(str(d) if isinstance(d, str) else int(d) for d in shape)
    try:
        if broadcast_shapes(x.node.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"operands could not be broadcast together with remapped shapes "
                         f"[original->remapped]: {format_shape(x.node.shape)} and requested shape "
                         f"{format_shape(shape)}") from None
    return wrap(broadcast(x.node, shape), view_of=x)


@handles(np.broadcast_arrays)
def _broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    xs = [arr(a) for a in args]
    shape = broadcast_shapes(*(x.node.shape for x in xs))
    return tuple(_broadcast_to(x, shape) for x in xs)


@handles(np.flip)
def _flip(m: Any, axis: Any = None) -> TracedArray:
    x = arr(m)
    axes = normalize_axes(axis, x.node.ndim)
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.node.ndim))]


# ---- copies, casts, creation -----------------------------------------------------------------

@handles(np.copy)
def _copy(a: Any, order: str = "K", subok: bool = False) -> TracedArray:
    return TracedArray(arr(a).node)


@handles(np.astype)
def _astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> TracedArray:
    from ..ir.dtypes import as_dtype

    a = arr(x)
    return TracedArray(cast(a.node, as_dtype(dtype, "astype")))


@handles(np.asarray, np.array, np.asanyarray, np.ascontiguousarray)
def _asarray(a: Any, dtype: Any = None, *args: Any, **kwargs: Any) -> TracedArray:
    x = arr(a)
    return x if dtype is None else TracedArray(cast(x.node, np.dtype(dtype)))


def _like(a: Any, fill: Any, dtype: Any, shape: Any) -> TracedArray:
    x = arr(a)
    dt = x.dtype if dtype is None else np.dtype(dtype)
    shp = x.node.shape if shape is None else ((shape,) if isinstance(shape, (int, str)) else tuple(shape))
    if isinstance(fill, TracedArray):
        return wrap(broadcast(cast(fill.node, dt), shp))
    with np.errstate(all="ignore"):
        value = np.array(fill).astype(dt)
    return wrap(broadcast(constant(value, dt), shp))


@handles(np.zeros_like, np.empty_like)
def _zeros_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any) -> Any:
    return _like(a, 0, dtype, shape)


@handles(np.ones_like)
def _ones_like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any) -> Any:
    return _like(a, 1, dtype, shape)


@handles(np.full_like)
def _full_like(a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, **kw: Any) -> Any:
    return _like(a, fill_value, dtype, shape)


# ---- selection and clipping ------------------------------------------------------------------

@handles(np.where)
def _where(condition: Any, x: Any = None, y: Any = None) -> TracedArray:
    if x is None or y is None:
        from .errors import DataDependentShapeError

        raise DataDependentShapeError("np.where(condition) with one argument returns indices whose number "
                                      "depends on the data; use the three-argument np.where(cond, x, y)")
    ops = [lift(condition), lift(x), lift(y)]
    dtypes = [o.value if isinstance(o, Weak) else o.dtype for o in ops[1:]]  # Python values stay weak
    out = np.result_type(*dtypes)
    with np.errstate(all="ignore"):  # np.where converts Python scalars unsafely (uint8 and -1 gives 255)
        ops = [ops[0]] + [TracedArray(constant(np.array(o.value).astype(out), out)) if isinstance(o, Weak) else o
                          for o in ops[1:]]
    return elementwise("where", ops, (np.dtype(bool), out, out, out), "np.where")


@handles(np.clip)
def _clip(a: Any, a_min: Any = np._NoValue, a_max: Any = np._NoValue, out: Any = None, *, min: Any = np._NoValue,
          max: Any = np._NoValue, **kwargs: Any) -> TracedArray:
    lo = a_min if a_min is not np._NoValue else (None if min is np._NoValue else min)
    hi = a_max if a_max is not np._NoValue else (None if max is np._NoValue else max)
    if lo is None and hi is None:
        raise ValueError("One of max or min must be given")
    result = arr(a) if out is None else lift(a)
    if isinstance(result, TracedArray) and result.dtype.kind in "iu":  # as NumPy's _clip: a Python int
        info = np.iinfo(result.dtype)  # bound at or past the dtype's own is no bound (uint8 clip(-1, 1))
        lo = None if type(lo) is int and lo <= info.min else lo
        hi = None if type(hi) is int and hi >= info.max else hi
    # NumPy's two-sided clip with scalar bounds keeps x on ties (-0.0 clipped to [0, 1] stays -0.0);
    # one-sided, or with array bounds, it is maximum/minimum's own tie rule
    scalar_bounds = all(b is not None and not isinstance(b, TracedArray) and np.ndim(b) == 0 for b in (lo, hi))
    if lo is not None:
        result = _tie_keeps_x(np.maximum, result, lo) if scalar_bounds else np.maximum(result, lo)
    if hi is not None:
        result = _tie_keeps_x(np.minimum, result, hi) if scalar_bounds else np.minimum(result, hi)
    if out is not None:
        return write_out(out, result, True, kwargs.get("casting", "same_kind"), "np.clip")
    return result


def _tie_keeps_x(fn: Any, x: Any, bound: Any) -> Any:
    """``fn(x, bound)`` keeping ``x`` on ties: maximum/minimum give their second operand on ties in
    float32/float64 and their first in float16 (the unused order is dead code, removed by DCE)."""
    first = fn(x, bound)
    return first if first.dtype == np.float16 else fn(bound, x)


@handles(np.round, np.around)
def _round(a: Any, decimals: int = 0, out: Any = None) -> TracedArray:
    x = arr(a)
    if out is not None:
        raise UnsupportedFunctionError("np.round: out= is not supported in a traced function")
    if x.dtype.kind in "biu" and decimals >= 0:
        return TracedArray(x.node)
    if decimals == 0:
        return np.rint(x)
    scale = 10.0 ** abs(decimals)
    return np.rint(x * scale) / scale if decimals > 0 else np.rint(x / scale) * scale


# ---- joins and splits --------------------------------------------------------------------------

@handles(np.concatenate)
def _concatenate(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None, casting: str = "same_kind") -> Any:
    xs = [arr(a) for a in arrays]
    if not xs:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        xs = [_ravel(x) for x in xs]
        axis = 0
    dt = np.dtype(dtype) if dtype is not None else np.result_type(*(x.dtype for x in xs))
    ndim = xs[0].node.ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = normalize_axis(int(axis), ndim)
    nodes = [cast(x.node, dt) for x in xs]
    if len(nodes) == 1:
        return wrap(nodes[0])
    return wrap(make("concat", *nodes, axis=ax))


@handles(np.stack)
def _stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    xs = [arr(a) for a in arrays]
    shapes = {x.node.shape for x in xs}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    ax = normalize_axis(axis, xs[0].node.ndim + 1)
    return _concatenate([_expand_dims(x, ax) for x in xs], axis=ax, dtype=dtype)


@handles(np.vstack)
def _vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    xs = [arr(a) for a in tup]
    xs = [x.reshape(1, -1) if x.ndim == 1 else x for x in xs]
    return _concatenate(xs, axis=0, dtype=dtype)


@handles(np.hstack)
def _hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    xs = [arr(a) for a in tup]
    return _concatenate(xs, axis=0 if xs[0].ndim == 1 else 1, dtype=dtype)


@handles(np.split, np.array_split)
def _split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    x = arr(ary)
    ax = normalize_axis(axis, x.node.ndim)
    n = x.node.shape[ax]
    if isinstance(n, str):
        raise UnsupportedFunctionError(f"np.split along the dynamic dimension {n} is not supported")
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if n % k:
            raise ValueError("array split does not result in an equal division")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    key = [slice(None)] * x.node.ndim
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        key[ax] = slice(a, b)
        parts.append(x[tuple(key)])
    return parts


@handles(np.tile)
def _tile(A: Any, reps: Any) -> TracedArray:
    x = arr(A)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    ndim = max(x.node.ndim, len(reps))
    reps = (1,) * (ndim - len(reps)) + reps
    node = reshape(x.node, (1,) * (ndim - x.node.ndim) + x.node.shape)
    inter = []
    for d in node.shape:
        inter += [1, d]
    expanded = reshape(node, tuple(inter))
    target = []
    for r, d in zip(reps, node.shape):
        target += [r, d]
    big = broadcast(expanded, tuple(target))
    final = []
    for r, d in zip(reps, node.shape):
        if isinstance(d, str) and r != 1:
            raise UnsupportedFunctionError(f"np.tile along the dynamic dimension {d} is not supported")
        final.append(d if r == 1 else r * d)
    return wrap(reshape(big, tuple(final)))


@handles(np.take)
def _take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> TracedArray:
    if out is not None or mode != "raise":
        raise UnsupportedFunctionError("np.take: out= and mode= other than 'raise' are not supported")
    x = arr(a)
    if axis is None or x.node.ndim == 0:  # NumPy ravels a 0-d operand whatever the axis
        x, axis = _ravel(x), axis or 0
    key = [slice(None)] * x.node.ndim
    key[normalize_axis(int(axis), x.node.ndim)] = indices if isinstance(indices, TracedArray) else np.asarray(indices)
    return x[tuple(key)]


# ---- static queries ----------------------------------------------------------------------------

@handles(np.shape)
def _shape(a: Any) -> tuple:
    return arr(a).shape


@handles(np.ndim)
def _ndim(a: Any) -> int:
    return arr(a).ndim


@handles(np.size)
def _size(a: Any, axis: Any = None) -> Any:
    x = arr(a)
    return x.size if axis is None else x.shape[axis]


@handles(np.result_type)
def _result_type(*args: Any) -> np.dtype:
    return np.result_type(*(a.dtype if isinstance(a, TracedArray) else a for a in args))


def supported_functions() -> list[str]:
    return sorted({getattr(f, "__name__", str(f)) for f in HANDLERS})


del to_node


from . import assembly as _assembly  # noqa: E402,F401
from . import compositions as _compositions  # noqa: E402,F401  (register their handlers)
from . import products as _products  # noqa: E402,F401
from . import rearrangements as _rearrangements  # noqa: E402,F401
from . import scans as _scans  # noqa: E402,F401
from . import windows as _windows  # noqa: E402,F401
from .products import matmul  # noqa: E402,F401  (np.matmul is a ufunc: ufuncs.py routes it here)

"""Running totals (``np.cumsum``, ``np.cumprod``, their NaN-ignoring forms, ``np.add.accumulate``
and ``np.multiply.accumulate``) as scan primitives.

The accumulation dtype is NumPy's own, asked of NumPy (bool and integers narrower than the
platform integer accumulate in int64 / uint64; ``dtype=`` overrides it): the operand is cast to
it, then scanned in it, which is what ``np.add.accumulate(x, dtype=...)`` does. ``axis=None``
scans the flattened array (a 0-d operand gives shape (1,)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import make
from ..ir.shapes import format_shape, normalize_axis
from .array import TracedArray, cast, wrap
from .compositions import replace_nan
from .errors import UnsupportedFunctionError
from .functions import _ravel, arr, handles
from .reductions import numpy_result_dtype


def scan(prim: str, npfn: Any, a: Any, axis: Any, dtype: Any, out: Any, what: str) -> TracedArray:
    """``npfn(a, axis, dtype)`` as the primitive ``prim`` (cumsum/cumprod) on the cast operand."""
    if out is not None:
        raise UnsupportedFunctionError(f"np.{what}: out= is not supported in a traced function")
    x = arr(a)
    if axis is not None and (not isinstance(axis, (int, np.integer)) or isinstance(axis, bool)):
        raise TypeError(f"np.{what}: axis must be an integer or None, got {axis!r}")
    if axis is None or x.ndim == 0:  # NumPy ravels a 0-d operand whatever the axis
        try:
            x = _ravel(x)
        except ValueError:
            raise UnsupportedFunctionError(
                f"np.{what} with axis=None flattens, and the flattened length of shape "
                f"{format_shape(x.shape)} is not one dim; give an axis, or a static size for all but one dim"
            ) from None
    ax = normalize_axis(int(axis or 0), x.ndim)
    acc = numpy_result_dtype(npfn, x.dtype, dtype=dtype)
    if acc.kind == "b":
        raise UnsupportedFunctionError(f"np.{what} with a bool result (dtype=bool) is not supported in a "
                                       "traced function")
    return wrap(make(prim, cast(x.node, acc), axis=ax))


@handles(np.cumsum)
def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> TracedArray:
    return scan("cumsum", np.cumsum, a, axis, dtype, out, "cumsum")


@handles(np.cumprod)
def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> TracedArray:
    return scan("cumprod", np.cumprod, a, axis, dtype, out, "cumprod")


@handles(np.nancumsum)
def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> TracedArray:
    return scan("cumsum", np.cumsum, replace_nan(arr(a), 0), axis, dtype, out, "nancumsum")


@handles(np.nancumprod)
def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> TracedArray:
    return scan("cumprod", np.cumprod, replace_nan(arr(a), 1), axis, dtype, out, "nancumprod")


def accumulate(ufunc: Any, array: Any, axis: Any = 0, dtype: Any = None, out: Any = None) -> TracedArray:
    """``np.add.accumulate`` / ``np.multiply.accumulate`` (default axis 0, one axis only)."""
    if axis is None or isinstance(axis, tuple):
        raise ValueError("accumulate does not allow multiple axes")
    prim = "cumsum" if ufunc is np.add else "cumprod"
    return scan(prim, ufunc.accumulate, array, axis, dtype, out, f"{ufunc.__name__}.accumulate")

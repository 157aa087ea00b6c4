"""2-d pooling (``tf.nn`` names) as strided slices combined elementwise: one fused loop kernel.

A ``k x k`` window is ``k*k`` strided slices of the (padded) input: ``max_pool`` is their running
``np.maximum`` (padding with -inf, so a padded tap never wins: TensorFlow's SAME), ``avg_pool``
their sum divided by how many taps of each window lie inside the input (TensorFlow's SAME
average excludes the padding). When the pooled value is a ``relu``/bias epilogue of a
convolution, that epilogue runs inside the convolution's kernel and the pool reads its output once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._prim import NNError
from .conv import check_format, from_nhwc, pads, spatial, to_nhwc


def _geometry(what: str, x: Any, ksize: Any, strides: Any, padding: Any, data_format: str
              ) -> tuple[Any, list[int], list[int], list[int], tuple[int, int]]:
    check_format(what, data_format, x)
    k = spatial(what, "ksize", ksize, data_format)
    st = spatial(what, "strides", strides, data_format)
    xn = to_nhwc(x, data_format)
    h, w = np.shape(xn)[1:3]
    p = pads(what, padding, (h, w), k, st, [1, 1], data_format)
    out = ((h + p[0] + p[1] - k[0]) // st[0] + 1, (w + p[2] + p[3] - k[1]) // st[1] + 1)
    if min(out) < 1:
        raise NNError(f"fusejit.nn.{what}: the {k[0]}x{k[1]} window does not fit the {h}x{w} input padded by {p}")
    return xn, k, st, p, out


def _taps(xp: Any, k: list[int], st: list[int], out: tuple[int, int]) -> Iterator[tuple[int, int, Any]]:
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, xp[:, i:i + (out[0] - 1) * st[0] + 1:st[0], j:j + (out[1] - 1) * st[1] + 1:st[1]]


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _padded(xn: Any, p: list[int], fill: Any) -> Any:
    if not any(p):
        return xn
    return np.pad(xn, ((0, 0), (p[0], p[1]), (p[2], p[3]), (0, 0)), constant_values=fill)


def max_pool2d(input: Any, ksize: Any, strides: Any, padding: Any = "VALID", data_format: str = "NHWC") -> Any:
    """``tf.nn.max_pool2d``: the largest value of each window (NaN propagates, as np.maximum)."""
    xn, k, st, p, out = _geometry("max_pool2d", input, ksize, strides, padding, data_format)
    best = None
    for _, _, tap in _taps(_padded(xn, p, _lowest(np.dtype(xn.dtype))), k, st, out):
        best = tap if best is None else np.maximum(best, tap)
    return from_nhwc(best, data_format)


max_pool = max_pool2d


def avg_pool2d(input: Any, ksize: Any, strides: Any, padding: Any = "VALID", data_format: str = "NHWC") -> Any:
    """``tf.nn.avg_pool2d``: the mean of each window over its taps inside the input."""
    xn, k, st, p, out = _geometry("avg_pool2d", input, ksize, strides, padding, data_format)
    total = None
    for _, _, tap in _taps(_padded(xn, p, 0), k, st, out):
        total = tap if total is None else total + tap
    h, w = np.shape(xn)[1:3]
    rows = np.minimum(np.arange(out[0]) * st[0] - p[0] + k[0], h) - np.maximum(np.arange(out[0]) * st[0] - p[0], 0)
    cols = np.minimum(np.arange(out[1]) * st[1] - p[2] + k[1], w) - np.maximum(np.arange(out[1]) * st[1] - p[2], 0)
    count = (rows[:, None] * cols[None, :]).astype(np.dtype(xn.dtype))[:, :, None]
    return from_nhwc(total / count, data_format)


avg_pool = avg_pool2d


def max_pool_with_argmax(input: Any, ksize: Any, strides: Any, padding: Any = "VALID", data_format: str = "NHWC",
                         output_dtype: Any = np.int64, include_batch_in_index: bool = False) -> tuple[Any, Any]:
    """``tf.nn.max_pool_with_argmax`` (NHWC): the max of each window and where it is, flattened as
    ``(y * width + x) * channels + c`` (plus ``b * height * width * channels`` with
    ``include_batch_in_index``); the first maximum in row-major window order wins."""
    if data_format != "NHWC":
        raise NNError("fusejit.nn.max_pool_with_argmax supports data_format='NHWC' only, as TensorFlow")
    xn, k, st, p, out = _geometry("max_pool_with_argmax", input, ksize, strides, padding, data_format)
    n, h, w, c = np.shape(xn)
    odt = np.dtype(output_dtype)
    oy, ox = np.arange(out[0]) * st[0] - p[0], np.arange(out[1]) * st[1] - p[2]
    chan = np.arange(c)
    best = where = seen = None  # seen: has the window met a tap inside the input yet (NumPy, trace time)
    for i, j, tap in _taps(_padded(xn, p, _lowest(np.dtype(xn.dtype))), k, st, out):
        rows, cols = oy[:, None] + i, ox[None, :] + j
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        flat = ((rows * w + cols)[:, :, None] * c + chan).astype(odt)
        if best is None:
            best, where, seen = tap, np.broadcast_to(flat, np.shape(tap)), inside
        else:  # a padded tap never wins; the first inside tap replaces a padded one even at -inf
            better = (tap > best) | (inside & ~seen)[:, :, None]
            best, where, seen = np.where(better, tap, best), np.where(better, flat, where), seen | inside
    if include_batch_in_index:
        where = where + (np.arange(n) * (h * w * c)).astype(odt)[:, None, None, None]
    return best, where


def global_avg_pool(input: Any, data_format: str = "NHWC", keepdims: bool = False) -> Any:
    check_format("global_avg_pool", data_format, input)
    return np.mean(input, axis=(1, 2) if data_format == "NHWC" else (2, 3), keepdims=keepdims)


def global_max_pool(input: Any, data_format: str = "NHWC", keepdims: bool = False) -> Any:
    check_format("global_max_pool", data_format, input)
    return np.max(input, axis=(1, 2) if data_format == "NHWC" else (2, 3), keepdims=keepdims)

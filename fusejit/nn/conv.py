"""Convolutions with TensorFlow's conventions, on the ``conv2d`` primitive (NHWC, HWIO).

``data_format="NCHW"`` transposes in and out (layout ops: the planner folds them into the
padding copy and the epilogue); ``padding`` is ``"SAME"``, ``"VALID"`` or explicit
``(before, after)`` pairs, as ``tf.nn.conv2d`` takes them (one per dim of the data format,
batch and channel pairs zero) or one pair per spatial dim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.primitives import conv_out_size
from ._prim import NNError, primitive

FORMATS = ("NHWC", "NCHW")


def spatial(what: str, name: str, v: Any, data_format: str, default: int = 1) -> list[int]:
    """TensorFlow's int-or-list spatial argument (``strides``, ``dilations``, ``ksize``) as [h, w]:
    an int, 1 value, 2 values (h, w) or 4 values (one per dim, batch and channel 1)."""
    if v is None:
        return [default, default]
    vals = [v] if isinstance(v, (int, np.integer)) else list(v)
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in vals):
        raise NNError(f"fusejit.nn.{what}: {name} must be positive integers, got {v!r}")
    if len(vals) == 1:
        return [int(vals[0])] * 2
    if len(vals) == 2:
        return [int(x) for x in vals]
    if len(vals) == 4:
        h, w = (1, 2) if data_format == "NHWC" else (2, 3)
        c = 3 if data_format == "NHWC" else 1
        if vals[0] != 1 or vals[c] != 1:
            raise NNError(f"fusejit.nn.{what}: {name} {list(vals)} must be 1 in the batch and channel dims "
                          f"({data_format})")
        return [int(vals[h]), int(vals[w])]
    raise NNError(f"fusejit.nn.{what}: {name} needs 1, 2 or 4 values, got {v!r}")


def pads(what: str, padding: Any, size: Sequence[int], ksize: Sequence[int], strides: Sequence[int],
         dilations: Sequence[int], data_format: str) -> list[int]:
    """[top, bottom, left, right] for ``padding`` ('SAME': output ceil(size/stride), the odd pixel
    at the end, as TensorFlow; 'VALID': none; explicit pairs)."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return [0, 0, 0, 0]
        if mode != "SAME":
            raise NNError(f"fusejit.nn.{what}: padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
        out: list[int] = []
        for n, k, s, d in zip(size, ksize, strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            out += [total // 2, total - total // 2]
        return out
    try:
        pairs = [tuple(int(a) for a in p) for p in padding]
    except TypeError:
        raise NNError(f"fusejit.nn.{what}: padding must be 'SAME', 'VALID' or (before, after) pairs, "
                      f"got {padding!r}") from None
    if len(pairs) == 4:
        h, w = (1, 2) if data_format == "NHWC" else (2, 3)
        others = [p for i, p in enumerate(pairs) if i not in (h, w)]
        if any(p != (0, 0) for p in others):
            raise NNError(f"fusejit.nn.{what}: explicit padding of the batch and channel dims must be 0, "
                          f"got {padding!r}")
        pairs = [pairs[h], pairs[w]]
    if len(pairs) != 2 or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise NNError(f"fusejit.nn.{what}: explicit padding needs 2 (or 4) non-negative (before, after) "
                      f"pairs, got {padding!r}")
    return [pairs[0][0], pairs[0][1], pairs[1][0], pairs[1][1]]


def check_format(what: str, data_format: str, x: Any, rank: int = 4) -> None:
    if data_format not in FORMATS:
        raise NNError(f"fusejit.nn.{what}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    if np.ndim(x) != rank:
        raise NNError(f"fusejit.nn.{what}: input must be {rank}-d ({data_format}), got shape {np.shape(x)}")


def to_nhwc(x: Any, data_format: str) -> Any:
    return np.transpose(x, (0, 2, 3, 1)) if data_format == "NCHW" else x


def from_nhwc(y: Any, data_format: str) -> Any:
    return np.transpose(y, (0, 3, 1, 2)) if data_format == "NCHW" else y


def conv2d(input: Any, filters: Any, strides: Any = 1, padding: Any = "VALID", data_format: str = "NHWC",
           dilations: Any = None, groups: int | None = None, name: str | None = None) -> Any:
    """``tf.nn.conv2d``: cross-correlation of ``input`` (NHWC or NCHW) with ``filters``
    ``[kh, kw, in_channels / groups, out_channels]``. ``groups`` defaults to what the channel
    counts imply (TensorFlow's rule); given, it must agree."""
    check_format("conv2d", data_format, input)
    if np.ndim(filters) != 4:
        raise NNError(f"fusejit.nn.conv2d: filters must be 4-d [kh, kw, in, out], got shape {np.shape(filters)}")
    st = spatial("conv2d", "strides", strides, data_format)
    dil = spatial("conv2d", "dilations", dilations, data_format)
    x = to_nhwc(input, data_format)
    _, h, w, c = np.shape(x)
    kh, kw, ci, co = np.shape(filters)
    if groups is None:
        groups = c // ci if ci and c % ci == 0 else 0
    if groups < 1 or c != ci * groups or co % groups:
        raise NNError(f"fusejit.nn.conv2d: input channels {c} and filters {np.shape(filters)} do not fit groups="
                      f"{groups} (need in_channels == filter in_channels * groups, out_channels % groups == 0)")
    p = pads("conv2d", padding, (h, w), (kh, kw), st, dil, data_format)
    for size, k, s, d, lo, hi in ((h, kh, st[0], dil[0], p[0], p[1]), (w, kw, st[1], dil[1], p[2], p[3])):
        if conv_out_size(size, k, s, d, lo, hi) < 1:
            raise NNError(f"fusejit.nn.conv2d: the {kh}x{kw} filter (dilations {dil}) does not fit the "
                          f"{h}x{w} input padded by {p}")
    y = primitive("conv2d", x, filters, strides=st, pads=p, dilations=dil, groups=groups)
    return from_nhwc(y, data_format)

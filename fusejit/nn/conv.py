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

from ..ir.conv import conv_out_size, grad_input
from ._prim import NNError, build, primitive

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
    if groups is None and not (ci and c % ci == 0):
        raise NNError(f"fusejit.nn.conv2d: input channels {c} are not a multiple of the filters' in_channels {ci} "
                      f"(filters {np.shape(filters)}: [kh, kw, in_channels / groups, out_channels])")
    if groups is None:
        groups = c // ci
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


def grad_input_nhwc(dy: Any, w: Any, size: tuple[int, int], strides: Sequence[int], p: Sequence[int],
                    dilations: Sequence[int], groups: int) -> Any:
    """The gradient of ``conv2d(x, w)`` (NHWC, explicit pads ``p``) with respect to ``x`` of spatial
    ``size``: :func:`fusejit.ir.conv.grad_input` (a stride-1 convolution of the spread, padded ``dy``),
    the rule autodiff uses too."""
    return build("conv2d_backprop_input", grad_input, dy, w, size=tuple(size), strides=list(strides), pads=list(p),
                 dilations=list(dilations), groups=groups)


def grad_filter_nhwc(x: Any, dy: Any, ksize: tuple[int, int], strides: Sequence[int], p: Sequence[int],
                     dilations: Sequence[int], groups: int) -> Any:
    """The gradient of ``conv2d(x, w)`` with respect to ``w`` (HWIO, spatial ``ksize``): the
    ``conv2d_backprop_filter`` primitive (its own CPU kernel: a filter tile in registers summed over
    the output positions)."""
    return primitive("conv2d_backprop_filter", x, dy, ksize=list(ksize), strides=list(strides), pads=list(p),
                     dilations=list(dilations), groups=groups)


def conv2d_backprop_input(input_sizes: Any, filters: Any, out_backprop: Any, strides: Any = 1,
                          padding: Any = "VALID", data_format: str = "NHWC", dilations: Any = None,
                          groups: int | None = None, name: str | None = None) -> Any:
    """``tf.compat.v1.nn.conv2d_backprop_input``: the gradient of :func:`conv2d` with respect to its
    input of shape ``input_sizes`` (4 values in ``data_format``, or the 2 spatial ones)."""
    check_format("conv2d_backprop_input", data_format, out_backprop)
    st = spatial("conv2d_backprop_input", "strides", strides, data_format)
    dil = spatial("conv2d_backprop_input", "dilations", dilations, data_format)
    sizes = list(input_sizes)  # the batch entry may be a dynamic dim: only the others are read
    hw = tuple(int(v) for v in (sizes[1:3] if data_format == "NHWC" else sizes[2:4])) if len(sizes) == 4 \
        else tuple(int(v) for v in sizes)
    kh, kw, ci, co = np.shape(filters)
    if groups is None:
        groups = int(sizes[3 if data_format == "NHWC" else 1]) // ci if len(sizes) == 4 and ci else 1
    p = pads("conv2d_backprop_input", padding, hw, (kh, kw), st, dil, data_format)
    dy = to_nhwc(out_backprop, data_format)
    _check_backprop("conv2d_backprop_input", hw, (kh, kw), st, p, dil, np.shape(dy))
    return from_nhwc(grad_input_nhwc(dy, filters, hw, st, p, dil, groups), data_format)


def conv2d_backprop_filter(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any = 1,
                           padding: Any = "VALID", data_format: str = "NHWC", dilations: Any = None,
                           groups: int | None = None, name: str | None = None) -> Any:
    """``tf.compat.v1.nn.conv2d_backprop_filter``: the gradient of :func:`conv2d` with respect to
    its filter of shape ``filter_sizes`` ``[kh, kw, in / groups, out]``."""
    check_format("conv2d_backprop_filter", data_format, input)
    st = spatial("conv2d_backprop_filter", "strides", strides, data_format)
    dil = spatial("conv2d_backprop_filter", "dilations", dilations, data_format)
    kh, kw, ci, co = (int(s) for s in filter_sizes)
    x = to_nhwc(input, data_format)
    _, h, w, c = np.shape(x)
    if groups is None:
        groups = c // ci if ci else 1
    p = pads("conv2d_backprop_filter", padding, (h, w), (kh, kw), st, dil, data_format)
    dy = to_nhwc(out_backprop, data_format)
    _check_backprop("conv2d_backprop_filter", (h, w), (kh, kw), st, p, dil, np.shape(dy))
    if c != ci * groups or co % groups or np.shape(dy)[3] != co:
        raise NNError(f"fusejit.nn.conv2d_backprop_filter: input channels {c}, filter sizes {list(filter_sizes)} "
                      f"and out_backprop channels {np.shape(dy)[3]} do not fit groups={groups}")
    return grad_filter_nhwc(x, dy, (kh, kw), st, p, dil, groups)


def _check_backprop(what: str, hw: tuple, k: tuple, st: list[int], p: list[int], dil: list[int],
                    dy_shape: tuple) -> None:
    want = (conv_out_size(hw[0], k[0], st[0], dil[0], p[0], p[1]),
            conv_out_size(hw[1], k[1], st[1], dil[1], p[2], p[3]))
    if tuple(dy_shape[1:3]) != want:
        raise NNError(f"fusejit.nn.{what}: out_backprop is {want[0]}x{want[1]} for a {hw[0]}x{hw[1]} input, "
                      f"a {k[0]}x{k[1]} filter and these strides/padding; got {dy_shape[1]}x{dy_shape[2]}")


def conv2d_transpose(input: Any, filters: Any, output_shape: Any, strides: Any = 1, padding: Any = "SAME",
                     data_format: str = "NHWC", dilations: Any = None, name: str | None = None) -> Any:
    """``tf.nn.conv2d_transpose``: ``filters`` is ``[kh, kw, out_channels, in_channels]``; the
    gradient of a convolution with respect to its input, of shape ``output_shape``."""
    return conv2d_backprop_input(output_shape, filters, input, strides, padding, data_format, dilations, groups=1)


def depthwise_conv2d(input: Any, filter: Any, strides: Any = 1, padding: Any = "VALID", data_format: str = "NHWC",
                     dilations: Any = None, name: str | None = None) -> Any:
    """``tf.nn.depthwise_conv2d``: ``filter`` [kh, kw, channels, multiplier]; output channel
    ``c * multiplier + m``. A sum of ``kh*kw`` shifted slices times per-channel weights (one fused
    loop, vectorized along the channels: a grouped :func:`conv2d` with one channel per group would
    leave most of each vector of the convolution kernel empty)."""
    check_format("depthwise_conv2d", data_format, input)
    kh, kw, c, mult = np.shape(filter)
    st = spatial("depthwise_conv2d", "strides", strides, data_format)
    dil = spatial("depthwise_conv2d", "dilations", dilations, data_format)
    x = to_nhwc(input, data_format)
    _, h, w, cx = np.shape(x)
    if cx != c:
        raise NNError(f"fusejit.nn.depthwise_conv2d: input has {cx} channels, the filter {c}")
    p = pads("depthwise_conv2d", padding, (h, w), (kh, kw), st, dil, data_format)
    oh = conv_out_size(h, kh, st[0], dil[0], p[0], p[1])
    ow = conv_out_size(w, kw, st[1], dil[1], p[2], p[3])
    if min(oh, ow) < 1:
        raise NNError(f"fusejit.nn.depthwise_conv2d: the {kh}x{kw} filter does not fit the {h}x{w} input padded by {p}")
    xp = np.pad(x, ((0, 0), (p[0], p[1]), (p[2], p[3]), (0, 0))) if any(p) else x
    total = None
    for i in range(kh):
        for j in range(kw):
            r, q = i * dil[0], j * dil[1]
            tap = xp[:, r:r + (oh - 1) * st[0] + 1:st[0], q:q + (ow - 1) * st[1] + 1:st[1]]
            term = tap * filter[i, j, :, 0] if mult == 1 else tap[..., None] * filter[i, j]
            total = term if total is None else total + term
    if mult != 1:
        total = np.reshape(total, (-1, oh, ow, c * mult))
    return from_nhwc(total, data_format)


def separable_conv2d(input: Any, depthwise_filter: Any, pointwise_filter: Any, strides: Any = 1,
                     padding: Any = "VALID", data_format: str = "NHWC", dilations: Any = None,
                     name: str | None = None) -> Any:
    """``tf.nn.separable_conv2d``: :func:`depthwise_conv2d` then a 1x1 :func:`conv2d`."""
    return conv2d(depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations),
                  pointwise_filter, 1, "VALID", data_format)


def conv1d(input: Any, filters: Any, stride: Any = 1, padding: Any = "VALID", data_format: str = "NWC",
           dilations: Any = None, name: str | None = None) -> Any:
    """``tf.nn.conv1d``: ``input`` [batch, width, channels] ('NWC') or [batch, channels, width]
    ('NCW'), ``filters`` [width, in, out]; a :func:`conv2d` over a height of 1."""
    if data_format not in ("NWC", "NCW"):
        raise NNError(f"fusejit.nn.conv1d: data_format must be 'NWC' or 'NCW', got {data_format!r}")
    if np.ndim(input) != 3 or np.ndim(filters) != 3:
        raise NNError(f"fusejit.nn.conv1d: input and filters must be 3-d, got shapes {np.shape(input)} and "
                      f"{np.shape(filters)}")
    fmt = "NHWC" if data_format == "NWC" else "NCHW"
    one = [int(v) for v in ([stride] if isinstance(stride, (int, np.integer)) else stride)]
    dil = None if dilations is None else [int(v) for v in ([dilations] if isinstance(dilations, (int, np.integer))
                                                            else dilations)]
    if isinstance(padding, str):
        pad2: Any = padding
    else:
        pairs = [tuple(p) for p in padding]
        pad2 = [(0, 0), pairs[0]] if len(pairs) == 1 else [(0, 0), pairs[1 if data_format == "NWC" else 2]]
    y = conv2d(np.expand_dims(input, 1 if data_format == "NWC" else 2), np.expand_dims(filters, 0),
               [1, one[-1] if len(one) != 3 else one[1 if data_format == "NWC" else 2]], pad2, fmt,
               None if dil is None else [1, dil[-1] if len(dil) != 3 else dil[1 if data_format == "NWC" else 2]])
    return np.squeeze(y, 1 if data_format == "NWC" else 2)

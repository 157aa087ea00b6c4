"""The convolution primitives: ``conv2d`` (NHWC input, HWIO filter), its filter gradient
``conv2d_backprop_filter``, and ``conv2d_blocked`` (the CPU kernel's operand layout, made by codegen
lowering after autodiff). Type rules, NumPy references and gradient rules.

Gradients (every convolution here is linear in each operand):

- ``conv2d(x, w)``: dx is the input gradient (:func:`grad_input`: stride-1 convolutions of ``g``
  with the filter flipped and its in/out channels swapped per group — one per stride phase, or of
  ``g`` spread ``strides`` apart when dilated); dw is ``conv2d_backprop_filter(x, g)``.
- ``conv2d_backprop_filter(x, dy)`` (a sum of ``x (x) dy`` products): d(dy) is ``conv2d(x, G)``
  and dx the input gradient of a convolution with filter ``G``, at the same strides and pads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import build as bd
from .graph import Node, constant, make
from .primitives import _same_dtype
from .registry import GradientError, IRTypeError, OpDef, register
from .shapes import TensorType, format_shape


def conv_out_size(size: int, k: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    """Output length of a strided, dilated window of ``k`` taps over ``size`` padded by ``lo``/``hi``."""
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def _infer_conv2d(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, w = types
    dt = _same_dtype("conv2d", types)
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise IRTypeError(f"conv2d needs float32 or float64 operands, got {dt}")
    if x.ndim != 4 or w.ndim != 4:
        raise IRTypeError(f"conv2d: input {format_shape(x.shape)} must be NHWC and filter "
                          f"{format_shape(w.shape)} HWIO (4-d each)")
    if not all(isinstance(d, int) for d in x.shape[1:] + w.shape):
        raise IRTypeError("conv2d: only the batch dim may be symbolic")
    strides, dil, pads, g = list(attrs["strides"]), list(attrs["dilations"]), list(attrs["pads"]), attrs["groups"]
    if len(strides) != 2 or len(dil) != 2 or len(pads) != 4 or min(strides + dil) < 1 or min(pads) < 0:
        raise IRTypeError(f"conv2d: bad strides {strides}, dilations {dil} or pads {pads}")
    n, h, wd, c = x.shape
    kh, kw, cg, o = w.shape
    if not isinstance(g, int) or g < 1 or c != cg * g or o % g:
        raise IRTypeError(f"conv2d: input channels {c} and filter {format_shape(w.shape)} do not fit "
                          f"groups={g} (need in_channels == filter in_channels * groups, out_channels % groups == 0)")
    oh = conv_out_size(h, kh, strides[0], dil[0], pads[0], pads[1])
    ow = conv_out_size(wd, kw, strides[1], dil[1], pads[2], pads[3])
    if oh < 1 or ow < 1:
        raise IRTypeError(f"conv2d: the dilated {kh}x{kw} filter does not fit the padded {h}x{wd} input")
    return TensorType(dt, (n, oh, ow, o))


def ref_conv2d(x: np.ndarray, w: np.ndarray, strides: list, pads: list, dilations: list, groups: int) -> np.ndarray:
    """Cross-correlation (TensorFlow's conv2d), one matrix product per filter tap and group."""
    kh, kw, cg, o = w.shape
    out_t = _infer_conv2d([TensorType(x.dtype, x.shape), TensorType(w.dtype, w.shape)],
                          {"strides": strides, "pads": pads, "dilations": dilations, "groups": groups})
    _, oh, ow, _ = out_t.shape
    xp = np.pad(x, ((0, 0), tuple(pads[:2]), tuple(pads[2:]), (0, 0)))
    out = np.zeros(out_t.shape, x.dtype)
    og = o // groups
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            win = xp[:, r0:r0 + (oh - 1) * strides[0] + 1:strides[0], c0:c0 + (ow - 1) * strides[1] + 1:strides[1]]
            for gi in range(groups):
                out[..., gi * og:(gi + 1) * og] += win[..., gi * cg:(gi + 1) * cg] @ w[i, j, :, gi * og:(gi + 1) * og]
    return out


def unpack_blocked_filter(wp: np.ndarray, out_channels: int) -> np.ndarray:
    """The HWIO filter behind a ``conv2d_blocked`` filter [groups, blocks, kh, kw, in/groups, width]."""
    g, nb, kh, kw, cg, bw = wp.shape
    return wp.transpose(2, 3, 4, 0, 1, 5).reshape(kh, kw, cg, g, nb * bw)[..., :out_channels // g] \
        .reshape(kh, kw, cg, out_channels)


def _infer_conv2d_blocked(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, wp = types[:2]
    if len(types) != 2 + len(attrs["epilogue"]):
        raise IRTypeError(f"conv2d_blocked: {len(attrs['epilogue'])} epilogue ops need as many per-channel operands, "
                          f"got {len(types) - 2}")
    if wp.ndim != 6 or not all(isinstance(d, int) for d in wp.shape):
        raise IRTypeError(f"conv2d_blocked: filter {format_shape(wp.shape)} is not [groups, blocks, kh, kw, in, width]")
    g, nb, kh, kw, cg, bw = wp.shape
    o = attrs["out_channels"]
    if o % g or not (nb - 1) * bw < o // g <= nb * bw:
        raise IRTypeError(f"conv2d_blocked: {o} output channels do not fill {g} groups of {nb} blocks of {bw}")
    for t in types[2:]:
        if t.shape != (o,) or t.dtype != wp.dtype:
            raise IRTypeError(f"conv2d_blocked: a per-channel operand must be {wp.dtype}[{o}], got {t}")
    return _infer_conv2d([x, TensorType(wp.dtype, (kh, kw, cg, o))],
                         {"strides": attrs["strides"], "pads": [0, 0, 0, 0], "dilations": attrs["dilations"],
                          "groups": g})


def _ref_conv2d_blocked(x: np.ndarray, wp: np.ndarray, *chan: np.ndarray, strides: list, dilations: list,
                        out_channels: int, epilogue: list, relu: bool) -> np.ndarray:
    y = ref_conv2d(x, unpack_blocked_filter(wp, out_channels), strides, [0, 0, 0, 0], dilations, wp.shape[0])
    for code, c in zip(epilogue, chan):  # codes: v + c, v - c, c - v, v * c
        y = (y + c, y - c, c - y, y * c)[code]
    return np.maximum(y, np.zeros((), y.dtype)) if relu else y


def _infer_conv2d_backprop_filter(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, dy = types
    dt = _same_dtype("conv2d_backprop_filter", types)
    kh, kw = attrs["ksize"]
    g = attrs["groups"]
    if x.ndim != 4 or dy.ndim != 4 or x.shape[0] != dy.shape[0]:
        raise IRTypeError(f"conv2d_backprop_filter: input {format_shape(x.shape)} and out_backprop "
                          f"{format_shape(dy.shape)} must be NHWC with one batch")
    c, o = x.shape[3], dy.shape[3]
    if not isinstance(c, int) or not isinstance(o, int) or c % g or o % g:
        raise IRTypeError(f"conv2d_backprop_filter: {c} input and {o} output channels do not fit groups={g}")
    want = _infer_conv2d([x, TensorType(dt, (kh, kw, c // g, o))], attrs)
    if want.shape[1:] != dy.shape[1:]:
        raise IRTypeError(f"conv2d_backprop_filter: out_backprop is {format_shape(dy.shape)}, the convolution "
                          f"gives {format_shape(want.shape)}")
    return TensorType(dt, (kh, kw, c // g, o))


def _ref_conv2d_backprop_filter(x: np.ndarray, dy: np.ndarray, ksize: list, strides: list, pads: list,
                                dilations: list, groups: int) -> np.ndarray:
    kh, kw = ksize
    _, oh, ow, o = dy.shape
    cg, og = x.shape[3] // groups, o // groups
    xp = np.pad(x, ((0, 0), tuple(pads[:2]), tuple(pads[2:]), (0, 0)))
    out = np.zeros((kh, kw, cg, o), x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilations[0], j * dilations[1]
            win = xp[:, r0:r0 + (oh - 1) * strides[0] + 1:strides[0], c0:c0 + (ow - 1) * strides[1] + 1:strides[1]]
            for gi in range(groups):
                a = win[..., gi * cg:(gi + 1) * cg].reshape(-1, cg)
                out[i, j, :, gi * og:(gi + 1) * og] = a.T @ dy[..., gi * og:(gi + 1) * og].reshape(-1, og)
    return out


def _flipped_transposed(w: Node, groups: int) -> Node:
    """HWIO ``w`` flipped in both spatial dims with each group's in and out channels swapped: the
    filter that carries an output gradient back to the input."""
    kh, kw, cg, o = w.shape
    og = o // groups
    wt = make("reshape", w, shape=[kh, kw, cg, groups, og])
    wt = make("reshape", make("transpose", wt, perm=[0, 1, 4, 3, 2]), shape=[kh, kw, og, groups * cg])
    return bd.flip(bd.flip(wt, 0), 1)


def _phase(size: int, k: int, s: int, pad: int, length: int, ph: int) -> tuple[int, ...] | None:
    """Input positions ``i = i0 + s*u`` with ``(i + pad) % s == ph`` (``count`` of them) get taps
    ``ph, ph + s, ...`` of the filter from output-gradient rows ``[lo, hi)`` read with ``pad_lo`` /
    ``pad_hi`` zeros around them: (i0, count, lo, hi, pad_lo, pad_hi), or None when the phase is all zeros."""
    i0 = (ph - pad) % s
    count, taps = len(range(i0, size, s)), len(range(ph, k, s))
    if not count or not taps:
        return None
    m0 = (i0 + pad - ph) // s
    first, end = m0 - taps + 1, m0 + count
    lo, hi = max(0, first), min(length, end)
    return None if hi <= lo else (i0, count, lo, hi, lo - first, end - hi)


def grad_input(g: Node, w: Node, size: tuple[int, int], strides: list[int], pads: list[int], dilations: list[int],
               groups: int) -> Node:
    """The gradient with respect to ``x`` (spatial ``size``) of ``conv2d(x, w)`` given its output
    gradient ``g``. Stride 1 (or any dilation): a stride-1 ``conv2d`` of ``g`` spread ``strides`` apart
    (zeros between) and padded by the dilated filter's reach less ``pads``, with ``w`` flipped and its
    in/out channels swapped per group. Strides > 1 without dilation: one such convolution per phase
    (``i mod s`` in each dim) with the filter taps that reach it, written ``s`` apart: no zeros to pay for."""
    kh, kw, cg, o = w.shape
    n, oh, ow, _ = g.shape
    if list(strides) != [1, 1] and list(dilations) == [1, 1]:
        out = make("broadcast", constant(np.zeros((), g.dtype)), shape=[n, size[0], size[1], groups * cg])
        for p in range(strides[0]):
            rows = _phase(size[0], kh, strides[0], pads[0], oh, p)
            for q in range(strides[1]):
                cols = _phase(size[1], kw, strides[1], pads[2], ow, q)
                if rows is None or cols is None:
                    continue
                (i0, ni, r_lo, r_hi, pt, pb), (j0, nj, c_lo, c_hi, pl, pr) = rows, cols
                gp = make("slice", g, starts=[0, r_lo, c_lo, 0], stops=[n, r_hi, c_hi, o], steps=[1] * 4)
                wp = make("slice", w, starts=[p, q, 0, 0], stops=[kh, kw, cg, o], steps=[strides[0], strides[1], 1, 1])
                part = make("conv2d", gp, _flipped_transposed(wp, groups), strides=[1, 1], pads=[pt, pb, pl, pr],
                            dilations=[1, 1], groups=groups)
                out = make("update_slice", out, part, starts=[0, i0, j0, 0],
                           stops=[n, i0 + (ni - 1) * strides[0] + 1, j0 + (nj - 1) * strides[1] + 1, groups * cg],
                           steps=[1, strides[0], strides[1], 1])
        return out
    reach = ((kh - 1) * dilations[0], (kw - 1) * dilations[1])
    top, left = reach[0] - pads[0], reach[1] - pads[2]
    rows, cols = size[0] + reach[0], size[1] + reach[1]  # what the stride-1 convolution reads
    lo_r, lo_c = min(0, top), min(0, left)
    hi_r = max(rows, top + (oh - 1) * strides[0] + 1)
    hi_c = max(cols, left + (ow - 1) * strides[1] + 1)
    buf = make("broadcast", constant(np.zeros((), g.dtype)), shape=[n, hi_r - lo_r, hi_c - lo_c, o])
    r0, c0 = top - lo_r, left - lo_c
    buf = make("update_slice", buf, g, starts=[0, r0, c0, 0],
               stops=[n, r0 + (oh - 1) * strides[0] + 1, c0 + (ow - 1) * strides[1] + 1, o],
               steps=[1, strides[0], strides[1], 1])
    if (lo_r, lo_c, hi_r - lo_r, hi_c - lo_c) != (0, 0, rows, cols):
        buf = make("slice", buf, starts=[0, -lo_r, -lo_c, 0], stops=[n, rows - lo_r, cols - lo_c, o], steps=[1] * 4)
    return make("conv2d", buf, _flipped_transposed(w, groups), strides=[1, 1], pads=[0, 0, 0, 0],
                dilations=list(dilations), groups=groups)


def _conv2d_vjp(g: Node, node: Node) -> list[Node]:
    x, w = node.args
    a = node.attrs
    dx = grad_input(g, w, (x.shape[1], x.shape[2]), a["strides"], a["pads"], a["dilations"], a["groups"])
    dw = make("conv2d_backprop_filter", x, g, ksize=[w.shape[0], w.shape[1]], strides=a["strides"], pads=a["pads"],
              dilations=a["dilations"], groups=a["groups"])
    return [dx, dw]


def _backprop_filter_vjp(g: Node, node: Node) -> list[Node]:
    x, dy = node.args
    a = node.attrs
    attrs = {"strides": a["strides"], "pads": a["pads"], "dilations": a["dilations"], "groups": a["groups"]}
    return [grad_input(dy, g, (x.shape[1], x.shape[2]), **attrs), make("conv2d", x, g, **attrs)]


def _blocked_vjp(g: Node, node: Node) -> list[Node]:
    raise GradientError("conv2d_blocked is the CPU backend's operand layout, made after differentiation; "
                        "differentiate the conv2d it came from")


register(OpDef("conv2d", 2, "opaque", _infer_conv2d, ref_conv2d, ("strides", "pads", "dilations", "groups"),
               doc="2-d cross-correlation, NHWC input, HWIO filter; pads = [top, bottom, left, right]",
               vjp=_conv2d_vjp))

register(OpDef("conv2d_blocked", None, "opaque", _infer_conv2d_blocked, _ref_conv2d_blocked,
               ("strides", "dilations", "out_channels", "epilogue", "relu"),
               doc="VALID conv2d over a filter packed in blocks of output channels, zero-filled past each "
                   "group's last channel, then per-channel ops with the operands after the filter (`epilogue` "
                   "codes 0-3: v + c, v - c, c - v, v * c) and max(., 0) when `relu` (the CPU kernel's operand "
                   "layout and in-register epilogue; made by codegen lowering)",
               vjp=_blocked_vjp))

register(OpDef("conv2d_backprop_filter", 2, "opaque", _infer_conv2d_backprop_filter, _ref_conv2d_backprop_filter,
               ("ksize", "strides", "pads", "dilations", "groups"),
               doc="the gradient of conv2d(x, w) with respect to its HWIO filter w of spatial size `ksize`, "
                   "given x and the output gradient dy",
               vjp=_backprop_filter_vjp))

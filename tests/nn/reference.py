"""NumPy references for the nn tests, written out loop by loop (independent of fusejit's own)."""

from __future__ import annotations

import numpy as np


def same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def explicit_pads(padding, h: int, w: int, kh: int, kw: int, st, dil) -> tuple[int, int, int, int]:
    """[top, bottom, left, right] of a 'SAME'/'VALID'/explicit-pairs padding argument."""
    if padding == "VALID":
        return (0, 0, 0, 0)
    if padding == "SAME":
        return same_pads(h, kh, st[0], dil[0]) + same_pads(w, kw, st[1], dil[1])
    return tuple(padding[0]) + tuple(padding[1])


def conv2d_nhwc(x: np.ndarray, w: np.ndarray, strides: tuple[int, int], pads: tuple[int, int, int, int],
                dilations: tuple[int, int], groups: int) -> np.ndarray:
    """Cross-correlation in float64, one output pixel at a time."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, h, wd, c = x.shape
    kh, kw, cg, o = w.shape
    xp = np.zeros((n, h + pads[0] + pads[1], wd + pads[2] + pads[3], c))
    xp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd] = x
    oh = (xp.shape[1] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (xp.shape[2] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    og = o // groups
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * strides[0]:i * strides[0] + (kh - 1) * dilations[0] + 1:dilations[0],
                       j * strides[1]:j * strides[1] + (kw - 1) * dilations[1] + 1:dilations[1]]
            for g in range(groups):
                out[:, i, j, g * og:(g + 1) * og] = np.einsum(
                    "nabc,abco->no", patch[..., g * cg:(g + 1) * cg], w[..., g * og:(g + 1) * og])
    return out


def conv2d_grads(x: np.ndarray, w: np.ndarray, dy: np.ndarray, strides, pads, dilations, groups):
    """(dx, dw) of sum(conv2d(x, w) * dy), accumulated tap by tap in float64."""
    x, w, dy = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    n, h, wd, c = x.shape
    kh, kw, cg, o = w.shape
    og = o // groups
    xp = np.zeros((n, h + pads[0] + pads[1], wd + pads[2] + pads[3], c))
    xp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd] = x
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, oh, ow, _ = dy.shape
    for i in range(kh):
        for j in range(kw):
            r = slice(i * dilations[0], i * dilations[0] + (oh - 1) * strides[0] + 1, strides[0])
            s = slice(j * dilations[1], j * dilations[1] + (ow - 1) * strides[1] + 1, strides[1])
            for g in range(groups):
                ci, co = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
                dw[i, j, :, co] += np.einsum("nhwc,nhwo->co", xp[:, r, s, ci], dy[..., co])
                dxp[:, r, s, ci] += np.einsum("nhwo,co->nhwc", dy[..., co], w[i, j, :, co])
    return dxp[:, pads[0]:pads[0] + h, pads[2]:pads[2] + wd], dw


def pool2d_nhwc(x: np.ndarray, k: tuple[int, int], strides: tuple[int, int], pads: tuple[int, int, int, int],
                kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Max or average pooling window by window over the taps inside the input; also the argmax
    (flattened (y * W + x) * C + c, first maximum wins)."""
    n, h, w, c = x.shape
    oh = (h + pads[0] + pads[1] - k[0]) // strides[0] + 1
    ow = (w + pads[2] + pads[3] - k[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c), x.dtype)
    arg = np.zeros((n, oh, ow, c), np.int64)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - pads[0], j * strides[1] - pads[2]
            rs, cs = range(max(r0, 0), min(r0 + k[0], h)), range(max(c0, 0), min(c0 + k[1], w))
            win = x[:, rs.start:rs.stop, cs.start:cs.stop].reshape(n, -1, c)
            if kind == "max":
                out[:, i, j] = win.max(axis=1)
                first = win.argmax(axis=1)
                arg[:, i, j] = ((rs.start + first // len(cs)) * w + cs.start + first % len(cs)) * c + np.arange(c)
            else:
                out[:, i, j] = win.mean(axis=1)
    return out, arg

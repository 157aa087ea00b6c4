"""``np.lib.stride_tricks.sliding_window_view``, and the convolutions and pools written with it.

A traced window view is a :class:`WindowView`: an ordinary traced array (its node stacks one
strided slice of the input per window tap, so every use of it is what NumPy computes) that also
remembers what it is a view of. Three uses are recognized and never read the stacked copy (which
dead-code elimination then drops):

- ``np.einsum`` / ``np.tensordot`` of a 2-d window view of a 4-d array with a filter, contracting
  the window dims and one channel dim (``'nhwcij,ijco->nhwo'``, ``'nchwij,ocij->nohw'``): the
  ``conv2d`` primitive on the input transposed to NHWC and the filter to HWIO (its kernel, not a
  matrix product over an im2col copy);
- ``max``/``min``/``sum``/``mean`` over exactly the window dims: pooling as a running maximum (or
  sum) of the strided slices, one fused loop;
- basic slicing with steps of the window-position dims (``w[:, ::2, ::2]``, a strided pool or
  convolution) keeps the view recognizable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import Node, make
from ..ir.shapes import normalize_axis
from .array import TracedArray, cast, transpose, wrap
from .functions import arr, handles

_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Windows:
    base: Node  # the array the windows are taken of
    axes: tuple[int, ...]  # its windowed axes, in the order the window dims follow the others
    window: tuple[int, ...]
    steps: tuple[int, ...]  # step of each window-position dim (1 unless the view was sliced)

    def count(self, k: int) -> int:
        """How many windows along windowed axis ``k`` (after the step)."""
        return (self.base.shape[self.axes[k]] - self.window[k]) // self.steps[k] + 1

    def tap(self, taps: tuple[int, ...]) -> Node:
        """The base sliced at window offset ``taps``: every window's element at that offset."""
        starts, stops, steps = [0] * self.base.ndim, list(self.base.shape), [1] * self.base.ndim
        for k, (a, t) in enumerate(zip(self.axes, taps)):
            starts[a], stops[a], steps[a] = t, t + (self.count(k) - 1) * self.steps[k] + 1, self.steps[k]
        return make("slice", self.base, starts=starts, stops=stops, steps=steps)

    def taps(self) -> list[tuple[int, ...]]:
        return list(itertools.product(*(range(w) for w in self.window)))


class WindowView(TracedArray):
    __slots__ = ("windows",)

    def __init__(self, windows: Windows) -> None:
        super().__init__(_stacked(windows))
        self.windows = windows

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        recognized = _RECOGNIZERS.get(func)
        if recognized is not None:
            out = recognized(*args, **kwargs)
            if out is not None:
                return out
        return super().__array_function__(func, types, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        plain = TracedArray.__getitem__(self, key)
        steps = _position_steps(self, key)
        if steps is None:
            return plain
        w = self.windows
        return WindowView(Windows(w.base, w.axes, w.window, tuple(s * t for s, t in zip(w.steps, steps))))


def _stacked(w: Windows) -> Node:
    """The window view as NumPy lays it out: base dims (windowed ones shortened), then the window dims."""
    tail = [1] * len(w.window)
    slices = {t: w.tap(t) for t in w.taps()}

    def stack(prefix: tuple[int, ...]) -> Node:
        depth = len(prefix)
        if depth == len(w.window):
            s = slices[prefix]
            return make("reshape", s, shape=list(s.shape) + tail)
        parts = [stack(prefix + (t,)) for t in range(w.window[depth])]
        axis = w.base.ndim + depth
        return parts[0] if len(parts) == 1 else make("concat", *parts, axis=axis)

    return stack(())


def _position_steps(view: WindowView, key: Any) -> tuple[int, ...] | None:
    """The steps ``key`` takes along the window-position dims, if it only steps through them from
    their start to their end (``[:, ::2, ::2]``); None for any other index."""
    w = view.windows
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis or k is None or not isinstance(k, slice) for k in key) or len(key) > w.base.ndim:
        return None
    steps = [1] * len(w.axes)
    for d, k in enumerate(key):
        if k.start not in (None, 0) or k.stop is not None or (k.step or 1) < 1:
            return None
        if d in w.axes:
            steps[w.axes.index(d)] = k.step or 1
        elif (k.step or 1) != 1:
            return None
    return tuple(steps)


@handles(np.lib.stride_tricks.sliding_window_view)
def sliding_window_view(x: Any, window_shape: Any, axis: Any = None, *, subok: bool = False,
                        writeable: bool = False) -> TracedArray:
    if writeable:
        raise ValueError("sliding_window_view(writeable=True): a traced function never writes through a view")
    t = arr(x)
    window = (int(window_shape),) if np.ndim(window_shape) == 0 else tuple(int(v) for v in window_shape)
    node = t.node
    if axis is None:
        axes = tuple(range(node.ndim))
    else:
        axes = tuple(normalize_axis(int(a), node.ndim) for a in ((axis,) if np.ndim(axis) == 0 else axis))
    if len(window) != len(axes):
        raise ValueError(f"sliding_window_view: window_shape {window} needs one entry per axis {axes}")
    for a, k in zip(axes, window):
        d = node.shape[a]
        if not isinstance(d, int):
            raise ValueError(f"sliding_window_view: windowed axis {a} must have a static size, got {d}")
        if k < 0 or k > d:
            raise ValueError("window shape cannot be larger than input array shape" if k > d
                             else "`window_shape` cannot contain negative values")
        if k == 0:
            raise NotImplementedError("sliding_window_view with an empty window is not supported in a traced function")
    if len(set(axes)) != len(axes):
        raise NotImplementedError("sliding_window_view over the same axis twice is not supported in a traced function")
    return WindowView(Windows(node, axes, window, (1,) * len(axes)))


# ---- recognized uses ---------------------------------------------------------------------------

def _conv_from_einsum(spec: str, a: Any, b: Any) -> TracedArray | None:
    """``einsum(spec, a, b)`` as ``conv2d`` when one operand is a 2-d window view of a 4-d array
    and the contraction is a convolution of it (see the module docstring); else None."""
    if not isinstance(spec, str) or "->" not in spec or "." in spec:
        return None
    lhs, out = spec.replace(" ", "").split("->")
    ins = lhs.split(",")
    if len(ins) != 2:
        return None
    if not isinstance(a, WindowView):
        if not isinstance(b, WindowView):
            return None
        (a, b), ins = (b, a), ins[::-1]
    w = a.windows
    la, lb = ins
    x, f = w.base, arr(b).node
    if (len(w.window) != 2 or x.ndim != 4 or len(la) != 6 or len(lb) != 4 or f.ndim != 4
            or len(set(la)) != 6 or len(set(lb)) != 4 or len(set(out)) != len(out) != 4):
        return None
    pos = [la[d] for d in w.axes]
    win = [la[4], la[5]]
    rest = [d for d in range(4) if d not in w.axes]
    batch = [d for d in rest if la[d] in out and la[d] not in lb]
    chan = [d for d in rest if la[d] in lb and la[d] not in out]
    o = [c for c in lb if c not in la]
    if len(batch) != 1 or len(chan) != 1 or len(o) != 1 or set(lb) != {*win, la[chan[0]], o[0]} \
            or set(out) != {la[batch[0]], *pos, o[0]}:
        return None
    dt = np.result_type(x.dtype, f.dtype)
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        return None
    xn = cast(transpose(x, [batch[0], *w.axes, chan[0]]), dt)
    fn = cast(transpose(f, [lb.index(win[0]), lb.index(win[1]), lb.index(la[chan[0]]), lb.index(o[0])]), dt)
    y = make("conv2d", xn, fn, strides=list(w.steps), pads=[0, 0, 0, 0], dilations=[1, 1], groups=1)
    have = [la[batch[0]], *pos, o[0]]
    return wrap(transpose(y, [have.index(c) for c in out]))


def _einsum(*operands: Any, out: Any = None, optimize: Any = False, **kw: Any) -> TracedArray | None:
    if out is not None or kw or len(operands) != 3:
        return None
    return _conv_from_einsum(*operands)


def _tensordot(a: Any, b: Any, axes: Any = 2) -> TracedArray | None:
    """``tensordot`` spelled as the einsum it is, then :func:`_conv_from_einsum`."""
    na, nb = np.ndim(a), np.ndim(b)
    if isinstance(axes, (int, np.integer)):
        pa, pb = list(range(na - int(axes), na)), list(range(int(axes)))
    else:
        pa, pb = ([int(v)] if np.ndim(v) == 0 else [int(u) for u in v] for v in axes)
    pa, pb = [p % na for p in pa], [p % nb for p in pb]
    if na + nb > len(_EINSUM_LETTERS) or len(pa) != len(pb):
        return None
    la, lb = list(_EINSUM_LETTERS[:na]), list(_EINSUM_LETTERS[na:na + nb])
    for i, j in zip(pa, pb):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in pa] + [c for j, c in enumerate(lb) if j not in pb]
    return _conv_from_einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def _pool(kind: str) -> Any:
    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
               **kw: Any) -> TracedArray | None:
        if not isinstance(a, WindowView) or dtype is not None or out is not None or keepdims or kw or axis is None:
            return None
        w = a.windows
        nd = w.base.ndim + len(w.window)
        try:
            axes = {normalize_axis(int(v), nd) for v in ((axis,) if np.ndim(axis) == 0 else axis)}
        except (TypeError, ValueError):
            return None
        if axes != set(range(w.base.ndim, nd)):
            return None
        dt = w.base.dtype
        if kind == "mean" and dt.kind not in "f":
            dt = np.dtype(np.float64)
        if kind in ("sum", "mean") and (dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < 8)):
            return None  # NumPy's integer promotion of sums: leave it to the general path
        total: Any = None
        for t in w.taps():
            v = wrap(cast(w.tap(t), dt))
            if total is None:
                total = v
            elif kind == "max":
                total = np.maximum(total, v)
            elif kind == "min":
                total = np.minimum(total, v)
            else:
                total = total + v
        return total / int(np.prod(w.window)) if kind == "mean" else total
    return reduce


_RECOGNIZERS = {
    np.einsum: _einsum, np.tensordot: _tensordot,
    np.max: _pool("max"), np.amax: _pool("max"), np.min: _pool("min"), np.amin: _pool("min"),
    np.sum: _pool("sum"), np.mean: _pool("mean"),
}

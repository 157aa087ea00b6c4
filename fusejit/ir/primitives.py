"""Declarations of every primitive op: name, type rule, NumPy reference, fusion class.

Elementwise primitives are homogeneous: operands share one shape and (except ``where``'s
condition and ``shl``/``shr``) one dtype. The tracer inserts the casts and broadcasts that
NumPy's promotion and broadcasting rules imply, so every implicit step is visible in the IR.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import BOOL, INT64, is_float, is_int
from .registry import IRTypeError, OpDef, register
from .shapes import Dim, Shape, Size, TensorType, format_shape, normalize_axis


def _special() -> Any:
    """scipy.special, imported on first use (it costs ~200 ms: too much for every ``import fusejit``)."""
    import scipy.special

    return scipy.special


def _same_shape(name: str, types: list[TensorType]) -> Shape:
    shape = types[0].shape
    for t in types[1:]:
        if t.shape != shape:
            raise IRTypeError(
                f"{name}: operand shapes {', '.join(format_shape(t.shape) for t in types)} differ; "
                "elementwise ops need equal shapes (insert a broadcast)"
            )
    return shape


def _same_dtype(name: str, types: list[TensorType]) -> np.dtype:
    dt = types[0].dtype
    for t in types[1:]:
        if t.dtype != dt:
            raise IRTypeError(f"{name}: operand dtypes {', '.join(str(t.dtype) for t in types)} differ")
    return dt


def _elementwise(name: str, ref: Any, arity: int, result: str = "same", operand: str = "any",
                 doc: str = "") -> None:
    """Register an elementwise op. ``result``: 'same' or 'bool'; ``operand``: allowed kinds."""

    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        shape = _same_shape(name, types)
        dt = _same_dtype(name, types)
        if operand == "float" and not is_float(dt):
            raise IRTypeError(f"{name} needs a floating-point operand, got {dt}")
        if operand == "int" and not (is_int(dt) or dt == BOOL):
            raise IRTypeError(f"{name} needs an integer or bool operand, got {dt}")
        return TensorType(BOOL if result == "bool" else dt, shape)

    def run(*xs: np.ndarray) -> np.ndarray:
        return ref(*xs)

    register(OpDef(name, arity, "elementwise", infer, run, doc=doc))


for _name, _ref in {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "cbrt": np.cbrt, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh, "erf": lambda x: _special().erf(x),
    "logistic": lambda x: _special().expit(x),
}.items():
    _elementwise(_name, _ref, 1, operand="float")

for _name, _ref in {
    "neg": np.negative, "abs": np.absolute, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "trunc": np.trunc, "rint": np.rint, "reciprocal": np.reciprocal,
}.items():
    _elementwise(_name, _ref, 1)

_elementwise("not", np.invert, 1, operand="int", doc="bitwise not; logical not on bool")
for _name, _ref in {"isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
                    "signbit": np.signbit}.items():
    _elementwise(_name, _ref, 1, result="bool")

for _name, _ref in {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "fmod": np.fmod, "pow": np.power, "max": np.maximum,
    "min": np.minimum, "fmax": np.fmax, "fmin": np.fmin,
}.items():
    _elementwise(_name, _ref, 2)
for _name, _ref in {"atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign}.items():
    _elementwise(_name, _ref, 2, operand="float")
for _name, _ref in {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
                    "shl": np.left_shift, "shr": np.right_shift}.items():
    _elementwise(_name, _ref, 2, operand="int")
for _name, _ref in {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                    "gt": np.greater, "ge": np.greater_equal}.items():
    _elementwise(_name, _ref, 2, result="bool")


def _infer_where(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    shape = _same_shape("where", types)
    if types[0].dtype != BOOL:
        raise IRTypeError(f"where: condition must be bool, got {types[0].dtype}")
    return TensorType(_same_dtype("where", types[1:]), shape)


register(OpDef("where", 3, "elementwise", _infer_where, lambda c, x, y: np.where(c, x, y)))


def _infer_cast(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(np.dtype(attrs["dtype"]), types[0].shape)


def _ref_cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(dtype)


register(OpDef("cast", 1, "elementwise", _infer_cast, _ref_cast, ("dtype",),
               doc="NumPy astype (unsafe casting)"))


# ---- sources -------------------------------------------------------------------------------

def _no_infer(name: str) -> Any:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        raise IRTypeError(f"{name} nodes carry their type; build them with fusejit.ir.graph")
    return infer


register(OpDef("input", 0, "source", _no_infer("input"), lambda: None, doc="a graph parameter"))
register(OpDef("constant", 0, "source", lambda types, attrs: TensorType(attrs["value"].dtype, attrs["value"].shape),
               lambda value: value, ("value",)))


def _infer_numel(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(np.dtype(attrs["dtype"]), ())


def _ref_numel(x: np.ndarray, axes: list[int], dtype: np.dtype) -> np.ndarray:
    return np.array(int(np.prod([x.shape[a] for a in axes], dtype=np.int64)), dtype=dtype)


register(OpDef("numel", 1, "source", _infer_numel, _ref_numel, ("axes", "dtype"),
               doc="element count of the given axes of the operand, as a scalar of `dtype`"))


# ---- layout --------------------------------------------------------------------------------

def _infer_broadcast(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    src, shape = types[0].shape, tuple(attrs["shape"])
    if len(src) > len(shape):
        raise IRTypeError(f"broadcast: cannot broadcast {format_shape(src)} to fewer dims {format_shape(shape)}")
    for d, t in zip(src, shape[len(shape) - len(src):]):
        if d != 1 and d != t:
            raise IRTypeError(f"broadcast: cannot broadcast {format_shape(src)} to {format_shape(shape)}")
    return TensorType(types[0].dtype, shape)


register(OpDef("broadcast", 1, "layout", _infer_broadcast,
               lambda x, shape: np.broadcast_to(x, tuple(shape)), ("shape",),
               doc="NumPy broadcast_to: right-aligned, size-1 dims stretched"))


def _infer_transpose(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    perm, src = list(attrs["perm"]), types[0].shape
    if sorted(perm) != list(range(len(src))):
        raise IRTypeError(f"transpose: perm {perm} is not a permutation of {len(src)} axes")
    return TensorType(types[0].dtype, tuple(src[p] for p in perm))


register(OpDef("transpose", 1, "layout", _infer_transpose,
               lambda x, perm: np.transpose(x, perm), ("perm",)))


def _infer_reshape(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    src, shape = types[0].shape, tuple(attrs["shape"])
    if Size.of(src) != Size.of(shape):
        raise IRTypeError(f"reshape: cannot reshape {format_shape(src)} into {format_shape(shape)}")
    return TensorType(types[0].dtype, shape)


register(OpDef("reshape", 1, "layout", _infer_reshape,
               lambda x, shape: np.reshape(x, tuple(shape)), ("shape",), doc="row-major reshape"))


def slice_len(start: int, stop: int, step: int) -> int:
    return len(range(start, stop, step))


def as_slices(starts: list[Dim], stops: list[Dim], steps: list[int]) -> tuple[slice, ...]:
    """Python slices for normalized (start, stop, step) triples; stop -1 with a negative step
    means 'through index 0'."""
    return tuple(slice(a, None if isinstance(b, int) and b < 0 else b, c)
                 for a, b, c in zip(starts, stops, steps))


def _slice_shape(name: str, src: Shape, attrs: dict[str, Any]) -> Shape:
    starts, stops, steps = attrs["starts"], attrs["stops"], attrs["steps"]
    if not len(starts) == len(stops) == len(steps) == len(src):
        raise IRTypeError(f"{name}: starts/stops/steps need one entry per dim of {format_shape(src)}")
    out: list[Dim] = []
    for d, a, b, c in zip(src, starts, stops, steps):
        if isinstance(d, str) or isinstance(b, str):
            if (a, b, c) != (0, d, 1):
                raise IRTypeError(f"{name}: a symbolic dim {d} can only be taken whole")
            out.append(d)
            continue
        if c == 0 or not (0 <= a <= d or (a == -1 and c < 0)):
            raise IRTypeError(f"{name}: bad slice {a}:{b}:{c} of a dim of size {d}")
        out.append(slice_len(a, b, c))
    return tuple(out)


def _infer_slice(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(types[0].dtype, _slice_shape("slice", types[0].shape, attrs))


register(OpDef("slice", 1, "layout", _infer_slice,
               lambda x, starts, stops, steps: x[as_slices(starts, stops, steps)],
               ("starts", "stops", "steps"), doc="strided slice; stops are exclusive"))


def _infer_concat(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    axis = attrs["axis"]
    dt = _same_dtype("concat", types)
    first = types[0].shape
    total: Dim = 0
    for t in types:
        if len(t.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != axis):
            raise IRTypeError("concat: operand shapes " + ", ".join(format_shape(t.shape) for t in types)
                              + f" differ outside axis {axis}")
        d = t.shape[axis]
        if isinstance(d, str) or isinstance(total, str):
            raise IRTypeError("concat: the concatenated axis must be static")
        total += d
    return TensorType(dt, first[:axis] + (total,) + first[axis + 1:])


register(OpDef("concat", None, "layout", _infer_concat,
               lambda *xs, axis: np.concatenate(xs, axis=axis), ("axis",)))


def _infer_update_slice(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    base, upd = types
    want = _slice_shape("update_slice", base.shape, attrs)
    if upd.shape != want or upd.dtype != base.dtype:
        raise IRTypeError(f"update_slice: update is {upd}, the slice is {TensorType(base.dtype, want)}")
    return base


def _ref_update_slice(base: np.ndarray, upd: np.ndarray, starts: list, stops: list, steps: list) -> np.ndarray:
    out = base.copy()
    out[as_slices(starts, stops, steps)] = upd
    return out


register(OpDef("update_slice", 2, "layout", _infer_update_slice, _ref_update_slice,
               ("starts", "stops", "steps"), doc="functional `base[slices] = update`"))


# ---- reductions ----------------------------------------------------------------------------

def _reduce_shape(name: str, src: Shape, axes: list[int]) -> Shape:
    if len(set(axes)) != len(axes) or any(not 0 <= a < len(src) for a in axes):
        raise IRTypeError(f"{name}: bad axes {axes} for shape {format_shape(src)}")
    return tuple(d for i, d in enumerate(src) if i not in axes)


def _reduction(name: str, ufunc: np.ufunc, doc: str) -> None:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        return TensorType(types[0].dtype, _reduce_shape(name, types[0].shape, list(attrs["axes"])))

    def ref(x: np.ndarray, axes: list[int]) -> np.ndarray:
        fn = BOOL_REDUCTIONS.get(ufunc, ufunc) if x.dtype == BOOL else ufunc
        return np.asarray(fn.reduce(x, axis=tuple(axes), dtype=x.dtype))

    register(OpDef(name, 1, "reduce", infer, ref, ("axes",), doc=doc))


BOOL_REDUCTIONS = {np.maximum: np.logical_or, np.minimum: np.logical_and}  # any/all: empty is fine
_reduction("reduce_sum", np.add, "sum over `axes` (removed), accumulating in the operand dtype")
_reduction("reduce_prod", np.multiply, "product over `axes`")
_reduction("reduce_max", np.maximum, "max over `axes`, NaN-propagating; on bool it is any()")
_reduction("reduce_min", np.minimum, "min over `axes`, NaN-propagating; on bool it is all()")


def _arg_reduction(name: str, fn: Any) -> None:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        axis = attrs["axis"]
        return TensorType(INT64, _reduce_shape(name, types[0].shape, [axis]))

    register(OpDef(name, 1, "reduce", infer, lambda x, axis: np.asarray(fn(x, axis=axis)), ("axis",),
                   doc="index of the first extreme value along `axis` (NaN counts as extreme)"))


_arg_reduction("argmax", np.argmax)
_arg_reduction("argmin", np.argmin)


# ---- opaque --------------------------------------------------------------------------------

def _infer_dot(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    a, b = types
    dt = _same_dtype("dot", types)
    if a.ndim < 2 or b.ndim != a.ndim or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise IRTypeError(f"dot: shapes {format_shape(a.shape)} and {format_shape(b.shape)} are not "
                          "[..., M, K] x [..., K, N] with equal batch dims")
    return TensorType(dt, a.shape[:-1] + b.shape[-1:])


register(OpDef("dot", 2, "opaque", _infer_dot, lambda a, b: np.matmul(a, b),
               doc="batched matrix product [..., M, K] x [..., K, N] -> [..., M, N]"))


def _infer_take(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, idx = types
    axis = normalize_axis(attrs["axis"], x.ndim)
    if not is_int(idx.dtype):
        raise IRTypeError(f"take: indices must be integers, got {idx.dtype}")
    return TensorType(x.dtype, x.shape[:axis] + idx.shape + x.shape[axis + 1:])


register(OpDef("take", 2, "opaque", _infer_take,
               lambda x, idx, axis: np.take(x, idx, axis=axis), ("axis",),
               doc="gather along `axis`; negative indices wrap, out-of-range is an error"))


# ---- scans ---------------------------------------------------------------------------------

def _scan(name: str, fn: Any, doc: str) -> None:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        x = types[0]
        axis = attrs.get("axis")
        if not isinstance(axis, int) or isinstance(axis, bool) or not 0 <= axis < x.ndim:
            raise IRTypeError(f"{name}: bad axis {axis!r} for shape {format_shape(x.shape)}")
        if not (is_int(x.dtype) or is_float(x.dtype)):
            raise IRTypeError(f"{name} needs an integer or floating-point operand, got {x.dtype} "
                              "(cast bool first, as NumPy does)")
        return x

    def ref(x: np.ndarray, axis: int) -> np.ndarray:
        return fn(x, axis=axis, dtype=x.dtype)

    register(OpDef(name, 1, "opaque", infer, ref, ("axis",), doc=doc))


_scan("cumsum", np.cumsum, "inclusive prefix sum along `axis` in the operand dtype: out[i] = out[i-1] + x[i]")
_scan("cumprod", np.cumprod, "inclusive prefix product along `axis` in the operand dtype: out[i] = out[i-1] * x[i]")
SCAN_OPS = ("cumsum", "cumprod")


# ---- convolution ---------------------------------------------------------------------------

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


register(OpDef("conv2d", 2, "opaque", _infer_conv2d, ref_conv2d, ("strides", "pads", "dilations", "groups"),
               doc="2-d cross-correlation, NHWC input, HWIO filter; pads = [top, bottom, left, right]"))


def unpack_blocked_filter(wp: np.ndarray, out_channels: int) -> np.ndarray:
    """The HWIO filter behind a ``conv2d_blocked`` filter [groups, blocks, kh, kw, in/groups, width]."""
    g, nb, kh, kw, cg, bw = wp.shape
    return wp.transpose(2, 3, 4, 0, 1, 5).reshape(kh, kw, cg, g, nb * bw)[..., :out_channels // g] \
        .reshape(kh, kw, cg, out_channels)


def _infer_conv2d_blocked(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, wp = types
    if wp.ndim != 6 or not all(isinstance(d, int) for d in wp.shape):
        raise IRTypeError(f"conv2d_blocked: filter {format_shape(wp.shape)} is not [groups, blocks, kh, kw, in, width]")
    g, nb, kh, kw, cg, bw = wp.shape
    o = attrs["out_channels"]
    if o % g or not (nb - 1) * bw < o // g <= nb * bw:
        raise IRTypeError(f"conv2d_blocked: {o} output channels do not fill {g} groups of {nb} blocks of {bw}")
    return _infer_conv2d([x, TensorType(wp.dtype, (kh, kw, cg, o))],
                         {"strides": attrs["strides"], "pads": [0, 0, 0, 0], "dilations": attrs["dilations"],
                          "groups": g})


register(OpDef("conv2d_blocked", 2, "opaque", _infer_conv2d_blocked,
               lambda x, wp, strides, dilations, out_channels: ref_conv2d(
                   x, unpack_blocked_filter(wp, out_channels), strides, [0, 0, 0, 0], dilations, wp.shape[0]),
               ("strides", "dilations", "out_channels"),
               doc="VALID conv2d over a filter packed in blocks of output channels, zero-filled past "
                   "each group's last channel (the CPU kernel's operand layout; made by codegen lowering)"))

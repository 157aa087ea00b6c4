"""Declarations of every primitive op: name, type rule, NumPy reference, fusion class.

Elementwise primitives are homogeneous: operands share one shape and (except ``where``'s
condition and ``shl``/``shr``) one dtype. The tracer inserts the casts and broadcasts that
NumPy's promotion and broadcasting rules imply, so every implicit step is visible in the IR.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import build as bd
from .dtypes import BOOL, INT64, is_float, is_int
from .graph import Node, make
from .registry import GradientError, IRTypeError, OpDef, VjpFn, register
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
                 doc: str = "", vjp: VjpFn | None = None) -> None:
    """Register an elementwise op. ``result``: 'same' or 'bool' (bool results have no gradient);
    ``operand``: allowed kinds; ``vjp``: its gradient rule (see registry.OpDef)."""

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

    register(OpDef(name, arity, "elementwise", infer, run, doc=doc, vjp=vjp,
                   nondiff=result == "bool" or operand == "int"))


def _unary(d: Any) -> VjpFn:
    """A unary rule from ``d(g, x, y)`` = the cotangent of the operand ``x`` (``y`` is the result)."""
    return lambda g, n: [d(g, n.args[0], n)]


def _zero_gradient(g: Node, n: Node) -> list[Node | None]:
    """Piecewise-constant ops (floor, sign, ...): derivative 0 wherever it exists."""
    return [None] * len(n.args)


def _c(value: float, like: Node) -> Node:
    return bd.splat(value, like)


def _sqrt1m(x: Node, sign: float = -1.0) -> Node:  # sqrt(1 + sign * x*x)
    xx = bd.mul(x, x)
    return bd.unary("sqrt", bd.add(_c(1, x), xx) if sign > 0 else bd.sub(_c(1, x), xx))


_UNARY_FLOAT_VJP: dict[str, Any] = {
    "exp": lambda g, x, y: bd.mul(g, y),
    "exp2": lambda g, x, y: bd.mul(g, bd.mul(y, _c(np.log(2.0), y))),
    "expm1": lambda g, x, y: bd.mul(g, bd.add(y, _c(1, y))),
    "log": lambda g, x, y: bd.div(g, x),
    "log2": lambda g, x, y: bd.div(g, bd.mul(x, _c(np.log(2.0), x))),
    "log10": lambda g, x, y: bd.div(g, bd.mul(x, _c(np.log(10.0), x))),
    "log1p": lambda g, x, y: bd.div(g, bd.add(x, _c(1, x))),
    "sqrt": lambda g, x, y: bd.div(g, bd.add(y, y)),
    "cbrt": lambda g, x, y: bd.div(g, bd.mul(_c(3, y), bd.mul(y, y))),
    "sin": lambda g, x, y: bd.mul(g, bd.unary("cos", x)),
    "cos": lambda g, x, y: bd.neg(bd.mul(g, bd.unary("sin", x))),
    "tan": lambda g, x, y: bd.mul(g, bd.add(_c(1, y), bd.mul(y, y))),
    "arcsin": lambda g, x, y: bd.div(g, _sqrt1m(x)),
    "arccos": lambda g, x, y: bd.neg(bd.div(g, _sqrt1m(x))),
    "arctan": lambda g, x, y: bd.div(g, bd.add(_c(1, x), bd.mul(x, x))),
    "sinh": lambda g, x, y: bd.mul(g, bd.unary("cosh", x)),
    "cosh": lambda g, x, y: bd.mul(g, bd.unary("sinh", x)),
    "tanh": lambda g, x, y: bd.mul(g, bd.sub(_c(1, y), bd.mul(y, y))),
    "arcsinh": lambda g, x, y: bd.div(g, _sqrt1m(x, 1.0)),
    "arccosh": lambda g, x, y: bd.div(g, bd.unary("sqrt", bd.sub(bd.mul(x, x), _c(1, x)))),
    "arctanh": lambda g, x, y: bd.div(g, bd.sub(_c(1, x), bd.mul(x, x))),
    "erf": lambda g, x, y: bd.mul(g, bd.mul(_c(2 / np.sqrt(np.pi), x), bd.unary("exp", bd.neg(bd.mul(x, x))))),
    "erfc": lambda g, x, y: bd.mul(g, bd.mul(_c(-2 / np.sqrt(np.pi), x), bd.unary("exp", bd.neg(bd.mul(x, x))))),
    "logistic": lambda g, x, y: bd.mul(g, bd.mul(y, bd.sub(_c(1, y), y))),
}
_UNARY_VJP: dict[str, Any] = {
    "neg": _unary(lambda g, x, y: bd.neg(g)),
    "abs": _unary(lambda g, x, y: bd.scaled(g, bd.unary("sign", x))),  # abs'(0) = sign(0) = 0
    "reciprocal": _unary(lambda g, x, y: bd.neg(bd.mul(g, bd.mul(y, y)))),
    **{k: _zero_gradient for k in ("sign", "floor", "ceil", "trunc", "rint")},
}


for _name, _ref in {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "cbrt": np.cbrt, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh, "erf": lambda x: _special().erf(x),
    "erfc": lambda x: _special().erfc(x),
    "logistic": lambda x: _special().expit(x),
}.items():
    _elementwise(_name, _ref, 1, operand="float", vjp=_unary(_UNARY_FLOAT_VJP[_name]))

for _name, _ref in {
    "neg": np.negative, "abs": np.absolute, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "trunc": np.trunc, "rint": np.rint, "reciprocal": np.reciprocal,
}.items():
    _elementwise(_name, _ref, 1, vjp=_UNARY_VJP[_name])

_elementwise("not", np.invert, 1, operand="int", doc="bitwise not; logical not on bool")
for _name, _ref in {"isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
                    "signbit": np.signbit}.items():
    _elementwise(_name, _ref, 1, result="bool")



def _max_vjp(fmax: bool, sign: int) -> VjpFn:
    """max/min (sign -1 turns max into min): the larger operand gets ``g``, a tie gives half to
    each; NaN goes to the NaN operand (max/min propagate it), to the other one for fmax/fmin."""
    def rule(g: Node, n: Node) -> list[Node | None]:
        x, y = n.args
        gt = make("gt" if sign > 0 else "lt", x, y)
        nan_x, nan_y = make("ne", x, x), make("ne", y, y)
        wins_x = make("or", gt, nan_y if fmax else make("and", nan_x, make("not", nan_y)))
        wins_y = make("or", make("gt" if sign > 0 else "lt", y, x), nan_x if fmax else nan_y)
        half = bd.where(make("eq", x, y), bd.mul(g, _c(0.5, g)), bd.zeros(g))
        return [bd.where(wins_x, g, half), bd.where(wins_y, g, half)]
    return rule


_POWERS = {1.0: lambda x: x, 2.0: lambda x: bd.mul(x, x), 0.5: lambda x: bd.unary("sqrt", x),
           -1.0: lambda x: bd.div(_c(1, x), x), -2.0: lambda x: bd.div(_c(1, x), bd.mul(x, x))}


def _pow_vjp(g: Node, n: Node) -> list[Node | None]:
    """d/dx = y x^(y-1), spelled without pow for the common constant exponents (x**2 -> 2x: a
    pow per element would cost more than the rest of a layer norm's backward); d/dy = x^y log x."""
    x, y = n.args
    c = bd.splat_value(y)
    if c is not None:
        if c in (0.0, 1.0):
            return [None if c == 0 else g, None]
        power = _POWERS.get(c - 1.0, lambda x: make("pow", x, _c(c - 1.0, x)))
        return [bd.scaled(g, bd.mul(_c(c, x), power(x))), None]
    dx = bd.scaled(g, bd.mul(y, make("pow", x, bd.sub(y, _c(1, y)))))  # x**0: derivative 0 even at x = 0
    zero = make("eq", x, bd.zeros(x))
    dy = bd.where(zero, bd.zeros(x), bd.mul(g, bd.mul(n, bd.unary("log", bd.where(zero, _c(1, x), x)))))
    return [dx, dy]


def _copysign_vjp(g: Node, n: Node) -> list[Node | None]:
    x, y = n.args
    flips = make("ne", make("signbit", x), make("signbit", y))
    d = bd.where(make("eq", x, bd.zeros(x)), bd.zeros(g), bd.where(flips, bd.neg(g), g))  # like abs'(0) = 0
    return [d, None]


def _remainder_vjp(rounding: str) -> VjpFn:
    """x - round(x / y) * y with a piecewise-constant quotient: d/dx = 1, d/dy = -round(x / y)."""
    return lambda g, n: [g, bd.neg(bd.mul(g, bd.unary(rounding, bd.div(*n.args))))]


def _hypot_vjp(g: Node, n: Node) -> list[Node | None]:
    zero = make("eq", n, bd.zeros(n))  # at the origin the gradient is 0 (like norm at 0)
    safe = bd.where(zero, _c(1, n), n)
    return [bd.where(zero, bd.zeros(n), bd.mul(g, bd.div(a, safe))) for a in n.args]


def _atan2_vjp(g: Node, n: Node) -> list[Node | None]:
    y, x = n.args
    r2 = bd.add(bd.mul(x, x), bd.mul(y, y))
    return [bd.mul(g, bd.div(x, r2)), bd.neg(bd.mul(g, bd.div(y, r2)))]


_BINARY_VJP: dict[str, VjpFn] = {
    "add": lambda g, n: [g, g],
    "sub": lambda g, n: [g, bd.neg(g)],
    "mul": lambda g, n: [bd.scaled(g, n.args[1]), bd.scaled(g, n.args[0])],
    "div": lambda g, n: [bd.div(g, n.args[1]), bd.neg(bd.div(bd.mul(g, n), n.args[1]))],
    "floordiv": _zero_gradient, "mod": _remainder_vjp("floor"), "fmod": _remainder_vjp("trunc"),
    "pow": _pow_vjp, "max": _max_vjp(False, 1), "min": _max_vjp(False, -1),
    "fmax": _max_vjp(True, 1), "fmin": _max_vjp(True, -1),
    "atan2": _atan2_vjp, "hypot": _hypot_vjp, "copysign": _copysign_vjp,
}

for _name, _ref in {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "fmod": np.fmod, "pow": np.power, "max": np.maximum,
    "min": np.minimum, "fmax": np.fmax, "fmin": np.fmin,
}.items():
    _elementwise(_name, _ref, 2, vjp=_BINARY_VJP[_name])
for _name, _ref in {"atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign}.items():
    _elementwise(_name, _ref, 2, operand="float", vjp=_BINARY_VJP[_name])
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


def _where_vjp(g: Node, n: Node) -> list[Node | None]:
    c = n.args[0]
    return [None, bd.where(c, g, bd.zeros(g)), bd.where(c, bd.zeros(g), g)]


register(OpDef("where", 3, "elementwise", _infer_where, lambda c, x, y: np.where(c, x, y), vjp=_where_vjp))


def _infer_cast(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(np.dtype(attrs["dtype"]), types[0].shape)


def _ref_cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(dtype)


def _cast_vjp(g: Node, n: Node) -> list[Node | None]:
    src = n.args[0].dtype  # float -> int has derivative 0 (and ints get none)
    return [make("cast", g, dtype=src) if is_float(src) and is_float(n.dtype) else None]


register(OpDef("cast", 1, "elementwise", _infer_cast, _ref_cast, ("dtype",),
               doc="NumPy astype (unsafe casting)", vjp=_cast_vjp))


# ---- sources -------------------------------------------------------------------------------

def _no_infer(name: str) -> Any:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        raise IRTypeError(f"{name} nodes carry their type; build them with fusejit.ir.graph")
    return infer


register(OpDef("input", 0, "source", _no_infer("input"), lambda: None, doc="a graph parameter", nondiff=True))
register(OpDef("constant", 0, "source", lambda types, attrs: TensorType(attrs["value"].dtype, attrs["value"].shape),
               lambda value: value, ("value",), nondiff=True))


def _infer_numel(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    return TensorType(np.dtype(attrs["dtype"]), ())


def _ref_numel(x: np.ndarray, axes: list[int], dtype: np.dtype) -> np.ndarray:
    return np.array(int(np.prod([x.shape[a] for a in axes], dtype=np.int64)), dtype=dtype)


register(OpDef("numel", 1, "source", _infer_numel, _ref_numel, ("axes", "dtype"), nondiff=True,
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


def _broadcast_vjp(g: Node, n: Node) -> list[Node | None]:
    src, lead = n.args[0].shape, n.ndim - n.args[0].ndim  # sum the new and the stretched dims
    axes = list(range(lead)) + [lead + i for i, d in enumerate(src) if d == 1 and n.shape[lead + i] != 1]
    s = bd.reduce_sum(g, axes)
    return [s if s.shape == src else make("reshape", s, shape=list(src))]


register(OpDef("broadcast", 1, "layout", _infer_broadcast,
               lambda x, shape: np.broadcast_to(x, tuple(shape)), ("shape",),
               doc="NumPy broadcast_to: right-aligned, size-1 dims stretched", vjp=_broadcast_vjp))


def _infer_transpose(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    perm, src = list(attrs["perm"]), types[0].shape
    if sorted(perm) != list(range(len(src))):
        raise IRTypeError(f"transpose: perm {perm} is not a permutation of {len(src)} axes")
    return TensorType(types[0].dtype, tuple(src[p] for p in perm))


register(OpDef("transpose", 1, "layout", _infer_transpose,
               lambda x, perm: np.transpose(x, perm), ("perm",),
               vjp=lambda g, n: [make("transpose", g, perm=[int(i) for i in np.argsort(n.attrs["perm"])])]))


def _infer_reshape(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    src, shape = types[0].shape, tuple(attrs["shape"])
    if Size.of(src) != Size.of(shape):
        raise IRTypeError(f"reshape: cannot reshape {format_shape(src)} into {format_shape(shape)}")
    return TensorType(types[0].dtype, shape)


register(OpDef("reshape", 1, "layout", _infer_reshape,
               lambda x, shape: np.reshape(x, tuple(shape)), ("shape",), doc="row-major reshape",
               vjp=lambda g, n: [make("reshape", g, shape=list(n.args[0].shape))]))


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


def _slice_attrs(n: Node) -> dict[str, Any]:
    return {k: n.attrs[k] for k in ("starts", "stops", "steps")}


register(OpDef("slice", 1, "layout", _infer_slice,
               lambda x, starts, stops, steps: x[as_slices(starts, stops, steps)],
               ("starts", "stops", "steps"), doc="strided slice; stops are exclusive",
               vjp=lambda g, n: [make("update_slice", bd.zeros(n.args[0]), g, **_slice_attrs(n))]))


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


def _concat_vjp(g: Node, n: Node) -> list[Node | None]:
    axis, start, out = n.attrs["axis"], 0, []
    for a in n.args:
        size = a.shape[axis]
        starts = [start if i == axis else 0 for i in range(n.ndim)]
        stops = [start + size if i == axis else d for i, d in enumerate(n.shape)]
        out.append(make("slice", g, starts=starts, stops=stops, steps=[1] * n.ndim))
        start += size
    return out


register(OpDef("concat", None, "layout", _infer_concat,
               lambda *xs, axis: np.concatenate(xs, axis=axis), ("axis",), vjp=_concat_vjp))


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


def _update_slice_vjp(g: Node, n: Node) -> list[Node | None]:
    attrs = _slice_attrs(n)
    return [make("update_slice", g, bd.zeros(n.args[1]), **attrs), make("slice", g, **attrs)]


register(OpDef("update_slice", 2, "layout", _infer_update_slice, _ref_update_slice,
               ("starts", "stops", "steps"), doc="functional `base[slices] = update`", vjp=_update_slice_vjp))


# ---- reductions ----------------------------------------------------------------------------

def _reduce_shape(name: str, src: Shape, axes: list[int]) -> Shape:
    if len(set(axes)) != len(axes) or any(not 0 <= a < len(src) for a in axes):
        raise IRTypeError(f"{name}: bad axes {axes} for shape {format_shape(src)}")
    return tuple(d for i, d in enumerate(src) if i not in axes)


def _sum_vjp(g: Node, n: Node) -> list[Node | None]:
    return [bd.keep_dims(g, n.args[0].shape, list(n.attrs["axes"]))]


def _extreme_vjp(g: Node, n: Node) -> list[Node | None]:
    """max/min: ties share ``g`` evenly; a NaN result sends it to the NaN elements."""
    x, axes = n.args[0], list(n.attrs["axes"])
    wins = make("or", make("eq", x, bd.keep_dims(n, x.shape, axes)), make("ne", x, x))
    count = bd.reduce_sum(make("cast", wins, dtype=x.dtype), axes)
    return [bd.where(wins, bd.keep_dims(bd.div(g, count), x.shape, axes), bd.zeros(x))]


def _prod_vjp(g: Node, n: Node) -> list[Node | None]:
    """d prod / d x_i = product of the others, from exclusive prefix and suffix products (exact
    with zeros, unlike prod / x_i). The reduced axes move last and merge into one line."""
    x, axes = n.args[0], sorted(n.attrs["axes"])
    sizes = [x.shape[a] for a in axes]
    if any(isinstance(d, str) for d in sizes):
        raise GradientError("reduce_prod: the gradient of a product over a dynamic dimension is not supported "
                            "(declare that dimension static)")
    k = int(np.prod(sizes, dtype=np.int64))
    if k == 0:
        return [None]
    keep = [i for i in range(x.ndim) if i not in axes]
    moved = make("transpose", x, perm=keep + axes) if keep + axes != list(range(x.ndim)) else x
    line = make("reshape", moved, shape=[x.shape[i] for i in keep] + [k])
    last, one = line.ndim - 1, bd.splat(1, make("slice", line, starts=[0] * line.ndim,
                                                stops=list(line.shape[:-1]) + [1], steps=[1] * line.ndim))

    def shifted(v: Node) -> Node:  # [1, v_0, ..., v_{k-2}]
        head = make("slice", v, starts=[0] * v.ndim, stops=list(v.shape[:-1]) + [k - 1], steps=[1] * v.ndim)
        return make("concat", one, head, axis=last)

    before = make("cumprod", shifted(line), axis=last)
    after = bd.flip(make("cumprod", shifted(bd.flip(line, last)), axis=last), last)
    others = bd.mul(bd.mul(before, after), bd.keep_dims(g, line.shape, [last]))
    back = make("reshape", others, shape=[x.shape[i] for i in keep + axes])
    inv = [int(i) for i in np.argsort(keep + axes)]
    return [make("transpose", back, perm=inv) if inv != list(range(x.ndim)) else back]


def _reduction(name: str, ufunc: np.ufunc, doc: str, vjp: VjpFn) -> None:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        return TensorType(types[0].dtype, _reduce_shape(name, types[0].shape, list(attrs["axes"])))

    def ref(x: np.ndarray, axes: list[int]) -> np.ndarray:
        fn = BOOL_REDUCTIONS.get(ufunc, ufunc) if x.dtype == BOOL else ufunc
        return np.asarray(fn.reduce(x, axis=tuple(axes), dtype=x.dtype))

    register(OpDef(name, 1, "reduce", infer, ref, ("axes",), doc=doc, vjp=vjp))


BOOL_REDUCTIONS = {np.maximum: np.logical_or, np.minimum: np.logical_and}  # any/all: empty is fine
_reduction("reduce_sum", np.add, "sum over `axes` (removed), accumulating in the operand dtype", _sum_vjp)
_reduction("reduce_prod", np.multiply, "product over `axes`", _prod_vjp)
_reduction("reduce_max", np.maximum, "max over `axes`, NaN-propagating; on bool it is any()", _extreme_vjp)
_reduction("reduce_min", np.minimum, "min over `axes`, NaN-propagating; on bool it is all()", _extreme_vjp)


def _arg_reduction(name: str, fn: Any) -> None:
    def infer(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
        axis = attrs["axis"]
        return TensorType(INT64, _reduce_shape(name, types[0].shape, [axis]))

    register(OpDef(name, 1, "reduce", infer, lambda x, axis: np.asarray(fn(x, axis=axis)), ("axis",), nondiff=True,
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
               doc="batched matrix product [..., M, K] x [..., K, N] -> [..., M, N]",
               vjp=lambda g, n: [make("dot", g, bd.swap_last(n.args[1])), make("dot", bd.swap_last(n.args[0]), g)]))


def _infer_take(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    x, idx = types
    axis = normalize_axis(attrs["axis"], x.ndim)
    if not is_int(idx.dtype):
        raise IRTypeError(f"take: indices must be integers, got {idx.dtype}")
    return TensorType(x.dtype, x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _take_vjp(g: Node, n: Node) -> list[Node | None]:
    x, idx = n.args
    axis = normalize_axis(n.attrs["axis"], x.ndim)
    return [make("scatter_add", g, idx, axis=axis, size=x.shape[axis]), None]


register(OpDef("take", 2, "opaque", _infer_take,
               lambda x, idx, axis: np.take(x, idx, axis=axis), ("axis",),
               doc="gather along `axis`; negative indices wrap, out-of-range is an error", vjp=_take_vjp))


def _infer_scatter_add(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    upd, idx = types
    axis, size, q = attrs["axis"], attrs["size"], idx.ndim
    if not is_int(idx.dtype):
        raise IRTypeError(f"scatter_add: indices must be integers, got {idx.dtype}")
    if not (isinstance(axis, int) and 0 <= axis <= upd.ndim - q) or upd.shape[axis:axis + q] != idx.shape:
        raise IRTypeError(f"scatter_add: updates {format_shape(upd.shape)} do not hold the index shape "
                          f"{format_shape(idx.shape)} at axis {axis}")
    return TensorType(upd.dtype, upd.shape[:axis] + (size,) + upd.shape[axis + q:])


def _ref_scatter_add(upd: np.ndarray, idx: np.ndarray, axis: int, size: int) -> np.ndarray:
    out = np.zeros(upd.shape[:axis] + (size,) + upd.shape[axis + idx.ndim:], upd.dtype)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index out of bounds in scatter_add along axis {axis} with size {size}")
    np.add.at(out, (slice(None),) * axis + (idx,), upd)
    return out


def _scatter_add_vjp(g: Node, n: Node) -> list[Node | None]:
    return [make("take", g, n.args[1], axis=n.attrs["axis"]), None]


register(OpDef("scatter_add", 2, "opaque", _infer_scatter_add, _ref_scatter_add, ("axis", "size"),
               doc="the transpose of take: zeros of `size` along `axis`, each update added at its index "
                   "(repeated indices accumulate, in order)", vjp=_scatter_add_vjp))


# ---- scans ---------------------------------------------------------------------------------

def _scan(name: str, fn: Any, doc: str, vjp: VjpFn) -> None:
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

    register(OpDef(name, 1, "opaque", infer, ref, ("axis",), doc=doc, vjp=vjp))


def _suffix_sum(v: Node, axis: int) -> Node:
    """sum_{j >= i} v_j along ``axis``: a cumsum of the reversed line (static axis); over a dynamic
    axis, total - cumsum + v (same value, rounded differently)."""
    if isinstance(v.shape[axis], int):
        return bd.flip(make("cumsum", bd.flip(v, axis), axis=axis), axis)
    total = bd.keep_dims(make("reduce_sum", v, axes=[axis]), v.shape, [axis])
    return bd.add(bd.sub(total, make("cumsum", v, axis=axis)), v)


def _cumprod_vjp(g: Node, n: Node) -> list[Node | None]:
    """d out_j / d x_i = prod_{k <= j, k != i} x_k. Before a line's first zero z that is
    out_j / x_i (terms j >= z vanish: out_j = 0); at z it is the cumprod with x_z replaced by 1;
    after z every term holds the factor x_z = 0."""
    x, axis = n.args[0], n.attrs["axis"]
    i64 = np.dtype(np.int64)
    is_zero = make("eq", x, bd.zeros(x))
    zeros_so_far = make("cumsum", make("cast", is_zero, dtype=i64), axis=axis)
    before = make("eq", zeros_so_far, bd.zeros(zeros_so_far))
    first = make("and", is_zero, make("eq", zeros_so_far, bd.splat(1, zeros_so_far)))
    plain = bd.div(_suffix_sum(bd.mul(g, n), axis), bd.where(before, x, bd.splat(1, x)))
    at_zero = _suffix_sum(bd.mul(g, make("cumprod", bd.where(first, bd.splat(1, x), x), axis=axis)), axis)
    return [bd.where(before, plain, bd.where(first, at_zero, bd.zeros(x)))]


_scan("cumsum", np.cumsum, "inclusive prefix sum along `axis` in the operand dtype: out[i] = out[i-1] + x[i]",
      lambda g, n: [_suffix_sum(g, n.attrs["axis"])])
_scan("cumprod", np.cumprod, "inclusive prefix product along `axis` in the operand dtype: out[i] = out[i-1] * x[i]",
      _cumprod_vjp)
SCAN_OPS = ("cumsum", "cumprod")


# ---- random bits ---------------------------------------------------------------------------

def _infer_philox(types: list[TensorType], attrs: dict[str, Any]) -> TensorType:
    state, dtype = types[0], np.dtype(attrs["dtype"])
    if state.dtype != np.uint32 or state.shape != (4,):
        raise IRTypeError(f"philox: the state must be u32[4] (key, counter high words), got {state}")
    words = {np.dtype(np.uint32): 4, np.dtype(np.uint64): 2}.get(dtype)
    if words is None or not 0 <= attrs["word"] < words:
        raise IRTypeError(f"philox: dtype must be u32 (word 0-3) or u64 (word 0-1), got {dtype} word {attrs['word']}")
    if not isinstance(attrs["stream"], int) or not 0 <= attrs["stream"] < 2**63:
        raise IRTypeError(f"philox: stream must be a non-negative int, got {attrs['stream']!r}")
    return TensorType(dtype, tuple(attrs["shape"]))


def _ref_philox(state: np.ndarray, shape: list, stream: int, word: int, dtype: np.dtype) -> np.ndarray:
    from .philox import philox_ref

    return philox_ref(state, shape, stream, word, dtype)


# opaque: its operand is read whole (not at the output's index); codegen computes it at each point
register(OpDef("philox", 1, "opaque", _infer_philox, _ref_philox, ("shape", "stream", "word", "dtype"),
               nondiff=True,  # samples carry no gradient
               doc="Philox-4x32-10 random words of `shape`, one block per flat index (see ir/philox.py)"))


from . import conv as _conv  # noqa: E402,F401  (the convolution primitives, in a file of their own)

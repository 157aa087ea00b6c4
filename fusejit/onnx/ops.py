"""ONNX operators as NumPy code with ONNX's semantics: the importer's op table.

Each entry takes an :class:`Node` view (attributes decoded, the model's opset) and the input
values — NumPy arrays (constant subgraphs, initializers: folded eagerly) or fusejit's traced
arrays — and returns the outputs. Traced by ``fusejit.jit`` the same code is the import (see
:mod:`.importer`). An optional input that is absent is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import nn
from ..frontend import OpFn, OpTable


class OnnxImportError(ValueError):
    """A model the importer cannot turn into a fusejit graph (the message names the node)."""


@dataclass
class Node:
    op: str
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    opset: int = 21
    outputs: int = 1

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


OPS = OpTable()
op, unary, binary = OPS.op, OPS.unary, OPS.binary


def ints(v: Any) -> list[int]:
    if v is None:
        return []
    if not isinstance(v, np.ndarray) and hasattr(v, "shape"):
        raise OnnxImportError("an index/shape operand computed from the inputs' values must be a constant")
    return [int(i) for i in np.asarray(v).reshape(-1)]


def _dt(x: Any) -> np.dtype:
    return np.dtype(x.dtype)


def _keep(x: Any, like: Any) -> Any:
    """ONNX keeps the operand dtype where NumPy would promote (Python-scalar math on ints, etc.)."""
    return x if _dt(x) == _dt(like) else x.astype(_dt(like))


# ---- elementwise --------------------------------------------------------------------------------

binary("Add", lambda a, b: a + b)
binary("Sub", lambda a, b: a - b)
binary("Mul", lambda a, b: a * b)
binary("Equal", np.equal)
binary("Greater", np.greater)
binary("GreaterOrEqual", np.greater_equal)
binary("Less", np.less)
binary("LessOrEqual", np.less_equal)
binary("And", np.logical_and)
binary("Or", np.logical_or)
binary("Xor", np.logical_xor)
binary("BitwiseAnd", np.bitwise_and)
binary("BitwiseOr", np.bitwise_or)
binary("BitwiseXor", np.bitwise_xor)
unary("BitwiseNot", np.invert)
unary("Not", np.logical_not)
unary("Neg", np.negative)
unary("Abs", np.abs)
unary("Sign", np.sign)
unary("Floor", np.floor)
unary("Ceil", np.ceil)
unary("Round", np.round)
unary("Sqrt", np.sqrt)
unary("Exp", np.exp)
unary("Log", np.log)
unary("Sin", np.sin)
unary("Cos", np.cos)
unary("Tan", np.tan)
unary("Asin", np.arcsin)
unary("Acos", np.arccos)
unary("Atan", np.arctan)
unary("Sinh", np.sinh)
unary("Cosh", np.cosh)
unary("Tanh", np.tanh)
unary("Asinh", np.arcsinh)
unary("Acosh", np.arccosh)
unary("Atanh", np.arctanh)
unary("IsNaN", np.isnan)
unary("Relu", lambda x: np.maximum(x, np.zeros((), _dt(x))))
unary("Sigmoid", nn.sigmoid)
unary("Softsign", nn.softsign)
unary("Identity", lambda x: x)


@op("Reciprocal")
def _reciprocal(node: Node, xs: list[Any]) -> list[Any]:
    return [_keep(1 / xs[0], xs[0])]


@op("Erf")
def _erf(node: Node, xs: list[Any]) -> list[Any]:
    import scipy.special

    return [scipy.special.erf(xs[0])]


@op("Div")
def _div(node: Node, xs: list[Any]) -> list[Any]:
    a, b = xs
    if _dt(a).kind in "iu":  # ONNX integer division truncates toward zero
        q = np.floor_divide(a, b)
        if _dt(a).kind == "i":
            q = np.where((np.mod(a, b) != 0) & ((a < 0) != (b < 0)), q + 1, q)
        return [q.astype(_dt(a))]
    return [a / b]


@op("Mod")
def _mod(node: Node, xs: list[Any]) -> list[Any]:
    a, b = xs
    return [np.fmod(a, b) if node.get("fmod", 0) else np.mod(a, b)]


@op("Pow")
def _pow(node: Node, xs: list[Any]) -> list[Any]:
    return [_keep(np.power(xs[0], xs[1].astype(_dt(xs[0])) if _dt(xs[0]).kind == "f" else xs[1]), xs[0])]


@op("BitShift")
def _bitshift(node: Node, xs: list[Any]) -> list[Any]:
    fn = np.left_shift if node.get("direction") == "LEFT" else np.right_shift
    return [fn(xs[0], xs[1])]


@op("Max", "Min", "Sum", "Mean")
def _variadic(node: Node, xs: list[Any]) -> list[Any]:
    fn = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add, "Mean": np.add}[node.op]
    acc = xs[0]
    for x in xs[1:]:
        acc = fn(acc, x)
    return [_keep(acc / len(xs), xs[0]) if node.op == "Mean" else acc]


@op("Where")
def _where(node: Node, xs: list[Any]) -> list[Any]:
    return [np.where(xs[0], xs[1], xs[2])]


@op("Clip")
def _clip(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    lo = xs[1] if len(xs) > 1 and xs[1] is not None else node.get("min")
    hi = xs[2] if len(xs) > 2 and xs[2] is not None else node.get("max")
    if lo is not None:
        x = np.maximum(x, np.asarray(lo, _dt(x)) if isinstance(lo, (float, int, np.ndarray)) else lo)
    if hi is not None:
        x = np.minimum(x, np.asarray(hi, _dt(x)) if isinstance(hi, (float, int, np.ndarray)) else hi)
    return [x]


def _f(x: Any, v: float) -> Any:
    return np.asarray(v, _dt(x))


OPS["LeakyRelu"] = lambda node, xs: [np.where(xs[0] < 0, xs[0] * _f(xs[0], node.get("alpha", 0.01)), xs[0])]
OPS["Elu"] = lambda node, xs: [np.where(xs[0] < 0, _f(xs[0], node.get("alpha", 1.0)) * np.expm1(xs[0]), xs[0])]
OPS["Celu"] = lambda node, xs: [np.maximum(xs[0], 0) + np.minimum(
    0, _f(xs[0], node.get("alpha", 1.0)) * np.expm1(xs[0] / _f(xs[0], node.get("alpha", 1.0))))]
OPS["Selu"] = lambda node, xs: [_f(xs[0], node.get("gamma", 1.0507009873554805)) * np.where(
    xs[0] > 0, xs[0], _f(xs[0], node.get("alpha", 1.6732632423543772)) * np.expm1(xs[0]))]
OPS["ThresholdedRelu"] = lambda node, xs: [np.where(xs[0] > _f(xs[0], node.get("alpha", 1.0)), xs[0],
                                                    np.zeros((), _dt(xs[0])))]
OPS["HardSigmoid"] = lambda node, xs: [np.clip(xs[0] * _f(xs[0], node.get("alpha", 0.2)) +
                                               _f(xs[0], node.get("beta", 0.5)), _f(xs[0], 0), _f(xs[0], 1))]
OPS["HardSwish"] = lambda node, xs: [xs[0] * np.clip(xs[0] / _f(xs[0], 6) + _f(xs[0], 0.5), _f(xs[0], 0),
                                                     _f(xs[0], 1))]
OPS["Softplus"] = lambda node, xs: [np.logaddexp(xs[0], _f(xs[0], 0))]
OPS["Mish"] = lambda node, xs: [xs[0] * np.tanh(np.logaddexp(xs[0], _f(xs[0], 0)))]
OPS["PRelu"] = lambda node, xs: [np.where(xs[0] < 0, xs[0] * xs[1], xs[0])]
OPS["Swish"] = lambda node, xs: [xs[0] * nn.sigmoid(xs[0] * _f(xs[0], node.get("alpha", 1.0)))]


@op("Shrink")
def _shrink(node: Node, xs: list[Any]) -> list[Any]:
    x, lam, bias = xs[0], _f(xs[0], node.get("lambd", 0.5)), _f(xs[0], node.get("bias", 0.0))
    return [np.where(x < -lam, x + bias, np.where(x > lam, x - bias, np.zeros((), _dt(x))))]


@op("Gelu")
def _gelu(node: Node, xs: list[Any]) -> list[Any]:
    return [nn.gelu(xs[0], approximate=node.get("approximate", "none") == "tanh")]


@op("IsInf")
def _isinf(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    pos, neg = node.get("detect_positive", 1), node.get("detect_negative", 1)
    return [np.isinf(x) & ((x > 0) if pos and not neg else (x < 0) if neg and not pos else np.isinf(x))
            if pos or neg else np.zeros(np.shape(x), bool) if isinstance(x, np.ndarray) else np.isinf(x) & (x != x)]


# ---- types and structure ------------------------------------------------------------------------


@op("Cast")
def _cast(node: Node, xs: list[Any]) -> list[Any]:
    from .tensors import numpy_dtype

    return [xs[0].astype(numpy_dtype(node.get("to"), f"node {node.name!r}"))]


OPS["CastLike"] = lambda node, xs: [xs[0].astype(_dt(xs[1]))]


@op("Constant")
def _constant(node: Node, xs: list[Any]) -> list[Any]:
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in node.attrs:
            v = node.attrs[key]
            return [np.asarray(v, dtype) if dtype else v]
    raise OnnxImportError(f"node {node.name!r} (Constant): no supported value attribute (strings/sparse are not)")


@op("ConstantOfShape")
def _constant_of_shape(node: Node, xs: list[Any]) -> list[Any]:
    value = node.get("value", np.zeros(1, np.float32))
    return [np.full(tuple(ints(xs[0])), value.reshape(-1)[0], value.dtype)]


@op("Shape")
def _shape(node: Node, xs: list[Any]) -> list[Any]:
    s = tuple(np.shape(xs[0]))
    if any(isinstance(d, str) for d in s):
        return [np.array(list(s), dtype=object)[node.get("start", 0): node.get("end", len(s))]]
    return [np.array(s, np.int64)[node.get("start", 0): node.get("end", len(s))]]


OPS["Size"] = lambda node, xs: [np.array(int(np.prod(np.shape(xs[0]))), np.int64)]


def _shape_arg(v: Any) -> tuple:
    return tuple(d if isinstance(d, str) else int(d) for d in np.asarray(v, dtype=object).reshape(-1))


@op("Reshape")
def _reshape(node: Node, xs: list[Any]) -> list[Any]:
    shape = list(_shape_arg(xs[1]))
    if not node.get("allowzero", 0):
        shape = [np.shape(xs[0])[i] if d == 0 else d for i, d in enumerate(shape)]
    return [np.reshape(xs[0], tuple(shape))]


@op("Flatten")
def _flatten(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    axis = node.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    if all(isinstance(d, int) for d in x.shape):
        return [np.reshape(x, (int(np.prod(x.shape[:axis], dtype=np.int64)), -1))]
    if axis != 1:
        raise OnnxImportError(f"node {node.name!r} (Flatten): axis {axis} over a dynamic dim")
    return [np.reshape(x, (x.shape[0], -1))]


def _axes(node: Node, xs: list[Any], index: int = 1) -> list[int] | None:
    if len(xs) > index and xs[index] is not None:
        return ints(xs[index])
    return list(node.get("axes")) if node.get("axes") is not None else None


@op("Squeeze")
def _squeeze(node: Node, xs: list[Any]) -> list[Any]:
    axes = _axes(node, xs)
    return [np.squeeze(xs[0], axis=tuple(axes)) if axes else np.squeeze(xs[0])]


@op("Unsqueeze")
def _unsqueeze(node: Node, xs: list[Any]) -> list[Any]:
    axes = _axes(node, xs)
    ndim = np.ndim(xs[0]) + len(axes)
    return [np.expand_dims(xs[0], tuple(sorted(a % ndim for a in axes)))]


@op("Transpose")
def _transpose(node: Node, xs: list[Any]) -> list[Any]:
    perm = node.get("perm")
    return [np.transpose(xs[0], perm if perm is not None else None)]


@op("Concat")
def _concat(node: Node, xs: list[Any]) -> list[Any]:
    values = [x for x in xs if x is not None and (not isinstance(x, np.ndarray) or x.size or x.ndim != 1)]
    if any(isinstance(v, np.ndarray) and v.dtype == object for v in values):
        return [np.concatenate([np.asarray(v, dtype=object) for v in values], axis=node.get("axis"))]
    return [np.concatenate(values or xs, axis=node.get("axis"))]


@op("Split")
def _split(node: Node, xs: list[Any]) -> list[Any]:
    x, axis = xs[0], node.get("axis", 0)
    sizes = ints(xs[1]) if len(xs) > 1 and xs[1] is not None else list(node.get("split") or [])
    if not sizes:
        n = node.get("num_outputs", node.outputs)
        total = x.shape[axis]
        size = -(-total // n)
        sizes = [min(size, total - i * size) for i in range(n)]
    return list(np.split(x, np.cumsum(sizes)[:-1].tolist(), axis=axis))


@op("Slice")
def _slice(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    if node.opset < 10:
        starts, ends, axes, steps = node.get("starts"), node.get("ends"), node.get("axes"), None
    else:
        starts, ends = ints(xs[1]), ints(xs[2])
        axes = ints(xs[3]) if len(xs) > 3 and xs[3] is not None else None
        steps = ints(xs[4]) if len(xs) > 4 and xs[4] is not None else None
    axes = list(axes) if axes is not None else list(range(len(starts)))
    steps = steps or [1] * len(starts)
    index: list[Any] = [slice(None)] * np.ndim(x)
    for s, e, a, st in zip(starts, ends, axes, steps):
        dim = x.shape[a]
        if isinstance(dim, str):
            if (s, e, st) in ((0, 2**63 - 1, 1), (0, 2**31 - 1, 1)):
                continue
            raise OnnxImportError(f"node {node.name!r} (Slice): slicing the dynamic dim {dim}")
        lo, hi, _ = slice(max(min(s, 2**62), -(2**62)), max(min(e, 2**62), -(2**62)), st).indices(dim)
        index[a % np.ndim(x)] = slice(lo, hi if hi >= 0 else None, None if st == 1 else st)
    return [x[tuple(index)]]


@op("Gather")
def _gather(node: Node, xs: list[Any]) -> list[Any]:
    params, indices = xs
    axis = node.get("axis", 0)
    if isinstance(params, np.ndarray) and not isinstance(indices, np.ndarray):
        params = np.asarray(params, like=indices)
    if isinstance(indices, np.ndarray):
        indices = np.where(indices < 0, indices + params.shape[axis], indices)
    return [np.take(params, indices, axis=axis)]


@op("GatherElements")
def _gather_elements(node: Node, xs: list[Any]) -> list[Any]:
    params, indices = xs
    axis = node.get("axis", 0)
    if isinstance(indices, np.ndarray):
        indices = np.where(indices < 0, indices + params.shape[axis], indices)
    return [np.take_along_axis(params, indices, axis=axis)]


@op("Expand")
def _expand(node: Node, xs: list[Any]) -> list[Any]:
    shape = np.broadcast_shapes(np.shape(xs[0]), tuple(ints(xs[1])))
    return [np.broadcast_to(xs[0], shape) * np.ones((), _dt(xs[0])) if not isinstance(xs[0], np.ndarray)
            else np.broadcast_to(xs[0], shape).copy()]


OPS["Tile"] = lambda node, xs: [np.tile(xs[0], ints(xs[1]))]


@op("Range")
def _range(node: Node, xs: list[Any]) -> list[Any]:
    start, limit, delta = (np.asarray(x) for x in xs)
    return [np.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)]


@op("Pad")
def _pad(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    pads = ints(xs[1]) if node.opset >= 11 else list(node.get("pads"))
    value = (xs[2] if len(xs) > 2 and xs[2] is not None else None) if node.opset >= 11 else node.get("value", 0.0)
    axes = ints(xs[3]) if len(xs) > 3 and xs[3] is not None else list(range(np.ndim(x)))
    n = len(axes)
    width = [(0, 0)] * np.ndim(x)
    for k, a in enumerate(axes):
        width[a % np.ndim(x)] = (pads[k], pads[k + n])
    if any(p < 0 for pair in width for p in pair):
        raise OnnxImportError(f"node {node.name!r} (Pad): negative pads (cropping) are not supported")
    mode = node.get("mode", "constant")
    if mode == "constant":
        fill = np.asarray(value).reshape(-1)[0] if value is not None else 0
        return [np.pad(x, width, constant_values=fill)]
    return [np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])]


@op("Trilu")
def _trilu(node: Node, xs: list[Any]) -> list[Any]:
    k = ints(xs[1])[0] if len(xs) > 1 and xs[1] is not None else 0
    return [np.triu(xs[0], k) if node.get("upper", 1) else np.tril(xs[0], k)]


@op("EyeLike")
def _eye_like(node: Node, xs: list[Any]) -> list[Any]:
    from .tensors import numpy_dtype

    dtype = numpy_dtype(node.get("dtype"), node.name) if node.get("dtype") is not None else _dt(xs[0])
    n, m = np.shape(xs[0])
    return [np.eye(n, m, k=node.get("k", 0), dtype=dtype)]


@op("OneHot")
def _one_hot(node: Node, xs: list[Any]) -> list[Any]:
    indices, depth, values = xs
    d = int(np.asarray(depth).reshape(-1)[0])
    axis = node.get("axis", -1)
    idx = np.where(indices < 0, indices + d, indices)
    hot = np.expand_dims(idx, -1) == np.arange(d)
    if axis != -1:
        hot = np.moveaxis(hot, -1, axis)
    return [np.where(hot, values[1], values[0])]


@op("DepthToSpace", "SpaceToDepth")
def _depth_space(node: Node, xs: list[Any]) -> list[Any]:
    x, b = xs[0], node.get("blocksize")
    n, c, h, w = x.shape
    if node.op == "SpaceToDepth":
        y = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
        return [y.reshape(n, c * b * b, h // b, w // b)]
    if node.get("mode", "DCR") == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return [y.reshape(n, c // (b * b), h * b, w * b)]


# ---- reductions ---------------------------------------------------------------------------------


def _reduce_axes(node: Node, xs: list[Any]) -> tuple | None:
    axes = _axes(node, xs) if node.opset >= 13 or node.op == "ReduceSum" and node.opset >= 13 else \
        (list(node.get("axes")) if node.get("axes") is not None else None)
    if node.op == "ReduceSum" and node.opset < 13:
        axes = list(node.get("axes")) if node.get("axes") is not None else None
    if not axes:
        return () if node.get("noop_with_empty_axes", 0) else None
    return tuple(a % max(np.ndim(xs[0]), 1) for a in axes)


def _reduction(fn: Callable[..., Any]) -> OpFn:
    def run(node: Node, xs: list[Any]) -> list[Any]:
        axes = _reduce_axes(node, xs)
        if axes == ():
            return [xs[0]]
        return [_keep(fn(xs[0], axis=axes, keepdims=bool(node.get("keepdims", 1))), xs[0])]

    return run


OPS["ReduceSum"] = _reduction(np.sum)
OPS["ReduceMean"] = _reduction(np.mean)
OPS["ReduceMax"] = _reduction(np.max)
OPS["ReduceMin"] = _reduction(np.min)
OPS["ReduceProd"] = _reduction(np.prod)
OPS["ReduceL1"] = _reduction(lambda x, **k: np.sum(np.abs(x), **k))
OPS["ReduceL2"] = _reduction(lambda x, **k: np.sqrt(np.sum(x * x, **k)))
OPS["ReduceSumSquare"] = _reduction(lambda x, **k: np.sum(x * x, **k))
OPS["ReduceLogSum"] = _reduction(lambda x, **k: np.log(np.sum(x, **k)))
OPS["ReduceLogSumExp"] = _reduction(lambda x, **k: _logsumexp(x, **k))


def _logsumexp(x: Any, axis: tuple | None, keepdims: bool) -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros((), _dt(x)))
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@op("ArgMax", "ArgMin")
def _argmax(node: Node, xs: list[Any]) -> list[Any]:
    x, axis = xs[0], node.get("axis", 0)
    fn = np.argmax if node.op == "ArgMax" else np.argmin
    if node.get("select_last_index", 0):
        flipped = np.flip(x, axis=axis)
        out = x.shape[axis] - 1 - fn(flipped, axis=axis)
    else:
        out = fn(x, axis=axis)
    out = out.astype(np.int64)
    return [np.expand_dims(out, axis) if node.get("keepdims", 1) else out]


def _scan(node: Node, xs: list[Any], scan: Callable[..., Any], exclusive: Callable[[Any, Any, int], Any]) -> list[Any]:
    """CumSum/CumProd: ``reverse`` scans the flipped axis; ``exclusive(inclusive, x, axis)`` drops each
    element's own term. The result keeps the operand dtype (NumPy accumulates small ints in int64)."""
    x, axis = xs[0], ints(xs[1])[0]
    if node.get("reverse", 0):
        x = np.flip(x, axis)
    out = scan(x, axis=axis).astype(_dt(x))
    if node.get("exclusive", 0):
        out = exclusive(out, x, axis)
    return [np.flip(out, axis) if node.get("reverse", 0) else out]


def _shifted_by_one(out: Any, x: Any, axis: int) -> Any:
    ones = np.ones_like(np.take(x, [0], axis=axis))
    return np.concatenate([ones, np.take(out, np.arange(x.shape[axis] - 1), axis=axis)], axis=axis)


OPS["CumSum"] = lambda node, xs: _scan(node, xs, np.cumsum, lambda out, x, axis: out - x)
OPS["CumProd"] = lambda node, xs: _scan(node, xs, np.cumprod, _shifted_by_one)


from . import ops_nn  # noqa: E402,F401 - registers the neural-network ops in OPS

__all__ = ["Node", "OPS", "OnnxImportError"]

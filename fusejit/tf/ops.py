"""TensorFlow ops as NumPy code, with TensorFlow's semantics: the importer's op table.

Each entry takes the ``NodeDef`` (for its attributes) and its input values and returns its
outputs. The values are NumPy arrays (constant subgraphs fold eagerly, as TensorFlow's
``fold_constants`` would) or fusejit's traced arrays (the graph's inputs and what depends on
them): the same code, traced by ``fusejit.jit``, *is* the import, so the IR holds exactly the
primitives the NumPy calls decompose into, and fusion sees through every TF op. Shape vectors
of inputs with unknown (``?``) dims hold the dim's symbol (a ``str``) in an object array; they
pass through ``StridedSlice``/``Pack``/``ConcatV2`` into ``Reshape``/``Fill``; arithmetic on an
unknown dim is refused with the node's name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..frontend import OpFn, OpTable
from .tensors import attr_dtype, attr_value

OPS = OpTable()
op, unary, binary = OPS.op, OPS.unary, OPS.binary


class TFImportError(ValueError):
    """A GraphDef the importer cannot turn into a fusejit graph (the message names the node)."""


def _a(node: Any, name: str, default: Any = None) -> Any:
    return attr_value(node, name, default)


def ints(v: Any) -> list[int]:
    return [int(i) for i in np.asarray(v).reshape(-1)]


def shape_of(v: Any) -> tuple:
    """A shape vector as a tuple of ints and symbols (object arrays carry ``?`` dims as strings)."""
    return tuple(d if isinstance(d, str) else int(d) for d in np.asarray(v, dtype=object).reshape(-1))


def _cast(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x  # a shape vector with symbolic dims stays symbolic
    return x.astype(dtype) if hasattr(x, "astype") else np.asarray(x, dtype)


# ---- structure ----------------------------------------------------------------------------------

for _n in ("Identity", "StopGradient", "Snapshot", "PreventGradient", "CheckNumerics", "EnsureShape"):
    OPS[_n] = lambda node, xs: [xs[0]]
OPS["IdentityN"] = lambda node, xs: list(xs)
OPS["NoOp"] = lambda node, xs: []


@op("Const")
def _const(node: Any, xs: list[Any]) -> list[Any]:
    return [_a(node, "value")]


@op("Cast")
def _cast_op(node: Any, xs: list[Any]) -> list[Any]:
    return [_cast(xs[0], attr_dtype(node, "DstT"))]


@op("Shape")
def _shape(node: Any, xs: list[Any]) -> list[Any]:
    s = tuple(xs[0].shape) if hasattr(xs[0], "shape") else np.shape(xs[0])
    if any(isinstance(d, str) for d in s):
        return [np.array(list(s), dtype=object)]
    return [np.array(s, dtype=attr_dtype(node, "out_type", np.int32))]


@op("Size")
def _size(node: Any, xs: list[Any]) -> list[Any]:
    s = shape_of(_shape(node, xs)[0])
    if any(isinstance(d, str) for d in s):
        raise TFImportError(f"node {node.name!r} (Size): the size depends on the unknown dim(s) of its input")
    return [np.array(int(np.prod(s)), dtype=attr_dtype(node, "out_type", np.int32))]


OPS["Rank"] = lambda node, xs: [np.array(np.ndim(xs[0]), np.int32)]


@op("Reshape")
def _reshape(node: Any, xs: list[Any]) -> list[Any]:
    return [xs[0].reshape(shape_of(xs[1]))]


@op("ExpandDims")
def _expand(node: Any, xs: list[Any]) -> list[Any]:
    return [np.expand_dims(xs[0], ints(xs[1])[0])]


@op("Squeeze")
def _squeeze(node: Any, xs: list[Any]) -> list[Any]:
    axes = list(_a(node, "squeeze_dims", []) or [])
    return [np.squeeze(xs[0], axis=tuple(axes)) if axes else np.squeeze(xs[0])]


OPS["Transpose"] = lambda node, xs: [np.transpose(xs[0], ints(xs[1]))]
OPS["ConcatV2"] = lambda node, xs: [_concat(xs[:-1], ints(xs[-1])[0])]
OPS["Concat"] = lambda node, xs: [_concat(xs[1:], ints(xs[0])[0])]


def _concat(values: list[Any], axis: int) -> Any:
    if all(isinstance(v, np.ndarray) and v.dtype == object for v in values if isinstance(v, np.ndarray)) and \
            any(isinstance(v, np.ndarray) and v.dtype == object for v in values):
        return np.concatenate([np.asarray(v, dtype=object) for v in values], axis=axis)
    return np.concatenate(values, axis=axis)


@op("Pack")
def _pack(node: Any, xs: list[Any]) -> list[Any]:
    if any(isinstance(x, str) or isinstance(x, np.ndarray) and x.dtype == object for x in xs):
        return [np.array([x if isinstance(x, str) else x.item() if hasattr(x, "item") else x for x in xs],
                         dtype=object)]
    return [np.stack(xs, axis=int(_a(node, "axis", 0)))]


@op("Unpack")
def _unpack(node: Any, xs: list[Any]) -> list[Any]:
    axis = int(_a(node, "axis", 0))
    moved = np.moveaxis(xs[0], axis, 0)
    return [moved[i] for i in range(int(_a(node, "num")))]


@op("Split")
def _split(node: Any, xs: list[Any]) -> list[Any]:
    return list(np.split(xs[1], int(_a(node, "num_split")), axis=ints(xs[0])[0]))


@op("SplitV")
def _splitv(node: Any, xs: list[Any]) -> list[Any]:
    sizes, axis = ints(xs[1]), ints(xs[2])[0]
    total = xs[0].shape[axis]
    if -1 in sizes:
        sizes[sizes.index(-1)] = total - (sum(sizes) + 1)
    return list(np.split(xs[0], np.cumsum(sizes)[:-1].tolist(), axis=axis))


OPS["Tile"] = lambda node, xs: [np.tile(xs[0], ints(xs[1]))]


@op("Fill")
def _fill(node: Any, xs: list[Any]) -> list[Any]:
    shape = shape_of(xs[0])
    if any(isinstance(d, str) for d in shape):
        raise TFImportError(f"node {node.name!r} (Fill): a fill of an unknown-size shape; use ZerosLike/OnesLike")
    return [np.full(shape, xs[1], dtype=np.asarray(xs[1]).dtype if isinstance(xs[1], np.ndarray) else None)]


OPS["ZerosLike"] = lambda node, xs: [np.zeros_like(xs[0])]
OPS["OnesLike"] = lambda node, xs: [np.ones_like(xs[0])]


@op("Pad", "PadV2", "MirrorPad")
def _pad(node: Any, xs: list[Any]) -> list[Any]:
    pads = np.asarray(xs[1]).astype(np.int64).tolist()
    if node.op == "MirrorPad":
        mode = {"REFLECT": "reflect", "SYMMETRIC": "symmetric"}[_a(node, "mode")]
        return [np.pad(xs[0], pads, mode=mode)]
    value = xs[2] if node.op == "PadV2" else 0
    return [np.pad(xs[0], pads, constant_values=value)]


@op("Slice")
def _slice(node: Any, xs: list[Any]) -> list[Any]:
    begin, size = ints(xs[1]), ints(xs[2])
    return [xs[0][tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))]]


@op("StridedSlice")
def _strided_slice(node: Any, xs: list[Any]) -> list[Any]:
    """TensorFlow's masks: begin/end masks ignore that bound, ellipsis/new-axis/shrink masks make
    ``...``, ``None`` and integer indices, exactly as Python indexing would."""
    x, begin, end, strides = xs[0], ints(xs[1]), ints(xs[2]), ints(xs[3])
    masks = {m: int(_a(node, m, 0)) for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                              "shrink_axis_mask")}
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if masks["ellipsis_mask"] & bit:
            index.append(Ellipsis)
        elif masks["new_axis_mask"] & bit:
            index.append(None)
        elif masks["shrink_axis_mask"] & bit:
            index.append(b)
        else:
            index.append(slice(None if masks["begin_mask"] & bit else b, None if masks["end_mask"] & bit else e,
                               None if s == 1 else s))
    return [x[tuple(index)]]


@op("GatherV2", "Gather", "ResourceGather")
def _gather(node: Any, xs: list[Any]) -> list[Any]:
    axis = ints(xs[2])[0] if node.op == "GatherV2" else 0
    if int(_a(node, "batch_dims", 0)):
        raise TFImportError(f"node {node.name!r} ({node.op}): batch_dims is not supported")
    params, indices = xs[0], xs[1]
    if isinstance(params, np.ndarray) and not isinstance(indices, np.ndarray):  # a weight table, traced ids
        params = np.asarray(params, like=indices)
    return [np.take(params, indices, axis=axis)]


@op("GatherNd")
def _gather_nd(node: Any, xs: list[Any]) -> list[Any]:
    """``params[indices[..., 0], indices[..., 1], ...]``: the last axis of ``indices`` indexes the leading
    axes of ``params`` (TensorFlow's batch_dims=0 form)."""
    params, indices = xs
    if int(_a(node, "batch_dims", 0)):
        raise TFImportError(f"node {node.name!r} (GatherNd): batch_dims is not supported")
    if isinstance(params, np.ndarray) and not isinstance(indices, np.ndarray):
        params = np.asarray(params, like=indices)
    depth = np.shape(indices)[-1]
    return [params[tuple(indices[..., k] for k in range(depth))]]


@op("Range")
def _range(node: Any, xs: list[Any]) -> list[Any]:
    start, limit, delta = (np.asarray(x).item() for x in xs)
    return [np.arange(start, limit, delta, dtype=attr_dtype(node, "Tidx", np.int32))]


# ---- arithmetic ---------------------------------------------------------------------------------

binary("Add AddV2", lambda a, b: a + b)
binary("Sub", lambda a, b: a - b)
binary("Mul", lambda a, b: a * b)
binary("RealDiv", lambda a, b: a / b)
binary("FloorDiv", np.floor_divide)
binary("FloorMod", np.mod)
binary("Maximum", np.maximum)
binary("Minimum", np.minimum)
binary("Pow", np.power)
binary("SquaredDifference", lambda a, b: np.square(a - b))
binary("Greater", np.greater)
binary("GreaterEqual", np.greater_equal)
binary("Less", np.less)
binary("LessEqual", np.less_equal)
binary("Equal", np.equal)
binary("NotEqual", np.not_equal)
binary("LogicalAnd", np.logical_and)
binary("LogicalOr", np.logical_or)
binary("Atan2", np.arctan2)
unary("LogicalNot", np.logical_not)
unary("Neg", np.negative)
unary("Abs", np.abs)
unary("Sign", np.sign)
unary("Square", np.square)
unary("Sqrt", np.sqrt)
unary("Rsqrt", lambda x: 1 / np.sqrt(x))
unary("Reciprocal Inv", lambda x: 1 / x)
unary("Exp", np.exp)
unary("Expm1", np.expm1)
unary("Log", np.log)
unary("Log1p", np.log1p)
unary("Floor", np.floor)
unary("Ceil", np.ceil)
unary("Round", np.round)
unary("Sin", np.sin)
unary("Cos", np.cos)
unary("Tan", np.tan)
unary("Tanh", np.tanh)
unary("Sigmoid", nn.sigmoid)
unary("Relu", nn.relu)
unary("Relu6", nn.relu6)
unary("Elu", nn.elu)
unary("Selu", nn.selu)
unary("Softplus", nn.softplus)
unary("Softsign", nn.softsign)
unary("IsNan", np.isnan)
unary("IsInf", np.isinf)
unary("IsFinite", np.isfinite)


@op("Erf", "Erfc")
def _erf(node: Any, xs: list[Any]) -> list[Any]:
    import scipy.special

    fn = scipy.special.erf if node.op == "Erf" else scipy.special.erfc
    return [fn(xs[0])]


@op("Div")
def _div(node: Any, xs: list[Any]) -> list[Any]:
    a, b = xs
    if np.dtype(a.dtype).kind in "iu":  # TF's Div on integers truncates toward zero
        q = np.floor_divide(a, b)
        return [np.where((np.mod(a, b) != 0) & ((a < 0) != (b < 0)), q + 1, q)]
    return [a / b]


OPS["LeakyRelu"] = lambda node, xs: [nn.leaky_relu(xs[0], alpha=float(_a(node, "alpha", 0.2)))]


@op("Select")
def _select(node: Any, xs: list[Any]) -> list[Any]:
    cond, a, b = xs
    if np.ndim(cond) == 1 and np.ndim(a) > 1:  # TF1 Select: a vector condition picks whole rows
        cond = np.reshape(cond, (-1,) + (1,) * (np.ndim(a) - 1))
    return [np.where(cond, a, b)]


OPS["SelectV2"] = lambda node, xs: [np.where(xs[0], xs[1], xs[2])]


@op("AddN")
def _addn(node: Any, xs: list[Any]) -> list[Any]:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return [total]


# ---- reductions, matrix products ----------------------------------------------------------------


def _reduction(fn: Callable[..., Any]) -> OpFn:
    def run(node: Any, xs: list[Any]) -> list[Any]:
        axes = tuple(a % max(np.ndim(xs[0]), 1) for a in ints(xs[1]))
        keep = bool(_a(node, "keep_dims", False))
        if isinstance(xs[0], np.ndarray) and xs[0].dtype == object:  # e.g. Prod of a static shape vector
            return [np.asarray(fn(xs[0].astype(np.int64), axis=axes, keepdims=keep)).astype(np.int32)]
        return [fn(xs[0], axis=axes, keepdims=keep)]

    return run


for _n, _fn in (("Sum", np.sum), ("Max", np.max), ("Min", np.min), ("Prod", np.prod), ("Any", np.any),
                ("All", np.all)):
    OPS[_n] = _reduction(_fn)


@op("Mean")
def _mean(node: Any, xs: list[Any]) -> list[Any]:
    x = xs[0]
    out = _reduction(np.mean)(node, xs)[0]
    return [out.astype(x.dtype) if np.dtype(x.dtype).kind in "iu" else out]  # TF keeps an integer dtype


@op("ArgMax", "ArgMin")
def _argmax(node: Any, xs: list[Any]) -> list[Any]:
    fn = np.argmax if node.op == "ArgMax" else np.argmin
    return [fn(xs[0], axis=ints(xs[1])[0]).astype(attr_dtype(node, "output_type", np.int64))]


@op("MatMul")
def _matmul(node: Any, xs: list[Any]) -> list[Any]:
    a, b = xs
    if _a(node, "transpose_a", False):
        a = a.T
    if _a(node, "transpose_b", False):
        b = b.T
    return [a @ b]


@op("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(node: Any, xs: list[Any]) -> list[Any]:
    a, b = xs
    if _a(node, "adj_x", False):
        a = np.swapaxes(a, -1, -2)
    if _a(node, "adj_y", False):
        b = np.swapaxes(b, -1, -2)
    out = np.matmul(a, b)
    return [out.astype(attr_dtype(node, "Tout")) if node.op == "BatchMatMulV3" else out]


# ---- neural-network ops -------------------------------------------------------------------------


def _format(node: Any) -> str:
    return _a(node, "data_format", "NHWC")


OPS["BiasAdd"] = lambda node, xs: [nn.bias_add(xs[0], xs[1], data_format=_format(node))]
OPS["Softmax"] = lambda node, xs: [nn.softmax(xs[0])]
OPS["LogSoftmax"] = lambda node, xs: [nn.log_softmax(xs[0])]


def _padding(node: Any) -> Any:
    padding = _a(node, "padding")
    if padding == "EXPLICIT":
        p = list(_a(node, "explicit_paddings"))
        pairs = [p[i:i + 2] for i in range(0, len(p), 2)]
        return pairs
    return padding


@op("Conv2D")
def _conv2d(node: Any, xs: list[Any]) -> list[Any]:
    return [nn.conv2d(xs[0], xs[1], strides=list(_a(node, "strides")), padding=_padding(node),
                      data_format=_format(node), dilations=list(_a(node, "dilations", [1, 1, 1, 1])))]


@op("DepthwiseConv2dNative")
def _depthwise(node: Any, xs: list[Any]) -> list[Any]:
    return [nn.depthwise_conv2d(xs[0], xs[1], strides=list(_a(node, "strides")), padding=_padding(node),
                                data_format=_format(node), dilations=list(_a(node, "dilations", [1, 1, 1, 1])))]


@op("MaxPool", "AvgPool")
def _pool(node: Any, xs: list[Any]) -> list[Any]:
    fn = nn.max_pool2d if node.op == "MaxPool" else nn.avg_pool2d
    return [fn(xs[0], ksize=list(_a(node, "ksize")), strides=list(_a(node, "strides")), padding=_a(node, "padding"),
               data_format=_format(node))]


@op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _fused_batch_norm(node: Any, xs: list[Any]) -> list[Any]:
    if _a(node, "is_training", True) and not (np.ndim(xs[3]) and np.size(xs[3])):
        raise TFImportError(f"node {node.name!r} ({node.op}): is_training=true computes batch statistics; freeze "
                            "the inference graph (is_training=false)")
    x, scale, offset, mean, var = xs[:5]
    eps = float(_a(node, "epsilon", 1e-3))
    shape = (-1, 1, 1) if _format(node) == "NCHW" else (-1,)
    inv = (scale / np.sqrt(var + np.asarray(eps, np.asarray(var).dtype))).reshape(shape)
    y = (x - np.reshape(mean, shape)) * inv + np.reshape(offset, shape)
    return [y, mean, var, mean, var, np.zeros(0, np.float32)][: 6 if node.op == "FusedBatchNormV3" else 5]


OPS["L2Loss"] = lambda node, xs: [nn.l2_loss(xs[0])]

TRAINING_ONLY = {"VariableV2", "Variable", "VarHandleOp", "Assign", "AssignAdd", "AssignSub", "AssignVariableOp",
                 "ReadVariableOp", "SaveV2", "RestoreV2", "Save", "Restore", "ScalarSummary", "HistogramSummary",
                 "MergeSummary", "MergeV2Checkpoints", "ApplyGradientDescent", "ApplyAdam"}

__all__ = ["OPS", "TRAINING_ONLY", "TFImportError", "shape_of"]

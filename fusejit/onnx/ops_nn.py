"""ONNX's linear-algebra, neural-network, loss, normalization, attention, quantization and window
operators for the op table of :mod:`.ops` (registered on import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..frontend import OpFn
from .ops import OPS, Node, OnnxImportError, _dt, _f, binary, ints, op

# ---- linear algebra and neural-network ops ------------------------------------------------------

binary("MatMul", np.matmul)


@op("Gemm")
def _gemm(node: Node, xs: list[Any]) -> list[Any]:
    a, b = xs[0], xs[1]
    if node.get("transA", 0):
        a = a.T
    if node.get("transB", 0):
        b = b.T
    y = a @ b
    alpha, beta = node.get("alpha", 1.0), node.get("beta", 1.0)
    if alpha != 1.0:
        y = y * _f(y, alpha)
    if len(xs) > 2 and xs[2] is not None:
        y = y + (xs[2] * _f(y, beta) if beta != 1.0 else xs[2])
    return [y]


@op("Einsum")
def _einsum(node: Node, xs: list[Any]) -> list[Any]:
    return [np.einsum(node.get("equation"), *xs)]


def _softmax_like(fn: Callable[..., Any]) -> OpFn:
    def run(node: Node, xs: list[Any]) -> list[Any]:
        x = xs[0]
        axis = node.get("axis", -1 if node.opset >= 13 else 1)
        if node.opset < 13:  # coerced to 2-D at `axis`
            shape = x.shape
            flat = np.reshape(x, (int(np.prod(shape[:axis])), -1))
            return [np.reshape(fn(flat, axis=-1), shape)]
        return [fn(x, axis=axis)]

    return run


OPS["Softmax"] = _softmax_like(lambda x, axis: nn.softmax(x, axis=axis))
OPS["LogSoftmax"] = _softmax_like(lambda x, axis: nn.log_softmax(x, axis=axis))


@op("Hardmax")
def _hardmax(node: Node, xs: list[Any]) -> list[Any]:
    def hard(x: Any, axis: int) -> Any:
        idx = np.argmax(x, axis=axis)
        return (np.expand_dims(idx, axis) == np.arange(x.shape[axis]).reshape(
            [-1 if i == axis % x.ndim else 1 for i in range(x.ndim)])).astype(_dt(x))

    return _softmax_like(hard)(node, xs)


@op("Dropout")
def _dropout(node: Node, xs: list[Any]) -> list[Any]:
    training = len(xs) > 2 and xs[2] is not None and bool(np.asarray(xs[2]).item()) if \
        isinstance(xs[2] if len(xs) > 2 else None, np.ndarray) else False
    if training:
        raise OnnxImportError(f"node {node.name!r} (Dropout): training_mode=true is not supported (inference only)")
    return [xs[0], np.ones(np.shape(xs[0]), bool)][: node.outputs]


def _conv_pads(node: Node, spatial: list[int], kernel: list[int], strides: list[int], dil: list[int]) -> Any:
    auto = node.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        pads = list(node.get("pads") or [0] * (2 * len(spatial))) if auto == "NOTSET" else [0] * (2 * len(spatial))
        n = len(spatial)
        return [[pads[i], pads[i + n]] for i in range(n)]
    out = []
    for size, k, s, d in zip(spatial, kernel, strides, dil):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
        out.append([lo, total - lo])
    return out


@op("Conv")
def _conv(node: Node, xs: list[Any]) -> list[Any]:
    x, w = xs[0], xs[1]
    if np.ndim(x) == 3:  # 1-D convolution as 2-D over a width-1 axis
        flat = Node(node.op, node.name, _with_unit_axis(node.attrs), node.opset, node.outputs)
        return [np.squeeze(_conv(flat, [np.expand_dims(x, -1), np.expand_dims(w, -1), *xs[2:]])[0], -1)]
    if np.ndim(x) != 4:
        raise OnnxImportError(f"node {node.name!r} (Conv): only 2-D convolutions (NCHW) are supported, got rank "
                              f"{np.ndim(x)}")
    kernel = list(w.shape[2:])
    strides = list(node.get("strides") or [1, 1])
    dil = list(node.get("dilations") or [1, 1])
    pads = _conv_pads(node, list(x.shape[2:]), kernel, strides, dil)
    filters = np.transpose(w, (2, 3, 1, 0))  # OIHW -> HWIO
    y = nn.conv2d(x, filters, strides=strides, padding=[[0, 0], [0, 0], *pads], data_format="NCHW",
                  dilations=dil, groups=node.get("group", 1)) if node.get("group", 1) != 1 else \
        nn.conv2d(x, filters, strides=strides, padding=[[0, 0], [0, 0], *pads], data_format="NCHW", dilations=dil)
    if len(xs) > 2 and xs[2] is not None:
        y = y + np.reshape(xs[2], (-1, 1, 1))
    return [y]


def _with_unit_axis(attrs: dict[str, Any]) -> dict[str, Any]:
    """A 1-D conv/pool node's attributes for the same op in 2-D over an added trailing axis of size 1."""
    out = dict(attrs)
    for key in ("kernel_shape", "strides", "dilations"):
        if out.get(key) is not None:
            out[key] = [*out[key], 1]
    if out.get("pads") is not None:
        begin, end = out["pads"]
        out["pads"] = [begin, 0, end, 0]
    return out


def _pool(node: Node, xs: list[Any], kind: str) -> list[Any]:
    x = xs[0]
    if np.ndim(x) == 3:  # 1-D pooling as 2-D over a width-1 axis
        flat = Node(node.op, node.name, _with_unit_axis(node.attrs), node.opset, node.outputs)
        return [np.squeeze(y, -1) for y in _pool(flat, [np.expand_dims(x, -1)], kind)]
    if np.ndim(x) != 4:
        raise OnnxImportError(f"node {node.name!r} ({node.op}): only 2-D pooling (NCHW) is supported")
    if node.get("ceil_mode", 0):
        raise OnnxImportError(f"node {node.name!r} ({node.op}): ceil_mode=1 is not supported")
    kernel = list(node.get("kernel_shape"))
    strides = list(node.get("strides") or [1, 1])
    dil = list(node.get("dilations") or [1, 1])
    if dil != [1, 1]:
        raise OnnxImportError(f"node {node.name!r} ({node.op}): dilations are not supported")
    pads = _conv_pads(node, list(x.shape[2:]), kernel, strides, dil)
    if kind == "max":
        return [nn.max_pool2d(x, kernel, strides, padding=[[0, 0], [0, 0], *pads], data_format="NCHW")]
    if any(p for pair in pads for p in pair) and node.get("count_include_pad", 0):
        padded = np.pad(x, [(0, 0), (0, 0), *pads])
        return [nn.avg_pool2d(padded, kernel, strides, padding="VALID", data_format="NCHW")]
    return [nn.avg_pool2d(x, kernel, strides, padding=[[0, 0], [0, 0], *pads], data_format="NCHW")]


OPS["MaxPool"] = lambda node, xs: _pool(node, xs, "max")[: 1]
OPS["AveragePool"] = lambda node, xs: _pool(node, xs, "avg")
OPS["GlobalAveragePool"] = lambda node, xs: [np.mean(xs[0], axis=tuple(range(2, np.ndim(xs[0]))), keepdims=True)]
OPS["GlobalMaxPool"] = lambda node, xs: [np.max(xs[0], axis=tuple(range(2, np.ndim(xs[0]))), keepdims=True)]


@op("BatchNormalization")
def _batch_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, scale, bias, mean, var = xs[:5]
    if node.get("training_mode", 0):
        raise OnnxImportError(f"node {node.name!r} (BatchNormalization): training_mode=1 is not supported")
    shape = (-1,) + (1,) * (np.ndim(x) - 2)
    eps = _f(x, node.get("epsilon", 1e-5))
    inv = np.reshape(scale / np.sqrt(var + eps), shape)
    return [(x - np.reshape(mean, shape)) * inv + np.reshape(bias, shape)]


@op("InstanceNormalization")
def _instance_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, scale, bias = xs
    axes = tuple(range(2, np.ndim(x)))
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    shape = (-1,) + (1,) * (np.ndim(x) - 2)
    return [(x - mean) / np.sqrt(var + _f(x, node.get("epsilon", 1e-5))) * np.reshape(scale, shape) +
            np.reshape(bias, shape)]


@op("LayerNormalization")
def _layer_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, scale = xs[0], xs[1]
    bias = xs[2] if len(xs) > 2 else None
    axis = node.get("axis", -1) % np.ndim(x)
    axes = tuple(range(axis, np.ndim(x)))
    work = x.astype(np.float32) if _dt(x) == np.float16 else x
    mean = np.mean(work, axis=axes, keepdims=True)
    var = np.mean(np.square(work - mean), axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + np.asarray(node.get("epsilon", 1e-5), _dt(work)))
    y = ((work - mean) * inv).astype(_dt(x)) * scale
    if bias is not None:
        y = y + bias
    return [y, mean, inv][: node.outputs]


@op("LRN")
def _lrn(node: Node, xs: list[Any]) -> list[Any]:
    x, size = xs[0], node.get("size")
    alpha, beta, bias = node.get("alpha", 1e-4), node.get("beta", 0.75), node.get("bias", 1.0)
    sq = np.square(x)
    lo, hi = (size - 1) // 2, size // 2
    padded = np.pad(sq, [(0, 0), (lo, hi)] + [(0, 0)] * (np.ndim(x) - 2))
    c = x.shape[1]
    total = padded[:, 0:c]
    for k in range(1, size):
        total = total + padded[:, k:k + c]
    return [x / np.power(_f(x, bias) + _f(x, alpha / size) * total, _f(x, beta))]


@op("LpNormalization")
def _lp_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, axis, p = xs[0], node.get("axis", -1), node.get("p", 2)
    norm = np.sum(np.abs(x), axis=axis, keepdims=True) if p == 1 else np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return [x / norm]


@op("MeanVarianceNormalization")
def _mvn(node: Node, xs: list[Any]) -> list[Any]:
    x = xs[0]
    axes = tuple(node.get("axes") or [0, 2, 3])
    mean = np.mean(x, axis=axes, keepdims=True)
    std = np.sqrt(np.mean(np.square(x - mean), axis=axes, keepdims=True))
    return [(x - mean) / (std + _f(x, 1e-9))]




# ---- losses, more normalizations, windows -------------------------------------------------------


def _reduce_loss(node: Node, loss: Any, weight_sum: Any) -> Any:
    reduction = node.get("reduction", "mean")
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    return np.sum(loss) / weight_sum


@op("NegativeLogLikelihoodLoss")
def _nll(node: Node, xs: list[Any]) -> list[Any]:
    scores, target = xs[0], xs[1]
    weight = xs[2] if len(xs) > 2 else None
    ignore = node.get("ignore_index")
    return [_nll_of(node, scores, target, weight, ignore)]


def _nll_of(node: Node, scores: Any, target: Any, weight: Any, ignore: int | None) -> Any:
    """``-scores[n, target[n, ...], ...]`` weighted; ``ignore_index`` targets weigh 0."""
    c = scores.shape[1]
    safe = target if ignore is None else np.where(target == ignore, 0, target)
    picked = np.squeeze(np.take_along_axis(scores, np.expand_dims(safe, 1).astype(np.int64), axis=1), axis=1)
    w = np.ones(np.shape(target), _dt(scores)) if weight is None else \
        np.take(np.asarray(weight, like=scores) if isinstance(weight, np.ndarray) else weight, safe)
    if ignore is not None:
        w = np.where(target == ignore, np.zeros((), _dt(scores)), w)
    del c
    loss = -picked * w
    return _reduce_loss(node, loss, np.sum(w)).astype(_dt(scores))


@op("SoftmaxCrossEntropyLoss")
def _sce(node: Node, xs: list[Any]) -> list[Any]:
    scores, target = xs[0], xs[1]
    weight = xs[2] if len(xs) > 2 else None
    logp = nn.log_softmax(scores, axis=1)
    return [_nll_of(node, logp, target, weight, node.get("ignore_index")), logp][: node.outputs]


@op("RMSNormalization")
def _rms_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, scale = xs[0], xs[1]
    axis = node.get("axis", -1) % np.ndim(x)
    axes = tuple(range(axis, np.ndim(x)))
    work = x.astype(np.float32) if _dt(x) == np.float16 else x
    rms = np.sqrt(np.mean(work * work, axis=axes, keepdims=True) + np.asarray(node.get("epsilon", 1e-5), _dt(work)))
    return [(work / rms).astype(_dt(x)) * scale]


@op("GroupNormalization")
def _group_norm(node: Node, xs: list[Any]) -> list[Any]:
    x, scale, bias = xs
    g = node.get("num_groups")
    n, c = x.shape[:2]
    grouped = np.reshape(x, (n, g, -1))
    mean = np.mean(grouped, axis=-1, keepdims=True)
    var = np.mean(np.square(grouped - mean), axis=-1, keepdims=True)
    y = np.reshape((grouped - mean) / np.sqrt(var + _f(x, node.get("epsilon", 1e-5))), x.shape)
    shape = (-1,) + (1,) * (np.ndim(x) - 2)
    return [y * np.reshape(scale, shape) + np.reshape(bias, shape)]


@op("ConvTranspose")
def _conv_transpose(node: Node, xs: list[Any]) -> list[Any]:
    x, w = xs[0], xs[1]
    if np.ndim(x) != 4 or node.get("group", 1) != 1 or node.get("auto_pad", "NOTSET") != "NOTSET" or \
            node.get("output_shape") is not None or any(node.get("dilations") or []) and \
            list(node.get("dilations")) != [1, 1]:
        raise OnnxImportError(f"node {node.name!r} (ConvTranspose): only 2-D, group 1, explicit pads, no "
                              "output_shape/dilations are supported")
    strides = list(node.get("strides") or [1, 1])
    pads = list(node.get("pads") or [0, 0, 0, 0])
    extra = list(node.get("output_padding") or [0, 0])
    kh, kw = w.shape[2:]
    h, wd = x.shape[2:]
    out_h = (h - 1) * strides[0] + kh - pads[0] - pads[2] + extra[0]
    out_w = (wd - 1) * strides[1] + kw - pads[1] - pads[3] + extra[1]
    filters = np.transpose(w, (2, 3, 1, 0))  # (Cin, Cout, kH, kW) -> HW(Cout)(Cin): conv2d_transpose's HWOI
    y = nn.conv2d_transpose(x, filters, output_shape=[x.shape[0], w.shape[1], out_h, out_w], strides=strides,
                            padding=[[0, 0], [0, 0], [pads[0], pads[2]], [pads[1], pads[3]]],
                            data_format="NCHW")
    if len(xs) > 2 and xs[2] is not None:
        y = y + np.reshape(xs[2], (-1, 1, 1))
    return [y]


def _window(fn: Callable[[np.ndarray, int], np.ndarray]) -> OpFn:
    def run(node: Node, xs: list[Any]) -> list[Any]:
        from .tensors import numpy_dtype

        size = ints(xs[0])[0]
        n = size if node.get("periodic", 1) else size - 1
        k = np.arange(size, dtype=np.float64)
        dtype = numpy_dtype(node.get("output_datatype", 1), node.name)
        return [fn(k, n).astype(dtype)]

    return run


OPS["HannWindow"] = _window(lambda k, n: 0.5 - 0.5 * np.cos(2 * np.pi * k / n))
OPS["HammingWindow"] = _window(lambda k, n: 25 / 46 - 21 / 46 * np.cos(2 * np.pi * k / n))
OPS["BlackmanWindow"] = _window(lambda k, n: 0.42 - 0.5 * np.cos(2 * np.pi * k / n) + 0.08 * np.cos(4 * np.pi * k / n))


@op("GatherND")
def _gather_nd(node: Node, xs: list[Any]) -> list[Any]:
    params, indices = xs
    b = node.get("batch_dims", 0)
    if b or not isinstance(indices, np.ndarray):
        raise OnnxImportError(f"node {node.name!r} (GatherND): only constant indices without batch_dims")
    idx = np.where(indices < 0, indices + np.array(params.shape[: indices.shape[-1]]), indices)
    return [params[tuple(np.moveaxis(idx, -1, 0))]]


@op("TopK")
def _topk(node: Node, xs: list[Any]) -> list[Any]:
    k = ints(xs[1])[0]
    axis = node.get("axis", -1)
    if k != 1:
        raise OnnxImportError(f"node {node.name!r} (TopK): k={k}; only k=1 compiles (no sort primitive yet)")
    fn = np.argmax if node.get("largest", 1) else np.argmin
    idx = np.expand_dims(fn(xs[0], axis=axis), axis).astype(np.int64)
    return [np.take_along_axis(xs[0], idx, axis=axis), idx]


def _per_axis(node: Node, v: Any, x: Any) -> Any:
    """A scale/zero point: scalar, or per slice along ``axis`` (block quantization is not supported)."""
    if np.ndim(v) == 0:
        return v
    if node.get("block_size", 0):
        raise OnnxImportError(f"node {node.name!r} ({node.op}): blocked quantization is not supported")
    axis = node.get("axis", 1) % np.ndim(x)
    return np.reshape(v, [-1 if i == axis else 1 for i in range(np.ndim(x))])


@op("QuantizeLinear")
def _quantize(node: Node, xs: list[Any]) -> list[Any]:
    x, scale = xs[0], xs[1]
    zp = xs[2] if len(xs) > 2 and xs[2] is not None else np.zeros((), np.uint8)
    dtype = _dt(zp)
    if dtype.kind not in "iu":
        raise OnnxImportError(f"node {node.name!r} (QuantizeLinear): output type {dtype} is not supported")
    info = np.iinfo(dtype)
    q = np.rint(x / _per_axis(node, scale, x)) + _per_axis(node, zp, x).astype(np.float32)
    return [np.clip(q, info.min, info.max).astype(dtype)]


@op("DequantizeLinear")
def _dequantize(node: Node, xs: list[Any]) -> list[Any]:
    x, scale = xs[0], xs[1]
    zp = xs[2] if len(xs) > 2 and xs[2] is not None else np.zeros((), _dt(x))
    if _dt(x).kind not in "iu":
        raise OnnxImportError(f"node {node.name!r} (DequantizeLinear): input type {_dt(x)} is not supported")
    diff = x.astype(np.int32) - _per_axis(node, zp, x).astype(np.int32)
    return [diff.astype(_dt(scale)) * _per_axis(node, scale, x)]


@op("Attention")
def _attention(node: Node, xs: list[Any]) -> list[Any]:
    """Scaled dot-product attention (opset 23): 3-D inputs split into heads, grouped K/V heads
    repeated, boolean or additive masks, causal masking, softcap, past K/V concatenated."""
    q, k, v = xs[:3]
    mask = xs[3] if len(xs) > 3 else None
    past_k = xs[4] if len(xs) > 4 else None
    past_v = xs[5] if len(xs) > 5 else None
    if node.get("qk_matmul_output_mode", 0) or node.outputs > 3 or node.get("softmax_precision") is not None:
        raise OnnxImportError(f"node {node.name!r} (Attention): qk_matmul_output / softmax_precision are not "
                              "supported")
    three_d = np.ndim(q) == 3
    if three_d:
        hq, hkv = node.get("q_num_heads"), node.get("kv_num_heads")
        b = q.shape[0]
        q = np.transpose(np.reshape(q, (b, q.shape[1], hq, -1)), (0, 2, 1, 3))
        k = np.transpose(np.reshape(k, (b, k.shape[1], hkv, -1)), (0, 2, 1, 3))
        v = np.transpose(np.reshape(v, (b, v.shape[1], hkv, -1)), (0, 2, 1, 3))
    if past_k is not None:
        k = np.concatenate([past_k, k], axis=2)
        v = np.concatenate([past_v, v], axis=2)
    present_k, present_v = k, v
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        k, v = np.repeat(k, groups, axis=1), np.repeat(v, groups, axis=1)
    d = q.shape[-1]
    scale = node.get("scale")
    scale = _f(q, scale if scale is not None else 1 / np.sqrt(d))
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    s, total = scores.shape[-2], scores.shape[-1]
    neg = _f(scores, -np.inf)
    if mask is not None:
        m = mask
        if np.shape(m)[-1] < total:  # a mask shorter than past + current keys: pad as not masked
            pad = [(0, 0)] * (np.ndim(m) - 1) + [(0, total - np.shape(m)[-1])]
            m = np.pad(m, pad, constant_values=(False if _dt(m) == np.bool_ else 0))
        scores = np.where(m, scores, neg) if _dt(m) == np.bool_ else scores + m.astype(_dt(scores))
    if node.get("is_causal", 0):
        offset = total - s
        causal = np.arange(total)[None, :] <= (np.arange(s)[:, None] + offset)
        scores = np.where(causal, scores, neg)
    cap = node.get("softcap", 0.0)
    if cap:
        scores = _f(scores, cap) * np.tanh(scores / _f(scores, cap))
    probs = nn.softmax(scores, axis=-1)
    y = probs @ v
    if three_d:
        y = np.reshape(np.transpose(y, (0, 2, 1, 3)), (y.shape[0], y.shape[2], -1))
    return [y, present_k, present_v][: node.outputs]

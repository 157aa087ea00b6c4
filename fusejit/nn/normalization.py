"""Normalizations (``tf.nn`` names) as NumPy expressions: batch and layer norm fuse into row kernels."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._prim import NNError


def moments(x: Any, axes: Any, keepdims: bool = False) -> tuple[Any, Any]:
    """(mean, variance) over ``axes``; the variance is the biased one (divided by the count)."""
    axes = tuple(axes)
    mean = np.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = np.mean(d * d, axis=axes, keepdims=keepdims)
    return (mean if keepdims else np.squeeze(mean, axes)), var


def batch_normalization(x: Any, mean: Any, variance: Any, offset: Any, scale: Any, variance_epsilon: float) -> Any:
    """(x - mean) / sqrt(variance + eps) * scale + offset (``offset``/``scale`` may be None)."""
    inv = 1 / np.sqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    y = (x - mean) * inv
    return y + offset if offset is not None else y


def fused_batch_norm(x: Any, scale: Any, offset: Any, mean: Any = None, variance: Any = None,
                     epsilon: float = 0.001, data_format: str = "NHWC", is_training: bool = True,
                     exponential_avg_factor: float = 1.0) -> tuple[Any, Any, Any]:
    """``tf.compat.v1.nn.fused_batch_norm``: (y, mean, variance) over every axis but the channels.
    Training normalizes with the batch statistics and returns the batch mean and the unbiased
    (n - 1) variance, blended into ``mean``/``variance`` by ``exponential_avg_factor`` when it is
    not 1; inference normalizes with ``mean``/``variance`` and returns them."""
    if data_format not in ("NHWC", "NCHW"):
        raise NNError(f"fusejit.nn.fused_batch_norm: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    if np.ndim(x) != 4:
        raise NNError(f"fusejit.nn.fused_batch_norm: x must be 4-d ({data_format}), got shape {np.shape(x)}")
    axes = (0, 1, 2) if data_format == "NHWC" else (0, 2, 3)
    shape = (1, 1, 1, -1) if data_format == "NHWC" else (1, -1, 1, 1)

    def chan(v: Any) -> Any:
        return np.reshape(v, shape)

    if not is_training:
        if mean is None or variance is None:
            raise NNError("fusejit.nn.fused_batch_norm: inference (is_training=False) needs mean and variance")
        return batch_normalization(x, chan(mean), chan(variance), chan(offset), chan(scale), epsilon), mean, variance
    bm, bv = moments(x, axes)
    n = np.size(x) // np.shape(x)[3 if data_format == "NHWC" else 1]
    y = batch_normalization(x, chan(bm), chan(bv), chan(offset), chan(scale), epsilon)
    unbiased = bv * (n / np.maximum(n - 1, 1))
    if exponential_avg_factor != 1.0 and mean is not None and variance is not None:
        f = exponential_avg_factor
        return y, (1 - f) * mean + f * bm, (1 - f) * variance + f * unbiased
    return y, bm, unbiased


def layer_norm(x: Any, scale: Any = None, offset: Any = None, axis: Any = -1, epsilon: float = 1e-5) -> Any:
    """Normalize over ``axis`` (an int or a tuple) with the biased variance, then scale and shift."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    mean, var = moments(x, axes, keepdims=True)
    return batch_normalization(x, mean, var, offset, scale, epsilon)


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12) -> Any:
    """x / sqrt(max(sum(x^2 over axis), epsilon))."""
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), epsilon))


def local_response_normalization(input: Any, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0,
                                 beta: float = 0.5) -> Any:
    """input / (bias + alpha * sqr_sum) ** beta, sqr_sum over the 2 r + 1 channels around each one
    (the last axis, NHWC), zero past the ends."""
    if np.ndim(input) != 4:
        raise NNError(f"fusejit.nn.local_response_normalization: input must be 4-d NHWC, got shape {np.shape(input)}")
    r = int(depth_radius)
    c = np.shape(input)[3]
    sq = np.pad(input * input, ((0, 0), (0, 0), (0, 0), (r, r)))
    total = sq[..., 0:c]
    for k in range(1, 2 * r + 1):
        total = total + sq[..., k:k + c]
    return input / (bias + alpha * total) ** beta

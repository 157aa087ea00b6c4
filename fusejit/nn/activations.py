"""Activations (``tf.nn`` names) as NumPy expressions: inside ``jit`` they fuse with their neighbours.

Constants are Python floats, so the result keeps the input's float dtype (NEP 50), as in TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(features: Any) -> Any:
    return np.maximum(features, 0)


def relu6(features: Any) -> Any:
    return np.minimum(np.maximum(features, 0), 6)


def leaky_relu(features: Any, alpha: float = 0.2) -> Any:
    return np.where(features > 0, features, features * alpha)


def elu(features: Any) -> Any:
    return np.where(features > 0, features, np.expm1(np.minimum(features, 0)))


def selu(features: Any) -> Any:
    return SELU_SCALE * np.where(features > 0, features, SELU_ALPHA * np.expm1(np.minimum(features, 0)))


def sigmoid(x: Any) -> Any:
    from scipy.special import expit

    return expit(x)


def tanh(x: Any) -> Any:
    return np.tanh(x)


def softplus(features: Any) -> Any:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(features, 0) + np.log1p(np.exp(-np.abs(features)))


def softsign(features: Any) -> Any:
    return features / (1 + np.abs(features))


def silu(features: Any, beta: float = 1.0) -> Any:
    """x * sigmoid(beta * x) (``tf.nn.silu``, also called swish)."""
    return features * sigmoid(features * beta) if beta != 1.0 else features * sigmoid(features)


swish = silu


def gelu(features: Any, approximate: bool = False) -> Any:
    """0.5 x (1 + erf(x / sqrt 2)); ``approximate``: the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate:
        cube = features * features * features
        return 0.5 * features * (1 + np.tanh(0.7978845608028654 * (features + 0.044715 * cube)))
    from scipy.special import erf

    return 0.5 * features * (1 + erf(features * 0.7071067811865476))


def softmax(logits: Any, axis: int = -1) -> Any:
    e = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(logits: Any, axis: int = -1) -> Any:
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

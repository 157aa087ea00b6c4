"""Losses with TensorFlow's names and formulas (the numerically stable forms ``tf.nn`` documents).

The ``tf.compat.v1.losses`` ones (``huber_loss``, ``mean_squared_error``) reduce as TensorFlow's
default does: the weighted sum divided by the number of non-zero weights (the mean when
``weights`` is 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import log_softmax


def softmax_cross_entropy_with_logits(labels: Any, logits: Any, axis: int = -1) -> Any:
    """-sum(labels * log_softmax(logits)) over ``axis``; ``labels`` are probabilities."""
    return -np.sum(labels * log_softmax(logits, axis), axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels: Any, logits: Any) -> Any:
    """``logits`` [..., classes], integer ``labels`` [...]: logsumexp(logits) - logits[label]. A label
    outside [0, classes) is an error (an out-of-bounds gather), as on TensorFlow's CPU."""
    classes = np.shape(logits)[-1]
    idx = np.where(labels < 0, classes, labels)  # negative labels must not wrap around
    picked = np.take_along_axis(log_softmax(logits), np.expand_dims(idx, -1), axis=-1)
    return -np.squeeze(picked, -1)


def sigmoid_cross_entropy_with_logits(labels: Any, logits: Any) -> Any:
    """max(x, 0) - x z + log(1 + exp(-|x|))."""
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def weighted_cross_entropy_with_logits(labels: Any, logits: Any, pos_weight: Any) -> Any:
    """(1 - z) x + (1 + (q - 1) z) (log(1 + exp(-|x|)) + max(-x, 0))."""
    log_weight = 1 + (pos_weight - 1) * labels
    return (1 - labels) * logits + log_weight * (np.log1p(np.exp(-np.abs(logits))) + np.maximum(-logits, 0))


def l2_loss(t: Any) -> Any:
    """sum(t ** 2) / 2."""
    return np.sum(t * t) / 2


def _reduce_weighted(losses: Any, weights: Any) -> Any:
    """TensorFlow's SUM_BY_NONZERO_WEIGHTS: sum(weights * losses) / count(weights != 0) (0 if none)."""
    if isinstance(weights, (int, float)):
        total = np.sum(losses * weights)
        return total / np.size(losses) if weights != 0 else total * 0
    w = np.broadcast_to(weights, np.shape(losses))
    total = np.sum(losses * w)
    count = np.sum(np.not_equal(w, 0))
    return np.where(count > 0, total / np.maximum(count, 1), total * 0)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0) -> Any:
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta); e = predictions - labels."""
    err = np.abs(predictions - labels)
    quad = np.minimum(err, delta)
    return _reduce_weighted(0.5 * quad * quad + delta * (err - quad), weights)


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0) -> Any:
    d = predictions - labels
    return _reduce_weighted(d * d, weights)

"""Gradient clipping with TensorFlow's formulas (``tf.clip_by_*``, ``tf.linalg.global_norm``).

Plain NumPy expressions, so they run eagerly and inside ``@fusejit.jit`` (where they fuse with the
gradient and the optimizer's update). A ``None`` in a list (no gradient) stays ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any) -> Any:
    """``min(max(t, clip_value_min), clip_value_max)`` elementwise (NaN stays NaN)."""
    return np.minimum(np.maximum(t, clip_value_min), clip_value_max)


def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None) -> Any:
    """``t · clip_norm / max(‖t‖₂, clip_norm)``, the norm over ``axes`` (all by default). A zero
    ``t`` stays zero (the norm's square root is never taken at 0, as in TensorFlow)."""
    l2sum = np.sum(t * t, axis=axes, keepdims=True)
    positive = l2sum > 0
    norm = np.where(positive, np.sqrt(np.where(positive, l2sum, 1)), l2sum)
    return t * clip_norm / np.maximum(norm, clip_norm)


def clip_by_average_norm(t: Any, clip_norm: Any) -> Any:
    """TF1's ``clip_by_average_norm``: clip so that ``‖t‖₂ / t.size <= clip_norm``:
    ``t · clip_norm · min(size / ‖t‖₂, 1 / clip_norm)``."""
    inv = 1 / np.sqrt(np.sum(t * t))
    return t * clip_norm * np.minimum(inv * np.size(t), 1 / np.asarray(clip_norm, dtype=inv.dtype))


def global_norm(t_list: Sequence[Any]) -> Any:
    """``sqrt(Σ ‖t‖₂²)`` over the tensors of ``t_list`` (``None``s ignored)."""
    present = [t for t in t_list if t is not None]
    if not present:
        raise ValueError("global_norm: t_list holds no tensors")
    total = np.sum(present[0] * present[0])
    for t in present[1:]:
        total = total + np.sum(t * t)
    return np.sqrt(total)


def clip_by_global_norm(t_list: Sequence[Any], clip_norm: Any, use_norm: Any = None) -> tuple[list[Any], Any]:
    """``([t · clip_norm / max(global_norm, clip_norm) ...], global_norm)``. If the norm is inf or
    NaN every clipped tensor is NaN (TensorFlow's rule: an overflowed gradient is not quietly
    turned into zeros)."""
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else use_norm
    scale = clip_norm * np.minimum(1 / norm, 1 / np.asarray(clip_norm, dtype=getattr(norm, "dtype", np.float64)))
    with np.errstate(invalid="ignore"):  # inf - inf: the NaN is the point
        scale = scale + (norm - norm)  # NaN when the norm is not finite
    return [None if t is None else t * scale.astype(t.dtype) for t in t_list], norm

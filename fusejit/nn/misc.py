"""``bias_add``, ``embedding_lookup``, ``one_hot``, ``top_k``, ``in_top_k`` as NumPy expressions."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tracer.array import TracedArray
from ._prim import NNError


def bias_add(value: Any, bias: Any, data_format: str | None = None) -> Any:
    """``value + bias`` along the channel axis (last; the second with ``data_format`` 'NC...')."""
    if np.ndim(bias) != 1:
        raise NNError(f"fusejit.nn.bias_add: bias must be 1-d, got shape {np.shape(bias)}")
    if data_format is not None and data_format.startswith("NC"):
        return value + np.reshape(bias, (-1,) + (1,) * (np.ndim(value) - 2))
    return value + bias


def embedding_lookup(params: Any, ids: Any) -> Any:
    """Rows ``params[ids]`` (one table; an id outside [0, rows) is an error, never a wrap-around)."""
    rows = np.shape(params)[0]
    return np.take(params, np.where(ids < 0, rows, ids), axis=0)


def one_hot(indices: Any, depth: int, on_value: Any = 1.0, off_value: Any = 0.0, axis: int = -1,
            dtype: Any = np.float32) -> Any:
    """``tf.one_hot``: ``on_value`` where the new axis equals the index, ``off_value`` elsewhere
    (an index outside [0, depth) gives a row of ``off_value``)."""
    hot = np.expand_dims(indices, -1) == np.arange(depth)
    out = np.where(hot, np.asarray(on_value, dtype), np.asarray(off_value, dtype))
    return out if axis == -1 else np.moveaxis(out, -1, axis)


def top_k(input: Any, k: int = 1, sorted: bool = True) -> tuple[Any, Any]:
    """(values, indices) of the ``k`` largest entries of the last axis, largest first, earlier index
    first among equal values. Traced code has no sort primitive: there only ``k == 1`` (argmax)."""
    if isinstance(input, TracedArray):
        if k != 1:
            raise NNError(f"fusejit.nn.top_k with k={k} inside jit: fusejit has no sort primitive yet; "
                          "k=1 (argmax) is supported, or call top_k outside the jitted function")
        idx = np.argmax(input, axis=-1)[..., None]
        return np.take_along_axis(input, idx, axis=-1), idx.astype(np.int32)
    x = np.asarray(input)
    # a stable ascending sort of the reversed row, read backwards: descending, ties by first index
    idx = x.shape[-1] - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    return np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)


def in_top_k(predictions: Any, targets: Any, k: int) -> Any:
    """``tf.compat.v1.nn.in_top_k``: is ``predictions[i, targets[i]]`` among the ``k`` largest of row
    ``i``? Ties at the boundary count as in; a non-finite prediction or an out-of-range target is not."""
    classes = np.shape(predictions)[-1]
    valid = (targets >= 0) & (targets < classes)
    t = np.take_along_axis(predictions, np.where(valid, targets, 0)[:, None], axis=-1)
    above = np.sum(predictions > t, axis=-1)
    return valid & (above < k) & np.isfinite(t[:, 0])

"""Initializers with Keras's definitions and defaults, drawn from ``fusejit.random`` keys.

Each is a function ``name(shape, ..., seed=None, dtype=np.float32)`` returning a NumPy array (to
pass to ``fusejit.Variable``); ``seed`` is an int or a ``fusejit.random`` key, so the same seed
gives the same bits on any machine and thread count, eagerly or inside jit. ``seed=None`` draws
fresh entropy (as an unseeded TensorFlow initializer does). Fans follow Keras: a 2-d ``(in, out)``
kernel has ``fan_in = in``; a convolution filter (HWIO, ``(..., in, out)``) multiplies both by its
receptive field ``prod(shape[:-2])``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import random as fjr

_TRUNC_STD = 0.87962566103423978  # std of the standard normal truncated to [-2, 2] (Keras's constant)


def _key(seed: Any) -> Any:
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    return fjr.key(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else seed


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros(shape: Any, dtype: Any = np.float32) -> np.ndarray:
    return np.zeros(_shape(shape), dtype=dtype)


def ones(shape: Any, dtype: Any = np.float32) -> np.ndarray:
    return np.ones(_shape(shape), dtype=dtype)


def constant(shape: Any, value: Any = 0.0, dtype: Any = np.float32) -> np.ndarray:
    """``value`` (a scalar, or an array broadcast to ``shape``)."""
    return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), _shape(shape)))


def random_normal(shape: Any, mean: float = 0.0, stddev: float = 0.05, seed: Any = None,
                  dtype: Any = np.float32) -> Any:
    return (fjr.normal(_key(seed), _shape(shape), dtype) * dtype(stddev) + dtype(mean)).astype(dtype)


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 0.05, seed: Any = None,
                     dtype: Any = np.float32) -> Any:
    """Normal samples restricted to two standard deviations around ``mean`` (TensorFlow's rule)."""
    z = fjr.truncated_normal(_key(seed), -2.0, 2.0, _shape(shape), dtype)
    return (z * dtype(stddev) + dtype(mean)).astype(dtype)


def random_uniform(shape: Any, minval: float = -0.05, maxval: float = 0.05, seed: Any = None,
                   dtype: Any = np.float32) -> Any:
    return fjr.uniform(_key(seed), _shape(shape), dtype, minval, maxval)


def fans(shape: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` as Keras computes them."""
    shape = _shape(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def variance_scaling(shape: Any, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                     seed: Any = None, dtype: Any = np.float32) -> Any:
    """Samples with variance ``scale / n``, ``n`` the fan in, out, or their average (``mode``), from a
    truncated normal (its std corrected for the truncation), a normal, or a uniform distribution."""
    if scale <= 0:
        raise ValueError(f"variance_scaling: scale must be positive, got {scale}")
    fan_in, fan_out = fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}.get(mode)
    if n is None:
        raise ValueError(f"variance_scaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
    var = scale / max(1.0, n)
    if distribution == "truncated_normal":
        return truncated_normal(shape, 0.0, math.sqrt(var) / _TRUNC_STD, seed, dtype)
    if distribution in ("normal", "untruncated_normal"):
        return random_normal(shape, 0.0, math.sqrt(var), seed, dtype)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * var)
        return random_uniform(shape, -limit, limit, seed, dtype)
    raise ValueError(f"variance_scaling: distribution must be 'truncated_normal', 'normal' or 'uniform', got "
                     f"{distribution!r}")


def glorot_uniform(shape: Any, seed: Any = None, dtype: Any = np.float32) -> Any:
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio; TensorFlow's default)."""
    return variance_scaling(shape, 1.0, "fan_avg", "uniform", seed, dtype)


def glorot_normal(shape: Any, seed: Any = None, dtype: Any = np.float32) -> Any:
    return variance_scaling(shape, 1.0, "fan_avg", "truncated_normal", seed, dtype)


def he_normal(shape: Any, seed: Any = None, dtype: Any = np.float32) -> Any:
    """Truncated normal with std ``sqrt(2 / fan_in)`` (He et al.)."""
    return variance_scaling(shape, 2.0, "fan_in", "truncated_normal", seed, dtype)


def he_uniform(shape: Any, seed: Any = None, dtype: Any = np.float32) -> Any:
    return variance_scaling(shape, 2.0, "fan_in", "uniform", seed, dtype)


xavier_uniform = xavier = glorot_uniform
xavier_normal = glorot_normal

"""``fusejit.random``: explicit, functional random numbers (JAX-style keys), inside and outside ``jit``.

A key is a ``uint32[2]`` array; every function is a pure function of its key, so the same key gives
the same samples eagerly, inside ``jit``, fused or not, on any number of threads and on the GPU
(the bits come from the ``philox`` primitive; the transforms are in :mod:`.distributions`).
Sampling with ``key`` uses Philox counters ``(i, 0, 0, 0)``; ``split`` uses ``(i, 0, 0, 1)``, so a
key's samples and its children never share a counter. Use each key once: split it for more.

NumPy's own ``np.random`` API also works inside traced functions (see :mod:`.numpy_api`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import distributions as _dist
from .bits import U32, is_traced, philox_bits
from .distributions import RandomArgumentError

__all__ = ["RandomArgumentError", "bernoulli", "key", "normal", "permutation", "randint", "split",
           "truncated_normal", "uniform"]

_SPLIT_STREAM = 1 << 32  # counter high words (0, 1): disjoint from sampling's (0, 0)


def key(seed: Any) -> Any:
    """A key from an integer seed: ``[seed mod 2^32, (seed >> 32) mod 2^32]`` as uint32[2]."""
    if is_traced(seed):
        s = seed.astype(np.uint64)
        return np.stack([(s & 0xFFFFFFFF).astype(U32), (s >> 32).astype(U32)])
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"fusejit.random.key: seed must be an integer, got {type(seed).__name__}")
    s = int(seed) % (1 << 64)
    return np.array([s & 0xFFFFFFFF, s >> 32], dtype=U32)


def _state(k: Any) -> Any:
    """The u32[4] philox state of a key: ``(k0, k1, 0, 0)``."""
    if not (is_traced(k) or isinstance(k, np.ndarray)) or k.dtype != U32 or tuple(k.shape) != (2,):
        raise TypeError(f"fusejit.random: a key is a uint32 array of shape (2,) (fusejit.random.key(seed)), got "
                        f"{type(k).__name__} {getattr(k, 'dtype', '')} {tuple(getattr(k, 'shape', ()))}")
    return np.concatenate([k, np.zeros(2, dtype=U32)])


def _shape(shape: Any) -> tuple:
    return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)  # ints checked by philox_bits


def split(k: Any, num: int = 2) -> Any:
    """``num`` new keys, shape (num, 2)."""
    state = _state(k)
    words = [philox_bits(state, (num,), _SPLIT_STREAM, w) for w in (0, 1)]
    return np.stack(words, axis=-1)


def uniform(k: Any, shape: Any = (), dtype: Any = np.float64, minval: Any = 0.0, maxval: Any = 1.0) -> Any:
    """Uniform on [minval, maxval)."""
    dt = _dist.float_dtype(dtype, "fusejit.random.uniform")
    u = _dist.uniform01(_state(k), 0, _shape(shape), dt)
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)) and (minval, maxval) == (0.0, 1.0):
        return u
    return (minval + (maxval - minval) * u).astype(dt)


def normal(k: Any, shape: Any = (), dtype: Any = np.float64) -> Any:
    """Standard normal samples (Box–Muller)."""
    return _dist.normal01(_state(k), 0, _shape(shape), dtype)


def truncated_normal(k: Any, lower: Any, upper: Any, shape: Any = None, dtype: Any = np.float64) -> Any:
    """Standard normal samples conditioned on [lower, upper] (inverse CDF)."""
    if shape is None:
        shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
    return _dist.truncated01(_state(k), 0, _shape(shape), lower, upper, dtype)


def bernoulli(k: Any, p: Any = 0.5, shape: Any = None) -> Any:
    """Booleans that are True with probability ``p``."""
    if shape is None:
        shape = tuple(getattr(p, "shape", np.shape(p)))
    return _dist.uniform01(_state(k), 0, _shape(shape), np.float64) < p


def randint(k: Any, shape: Any, minval: int, maxval: int, dtype: Any = np.int64) -> Any:
    """Integers in [minval, maxval) (Python ints)."""
    return _dist.integers(_state(k), 0, _shape(shape), int(minval), int(maxval), dtype)


def permutation(k: Any, x: Any) -> Any:
    """A random permutation of ``range(x)`` (an int) or of ``x``'s first axis."""
    if isinstance(x, (int, np.integer)):
        return _dist.ranks(_state(k), 0, int(x))
    n = x.shape[0]
    return np.take(x, _dist.ranks(_state(k), 0, int(n)), axis=0)

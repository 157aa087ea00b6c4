"""``dropout``: zero each element with probability ``rate``, scale the kept ones by ``1 / (1 - rate)``.

The mask comes from :mod:`fusejit.random` (a key: the same mask eagerly and in ``jit``, on any number
of threads) or from a NumPy ``Generator`` (fresh each call, advanced as NumPy's ``random`` would). In a
compiled function the random bits are computed inside the kernel that applies the mask (the
``philox`` primitive fuses into its consumers): no mask array is written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._prim import NNError


def dropout(x: Any, rate: float, key: Any = None, noise_shape: Any = None, generator: Any = None) -> Any:
    """``tf.nn.dropout`` with an explicit source of randomness: ``key`` (``fusejit.random.key(seed)``)
    or ``generator`` (``np.random.default_rng(...)``). ``noise_shape`` (broadcastable to ``x``) shares
    one draw along its size-1 dims."""
    if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise NNError(f"fusejit.nn.dropout: rate must be a number in [0, 1), got {rate!r}")
    if (key is None) == (generator is None):
        raise NNError("fusejit.nn.dropout needs exactly one source of randomness: key=fusejit.random.key(seed) "
                      "or generator=np.random.default_rng(seed)")
    dt = np.dtype(x.dtype)
    if dt.kind != "f":
        raise NNError(f"fusejit.nn.dropout needs a floating-point x, got {dt}")
    shape = tuple(np.shape(x)) if noise_shape is None else tuple(int(d) for d in noise_shape)
    if rate == 0:
        return x
    if key is not None:
        from .. import random

        u = random.uniform(key, shape, dtype=dt)
    else:
        u = generator.random(shape)
    return np.where(u >= rate, x * (1 / (1 - rate)), np.zeros((), dt))

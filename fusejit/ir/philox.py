"""Philox-4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3") in NumPy.

A counter-based generator: ``philox(key, counter)`` is a pure function of a 64-bit key and a
128-bit counter, so element ``i`` of a random array is computed from ``i`` alone — by any thread,
in any kernel, fused into any consumer — and gives the same bits everywhere. This module is the
reference the ``philox`` primitive is checked against (CPU and GPU emitters implement the same
rounds); the known-answer vectors of Random123 are in the tests.

How the primitive forms counters (the one layout every backend shares): for state words
``(s0, s1, s2, s3)``, stream ``k`` and flat (row-major) element index ``i`` of the output,
``key = (s0, s1)`` and ``counter = (i mod 2^32, i >> 32, lo, hi)`` with
``hi:lo = (s3:s2 + k) mod 2^64``. Each element gets its own block of four 32-bit words; ``word``
picks one (``u32``) or a pair ``w[2j] | w[2j+1] << 32`` (``u64``).
"""

from __future__ import annotations

import numpy as np

MUL = (0xD2511F53, 0xCD9E8D57)
WEYL = (0x9E3779B9, 0xBB67AE85)
ROUNDS = 10
MASK32 = 0xFFFFFFFF


def philox4x32(counter: tuple[np.ndarray, ...], key: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Philox-4x32-10 on uint64 arrays holding 32-bit words (products of two words fit in 64 bits)."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in counter)
    k0, k1 = (np.asarray(k, dtype=np.uint64) for k in key)
    m0, m1, mask = np.uint64(MUL[0]), np.uint64(MUL[1]), np.uint64(MASK32)
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + np.uint64(WEYL[0])) & mask, (k1 + np.uint64(WEYL[1])) & mask
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & mask, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & mask
    return c0, c1, c2, c3


def block_counter(state: np.ndarray, stream: int, index: np.ndarray) -> tuple[np.ndarray, ...]:
    """The counter of each flat ``index`` (uint64) for ``state`` words and ``stream`` (see above)."""
    s = [int(w) for w in np.asarray(state, dtype=np.uint32).reshape(4)]
    hi_lo = (((s[3] << 32) | s[2]) + stream) & ((1 << 64) - 1)
    index = np.asarray(index, dtype=np.uint64)
    return (index & np.uint64(MASK32), index >> np.uint64(32),
            np.uint64(hi_lo & MASK32), np.uint64(hi_lo >> 32))


def philox_ref(state: np.ndarray, shape: list[int], stream: int, word: int, dtype: np.dtype) -> np.ndarray:
    """Reference of the ``philox`` primitive: random words of ``shape`` (see the module docstring)."""
    shape = tuple(int(d) for d in shape)
    index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.uint64)
    s = np.asarray(state, dtype=np.uint32).reshape(4)
    words = philox4x32(block_counter(s, stream, index), (np.uint64(s[0]), np.uint64(s[1])))
    if np.dtype(dtype) == np.uint32:
        out = words[word].astype(np.uint32)
    else:
        out = words[2 * word] | (words[2 * word + 1] << np.uint64(32))
    return out.reshape(shape)

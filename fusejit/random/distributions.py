"""Distributions as NumPy code over Philox words: the same code traces and runs eagerly.

Every function takes ``(state, stream, shape, ...)``: the u32[4] state (a traced array inside a
trace, a NumPy array outside) and the stream index of this draw (see :mod:`fusejit.ir.philox`).
One element uses one Philox block (128 bits), so a value never needs a neighbour's bits and every
transform below fuses into its consumer. The transforms are built from existing primitives
(arithmetic, ``sqrt``, ``erf``, ``exp``), so the optimizer and the fusion planner see through them:

- uniform on [0, 1): float64 from the top 53 bits of a 64-bit word, ``(w >> 11) * 2^-53``
  (float32: ``(w32 >> 8) * 2^-24``); exact in both dtypes, every value a multiple of the ulp at 1/2.
- normal: Box–Muller in float64, ``sqrt(-2 log(1 - u1)) * cos(2 pi u2)`` (``1 - u1`` is in (0, 1]),
  with ``log`` and ``cos`` of our own built from + - * / and selects (:func:`log_dyadic`,
  :func:`cos_turns`), so normal samples have the same bits in NumPy, fused, unfused, on any thread
  count and on the GPU; float32 samples are the float64 ones rounded. Exponentials likewise.
- truncated normal: inverse CDF, ``sqrt(2) erfinv(2u - 1)`` with ``u`` uniform between the
  bounds' CDFs; ``erfinv`` is Giles' single-precision approximation refined by two Newton steps on
  ``erf`` (float64 accuracy for bounds within about ±6).
- integers in [low, high): ``low + floor(w * m / 2^64)`` for ``m = high - low`` and a 64-bit word
  ``w`` (Lemire's multiply-shift without rejection; the bias is at most ``m / 2^64``).
- permutation: the ranks of ``n`` random 64-bit keys whose low bits are replaced by the element's
  index (distinct keys, so the ranks are a permutation; ties of the random part go to the lower
  index, as a stable sort would).
- binomial(n, p): a sum of ``n`` Bernoulli(p) draws (``n`` a Python int up to 4096).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .bits import U32, U64, is_traced, philox_bits

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
MAX_PERMUTATION = 1 << 14  # inside jit, ranks are an n x n comparison (fused, never stored)
MAX_BINOMIAL_N = 4096


class RandomArgumentError(ValueError):
    """An argument of a random function fusejit cannot honour (a dtype, a bound, a size)."""


def float_dtype(dtype: Any, what: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (F32, F64):
        raise RandomArgumentError(f"{what}: dtype must be float32 or float64, got {dt}")
    return dt


def uniform01(state: Any, stream: int, shape: tuple, dtype: Any = F64, pair: int = 0) -> Any:
    """Uniform on [0, 1) (``pair``: which 64-bit half of the block a float64 uses)."""
    dt = float_dtype(dtype, "uniform")
    if dt == F64:
        return (philox_bits(state, shape, stream, pair, U64) >> 11).astype(F64) * 2.0 ** -53
    return (philox_bits(state, shape, stream, 2 * pair, U32) >> 8).astype(F32) * np.float32(2.0 ** -24)


LN2_HI, LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm's split of log(2)


def log_dyadic(j: Any, scale: int) -> Any:
    """log(j * 2^-scale) for float64 integers 1 <= j <= 2^53, from + - * / and selects only: every step
    is correctly rounded, so the result has the same bits in NumPy, fused, unfused and on the GPU.
    Binary search scales j into [sqrt(1/2), sqrt(2)) exactly; log(r) = 2 atanh((r-1)/(r+1)) by its
    series (|s| < 0.172: 12 terms reach 1e-17); the exponent's log(2) is added in two parts."""
    r, e = j, 0.0
    for t in (32, 16, 8, 4, 2, 1):
        big = r >= 2.0 ** t
        r = np.where(big, r * 2.0 ** -t, r)
        e = e + np.where(big, float(t), 0.0)
    big = r > math.sqrt(2.0)
    r = np.where(big, r * 0.5, r)
    e = e + np.where(big, 1.0, 0.0)
    s = (r - 1.0) / (r + 1.0)
    z = s * s
    p = 1.0 / 23.0
    for k in range(10, -1, -1):
        p = 1.0 / (2 * k + 1) + z * p
    n = e - float(scale)
    return n * LN2_HI + (n * LN2_LO + 2.0 * s * p)


def cos_turns(v: Any) -> Any:
    """cos(2 pi v) for v in [0, 1) from + - * and selects only (same bits everywhere, as log_dyadic):
    the quadrant by floor(4v), then cos(pi/2 t) on t in [0, 1] by its Taylor series (12 terms)."""
    q4 = v * 4.0
    q = np.floor(q4)
    t = q4 - q
    t = np.where((q == 1.0) | (q == 3.0), 1.0 - t, t)  # sin(pi/2 t) = cos(pi/2 (1 - t)), exact
    x = t * (math.pi / 2.0)
    z = x * x
    c = (-1.0) ** 11 / math.factorial(22)
    for n in range(10, -1, -1):
        c = (-1.0) ** n / math.factorial(2 * n) + z * c
    return np.where((q == 1.0) | (q == 2.0), -c, c)


def _one_minus_uniform_log(state: Any, stream: int, shape: tuple, pair: int) -> Any:
    """log(1 - u) for a float64 uniform u = k 2^-53 of ``pair``: log of (2^53 - k) 2^-53, in (0, 1]."""
    k = (philox_bits(state, shape, stream, pair, U64) >> 11).astype(F64)
    return log_dyadic(2.0 ** 53 - k, 53)


def normal01(state: Any, stream: int, shape: tuple, dtype: Any = F64) -> Any:
    """Standard normal by Box–Muller (one of the pair: each element owns its block)."""
    dt = float_dtype(dtype, "normal")
    radius = np.sqrt(-2.0 * _one_minus_uniform_log(state, stream, shape, 0))
    z = radius * cos_turns(uniform01(state, stream, shape, F64, 1))
    return z if dt == F64 else z.astype(dt)


def exponential01(state: Any, stream: int, shape: tuple, dtype: Any = F64) -> Any:
    """Standard exponential: -log(1 - u)."""
    dt = float_dtype(dtype, "exponential")
    e = -_one_minus_uniform_log(state, stream, shape, 0)
    return e if dt == F64 else e.astype(dt)


def _erf(x: Any) -> Any:
    import scipy.special

    return scipy.special.erf(x)


def erfinv(y: Any) -> Any:
    """Inverse error function on (-1, 1) from log, sqrt, erf and exp (see the module docstring)."""
    w = -np.log((1.0 - y) * (1.0 + y))
    small, big = w - 2.5, np.sqrt(w) - 3.0
    p_small = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        p_small = c + p_small * small
    p_big = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        p_big = c + p_big * big
    x = np.where(w < 5.0, p_small, p_big) * y
    for _ in range(2):  # Newton on erf(x) = y: erf'(x) = 2/sqrt(pi) exp(-x^2)
        x = x - (_erf(x) - y) / ((2.0 / math.sqrt(math.pi)) * np.exp(-x * x))
    return x


def truncated01(state: Any, stream: int, shape: tuple, lower: Any, upper: Any, dtype: Any = F64) -> Any:
    """Standard normal conditioned on [lower, upper] by the inverse CDF."""
    dt = float_dtype(dtype, "truncated_normal")
    root2 = math.sqrt(2.0)
    lo, hi = _erf(np.asarray(lower, dtype=F64) / root2), _erf(np.asarray(upper, dtype=F64) / root2)
    u = uniform01(state, stream, shape, F64)
    x = root2 * erfinv(lo + u * (hi - lo))
    x = np.clip(x, lower, upper)
    return x if dt == F64 else x.astype(dt)


def _mulhi64(w: Any, m: int) -> Any:
    """floor(w * m / 2^64) for uint64 words ``w`` and a static 0 < m < 2^64, in uint64 arithmetic."""
    mask = 0xFFFFFFFF
    wh, wl = w >> 32, w & mask
    mh, ml = m >> 32, m & mask
    if mh == 0:
        return (wh * ml + ((wl * ml) >> 32)) >> 32
    ad, bc, bd = wh * ml, wl * mh, wl * ml
    t = (bd >> 32) + (ad & mask) + (bc & mask)
    return wh * mh + (ad >> 32) + (bc >> 32) + (t >> 32)


def integers(state: Any, stream: int, shape: tuple, low: int, high: int, dtype: Any) -> Any:
    """Integers in [low, high) of ``dtype``; ``low`` and ``high`` are Python ints (``high > low``)."""
    dt = np.dtype(dtype)
    if dt.kind not in "iu":
        raise RandomArgumentError(f"integers: dtype must be an integer dtype, got {dt}")
    info = np.iinfo(dt)
    if not info.min <= low < high <= info.max + 1:
        raise RandomArgumentError(f"integers: bounds [{low}, {high}) are empty or outside the range of {dt}")
    m = high - low
    w = philox_bits(state, shape, stream, 0, U64)
    offset = w if m == 1 << 64 else _mulhi64(w, m)
    if dt.kind == "i":  # offset < m <= 2^64: as int64 it wraps only when m > 2^63, as the result must
        return (offset.astype(np.int64) + low).astype(dt)
    return (offset + low).astype(dt)


def ranks(state: Any, stream: int, n: int) -> Any:
    """A uniformly random permutation of range(n), as int64."""
    low_bits = max(n - 1, 0).bit_length()
    keys = (philox_bits(state, (n,), stream, 0, U64) >> low_bits << low_bits) | np.arange(n, dtype=U64)
    if not is_traced(keys):
        return np.argsort(np.argsort(keys)).astype(np.int64)
    if n > MAX_PERMUTATION:
        raise RandomArgumentError(
            f"a random permutation of {n} elements inside jit: fusejit ranks the keys by an n x n comparison "
            f"(no sort primitive yet), which it allows up to n = {MAX_PERMUTATION}. Draw the permutation outside "
            "the jitted function (np.random.permutation, fusejit.random.permutation) and pass it in.")
    return (keys[None, :] < keys[:, None]).sum(axis=1, dtype=np.int64)


def binomial(state: Any, stream: int, shape: tuple, n: int, p: Any) -> Any:
    """Binomial(n, p) as int64: the number of ``n`` uniforms below ``p``."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= MAX_BINOMIAL_N:
        raise RandomArgumentError(
            f"binomial: n must be a Python int in [0, {MAX_BINOMIAL_N}] (fusejit sums n Bernoulli draws), got {n!r}")
    if n == 0:
        return np.zeros(shape, dtype=np.int64)
    u = uniform01(state, stream, (int(n), *shape), F64)
    return (u < p).sum(axis=0, dtype=np.int64)


def categorical(state: Any, stream: int, shape: tuple, p: Any) -> Any:
    """Indices drawn with probabilities ``p`` (1-d, summing to 1) by the inverse CDF."""
    cdf = np.cumsum(p)
    cdf = cdf / cdf[-1]
    u = uniform01(state, stream, shape, F64)
    return (u[..., None] >= cdf[:-1]).sum(axis=-1, dtype=np.int64)

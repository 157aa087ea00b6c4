"""Distributions as NumPy code over Philox words: the same code traces and runs eagerly.

Every function takes ``(state, stream, shape, ...)``: the u32[4] state (a traced array inside a
trace, a NumPy array outside) and the stream index of this draw (see :mod:`fusejit.ir.philox`).
One element uses one Philox block (128 bits), so a value never needs a neighbour's bits and every
transform below fuses into its consumer. The transforms are built from existing primitives
(arithmetic, ``sqrt``; ``erf`` only for traced truncation bounds), so the optimizer and the fusion
planner see through them:

- uniform on [0, 1): float64 from the top 53 bits of a 64-bit word, ``(w >> 11) * 2^-53``
  (float32: ``(w32 >> 8) * 2^-24``); exact in both dtypes, every value a multiple of the ulp at 1/2.
- normal: Box–Muller in float64, ``sqrt(-2 log(1 - u1)) * cos(2 pi u2)`` (``1 - u1`` is in (0, 1]),
  with ``log`` and ``cos`` of our own built from + - * / and selects (:func:`log_unit`,
  :func:`cos_turns`), so normal samples have the same bits in NumPy, fused, unfused, on any thread
  count and on the GPU; float32 samples are the float64 ones rounded. Exponentials likewise.
- truncated normal: inverse CDF, ``ndtri(u)`` (Wichura's AS241 with that same ``log``) with ``u``
  uniform between the bounds' CDFs (computed at trace time for bounds that are numbers), mirrored
  into the lower tail, where uniforms near 0 resolve far tails.
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


def log_unit(x: Any, min_exponent: int = 1022) -> Any:
    """log(x) for float64 2^-min_exponent <= x <= 1 (0 < x: -inf-free), from + - * / and selects only:
    every step is correctly rounded, so the result has the same bits in NumPy, fused, unfused and on
    the GPU (within 3 ulp of libm). Binary-search scaling puts x into [sqrt(1/2), sqrt(2)) exactly;
    log(r) = 2 atanh((r-1)/(r+1)) by its series (|s| < 0.172: 12 terms reach 1e-17); the exponent's
    log(2) is added in two parts."""
    r, e = x, 0.0
    t = 1 << max(min_exponent - 1, 0).bit_length() - 1
    while t >= 1:  # after step t, r is in [2^(1-t), 1]... then [1, 2) at t = 1
        small = r < 2.0 ** (1 - t)
        r = np.where(small, r * 2.0 ** t, r)
        e = e - np.where(small, float(t), 0.0)
        t //= 2
    big = r > math.sqrt(2.0)
    r = np.where(big, r * 0.5, r)
    e = e + np.where(big, 1.0, 0.0)
    s = (r - 1.0) / (r + 1.0)
    z = s * s
    p = 1.0 / 23.0
    for k in range(10, -1, -1):
        p = 1.0 / (2 * k + 1) + z * p
    return e * LN2_HI + (e * LN2_LO + 2.0 * s * p)


def cos_turns(v: Any) -> Any:
    """cos(2 pi v) for v in [0, 1) from + - * and selects only (same bits everywhere, as log_unit):
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
    return log_unit((2.0 ** 53 - k) * 2.0 ** -53, 53)


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


# Wichura's AS241 (PPND16): the normal quantile to about 1e-16, rational in the centre and in
# sqrt(-log(min(u, 1 - u))) in the tails
_AS241 = {
    "a": (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3, 1.3731693765509461125e+4,
          4.5921953931549871457e+4, 6.7265770927008700853e+4, 3.3430575583588128105e+4, 2.5090809287301226727e+3),
    "b": (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
          2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4, 5.2264952788528545610e+3),
    "c": (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
          1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4),
    "d": (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
          1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9),
    "e": (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
          2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7),
    "f": (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
          7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15),
}


def _poly(name: str, x: Any) -> Any:
    coefs = _AS241[name]
    p = coefs[-1]
    for c in coefs[-2::-1]:
        p = c + x * p
    return p


def ndtri(u: Any) -> Any:
    """The standard normal quantile of u in (0, 1) by AS241, with :func:`log_unit`: arithmetic and sqrt
    only, so the same bits everywhere (within 6 ulp of scipy.special.ndtri)."""
    q = u - 0.5
    r = 0.180625 - q * q
    central = q * _poly("a", r) / _poly("b", r)
    r = np.sqrt(-log_unit(np.minimum(u, 1.0 - u)))  # 1 - u is exact where it is the smaller one
    tail = np.where(r <= 5.0, _poly("c", r - 1.6) / _poly("d", r - 1.6), _poly("e", r - 5.0) / _poly("f", r - 5.0))
    return np.where(np.abs(q) <= 0.425, central, np.where(q < 0.0, -tail, tail))


def _ndtr(x: Any) -> Any:
    """The standard normal CDF: SciPy's (accurate in the tails) for bounds that are numbers, computed
    once at trace time; through the ``erf`` primitive for traced bounds."""
    if is_traced(x):
        return 0.5 * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))
    import scipy.special

    return scipy.special.ndtr(x)


def truncated01(state: Any, stream: int, shape: tuple, lower: Any, upper: Any, dtype: Any = F64) -> Any:
    """Standard normal conditioned on [lower, upper] by the inverse CDF, drawn in the lower tail
    (bounds mirrored when their midpoint is positive) where uniforms near 0 are finely spaced."""
    dt = float_dtype(dtype, "truncated_normal")
    lower = lower.astype(F64) if is_traced(lower) else np.asarray(lower, dtype=F64)
    upper = upper.astype(F64) if is_traced(upper) else np.asarray(upper, dtype=F64)
    flip = lower + upper > 0.0
    a, b = np.where(flip, -upper, lower), np.where(flip, -lower, upper)
    lo, hi = _ndtr(a), _ndtr(b)
    u = np.maximum(lo + uniform01(state, stream, shape, F64) * (hi - lo), 2.0 ** -1022)
    x = np.clip(ndtri(u), a, b)
    x = np.where(flip, -x, x)
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

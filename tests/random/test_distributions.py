"""Every distribution fusejit samples, checked against its law with a Kolmogorov–Smirnov or chi-square
test at a fixed seed (deterministic: the bits are a function of the seed), compiled with jit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import fusejit.random as fr
from fusejit import jit

N = 20_000
P_MIN = 1e-3  # a fixed-seed test either always passes or always fails; a wrong law gives p ~ 0


def _ks(sample, cdf) -> None:
    assert stats.kstest(np.asarray(sample, dtype=np.float64).ravel(), cdf).pvalue > P_MIN


def _chi2(values, probs) -> None:
    counts = np.bincount(np.asarray(values).ravel(), minlength=len(probs))
    assert len(counts) == len(probs), "values outside the support"
    expected = np.asarray(probs) * counts.sum()
    keep = expected > 0
    assert counts[~keep].sum() == 0
    assert stats.chisquare(counts[keep], expected[keep]).pvalue > P_MIN


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_continuous(dtype) -> None:
    k1, k2, k3, k4 = fr.split(fr.key(123), 4)
    f = jit(lambda a, b, c, d: (fr.uniform(a, (N,), dtype), fr.normal(b, (N,), dtype),
                                fr.truncated_normal(c, -1.0, 2.0, (N,), dtype),
                                fr.uniform(d, (N,), dtype, minval=-3.0, maxval=5.0)))
    u, z, t, w = f(k1, k2, k3, k4)
    assert {u.dtype, z.dtype, t.dtype, w.dtype} == {np.dtype(dtype)}
    assert u.min() >= 0 and u.max() < 1 and t.min() >= -1 and t.max() <= 2
    _ks(u, stats.uniform.cdf)
    _ks(z, stats.norm.cdf)
    _ks(t, stats.truncnorm(-1.0, 2.0).cdf)
    _ks(w, stats.uniform(-3, 8).cdf)


@pytest.mark.parametrize(("lower", "upper"), [(2.5, 4.0), (8.0, 9.0), (-np.inf, -7.5), (-1.0, np.inf)])
def test_truncated_normal_in_the_tails(lower, upper) -> None:
    t = jit(lambda k: fr.truncated_normal(k, lower, upper, (N,)))(fr.key(5))
    assert t.min() >= lower and t.max() <= upper
    _ks(t, stats.truncnorm(lower, upper).cdf)


def test_functional_discrete() -> None:
    keys = fr.split(fr.key(77), 4)
    f = jit(lambda a, b, c: (fr.bernoulli(a, 0.3, (N,)), fr.randint(b, (N,), -2, 5),
                             fr.randint(c, (N,), -(2**40), 2**40)))
    b, i, big = f(keys[0], keys[1], keys[2])
    assert b.dtype == np.bool_ and i.dtype == np.int64
    _chi2(b.astype(np.int64), [0.7, 0.3])
    _chi2(i + 2, [1 / 7] * 7)
    _chi2((big + 2**40) >> 37, [1 / 16] * 16)


def test_permutations_are_uniform() -> None:
    """Position of each element over many permutations of 5: uniform; and all 120 orders occur."""
    perm = jit(lambda k: fr.permutation(k, 5))
    perms = np.array([perm(k) for k in fr.split(fr.key(9), 3000)])
    for e in range(5):
        _chi2(np.argmax(perms == e, axis=1), [0.2] * 5)
    assert len({tuple(p) for p in perms}) == 120


def test_numpy_api_distributions() -> None:
    @jit
    def draws(x):
        return (np.random.rand(N), np.random.randn(N), np.random.uniform(2.0, 3.0, N),
                np.random.normal(1.0, 2.0, size=N), np.random.exponential(2.0, size=N),
                np.random.randint(3, 9, size=N), np.random.binomial(10, 0.3, size=N),
                np.random.choice(3, size=N, p=[0.2, 0.5, 0.3]), np.random.standard_normal(N) + x)

    np.random.seed(2024)
    u, z, w, n, e, i, b, c, s = draws(np.float64(0.0))
    _ks(u, stats.uniform.cdf)
    _ks(z, stats.norm.cdf)
    _ks(w, stats.uniform(2, 1).cdf)
    _ks(n, stats.norm(1, 2).cdf)
    _ks(e, stats.expon(scale=2).cdf)
    _ks(s, stats.norm.cdf)
    _chi2(i - 3, [1 / 6] * 6)
    _chi2(b, stats.binom(10, 0.3).pmf(np.arange(11)))
    _chi2(c, [0.2, 0.5, 0.3])
    assert i.dtype == np.int_ and b.dtype == np.int64


def test_generator_distributions() -> None:
    rng = np.random.default_rng(31)

    @jit
    def draws(x):
        return (rng.random(N, dtype=np.float32), rng.standard_normal(N, dtype=np.float32), rng.normal(-1, 0.5, N),
                rng.integers(0, 4, size=N, endpoint=True), rng.standard_exponential(N), rng.choice(4, N))

    u, z, n, i, e, c = draws(np.float64(0.0))
    assert u.dtype == np.float32 and z.dtype == np.float32
    _ks(u, stats.uniform.cdf)
    _ks(z, stats.norm.cdf)
    _ks(n, stats.norm(-1, 0.5).cdf)
    _ks(e, stats.expon.cdf)
    _chi2(i, [0.2] * 5)
    _chi2(c, [0.25] * 4)

"""numba: ``@njit(parallel=True)`` with ``prange`` loops written the natural way (no float32
literal tricks, no fastmath), and ``@`` for matrix products as numba users write them."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from ..variants import Variant
from ..workloads import Workload
from . import missing_module


@functools.cache
def _impls() -> dict[str, Callable]:
    from numba import njit, prange

    jit = njit(parallel=True)

    @jit
    def chain(x, y, z):
        out = np.empty_like(x)
        for i in prange(x.size):
            out[i] = np.tanh(x[i] * 0.5 + y[i]) * z[i] - x[i] / (1 + y[i] * y[i])
        return out

    @jit
    def gelu(x):
        out = np.empty_like(x)
        for i in prange(x.shape[0]):
            for j in range(x.shape[1]):
                v = x[i, j]
                out[i, j] = 0.5 * v * (1 + np.tanh(0.7978845608028654 * (v + 0.044715 * v**3)))
        return out

    @jit
    def softmax(x):
        out = np.empty_like(x)
        for i in prange(x.shape[0]):
            m = x[i].max()
            s = 0.0
            for j in range(x.shape[1]):
                out[i, j] = np.exp(x[i, j] - m)
                s += out[i, j]
            for j in range(x.shape[1]):
                out[i, j] /= s
        return out

    @jit
    def layer_norm(x, gamma, beta):
        out = np.empty_like(x)
        n = x.shape[1]
        for i in prange(x.shape[0]):
            mean = x[i].sum() / n
            var = 0.0
            for j in range(n):
                var += (x[i, j] - mean) ** 2
            inv = 1 / math.sqrt(var / n + 1e-5)
            for j in range(n):
                out[i, j] = (x[i, j] - mean) * inv * gamma[j] + beta[j]
        return out

    @jit
    def black_scholes(s, k, t, r, sigma):
        call = np.empty_like(s)
        put = np.empty_like(s)
        for i in prange(s.size):
            sqrt_t = math.sqrt(t[i])
            d1 = (math.log(s[i] / k[i]) + (r[i] + 0.5 * sigma[i] ** 2) * t[i]) / (sigma[i] * sqrt_t)
            d2 = d1 - sigma[i] * sqrt_t
            disc = k[i] * math.exp(-r[i] * t[i])
            e1, e2 = math.erf(d1 / math.sqrt(2.0)), math.erf(d2 / math.sqrt(2.0))
            call[i] = s[i] * 0.5 * (1 + e1) - disc * 0.5 * (1 + e2)
            put[i] = disc * 0.5 * (1 - e2) - s[i] * 0.5 * (1 - e1)
        return call, put

    @jit
    def mlp(x, w1, b1, w2, b2):
        h = x @ w1
        for i in prange(h.shape[0]):
            for j in range(h.shape[1]):
                h[i, j] = max(h[i, j] + b1[j], 0)
        return h @ w2 + b2

    @jit
    def sum_of_squares(x):
        s = 0.0
        for i in prange(x.size):
            s += x[i] * x[i]
        return s

    @jit
    def mnist_step(x, y, w, b):
        n, classes = x.shape[0], w.shape[1]
        logits = x @ w
        grad = np.empty_like(logits)
        losses = np.empty(n)
        for i in prange(n):
            row = logits[i] + b
            m = row.max()
            e = np.exp(row - m)
            s = e.sum()
            losses[i] = -(y[i] * (row - m - math.log(s))).sum()
            for j in range(classes):
                grad[i, j] = (e[j] / s - y[i, j]) / n
        return w - 0.5 * (np.ascontiguousarray(x.T) @ grad), b - 0.5 * grad.sum(axis=0), losses.mean()

    @jit
    def pairwise(a):
        n = a.shape[0]
        out = np.empty((n, n), dtype=a.dtype)
        for i in prange(n):
            for j in range(n):
                acc = 0.0
                for d in range(a.shape[1]):
                    acc += (a[i, d] - a[j, d]) ** 2
                out[i, j] = acc
        return out

    @jit
    def add_one(x):
        out = np.empty_like(x)
        for i in prange(x.size):
            out[i] = x[i] + 1
        return out

    return {f.__name__: f for f in (add_one, chain, gelu, softmax, layer_norm, black_scholes, mlp, sum_of_squares,
                                    mnist_step, pairwise)}


def build(workload: Workload) -> Callable:
    return _impls()[workload.name]


def variant() -> Variant:
    return Variant("numba", "numba", build, lambda: missing_module("numba"), tracemalloc_visible=False)

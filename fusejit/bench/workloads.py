"""The nine workloads of ``fusejit bench``: one array-API body each, plus how to make its inputs.

Each body is written once against a small namespace ``xp`` (``xp.tanh``, ``xp.sum(..., axis=,
keepdims=)``, ``xp.erf``…) so NumPy, fusejit (which traces the NumPy body), JAX and torch all run
the very same expression; numba and numexpr, whose idioms differ, have their own natural
versions in ``peers/``. Python-float constants keep float32 work in float32 (NEP 50).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

Arrays = tuple[np.ndarray, ...]

#: the functions a body may call on ``xp``; each namespace provides exactly these
NAMESPACE_FUNCTIONS = ("tanh", "exp", "log", "sqrt", "erf", "maximum", "max", "sum", "mean", "var")


def namespace(module: object, **overrides: Callable) -> SimpleNamespace:
    """``xp`` for ``module``: its functions of the same name unless ``overrides`` replaces them."""
    funcs = {name: overrides.get(name) or getattr(module, name, None) for name in NAMESPACE_FUNCTIONS}
    missing = [name for name, f in funcs.items() if f is None]
    if missing:
        raise AttributeError(f"{module!r} lacks {', '.join(missing)}: pass them as overrides")
    return SimpleNamespace(**funcs)


def numpy_namespace() -> SimpleNamespace:
    from scipy.special import erf  # a NumPy ufunc, so tracers see it through __array_ufunc__

    return namespace(np, erf=erf)


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SQRT_2 = math.sqrt(2.0)


def chain(xp, x, y, z):
    return xp.tanh(x * 0.5 + y) * z - x / (1 + y * y)


def gelu(xp, x):
    return 0.5 * x * (1 + xp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


def softmax(xp, x):
    e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def layer_norm(xp, x, gamma, beta):
    mean = xp.mean(x, axis=-1, keepdims=True)
    var = xp.var(x, axis=-1, keepdims=True)
    return (x - mean) / xp.sqrt(var + 1e-5) * gamma + beta


def black_scholes(xp, s, k, t, r, sigma):
    sqrt_t = xp.sqrt(t)
    d1 = (xp.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t)
    d2 = d1 - sigma * sqrt_t
    discounted = k * xp.exp(-r * t)
    call = s * (0.5 + 0.5 * xp.erf(d1 / SQRT_2)) - discounted * (0.5 + 0.5 * xp.erf(d2 / SQRT_2))
    put = discounted * (0.5 - 0.5 * xp.erf(d2 / SQRT_2)) - s * (0.5 - 0.5 * xp.erf(d1 / SQRT_2))
    return call, put


def mlp(xp, x, w1, b1, w2, b2):
    return xp.maximum(x @ w1 + b1, 0) @ w2 + b2


def sum_of_squares(xp, x):
    return xp.sum(x * x)


def mnist_step(xp, x, y, w, b):
    """One SGD step of softmax regression (learning rate 0.5): new weights, new bias, the loss."""
    logits = x @ w + b
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = xp.sum(e, axis=1, keepdims=True)
    loss = -xp.mean(xp.sum(y * (shifted - xp.log(s)), axis=1))
    grad = (e / s - y) / x.shape[0]
    return w - 0.5 * (x.T @ grad), b - 0.5 * xp.sum(grad, axis=0), loss


def add_one(xp, x):
    return x + 1


def pairwise_distances(xp, a):
    return xp.sum((a[:, None, :] - a[None, :, :]) ** 2, axis=-1)


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    body: Callable  # body(xp, *arrays) -> array | tuple of arrays
    make_inputs: Callable[[int, np.random.Generator], Arrays]
    sizes: tuple[int, ...]  # the full suite's sizes (the leading dimension or element count)
    quick_sizes: tuple[int, ...]
    tiny: int  # the size used to measure dispatch overhead
    tol: float = 2e-5  # max |got - want| / max |want| accepted by the correctness check

    def inputs(self, size: int, seed: int = 0) -> Arrays:
        return self.make_inputs(size, np.random.default_rng(seed))


def _chain_inputs(n, rng):
    return tuple(rng.standard_normal(n, dtype=np.float32) for _ in range(3))


def _layer_norm_inputs(n, rng):
    x = rng.standard_normal((n, 1024), dtype=np.float32)
    return x, rng.uniform(0.5, 1.5, 1024).astype(np.float32), rng.uniform(-0.5, 0.5, 1024).astype(np.float32)


def _black_scholes_inputs(n, rng):
    return (rng.uniform(10.0, 200.0, n), rng.uniform(10.0, 200.0, n), rng.uniform(0.1, 2.0, n),
            rng.uniform(0.01, 0.05, n), rng.uniform(0.1, 0.5, n))


def _mlp_inputs(n, rng):
    f32 = np.float32
    return (rng.standard_normal((n, 784), dtype=f32), (rng.standard_normal((784, 512), dtype=f32) * 0.05),
            rng.standard_normal(512, dtype=f32) * 0.1, (rng.standard_normal((512, 10), dtype=f32) * 0.05),
            rng.standard_normal(10, dtype=f32) * 0.1)


def _mnist_inputs(n, rng):
    x = rng.uniform(0.0, 1.0, (n, 784)).astype(np.float32)  # pixel intensities
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]  # one-hot labels
    return x, y, (rng.standard_normal((784, 10), dtype=np.float32) * 0.01), np.zeros(10, np.float32)


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("chain", "elementwise chain tanh(x*0.5+y)*z - x/(1+y*y)", chain, _chain_inputs,
             (10**3, 10**5, 10**7), (10**5,), 8),
    Workload("gelu", "GELU (tanh form)", gelu, lambda n, rng: (rng.standard_normal((n, n), dtype=np.float32),),
             (4096,), (512,), 2),
    Workload("softmax", "softmax over the last axis", softmax,
             lambda n, rng: (rng.standard_normal((n, 1024), dtype=np.float32),), (4096,), (256,), 1),
    Workload("layer_norm", "layer norm over the last axis, with gamma and beta", layer_norm, _layer_norm_inputs,
             (4096,), (256,), 1, tol=1e-4),
    Workload("black_scholes", "Black-Scholes call and put (float64; log, sqrt, exp, erf)", black_scholes,
             _black_scholes_inputs, (10**6,), (10**5,), 8, tol=1e-10),
    Workload("mlp", "MLP relu(x @ W1 + b1) @ W2 + b2", mlp, _mlp_inputs, (256,), (64,), 1, tol=1e-4),
    Workload("sum_of_squares", "sum of squares", sum_of_squares,
             lambda n, rng: (rng.standard_normal(n, dtype=np.float32),), (10**7,), (10**6,), 8, tol=1e-4),
    Workload("mnist_step", "softmax-regression SGD step (MNIST tutorial)", mnist_step, _mnist_inputs,
             (100,), (100,), 1, tol=1e-4),
    Workload("pairwise", "pairwise squared distances ((a[:,None]-a[None])**2).sum(-1)", pairwise_distances,
             lambda n, rng: (rng.standard_normal((n, 3), dtype=np.float32),), (2048,), (256,), 2, tol=1e-4),
)}

#: not one of the nine: the smallest possible call, for the dispatch overhead of each variant
DISPATCH_PROBE = Workload("add_one", "dispatch probe x + 1", add_one,
                          lambda n, rng: (rng.standard_normal(n, dtype=np.float32),), (8,), (8,), 8)

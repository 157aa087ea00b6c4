"""value_and_grad workloads: fusejit vs NumPy with hand-written gradients and the peers installed.

    python bench/bench_autodiff.py [--budget SECONDS] [--only NAME]

Workloads (float32): softmax cross-entropy 4096x1024 (the issue's loss, ``-logp[arange(n), y].mean()``,
gradient w.r.t. the logits), layer norm 4096x1024 (``sum(LN(x) * w)``, gradients w.r.t. x, gamma,
beta), the MLP 784-512-512-10 cross-entropy loss at batch 128 (gradients of all six parameters),
Black-Scholes greeks over 10^6 options (gradient of the summed call price w.r.t. S, v, r: delta,
vega, rho). Every variant's value and gradients are checked against the hand-written NumPy ones
first. Timings are medians of interleaved calls in one process (fusejit.bench.timing), so every
variant sees the same machine load; the load average is printed because the 2 cores are shared.
Peers, where installed: autograd (``grad`` of the same NumPy code through ``autograd.numpy``),
JAX ``jit(value_and_grad)``, PyTorch eager ``backward()`` and ``torch.compile``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special

import fusejit
from fusejit.bench.memory import peak_extra_bytes
from fusejit.bench.timing import time_interleaved

F32 = np.float32


# ---- the workloads, written once against a NumPy-like module ``xp`` -------------------------

def xent(xp: Any, z: Any, y: Any) -> Any:
    z = z - xp.max(z, axis=1, keepdims=True)
    logp = z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))
    return -xp.mean(logp[xp.arange(z.shape[0]), y])


def layer_norm(xp: Any, x: Any, g: Any, b: Any, w: Any) -> Any:
    mu = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return xp.sum(((x - mu) / xp.sqrt(var + 1e-5) * g + b) * w)


def mlp(xp: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, x: Any, y: Any) -> Any:
    h = xp.maximum(x @ W1 + b1, 0)
    h = xp.maximum(h @ W2 + b2, 0)
    return xent(xp, h @ W3 + b3, y)


def black_scholes(xp: Any, erf: Callable, S: Any, K: Any, T: Any, r: Any, v: Any) -> Any:
    sq = xp.sqrt(T)
    d1 = (xp.log(S / K) + (r + 0.5 * v * v) * T) / (v * sq)
    d2 = d1 - v * sq
    cdf1, cdf2 = 0.5 * (1 + erf(d1 / np.sqrt(2))), 0.5 * (1 + erf(d2 / np.sqrt(2)))
    return xp.sum(S * cdf1 - K * xp.exp(-r * T) * cdf2)


# ---- hand-written NumPy gradients (value, grads) ----------------------------------------------

def xent_np(z: np.ndarray, y: np.ndarray) -> tuple:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = len(z)
    val = -np.mean(z[np.arange(n), y] - np.log(s[:, 0]))
    dz = e / s
    dz[np.arange(n), y] -= 1
    dz /= n
    return val, (dz,)


def layer_norm_np(x: np.ndarray, g: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    inv = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + F32(1e-5))
    xhat = xc * inv
    val = np.sum((xhat * g + b) * w)
    dxhat = w * g
    dx = inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return val, (dx, (w * xhat).sum(axis=0), w.sum(axis=0))


def mlp_np(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, W3: np.ndarray, b3: np.ndarray,
           x: np.ndarray, y: np.ndarray) -> tuple:
    a1 = x @ W1 + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ W2 + b2
    h2 = np.maximum(a2, 0)
    val, (dz,) = xent_np(h2 @ W3 + b3, y)
    dh2 = dz @ W3.T
    da2 = dh2 * (a2 > 0)
    dh1 = da2 @ W2.T
    da1 = dh1 * (a1 > 0)
    return val, (x.T @ da1, da1.sum(0), h1.T @ da2, da2.sum(0), h2.T @ dz, dz.sum(0))


def black_scholes_np(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, v: np.ndarray) -> tuple:
    sq = np.sqrt(T)
    d1 = (np.log(S / K) + (r + F32(0.5) * v * v) * T) / (v * sq)
    d2 = d1 - v * sq
    c1 = F32(0.5) * (1 + scipy.special.erf(d1 / F32(np.sqrt(2))))
    c2 = F32(0.5) * (1 + scipy.special.erf(d2 / F32(np.sqrt(2))))
    disc = K * np.exp(-r * T)
    pdf1 = np.exp(F32(-0.5) * d1 * d1) / F32(np.sqrt(2 * np.pi))
    return np.sum(S * c1 - disc * c2), (c1, T * disc * c2, S * pdf1 * sq)  # argnums S, r, v: delta, rho, vega


def make_inputs(rng: np.random.Generator) -> dict[str, tuple]:
    n = 10**6
    return {
        "softmax xent 4096x1024": ((rng.standard_normal((4096, 1024), F32), rng.integers(0, 1024, 4096)), (0,)),
        "layer norm 4096x1024": ((rng.standard_normal((4096, 1024), F32), rng.standard_normal(1024, F32),
                                  rng.standard_normal(1024, F32), rng.standard_normal((4096, 1024), F32)),
                                 (0, 1, 2)),
        "MLP 784-512-512-10 b128": (tuple(rng.standard_normal(s, F32) * F32(0.05) for s in
                                          [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)])
                                    + (rng.standard_normal((128, 784), F32), rng.integers(0, 10, 128)),
                                    (0, 1, 2, 3, 4, 5)),
        "Black-Scholes greeks 1e6": ((rng.uniform(10, 100, n).astype(F32), rng.uniform(10, 100, n).astype(F32),
                                      rng.uniform(0.2, 2, n).astype(F32), rng.uniform(0.01, 0.05, n).astype(F32),
                                      rng.uniform(0.1, 0.5, n).astype(F32)), (0, 3, 4)),
    }


def numpy_fns() -> dict[str, tuple[Callable, Callable]]:
    """Per workload: (the NumPy loss on arrays, hand-written value and gradients)."""
    def bs(S: Any, K: Any, T: Any, r: Any, v: Any) -> Any:
        return black_scholes(np, scipy.special.erf, S, K, T, r, v)

    return {
        "softmax xent 4096x1024": (lambda z, y: xent(np, z, y), xent_np),
        "layer norm 4096x1024": (lambda *a: layer_norm(np, *a), layer_norm_np),
        "MLP 784-512-512-10 b128": (lambda *a: mlp(np, *a), mlp_np),
        "Black-Scholes greeks 1e6": (bs, black_scholes_np),
    }


# ---- peers -----------------------------------------------------------------------------------

def peer_variants(name: str, args: tuple, argnums: tuple) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {}
    if importlib.util.find_spec("autograd"):
        import autograd
        import autograd.numpy as anp
        import autograd.scipy.special as asp

        fn = _loss_for(name, anp, asp.erf)
        avg = autograd.value_and_grad(fn, argnum=list(argnums))
        out["autograd"] = lambda: avg(*args)
    if importlib.util.find_spec("jax"):
        import jax
        import jax.numpy as jnp
        import jax.scipy.special as jsp

        jvg = jax.jit(jax.value_and_grad(_loss_for(name, jnp, jsp.erf), argnums=argnums))
        jargs = [jax.device_put(a) for a in args]
        out["JAX jit"] = lambda: jax.block_until_ready(jvg(*jargs))
    if importlib.util.find_spec("torch"):
        import torch

        torch.set_num_threads(2)
        targs = [torch.from_numpy(a) for a in args]
        fn = _loss_for(name, _TorchNp(torch), torch.erf)

        def eager(fn: Callable = fn) -> Any:
            leaves = [a.detach().requires_grad_(i in argnums) for i, a in enumerate(targs)]
            val = fn(*leaves)
            val.backward()
            return val, [leaves[i].grad for i in argnums]

        out["torch eager"] = eager
        if os.environ.get("BENCH_TORCH_COMPILE", "1") == "1":
            compiled = torch.compile(fn)
            out["torch.compile"] = lambda: eager(compiled)
    return out


def _loss_for(name: str, xp: Any, erf: Callable) -> Callable:
    return {
        "softmax xent 4096x1024": lambda z, y: xent(xp, z, y),
        "layer norm 4096x1024": lambda *a: layer_norm(xp, *a),
        "MLP 784-512-512-10 b128": lambda *a: mlp(xp, *a),
        "Black-Scholes greeks 1e6": lambda *a: black_scholes(xp, erf, *a),
    }[name]


class _TorchNp:
    """The few NumPy spellings the workloads use, on torch tensors."""

    def __init__(self, torch: Any) -> None:
        self.t = torch

    def max(self, x: Any, axis: int, keepdims: bool) -> Any:
        return x.amax(dim=axis, keepdim=keepdims)

    def sum(self, x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return x.sum() if axis is None else x.sum(dim=axis, keepdim=keepdims)

    def mean(self, x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
        return x.mean() if axis is None else x.mean(dim=axis, keepdim=keepdims)

    def arange(self, n: int) -> Any:
        return self.t.arange(n)

    def maximum(self, x: Any, c: float) -> Any:
        return self.t.clamp_min(x, c)

    def __getattr__(self, name: str) -> Any:  # log, exp, sqrt
        return getattr(self.t, name)


# ---- the run ----------------------------------------------------------------------------------

def _check(name: str, label: str, got: tuple, want: tuple) -> None:
    val, grads = got
    val = val.detach() if hasattr(val, "detach") else val
    np.testing.assert_allclose(float(val), float(want[0]), rtol=2e-3, err_msg=f"{name} {label} value")
    for i, (g, w) in enumerate(zip(grads, want[1])):
        g = np.asarray(g.detach() if hasattr(g, "detach") else g)
        scale = float(np.abs(w).max())
        np.testing.assert_allclose(g, w, rtol=2e-2, atol=2e-3 * scale, err_msg=f"{name} {label} grad {i}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timing per workload")
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", type=int, default=None, help="fusejit threads (default: its own choice)")
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average at start: {os.getloadavg()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    rows = []
    for name, (args, argnums) in make_inputs(rng).items():
        if opts.only and opts.only not in name:
            continue
        loss, hand = numpy_fns()[name]
        want = hand(*args)
        fwd = fusejit.jit(loss, threads=opts.threads)
        vg = fusejit.value_and_grad(fusejit.jit(loss, threads=opts.threads), argnums=argnums)
        got = vg(*args)
        _check(name, "fusejit", got, want)
        np.testing.assert_allclose(float(fwd(*args)), float(want[0]), rtol=2e-3)
        variants: dict[str, Callable[[], Any]] = {
            "fusejit": functools.partial(vg, *args), "fusejit forward": functools.partial(fwd, *args),
            "NumPy hand-written": functools.partial(hand, *args), "NumPy forward": functools.partial(loss, *args)}
        for label, fn in peer_variants(name, args, argnums).items():
            r = fn()
            _check(name, label, (r[0], r[1]), want)
            fn()
            variants[label] = fn
        for fn in variants.values():
            fn()
        samples = time_interleaved(variants, opts.budget)
        ms = {k: s.median * 1e3 for k, s in samples.items()}
        rows.append((name, ms))
        kernels = fusejit.jit(vg).lower(*args).num_kernels
        print(f"\n{name}: value_and_grad = {kernels} kernels")
        for k, v in ms.items():
            print(f"  {k:22} {v:9.3f} ms   fusejit is {v / ms['fusejit']:5.2f}x faster")
        print(f"  value_and_grad / forward: fusejit {ms['fusejit'] / ms['fusejit forward']:.2f}, "
              f"NumPy {ms['NumPy hand-written'] / ms['NumPy forward']:.2f}")
        mib = {k: peak_extra_bytes(variants[k]) / 2**20 for k in ("NumPy hand-written", "autograd") if k in variants}
        print("  peak extra memory (tracemalloc; fusejit, torch and JAX allocate outside it): "
              + ", ".join(f"{k} {v:.1f} MiB" for k, v in mib.items()))
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

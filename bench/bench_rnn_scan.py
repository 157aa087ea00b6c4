"""An RNN with ``fusejit.scan`` (hidden 256, 100 steps, batch 32) against JAX ``lax.scan``,
PyTorch eager and numba, forward and ``value_and_grad``; and the compile time of a 1,000-step
``fori_loop`` against the same Python loop unrolled (median ms, interleaved calls).

    python bench/bench_rnn_scan.py [--repeats N] [--steps 100] [--compile-steps 1000]

Every variant's loss is checked against NumPy's forward first (rtol 1e-4, float32). fusejit's
scan is unrolled at trace time (see the README's control-flow section), so the compile row
measures what that costs: the fori_loop and the hand-unrolled loop trace to the same graph.
Peers missing from the environment are skipped.

Run on 2026-12-08 03:26 UTC (Xeon with AVX-512, 2 cores shared with other jobs, load 12-13: the
absolute figures are inflated and noisy; `--repeats 5 --compile-steps 200`), median ms forward /
value_and_grad: fusejit scan 382 / 2373; JAX lax.scan 28 / 136; torch eager 899 / 3240; numba
2286 / -; NumPy eager 2960 / -. First call of a 200-step loop: fori_loop 4915 ms, unrolled 4925 ms
(the same graph: loops are unrolled). JAX's compiled while loop keeps one body: fusejit is x14
slower forward and x17 with gradients here, the gap native loops (issue 20) are meant to close.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import fusejit

H, B = 256, 32


def numpy_forward(h0: np.ndarray, xs: np.ndarray, w: np.ndarray, u: np.ndarray) -> np.ndarray:
    h = h0
    for x in xs:
        h = np.tanh(h @ w + x @ u)
    return (h * h).sum()


def fusejit_loss(h0, xs, w, u):
    h, _ = fusejit.scan(lambda h, x: (np.tanh(h @ w + x @ u), None), h0, xs)
    return (h * h).sum()


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def peers(h0, xs, w, u) -> dict[str, tuple[Callable[[], object], Callable[[], object] | None]]:
    """name -> (forward, value_and_grad w.r.t. w) for the peers that are installed."""
    out: dict[str, tuple[Callable[[], object], Callable[[], object] | None]] = {}
    try:
        import jax
        import jax.numpy as jnp

        def jloss(h0, xs, w, u):
            h, _ = jax.lax.scan(lambda h, x: (jnp.tanh(h @ w + x @ u), None), h0, xs)
            return (h * h).sum()

        jf, jg = jax.jit(jloss), jax.jit(jax.value_and_grad(jloss, argnums=2))
        args = [jnp.asarray(a) for a in (h0, xs, w, u)]
        out["jax lax.scan"] = (lambda: jf(*args).block_until_ready(),
                               lambda: jax.block_until_ready(jg(*args)))
    except ImportError:
        pass
    try:
        import torch

        th = [torch.from_numpy(a) for a in (h0, xs, u)]
        tw = torch.from_numpy(w.copy()).requires_grad_(True)

        def tloss():
            h = th[0]
            for x in th[1]:
                h = torch.tanh(h @ tw + x @ th[2])
            return (h * h).sum()

        def tgrad():
            tw.grad = None
            loss = tloss()
            loss.backward()
            return loss

        def tfwd():
            with torch.no_grad():
                return tloss()

        out["torch eager"] = (tfwd, tgrad)
    except ImportError:
        pass
    try:
        import numba

        @numba.njit(cache=False, fastmath=False)
        def nloss(h0, xs, w, u):
            h = h0
            for t in range(xs.shape[0]):
                h = np.tanh(h @ w + xs[t] @ u)
            return (h * h).sum()

        out["numba"] = (lambda: nloss(h0, xs, w, u), None)
    except ImportError:
        pass
    return out


def compile_times(steps: int) -> tuple[float, float]:
    """(fori_loop, unrolled Python loop) first-call ms of a small elementwise body, cold cache."""
    import os
    import tempfile

    os.environ["FUSEJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="fj-bench-rnn-")

    def with_fori(x):
        return fusejit.fori_loop(0, steps, lambda i, v: np.tanh(v * 0.5 + x), x)

    def unrolled(x):
        v = x
        for _ in range(steps):
            v = np.tanh(v * 0.5 + x)
        return v

    x = np.ones(64, np.float32)
    out = []
    for fn in (with_fori, unrolled):
        jf = fusejit.jit(fn)
        t = time.perf_counter()
        jf(x)
        out.append((time.perf_counter() - t) * 1e3)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--compile-steps", type=int, default=1000)
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    h0 = np.zeros((B, H), np.float32)
    xs = rng.standard_normal((opts.steps, B, H)).astype(np.float32)
    w, u = (rng.standard_normal((2, H, H)) * (0.5 / np.sqrt(H))).astype(np.float32)
    want = numpy_forward(h0, xs, w, u)

    fwd = fusejit.jit(fusejit_loss)
    vg = fusejit.jit(fusejit.value_and_grad(fusejit_loss, argnums=2))
    variants = {"fusejit scan": (lambda: fwd(h0, xs, w, u), lambda: vg(h0, xs, w, u)), **peers(h0, xs, w, u)}
    variants["numpy eager"] = (lambda: numpy_forward(h0, xs, w, u), None)
    print(f"RNN hidden {H}, batch {B}, {opts.steps} steps, float32; median ms of {opts.repeats}")
    print(f"{'variant':16} {'forward':>9} {'value_and_grad':>15}")
    for name, (f, g) in variants.items():
        got = float(np.asarray(f()))
        if not np.isclose(got, want, rtol=1e-4):
            print(f"{name:16} WRONG: {got} vs {want}")
            continue
        tf = _median_ms(f, opts.repeats)
        tg = _median_ms(g, opts.repeats) if g is not None else float("nan")
        print(f"{name:16} {tf:9.2f} {tg:15.2f}")
    fori, unrolled = compile_times(opts.compile_steps)
    print(f"first call (trace + compile) of a {opts.compile_steps}-step loop: fori_loop {fori:.0f} ms, "
          f"unrolled Python loop {unrolled:.0f} ms")


if __name__ == "__main__":
    main()

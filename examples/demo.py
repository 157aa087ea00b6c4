"""fusejit in one minute: jit an ordinary NumPy function, check it against NumPy, look inside, time it."""

from __future__ import annotations

import math
import time

import numpy as np

import fusejit


def gelu(x):
    # math.sqrt gives a Python float, which NEP 50 treats as weak: float32 in, float32 out.
    # (np.sqrt(2 / np.pi) is a float64 NumPy scalar and would promote everything to float64, in NumPy too.)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, gamma, beta):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * gamma + beta


def median_ms(fn, *args, repeat: int = 20) -> float:
    fn(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 1024), dtype=np.float32)
    gamma, beta = rng.standard_normal(1024, dtype=np.float32), rng.standard_normal(1024, dtype=np.float32)
    cases = [("gelu", gelu, (x,)), ("softmax", softmax, (x,)), ("layer_norm", layer_norm, (x, gamma, beta))]

    f = fusejit.jit(gelu)
    print("Traced IR of gelu (before optimization):\n")
    print(f.trace(x[:4, :8]))

    print(f"{'function':<12} {'max |err|':>10} {'kernels':>8} {'NumPy ms':>10} {'fusejit ms':>11} {'speedup':>8}")
    for name, fn, args in cases:
        jitted = fusejit.jit(fn)
        expected, actual = fn(*args), jitted(*args)
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        err = float(np.max(np.abs(actual.astype(np.float64) - expected)))
        kernels = jitted.lower(*args).num_kernels
        t_np, t_fj = median_ms(fn, *args), median_ms(jitted, *args)
        print(f"{name:<12} {err:>10.2e} {kernels:>8} {t_np:>10.2f} {t_fj:>11.2f} {t_np / t_fj:>7.1f}x")


if __name__ == "__main__":
    main()

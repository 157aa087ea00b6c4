"""cumsum through fusejit vs np.cumsum, interleaved calls in one process (median ms, ratio).

    /work/venv/bin/python bench/bench_scan.py [--repeats N]

Both sides return a fresh array per call (the output's page faults count on both). Every result is
checked bitwise against NumPy first. A float scan is a chain of dependent adds in NumPy's order
(bitwise equality forbids reassociating it), so one line runs at the add's latency: ~0.6 ns per
float32 element here; lines along the last axis run 4 at a time (their chains interleave), and a
scan along another axis advances whole rows (vectorized, memory-bound).

Runs on 2026-11-22 10:16 UTC (2 cores shared with other jobs, load 2.2-2.7; 3 runs, medians of 31
interleaved calls; fusejit ms / NumPy ms): f32 10^7 5.9-6.1 / 36.3-36.8 (x6.0-6.2, the add-latency
bound); f32 (1000, 10^4) axis=-1 3.6-4.7 / 36 (x7.8-10); f32 (10^4, 1000) axis=0 3.2-4.2 / 54-61
(x15-17); f64 (10^6, 10) axis=-1 6.9-7.2 / 44-46 (x6.2-6.5); i64 10^7 6.1-6.8 / 10.7-11.5 (x1.6-1.8,
memory-bound); int8 -> int64 10^7 4.5-5.1 / 19-20 (x3.9-4.2: the cast is applied as the scan loads).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fusejit

CASES = {
    "f32 10^7, axis=None": ((10**7,), np.float32, None),
    "f32 (1000, 10^4), axis=-1": ((1000, 10**4), np.float32, -1),
    "f32 (10^4, 1000), axis=0": ((10**4, 1000), np.float32, 0),
    "f64 (10^6, 10), axis=-1": ((10**6, 10), np.float64, -1),
    "i64 10^7, axis=None": ((10**7,), np.int64, None),
    "i8 -> i64 10^7, axis=None": ((10**7,), np.int8, None),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=31)
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'case':28} {'fusejit ms':>10} {'numpy ms':>9} {'speedup':>8}")
    for name, (shape, dt, axis) in CASES.items():
        x = (rng.standard_normal(shape) if np.dtype(dt).kind == "f" else rng.integers(0, 100, shape)).astype(dt)
        f = fusejit.jit(lambda a, axis=axis: np.cumsum(a, axis=axis))
        got, want = f(x), np.cumsum(x, axis=axis)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
        tf, tn = [], []
        for _ in range(opts.repeats):
            t = time.perf_counter()
            f(x)
            tf.append(time.perf_counter() - t)
            t = time.perf_counter()
            np.cumsum(x, axis=axis)
            tn.append(time.perf_counter() - t)
        mf, mn = np.median(tf) * 1e3, np.median(tn) * 1e3
        print(f"{name:28} {mf:10.2f} {mn:9.2f} {mn / mf:7.2f}x")


if __name__ == "__main__":
    main()

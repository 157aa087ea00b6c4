"""fusejit on Dask vs the same NumPy code on Dask (and numexpr / numba where installed), one run.

    python bench/bench_dask.py [--n 100_000_000] [--chunk 10_000_000] [--repeats 3]

Workloads: Black–Scholes (S, K, T float64 arrays of n elements; r, v scalars; two outputs) and a
sum of squares (float32, n elements). Inputs are generated on the cluster and persisted before
timing, so each figure is the function's work plus Dask's scheduling, not data generation.
Rows:

- 2-worker ``LocalCluster(processes=True)``, 1 thread per worker: fusejit blockwise (functions
  travel pickled; workers compile once, from the disk cache) vs NumPy ``map_blocks`` vs numexpr
  / numba ``map_blocks``;
- the threaded scheduler with 1 and 2 threads on the fusejit version (compiled calls release
  the GIL, so 2 threads should approach 2x on 2 cores) — ``threads=1`` per kernel so the Dask
  threads are the only parallelism;
- fusejit in one process on the whole array (its own 2-thread pool): the overhead of Dask's
  scheduling is the ratio of the cluster row to this one.

Run from a script file (LocalCluster re-imports ``__main__``). Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf

import fusejit


def bs_numpy(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    d1 = (np.log(S / K) + (r + 0.5 * v * v) * T) / (v * np.sqrt(T))
    d2 = d1 - v * np.sqrt(T)
    call = S * 0.5 * (1 + erf(d1 / np.sqrt(2))) - K * np.exp(-r * T) * 0.5 * (1 + erf(d2 / np.sqrt(2)))
    return call, call - S + K * np.exp(-r * T)


def ss_numpy(x: np.ndarray) -> Any:
    return (x * x).sum()


bs_fusejit = fusejit.jit(bs_numpy)
ss_fusejit = fusejit.jit(ss_numpy)
bs_fusejit_1t = fusejit.jit(bs_numpy, threads=1)
ss_fusejit_1t = fusejit.jit(ss_numpy, threads=1)


def bs_numexpr(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: float, v: float) -> np.ndarray:
    import numexpr as ne

    d1 = ne.evaluate("(log(S / K) + (r + 0.5 * v * v) * T) / (v * sqrt(T))")
    d2 = ne.evaluate("d1 - v * sqrt(T)")
    nd1, nd2 = 0.5 * (1 + erf(d1 / np.sqrt(2))), 0.5 * (1 + erf(d2 / np.sqrt(2)))  # numexpr has no erf
    call = ne.evaluate("S * nd1 - K * exp(-r * T) * nd2", local_dict={"S": S, "K": K, "T": T, "r": r, "nd1": nd1,
                                                                      "nd2": nd2})
    return np.stack([call, ne.evaluate("call - S + K * exp(-r * T)",
                                       local_dict={"call": call, "S": S, "K": K, "T": T, "r": r})])


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm: compile, load, first touches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--chunk", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    opts = ap.parse_args()
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    n, chunk, reps = opts.n, opts.chunk, opts.repeats
    rows: list[tuple[str, str, float]] = []

    def dask_bs(f: Callable, S: Any, K: Any, T: Any) -> Callable[[], Any]:
        """Both prices of every element, each summed (one graph: Black–Scholes runs once per chunk)."""
        if isinstance(f, fusejit.JitFunction):
            return lambda: dask.compute(*[a.sum() for a in f(S, K, T, 0.05, 0.2)])
        stacked = (lambda *b: np.stack(bs_numpy(*b, 0.05, 0.2))) if f is bs_numpy else \
            (lambda *b: bs_numexpr(*b, 0.05, 0.2))
        return lambda: da.map_blocks(stacked, S, K, T, new_axis=0, chunks=((2,), S.chunks[0]),
                                     meta=np.empty((0, 0))).sum(axis=1).compute()

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        S = da.random.uniform(10, 100, size=n, chunks=chunk).persist()
        K = da.random.uniform(10, 100, size=n, chunks=chunk).persist()
        T = da.random.uniform(0.1, 2, size=n, chunks=chunk).persist()
        X = da.random.standard_normal(size=n, chunks=chunk).astype(np.float32).persist()
        client.wait_for_workers(2)
        rows.append(("black_scholes", "cluster fusejit", median_seconds(dask_bs(bs_fusejit_1t, S, K, T), reps)))
        rows.append(("black_scholes", "cluster NumPy", median_seconds(dask_bs(bs_numpy, S, K, T), reps)))
        try:
            import numexpr  # noqa: F401

            rows.append(("black_scholes", "cluster numexpr", median_seconds(dask_bs(bs_numexpr, S, K, T), reps)))
        except ImportError:
            pass
        rows.append(("sum_of_squares", "cluster fusejit", median_seconds(lambda: ss_fusejit_1t(X).compute(), reps)))
        partial_sums = X.map_blocks(lambda b: np.atleast_1d(ss_numpy(b)), chunks=((1,) * X.numblocks[0],),
                                    meta=np.empty(0, np.float32))
        rows.append(("sum_of_squares", "cluster NumPy", median_seconds(lambda: partial_sums.sum().compute(), reps)))
        Sl, Kl, Tl, Xl = client.gather(client.compute([S, K, T, X]))
    for threads in (1, 2):
        with dask.config.set(scheduler="threads", num_workers=threads):
            Sd, Kd, Td, Xd = (da.from_array(a, chunks=chunk) for a in (Sl, Kl, Tl, Xl))  # hashed once, not per call
            rows.append(("black_scholes", f"threaded scheduler {threads} thread(s) fusejit",
                         median_seconds(dask_bs(bs_fusejit_1t, Sd, Kd, Td), reps)))
            rows.append(("sum_of_squares", f"threaded scheduler {threads} thread(s) fusejit",
                         median_seconds(lambda xd=Xd: ss_fusejit_1t(xd).compute(), reps)))
    rows.append(("black_scholes", "one process fusejit (2 threads)",
                 median_seconds(lambda: [a.sum() for a in bs_fusejit(Sl, Kl, Tl, 0.05, 0.2)], reps)))
    rows.append(("black_scholes", "one process NumPy", median_seconds(lambda: bs_numpy(Sl, Kl, Tl, 0.05, 0.2), 1)))
    rows.append(("sum_of_squares", "one process fusejit (2 threads)", median_seconds(lambda: ss_fusejit(Xl), reps)))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"n = {n:,}, chunks of {chunk:,}; {cpu}, {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    print(f"{'workload':<16} {'configuration':<44} {'seconds':>8}")
    for w, name, t in rows:
        print(f"{w:<16} {name:<44} {t:8.3f}")


if __name__ == "__main__":
    main()

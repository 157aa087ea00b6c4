"""Run by tests/dask/test_cluster.py in a fresh process: ``LocalCluster(processes=True)`` re-imports
``__main__``, so the cluster must be started from a script file, under ``if __name__ == "__main__"``."""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def die_once(block: np.ndarray, marker: str) -> np.ndarray:
    """Kill the worker process running the first task that sees no marker file (Dask retries it)."""
    if block.size and not os.path.exists(marker):  # (Dask probes with an empty block for meta)
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os._exit(1)
    return block


def main() -> None:
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    from tests.dask import workloads as w

    marker = sys.argv[1]
    results = {}
    rng = np.random.default_rng(0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        S, K, T = rng.uniform(10, 100, 200_000), rng.uniform(10, 100, 200_000), rng.uniform(0.1, 2, 200_000)
        call, put = w.black_scholes(da.from_array(S, chunks=50_000), K, T, 0.05, 0.2)
        c, p = client.compute([call, put], sync=True)
        wc, wp = w.black_scholes(S, K, T, 0.05, 0.2)
        results["black_scholes"] = bool(np.array_equal(c, wc) and np.array_equal(p, wp))
        x = rng.standard_normal((4000, 128)).astype(np.float32)
        g, b = np.ones(128, np.float32), np.zeros(128, np.float32)
        sm = client.compute(w.softmax(da.from_array(x, chunks=(1000, 128))), sync=True)
        results["softmax"] = bool(np.allclose(sm, w.softmax(x), rtol=1e-6, atol=0))
        ln = client.compute(w.layer_norm(da.from_array(x, chunks=(1000, 128)), g, b), sync=True)
        results["layer_norm"] = bool(np.array_equal(ln, w.layer_norm(x, g, b)))
        v = rng.standard_normal(1_000_000).astype(np.float32)
        ss = client.compute(w.sum_of_squares(da.from_array(v, chunks=250_000)), sync=True)
        results["sum_of_squares"] = bool(np.isclose(ss, (v.astype(np.float64) ** 2).sum(), rtol=1e-5))
        # a worker dies in the middle of the graph: the nanny restarts it and Dask reruns the task
        dv = da.from_array(v, chunks=250_000).map_blocks(die_once, marker, meta=np.empty(0, v.dtype))
        again = client.compute(w.sum_of_squares(dv), sync=True)
        results["after_worker_death"] = bool(again == ss)
        results["worker_died"] = os.path.exists(marker)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""Compile time against program size: trace, optimize, fusion plan and LLVM compile, per stage.

    python bench/bench_compile_scaling.py [--max-nodes N]

Workloads whose graphs grow with a size parameter, printed as a curve (traced nodes, seconds per
stage, kernels), so a super-linear stage shows as a ratio growing faster than the node count:

- ``dct``: an n-point DCT-II over a batch written as Python loops over ``np.cos`` terms
  (``s = s + x[..., i] * np.cos(...)``, one ``np.stack`` of the n sums), as signal-processing code
  written without a matrix does; targets of issue 14: n = 32 compiles in < 2 s into <= 8 kernels.
- ``columns``: w columns of a matrix, each through a chain of elementwise ops, stacked back and
  consumed (``np.stack(cols, 1) * 2``): many independent kernels beside each other.
- ``stacks``: layers of (stack of elementwise results -> slices -> elementwise): every layer
  concatenates computed values and reads them back. Target: a 10,000-node program plans in < 1 s.

Each size is compiled in this process with a fresh cache directory, so ``lower`` (trace, optimize,
plan, LLVM: the whole first call but running it) includes a real LLVM compile; the optimizer and the
planner are then timed again on their own over the traced graph, so their curves are not hidden
behind LLVM's. Results are checked against NumPy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np


def dct(n: int) -> Callable:
    def f(x):
        out = []
        for k in range(n):
            s = 0.0
            for i in range(n):
                s = s + x[..., i] * np.cos(np.pi * k * (2 * i + 1) / (2 * n))
            out.append(s)
        return np.stack(out, axis=-1)
    return f


def columns(w: int, depth: int = 8) -> Callable:
    def f(x):
        cols = []
        for j in range(w):
            y = x[:, j % x.shape[1]]
            for d in range(depth):
                y = np.tanh(y) * (1.0 + 0.01 * d) + y if d % 2 else np.exp(-y * y) + y
            cols.append(y)
        return np.stack(cols, axis=1) * 2.0
    return f


def stacks(layers: int, width: int = 16) -> Callable:
    def f(x):
        cols = [x[:, j % x.shape[1]] for j in range(width)]
        for d in range(layers):
            m = np.stack([np.sin(c) * 0.5 + c for c in cols], axis=1)
            cols = [m[:, j] + m[:, (j + d + 1) % width] for j in range(width)]
        return np.stack(cols, axis=1)
    return f


WORKLOADS: dict[str, tuple[Callable[[int], Callable], list[int], tuple[int, ...]]] = {
    "dct": (dct, [8, 16, 32, 48], (256, 0)),
    "columns": (columns, [16, 64, 256, 512], (512, 16)),
    "stacks": (stacks, [8, 32, 128, 256], (512, 16)),
}


def measure(make: Callable[[int], Callable], size: int, shape: tuple[int, ...]) -> dict[str, float]:
    import fusejit
    from fusejit.driver import optimize_graph
    from fusejit.passes.fusion import plan_fusion

    shape = tuple(size if d == 0 else d for d in shape)
    x = np.random.default_rng(0).standard_normal(shape)
    fn = make(size)
    f = fusejit.jit(fn)
    t0 = time.perf_counter()
    f.lower(x)  # trace, optimize, plan, LLVM: the whole first call but the run
    t1 = time.perf_counter()
    traced = f.trace(x)  # cached now
    opt = optimize_graph(traced)
    t2 = time.perf_counter()
    plan = plan_fusion(opt)
    t3 = time.perf_counter()
    np.testing.assert_allclose(f(x), fn(x), rtol=1e-9, atol=1e-9)
    return {"nodes": len(traced.nodes), "lower": t1 - t0, "optimize": t2 - t1, "plan": t3 - t2,
            "kernels": len(plan.kernels)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    ap.add_argument("--max-nodes", type=int, default=12000, help="skip sizes whose traced graph is larger")
    opts = ap.parse_args()
    os.environ["FUSEJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="fjscale-")
    print(f"{'workload':9} {'size':>5} {'nodes':>6} {'lower s':>8} {'opt s':>7} {'plan s':>7} "
          f" {'kernels':>7} {'plan us/node':>12}", flush=True)
    for name in opts.only or WORKLOADS:
        make, sizes, shape = WORKLOADS[name]
        for size in sizes:
            r = measure(make, size, shape)
            print(f"{name:9} {size:5} {r['nodes']:6} {r['lower']:8.3f} {r['optimize']:7.3f} {r['plan']:7.3f} "
                  f" {r['kernels']:7} {1e6 * r['plan'] / r['nodes']:12.1f}", flush=True)
            if r["nodes"] > opts.max_nodes:
                break


if __name__ == "__main__":
    main()

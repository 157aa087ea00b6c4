"""Compile time of fusejit, cold and from the disk cache, each measured in a fresh process.

In-process figures would lie: the CPU backend keeps compiled programs for the life of the
process. So a child process (``python -m fusejit.bench.compile_times``) times ``lower()``
(trace + optimize + compile, no run) of every case, twice over: first with an empty
``FUSEJIT_CACHE_DIR`` (cold), then again in a new child over the directory the first one
filled (cached); the figures are medians over three such pairs. Each child first compiles the
tiny dispatch probe, so one-time start-up (LLVM engine, libraries) is reported apart as
``init`` instead of landing on the first workload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

CACHE_ENV = "FUSEJIT_CACHE_DIR"


def case_key(workload: str, shapes: Sequence[Sequence[int]]) -> str:
    return f"{workload}:{json.dumps([list(s) for s in shapes])}"


def _child(request: dict[str, Any]) -> dict[str, Any]:
    from .measure import describe
    from .variants import fusejit_jit
    from .workloads import DISPATCH_PROBE, WORKLOADS

    def lower(workload, shapes, dtypes) -> float:
        arrays = [np.zeros(s, d) for s, d in zip(shapes, dtypes)]  # untouched pages: nearly free
        f = fusejit_jit(workload, True, request["threads"])
        t0 = time.perf_counter()
        f.lower(*arrays)
        return time.perf_counter() - t0

    out: dict[str, Any] = {"init_s": None, "cases": {}, "errors": {}}
    try:
        out["init_s"] = lower(DISPATCH_PROBE, [[8]], ["float32"])
    except Exception as exc:
        out["errors"]["init"] = describe(exc)
    for case in request["cases"]:
        key = case_key(case["workload"], case["shapes"])
        try:
            out["cases"][key] = lower(WORKLOADS[case["workload"]], case["shapes"], case["dtypes"])
        except Exception as exc:  # reported per case; the others still get their figure
            out["errors"][key] = describe(exc)
    return out


def run_child(cases: Sequence[dict[str, Any]], threads: int | None, cache_dir: str, timeout_s: float) -> dict[str, Any]:
    request = json.dumps({"cases": list(cases), "threads": threads})
    proc = subprocess.run([sys.executable, "-m", "fusejit.bench.compile_times", request], capture_output=True,
                          text=True, timeout=timeout_s, env={**os.environ, CACHE_ENV: cache_dir})
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"compile-time child exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout)


def measure_compile_times(cases: Sequence[dict[str, Any]], threads: int | None, repeats: int = 3,
                          timeout_s: float = 600.0) -> dict[str, dict[str, Any]]:
    """``{"cold": child_result, "cached": child_result}``, each figure the median over ``repeats``
    pairs of children (a single compile on a shared machine swings by a third), every pair over
    its own private, initially empty cache."""
    runs = []
    for _ in range(max(1, repeats)):
        with tempfile.TemporaryDirectory(prefix="fusejit-bench-cache-") as cache_dir:
            cold = run_child(cases, threads, cache_dir, timeout_s)
            runs.append({"cold": cold, "cached": run_child(cases, threads, cache_dir, timeout_s)})
    return {kind: _median_result([r[kind] for r in runs]) for kind in ("cold", "cached")}


def _median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return float(np.median(present)) if present else None

    keys = {k for r in results for k in r["cases"]}
    return {"init_s": median([r["init_s"] for r in results]),
            "cases": {k: median([r["cases"].get(k) for r in results]) for k in keys},
            "errors": {k: v for r in results for k, v in r["errors"].items()}}


if __name__ == "__main__":
    json.dump(_child(json.loads(sys.argv[1])), sys.stdout)

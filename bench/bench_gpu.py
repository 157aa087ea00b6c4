"""GPU backend: fused vs unfused fusejit vs the HBM roofline, on the bench suite's workloads.

    python bench/bench_gpu.py                 # on a machine with an NVIDIA GPU (e.g. an H100)
    python bench/bench_gpu.py --json out.json # also write the numbers
    python bench/bench_gpu.py --simulate      # no GPU: run tiny sizes in numba-cuda's simulator,
                                              # checking answers only (no timings)

Inputs are copied to the device once; each timed call runs device-resident (device arrays in,
device arrays out), synchronized, median of ``--repeat``. The roofline is the bytes a perfect
kernel moves (inputs read once + outputs written once) over the measured device-to-device copy
bandwidth of this GPU; "roofline %" is that ideal time over the measured one. Every answer is
checked against NumPy before anything is timed. Without a usable GPU it prints what is missing
and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

#: device-scale sizes (the CPU suite's sizes are too small to load an H100)
GPU_SIZES = {"chain": 1 << 25, "gelu": 8192, "softmax": 65536, "layer_norm": 65536, "black_scholes": 1 << 24,
             "mlp": 8192, "sum_of_squares": 1 << 27, "mnist_step": 8192, "pairwise": 4096}
COMPUTE_BOUND = {"mlp", "pairwise"}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--simulate", action="store_true", help="numba-cuda simulator, tiny sizes, no timings")
    ap.add_argument("--workloads", nargs="*", help="subset of workload names")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the default sizes")
    ap.add_argument("--json", help="write the results here")
    return ap.parse_args()


def median_ms(fn, sync, repeat: int) -> float:
    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e3)


def copy_bandwidth(cuda, repeat: int) -> float:
    """GB/s of a device-to-device copy, counting read + write bytes."""
    a = cuda.device_array(1 << 28, np.float32)
    b = cuda.device_array(1 << 28, np.float32)
    ms = median_ms(lambda: b.copy_to_device(a), cuda.synchronize, repeat)
    return 2 * a.nbytes / ms / 1e6


def main() -> int:
    ns = parse_args()
    if ns.simulate:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # must precede the first numba.cuda import
    from fusejit import jit
    from fusejit.bench.variants import bind
    from fusejit.bench.workloads import WORKLOADS, numpy_namespace
    from fusejit.runtime.device import DeviceUnavailableError, require_gpu

    try:
        status = require_gpu("gpu:0")
    except DeviceUnavailableError as exc:
        print(f"bench_gpu: skipped: {exc}")
        return 0
    from numba import cuda

    name = "numba-cuda simulator" if status.simulator else cuda.get_current_device().name
    name = name.decode() if isinstance(name, bytes) else name
    bw = None if ns.simulate else copy_bandwidth(cuda, ns.repeat)
    print(f"# fusejit GPU backend on {name}" + (f" (device copy {bw:.0f} GB/s)" if bw else ""))
    print("| workload | size | kernels fused/unfused | fused ms | unfused ms | fused speedup | roofline ms "
          "| roofline % |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for wname, w in WORKLOADS.items():
        if ns.workloads and wname not in ns.workloads:
            continue
        size = max(w.tiny, 4) if ns.simulate else max(1, int(GPU_SIZES.get(wname, max(w.sizes)) * ns.scale))
        host = w.inputs(size)
        body = bind(w.body, numpy_namespace(), wname)
        want = body(*host)
        want = want if isinstance(want, tuple) else (want,)
        dev = [cuda.to_device(np.ascontiguousarray(a)) for a in host]
        fused, unfused = jit(body, device="gpu"), jit(body, device="gpu", fuse=False)
        for f in (fused, unfused):
            got = f(*dev)
            got = got if isinstance(got, tuple) else (got,)
            for g, wv in zip(got, want):
                g = g.copy_to_host() if hasattr(g, "copy_to_host") else np.asarray(g)
                err = np.max(np.abs(g - wv)) / max(np.max(np.abs(wv)), 1e-30) if wv.size else 0.0
                if not err <= w.tol:
                    print(f"bench_gpu: {wname}: wrong answer (relative error {err:.3g})", file=sys.stderr)
                    return 1
        nk = (fused.lower(*dev).num_kernels, unfused.lower(*dev).num_kernels)
        row = {"workload": wname, "size": size, "kernels_fused": nk[0], "kernels_unfused": nk[1]}
        if not ns.simulate:
            t_f, t_u = (median_ms(lambda f=f, d=dev: f(*d), cuda.synchronize, ns.repeat) for f in (fused, unfused))
            nbytes = sum(a.nbytes for a in host) + sum(np.asarray(x).nbytes for x in want)
            ideal = nbytes / (bw * 1e6)
            row.update(fused_ms=t_f, unfused_ms=t_u, roofline_ms=ideal)
            roof = "n/a (compute-bound)" if wname in COMPUTE_BOUND else f"{100 * ideal / t_f:.0f}%"
            print(f"| {wname} | {size} | {nk[0]}/{nk[1]} | {t_f:.3f} | {t_u:.3f} | {t_u / t_f:.2f}x | "
                  f"{ideal:.3f} | {roof} |")
        else:
            print(f"| {wname} | {size} | {nk[0]}/{nk[1]} | simulated | simulated | - | - | - |")
        rows.append(row)
    if ns.json:
        with open(ns.json, "w") as fh:
            json.dump({"device": name, "copy_gbs": bw, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

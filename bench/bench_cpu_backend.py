"""CPU backend figures side by side with NumPy, in one run (median ms, speedup, roofline share).

    /work/venv/bin/python bench/bench_cpu_backend.py [--quick]

Workloads come from the issue: the elementwise chain, GELU, softmax, layer norm,
sum of squares, an MLP, dispatch of ``x+1`` on 8 elements, compile times (cold, in-memory
and from the disk cache) and page faults per call. The roofline is bytes moved (inputs
read once + outputs written once) over the measured copy bandwidth of this machine.
Graphs are built from IR text so this runs without the tracer.

Runs on 2026-11-22 (2 cores shared with other jobs, load average 4-7, so the second core was
rarely free; ranges over 4 runs, median ms): chain 1e7 f32 7.1-7.7 ms (NumPy 36-44, 80-117% of
the measured roofline); GELU [4096,4096] 7.5-15.6 (NumPy 69-118); softmax [4096,1024] 2.7-5.6
(NumPy 11-32), 1 kernel; layer norm 1.3-1.8 (NumPy 10-13), 1 kernel; sum of squares 1e7 1.1-1.7
(NumPy 7.3-12); MLP on par with NumPy (same OpenBLAS; 1.3 vs 1.3 ms when measured alone);
dispatch of x+1 on 8 f32 1.1-1.6 us (NumPy 0.5-1.0); 0 page faults per call in steady state;
compile in a new process: chain 62-215 ms cold, 11-31 ms from the disk cache; softmax 220-700 ms
cold, 8-23 ms from the disk cache.

Second session (05:00-05:50 UTC, box mostly idle, then one other job at nice -10 on both cores):
- compile_cpu in a new process, CPU ms (= wall), before -> after lazy generic-stride versions:
  chain 85-89 -> 55-76, softmax 147-220 -> 100-144, layer norm 196-256 -> 110-149; from the disk
  cache 8-13 ms. (This box sets PYTHONDONTWRITEBYTECODE=1: a first ``@jit`` call also compiles
  ~30 fusejit modules from source, ~60 ms that a normal install with .pyc files does not pay.)
- softmax [4096,1024] with float32 exp inline instead of libmvec: 2 threads 1.81-2.19 -> 1.25-1.51
  ms, 1 thread 2.54-3.35 -> 1.47-2.41 (NumPy 10-13); layer norm 0.84-1.07 ms.
- threads (thread_crossover below, idle box): a 1-d chain never used the second core before; now
  chain 1e7 runs in 3.9 ms vs 6.6 on one thread (TF XLA's 5.25), 2^20 in 245-255 us vs 490-524.
  Workers now spin like libgomp's default (GOMP_SPINCOUNT=300000, a few ms) instead of sleeping
  at once (OMP_WAIT_POLICY=passive), which cost every parallel kernel a ~60 us wake-up back to
  back and ~1 ms after a 2 ms gap (chain 2^18: 1441 -> 247 us). Two threads win from 2^13
  elements on back-to-back calls (x1.7-1.85 at 2^17), from 2^18 after a 10 ms idle gap (x0.7-0.86
  at 2^17); PARALLEL_MIN stays 2^17. When another process holds the second core, a parallel
  kernel waits ~1 ms for its worker to be scheduled: a fork-join with a barrier cannot avoid it;
  a pool whose caller runs the chunks no worker has claimed could.

Third session (06:10-07:50 UTC, load average 6-15 all along: other jobs saturated memory, copy
bandwidth measured 9-18 GB/s instead of 52; every figure below is paired, interleaved calls in one
process, and still noisy):
- where each kernel stands, in cache (1 thread, 64-256 rows / 2^14-2^16 elements, compute only):
  chain 0.29 ns per element (two vdivps per 16 values bound it: libmvec tanhf has none), softmax
  0.31-0.44 ns per element, layer norm ~0.16 ns per element; in cache fusejit's softmax is 1.7x
  and its layer norm 2x faster than torch's eager F.softmax / F.layer_norm (26 vs 43 us, 12 vs 25
  us at 64x1024). Replacing the softmax's division, max or exp by cheaper stand-ins moved nothing
  (same time): in cache these kernels are not bound by any one instruction.
- at full size chain, GELU, softmax and layer norm are memory-bound, and a plain store costs a
  read-for-ownership in theory (chain 5 x 40 MB for 4 compulsory). Streaming (non-temporal) stores
  through aligned stack tiles were built and measured on vs off, interleaved: under load 9-12 chain
  0.96-1.01, GELU 0.99-1.02, softmax 0.72-1.11, layer norm 0.94-1.29; on a quiet machine (load 0.6,
  41 paired calls) chain 0.98, GELU 1.00, softmax 1.00-1.02, layer norm 0.99-1.02. No gain, and a
  second copy of every large kernel doubled the chain's cold compile (55 -> 103 ms): removed.
- also tried and dropped, because they measured no faster: float32 tanh inline (expm1-based, <= 3 ulp;
  0-7% slower in chain and GELU), software prefetch of row r+1/r+2/r+4 in row kernels (ratios
  0.99-1.02), staging one row instead of 16 KiB of rows.

Fourth session (08:50-10:40 UTC, load average 2-5 all along; every figure is paired: interleaved
calls in one process, or alternating fresh processes):
- pitfall: the compile cache is keyed by the graph, the target and a digest of the source files,
  not by module-level switches, in memory (``_compiled``) as on disk. Flipping a constant in one
  process (or one cache dir) and compiling again runs the first variant's code: such an A/B
  measures noise. Likely why the third session saw software prefetch and streaming stores gain
  nothing in row kernels; A/B scripts must put the switch into the key and use their own cache dir.
- a C prototype of the layer norm row loop (gcc -O3, AVX-512, 1 thread, [4096,1024], ns per row):
  three plain sweeps 320-400; + prefetch of the next row 0.77-0.80x; + non-temporal stores 0.78x;
  both 0.48-0.57x (175-235 ns, torch's F.layer_norm 280-300). Staging each row in an L1 tile and
  copying it out with non-temporal stores lost the gain (= prefetch alone): the streaming stores
  must come from the output pass itself, interleaved with its arithmetic.
- landed in row kernels (kernels.py): prefetch of the next row of each full-size input, and row
  outputs of >= 16 MiB written with non-temporal vector stores (lanes built as scalars, fused by
  SLP). Layer norm, 1 thread, fresh processes: p10 1.70-1.80 -> 0.96-1.04 ms (torch 1.14-1.17);
  same process as the C prototype 362 -> 176 ns per row (C 179). In the bench's own interleaved
  timing with NumPy and torch, 2 threads: median 1.75 -> 1.26-1.36 ms, min 0.85-0.91 -> 0.58-0.64
  (torch min 0.62-0.73; its median 8 ms under this load). Softmax (its exp stash keeps plain
  stores; prefetch only): 2 threads median 1.89 -> 1.55 ms, 1 thread unchanged (x1.007).
- tried, not landed: softmax's stash kept in an L1 stack tile so its final pass can stream
  (fusejit-only interleaving x0.64-0.84, but median 1.65-1.83 -> 1.99 ms with NumPy and torch
  interleaved, min equal); the reductions' passes kept as loops instead of fully unrolled (no
  spills, sequential loads): slower; division by sqrt(var + eps) is not what bounds the kernel (a
  reciprocal multiply, for timing only, moved it 162 -> 158 ns per row in cache).

Fifth session (09:45-10:50 UTC, load average 1-4; A/B = two git worktrees, each with its own
FUSEJIT_CACHE_DIR, alternating fresh processes, 40-300 calls each; p10 per process, then the
median or quartile over 8-16 processes):
- flat kernels stream too (outputs >= 16 MiB in all, aligned, float; whole lines non-temporal, the
  partial last line plain; no libmvec call in the kernel, whose vector variant could round
  differently from the plain loop's scalar tail). Chain 1e7, 2 threads: p10 median 4.97 -> 3.78
  ms, best 3.07 -> 1.96; 1 thread 5.64 -> 4.64. GELU 4096^2, 2 threads: p10 quartile 4.39 -> 3.25
  ms, best 3.44 -> 3.08 (2 streams instead of 3; at 3.1 ms it is compute-bound, ~24.6 cycles per
  16 values); 1 thread unchanged (6.25 vs 6.31: compute-bound). Chain 1e6 (4 MiB outputs, below
  the threshold) 0.350 vs 0.351 ms. Black-Scholes (float64 log/exp/erf are libmvec calls) keeps
  plain stores: it is compute-bound anyway (~25% of the roofline). The full ``fusejit bench``
  under load 1-4 (copy bandwidth measured 26-34 GB/s, 3 alternating runs each): GELU 57-72% ->
  70-79% of the roofline, chain 1e7 65-87% -> 89-132%.
- the line of non-temporal lanes is now built by a 16-lane loop into a 64-byte stack tile that the
  loop vectorizer widens (it and the tile vanish: assembly identical to the 16 SLP-fused scalars,
  row kernels' included). Warm compile CPU time (in-process, no cache, min of 7 per process, 3-4
  alternating processes): before streaming GELU 29-40 ms, chain 29-45; with 16 SLP scalars 43-46
  and 45-49; with the tile loop, not unrolled, 39-60 and 41-62 (+40%, ~12 ms; the machine's speed
  varied between processes, the ratio did not); layer norm unchanged (same code, 88-145 both).
- tried, not landed: software prefetch of each input 512 B or 2 KiB ahead in the flat line loop
  (2 threads, 6 alternating processes: GELU p10 quartile 3.34 -> 3.54 / 5.12 ms, chain 1e7 3.78
  -> 3.84 / 3.69: no gain, the hardware prefetchers follow flat streams); streaming row outputs
  with inline exp along the row ([4096,1024], 1 thread: p10 1.50 -> 1.79 ms, slower); no
  unrolling of the row kernels' line loop (layer norm 2 threads p10 quartile 0.46 -> 0.51 ms);
  for static sizes >= the threshold, no vectorized plain loop (scalar partial lines at both
  ends, outputs allowed at any common offset in a line): compile +10-20 -> +6-12 ms, but its
  fallback for outputs at different offsets would be scalar; left for later.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fusejit.codegen.cpu import compile_cpu
from fusejit.codegen.cpu.module import PARALLEL_MIN
from fusejit.ir import parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.cpu_graphs import CHAIN, LAYERNORM, SOFTMAX, SUMSQ  # noqa: E402  (one copy of the workloads)


def median_ms(fn, repeat: int = 15, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e3)


def copy_bandwidth() -> float:
    """GB/s of a steady-state copy (read + write bytes), the roofline's denominator."""
    a = np.ones(1 << 25, np.float32)
    b = np.empty_like(a)
    ms = median_ms(lambda: np.copyto(b, a), 9)
    return 2 * a.nbytes / ms / 1e6


def faults() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt + r.ru_majflt


GELU = """func @gelu(%x: f32[N,D]) -> (f32[N,D]) {
  %c0 = constant() {value=0.5} : f32[]
  %c1 = constant() {value=0.7978845608} : f32[]
  %c2 = constant() {value=0.044715} : f32[]
  %c3 = constant() {value=1.0} : f32[]
  %b0 = broadcast(%c0) {shape=[N,D]} : f32[N,D]
  %b1 = broadcast(%c1) {shape=[N,D]} : f32[N,D]
  %b2 = broadcast(%c2) {shape=[N,D]} : f32[N,D]
  %b3 = broadcast(%c3) {shape=[N,D]} : f32[N,D]
  %x2 = mul(%x, %x) : f32[N,D]
  %x3 = mul(%x2, %x) : f32[N,D]
  %t0 = mul(%b2, %x3) : f32[N,D]
  %t1 = add(%x, %t0) : f32[N,D]
  %t2 = mul(%b1, %t1) : f32[N,D]
  %t3 = tanh(%t2) : f32[N,D]
  %t4 = add(%b3, %t3) : f32[N,D]
  %t5 = mul(%x, %t4) : f32[N,D]
  %t6 = mul(%b0, %t5) : f32[N,D]
  return %t6
}"""

MLP = """func @mlp(%x: f32[N,784], %w1: f32[784,512], %b1: f32[512], %w2: f32[512,10], %b2: f32[10]) -> (f32[N,10]) {
  %0 = dot(%x, %w1) : f32[N,512]
  %1 = broadcast(%b1) {shape=[N,512]} : f32[N,512]
  %2 = add(%0, %1) : f32[N,512]
  %z = constant() {value=0.0} : f32[]
  %zb = broadcast(%z) {shape=[N,512]} : f32[N,512]
  %3 = max(%2, %zb) : f32[N,512]
  %4 = dot(%3, %w2) : f32[N,10]
  %5 = broadcast(%b2) {shape=[N,10]} : f32[N,10]
  %6 = add(%4, %5) : f32[N,10]
  return %6
}"""

ADD1 = """func @add1(%x: f32[N]) -> (f32[N]) {
  %c = constant() {value=1.0} : f32[]
  %cb = broadcast(%c) {shape=[N]} : f32[N]
  %0 = add(%x, %cb) : f32[N]
  return %0
}"""


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_layernorm(x):
    m = x.mean(axis=1, keepdims=True)
    d = x - m
    return d / np.sqrt((d * d).mean(axis=1, keepdims=True) + np.float32(1e-5))


def np_gelu(x):
    inner = np.float32(0.7978845608) * (x + np.float32(0.044715) * x * x * x)
    return np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))


def row(name, ms_np, ms_fj, nbytes=None, bw=None, extra=""):
    roof = ""
    if nbytes and bw:
        ideal = nbytes / bw / 1e6
        roof = f"  roofline {ideal:6.2f} ms = {100 * ideal / ms_fj:5.1f}%"
    print(f"{name:28s} numpy {ms_np:8.3f} ms   fusejit {ms_fj:8.3f} ms   x{ms_np / ms_fj:5.1f}{roof}{extra}")


def cold_compile_subprocess(text: str) -> tuple[float, float]:
    """(cold ms, disk-cache ms) of compile_cpu in fresh processes sharing a new cache dir."""
    code = ("import time,sys; t=time.perf_counter(); from fusejit.ir import parse; "
            "from fusejit.codegen.cpu import compile_cpu; import fusejit.runtime.engine as e; e.bind_symbols(); "
            "t1=time.perf_counter(); exe=compile_cpu(parse(sys.stdin.read())); "
            "print((time.perf_counter()-t1)*1e3)")
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, FUSEJIT_CACHE_DIR=d)
        out = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, env=env,
                               check=True)
            out.append(float(r.stdout.strip()))
    return out[0], out[1]


_CROSSOVER = """
import sys, time
import numpy as np
import fusejit.codegen.cpu.module as m
m.PARALLEL_MIN = 1  # every kernel takes the parallel path (this process only; disk cache is off)
from fusejit.codegen.cpu import compile_cpu
from fusejit.codegen.cpu.module import PARALLEL_MIN
from fusejit.ir import parse
from tests.cpu_graphs import CHAIN, SOFTMAX

def med(f, idle):
    ts = []
    for _ in range(41 if idle else 201):
        if idle:
            time.sleep(0.01)  # workers are asleep again: the call pays the wake-up
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e6

rng = np.random.default_rng(0)
progs = {w: [compile_cpu(parse(t), threads=k) for k in (1, 2)] for w, t in (("chain", CHAIN), ("softmax", SOFTMAX))}
for lg in map(int, sys.argv[1:]):
    n = 1 << lg
    data = {"chain": [rng.standard_normal(n).astype(np.float32) for _ in range(3)],
            "softmax": [rng.standard_normal((n // 1024, 1024)).astype(np.float32)]}
    for w, (one, two) in progs.items():
        a = data[w]
        one(*a), two(*a)
        print(w, lg, med(lambda: one(*a), False), med(lambda: two(*a), False), med(lambda: one(*a), True),
              med(lambda: two(*a), True))
"""


def thread_crossover(sizes: range) -> None:
    """1 vs 2 threads per element count, back to back and after 10 ms idle (workers asleep):
    the data behind ``PARALLEL_MIN``."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, FUSEJIT_CACHE_DIR="off", PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-c", _CROSSOVER, *map(str, sizes)], capture_output=True, text=True,
                       env=env, check=True, cwd=root)
    print(f"{'threads crossover':28s} us, 1 thread / 2 threads: back to back | after 10 ms idle"
          f"  (PARALLEL_MIN = 2^{PARALLEL_MIN.bit_length() - 1})")
    for line in r.stdout.splitlines():
        w, lg, b1, b2, i1, i2 = line.split()
        b1, b2, i1, i2 = map(float, (b1, b2, i1, i2))
        print(f"{'':4s}{w:8s} 2^{lg:<3s} {b1:8.1f} / {b2:8.1f}  x{b1 / b2:4.2f}   |  "
              f"{i1:8.1f} / {i2:8.1f}  x{i1 / i2:4.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    bw = copy_bandwidth()
    print(f"copy bandwidth {bw:.1f} GB/s, {os.cpu_count()} cores")
    n = 10**6 if opts.quick else 10**7

    x, y, z = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    exe = compile_cpu(parse(CHAIN))
    exe1 = compile_cpu(parse(CHAIN), threads=1)
    f_np = lambda: np.tanh(x * np.float32(0.5) + y) * z - x / (np.float32(1) + y * y)  # noqa: E731
    np.testing.assert_allclose(exe(x, y, z)[0], f_np(), rtol=1e-5, atol=1e-6)
    ms = median_ms(lambda: exe(x, y, z))
    row(f"chain 1e{int(np.log10(n))} f32", median_ms(f_np), ms, 16 * n, bw,
        f"  [1 thread {median_ms(lambda: exe1(x, y, z)):.2f} ms]")
    f0 = faults()
    for _ in range(10):
        exe(x, y, z)
    print(f"{'':28s} page faults per call (steady state): {(faults() - f0) / 10:.1f}")

    side = 2048 if opts.quick else 4096
    g = rng.standard_normal((side, side)).astype(np.float32)
    exe = compile_cpu(parse(GELU))
    np.testing.assert_allclose(exe(g)[0], np_gelu(g), rtol=1e-5, atol=1e-6)
    row(f"gelu [{side},{side}]", median_ms(lambda: np_gelu(g)), median_ms(lambda: exe(g)), 8 * g.size, bw)

    rows = 1024 if opts.quick else 4096
    s = rng.standard_normal((rows, 1024)).astype(np.float32)
    for kind, ref, text in (("softmax", np_softmax, SOFTMAX), ("layernorm", np_layernorm, LAYERNORM)):
        exe = compile_cpu(parse(text))
        np.testing.assert_allclose(exe(s)[0], ref(s), rtol=1e-4, atol=1e-6)
        row(f"{kind} [{rows},1024] ({exe.num_kernels}k)", median_ms(lambda r=ref: r(s)),
            median_ms(lambda e=exe: e(s)), 8 * s.size, bw)

    exe = compile_cpu(parse(SUMSQ))
    np.testing.assert_allclose(exe(x)[0], np.sum(x * x), rtol=1e-5)
    row(f"sum of squares 1e{int(np.log10(n))}", median_ms(lambda: np.sum(x * x)), median_ms(lambda: exe(x)),
        4 * n, bw)

    xm = rng.standard_normal((256, 784)).astype(np.float32)
    w1 = rng.standard_normal((784, 512)).astype(np.float32) * 0.05
    b1 = rng.standard_normal(512).astype(np.float32)
    w2 = rng.standard_normal((512, 10)).astype(np.float32) * 0.05
    b2 = rng.standard_normal(10).astype(np.float32)
    exe = compile_cpu(parse(MLP))
    f_np = lambda: np.maximum(xm @ w1 + b1, 0) @ w2 + b2  # noqa: E731
    np.testing.assert_allclose(exe(xm, w1, b1, w2, b2)[0], f_np(), rtol=1e-4, atol=1e-4)
    row(f"MLP 256x784x512x10 ({exe.num_kernels}k)", median_ms(f_np, 50), median_ms(lambda: exe(xm, w1, b1, w2, b2), 50))

    a8 = np.ones(8, np.float32)
    exe = compile_cpu(parse(ADD1))
    one = np.float32(1)
    us_np = median_ms(lambda: [a8 + one for _ in range(1000)], 9)
    us_fj = median_ms(lambda: [exe(a8) for _ in range(1000)], 9)
    print(f"{'dispatch x+1 on 8 f32':28s} numpy {us_np:8.3f} us   fusejit {us_fj:8.3f} us")

    thread_crossover(range(14, 21, 2) if opts.quick else range(13, 21))

    cold, cached = cold_compile_subprocess(CHAIN)
    print(f"{'compile chain (new process)':28s} cold {cold:8.1f} ms   from disk cache {cached:8.1f} ms")
    cold, cached = cold_compile_subprocess(SOFTMAX)
    print(f"{'compile softmax (new process)':28s} cold {cold:8.1f} ms   from disk cache {cached:8.1f} ms")


if __name__ == "__main__":
    main()

"""Convolutions through fusejit.nn vs OpenBLAS sgemm, im2col + NumPy ``@`` and PyTorch (when installed).

    python bench/bench_conv.py [--rounds N] [--threads T]

Rows: 3x3 SAME convolutions at batch 8 (64->64 at 56x56, 256->256 at 14x14), forward and both
backward convolutions (input gradient, filter gradient); each as median ms, GFLOP/s (2 flops per
multiply-add of the convolution's definition; a strided input gradient's zeros are not counted),
share of a square sgemm's GFLOP/s (1024^2, interleaved with the convolutions), and share of this machine's FMA
peak, itself measured here: a loop of 24 independent vector FMA chains per core, at the widest
vector width the CPU has (AVX-512 if present, else AVX2 — read from the CPU's features, not
assumed), on every core at once. Variants run interleaved (one call of each per round, rotating),
after a checked warm-up call. The machine is shared: run it when the load is low and read the
spread of several runs.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import threading
import time
from collections.abc import Callable

import numpy as np

import fusejit
from fusejit import nn

LAYERS = {"3x3 64->64 56x56 b8": (8, 56, 64, 64), "3x3 256->256 14x14 b8": (8, 14, 256, 256)}


def fma_peak(threads: int, seconds: float = 0.3) -> tuple[float, str]:
    """GFLOP/s of independent vector FMAs on ``threads`` cores at once, and the vector ISA used."""
    import llvmlite.binding as llvm
    from llvmlite import ir

    from fusejit.codegen.vecmath import host_isa

    isa = host_isa()
    lanes = {"avx512": 16, "avx2": 8}.get(isa, 4)
    vty, i64 = ir.VectorType(ir.FloatType(), lanes), ir.IntType(64)
    mod = ir.Module("fma_peak")
    fma = ir.Function(mod, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.v{lanes}f32")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64, ir.PointerType()]), "spin")
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    one, tiny = ir.Constant(vty, [1.0] * lanes), ir.Constant(vty, [1e-9] * lanes)
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(i64)
    accs = [b.phi(vty) for _ in range(24)]
    i.add_incoming(ir.Constant(i64, 0), entry)
    for a in accs:
        a.add_incoming(one, entry)
    new = [b.call(fma, [a, one, tiny]) for a in accs]
    for a, v in zip(accs, new):
        a.add_incoming(v, loop)
    nxt = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, fn.args[0]), loop, done)
    b.position_at_end(done)
    total = new[0]
    for v in new[1:]:
        total = b.fadd(total, v)
    b.store(total, fn.args[1]).align = 4
    b.ret_void()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
    parsed = llvm.parse_assembly(str(mod))
    engine = llvm.create_mcjit_compiler(parsed, tm)
    engine.finalize_object()
    spin = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)(engine.get_function_address("spin"))
    out = np.zeros((threads, lanes), np.float32)
    n = 1000
    while True:  # calibrate to ~seconds on one core
        t = time.perf_counter()
        spin(n, out.ctypes.data)
        if time.perf_counter() - t > seconds / 4:
            break
        n *= 4
    best = 0.0
    for _ in range(3):
        ts = [threading.Thread(target=spin, args=(n, out[k].ctypes.data)) for k in range(threads)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        best = max(best, threads * n * 24 * lanes * 2 / (time.perf_counter() - t) / 1e9)
    return best, isa


def im2col_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SAME 3x3 stride-1 convolution as im2col (sliding windows) + one NumPy matmul."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))  # n h w c kh kw
    n, h, wd, c = x.shape
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * wd, 9 * c)
    return (cols @ w.reshape(9 * c, -1)).reshape(n, h, wd, -1)


def torch_variants(x: np.ndarray, w: np.ndarray, dy: np.ndarray) -> dict[str, Callable[[], object]]:
    try:
        import torch
    except ImportError:
        return {}
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy())
    tdy = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())
    g = torch.nn.grad
    return {"torch fwd": lambda: torch.nn.functional.conv2d(tx, tw, padding=1),
            "torch d_input": lambda: g.conv2d_input(tx.shape, tw, tdy, padding=1),
            "torch d_filter": lambda: g.conv2d_weight(tx, tw.shape, tdy, padding=1)}


def onnxruntime_variant(x: np.ndarray, w: np.ndarray, threads: int) -> dict[str, Callable[[], object]]:
    """The same SAME 3x3 convolution as an ONNX ``Conv`` (NCHW, OIHW) run by onnxruntime."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return {}
    n, h, wd, c = x.shape
    o = w.shape[3]
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, wd])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, o, h, wd])],
        [helper.make_tensor("w", TensorProto.FLOAT, [o, c, 3, 3], w.transpose(3, 2, 0, 1).ravel())])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    xc = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return {"onnxruntime fwd": lambda: sess.run(None, {"x": xc})[0]}


def interleaved(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            variants[k]()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="fusejit's threads; OpenBLAS and torch are limited to as many")
    opts = ap.parse_args()
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(opts.threads)
    except ImportError:
        pass
    with threadpool_limits(opts.threads):  # OpenBLAS (sgemm, im2col's @) on as many threads as fusejit
        run(opts)


def run(opts: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    import subprocess

    cpu = next((ln.split(":", 1)[1].strip() for ln in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if ln.startswith("Model name")), "?")
    peak, isa = fma_peak(opts.threads)
    print(f"CPU: {cpu}; vector ISA used: {isa}; {opts.threads} thread(s); load average {os.getloadavg()[0]:.2f}")
    print(f"measured FMA peak: {peak:.0f} GFLOP/s")
    print("| layer | pass | ms | GFLOP/s | % of sgemm | % of FMA peak |\n|---|---|--:|--:|--:|--:|")
    for name, shape in LAYERS.items():
        layer_rows(name, shape, rng, opts.threads, opts.rounds, peak)


def layer_rows(name: str, shape: tuple[int, int, int, int], rng: np.random.Generator, threads: int, rounds: int,
               peak: float) -> None:
    """One table row per variant of one layer; sgemm 1024^2 runs interleaved with them (its share is
    the ratio to its median in the same rounds: the load of a shared machine moves both alike)."""
    n, hw, c, o = shape
    x = rng.standard_normal((n, hw, hw, c), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c, o)) / np.sqrt(9 * c)).astype(np.float32)
    dy = rng.standard_normal((n, hw, hw, o), dtype=np.float32)
    fwd = fusejit.jit(lambda x, w: nn.conv2d(x, w, 1, "SAME"), threads=threads)
    d_in = fusejit.jit(lambda w, dy: nn.conv2d_backprop_input((n, hw, hw, c), w, dy, 1, "SAME"), threads=threads)
    d_w = fusejit.jit(lambda x, dy: nn.conv2d_backprop_filter(x, (3, 3, c, o), dy, 1, "SAME"), threads=threads)
    np.testing.assert_allclose(fwd(x, w), im2col_conv(x, w), rtol=1e-3, atol=1e-3)
    variants = {"fusejit fwd": lambda: fwd(x, w), "fusejit d_input": lambda: d_in(w, dy),
                "fusejit d_filter": lambda: d_w(x, dy), "im2col + NumPy @ fwd": lambda: im2col_conv(x, w),
                **torch_variants(x, w, dy), **onnxruntime_variant(x, w, threads),
                "OpenBLAS sgemm 1024^2": lambda: a @ a}
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    for k, v in variants.items():
        out = v()
        if k in ("onnxruntime fwd", "torch fwd"):
            got = np.asarray(out).transpose(0, 2, 3, 1)
            np.testing.assert_allclose(got, im2col_conv(x, w), rtol=1e-3, atol=1e-3, err_msg=k)
    med = interleaved(variants, rounds)
    sgemm = 2 * 1024**3 / med["OpenBLAS sgemm 1024^2"] / 1e9
    for k, t in med.items():
        gf = (2 * 1024**3 if k.startswith("OpenBLAS") else 2 * n * hw * hw * o * c * 9) / t / 1e9
        print(f"| {name} | {k} | {t * 1e3:.2f} | {gf:.1f} | {100 * gf / sgemm:.0f}% | {100 * gf / peak:.0f}% |")


if __name__ == "__main__":
    main()

"""ONNX models through fusejit vs onnxruntime (CPU execution provider), side by side.

    python bench/bench_onnx.py [--models resnet50,squeezenet,block,mlp,encoder] [--rounds N] [--threads T]

Rows: latency at batch 1 (median ms) and throughput at batch 16 (median items/s) for ResNet-50 and
SqueezeNet (the ``light_*`` models of the ``onnx`` wheel: real op structure, constant weights), a ResNet
basic block (64 channels, 56x56), a 2-layer MLP (784-1024-10) and a transformer encoder block (seq 128,
d 256, 4 heads, GELU FFN 1024; built here with ``onnx.helper``). Both engines get the same model, the
same input and the same thread count (onnxruntime: ``intra_op_num_threads``, sequential execution);
calls are interleaved (one of each per round, order alternating) after a checked warm-up, so the
load of a shared machine moves both alike: read the ratios, not the milliseconds.

Deployment columns, per model at batch 1, each measured in a fresh process: the fusejit AOT library
(``fusejit.aot.compile``; ``.so`` size, time to load it and make the first call, peak RSS) beside
onnxruntime (size of its shared library, time to create the session and make the first call, peak RSS).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
rng = np.random.default_rng(0)


def with_batch(model: onnx.ModelProto, n: int) -> onnx.ModelProto:
    """``model`` with its data input's leading dim set to ``n`` (Reshape targets that hard-code a batch
    of 1 follow; output shapes are left to inference)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: t for t in m.graph.initializer}
    data = [i for i in m.graph.input if i.name not in inits][0]
    data.type.tensor_type.shape.dim[0].dim_value = n
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    del m.graph.value_info[:]
    for node in m.graph.node:
        if node.op_type == "Reshape" and node.input[1] in inits:
            shape = numpy_helper.to_array(inits[node.input[1]]).copy()
            if shape.size and shape[0] == 1:
                shape[0] = n
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    return m


def light(name: str) -> onnx.ModelProto:
    return onnx.load(str(LIGHT / f"light_{name}.onnx"))


def _model(nodes: list, inputs: list, outputs: list, weights: dict[str, np.ndarray], name: str) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, [numpy_helper.from_array(v, k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _f32(*shape: int, scale: float = 0.05) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def basic_block() -> onnx.ModelProto:
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN + identity, ReLU; 64 channels at 56x56."""
    c = 64
    w: dict[str, np.ndarray] = {"w1": _f32(c, c, 3, 3), "w2": _f32(c, c, 3, 3)}
    for k in ("1", "2"):
        w[f"s{k}"], w[f"b{k}"] = 1 + _f32(c), _f32(c)
        w[f"m{k}"], w[f"v{k}"] = _f32(c), 1 + np.abs(_f32(c))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "s1", "b1", "m1", "v1"], ["n1"]),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c2", "s2", "b2", "m2", "v2"], ["n2"]),
             helper.make_node("Add", ["n2", "x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 56, 56])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], w, "basic_block")


def mlp() -> onnx.ModelProto:
    w = {"w1": _f32(784, 1024), "b1": _f32(1024), "w2": _f32(1024, 10), "b2": _f32(10)}
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 784])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], w, "mlp")


def encoder(seq: int = 128, d: int = 256, heads: int = 4, ff: int = 1024) -> onnx.ModelProto:
    """Pre-LN transformer encoder block: LN, multi-head self-attention, residual, LN, GELU FFN, residual."""
    hd = d // heads
    w = {"ln1_s": 1 + _f32(d), "ln1_b": _f32(d), "ln2_s": 1 + _f32(d), "ln2_b": _f32(d),
         "wq": _f32(d, d), "wk": _f32(d, d), "wv": _f32(d, d), "wo": _f32(d, d),
         "w1": _f32(d, ff), "b1": _f32(ff), "w2": _f32(ff, d), "b2": _f32(d),
         "split": np.array([-1, seq, heads, hd], np.int64), "merge": np.array([-1, seq, d], np.int64),
         "scale": np.array(1 / np.sqrt(hd), np.float32), "half": np.array(0.5, np.float32),
         "one": np.array(1.0, np.float32), "rsqrt2": np.array(1 / np.sqrt(2), np.float32)}
    n = helper.make_node
    nodes = [n("LayerNormalization", ["x", "ln1_s", "ln1_b"], ["h"], axis=-1)]
    for p in ("q", "k", "v"):
        nodes += [n("MatMul", ["h", f"w{p}"], [f"{p}0"]), n("Reshape", [f"{p}0", "split"], [f"{p}1"]),
                  n("Transpose", [f"{p}1"], [f"{p}h"], perm=[0, 2, 3, 1] if p == "k" else [0, 2, 1, 3])]
    nodes += [n("MatMul", ["qh", "kh"], ["att0"]), n("Mul", ["att0", "scale"], ["att1"]),
              n("Softmax", ["att1"], ["att"], axis=-1), n("MatMul", ["att", "vh"], ["ctx0"]),
              n("Transpose", ["ctx0"], ["ctx1"], perm=[0, 2, 1, 3]), n("Reshape", ["ctx1", "merge"], ["ctx"]),
              n("MatMul", ["ctx", "wo"], ["o"]), n("Add", ["x", "o"], ["r1"]),
              n("LayerNormalization", ["r1", "ln2_s", "ln2_b"], ["h2"], axis=-1),
              n("MatMul", ["h2", "w1"], ["f0"]), n("Add", ["f0", "b1"], ["f1"]),
              n("Mul", ["f1", "rsqrt2"], ["g0"]), n("Erf", ["g0"], ["g1"]), n("Add", ["g1", "one"], ["g2"]),
              n("Mul", ["f1", "g2"], ["g3"]), n("Mul", ["g3", "half"], ["g"]),
              n("MatMul", ["g", "w2"], ["f2"]), n("Add", ["f2", "b2"], ["f3"]), n("Add", ["r1", "f3"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], w, "encoder")


MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "resnet50": lambda: light("resnet50"), "squeezenet": lambda: light("squeezenet"), "block": basic_block,
    "mlp": mlp, "encoder": encoder}


def input_of(model: onnx.ModelProto) -> tuple[str, np.ndarray]:
    inits = {t.name for t in model.graph.initializer}
    inp = [i for i in model.graph.input if i.name not in inits][0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    return inp.name, rng.standard_normal(shape).astype(np.float32)


def engines(model: onnx.ModelProto, threads: int) -> tuple[Callable, Callable, np.ndarray]:
    """(fusejit call, onnxruntime call, input) for one model, after a checked warm-up of both."""
    import onnxruntime as ort

    import fusejit.onnx as fo

    name, x = input_of(model)
    f = fo.jit(model, threads=threads)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    out = model.graph.output[0].name
    got, want = np.asarray(f(x) if len(model.graph.output) == 1 else f(x)[0]), sess.run([out], {name: x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    return (lambda: f(x)), (lambda: sess.run([out], {name: x})), x


def interleaved(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in calls}
    names = list(calls)
    for r in range(rounds):
        for k in names if r % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            calls[k]()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


DEPLOY_CHILD = r"""
import re, sys, time
import numpy as np
kind, path, name, shape = sys.argv[1], sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4].split(",")]
x = np.ones(shape, np.float32)
t = time.perf_counter()
if kind == "fusejit":
    from fusejit import aot
    model = aot.load(path, name)
    model(x)
else:
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    sess.run(None, {name: x})
took = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so it would report the parent's peak
hwm = re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read())
print(took, int(hwm.group(1)) / 1024)
"""


def deployment(model: onnx.ModelProto, tag: str, work: Path) -> dict[str, float]:
    """AOT library vs onnxruntime at batch 1: binary size, load + first call, peak RSS (fresh processes)."""
    import onnxruntime as ort

    import fusejit.onnx as fo
    from fusejit import aot

    name, x = input_of(model)
    out = work / tag
    aot.compile(fo.load(model), out, tag)
    path = work / f"{tag}.onnx"
    onnx.save(model, path)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    shape = ",".join(map(str, x.shape))

    def child(*args: str) -> tuple[float, float]:
        r = subprocess.run([sys.executable, "-c", DEPLOY_CHILD, *args], capture_output=True, text=True, env=env,
                           check=True, timeout=600)
        load_s, rss = map(float, r.stdout.split())
        return load_s, rss

    fj_load, fj_rss = child("fusejit", str(out), tag, shape)
    ort_load, ort_rss = child("ort", str(path), name, shape)
    ort_lib = sum(p.stat().st_size for p in (Path(ort.__file__).parent / "capi").glob("*.so"))
    return {"fj_so": (out / f"lib{tag}.so").stat().st_size, "fj_load": fj_load, "fj_rss": fj_rss,
            "ort_so": ort_lib, "ort_load": ort_load, "ort_rss": ort_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-deploy", action="store_true", help="skip the AOT library columns")
    args = ap.parse_args()
    import scipy.linalg.cython_blas  # noqa: F401 - load fusejit's BLAS (scipy's OpenBLAS) so the limit reaches it
    from threadpoolctl import threadpool_limits

    # fusejit's `threads` bounds its own kernels, not the OpenBLAS its dots call: left at its default,
    # OpenBLAS's threads thrash on a loaded machine (the encoder's 128x256x256 sgemm took 50-200 ms)
    limits = threadpool_limits(args.threads)  # noqa: F841 - held for the whole run
    print(f"threads {args.threads} (fusejit kernels, its OpenBLAS, onnxruntime intra-op), {args.rounds} "
          f"interleaved rounds, load average {os.getloadavg()[0]:.1f}")
    print("| model | b1 fusejit ms | b1 ort ms | ort/fusejit | b16 fusejit items/s | b16 ort items/s | fusejit/ort "
          "| .so MB (fj / ort) | load+first call s (fj / ort) | peak RSS MB (fj / ort) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            base = MODELS[key]()
            row = [key]
            for n in (1, 16):
                fj, rt, x = engines(with_batch(base, n), args.threads)
                med = interleaved({"fj": fj, "ort": rt}, args.rounds if n == 1 else max(3, args.rounds // 2))
                if n == 1:
                    row += [f"{med['fj'] * 1e3:.2f}", f"{med['ort'] * 1e3:.2f}", f"{med['ort'] / med['fj']:.2f}"]
                else:
                    row += [f"{n / med['fj']:.1f}", f"{n / med['ort']:.1f}", f"{med['ort'] / med['fj']:.2f}"]
            if args.no_deploy:
                row += ["-", "-", "-"]
            else:
                d = deployment(with_batch(base, 1), key, Path(tmp))
                row += [f"{d['fj_so'] / 2**20:.1f} / {d['ort_so'] / 2**20:.1f}",
                        f"{d['fj_load']:.3f} / {d['ort_load']:.3f}", f"{d['fj_rss']:.0f} / {d['ort_rss']:.0f}"]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()

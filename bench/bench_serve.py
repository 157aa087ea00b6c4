"""`fusejit serve` under load on loopback: throughput and p50/p99 latency, batching off and on, against
a minimal starlette + onnxruntime endpoint serving the same model.

    python bench/bench_serve.py [--seconds 4] [--clients 1,8,64] [--models mlp,cnn]

Models: the 784-512-10 MLP with softmax, a small CNN (28x28x1 -> 3x3x8 conv, ReLU, 2x2 max pool,
dense 1352-10, softmax), and a wide MLP (784-2048-2048-10, 29 MB of weights: a batch-1 call reads
them all, so merging requests pays). Each is frozen and saved as version 1 of a model
directory and served three ways, each in a process of its own: ``fusejit serve`` unbatched,
``fusejit serve --enable_batching`` (max_batch_size 64, batch_timeout_micros 500, 2 batch threads,
no padding), and the same graph built with ``onnx.helper`` behind a starlette +
uvicorn + orjson endpoint calling ``InferenceSession.run`` in a thread (this script with
``--onnx-endpoint``). The load generator (:mod:`fusejit.serve.loadgen`: closed-loop keep-alive
clients, one request of one example each, every answer checked against NumPy) runs in this
process, on the same 2 cores as the server: client CPU is part of every figure alike. Besides
throughput and latency, each row gives the server's CPU time per request (user + system time of
its process over the run, divided by the requests served): on a machine shared with other jobs the
throughput is whatever CPU share the server got, the CPU time per request much less so.

Results of the run on 2026-12-08 are in the README's Serving section.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

# No allowed_batch_sizes: fusejit compiles one program for every batch size (symbolic dims), so
# padding would only add work (and turn a batch of one, a gemv, into a gemm).
BATCHING = """max_batch_size { value: 64 }
batch_timeout_micros { value: 500 }
num_batch_threads { value: 2 }
max_enqueued_batches { value: 64 }
"""
TIMEOUT_US = 500


def dense_weights(sizes: tuple[int, ...], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), rng.standard_normal(b).astype(np.float32)
             * 0.1) for a, b in zip(sizes, sizes[1:])]


def cnn_weights(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, 3, 1, 8)).astype(np.float32) * 0.3, rng.standard_normal(8).astype(np.float32) * 0.1,
            rng.standard_normal((13 * 13 * 8, 10)).astype(np.float32) * 0.02,
            rng.standard_normal(10).astype(np.float32) * 0.1)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def dense_function(layers: list[tuple[np.ndarray, np.ndarray]]):
    """ReLU layers, then softmax (weights closed over: constants once traced)."""

    def mlp(x):
        for w, b in layers[:-1]:
            x = np.maximum(x @ w + b, 0)
        w, b = layers[-1]
        return softmax(x @ w + b)

    return mlp


def cnn_function(k: np.ndarray, kb: np.ndarray, w: np.ndarray, b: np.ndarray):
    import fusejit.nn as nn

    def cnn(x):
        h = np.maximum(nn.conv2d(x, k, padding="VALID") + kb, 0)
        h = nn.max_pool2d(h, 2, 2)
        return softmax(h.reshape(h.shape[0], -1) @ w + b)

    return cnn


MODELS = {  # name -> (weights, shape of one example)
    "mlp": (lambda: dense_weights((784, 512, 10)), (784,)),
    "cnn": (cnn_weights, (28, 28, 1)),
    "wide": (lambda: dense_weights((784, 2048, 2048, 10)), (784,)),
}


def onnx_model(kind: str, weights: tuple[np.ndarray, ...]):
    """The same model as an ONNX graph (NHWC input like fusejit's; the conv runs NCHW inside)."""
    from onnx import TensorProto, helper, numpy_helper

    init = []

    def const(name: str, a: np.ndarray) -> str:
        init.append(numpy_helper.from_array(a, name))
        return name

    n = helper.make_node
    if kind != "cnn":
        nodes, h = [], "x"
        for i, (w, b) in enumerate(weights):
            nodes += [n("MatMul", [h, const(f"w{i}", w)], [f"m{i}"]), n("Add", [f"m{i}", const(f"b{i}", b)], [f"a{i}"])]
            h = f"a{i}"
            if i < len(weights) - 1:
                nodes.append(n("Relu", [h], [f"r{i}"]))
                h = f"r{i}"
        nodes.append(n("Softmax", [h], ["y"], axis=-1))
        shape = ["N", 784]
    else:
        k, kb, w, b = weights
        nodes = [n("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]),
                 n("Conv", ["xc", const("k", np.ascontiguousarray(k.transpose(3, 2, 0, 1))), const("kb", kb)], ["c"],
                   kernel_shape=[3, 3]),
                 n("Relu", ["c"], ["r"]), n("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                 n("Transpose", ["p"], ["ph"], perm=[0, 2, 3, 1]),
                 n("Reshape", ["ph", const("shape", np.array([-1, 13 * 13 * 8], np.int64))], ["f"]),
                 n("MatMul", ["f", const("w", w)], ["z0"]), n("Add", ["z0", const("b", b)], ["z"]),
                 n("Softmax", ["z"], ["y"], axis=-1)]
        shape = ["N", 28, 28, 1]
    graph = helper.make_graph(nodes, kind, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnx_endpoint(path: str, port: int) -> None:
    """A minimal starlette + onnxruntime server with the same REST shape (row format)."""
    import onnxruntime as ort
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # as fusejit serve's BLAS: concurrency comes from requests (see server.py)
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    async def predict(request):
        x = np.asarray(orjson.loads(await request.body())["instances"], np.float32)
        (y,) = await run_in_threadpool(sess.run, None, {"x": x})
        return Response(orjson.dumps({"predictions": y}, option=orjson.OPT_SERIALIZE_NUMPY),
                        media_type="application/json")

    app = Starlette(routes=[Route("/v1/models/{name}:predict", predict, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, xs: list[np.ndarray], want: list[np.ndarray], clients: int, seconds: float):
    from fusejit.serve.loadgen import request_bytes, run_load

    reqs = [request_bytes("/v1/models/m:predict", orjson.dumps({"instances": x.tolist()})) for x in xs]

    def check(i: int, status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:120]!r}"
        got = np.asarray(orjson.loads(body)["predictions"], np.float32)
        return None if np.allclose(got, want[i], rtol=1e-4, atol=1e-6) else "wrong answer"

    asyncio.run(run_load("127.0.0.1", port, reqs, clients, min(1.0, seconds / 4), check))  # warm
    return asyncio.run(run_load("127.0.0.1", port, reqs, clients, seconds, check))


def batch_compute_ms(graph, shape: tuple[int, ...]) -> float:
    from fusejit.driver import compile_graph

    exe = compile_graph(graph)
    x = np.zeros((64, *shape), np.float32)
    exe(x)
    t = []
    for _ in range(30):
        s = time.perf_counter()
        exe(x)
        t.append(time.perf_counter() - s)
    return float(np.median(t) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--models", default="mlp,cnn,wide")
    ap.add_argument("--onnx-endpoint", nargs=2, metavar=("MODEL", "PORT"), help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.onnx_endpoint:
        onnx_endpoint(opts.onnx_endpoint[0], int(opts.onnx_endpoint[1]))
        return
    import onnx

    import fusejit
    from fusejit.serve.loadgen import free_port, wait_for_server
    from fusejit.serve.server import single_threaded_blas

    single_threaded_blas()  # as the servers run it: the in-process batch timing below is comparable

    clients = [int(c) for c in opts.clients.split(",")]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"load: {os.getloadavg()[0]:.2f} at start; {opts.seconds:g} s per cell; CPU shared by client and server")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "batching.txt").write_text(BATCHING)
        for kind in opts.models.split(","):
            make_weights, shape = MODELS[kind]
            weights = make_weights()
            fn = cnn_function(*weights) if kind == "cnn" else dense_function(weights)
            graph = fusejit.freeze(fn, fusejit.Spec((None, *shape), np.float32), name=kind)
            (root / kind / "1").mkdir(parents=True)
            graph.save(root / kind / "1" / "model.fjg")
            onnx.save(onnx_model(kind, weights), root / f"{kind}.onnx")
            rng = np.random.default_rng(1)
            xs = [rng.standard_normal((1, *shape)).astype(np.float32) for _ in range(16)]
            want = [fn(x) for x in xs]
            compute = batch_compute_ms(graph, shape)
            print(f"\n{kind}: one call at batch 64 takes {compute:.2f} ms in-process; p99 target with batching "
                  f"<= {TIMEOUT_US / 1e3 + 2 * compute:.2f} ms")
            servers = {
                "fusejit": ["-m", "fusejit.cli", "serve", "--model_name=m", f"--model_base_path={root / kind}",
                            "--rest_api_host=127.0.0.1", "--file_system_poll_wait_seconds=0"],
                "fusejit batched": ["-m", "fusejit.cli", "serve", "--model_name=m", f"--model_base_path={root / kind}",
                                    "--rest_api_host=127.0.0.1", "--file_system_poll_wait_seconds=0",
                                    "--enable_batching", f"--batching_parameters_file={root / 'batching.txt'}"],
                "onnxruntime": [str(Path(__file__).resolve()), "--onnx-endpoint", str(root / f"{kind}.onnx")],
            }
            for name, argv in servers.items():
                port = free_port()
                argv = argv + ([str(port)] if name == "onnxruntime" else [f"--rest_api_port={port}"])
                proc = subprocess.Popen([sys.executable, *argv], env=env, cwd=HERE.parent, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
                try:
                    wait_for_server(proc, port)
                    for c in clients:
                        cpu0 = cpu_seconds(proc.pid)
                        r = measure(port, xs, want, c, opts.seconds)
                        cpu_us = (cpu_seconds(proc.pid) - cpu0) / max(r.count, 1) * 1e6
                        row = (kind, name, c, r.throughput, r.percentile(50) * 1e3, r.percentile(99) * 1e3,
                               cpu_us, len(r.failures))
                        rows.append(row)
                        print(f"  {name:16s} {c:3d} clients: {r.throughput:8.0f} req/s  p50 {row[4]:7.2f} ms  "
                              f"p99 {row[5]:7.2f} ms  server CPU {cpu_us:5.0f} us/request  failures {len(r.failures)}"
                              + (f" ({r.failures[0]})" if r.failures else ""), flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(60)
    print("\n| model | server | clients | req/s | p50 ms | p99 ms | server CPU µs/req | failed |\n"
          "|---|---|--:|--:|--:|--:|--:|--:|")
    for kind, name, c, thr, p50, p99, cpu_us, fails in rows:
        print(f"| {kind} | {name} | {c} | {thr:.0f} | {p50:.2f} | {p99:.2f} | {cpu_us:.0f} | {fails} |")


if __name__ == "__main__":
    main()

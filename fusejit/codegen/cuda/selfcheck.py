"""A representative subset of programs for checking the GPU backend without (or with) a GPU.

The same cases drive the simulator differential tests (tests/gpu) and the PTX/cubin report:
``python -m fusejit.codegen.cuda.selfcheck [--json]`` lowers every case for an H100 (sm_90),
compiles each kernel to PTX with numba-cuda/NVRTC, links it to a cubin with nvJitLink and prints
registers per thread and spills. On a machine with a GPU, ``--run`` also runs each case on the
device and compares with the NumPy reference evaluator.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...ir import Graph


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]
    args: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    rtol: float = 1e-5
    simulate: bool = True  # False: too big for the simulator, checked as PTX (and on a real GPU)


def _nn() -> Any:
    from ... import nn  # the tracer: imported only when a case is traced

    return nn


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _ties_and_nan(rng: np.random.Generator, *shape: int) -> np.ndarray:
    x = rng.integers(-3, 4, shape).astype(np.float32)  # many ties: the first index must win
    x.reshape(-1)[::37] = np.nan
    return x


def _random() -> Any:
    from ... import random  # fusejit.random: imported only when a case is traced

    return random


def _dropout_noise(x, k):
    """Philox bits fused into a dropout mask, an integer draw and Box–Muller normals (arithmetic log/cos)."""
    fr = _random()
    mask = fr.uniform(k, x.shape, np.float32) < np.float32(0.5)
    return np.where(mask, x * np.float32(2), np.float32(0)) + fr.normal(k, x.shape, np.float32), \
        fr.randint(k, x.shape[:1], 0, 1000)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _layer_norm(x, g, b):
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + np.float32(1e-5)) * g + b


CASES: list[Case] = [
    Case("elementwise_chain", lambda x, y: np.tanh(x * np.float32(2) + y) * np.exp(-x) + np.sqrt(np.abs(y)),
         lambda r: (_f32(r, 1003), _f32(r, 1003))),
    Case("broadcast_bias_relu", lambda x, b: np.maximum(x + b, np.float32(0)),
         lambda r: (_f32(r, 37, 53), _f32(r, 53))),
    Case("transpose_slice", lambda x: x.T[::2] * np.float32(3) + np.float32(1), lambda r: (_f32(r, 19, 30),)),
    Case("int_where", lambda x, y: np.where(x > y, x * y, x - y) // 3, lambda r: (
        r.integers(-50, 50, (41, 7)).astype(np.int32), r.integers(-50, 50, (41, 7)).astype(np.int32))),
    Case("gather_rows", lambda x, i: np.exp(x[i]) * np.float32(2), lambda r: (
        _f32(r, 11, 6), np.array([[3, -1], [0, 10], [-11, 5]], dtype=np.int64))),
    Case("row_sum", lambda x: x.sum(axis=1), lambda r: (_f32(r, 5, 301),), rtol=1e-4),
    Case("column_max", lambda x: x.max(axis=0), lambda r: (_f32(r, 157, 5),)),
    Case("full_sum_of_squares", lambda x: (x * x).sum(), lambda r: (_f32(r, 1001),), rtol=1e-4),
    Case("mean_all", lambda x: x.mean(), lambda r: (np.abs(_f32(r, 17, 29)),), rtol=1e-4),
    Case("argmax_rows_ties_nan", lambda x: x.argmax(axis=1), lambda r: (_ties_and_nan(r, 6, 150),)),
    Case("argmin_columns", lambda x: x.argmin(axis=0), lambda r: (_ties_and_nan(r, 40, 7),)),
    Case("argmax_all_int", lambda x: x.argmax(), lambda r: (r.integers(-5, 5, (9, 31)).astype(np.int16),)),
    Case("softmax", _softmax, lambda r: (_f32(r, 5, 131),)),
    Case("softmax_10_classes", _softmax, lambda r: (_f32(r, 37, 10),)),
    Case("softmax_f16", _softmax, lambda r: (_f32(r, 3, 70).astype(np.float16),), rtol=1e-2),
    Case("matmul_f16", lambda a, b: a @ b, lambda r: (_f32(r, 9, 20).astype(np.float16),
                                                      _f32(r, 20, 7).astype(np.float16)), rtol=2e-2),
    Case("layer_norm", _layer_norm, lambda r: (_f32(r, 4, 160), _f32(r, 160), _f32(r, 160)), rtol=1e-4),
    Case("matmul_bias_relu", lambda a, w, b: np.maximum(a @ w + b, np.float32(0)),
         lambda r: (_f32(r, 33, 47), _f32(r, 47, 29), _f32(r, 29)), rtol=1e-4),
    Case("matmul_transposed_f64", lambda a, w: np.tanh(a @ w.T),
         lambda r: (r.standard_normal((21, 40)), r.standard_normal((35, 40))), rtol=1e-9),
    Case("batched_matmul", lambda a, b: a @ b, lambda r: (_f32(r, 3, 9, 17), _f32(r, 3, 17, 11)), rtol=1e-4),
    Case("matmul_large_tile_gelu", lambda a, w: np.tanh(a @ w) * a[:, :1],
         lambda r: (_f32(r, 300, 256), _f32(r, 256, 520)), rtol=1e-3, simulate=False),
    Case("zero_size", lambda x, y: np.exp(x) + y, lambda r: (_f32(r, 0, 5), _f32(r, 0, 5))),
    Case("zero_size_reduce", lambda x: x.sum(axis=1) + x.prod(axis=1),
         lambda r: (_f32(r, 4, 0),)),
    Case("zero_k_matmul", lambda a, b: a @ b, lambda r: (_f32(r, 5, 0), _f32(r, 0, 6))),
    Case("cumsum_columns", lambda x: np.cumsum(x * np.float32(2), axis=0) + np.float32(1), lambda r: (_f32(r, 30, 7),)),
    Case("conv2d_bias_relu", lambda x, w, b: _nn().relu(_nn().conv2d(x, w, (2, 1), "SAME") + b),
         lambda r: (_f32(r, 2, 9, 8, 3), _f32(r, 3, 3, 3, 16), _f32(r, 16)), rtol=1e-4),
    Case("conv2d_filter_gradient", lambda x, dy: _nn().conv2d_backprop_filter(x, (3, 3, 3, 8), dy, 1, "SAME"),
         lambda r: (_f32(r, 2, 7, 6, 3), _f32(r, 2, 7, 6, 8)), rtol=1e-4),
    Case("cumprod_rows_f16", lambda x: np.cumprod(x, axis=-1), lambda r: (_f32(r, 6, 9).astype(np.float16),), rtol=0),
    Case("philox_dropout_noise", _dropout_noise,
         lambda r: (_f32(r, 37, 53), r.integers(0, 2**32, 2, dtype=np.uint64).astype(np.uint32)), rtol=0),
]


OPS_DTYPES = ("float16", "float32", "float64", "int32", "uint8", "int8", "bool")


def all_ops_graph(dt: np.dtype, n: int = 16) -> tuple[Graph, set[str]]:
    """One graph computing every elementwise primitive the GPU lowers for ``dt`` (one output
    each, from inputs x, y: dt[n] and c: bool[n]), and the set of ops it declines."""
    from ...ir import IRTypeError, Node, get_op, make, ops_of_class
    from ...ir.shapes import TensorType
    from .lower import lower_graph
    from .ops import CudaLoweringError

    x, y, c = (Node("input", (), {}, TensorType(t, (n,)), name=name)
               for name, t in (("x", dt), ("y", dt), ("c", np.dtype(bool))))
    supported, declined = [], set()
    for op in ops_of_class("elementwise"):
        try:
            if op == "where":
                node = make(op, c, x, y)
            elif op == "cast":
                node = make(op, x, dtype=np.dtype(np.float32) if dt.kind != "f" else np.dtype(np.int16))
            else:
                node = make(op, x) if get_op(op).arity == 1 else make(op, x, y)
        except IRTypeError:
            continue
        try:
            lower_graph(Graph([x, y, c], [node]))
        except CudaLoweringError:
            declined.add(op)
            continue
        supported.append(node)
    return Graph([x, y, c], supported, name=f"all_ops_{dt}"), declined


def graph_of(case: Case, args: tuple[np.ndarray, ...]) -> Graph:
    """The optimized graph ``jit`` would hand to a backend for these arguments."""
    from ...driver import jit, optimize_graph

    return optimize_graph(jit(case.fn, backend="reference").trace(*args))


def ptx_report(cc: tuple[int, int] = (9, 0)) -> list[dict[str, Any]]:
    """Every kernel of every case compiled to PTX for ``cc`` and linked to a cubin."""
    from .launch import H100
    from .lower import lower_graph
    from .toolchain import assemble, compile_ptx

    rows = []
    rng = np.random.default_rng(0)
    for case in CASES:
        graph = graph_of(case, case.args(rng))
        for ks in lower_graph(graph, props=H100):
            for variant in (ks, ks.fallback):
                for entry in variant.entries if variant is not None else ():
                    rep = assemble(compile_ptx(variant, entry, cc), f"sm_{cc[0]}{cc[1]}")
                    rows.append({"case": case.name, "kernel": entry.fn, "kind": variant.kind, **rep.__dict__})
    for dt in OPS_DTYPES:
        for ks in lower_graph(all_ops_graph(np.dtype(dt))[0], props=H100):
            rep = assemble(compile_ptx(ks, ks.entries[0], cc), f"sm_{cc[0]}{cc[1]}")
            rows.append({"case": f"all_ops_{dt}", "kernel": ks.entries[0].fn, "kind": ks.kind, **rep.__dict__})
    return rows


def run_on_device() -> list[str]:
    """Run every case on the current device; the names of cases whose results differ."""
    from .lower import compile_cuda

    bad = []
    rng = np.random.default_rng(0)
    for case in CASES:
        args = case.args(rng)
        graph = graph_of(case, args)
        got, want = compile_cuda(graph)(*args), graph.evaluate(*args)
        if not all(np.allclose(g, w, rtol=case.rtol, atol=case.rtol, equal_nan=True) for g, w in zip(got, want)):
            bad.append(case.name)
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusejit.codegen.cuda.selfcheck")
    ap.add_argument("--json", action="store_true", help="print the PTX/cubin report as JSON")
    ap.add_argument("--run", action="store_true", help="also run every case on the GPU")
    ns = ap.parse_args(argv)
    from .toolchain import ToolchainUnavailable

    try:
        rows = ptx_report()
    except ToolchainUnavailable as exc:
        print(f"toolchain unavailable: {exc}", file=sys.stderr)
        return 3
    if ns.json:
        json.dump(rows, sys.stdout)
    else:
        for r in rows:
            print(f"{r['case']:24} {r['kernel']:22} {r['kind']:6} regs={r['registers']:3} "
                  f"spill={r['spill_stores']}/{r['spill_loads']}B lmem={r['local_bytes']}B smem={r['shared_bytes']}B")
    if ns.run:
        bad = run_on_device()
        print("device run:", "all cases match NumPy" if not bad else f"mismatches: {bad}")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

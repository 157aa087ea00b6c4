"""Profiling the GPU path: its kernels are launched by a Python loop
(:class:`fusejit.runtime.gpu_executable.GpuExecutable`), so while recording, instance attributes
shadow three of its methods — per kernel (``_run``), per argument placed on the device
(``_place``: a host→device copy for host arrays) and per result (``_result``: a device→host copy
for host callers) — and are deleted afterwards: off, nothing is looked up but the class's own
methods. Kernel events synchronize the device after each kernel (launches are asynchronous), so
a profiled call runs its kernels back to back without overlap with the host.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..ir.evaluator import concrete_shape
from ..ir.shapes import format_shape
from .recorder import Recorder

_SHADOWED = ("_run", "_place", "_result")


def _nbytes(node: Any, bindings: dict[str, int]) -> int:
    return int(np.prod(concrete_shape(node.shape, bindings), dtype=np.int64)) * node.dtype.itemsize


def instrument(exe: Any, active: Any) -> None:
    """Shadow ``exe``'s per-kernel and per-copy methods with timed ones recording into the active
    recording (``active()``: the recorder or None)."""
    cls = type(exe)
    name = exe.graph.name

    def run(k: int, ks: Any, env: dict[int, Any], bindings: dict[str, int]) -> None:
        rec: Recorder | None = active()
        t0 = time.monotonic_ns()
        cls._run(exe, k, ks, env, bindings)
        exe._cuda.synchronize()
        if rec is not None:
            moved = sum(_nbytes(n, bindings) for n in [*ks.loads, *ks.outputs])
            rec.complete(f"k{k} gpu {ks.kind}: {ks.name}", "kernel", t0, time.monotonic_ns(),
                         {"kernel": f"{name}/gpu-k{k}", "ops": [ks.kind], "bytes": moved, "flops": 0,
                          "shapes": [format_shape(concrete_shape(o.shape, bindings)) for o in ks.outputs]})

    def place(x: Any, node: Any, i: int) -> Any:
        rec: Recorder | None = active()
        t0 = time.monotonic_ns()
        out = cls._place(exe, x, node, i)
        if rec is not None and not exe._is_device(x):
            exe._cuda.synchronize()
            rec.complete("host→device copy", "copy", t0, time.monotonic_ns(),
                         {"input": node.name or f"input {i}", "bytes": int(np.asarray(x).nbytes)})
        return out

    def result(o: Any, env: dict[int, Any], bindings: dict[str, int], device_out: bool) -> Any:
        rec: Recorder | None = active()
        t0 = time.monotonic_ns()
        out = cls._result(exe, o, env, bindings, device_out)
        if rec is not None and not device_out:
            rec.complete("device→host copy", "copy", t0, time.monotonic_ns(), {"bytes": int(out.nbytes)})
        return out

    exe._run, exe._place, exe._result = run, place, result


def restore(exe: Any) -> None:
    for attr in _SHADOWED:
        exe.__dict__.pop(attr, None)

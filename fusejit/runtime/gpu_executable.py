"""Running lowered CUDA kernels: argument placement, buffer planning, launches, results.

Inputs may be NumPy arrays (copied to the device once per call; results come back as NumPy),
numba device arrays, or anything exposing ``__cuda_array_interface__`` (CuPy, PyTorch: wrapped
zero-copy; results stay on the device as numba device arrays). Intermediates never leave the
device: each is allocated when its producing kernel runs and handed back to a per-executable
pool, keyed by (dtype, shape), right after its last reader, so later kernels of the same call and
later calls reuse it. Scalars (0-d values) travel as 1-element vectors inside the kernels.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..codegen.cuda import launch as L
from ..codegen.cuda.lower import lower_graph
from ..codegen.cuda.source import KernelSource
from ..codegen.cuda.toolchain import cuda_module, python_functions
from ..ir import Graph, Node, bind_symbols
from ..ir.evaluator import concrete_shape
from ..ir.evaluator import run_node as evaluate_node
from ..profiler import recorder as profiler
from .device import gpu_index, simulator_enabled


def _vec_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape if shape else (1,)


class GpuExecutable:
    """``exe(*arrays)`` -> list of results (NumPy for NumPy inputs, device arrays for device inputs)."""

    def __init__(self, graph: Graph, kernels: list[KernelSource], props: L.DeviceProps, device: str = "gpu:0") -> None:
        self.graph = graph
        self.kernels = kernels
        self.props = props
        self.device = device
        self._cuda = cuda_module()
        self._jitted: dict[tuple[int, str], Any] = {}
        self._consts: dict[int, Any] = {}
        self._pool: dict[tuple[str, tuple[int, ...]], list[Any]] = defaultdict(list)
        outputs = {id(o) for o in graph.outputs}
        last: dict[int, int] = {}
        for k, ks in enumerate(kernels):
            for n in ks.loads:
                last[id(n)] = k
        produced = {id(o) for ks in kernels for o in ks.outputs}
        self._dies: list[list[int]] = [[] for _ in kernels]  # intermediates free after kernel k
        for nid, k in last.items():
            if nid in produced and nid not in outputs:
                self._dies[k].append(nid)
        profiler.register(self)  # timed kernels and copies while a fusejit.profile records

    @classmethod
    def create(cls, graph: Graph, *, fuse: bool = True, device: str = "gpu:0") -> GpuExecutable:
        cuda = cuda_module()
        if simulator_enabled():
            props = L.SIMULATOR
        else:
            cuda.select_device(gpu_index(device))
            props = L.DeviceProps.of(cuda.get_current_device())
        return cls(graph, lower_graph(graph, fuse=fuse, props=props), props, device)

    @property
    def num_kernels(self) -> int:
        """Kernel launches per call (a full reduction's two stages count as two)."""
        return sum(len(ks.entries) for ks in self.kernels)

    # ---- arguments -----------------------------------------------------------------------
    @staticmethod
    def _is_device(x: Any) -> bool:
        if isinstance(x, np.ndarray):
            return False
        return hasattr(x, "__cuda_array_interface__") or type(x).__name__ == "FakeCUDAArray"

    def _place(self, x: Any, node: Node, i: int) -> Any:
        label = node.name or f"input {i}"
        if not self._is_device(x):
            host = np.array(x, dtype=node.dtype, order="C", copy=None)
            return self._cuda.to_device(host.reshape(_vec_shape(host.shape)) if host.ndim == 0 else host), host.shape
        if type(x).__name__ == "FakeCUDAArray":
            arr = x
        elif not hasattr(self._cuda, "as_cuda_array"):
            raise TypeError(f"argument {label!r}: {type(x).__name__} lives in GPU memory, which numba-cuda's "
                            "simulator cannot read; pass a NumPy array or a simulator device array")
        else:
            arr = self._cuda.as_cuda_array(x)  # zero-copy view of CuPy / PyTorch / numba memory
        if np.dtype(arr.dtype) != node.dtype:
            raise TypeError(f"argument {label!r}: expected a device array of dtype {node.dtype}, got {arr.dtype}; "
                            "fusejit does not convert device arrays implicitly")
        shape = tuple(arr.shape)
        return (arr.reshape(1) if not shape else arr), shape

    def _alloc(self, node: Node, bindings: dict[str, int]) -> Any:
        shape = _vec_shape(concrete_shape(node.shape, bindings))
        free = self._pool.get((node.dtype.str, shape))
        return free.pop() if free else self._cuda.device_array(shape, dtype=node.dtype)

    def _const(self, node: Node) -> Any:
        if id(node) not in self._consts:
            v = np.ascontiguousarray(node.attrs["value"])
            self._consts[id(node)] = self._cuda.to_device(v.reshape(_vec_shape(v.shape)))
        return self._consts[id(node)]

    def _kernel(self, k: int, ks: KernelSource, fn: str) -> Any:
        key = (k, fn)
        if key not in self._jitted:
            self._jitted[key] = self._cuda.jit(python_functions(ks)[fn])
        return self._jitted[key]

    # ---- the call ------------------------------------------------------------------------
    def __call__(self, *arrays: Any) -> list[Any]:
        g = self.graph
        if len(arrays) != len(g.inputs):
            raise TypeError(f"{g.name} takes {len(g.inputs)} argument(s), got {len(arrays)}")
        device_out = any(self._is_device(a) for a in arrays)
        placed = [self._place(a, n, i) for i, (a, n) in enumerate(zip(arrays, g.inputs))]
        bindings = bind_symbols(g, [s for _, s in placed])
        env: dict[int, Any] = {id(n): a for n, (a, _) in zip(g.inputs, placed)}
        for k, ks in enumerate(self.kernels):
            self._run(k, ks, env, bindings)
            for nid in self._dies[k]:
                buf = env.pop(nid)
                self._pool[(np.dtype(buf.dtype).str, tuple(buf.shape))].append(buf)
        return [self._result(o, env, bindings, device_out) for o in g.outputs]

    def _run(self, k: int, ks: KernelSource, env: dict[int, Any], bindings: dict[str, int]) -> None:
        outs = [self._alloc(o, bindings) for o in ks.outputs]
        for o, buf in zip(ks.outputs, outs):
            env[id(o)] = buf
        if ks.flat and not all(self._contiguous(env[id(n)] if id(n) in env else self._const(n)) for n in ks.loads):
            ks = ks.fallback  # type: ignore[assignment]
            outs = [env[id(o)] for o in ks.outputs]
        scratch = {name: self._cuda.device_array(size(bindings, self.props), dtype=dt)
                   for name, (dt, size) in ks.scratch.items()}
        err = self._cuda.to_device(np.zeros(1, np.int32)) if any("err" in e.params for e in ks.entries) else None
        for entry in ks.entries:
            grid, block = entry.launch(bindings, self.props)
            if not (np.prod(grid) and np.prod(block)):
                continue
            args = []
            for p in entry.params:
                if p[0] == "o":
                    a = outs[int(p[1:])]
                elif p[0] == "a":
                    n = entry.loads[int(p[1:])]
                    a = env[id(n)] if id(n) in env else self._const(n)
                elif p.startswith("n_") or p == "err":
                    args.append(bindings[p[2:]] if p != "err" else err)
                    continue
                else:
                    a = scratch[p]
                args.append(a.reshape(a.size) if ks.flat else a)
            self._kernel(k, ks, entry.fn)[grid, block](*args)
        if err is not None and err.copy_to_host()[0]:
            raise IndexError(f"GPU kernel {ks.name}: an index of a gather (take / integer-array indexing) is "
                             "out of bounds")

    @staticmethod
    def _contiguous(a: Any) -> bool:
        return bool(a.is_c_contiguous())

    def _result(self, o: Node, env: dict[int, Any], bindings: dict[str, int], device_out: bool) -> Any:
        shape = concrete_shape(o.shape, bindings)
        if o.op in ("constant", "numel") and id(o) not in env:  # sources no kernel computes
            host = np.array(evaluate_node(o, [np.empty(concrete_shape(a.shape, bindings), a.dtype) for a in o.args],
                                          bindings))
            return self._cuda.to_device(host) if device_out else host
        if id(o) in env:
            buf = env[id(o)]
            if any(o is n for n in self.graph.inputs):  # an input returned as is: a fresh copy
                out = self._cuda.device_array(buf.shape, dtype=buf.dtype)
                out.copy_to_device(buf)
                buf = out
        else:
            raise AssertionError(f"output {o} was not computed")
        if device_out:
            return buf.reshape(shape) if shape != tuple(buf.shape) else buf
        host = buf.copy_to_host()
        return host.reshape(shape)

    def describe(self) -> str:
        """The kernels, one line each (kind, launches, outputs), for dumps and ``fusejit show``."""
        lines = [f"GpuExecutable {self.graph.name} on {self.device} ({self.props.name}): "
                 f"{len(self.kernels)} kernel(s), {self.num_kernels} launch(es) per call"]
        for ks in self.kernels:
            outs = ", ".join(f"{o.type}" for o in ks.outputs)
            lines.append(f"  {ks.name}: {ks.kind}, {' + '.join(e.fn for e in ks.entries)} -> {outs}")
        return "\n".join(lines)

    @property
    def source(self) -> str:
        """The generated numba-cuda source of every kernel."""
        return "\n".join(ks.source for ks in self.kernels)

"""numba-cuda as a toolchain: kernel source -> Python functions -> ``@cuda.jit`` kernels, PTX for a
given compute capability, and a cubin linked in-process by nvJitLink (no GPU, no system ptxas
needed) with ptxas's resource report: registers per thread, spills, local and shared memory.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...runtime.device import simulator_enabled
from . import ops, simwarp
from .source import Entry, KernelSource


class ToolchainUnavailable(RuntimeError):
    """A part of the CUDA toolchain (numba-cuda, NVRTC/NVVM, nvJitLink) is not installed."""


def cuda_module() -> Any:
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - numba-cuda is a declared extra
        raise ToolchainUnavailable("numba-cuda is not installed: pip install 'fusejit[gpu]'") from exc
    if not hasattr(cuda, "jit"):
        raise ToolchainUnavailable("numba.cuda is present but is not numba-cuda: pip install 'fusejit[gpu]'")
    return cuda


@functools.cache
def namespace(simulator: bool) -> dict[str, Any]:
    """Globals shared by all generated kernels (casts, math helpers, shuffles) for one mode."""
    cuda = cuda_module()
    if simulator:
        simwarp.install()
    return ops.namespace(cuda, simulator)


def python_functions(ks: KernelSource) -> dict[str, Any]:
    """Execute a kernel's source; its entry points as plain Python functions."""
    g = dict(namespace(simulator_enabled()))
    exec(compile(ks.source, f"<fusejit-cuda:{ks.name}>", "exec"), g)
    return {e.fn: g[e.fn] for e in ks.entries}


# ---- PTX and cubins --------------------------------------------------------------------------

def numba_array_type(dt: np.dtype, ndim: int, layout: str = "C") -> Any:
    from numba import types
    from numba.np.numpy_support import from_dtype

    return types.Array(from_dtype(dt), max(ndim, 1), layout)


def entry_signature(ks: KernelSource, entry: Entry) -> tuple:
    """numba argument types of an entry when every array is C-contiguous (the common case)."""
    from numba import types

    sig = []
    for p in entry.params:
        if p.startswith("o"):
            node = ks.outputs[int(p[1:])]
            sig.append(numba_array_type(node.dtype, 1 if ks.flat else node.ndim))
        elif p.startswith("a"):
            node = entry.loads[int(p[1:])]
            sig.append(numba_array_type(node.dtype, 1 if ks.flat else node.ndim))
        elif p.startswith("n_"):
            sig.append(types.int64)
        elif p == "err":
            sig.append(numba_array_type(np.dtype(np.int32), 1))
        else:
            sig.append(numba_array_type(ks.scratch[p][0], 1))
    return tuple(sig)


def compile_ptx(ks: KernelSource, entry: Entry, cc: tuple[int, int]) -> str:
    if simulator_enabled():
        raise ToolchainUnavailable("PTX cannot be generated while numba-cuda's simulator is enabled")
    cuda = cuda_module()
    fn = python_functions(ks)[entry.fn]
    try:
        ptx, _ = cuda.compile_ptx(fn, entry_signature(ks, entry), cc=cc)
    except Exception as exc:
        if "NVRTC" in str(exc) or "nvrtc" in str(exc) or "NVVM" in str(exc):
            raise ToolchainUnavailable(f"numba-cuda cannot compile PTX here ({exc}); install the "
                                       "toolkit wheels: pip install 'numba-cuda[cu13]'") from exc
        raise
    return ptx


@dataclass(frozen=True)
class CubinReport:
    """ptxas's resource use for one kernel, read from nvJitLink's info log."""

    registers: int
    spill_stores: int
    spill_loads: int
    stack_bytes: int
    local_bytes: int
    shared_bytes: int
    cubin_bytes: int

    @property
    def spills(self) -> bool:
        return bool(self.spill_stores or self.spill_loads or self.local_bytes)


def assemble(ptx: str, arch: str = "sm_90") -> CubinReport:
    """Link PTX to a cubin for ``arch`` with nvJitLink (in-process) and report its resources."""
    try:
        from cuda.core import Linker, LinkerOptions, ObjectCode
    except ImportError as exc:
        raise ToolchainUnavailable("cuda.core (nvJitLink) is not installed: pip install 'numba-cuda[cu13]'") from exc
    obj = ObjectCode.from_ptx(ptx.encode(), name="kernel.ptx")
    linker = Linker(obj, options=LinkerOptions(arch=arch, verbose=True))
    try:
        cubin = linker.link("cubin")
        log = linker.get_info_log() or ""
    finally:
        linker.close()
    return parse_report(log, len(cubin.code))


def parse_report(log: str, cubin_bytes: int) -> CubinReport:
    def num(pattern: str) -> int:
        m = re.search(pattern, log)
        return int(m.group(1)) if m else 0

    if not re.search(r"Used (\d+) registers", log):
        raise ToolchainUnavailable(f"nvJitLink gave no ptxas resource report:\n{log}")
    return CubinReport(registers=num(r"Used (\d+) registers"), spill_stores=num(r"(\d+) bytes spill stores"),
                       spill_loads=num(r"(\d+) bytes spill loads"), stack_bytes=num(r"(\d+) bytes stack frame"),
                       local_bytes=num(r"(\d+) bytes lmem"), shared_bytes=num(r"(\d+) bytes smem"),
                       cubin_bytes=cubin_bytes)

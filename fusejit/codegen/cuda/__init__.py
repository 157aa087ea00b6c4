"""The GPU backend: fused groups lowered to numba-cuda kernels (see docs/gpu.md)."""

from .launch import H100, SIMULATOR, DeviceProps
from .lower import compile_cuda, lower_graph
from .ops import CudaLoweringError

__all__ = ["H100", "SIMULATOR", "CudaLoweringError", "DeviceProps", "compile_cuda", "lower_graph"]

"""Graph -> CUDA kernels: the shared fusion plan's kernels, each handed to its CUDA skeleton.

Fusion is decided once, backend-neutrally, by ``passes.fusion.plan_fusion``; this module only
maps its kinds onto skeletons: ``loop`` -> grid-stride kernel; ``row`` -> block-per-row (trailing
reductions) or thread-per-row kernel, or the two-stage tree when everything is reduced to one
scalar; ``dot`` -> tiled GEMM with the epilogue fused (a convolution anchor: the direct
convolution kernel of ``conv.py``); ``scan`` -> one thread per scanned line.
"""

from __future__ import annotations

from ...ir import Graph
from ...passes.fusion import FusionPlan, Kernel, plan_fusion
from . import launch as L
from .conv import conv_kernel
from .elementwise import loop_kernel
from .emit import acc_dtype
from .gemm import gemm_kernel
from .ops import CudaLoweringError
from .reduce import tree_kernel
from .rows import reduce_kernel, reductions_of
from .scan import scan_kernel
from .scatter import scatter_kernel
from .source import KernelSource


def lower_kernel(k: Kernel, index: int, props: L.DeviceProps) -> KernelSource:
    name = f"k{index}_{k.kind}"
    if k.kind == "loop":
        return loop_kernel(name, k.nodes, k.outputs)
    if k.kind == "row":
        reds = reductions_of(k.nodes)
        if not k.outer and len(reds) == 1 and reds[0].op.startswith("reduce_") and all(o.ndim == 0 for o in k.outputs):
            return tree_kernel(f"k{index}_tree", k.nodes, k.outputs, props.warp_size)
        return reduce_kernel(name, k.nodes, k.outputs, k.space, k.reduce_ndim, k.reduce_maps, props.warp_size)
    if k.kind == "dot":
        dot = k.anchor
        assert dot is not None
        if dot.op != "dot":
            return conv_kernel(name, k.nodes, k.outputs, dot)
        m, n = dot.shape[-2], dot.shape[-1]
        tile = L.gemm_tile(props, acc_dtype(dot.dtype).itemsize, m if isinstance(m, int) else None,
                           n if isinstance(n, int) else None)
        return gemm_kernel(name, k.nodes, k.outputs, tile)
    if k.kind == "scan":
        assert k.anchor is not None
        return scan_kernel(name, k.nodes, k.anchor)
    if k.kind == "scatter":
        assert k.anchor is not None
        return scatter_kernel(name, k.nodes, k.anchor)
    raise CudaLoweringError(f"GPU backend: no kernel skeleton for {k.kind!r} kernels")


def lower_graph(graph: Graph, *, fuse: bool = True, props: L.DeviceProps = L.H100,
                plan: FusionPlan | None = None) -> list[KernelSource]:
    """Kernel sources for ``graph`` in launch order (no GPU needed); ``plan`` defaults to the
    shared planner's, so the GPU lowers exactly the kernels the CPU lowers."""
    plan = plan if plan is not None else plan_fusion(graph, fuse)
    return [lower_kernel(k, i, props) for i, k in enumerate(plan.kernels)]


def compile_cuda(graph: Graph, *, fuse: bool = True, device: str = "gpu:0"):
    """Compile ``graph`` for a GPU: lowered kernels wrapped in a ``GpuExecutable``. Raises
    ``DeviceUnavailableError`` naming what is missing when no GPU (or simulator) is usable."""
    from ...runtime.device import require_gpu
    from ...runtime.gpu_executable import GpuExecutable

    require_gpu(device)
    return GpuExecutable.create(graph, fuse=fuse, device=device)

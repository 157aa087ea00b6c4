"""Full reductions (every axis, one scalar out) as a two-stage tree.

Stage 1: a full wave of blocks grid-strides over the fused producer expression, each thread
accumulating privately; ``block_reduce`` folds the block; thread 0 writes one partial per block.
Stage 2: one block folds the partials and evaluates any scalar epilogue (``mean = sum / n``).
Two launches instead of atomics keep the result deterministic (same bits on every run).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from . import blockreduce as br
from .emit import Block, Emitter, Ix, acc_dtype
from .launch import row_threads, stream_launch
from .ops import CudaLoweringError
from .rows import reductions_of
from .source import Entry, KernelSource, function, size_of


def _prelude(block: Block, red: Node, warp_size: int) -> None:
    block.add("tid = cuda.threadIdx.x", "nthr = cuda.blockDim.x", f"lane = tid % {warp_size}",
              f"warp = tid // {warp_size}", f"nwarps = (nthr + {warp_size - 1}) // {warp_size}",
              *br.shared_decls(red, "acc", warp_size), *br.init(red, "acc"))


def tree_kernel(name: str, nodes: Sequence[Node], outputs: list[Node], warp_size: int) -> KernelSource:
    reds = reductions_of(nodes)
    if len(reds) != 1 or any(o.ndim for o in outputs):
        raise CudaLoweringError("GPU backend: a full-reduction group has one reduction and scalar outputs")
    red = reds[0]
    space = red.args[0].shape
    nodes1 = [n for n in nodes if n is not red]
    em1 = Emitter(nodes1)
    s1 = Block()
    _prelude(s1, red, warp_size)
    s1.add(f"total = {em1.size(space)}", "lin = cuda.grid(1)", "step = cuda.gridsize(1)")
    names = [f"i{k}" for k in range(len(space))]
    loop = s1.child("while lin < total:", new_vars=names)
    em1.unravel(loop, "lin", space, names)
    x = em1.value(red.args[0], [Ix.var(n) for n in names], loop)
    loop.add(f"acc = {br.combine(red, 'acc', br.to_acc(red, x))}", "lin += step")
    br.block_reduce(s1, red, "acc", warp_size)
    s1.add("if tid == 0:", "    part[cuda.blockIdx.x] = acc")
    src1, params1 = function(f"{name}_s1", em1, [], s1, extra=("part",))

    em2 = Emitter(nodes)
    s2 = Block()
    _prelude(s2, red, warp_size)
    s2.add("i = tid")
    ploop = s2.child("while i < part.shape[0]:", new_vars=["i"])
    ploop.add(f"acc = {br.combine(red, 'acc', 'part[i]')}", "i += nthr")
    br.block_reduce(s2, red, "acc", warp_size)
    s2.add(f"total = {br.from_acc(red, 'acc')}")
    em2.special[id(red)] = lambda idx, block: ("total", s2)
    store = s2.child("if tid == 0:")
    for k, o in enumerate(outputs):
        store.add(f"o{k}[0] = {em2.value(o, [], store)}")
    src2, params2 = function(f"{name}_s2", em2, outputs, s2, extra=("part",))

    def parts(b, p):
        return max(1, stream_launch(size_of(space, b), p)[0][0])

    def launch1(b, p):
        grid, block = stream_launch(size_of(space, b), p)
        return (max(1, grid[0]),), block

    def launch2(b, p):
        return (1,), (row_threads(4 * parts(b, p), p),)

    loads = list({id(n): n for n in (*em1.loads, *em2.loads)}.values())
    return KernelSource(name, "tree", src1 + "\n" + src2,
                        [Entry(f"{name}_s1", params1, launch1, em1.loads),
                         Entry(f"{name}_s2", params2, launch2, em2.loads)],
                        outputs, loads, sorted(set(em1.symbols) | set(em2.symbols)),
                        scratch={"part": (acc_dtype(red.dtype), parts)})

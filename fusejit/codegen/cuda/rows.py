"""Reduction groups: reductions over the same axes of one iteration space, fused with their
producers (input fusion) and with the elementwise work that consumes them (softmax, layer norm).

Two strategies, one structure. The space splits into kept indices (one "row" per output) and
reduced indices (the "columns"); reductions are evaluated in phases (a reduction that reads
another, like ``sum(exp(x - max(x)))``, is one phase later), then row-level outputs are stored and
a last column loop stores full-space outputs.

- ``row`` (reduced axes trailing): one block per row, threads stride over the columns, partial
  results combined by ``blockreduce.block_reduce`` (warp shuffles + shared memory); argmax and
  argmin carry (value, position) pairs, the earlier position winning ties as in NumPy.
- ``column`` (reduced axes leading or interleaved, or rows of at most ``SHORT_ROW`` elements):
  one thread per row, a serial loop over the columns; for leading axes neighbouring threads read
  neighbouring addresses, so the loads coalesce.

```
while row < nrows:                  # row: blockIdx strides; column: grid-stride over threads
    acc0 = identity; for col in my columns: acc0 = combine(acc0, operand(row, col))
    acc0 = block_reduce(acc0)       # row strategy only
    red0 = acc0  ... phase 2 ... ; o_row[row] = f(red0, ...)
    for col in my columns: o_full[row, col] = g(row, col, red0, red1)
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...ir import Node
from ...ir.shapes import Shape
from . import blockreduce as br
from .emit import Block, Emitter, Ix, store_index
from .launch import row_launch, stream_launch
from .ops import CudaLoweringError
from .source import Entry, KernelSource, function, size_of

SHORT_ROW = 16  # rows this short (softmax over 10 classes) get a thread each, not a mostly idle warp


def reductions_of(nodes: Sequence[Node]) -> list[Node]:
    return [n for n in nodes if n.op.startswith(("reduce_", "arg")) and n.attrs.get("axes", [0])]


def phases(nodes: Sequence[Node], reds: list[Node]) -> list[list[Node]]:
    """Reductions grouped so that each phase depends only on earlier phases."""
    ids = {id(n) for n in nodes}
    red_ids = {id(r) for r in reds}
    memo: dict[int, int] = {}

    def level(n: Node) -> int:  # phase index a value is available after (0 = no reduction needed)
        if id(n) in memo:
            return memo[id(n)]
        deps = [level(a) for a in n.args if id(a) in ids]
        memo[id(n)] = max(deps, default=0) + (1 if id(n) in red_ids else 0)
        return memo[id(n)]

    out: list[list[Node]] = []
    for r in reds:
        lv = level(r)
        while len(out) < lv:
            out.append([])
        out[lv - 1].append(r)
    return [p for p in out if p]


def reduce_kernel(name: str, nodes: Sequence[Node], outputs: list[Node], space: Shape, n_reduced: int,
                  reduce_maps: dict[int, tuple[int, ...]], warp_size: int) -> KernelSource:
    """``space`` = kept dims then reduced dims; ``reduce_maps[id(r)]`` gives, per operand dim of
    reduction ``r``, its axis in ``space`` (the shared planner's ``Kernel`` fields)."""
    reds = reductions_of(nodes)
    if any(br.is_arg(r) for r in reds) and n_reduced != 1:
        raise CudaLoweringError("GPU backend: argmax/argmin reduce exactly one axis")
    n_kept = len(space) - n_reduced
    trailing = all(reduce_maps[id(r)] == tuple(range(len(space))) for r in reds)
    static_cols = all(isinstance(d, int) for d in space[len(space) - n_reduced:])
    short = static_cols and int(np.prod(space[len(space) - n_reduced:], dtype=np.int64)) <= SHORT_ROW
    row_strategy = trailing and not short
    kept_dims, red_dims = list(space[:n_kept]), list(space[n_kept:])
    em = Emitter(nodes)
    kn = [f"k{i}" for i in range(n_kept)]
    rn = [f"c{i}" for i in range(n_reduced)]
    kidx = [Ix.var(n) for n in kn]
    full = kidx + [Ix.var(n) for n in rn]

    top = Block()
    top.add(f"nrows = {em.size(kept_dims)}", f"ncols = {em.size(red_dims)}")
    if row_strategy:
        top.add("tid = cuda.threadIdx.x", "nthr = cuda.blockDim.x", f"lane = tid % {warp_size}",
                f"warp = tid // {warp_size}", f"nwarps = (nthr + {warp_size - 1}) // {warp_size}",
                "row = cuda.blockIdx.x")
        for j, r in enumerate(reds):
            top.add(*br.shared_decls(r, f"acc{j}", warp_size))
        col_start, col_step, row_step = "tid", "nthr", "cuda.gridDim.x"
    else:
        top.add("row = cuda.grid(1)")
        col_start, col_step, row_step = "0", "1", "cuda.gridsize(1)"
    rowblk = top.child("while row < nrows:", new_vars=kn)
    em.unravel(rowblk, "row", kept_dims, kn)

    def column_loop() -> Block:
        rowblk.add(f"col = {col_start}")
        loop = rowblk.child("while col < ncols:", new_vars=rn, attach=False)
        em.unravel(loop, "col", red_dims, rn)
        return loop

    def close(loop: Block) -> None:
        loop.add(f"col += {col_step}")
        rowblk.attach_child("while col < ncols:", loop)

    for phase in phases(nodes, reds):
        loop = column_loop()
        for r in phase:
            j = reds.index(r)
            rowblk.add(*br.init(r, f"acc{j}"))
            x = em.value(r.args[0], [full[a] for a in reduce_maps[id(r)]], loop)
            loop.add(*br.update(r, f"acc{j}", x, "col"))
        close(loop)
        for r in phase:
            j = reds.index(r)
            if row_strategy:
                br.block_reduce(rowblk, r, f"acc{j}", warp_size)
            rowblk.add(f"red{j} = {br.result(r, f'acc{j}')}")
            em.special[id(r)] = _row_value(r, f"red{j}", rowblk, kn, reduce_maps[id(r)])

    full_outs = []
    for k, o in enumerate(outputs):
        if tuple(o.shape) != tuple(kept_dims):
            if tuple(o.shape) != tuple(space) or not trailing:
                raise CudaLoweringError(f"GPU backend: output {o.type} of a reduction kernel over {space} is "
                                        "neither per row nor per element of trailing reductions")
            full_outs.append((k, o))
            continue
        v = em.value(o, kidx, rowblk)
        store = rowblk.child("if tid == 0:") if row_strategy else rowblk
        store.add(f"o{k}[{store_index(o, kidx)}] = {v}")
    if full_outs:
        loop = column_loop()
        for k, o in full_outs:
            loop.add(f"o{k}[{store_index(o, full)}] = {em.value(o, full, loop)}")
        close(loop)
    rowblk.add(f"row += {row_step}")
    src, params = function(name, em, outputs, top)

    def launch(b, p):
        rows, cols = size_of(tuple(kept_dims), b), size_of(tuple(red_dims), b)
        return row_launch(rows, cols, p) if row_strategy else stream_launch(rows, p)

    return KernelSource(name, "row" if row_strategy else "column", src, [Entry(name, params, launch, em.loads)],
                        outputs, em.loads, em.symbols)


def _row_value(r: Node, var: str, rowblk: Block, kn: list[str], rmap: tuple[int, ...]):
    """``r``'s result, readable only at its own row: each result dim longer than 1 indexed by
    the row variable of the outer axis its operand dim sits on (a dim of size 1 is index 0)."""
    axes = {r.attrs["axis"] % r.args[0].ndim} if "axis" in r.attrs else set(r.attrs["axes"])
    own = [kn[rmap[d]] for d in range(r.args[0].ndim) if d not in axes]

    def special(idx, block):
        if any(n != 1 and i.code != k for i, k, n in zip(idx, own, r.shape)):
            raise CudaLoweringError(f"GPU backend: {r.op} result read outside its row")
        return var, rowblk
    return special

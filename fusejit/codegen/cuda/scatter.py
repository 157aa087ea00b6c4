"""``scatter_add`` (the gradient of a gather) as one thread per lane, adding its updates in order.

```
lin = cuda.grid(1)
while lin < lanes:                  # lanes = every (outer, inner) index: the dims before `axis`
    i0, r0 = unravel(lin)           # and after the index dims of the updates
    for k in range(size):
        o0[i0, k, r0] = 0
    for jj in range(n_indices):     # index positions in row-major order, as np.add.at
        g = a1[jj]; g += size if g < 0
        if out of range: err[0] = 1
        else: o0[i0, g, r0] += a0[i0, jj, r0]
    lin += step
```

No two threads write one element (a lane owns its output line), so there are no atomics and
the additions happen in NumPy's order: results are bitwise ``np.add.at``'s. Parallelism is the
number of lanes; a scatter into a flattened array (one lane) runs on one thread, correct first.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from .emit import Block, Emitter, Ix, store_index
from .launch import stream_launch
from .source import Entry, KernelSource, function, size_of


def scatter_kernel(name: str, nodes: Sequence[Node], node: Node) -> KernelSource:
    upd, idx = node.args
    axis, q = node.attrs["axis"], idx.ndim
    em = Emitter(nodes)
    outer, inner, size = upd.shape[:axis], upd.shape[axis + q:], em.dim(node.attrs["size"])
    o_names = [f"i{k}" for k in range(len(outer))]
    r_names = [f"r{k}" for k in range(len(inner))]
    j_names = [f"j{k}" for k in range(q)]
    top = Block()
    top.add(f"total = {em.size(outer + inner)}", "lin = cuda.grid(1)", "step = cuda.gridsize(1)")
    body = top.child("while lin < total:", new_vars=o_names + r_names)
    em.unravel(body, "lin", outer + inner, o_names + r_names)
    o_ix, r_ix = [Ix.var(n) for n in o_names], [Ix.var(n) for n in r_names]

    def out_at(k: Ix) -> str:
        return f"o0[{store_index(node, [*o_ix, k, *r_ix])}]"

    zero = body.child(f"for k in range({size}):", new_vars=["k"])
    zero.add(f"{out_at(Ix.var('k'))} = 0")
    step = body.child(f"for jj in range({em.size(idx.shape)}):", new_vars=["jj", *j_names], barrier=True)
    em.unravel(step, "jj", idx.shape, j_names)
    j_ix = [Ix.var(n) for n in j_names]
    k = em.value(idx, j_ix, step)
    v = em.value(upd, [*o_ix, *j_ix, *r_ix], step)
    step.add("g = t_i64(" + k + ")", "if g < 0:", f"    g += {size}", f"if g < 0 or g >= {size}:", "    err[0] = 1",
             "else:", f"    {out_at(Ix.var('g'))} = {out_at(Ix.var('g'))} + {v}")
    em.uses_err = True
    body.add("lin += step")
    source, params = function(name, em, [node], top)
    lanes = tuple(outer + inner)

    def launch(b, p):
        return stream_launch(size_of(lanes, b), p)

    return KernelSource(name, "scatter", source, [Entry(name, params, launch, em.loads)], [node], em.loads, em.symbols)

"""Loop-fused groups (elementwise + layout) as one grid-stride kernel.

```
lin = cuda.grid(1)
while lin < total:           # one full wave of blocks strides over the iteration space
    i0, i1 = unravel(lin)    # omitted in the flat form: every array read at the output's own
                             # index, passed as a contiguous 1-D view
    o0[i0, i1] = <expression tree at (i0, i1)>
    lin += cuda.gridsize(1)
```
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from .emit import Block, Emitter, Ix, store_index
from .launch import stream_launch
from .source import Entry, KernelSource, function, size_of


def loop_kernel(name: str, nodes: Sequence[Node], outputs: list[Node]) -> KernelSource:
    """The indexed kernel; when it reads every array at the output's own index (no layout op moves
    data) and has more than one dim, the flat form instead, with the indexed one as fallback."""
    nd, indices = _loop(name + "_nd", nodes, outputs, flat=False)
    names = tuple(f"i{k}" for k in range(len(outputs[0].shape)))
    if len(names) < 2 or any(ix != names for ix in indices) or any(o.shape != outputs[0].shape for o in outputs):
        return _loop(name, nodes, outputs, flat=False)[0]
    flat = _loop(name, nodes, outputs, flat=True)[0]
    flat.fallback = nd
    return flat


def _loop(name: str, nodes: Sequence[Node], outputs: list[Node], flat: bool) -> tuple[KernelSource, set]:
    shape = outputs[0].shape
    em = Emitter(nodes, flat=flat)
    top = Block()
    top.add(f"total = {em.size(shape)}", "lin = cuda.grid(1)", "step = cuda.gridsize(1)")
    names = ["lin"] if flat else [f"i{k}" for k in range(len(shape))]
    body = top.child("while lin < total:", new_vars=names)
    if flat:
        idx = [Ix.var("lin")]
    else:
        em.unravel(body, "lin", shape, names)
        idx = [Ix.var(n) for n in names]
    for k, out in enumerate(outputs):
        v = em.value(out, idx, body)
        body.add(f"o{k}[{'lin' if flat else store_index(out, idx)}] = {v}")
    body.add("lin += step")
    src, params = function(name, em, outputs, top)

    def launch(b, p):
        return stream_launch(size_of(shape, b), p)

    return KernelSource(name, "loop", src, [Entry(name, params, launch, em.loads)], outputs, em.loads, em.symbols,
                        flat=flat), em.load_indices

"""Loop-fused groups (elementwise + layout) as one grid-stride kernel.

```
lin = cuda.grid(1)
while lin < total:           # one full wave of blocks strides over the iteration space
    i0, i1 = unravel(lin)    # omitted in the flat form: same-shape operands, contiguous views
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


def is_flat(nodes: Sequence[Node], outputs: Sequence[Node]) -> bool:
    """Flat indexing is exact when no node moves data: every node and every operand it loads from
    outside the group has the output's shape (scalar constants are inlined)."""
    shape = outputs[0].shape
    ids = {id(n) for n in nodes}
    for n in nodes:
        if n.shape != shape or n.op in ("broadcast", "transpose", "reshape", "slice", "concat", "update_slice"):
            return False
        for a in n.args:
            if id(a) not in ids and a.shape != shape and not (a.op == "constant" and a.attrs["value"].size == 1) \
                    and a.op != "numel":
                return False
    return all(o.shape == shape for o in outputs)


def loop_kernel(name: str, nodes: Sequence[Node], outputs: list[Node], flat: bool) -> KernelSource:
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
                        flat=flat)

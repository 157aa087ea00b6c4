"""``cumsum`` / ``cumprod`` as one thread per independent line, scanning it sequentially.

```
lin = cuda.grid(1)
while lin < lines:                  # lines = every index of the dims other than the axis
    i0, i2 = unravel(lin)           # neighbouring threads take neighbouring inner indices:
    if n > 0:                       # coalesced loads when the axis is not the last one
        acc = a0[i0, 0, i2]; o0[i0, 0, i2] = acc
        for s in range(1, n):
            acc = acc op a0[i0, s, i2]; o0[i0, s, i2] = acc
    lin += step
```

Each element is ``out[i-1] op x[i]`` in the result dtype, in NumPy's order (float16 steps in
float32, rounded once, as NumPy's half loops do), so results are NumPy's bit for bit. Correct
first: a line longer than the device has lines to spread runs on one thread (a parallel scan
would change the float results' rounding order).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from . import ops
from .emit import ZERO, Block, Emitter, Ix, store_index
from .launch import stream_launch
from .source import Entry, KernelSource, function, size_of


def scan_kernel(name: str, nodes: Sequence[Node], node: Node) -> KernelSource:
    """The scan ``node``; ``nodes`` are the kernel's (a cast of its operand may be one: applied on load)."""
    x, axis = node.args[0], node.attrs["axis"]
    em = Emitter(nodes)
    others = [d for k, d in enumerate(node.shape) if k != axis]
    names = [f"i{k}" for k in range(node.ndim) if k != axis]
    top = Block()
    top.add(f"total = {em.size(others)}", "lin = cuda.grid(1)", "step = cuda.gridsize(1)")
    body = top.child("while lin < total:", new_vars=names)
    em.unravel(body, "lin", others, names)

    def at(s: Ix) -> list[Ix]:
        return [*map(Ix.var, names[:axis]), s, *map(Ix.var, names[axis:])]

    combine = {"cumsum": "add", "cumprod": "mul"}[node.op]
    line = body.child(f"if {em.dim(node.shape[axis])} > 0:", barrier=True)  # loads stay under it
    first, nxt = at(ZERO), at(Ix.var("s"))
    line.add(f"acc = {ops.cast(em.value(x, first, line), node.dtype)}", f"o0[{store_index(node, first)}] = acc")
    step = line.child(f"for s in range(1, {em.dim(node.shape[axis])}):", new_vars=["s"])
    update = ops.elementwise(combine, ["acc", em.value(x, nxt, step)], node.dtype, node.dtype, {})
    step.add(f"acc = {update}", f"o0[{store_index(node, nxt)}] = acc")
    body.add("lin += step")
    source, params = function(name, em, [node], top)

    def launch(b, p):
        return stream_launch(size_of(tuple(others), b), p)

    return KernelSource(name, "scan", source, [Entry(name, params, launch, em.loads)], [node], em.loads, em.symbols)

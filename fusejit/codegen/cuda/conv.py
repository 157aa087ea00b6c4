"""``conv2d`` and ``conv2d_backprop_filter`` as direct convolutions: one thread per output element.

```
lin = cuda.grid(1)
while lin < total:                      # conv2d: every (n, oh, ow, o); filter gradient: every (kh, kw, ci, o)
    unravel(lin)
    acc = 0
    for ...:                            # conv2d: taps and the group's input channels;
        if the input row/column is inside (not padding):   # filter gradient: n, oh, ow
            acc = cuda.fma(x[...], w_or_dy[...], acc)
    dv = acc; o0[...] = epilogue(dv)    # bias, activation, residual: fused before the one store
    lin += step
```

Padding is bounds checks (no padded copy); neighbouring threads take neighbouring output channels,
so the filter (or dy) loads coalesce. A first, correct GPU kernel: no shared-memory tiling.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from . import ops
from .emit import Block, Emitter, Ix, acc_dtype, store_epilogue
from .launch import stream_launch
from .ops import CudaLoweringError
from .source import Entry, KernelSource, function, size_of

CONV_OPS = ("conv2d", "conv2d_backprop_filter")


def conv_kernel(name: str, nodes: Sequence[Node], outputs: list[Node], conv: Node) -> KernelSource:
    if conv.op not in CONV_OPS:
        raise CudaLoweringError(f"GPU backend: {conv.op} has no GPU kernel")
    for o in outputs:
        if o.shape != conv.shape:
            raise CudaLoweringError(f"GPU backend: convolution epilogue output {o.type} differs from {conv.type}")
    em = Emitter(nodes)
    a = conv.attrs
    (sh, sw), (dh, dw), (pt, _, pl, _) = a["strides"], a["dilations"], a["pads"]
    x = conv.args[0]
    _, h, w, c = x.shape
    groups = a["groups"]
    acc_t = acc_dtype(conv.dtype)
    names = ["i0", "i1", "i2", "i3"]
    top = Block()
    top.add(f"total = {em.size(list(conv.shape))}", "lin = cuda.grid(1)", "step = cuda.gridsize(1)")
    body = top.child("while lin < total:", new_vars=[*names, "acc", "g"])
    em.unravel(body, "lin", list(conv.shape), names)
    body.add(f"acc = {ops.literal(0, acc_t)}")
    v = Ix.var
    if conv.op == "conv2d":
        wt = conv.args[1]
        kh, kw, cg, o = wt.shape
        body.add(f"g = i3 // {o // groups}")
        rows = body.child(f"for kh in range({kh}):", new_vars=["kh", "ih"])
        rows.add(f"ih = i1 * {sh} + kh * {dh} - {pt}")
        r_in = rows.child(f"if ih >= 0 and ih < {h}:", barrier=True)
        cols = r_in.child(f"for kw in range({kw}):", new_vars=["kw", "iw"])
        cols.add(f"iw = i2 * {sw} + kw * {dw} - {pl}")
        c_in = cols.child(f"if iw >= 0 and iw < {w}:", barrier=True)
        inner = c_in.child(f"for ci in range({cg}):", new_vars=["ci", "cin"])
        inner.add(f"cin = g * {cg} + ci")
        xv = em.value(x, [v("i0"), v("ih"), v("iw"), v("cin")], inner)
        fv = em.value(wt, [v("kh"), v("kw"), v("ci"), v("i3")], inner)
    else:
        dy = conv.args[1]
        n, oh, ow, _ = dy.shape
        cg = c // groups
        body.add(f"g = i3 // {conv.shape[3] // groups}")
        batch = body.child(f"for b in range({em.dim(n)}):", new_vars=["b"])
        rows = batch.child(f"for oh in range({oh}):", new_vars=["oh", "ih"])
        rows.add(f"ih = oh * {sh} + i0 * {dh} - {pt}")
        r_in = rows.child(f"if ih >= 0 and ih < {h}:", barrier=True)
        cols = r_in.child(f"for ow in range({ow}):", new_vars=["ow", "iw", "cin"])
        cols.add(f"iw = ow * {sw} + i1 * {dw} - {pl}", f"cin = g * {cg} + i2")
        inner = cols.child(f"if iw >= 0 and iw < {w}:", barrier=True)
        xv = em.value(x, [v("b"), v("ih"), v("iw"), v("cin")], inner)
        fv = em.value(dy, [v("b"), v("oh"), v("ow"), v("i3")], inner)
    inner.add(f"acc = cuda.fma({ops.cast(xv, acc_t)}, {ops.cast(fv, acc_t)}, acc)")
    body.add(f"dv = {ops.cast('acc', conv.dtype)}")
    oidx = [v(n) for n in names]

    store_epilogue(em, conv, "dv", oidx, body, outputs)
    body.add("lin += step")
    source, params = function(name, em, outputs, top)

    def launch(b, p):
        return stream_launch(size_of(tuple(conv.shape), b), p)

    return KernelSource(name, "conv", source, [Entry(name, params, launch, em.loads)], outputs, em.loads, em.symbols)

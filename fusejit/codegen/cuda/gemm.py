"""``dot`` as a tiled shared-memory GEMM with its elementwise epilogue (bias, activation) fused.

Each block owns a BM x BN output tile of one batch entry; its threads (BN/TN x BM/TM) each keep a
TM x TN accumulator tile in registers. Per BK-slice of K the block stages A[BM,BK] and B[BK,BN] in
shared memory (layout producers such as a transpose of B are index math in these loads, so
``x @ w.T`` reads ``w`` in place), then every thread does TM*TN fused multiply-adds per k. A
thread's outputs are strided by the thread-grid size, so neighbouring threads touch neighbouring
columns (coalesced stores, conflict-free shared reads). The epilogue evaluates the group's
consumers of the product at each output element before the single store.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Node
from .emit import Block, Emitter, Ix, acc_dtype, store_epilogue
from .launch import GemmTile, cdiv
from .ops import CudaLoweringError, cast, literal, tname
from .source import Entry, KernelSource, function, size_of


def _to_acc(node: Node, x: str) -> str:
    acc = acc_dtype(node.dtype)
    if node.dtype.kind == "b":
        return f"({literal(1, acc)} if {x} else {literal(0, acc)})"
    return cast(x, acc)


def gemm_kernel(name: str, nodes: Sequence[Node], outputs: list[Node], tile: GemmTile) -> KernelSource:
    dots = [n for n in nodes if n.op == "dot"]
    if len(dots) != 1:
        raise CudaLoweringError("GPU backend: a GEMM group holds exactly one dot")
    dot = dots[0]
    for o in outputs:
        if o.shape != dot.shape:
            raise CudaLoweringError(f"GPU backend: GEMM epilogue output {o.type} differs from the product {dot.type}")
    A, B = dot.args
    batch, M, N, K = dot.shape[:-2], dot.shape[-2], dot.shape[-1], A.shape[-1]
    acc_t = acc_dtype(dot.dtype)
    nx, ny = tile.threads
    nthr = nx * ny
    em = Emitter(nodes)
    bn = [f"b{i}" for i in range(len(batch))]
    bidx = [Ix.var(n) for n in bn]
    top = Block(vars=frozenset(bn))
    fma = acc_t.kind == "f"
    top.add("tx = cuda.threadIdx.x", "ty = cuda.threadIdx.y", f"tid = ty * {nx} + tx",
            f"sA = cuda.shared.array(({tile.bm}, {tile.bk}), {tname(acc_t)})",
            f"sB = cuda.shared.array(({tile.bk}, {tile.bn}), {tname(acc_t)})",
            f"acc = cuda.local.array(({tile.tm}, {tile.tn}), {tname(acc_t)})",
            f"ra = cuda.local.array({tile.tm}, {tname(acc_t)})",
            f"rb = cuda.local.array({tile.tn}, {tname(acc_t)})",
            f"nM = {em.dim(M)}", f"nN = {em.dim(N)}", f"nK = {em.dim(K)}",
            f"m0 = cuda.blockIdx.y * {tile.bm}", f"n0 = cuda.blockIdx.x * {tile.bn}", "bz = cuda.blockIdx.z")
    em.unravel(top, "bz", batch, bn)
    zero = literal(0, acc_t)
    top.add(f"for i in range({tile.tm}):", f"    for j in range({tile.tn}):", f"        acc[i, j] = {zero}",
            "k0 = 0")
    kloop = top.child("while k0 < nK:", new_vars=["k0"])
    for arr, sname, rows, cols, ri, ci in (("A", "sA", tile.bm, tile.bk, "m0", "k0"),
                                           ("B", "sB", tile.bk, tile.bn, "k0", "n0")):
        node = A if arr == "A" else B
        lim_r, lim_c = ("nM", "nK") if arr == "A" else ("nK", "nN")
        eloop = kloop.child(f"for e in range(tid, {rows * cols}, {nthr}):", new_vars=["e", "r", "c", "gr", "gc"])
        eloop.add(f"r = e // {cols}", f"c = e % {cols}", f"gr = {ri} + r", f"gc = {ci} + c")
        guard = eloop.child(f"if gr < {lim_r} and gc < {lim_c}:", barrier=True)
        guard.add(f"{sname}[r, c] = {_to_acc(node, em.value(node, [*bidx, Ix.var('gr'), Ix.var('gc')], guard))}")
        eloop.child("else:").add(f"{sname}[r, c] = {zero}")
    kloop.add("cuda.syncthreads()",
              f"for kk in range({tile.bk}):",
              f"    for i in range({tile.tm}):",
              f"        ra[i] = sA[ty + i * {ny}, kk]",
              f"    for j in range({tile.tn}):",
              f"        rb[j] = sB[kk, tx + j * {nx}]",
              f"    for i in range({tile.tm}):",
              f"        for j in range({tile.tn}):",
              "            acc[i, j] = " + ("cuda.fma(ra[i], rb[j], acc[i, j])" if fma
                                            else f"{tname(acc_t)}(acc[i, j] + ra[i] * rb[j])"),
              "cuda.syncthreads()", f"k0 += {tile.bk}")
    iloop = top.child(f"for i in range({tile.tm}):", new_vars=["i"])
    jloop = iloop.child(f"for j in range({tile.tn}):", new_vars=["j", "m", "n"])
    jloop.add(f"m = m0 + ty + i * {ny}", f"n = n0 + tx + j * {nx}")
    guard = jloop.child("if m < nM and n < nN:", barrier=True)
    dv = "(acc[i, j] != 0)" if dot.dtype.kind == "b" else cast("acc[i, j]", dot.dtype)
    guard.add(f"dv = {dv}")
    oidx = [*bidx, Ix.var("m"), Ix.var("n")]

    store_epilogue(em, dot, "dv", oidx, guard, outputs)
    src, params = function(name, em, outputs, top)

    def launch(b, p):
        nb = size_of(tuple(batch), b)
        return (cdiv(size_of((N,), b), tile.bn), cdiv(size_of((M,), b), tile.bm), nb), (nx, ny)

    return KernelSource(name, "gemm", src, [Entry(name, params, launch, em.loads)], outputs, em.loads, em.symbols)

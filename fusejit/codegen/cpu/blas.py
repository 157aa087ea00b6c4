"""``dot`` as calls to BLAS ``sgemm``/``dgemm`` from generated code (scipy's cython_blas).

Row-major ``C[M,N] = A[M,K] @ B[K,N]`` is column-major ``C^T = B^T A^T``; an operand whose
inner stride is 1 is passed as is ('N'), one whose row stride is 1 (a transposed view) with
'T', each with its leading dimension — no copies. Batched operands loop over the batch dims.
Operands BLAS cannot take (other strides, negative strides) use a plain triple loop: for
float dtypes one shared, never-inlined ``fj.naive_gemm.<dtype>`` per module taking the sizes at
run time (a rare path; specializing it to every dot's constant shapes made LLVM unroll and
vectorize it per call site, 2/3 of an MLP's compile time); non-float dtypes, whose only path
it is, keep it inline. A product whose left operand is one row (a batch of one through a dense
layer) calls ``gemv`` instead, and one of 2 to ``SMALL_M`` rows times a large row-major B runs a
kernel of our own that streams B once (``fj.small_m_gemm``): a gemm packs all of B for those
rows (OpenBLAS: a 2048x2048 float32 layer at batch 1 took 16 ms through sgemm, ~1 ms through
sgemv). The symbols
``fj_sgemm``/``fj_dgemm``/``fj_sgemv``/``fj_dgemv`` are bound to NumPy's (or scipy's) BLAS by
:mod:`fusejit.runtime.engine`; an AOT build defines them itself (:mod:`fusejit.aot.runtime_c`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir

from ...ir import Node
from ...passes.fusion import Kernel
from . import abi
from .exprs import FnEnv
from .loops import for_range
from .types import F32, F64, I8, I32, I64, PTR, i64, mem_type

GEMM = {4: "fj_sgemm", 8: "fj_dgemm"}
GEMV = {4: "fj_sgemv", 8: "fj_dgemv"}


def _operand(kernel: Kernel, node: Node) -> tuple[Node, bool]:
    """The buffer behind a dot operand and whether its last two axes are swapped."""
    if node.op == "transpose" and any(n is node for n in kernel.nodes):
        return node.args[0], True
    return node, False


def _gemm_decl(module: ir.Module, name: str, nargs: int = 13) -> ir.Function:
    """The Fortran BLAS routine ``name`` (every argument by pointer: 13 for gemm, 11 for gemv)."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * nargs), name)
    return fn


def calls_blas(kernel: Kernel) -> bool:
    """Does ``kernel``'s dot call BLAS (float32/float64)? Other dtypes run the triple loop inline."""
    anchor = kernel.anchor
    return anchor is not None and anchor.dtype.kind == "f" and anchor.dtype.itemsize in GEMM


def emit_dot(module: ir.Module, kernel: Kernel, layout: abi.ArgLayout, name: str,
             constant: Callable[[Node], ir.Value], ilp64: bool = False) -> ir.Function:
    """The BLAS call (or loop) for ``kernel.anchor``; ``ilp64``: the gemm takes 64-bit ints.
    ``constant`` gives the module global holding an array constant operand (a captured matrix)."""
    ity = I64 if ilp64 else I32
    dot = kernel.anchor
    assert dot is not None
    fn = ir.Function(module, ir.FunctionType(I32, [PTR]), name)
    fn.linkage = "internal"
    entry = fn.append_basic_block("entry")
    body = fn.append_basic_block("body")
    b = ir.IRBuilder(body)
    (la, ta), (lb, tb) = (_operand(kernel, a) for a in dot.args)
    pointers = {id(n): constant(n) if n.op == "constant"
                else b.load(b.gep(fn.args[0], [i64(layout.word[id(n)])], source_etype=I64), typ=PTR)
                for n in (la, lb, kernel.alias)}
    env = FnEnv(b, entry, fn.args[0], layout, pointers, contiguous=False)
    sa, sb = env.strides(la), env.strides(lb)
    if ta:
        sa[-1], sa[-2] = sa[-2], sa[-1]
    if tb:
        sb[-1], sb[-2] = sb[-2], sb[-1]
    m, k = env.dims(dot.args[0].shape[-2:])
    n = env.dim(dot.shape[-1])
    sc = env.strides(kernel.alias)
    hb = env._hoisted()
    scratch = {nm: hb.alloca(ity, name=nm) for nm in ("M", "N", "K", "lda", "ldb", "ldc", "incx", "incy")}
    flags = {c: hb.alloca(I8, name=f"flag{c}") for c in "NT"}
    dt = dot.dtype
    use_blas = calls_blas(kernel)
    if use_blas:
        fty = F32 if dt.itemsize == 4 else F64
        alpha, beta = hb.alloca(fty), hb.alloca(fty)
    batch = env.dims(dot.shape[:-2])
    acc = hb.alloca(F32 if dt.kind == "f" and dt.itemsize == 2 else mem_type(dt), name="acc")

    def one(bidx: list[ir.Value]) -> None:
        def base(ptr: ir.Value, strides: list[ir.Value], node: Node) -> ir.Value:
            off = i64(0)
            for i, s in zip(bidx, strides[:-2]):
                off = b.add(off, b.mul(i, s))
            return b.gep(ptr, [off], source_etype=mem_type(node.dtype))

        pa, pb = base(pointers[id(la)], sa, la), base(pointers[id(lb)], sb, lb)
        pc = base(pointers[id(kernel.alias)], sc, kernel.alias)
        if not use_blas:
            _naive(b, dt, acc, pa, sa[-2:], pb, sb[-2:], pc, n, m, k)
            return
        # B as the column-major first operand (N x K), A as the second (K x M)
        b_rows_ok, b_ld_r = _layout(b, k, n, sb[-2], sb[-1])  # B row-major: 'N'
        b_cols_ok, b_ld_c = _layout(b, n, k, sb[-1], sb[-2])  # B column-major: 'T'
        a_rows_ok, a_ld_r = _layout(b, m, k, sa[-2], sa[-1])
        a_cols_ok, a_ld_c = _layout(b, k, m, sa[-1], sa[-2])
        ok = b.and_(b.or_(b_rows_ok, b_cols_ok), b.or_(a_rows_ok, a_cols_ok))
        nonempty = b.and_(b.icmp_signed(">", m, i64(0)), b.icmp_signed(">", n, i64(0)))
        with b.if_else(ok) as (then, other):
            with then:
                with b.if_then(nonempty):
                    with b.if_else(b.icmp_signed("==", k, i64(0))) as (kz, kpos):
                        with kz:
                            _fill_zero(b, pc, b.mul(m, n), dt)
                        with kpos:
                            b.store(ir.Constant(I8, ord("N")), flags["N"])
                            b.store(ir.Constant(I8, ord("T")), flags["T"])
                            b.store(ir.Constant(fty, 1.0), alpha)
                            b.store(ir.Constant(fty, 0.0), beta)
                            ta_ = b.select(b_rows_ok, flags["N"], flags["T"])
                            lda = b.select(b_rows_ok, b_ld_r, b_ld_c)

                            def put(nm: str, v: ir.Value) -> None:
                                b.store(v if ilp64 else b.trunc(v, I32), scratch[nm])

                            # one row of A: gemv (a gemm would pack all of B to multiply one row)
                            incx = b.select(b.icmp_signed("==", k, i64(1)), i64(1), sa[-1])
                            row = b.and_(b.icmp_signed("==", m, i64(1)), b.icmp_signed(">=", incx, i64(1)))
                            with b.if_else(row) as (gv, gm):
                                with gv:
                                    for nm, v in (("M", b.select(b_rows_ok, n, k)), ("N", b.select(b_rows_ok, k, n)),
                                                  ("lda", lda), ("incx", incx), ("incy", i64(1))):
                                        put(nm, v)
                                    b.call(_gemm_decl(module, GEMV[dt.itemsize], 11),
                                           [ta_, scratch["M"], scratch["N"], alpha, pb, scratch["lda"], pa,
                                            scratch["incx"], beta, pc, scratch["incy"]])
                                with gm:
                                    few = b.and_(b.and_(b.icmp_signed("<=", m, i64(SMALL_M)), b_rows_ok),
                                                 b.icmp_signed(">=", b.mul(k, n), i64(SMALL_M_MIN_B)))
                                    with b.if_else(few) as (sm, gemm):
                                        with sm:
                                            b.call(_small_m_fn(module, dt),
                                                   [pa, pb, pc, sa[-2], sa[-1], b_ld_r, m, n, k])
                                        with gemm:
                                            tb_ = b.select(a_rows_ok, flags["N"], flags["T"])
                                            for nm, v in (("M", n), ("N", m), ("K", k), ("ldc", n), ("lda", lda),
                                                          ("ldb", b.select(a_rows_ok, a_ld_r, a_ld_c))):
                                                put(nm, v)
                                            b.call(_gemm_decl(module, GEMM[dt.itemsize]),
                                                   [ta_, tb_, scratch["M"], scratch["N"], scratch["K"], alpha, pb,
                                                    scratch["lda"], pa, scratch["ldb"], beta, pc, scratch["ldc"]])
            with other:
                b.call(_naive_fn(module, dt), [pa, pb, pc, *sa[-2:], *sb[-2:], m, n, k])

    def nest(idx: list[ir.Value]) -> None:
        if len(idx) == len(batch):
            one(idx)
            return
        with for_range(b, i64(0), batch[len(idx)], f"bt{len(idx)}") as i:
            nest(idx + [i])

    nest([])
    b.ret(ir.Constant(I32, 0))
    ir.IRBuilder(entry).branch(body)
    return fn


def _layout(b: ir.IRBuilder, rows: ir.Value, cols: ir.Value, srow: ir.Value, scol: ir.Value
            ) -> tuple[ir.Value, ir.Value]:
    """Is a rows x cols view with these strides row-major for BLAS, and its leading dim. A single
    row may take any leading dim >= cols; several rows need their own stride, at least 1 (a row
    stride of 0, a broadcast, is not one BLAS can take: clamping it to 1 read past the rows)."""
    one = i64(1)
    unit = b.or_(b.icmp_signed("==", scol, one), b.icmp_signed("<=", cols, one))
    ld = b.select(b.icmp_signed("<=", rows, one), b.select(b.icmp_signed("<", cols, one), one, cols), srow)
    ld_ok = b.and_(b.icmp_signed(">=", ld, cols), b.icmp_signed(">=", ld, one))
    return b.and_(unit, ld_ok), ld


SMALL_M = 4  # rows of A up to which a product streams B once instead of calling gemm
SMALL_M_MIN_B = 1 << 20  # elements of B from which that pays (a smaller B stays in cache, where gemm is faster)
_NB = 512  # columns of C per block: SMALL_M x 512 accumulators stay in L1/L2 while B's rows stream past


def _small_m_fn(module: ir.Module, dt: np.dtype) -> ir.Function:
    """The module's kernel for a few rows of A times a large row-major B: (pa, pb, pc, sa0, sa1,
    ldb, m, n, k). OpenBLAS's gemm packs all of B per call; this reads each row of B once per block
    of 512 columns and adds it into every row of C with a fused multiply-add (C is contiguous, rows
    of n). CPU time, q25 of 150 interleaved calls, float32, 1 thread: B 2048x2048 at 2 rows 1.34 vs
    sgemm 1.91 ms, 4 rows 1.51 vs 1.96, 8 rows 3.25 vs 2.35 (hence SMALL_M = 4); B 784x2048 at 2
    rows 0.38 vs 0.64 ms, 4 rows 0.58 vs 0.67; B 784x512 (in cache) no gain (SMALL_M_MIN_B)."""
    name = f"fj.small_m_gemm.{dt}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    ty = mem_type(dt)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * 3 + [I64] * 6), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    for arg in fn.args[:3]:
        arg.add_attribute("noalias")
    pa, pb, pc, sa0, sa1, ldb, m, n, k = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    nb = i64(_NB)
    with for_range(b, i64(0), b.sdiv(b.add(n, i64(_NB - 1)), nb), "jb") as jb:
        j0 = b.mul(jb, nb)
        left = b.sub(n, j0)
        jn = b.select(b.icmp_signed("<", left, nb), left, nb)
        with for_range(b, i64(0), m, "zi") as i:
            crow = b.gep(pc, [b.add(b.mul(i, n), j0)], source_etype=ty)
            with for_range(b, i64(0), jn, "zj") as j:
                b.store(ir.Constant(ty, 0.0), b.gep(crow, [j], source_etype=ty))
        with for_range(b, i64(0), k, "kp", unroll=False) as kp:
            brow = b.gep(pb, [b.add(b.mul(kp, ldb), j0)], source_etype=ty)
            with for_range(b, i64(0), m, "mi", unroll=False) as i:
                a = b.load(b.gep(pa, [b.add(b.mul(i, sa0), b.mul(kp, sa1))], source_etype=ty), typ=ty)
                crow = b.gep(pc, [b.add(b.mul(i, n), j0)], source_etype=ty)
                with for_range(b, i64(0), jn, "nj") as j:
                    cp = b.gep(crow, [j], source_etype=ty)
                    bv = b.load(b.gep(brow, [j], source_etype=ty), typ=ty)
                    b.store(b.fma(a, bv, b.load(cp, typ=ty)), cp)
    b.ret_void()
    return fn


def _naive_fn(module: ir.Module, dt: np.dtype) -> ir.Function:
    """The module's out-of-line triple loop for ``dt``: (pa, pb, pc, sa0, sa1, sb0, sb1, m, n, k)."""
    name = f"fj.naive_gemm.{dt}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * 3 + [I64] * 7), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("cold")
    fn.attributes.add("minsize")
    fn.attributes.add("optsize")
    pa, pb, pc, sa0, sa1, sb0, sb1, m, n, k = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    acc = b.alloca(mem_type(dt), name="acc")
    _naive(b, dt, acc, pa, [sa0, sa1], pb, [sb0, sb1], pc, n, m, k)
    b.ret_void()
    return fn


def _fill_zero(b: ir.IRBuilder, p: ir.Value, count: ir.Value, dt) -> None:
    ty = mem_type(dt)
    with for_range(b, i64(0), count, "z") as i:
        b.store(ir.Constant(ty, 0.0 if dt.kind == "f" else 0), b.gep(p, [i], source_etype=ty))


def _naive(b: ir.IRBuilder, dt: np.dtype, acc: ir.Value, pa: ir.Value, sa: list[ir.Value], pb: ir.Value,
           sb: list[ir.Value], pc: ir.Value, n: ir.Value, m: ir.Value, k: ir.Value) -> None:
    """C[i, j] = sum_p A[i, p] B[p, j] in the operand dtype (float16 accumulates in float32)."""
    ty = mem_type(dt)
    acc_ty = acc.allocated_type
    is_f = dt.kind == "f"
    with for_range(b, i64(0), m, "mi") as i:
        with for_range(b, i64(0), n, "nj") as j:
            b.store(ir.Constant(acc_ty, 0.0 if is_f else 0), acc)
            with for_range(b, i64(0), k, "kp") as p:
                x = b.load(b.gep(pa, [b.add(b.mul(i, sa[0]), b.mul(p, sa[1]))], source_etype=ty), typ=ty)
                y = b.load(b.gep(pb, [b.add(b.mul(p, sb[0]), b.mul(j, sb[1]))], source_etype=ty), typ=ty)
                if acc_ty != ty:
                    x, y = b.fpext(x, acc_ty), b.fpext(y, acc_ty)
                if dt.kind == "b":
                    s = b.or_(b.load(acc, typ=acc_ty), b.and_(x, y))
                elif is_f:
                    s = b.fadd(b.load(acc, typ=acc_ty), b.fmul(x, y))
                else:
                    s = b.add(b.load(acc, typ=acc_ty), b.mul(x, y))
                b.store(s, acc)
            r = b.load(acc, typ=acc_ty)
            if acc_ty != ty:
                r = b.fptrunc(r, ty)
            b.store(r, b.gep(pc, [b.add(b.mul(i, n), j)], source_etype=ty))

"""C source compiled into every AOT library: the GEMM behind ``dot`` (so no BLAS is needed).
(Threaded kernels need no C: the thread pool is LLVM IR compiled into the program object, see
:mod:`fusejit.codegen.cpu.threadpool`.)

``<prefix>__sgemm``/``<prefix>__dgemm`` have the Fortran BLAS signature the generated code calls
(column-major, every argument by pointer, ``C = alpha * op(A) @ op(B) + beta * C``; with
``beta == 0`` C is not read, as BLAS specifies). Blocked for the caches (KC x MC blocks of A,
KC x NR panels of B packed contiguously with alpha folded in; A is read in place when B has at most
2 NR columns (matrix-vector-like: packing would cost as much as the product), packed otherwise) around a (2 vectors) x 6
register micro-kernel written with GCC vector extensions in the target's vector width (SSE 16,
AVX 32, AVX-512 64 bytes: 16 x 6 floats per tile with AVX2). It must be compiled with FMA
contraction on (``-ffp-contract=fast``); build.py does. If packing memory cannot be allocated it
falls back to an unpacked triple loop rather than fail. A product with a single row or column
(a batch of one through a dense layer) skips the tiles, which would pad it to NR columns, and runs
as a matrix-vector product reading the matrix in place (784x512 float32 at batch 1: 86 -> 25 us).
"""

from __future__ import annotations

GEMM_C = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FJ_NR 6
#define FJ_KC 256
#define FJ_MC 128

#if defined(__AVX512F__)
#define FJ_VBYTES 64
#elif defined(__AVX__)
#define FJ_VBYTES 32
#else
#define FJ_VBYTES 16
#endif
typedef float fj_vf __attribute__((vector_size(FJ_VBYTES)));
typedef double fj_vd __attribute__((vector_size(FJ_VBYTES)));

/* y[i*incy] += alpha * sum_p M[i,p] x[p*incx] (i < rows, p < cols), M[i,p] = trans ? a[p + i*lda] : a[i + p*lda]:
   the product when one side is a single row or column. The tiled path would pad that side to NR
   columns (NR times the multiply-adds); this reads the matrix once, in place, in memory order. */
#define FJ_DEFINE_GEMV(NAME, T, V)                                                                   \
static void NAME##_gemv(int trans, int64_t rows, int64_t cols, T alpha, const T *a, int64_t lda,     \
                        const T *x, int64_t incx, T *y, int64_t incy) {                              \
    enum { VL = sizeof(V) / sizeof(T) };                                                             \
    if (!trans) { /* columns of M contiguous: y += M[:, p] x[p], four columns per pass over y */     \
        int64_t p = 0;                                                                               \
        for (; p + 4 <= cols; p += 4) {                                                              \
            const T *restrict c0 = a + p * lda, *restrict c1 = c0 + lda, *restrict c2 = c1 + lda;    \
            const T *restrict c3 = c2 + lda;                                                         \
            const T x0 = alpha * x[p * incx], x1 = alpha * x[(p + 1) * incx];                        \
            const T x2 = alpha * x[(p + 2) * incx], x3 = alpha * x[(p + 3) * incx];                  \
            if (incy == 1) {                                                                         \
                T *restrict yy = y;                                                                  \
                for (int64_t i = 0; i < rows; i++)                                                   \
                    yy[i] += c0[i] * x0 + c1[i] * x1 + c2[i] * x2 + c3[i] * x3;                      \
            } else {                                                                                 \
                for (int64_t i = 0; i < rows; i++)                                                   \
                    y[i * incy] += c0[i] * x0 + c1[i] * x1 + c2[i] * x2 + c3[i] * x3;                \
            }                                                                                        \
        }                                                                                            \
        for (; p < cols; p++) {                                                                      \
            const T *restrict c0 = a + p * lda;                                                      \
            const T x0 = alpha * x[p * incx];                                                        \
            for (int64_t i = 0; i < rows; i++) y[i * incy] += c0[i] * x0;                            \
        }                                                                                            \
        return;                                                                                      \
    }                                                                                                \
    /* rows of M contiguous: y[i] += dot(M[i, :], x), x gathered first when strided */               \
    T *packed = incx == 1 ? NULL : malloc(sizeof(T) * cols);                                         \
    if (packed)                                                                                      \
        for (int64_t p = 0; p < cols; p++) packed[p] = x[p * incx];                                  \
    const T *xv = packed ? packed : x;                                                               \
    const int64_t step = packed ? 1 : incx;                                                          \
    for (int64_t i = 0; i < rows; i++) {                                                             \
        const T *row = a + i * lda;                                                                  \
        T s = 0;                                                                                     \
        int64_t p = 0;                                                                               \
        if (step == 1) {                                                                             \
            V s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, u, v;                                          \
            for (; p + 4 * VL <= cols; p += 4 * VL) {                                                \
                memcpy(&u, row + p, sizeof u), memcpy(&v, xv + p, sizeof v), s0 += u * v;           \
                memcpy(&u, row + p + VL, sizeof u), memcpy(&v, xv + p + VL, sizeof v), s1 += u * v;  \
                memcpy(&u, row + p + 2 * VL, sizeof u), memcpy(&v, xv + p + 2 * VL, sizeof v);       \
                s2 += u * v;                                                                         \
                memcpy(&u, row + p + 3 * VL, sizeof u), memcpy(&v, xv + p + 3 * VL, sizeof v);       \
                s3 += u * v;                                                                         \
            }                                                                                        \
            T lanes[VL];                                                                             \
            s0 = (s0 + s1) + (s2 + s3);                                                              \
            memcpy(lanes, &s0, sizeof lanes);                                                        \
            for (int l = 0; l < VL; l++) s += lanes[l];                                              \
        }                                                                                            \
        for (; p < cols; p++) s += row[p] * xv[p * step];                                            \
        y[i * incy] += alpha * s;                                                                    \
    }                                                                                                \
    free(packed);                                                                                    \
}

/* One MR x NR tile of op(A) @ op(B) from packed panels: 2 x NR vector accumulators stay in registers. */
#define FJ_DEFINE_GEMM(NAME, T, V)                                                                   \
FJ_DEFINE_GEMV(NAME, T, V)                                                                           \
static void NAME##_tile(int64_t kc, const T *pa, int64_t sa, const T *restrict pb, T *restrict out) { \
    enum { VL = sizeof(V) / sizeof(T) };                                                             \
    V c0[FJ_NR], c1[FJ_NR];                                                                          \
    for (int j = 0; j < FJ_NR; j++) c0[j] = c1[j] = (V){0};                                          \
    for (int64_t p = 0; p < kc; p++) {                                                               \
        V a0, a1;                                                                                    \
        memcpy(&a0, pa + p * sa, sizeof a0);                                                         \
        memcpy(&a1, pa + p * sa + VL, sizeof a1);                                                    \
        for (int j = 0; j < FJ_NR; j++) {                                                            \
            T b = pb[p * FJ_NR + j];                                                                 \
            c0[j] += a0 * b;                                                                         \
            c1[j] += a1 * b;                                                                         \
        }                                                                                            \
    }                                                                                                \
    for (int j = 0; j < FJ_NR; j++) {                                                                \
        memcpy(out + j * 2 * VL, &c0[j], sizeof c0[j]);                                              \
        memcpy(out + j * 2 * VL + VL, &c1[j], sizeof c1[j]);                                         \
    }                                                                                                \
}                                                                                                    \
                                                                                                     \
__attribute__((visibility("hidden")))                                                                \
void NAME(const char *transa, const char *transb, const int *pm, const int *pn, const int *pk,      \
          const T *palpha, const T *a, const int *plda, const T *b, const int *pldb, const T *pbeta, \
          T *c, const int *pldc) {                                                                   \
    enum { MR = 2 * sizeof(V) / sizeof(T) };                                                         \
    const int64_t m = *pm, n = *pn, k = *pk, lda = *plda, ldb = *pldb, ldc = *pldc;                  \
    const int ta = *transa == 'T' || *transa == 't' || *transa == 'C' || *transa == 'c';              \
    const int tb = *transb == 'T' || *transb == 't' || *transb == 'C' || *transb == 'c';              \
    const T alpha = *palpha, beta = *pbeta;                                                          \
    if (m <= 0 || n <= 0) return;                                                                    \
    for (int64_t j = 0; j < n; j++)                                                                  \
        for (int64_t i = 0; i < m; i++)                                                              \
            c[i + j * ldc] = beta == (T)0 ? (T)0 : beta * c[i + j * ldc];                            \
    if (k <= 0 || alpha == (T)0) return;                                                             \
    if (n == 1) { /* op(A) @ one column */                                                           \
        NAME##_gemv(ta, m, k, alpha, a, lda, b, tb ? ldb : 1, c, 1);                                 \
        return;                                                                                      \
    }                                                                                                \
    if (m == 1) { /* one row @ op(B), as (op(B)^T @ that row)^T */                                   \
        NAME##_gemv(!tb, n, k, alpha, b, ldb, a, ta ? 1 : lda, c, ldc);                              \
        return;                                                                                      \
    }                                                                                                \
    int64_t npad = (n + FJ_NR - 1) / FJ_NR * FJ_NR;                                                  \
    T *ap = malloc(sizeof(T) * FJ_MC * FJ_KC), *bp = malloc(sizeof(T) * FJ_KC * npad);               \
    if (!ap || !bp) { /* no memory for packing: a plain loop, slower but correct */                  \
        free(ap);                                                                                    \
        free(bp);                                                                                    \
        for (int64_t j = 0; j < n; j++)                                                              \
            for (int64_t p = 0; p < k; p++) {                                                        \
                T bv = alpha * (tb ? b[j + p * ldb] : b[p + j * ldb]);                               \
                for (int64_t i = 0; i < m; i++)                                                      \
                    c[i + j * ldc] += (ta ? a[p + i * lda] : a[i + p * lda]) * bv;                   \
            }                                                                                        \
        return;                                                                                      \
    }                                                                                                \
    T tile[MR * FJ_NR];                                                                              \
    for (int64_t p0 = 0; p0 < k; p0 += FJ_KC) {                                                      \
        int64_t kc = k - p0 < FJ_KC ? k - p0 : FJ_KC;                                                \
        for (int64_t j0 = 0; j0 < npad; j0 += FJ_NR)                                                 \
            for (int64_t p = 0; p < kc; p++)                                                         \
                for (int64_t jj = 0; jj < FJ_NR; jj++) {                                             \
                    int64_t j = j0 + jj, q = p0 + p;                                                 \
                    bp[j0 * kc + p * FJ_NR + jj] =                                                   \
                        j < n ? alpha * (tb ? b[j + q * ldb] : b[q + j * ldb]) : (T)0;               \
                }                                                                                    \
        for (int64_t i0 = 0; i0 < m; i0 += FJ_MC) {                                                  \
            int64_t mc = m - i0 < FJ_MC ? m - i0 : FJ_MC;                                            \
            const T *panel[FJ_MC / MR];                                                              \
            int64_t step[FJ_MC / MR];                                                                \
            for (int64_t r0 = 0; r0 < mc; r0 += MR) {                                                \
                if (!ta && r0 + MR <= mc && n <= 2 * FJ_NR) { /* few columns: read A in place */     \
                    panel[r0 / MR] = a + (i0 + r0) + p0 * lda;                                       \
                    step[r0 / MR] = lda;                                                             \
                    continue;                                                                        \
                }                                                                                    \
                for (int64_t p = 0; p < kc; p++)                                                     \
                    for (int64_t ii = 0; ii < MR; ii++) {                                            \
                        int64_t i = i0 + r0 + ii, q = p0 + p;                                        \
                        ap[r0 * kc + p * MR + ii] =                                                  \
                            r0 + ii < mc ? (ta ? a[q + i * lda] : a[i + q * lda]) : (T)0;            \
                    }                                                                                \
                panel[r0 / MR] = ap + r0 * kc;                                                       \
                step[r0 / MR] = MR;                                                                  \
            }                                                                                        \
            for (int64_t j0 = 0; j0 < n; j0 += FJ_NR)                                                \
                for (int64_t r0 = 0; r0 < mc; r0 += MR) {                                            \
                    NAME##_tile(kc, panel[r0 / MR], step[r0 / MR], bp + j0 * kc, tile);              \
                    int64_t rows = mc - r0 < MR ? mc - r0 : MR;                                      \
                    int64_t cols = n - j0 < FJ_NR ? n - j0 : FJ_NR;                                  \
                    for (int64_t jj = 0; jj < cols; jj++)                                            \
                        for (int64_t ii = 0; ii < rows; ii++)                                        \
                            c[(i0 + r0 + ii) + (j0 + jj) * ldc] += tile[jj * MR + ii];               \
                }                                                                                    \
        }                                                                                            \
    }                                                                                                \
    free(ap);                                                                                        \
    free(bp);                                                                                        \
}
"""


GEMV_C = r"""
/* Fortran BLAS gemv: y = alpha * op(A) @ x + beta * y (y not read when beta == 0), over the
   matrix-vector path of the gemm of the same type (GEMM). */
#define FJ_DEFINE_GEMV_ENTRY(NAME, GEMM, T)                                                          \
__attribute__((visibility("hidden")))                                                                \
void NAME(const char *trans, const int *pm, const int *pn, const T *palpha, const T *a, const int *plda, \
          const T *x, const int *pincx, const T *pbeta, T *y, const int *pincy) {                    \
    const int t = *trans == 'T' || *trans == 't' || *trans == 'C' || *trans == 'c';                  \
    const int64_t rows = t ? *pn : *pm, cols = t ? *pm : *pn, incy = *pincy;                         \
    const T alpha = *palpha, beta = *pbeta;                                                          \
    if (rows <= 0) return;                                                                           \
    for (int64_t i = 0; i < rows; i++)                                                               \
        y[i * incy] = beta == (T)0 ? (T)0 : beta * y[i * incy];                                      \
    if (cols <= 0 || alpha == (T)0) return;                                                          \
    GEMM##_gemv(t, rows, cols, alpha, a, *plda, x, *pincx, y, incy);                                 \
}
"""


def gemm_source(prefix: str, gemms: list[str]) -> str:
    """C source defining ``<prefix>__<g>`` for each g in ``gemms`` ('sgemm', 'dgemm', 'sgemv', 'dgemv');
    a gemv runs on the matrix-vector path of its type's gemm, so that gemm is defined too."""
    types = {"s": ("float", "fj_vf"), "d": ("double", "fj_vd")}
    needed = sorted({g[0] for g in gemms})
    return (GEMM_C + GEMV_C + "".join(f"FJ_DEFINE_GEMM({prefix}__{t}gemm, {', '.join(types[t])})\n" for t in needed)
            + "".join(f"FJ_DEFINE_GEMV_ENTRY({prefix}__{g}, {prefix}__{g[0]}gemm, {types[g[0]][0]})\n"
                      for g in gemms if g.endswith("gemv")))

"""C source compiled into every AOT library: the GEMM behind ``dot`` (so no BLAS is needed).

``<prefix>__sgemm``/``<prefix>__dgemm`` have the Fortran BLAS signature the generated code calls
(column-major, every argument by pointer, ``C = alpha * op(A) @ op(B) + beta * C``; with
``beta == 0`` C is not read, as BLAS specifies). Blocked for the caches (KC x MC panels of A,
KC x NR panels of B, packed contiguously with alpha folded into B) around a 16 x 4 register
micro-kernel that gcc vectorizes for the target ISA. If packing memory cannot be allocated it
falls back to an unpacked triple loop rather than fail.
"""

from __future__ import annotations

GEMM_C = r"""
#include <stdint.h>
#include <stdlib.h>

#define FJ_MR 16
#define FJ_NR 4
#define FJ_KC 256
#define FJ_MC 128

#define FJ_DEFINE_GEMM(NAME, T)                                                                       \
__attribute__((visibility("hidden")))                                                                 \
void NAME(const char *transa, const char *transb, const int *pm, const int *pn, const int *pk,       \
          const T *palpha, const T *a, const int *plda, const T *b, const int *pldb, const T *pbeta,  \
          T *c, const int *pldc) {                                                                    \
    const int64_t m = *pm, n = *pn, k = *pk, lda = *plda, ldb = *pldb, ldc = *pldc;                   \
    const int ta = *transa == 'T' || *transa == 't' || *transa == 'C' || *transa == 'c';               \
    const int tb = *transb == 'T' || *transb == 't' || *transb == 'C' || *transb == 'c';               \
    const T alpha = *palpha, beta = *pbeta;                                                           \
    if (m <= 0 || n <= 0) return;                                                                     \
    for (int64_t j = 0; j < n; j++)                                                                   \
        for (int64_t i = 0; i < m; i++)                                                               \
            c[i + j * ldc] = beta == (T)0 ? (T)0 : beta * c[i + j * ldc];                             \
    if (k <= 0 || alpha == (T)0) return;                                                              \
    int64_t npad = (n + FJ_NR - 1) / FJ_NR * FJ_NR;                                                   \
    T *ap = malloc(sizeof(T) * FJ_MC * FJ_KC), *bp = malloc(sizeof(T) * FJ_KC * npad);                \
    if (!ap || !bp) {                                                                                 \
        free(ap);                                                                                     \
        free(bp);                                                                                     \
        for (int64_t j = 0; j < n; j++)                                                               \
            for (int64_t p = 0; p < k; p++) {                                                         \
                T bv = alpha * (tb ? b[j + p * ldb] : b[p + j * ldb]);                                \
                for (int64_t i = 0; i < m; i++)                                                       \
                    c[i + j * ldc] += (ta ? a[p + i * lda] : a[i + p * lda]) * bv;                    \
            }                                                                                         \
        return;                                                                                       \
    }                                                                                                 \
    for (int64_t p0 = 0; p0 < k; p0 += FJ_KC) {                                                       \
        int64_t kc = k - p0 < FJ_KC ? k - p0 : FJ_KC;                                                 \
        for (int64_t j0 = 0; j0 < npad; j0 += FJ_NR)                                                  \
            for (int64_t p = 0; p < kc; p++)                                                          \
                for (int64_t jj = 0; jj < FJ_NR; jj++) {                                              \
                    int64_t j = j0 + jj, q = p0 + p;                                                  \
                    bp[j0 * kc + p * FJ_NR + jj] =                                                    \
                        j < n ? alpha * (tb ? b[j + q * ldb] : b[q + j * ldb]) : (T)0;                \
                }                                                                                     \
        for (int64_t i0 = 0; i0 < m; i0 += FJ_MC) {                                                   \
            int64_t mc = m - i0 < FJ_MC ? m - i0 : FJ_MC;                                             \
            for (int64_t r0 = 0; r0 < mc; r0 += FJ_MR)                                                \
                for (int64_t p = 0; p < kc; p++)                                                      \
                    for (int64_t ii = 0; ii < FJ_MR; ii++) {                                          \
                        int64_t i = i0 + r0 + ii, q = p0 + p;                                         \
                        ap[r0 * kc + p * FJ_MR + ii] =                                                \
                            r0 + ii < mc ? (ta ? a[q + i * lda] : a[i + q * lda]) : (T)0;             \
                    }                                                                                 \
            for (int64_t j0 = 0; j0 < n; j0 += FJ_NR)                                                 \
                for (int64_t r0 = 0; r0 < mc; r0 += FJ_MR) {                                          \
                    T acc[FJ_NR][FJ_MR] = {{0}};                                                      \
                    const T *pa = ap + r0 * kc, *pb = bp + j0 * kc;                                   \
                    for (int64_t p = 0; p < kc; p++)                                                  \
                        for (int jj = 0; jj < FJ_NR; jj++)                                            \
                            for (int ii = 0; ii < FJ_MR; ii++)                                        \
                                acc[jj][ii] += pa[p * FJ_MR + ii] * pb[p * FJ_NR + jj];               \
                    int64_t rows = mc - r0 < FJ_MR ? mc - r0 : FJ_MR;                                 \
                    int64_t cols = n - j0 < FJ_NR ? n - j0 : FJ_NR;                                   \
                    for (int64_t jj = 0; jj < cols; jj++)                                             \
                        for (int64_t ii = 0; ii < rows; ii++)                                         \
                            c[(i0 + r0 + ii) + (j0 + jj) * ldc] += acc[jj][ii];                       \
                }                                                                                     \
        }                                                                                             \
    }                                                                                                 \
    free(ap);                                                                                         \
    free(bp);                                                                                         \
}
"""


def gemm_source(prefix: str, gemms: list[str]) -> str:
    """C source defining ``<prefix>__<g>`` for each g in ``gemms`` ('sgemm', 'dgemm')."""
    types = {"sgemm": "float", "dgemm": "double"}
    return GEMM_C + "".join(f"FJ_DEFINE_GEMM({prefix}__{g}, {types[g]})\n" for g in gemms)

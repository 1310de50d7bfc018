/* SPDX-License-Identifier: MIT */
/* Single-precision products of a few rows, C = A·op(B) + beta·C, for the
 * matrices of one molecule's energy and forces (M = atoms, 3·atoms or
 * pairs, a few dozen to a few hundred rows; K, N = the model's widths).
 *
 * Why not BLAS: for M ≈ 21 OpenBLAS repacks B (a weight matrix, up to
 * 128 × 384) on every call and its kernels are built for large M; on the
 * MD path these products ran at 55–65 GFLOP/s where a 512³ SGEMM runs at
 * 110–200 (issue 9's profile: GEMM 60–70% of an aspirin force call). A
 * few rows need no packing: each B row is streamed once per block of rows,
 * straight from the caller's row-major array.
 *
 *   NN  C[i, j] = Σ_k A[i, k] B[k, j]   (B: K × N)
 *       register tile of MR ≤ 6 rows × 64 columns (4 AVX-512 vectors):
 *       per k, 4 loads of B's row, MR broadcasts of A, 4·MR FMAs.
 *   NT  C[i, j] = Σ_k A[i, k] B[j, k]   (B: N × K, the backward gy·Wᵀ)
 *       tile of 4 × 4 dot products along k, 16 lanes at a time, then one
 *       horizontal sum per entry.
 *
 * Sums run in float in another order than BLAS's: results differ from
 * cblas_sgemm by rounding only (tests/test_nn_ops.c checks every tile
 * shape and remainder against a double reference).
 *
 * Only on CPUs with AVX-512F (checked once at run time) and only for the
 * shapes above (ms_sgemm_small says whether it ran); everything else goes
 * to BLAS as before. No state, so any thread may call it. */
#include "kernels.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 && \
    !defined(MS_NO_CLONES)
#define MS_SMALL_GEMM 1
#endif

#ifdef MS_SMALL_GEMM
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define TILE static inline __attribute__((always_inline, target("avx512f")))

/* C[0..MR) × [0, 16·NV) from the tile's accumulators: beta is 0 or 1. */
#define STORE_ROW(accv, cp, beta)                                             \
    (beta ? _mm512_storeu_ps(cp, _mm512_add_ps(accv, _mm512_loadu_ps(cp)))    \
          : _mm512_storeu_ps(cp, accv))

/* NN tile: rows [0, MR) of A (lda), columns [0, 16·NV) of B (ldb). */
TILE void nn_tile(const int MR, const int NV, size_t K, const float *a, size_t lda,
                  const float *b, size_t ldb, int beta, float *c, size_t ldc)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm512_loadu_ps(b + k * ldb + 16 * (size_t)v);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            STORE_ROW(acc[r][v], c + (size_t)r * ldc + 16 * (size_t)v, beta);
}

/* NT tile: rows [0, MR) of A (lda) against rows [0, NC) of B (ldb), K a
 * multiple of 16. */
TILE void nt_tile(const int MR, const int NC, size_t K, const float *a, size_t lda,
                  const float *b, size_t ldb, int beta, float *c, size_t ldc)
{
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++)
            acc[r][j] = _mm512_setzero_ps();
    for (size_t k = 0; k < K; k += 16) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++)
            bv[j] = _mm512_loadu_ps(b + (size_t)j * ldb + k);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_loadu_ps(a + (size_t)r * lda + k);
#pragma GCC unroll 4
            for (int j = 0; j < NC; j++)
                acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int j = 0; j < NC; j++) {
            float s = _mm512_reduce_add_ps(acc[r][j]);
            float *cp = c + (size_t)r * ldc + j;
            *cp = beta ? *cp + s : s;
        }
}

/* Rows [0, mr) (mr ≤ 6) of an NN tile NV vectors wide. */
#define NN_ROWS(NV)                                                           \
    switch (mr) {                                                             \
    case 6: nn_tile(6, NV, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 5: nn_tile(5, NV, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 4: nn_tile(4, NV, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 3: nn_tile(3, NV, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 2: nn_tile(2, NV, K, a, lda, b, ldb, beta, c, ldc); break;           \
    default: nn_tile(1, NV, K, a, lda, b, ldb, beta, c, ldc); break;          \
    }

AVX512 static void nn_block(size_t mr, size_t nv, size_t K, const float *a, size_t lda,
                            const float *b, size_t ldb, int beta, float *c, size_t ldc)
{
    if (nv == 4) {
        NN_ROWS(4)
    } else if (nv == 2) {
        NN_ROWS(2)
    } else {
        NN_ROWS(1)
    }
}

#define NT_COLS(MR)                                                           \
    switch (nc) {                                                             \
    case 4: nt_tile(MR, 4, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 3: nt_tile(MR, 3, K, a, lda, b, ldb, beta, c, ldc); break;           \
    case 2: nt_tile(MR, 2, K, a, lda, b, ldb, beta, c, ldc); break;           \
    default: nt_tile(MR, 1, K, a, lda, b, ldb, beta, c, ldc); break;          \
    }

AVX512 static void nt_block(size_t mr, size_t nc, size_t K, const float *a, size_t lda,
                            const float *b, size_t ldb, int beta, float *c, size_t ldc)
{
    switch (mr) {
    case 4: NT_COLS(4) break;
    case 3: NT_COLS(3) break;
    case 2: NT_COLS(2) break;
    default: NT_COLS(1) break;
    }
}

static int have_avx512(void)
{
    static int known = -1; /* a benign race: every thread computes the same */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known;
}

int ms_sgemm_small(int ta, int tb, size_t M, size_t N, size_t K, const float *a, size_t lda,
                   const float *b, size_t ldb, int beta, float *c)
{
    if (ta || M == 0 || N == 0 || K == 0 || !have_avx512())
        return 0;
    const size_t ldc = N;
    if (!tb) {
        if (N % 16)
            return 0;
        /* columns in strips of 4 vectors (then 2, then 1); in each strip the
         * rows in blocks of 6, so the strip of B is reused from cache */
        for (size_t j = 0; j < N;) {
            size_t nv = N - j >= 64 ? 4 : N - j >= 32 ? 2 : 1;
            for (size_t i = 0; i < M; i += 6) {
                size_t mr = M - i < 6 ? M - i : 6;
                nn_block(mr, nv, K, a + i * lda, lda, b + j, ldb, beta, c + i * ldc + j, ldc);
            }
            j += 16 * nv;
        }
        return 1;
    }
    if (K % 16 || (M > MS_SMALL_GEMM_NT_MAX_M && N >= 64))
        return 0;
    /* rows of A in blocks of 4 (kept in cache), B's rows streamed past them */
    for (size_t i = 0; i < M; i += 4) {
        size_t mr = M - i < 4 ? M - i : 4;
        for (size_t j = 0; j < N; j += 4) {
            size_t nc = N - j < 4 ? N - j : 4;
            nt_block(mr, nc, K, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc);
        }
    }
    return 1;
}

#else /* no AVX-512 path in this build: BLAS does every product */

int ms_sgemm_small(int ta, int tb, size_t M, size_t N, size_t K, const float *a, size_t lda,
                   const float *b, size_t ldb, int beta, float *c)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)a, (void)lda, (void)b, (void)ldb,
        (void)beta, (void)c;
    return 0;
}

#endif

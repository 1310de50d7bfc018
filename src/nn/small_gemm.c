/* SPDX-License-Identifier: MIT */
/* Products C = A·op(B) + beta·C without packing, in float and double,
 * for the matrices of a model: M = atoms, 3·atoms or pairs (a few dozen
 * rows for one molecule in MD, thousands in a training batch), K and N
 * the model's widths.
 *
 * Why not BLAS: for M ≈ 21 OpenBLAS repacks B (a weight matrix, up to
 * 128 × 384) on every call and its kernels are built for large M; on the
 * MD path these products ran at 55–65 GFLOP/s in float where a 512³
 * SGEMM runs at 110–200 (issue 9's profile: GEMM 60–70% of an aspirin
 * force call). Without packing, each B row is streamed once per block of
 * rows straight from the caller's row-major array. The kernels are in
 * small_gemm.inc, compiled for float (16 lanes, L) and double (8):
 *
 *   NN  C[i, j] = Σ_k A[i, k] B[k, j]   (B: K × N)
 *       register tile of MR ≤ 6 rows × 4 vectors (4L columns): per k,
 *       4 loads of B's row, MR broadcasts of A, 4·MR FMAs; the columns in
 *       strips of 4, 2 or 1 vectors, the rows in blocks of 6 inside each
 *       strip, so the strip of B is reused from cache.
 *   NT  C[i, j] = Σ_k A[i, k] B[j, k]   (B: N × K, the backward gy·Wᵀ)
 *       tile of 4 × 4 dot products along k, L lanes at a time, then one
 *       horizontal sum per entry; A's rows in blocks of 4, B streamed.
 *
 * Sums run in another order than BLAS's: results differ from cblas_*gemm
 * by rounding only (tests/test_nn_ops.c checks every tile shape and
 * remainder against a reference summed in long double).
 *
 * Only on CPUs with AVX-512F (checked once at run time; the environment
 * variable MLSHIFT_SMALL_GEMM=0 turns the kernels off) and only for the
 * shapes above (ms_gemm_small says whether it ran); everything else goes
 * to BLAS as before. Any thread may call it. */
#include "kernels.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 && \
    !defined(MS_NO_CLONES)
#define MS_SMALL_GEMM 1
#endif

#ifdef MS_SMALL_GEMM
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f")))
#define TILE static inline __attribute__((always_inline, target("avx512f")))

/* On when the CPU has AVX-512F (libgcc fills the CPU model before main
 * runs) and the environment does not say MLSHIFT_SMALL_GEMM=0, which
 * sends every product to BLAS: the path of CPUs without AVX-512, for
 * tests (tests/reference/test_blas_fallback.py) and comparisons. Decided
 * once, for every thread. */
static pthread_once_t decided = PTHREAD_ONCE_INIT;
static int enabled;

static void decide(void)
{
    const char *e = getenv("MLSHIFT_SMALL_GEMM");
    enabled = __builtin_cpu_supports("avx512f") && !(e && strcmp(e, "0") == 0);
}

static int kernels_on(void)
{
    pthread_once(&decided, decide);
    return enabled;
}

#define T float
#define V __m512
#define L 16
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VSUM _mm512_reduce_add_ps
#define FN(x) x##_f32
#include "small_gemm.inc"
#undef T
#undef V
#undef L
#undef VLOAD
#undef VSTORE
#undef VZERO
#undef VSET1
#undef VFMA
#undef VADD
#undef VSUM
#undef FN

#define T double
#define V __m512d
#define L 8
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VADD _mm512_add_pd
#define VSUM _mm512_reduce_add_pd
#define FN(x) x##_f64
#include "small_gemm.inc"

int ms_gemm_small(ms_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, const void *a,
                  size_t lda, const void *b, size_t ldb, int beta, void *c)
{
    return dt == MS_F32 ? gemm_f32(ta, tb, M, N, K, a, lda, b, ldb, beta, c)
                        : gemm_f64(ta, tb, M, N, K, a, lda, b, ldb, beta, c);
}

#else /* no AVX-512 path in this build: BLAS does every product */

int ms_gemm_small(ms_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, const void *a,
                  size_t lda, const void *b, size_t ldb, int beta, void *c)
{
    (void)dt, (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)a, (void)lda, (void)b, (void)ldb,
        (void)beta, (void)c;
    return 0;
}

#endif

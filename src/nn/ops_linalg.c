/* SPDX-License-Identifier: MIT */
/* Matrix product C = op(A)·op(B) through small_gemm.c's kernels where
 * they take the shape, else cblas_dgemm (cblas_sgemm in a float32 graph),
 * op = identity or transpose (flags ta, tb).
 *
 * Backward. For C = X·Y (X = op(A), Y = op(B)) and gC = dL/dC:
 *   dL/dX = gC·Yᵀ,  dL/dY = Xᵀ·gC.
 * Mapping back through the transposes, with every product again a matmul
 * (so the backward is itself differentiable):
 *   ta = 0: gA = gC·op(B)ᵀ      = matmul(gC, B, 0, !tb)
 *   ta = 1: gA = (gC·op(B)ᵀ)ᵀ   = op(B)·gCᵀ = matmul(B, gC, tb, 1)
 *   tb = 0: gB = op(A)ᵀ·gC      = matmul(A, gC, !ta, 0)
 *   tb = 1: gB = (op(A)ᵀ·gC)ᵀ   = gCᵀ·op(A) = matmul(gC, A, 1, ta)
 * Matmul is bilinear: the second derivative comes from these rules alone. */
#include "ops.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "kernels.h"

/* C = op(A)·op(B) + beta·C, row-major, in the tensors' type. */
static void gemm(ms_dtype dt, int ta, int tb, size_t M, size_t N, size_t K, const void *a,
                 size_t lda, const void *b, size_t ldb, double beta, void *c)
{
    enum CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
    if ((beta == 0.0 || beta == 1.0) &&
        ms_gemm_small(dt, ta, tb, M, N, K, a, lda, b, ldb, beta != 0.0, c))
        return; /* small_gemm.c: no packing */
    if (dt == MS_F32)
        cblas_sgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)K, 1.0f, a, (int)lda, b,
                    (int)ldb, (float)beta, c, (int)N);
    else
        cblas_dgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)K, 1.0, a, (int)lda, b,
                    (int)ldb, beta, c, (int)N);
}

static void matmul_backward(ms_graph *g, const ms_node *n, ms_t *gc, ms_t **gin,
                            const int *need)
{
    ms_t *a = n->in[0], *b = n->in[1];
    int ta = n->flags & 1, tb = (n->flags >> 1) & 1;
    if (need[0])
        gin[0] = ta ? ms_matmul(g, b, gc, tb, 1) : ms_matmul(g, gc, b, 0, !tb);
    if (need[1])
        gin[1] = tb ? ms_matmul(g, gc, a, 1, ta) : ms_matmul(g, a, gc, !ta, 0);
}

ms_t *ms_matmul(ms_graph *g, ms_t *a, ms_t *b, int ta, int tb)
{
    if (!a || !b)
        return NULL;
    if (a->ndim != 2 || b->ndim != 2)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "matmul: operands must be 2-d (got %d-d and %d-d)",
                             a->ndim, b->ndim);
    if (a->dtype != b->dtype)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "matmul: operands of different types");
    ta = ta != 0;
    tb = tb != 0;
    size_t M = a->shape[ta], K = a->shape[!ta];
    size_t K2 = b->shape[tb], N = b->shape[!tb];
    if (K != K2)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "matmul: inner dimensions differ (%zu vs %zu)", K, K2);
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return ms_graph_fail(g, MLSHIFT_ERR_UNSUPPORTED,
                             "matmul: a dimension exceeds the BLAS int range");
    ms_t *c = ms_empty(g, 2, MS_SHAPE(M, N)); // (M, N)
    if (!c)
        return NULL;
    if (M && N) {
        if (K == 0)
            memset(c->raw, 0, M * N * ms_dtype_size(c->dtype));
        else
            gemm(c->dtype, ta, tb, M, N, K, a->raw, a->shape[1], b->raw, b->shape[1], 0.0,
                 c->raw);
    }
    ms_node *nd = ms_record(g, c, "matmul", matmul_backward, 2, (ms_t *[]){a, b});
    if (nd)
        nd->flags = ta | (tb << 1);
    return g->err.status == MLSHIFT_OK ? c : NULL;
}

/* ---------------------------------------------------------------- matmul_bias */

/* y = x·W + b. Backward (the matmul rules, and the bias as a broadcast add):
 *   gx = gy·Wᵀ = matmul(gy, W, 0, 1),  gW = xᵀ·gy = matmul(x, gy, 1, 0),
 *   gb = Σ_rows gy = sum_to(gy, (N,)). */
static void matmul_bias_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    ms_t *x = n->in[0], *W = n->in[1];
    if (need[0])
        gin[0] = ms_matmul(g, gy, W, 0, 1);
    if (need[1])
        gin[1] = ms_matmul(g, x, gy, 1, 0);
    if (n->nin > 2 && need[2])
        gin[2] = ms_sum_to(g, gy, n->in[2]->ndim, n->in[2]->shape);
}

ms_t *ms_matmul_bias(ms_graph *g, ms_t *x, ms_t *W, ms_t *b)
{
    if (!x || !W)
        return NULL;
    if (x->ndim != 2 || W->ndim != 2)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "matmul_bias: x and W must be 2-d (got %d-d and %d-d)", x->ndim,
                             W->ndim);
    size_t M = x->shape[0], K = x->shape[1], N = W->shape[1];
    if (W->shape[0] != K)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "matmul_bias: inner dimensions differ (%zu vs %zu)", K, W->shape[0]);
    if (x->dtype != W->dtype || (b && b->dtype != x->dtype))
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "matmul_bias: operands of different types");
    if (b && !(b->ndim == 1 && b->shape[0] == N))
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "matmul_bias: bias must have shape (%zu,)", N);
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return ms_graph_fail(g, MLSHIFT_ERR_UNSUPPORTED,
                             "matmul_bias: a dimension exceeds the BLAS int range");
    ms_t *y = ms_empty(g, 2, MS_SHAPE(M, N)); // (M, N)
    if (!y)
        return NULL;
    const size_t row = N * ms_dtype_size(y->dtype); // bytes of one (N,) row
    for (size_t i = 0; i < M && N; i++) {
        if (b)
            memcpy((char *)y->raw + i * row, b->raw, row);
        else
            memset((char *)y->raw + i * row, 0, row);
    }
    if (M && N && K)
        gemm(y->dtype, 0, 0, M, N, K, x->raw, K, W->raw, N, 1.0, y->raw);
    ms_record(g, y, "matmul_bias", matmul_bias_backward, b ? 3 : 2, (ms_t *[]){x, W, b});
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

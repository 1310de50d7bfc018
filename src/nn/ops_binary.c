/* SPDX-License-Identifier: MIT */
/* Elementwise binary ops with numpy broadcasting over <= 3 dimensions.
 *
 * Shapes are right-aligned and padded with leading 1s to 3 dims; in each
 * dim the sizes are equal or one of them is 1 (broadcast: stride 0).
 *
 * Backward rules (y = a ∘ b, gy = dL/dy, sum_to = the adjoint of the
 * broadcast, summing gy over the dims a or b was broadcast along):
 *   add: da = sum_to(gy),        db = sum_to(gy)
 *   sub: da = sum_to(gy),        db = sum_to(−gy)
 *   mul: da = sum_to(gy·b),      db = sum_to(gy·a)
 *   div: da = sum_to(gy / b),    db = sum_to(−gy·a/b²) = sum_to(−gy·y/b)
 * Each rule is a composition of differentiable ops, so its own derivative
 * (the second derivative of y) comes from the same rules. */
#include "ops.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
static const char *op_name[] = {"add", "sub", "mul", "div"};

/* Padded shapes and element strides of a and b in the output's index space. */
typedef struct bcast {
    int ndim;
    size_t o[3];  /* output shape, padded */
    size_t sa[3]; /* stride of a per padded dim, 0 where broadcast */
    size_t sb[3];
} bcast;

static void pad3(const ms_t *t, size_t p[3])
{
    int off = 3 - t->ndim;
    for (int d = 0; d < 3; d++)
        p[d] = d < off ? 1 : t->shape[d - off];
}

static void strides3(const size_t p[3], const size_t o[3], size_t s[3])
{
    s[2] = 1;
    s[1] = p[2];
    s[0] = p[1] * p[2];
    for (int d = 0; d < 3; d++)
        if (p[d] == 1 && o[d] != 1)
            s[d] = 0;
}

static int bcast_setup(ms_graph *g, const char *name, const ms_t *a, const ms_t *b,
                       bcast *bc)
{
    size_t pa[3], pb[3];
    pad3(a, pa);
    pad3(b, pb);
    bc->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < 3; d++) {
        if (pa[d] == pb[d] || pb[d] == 1)
            bc->o[d] = pa[d];
        else if (pa[d] == 1)
            bc->o[d] = pb[d];
        else {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                          "%s: shapes (%zu, %zu, %zu) and (%zu, %zu, %zu) do not broadcast",
                          name, pa[0], pa[1], pa[2], pb[0], pb[1], pb[2]);
            return -1;
        }
    }
    strides3(pa, bc->o, bc->sa);
    strides3(pb, bc->o, bc->sb);
    return 0;
}

#define BCAST_LOOP(EXPR)                                                      \
    do {                                                                      \
        if (same) {                                                           \
            for (size_t i = 0; i < y->numel; i++) {                           \
                double u = A[i], v = B[i];                                    \
                Y[i] = (EXPR);                                                \
            }                                                                 \
        } else {                                                              \
            size_t k = 0;                                                     \
            for (size_t i0 = 0; i0 < bc.o[0]; i0++)                           \
                for (size_t i1 = 0; i1 < bc.o[1]; i1++) {                     \
                    const double *a_ = A + i0 * bc.sa[0] + i1 * bc.sa[1];     \
                    const double *b_ = B + i0 * bc.sb[0] + i1 * bc.sb[1];     \
                    for (size_t i2 = 0; i2 < bc.o[2]; i2++, k++) {            \
                        double u = a_[i2 * bc.sa[2]], v = b_[i2 * bc.sb[2]];  \
                        Y[k] = (EXPR);                                        \
                    }                                                         \
                }                                                             \
        }                                                                     \
    } while (0)

static void binary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need);

static ms_t *binary(ms_graph *g, ms_t *a, ms_t *b, int op)
{
    if (!a || !b)
        return NULL;
    bcast bc;
    if (bcast_setup(g, op_name[op], a, b, &bc))
        return NULL;
    size_t shape[3];
    for (int d = 0; d < bc.ndim; d++)
        shape[d] = bc.o[3 - bc.ndim + d];
    ms_t *y = ms_empty(g, bc.ndim, shape); // (broadcast shape)
    if (!y)
        return NULL;
    int same = ms_same_shape(a, b);
    const double *A = a->data, *B = b->data;
    double *Y = y->data;
    switch (op) {
    case OP_ADD: BCAST_LOOP(u + v); break;
    case OP_SUB: BCAST_LOOP(u - v); break;
    case OP_MUL: BCAST_LOOP(u * v); break;
    default:     BCAST_LOOP(u / v); break;
    }
    ms_node *nd = ms_record(g, y, op_name[op], binary_backward, 2, (ms_t *[]){a, b});
    if (nd)
        nd->flags = op;
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

static void binary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    ms_t *a = n->in[0], *b = n->in[1], *y = n->out;
    ms_t *ga = NULL, *gb = NULL;
    switch (n->flags) {
    case OP_ADD:
        ga = gy;
        gb = gy;
        break;
    case OP_SUB:
        ga = gy;
        gb = need[1] ? ms_neg(g, gy) : NULL;
        break;
    case OP_MUL:
        ga = need[0] ? ms_mul(g, gy, b) : NULL;
        gb = need[1] ? ms_mul(g, gy, a) : NULL;
        break;
    default:
        ga = need[0] ? ms_div(g, gy, b) : NULL;
        gb = need[1] ? ms_neg(g, ms_mul(g, gy, ms_div(g, y, b))) : NULL;
        break;
    }
    if (need[0])
        gin[0] = ms_sum_to(g, ga, a->ndim, a->shape);
    if (need[1])
        gin[1] = ms_sum_to(g, gb, b->ndim, b->shape);
}

ms_t *ms_add(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, OP_ADD); }
ms_t *ms_sub(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, OP_SUB); }
ms_t *ms_mul(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, OP_MUL); }
ms_t *ms_div(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, OP_DIV); }

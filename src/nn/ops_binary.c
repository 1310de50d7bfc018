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
 * (the second derivative of y) comes from the same rules.
 *
 * The rules are written with mul_sum_to(a, b, S) = sum_to(a ⊙ b, S), which
 * never materialises the broadcast product: over the index space
 * P = broadcast(a, b, S), y[s] = Σ_{p → s} a[p] b[p]. It is bilinear, and
 * for either factor the adjoint is the same op again:
 *   d/da = mul_sum_to(gy, b, a.shape),  d/db = mul_sum_to(gy, a, b.shape)
 * (the index space of each is again P). So
 *   mul: da = mul_sum_to(gy, b, a),  db = mul_sum_to(gy, a, b)
 *   div: da = mul_sum_to(gy, 1/b, a)
 *        db = −mul_sum_to(gy, y, b) / b   (b is constant along the dims
 *             summed for b's shape, so Σ gy·y/b = (Σ gy·y)/b)
 * and no rule allocates a tensor of the broadcast shape unless the
 * gradient itself has it. */
#include "ops.h"

#include <string.h>

#include "bcast.h"
#include "kernels.h"

static const char *op_name[] = {"add", "sub", "mul", "div"};

/* Index space and strides of y = a ∘ b (y contiguous, operand 0). */
typedef struct bcast {
    int ndim;      /* of the result */
    size_t p[3];   /* result shape, padded */
    size_t o[3];   /* collapsed index space */
    size_t s[3][3]; /* strides of y, a, b in o */
} bcast;

static int bcast_setup(ms_graph *g, const char *name, const ms_t *a, const ms_t *b,
                       bcast *bc)
{
    size_t pa[3], pb[3];
    ms_bc_pad3(a->ndim, a->shape, pa);
    ms_bc_pad3(b->ndim, b->shape, pb);
    bc->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < 3; d++) {
        if (pa[d] == pb[d] || pb[d] == 1)
            bc->p[d] = pa[d];
        else if (pa[d] == 1)
            bc->p[d] = pb[d];
        else {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                          "%s: shapes (%zu, %zu, %zu) and (%zu, %zu, %zu) do not broadcast",
                          name, pa[0], pa[1], pa[2], pb[0], pb[1], pb[2]);
            return -1;
        }
    }
    memcpy(bc->o, bc->p, sizeof bc->o);
    ms_bc_strides(bc->p, bc->o, bc->s[0]);
    ms_bc_strides(pa, bc->o, bc->s[1]);
    ms_bc_strides(pb, bc->o, bc->s[2]);
    ms_bc_collapse(bc->o, 3, bc->s);
    return 0;
}

static void binary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need);

static ms_t *binary(ms_graph *g, ms_t *a, ms_t *b, int op)
{
    if (!a || !b)
        return NULL;
    bcast bc;
    if (a->dtype != b->dtype)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "%s: operands of different types", op_name[op]);
    if (bcast_setup(g, op_name[op], a, b, &bc))
        return NULL;
    size_t shape[3];
    for (int d = 0; d < bc.ndim; d++)
        shape[d] = bc.p[3 - bc.ndim + d];
    ms_t *y = ms_empty(g, bc.ndim, shape); // (broadcast shape)
    if (!y)
        return NULL;
    MS_K(y->dtype, ms_k_binary)(op, bc.o, (const size_t(*)[3])bc.s, y->raw, a->raw, b->raw);
    ms_node *nd = ms_record(g, y, op_name[op], binary_backward, 2, (ms_t *[]){a, b});
    if (nd)
        nd->flags = op;
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

static void binary_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    ms_t *a = n->in[0], *b = n->in[1], *y = n->out;
    switch (n->flags) {
    case MS_OP_ADD:
    case MS_OP_SUB:
        if (need[0])
            gin[0] = ms_sum_to(g, gy, a->ndim, a->shape);
        if (need[1]) {
            ms_t *s = ms_sum_to(g, gy, b->ndim, b->shape);
            gin[1] = n->flags == MS_OP_ADD ? s : ms_neg(g, s);
        }
        break;
    case MS_OP_MUL:
        if (need[0])
            gin[0] = ms_mul_sum_to(g, gy, b, a->ndim, a->shape);
        if (need[1])
            gin[1] = ms_mul_sum_to(g, gy, a, b->ndim, b->shape);
        break;
    default:
        if (need[0])
            gin[0] = ms_mul_sum_to(g, gy, ms_pow(g, b, -1.0), a->ndim, a->shape);
        if (need[1])
            gin[1] = ms_neg(g, ms_div(g, ms_mul_sum_to(g, gy, y, b->ndim, b->shape), b));
        break;
    }
}

ms_t *ms_add(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, MS_OP_ADD); }
ms_t *ms_sub(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, MS_OP_SUB); }
ms_t *ms_mul(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, MS_OP_MUL); }
ms_t *ms_div(ms_graph *g, ms_t *a, ms_t *b) { return binary(g, a, b, MS_OP_DIV); }

/* ------------------------------------------------------------ mul_sum_to */


static void mul_sum_to_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                                const int *need)
{
    ms_t *a = n->in[0], *b = n->in[1];
    if (need[0])
        gin[0] = ms_mul_sum_to(g, gy, b, a->ndim, a->shape);
    if (need[1])
        gin[1] = ms_mul_sum_to(g, gy, a, b->ndim, b->shape);
}

ms_t *ms_mul_sum_to(ms_graph *g, ms_t *a, ms_t *b, int ndim, const size_t *shape)
{
    if (!a || !b)
        return NULL;
    if (ndim < 0 || ndim > MS_MAXDIM)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "mul_sum_to: %d dimensions", ndim);
    if (a->dtype != b->dtype)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "mul_sum_to: operands of different types");
    size_t pa[3], pb[3], py[3], p[3];
    ms_bc_pad3(a->ndim, a->shape, pa);
    ms_bc_pad3(b->ndim, b->shape, pb);
    ms_bc_pad3(ndim, shape, py);
    for (int d = 0; d < 3; d++) {
        p[d] = pa[d] != 1 ? pa[d] : pb[d] != 1 ? pb[d] : py[d];
        if ((pa[d] != 1 && pa[d] != p[d]) || (pb[d] != 1 && pb[d] != p[d]) ||
            (py[d] != 1 && py[d] != p[d]))
            return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                                 "mul_sum_to: shapes (%zu, %zu, %zu), (%zu, %zu, %zu) and "
                                 "(%zu, %zu, %zu) do not broadcast",
                                 pa[0], pa[1], pa[2], pb[0], pb[1], pb[2], py[0], py[1],
                                 py[2]);
    }
    int reduces = 0, nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < 3; d++) /* summed over, or a dim neither a nor b has */
        reduces |= py[d] != p[d] || (pa[d] != p[d] && pb[d] != p[d]);
    if (!reduces && ndim == nd)
        return ms_mul(g, a, b); /* nothing summed: the product itself */
    ms_t *y = ms_zeros(g, ndim, shape); // (shape)
    if (!y)
        return NULL;
    size_t o[3], s[3][3];
    memcpy(o, p, sizeof o);
    ms_bc_strides(py, p, s[0]);
    ms_bc_strides(pa, p, s[1]);
    ms_bc_strides(pb, p, s[2]);
    ms_bc_collapse(o, 3, s);
    MS_K(y->dtype, ms_k_mac3)(o, (const size_t(*)[3])s, y->raw, a->raw, b->raw);
    ms_record(g, y, "mul_sum_to", mul_sum_to_backward, 2, (ms_t *[]){a, b});
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

/* SPDX-License-Identifier: MIT */
/* Broadcasting (expand) and its adjoint, summation (sum_to), the pair every
 * reduction is built from.
 *
 * expand: y[i] = a[π(i)], where π maps an output index to a's index by
 * setting broadcast dims to 0. Its Jacobian is a 0/1 matrix P; the backward
 * is Pᵀ gy: for every a entry, the sum of gy over the entries that copied it
 * — that is sum_to(gy, a.shape). Conversely sum_to is y = Pᵀ a, whose
 * backward is P gy = expand(gy, a.shape). Both are linear, so the second
 * derivative is zero and the backward of a backward is the op again. */
#include "ops.h"

#include <string.h>

#include "bcast.h"
#include "kernels.h"

static void pad3(int ndim, const size_t *shape, size_t p[3])
{
    int off = 3 - ndim;
    for (int d = 0; d < 3; d++)
        p[d] = d < off ? 1 : shape[d - off];
}

/* Element strides of a padded shape p, 0 along dims where p is 1. */
static void strides0(const size_t p[3], size_t s[3])
{
    s[2] = 1;
    s[1] = p[2];
    s[0] = p[1] * p[2];
    for (int d = 0; d < 3; d++)
        if (p[d] == 1)
            s[d] = 0;
}

/* 1 if small (padded) is big with some dims reduced to 1 and small->ndim
 * <= big ndim. */
static int reducible(int sndim, const size_t *sshape, int bndim, const size_t *bshape)
{
    if (sndim > bndim)
        return 0;
    size_t ps[3], pb[3];
    pad3(sndim, sshape, ps);
    pad3(bndim, bshape, pb);
    for (int d = 0; d < 3; d++)
        if (ps[d] != pb[d] && ps[d] != 1)
            return 0;
    return 1;
}

static int shape_eq(int n1, const size_t *s1, int n2, const size_t *s2)
{
    if (n1 != n2)
        return 0;
    for (int d = 0; d < n1; d++)
        if (s1[d] != s2[d])
            return 0;
    return 1;
}

static void expand_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    (void)need;
    gin[0] = ms_sum_to(g, gy, n->in[0]->ndim, n->in[0]->shape);
}

static void sum_to_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    (void)need;
    gin[0] = ms_expand(g, gy, n->in[0]->ndim, n->in[0]->shape);
}

ms_t *ms_expand(ms_graph *g, ms_t *a, int ndim, const size_t *shape)
{
    if (!a)
        return NULL;
    if (ndim < 0 || ndim > MS_MAXDIM || !reducible(a->ndim, a->shape, ndim, shape))
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "expand: shape does not broadcast");
    if (shape_eq(a->ndim, a->shape, ndim, shape))
        return a;
    ms_t *y = ms_empty(g, ndim, shape); // (shape)
    if (!y)
        return NULL;
    size_t pa[3], po[3], sa[3];
    pad3(a->ndim, a->shape, pa);
    pad3(ndim, shape, po);
    strides0(pa, sa);
    MS_K(y->dtype, ms_k_expand)(po, sa, y->raw, a->raw);
    ms_record(g, y, "expand", expand_backward, 1, &a);
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

ms_t *ms_sum_to(ms_graph *g, ms_t *a, int ndim, const size_t *shape)
{
    if (!a)
        return NULL;
    if (ndim < 0 || ndim > MS_MAXDIM || !reducible(ndim, shape, a->ndim, a->shape))
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "sum_to: shape is not a reduction");
    if (shape_eq(a->ndim, a->shape, ndim, shape))
        return a;
    ms_t *y = ms_zeros(g, ndim, shape); // (shape)
    if (!y)
        return NULL;
    size_t pa[3], po[3], s[2][3], o[3];
    pad3(a->ndim, a->shape, pa);
    pad3(ndim, shape, po);
    memcpy(o, pa, sizeof o);
    ms_bc_strides(po, pa, s[0]);
    ms_bc_strides(pa, pa, s[1]);
    ms_bc_collapse(o, 2, s);
    MS_K(y->dtype, ms_k_sum3)(o, (const size_t(*)[3])s, y->raw, a->raw);
    ms_record(g, y, "sum_to", sum_to_backward, 1, &a);
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

ms_t *ms_sum_axis(ms_graph *g, ms_t *a, int axis)
{
    if (!a)
        return NULL;
    if (axis < 0 || axis >= a->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "sum_axis: axis %d of a %d-d tensor",
                             axis, a->ndim);
    size_t shape[MS_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = 1;
    return ms_sum_to(g, a, a->ndim, shape);
}

ms_t *ms_sum(ms_graph *g, ms_t *a)
{
    if (!a)
        return NULL;
    if (a->ndim == 0)
        return a;
    /* a scalar target (ndim 0) pads to (1, 1, 1): everything is summed */
    return ms_sum_to(g, a, 0, NULL);
}

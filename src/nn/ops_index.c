/* SPDX-License-Identifier: MIT */
/* Indexing and shape ops, all linear in their tensor input, in adjoint
 * pairs (the backward of one is the other, so second derivatives follow):
 *   gather       y[e] = a[idx[e]]            (E, …) from (M, …)
 *   scatter_add  y[m] = Σ_{e: idx[e]=m} a[e] (M, …) from (E, …)
 *     gather's Jacobian is the 0/1 selection matrix S (E×M); scatter_add is
 *     Sᵀ. Backward of gather: Sᵀ gy = scatter_add(gy); of scatter_add:
 *     S gy = gather(gy). segment_sum is scatter_add with a segment index.
 *   slice        y = a[start:start+len] along axis
 *   pad          y = zeros with y[start:start+len] = a along axis
 *     slice = restriction R, pad = Rᵀ.
 *   concat       y = [a_0, a_1, …] along axis; da_i = slice(gy, offset_i, n_i)
 *   reshape      a view; dy reshaped back. */
#include "ops.h"

#include "kernels.h"

#include <string.h>

#include "bcast.h" /* last: its vectoriser pragma covers this file only */

/* ------------------------------------------------------------ gather/scatter */

static ms_t *gather_impl(ms_graph *g, ms_t *a, const int32_t *idx, size_t E, int copy);
static ms_t *scatter_impl(ms_graph *g, ms_t *a, const int32_t *idx, size_t M, int copy);

static void gather_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    (void)need;
    gin[0] = scatter_impl(g, gy, n->idx, n->in[0]->shape[0], 0);
}

static void scatter_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                             const int *need)
{
    (void)need;
    gin[0] = gather_impl(g, gy, n->idx, n->nidx, 0);
}

/* idx (E) checked against [0, M) and, when copy, copied into the arena. */
static const int32_t *index_prepare(ms_graph *g, const char *name, const int32_t *idx,
                                    size_t E, size_t M, int copy)
{
    for (size_t e = 0; e < E; e++)
        if (idx[e] < 0 || (size_t)idx[e] >= M) {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE, "%s: index %zu is %d, outside [0, %zu)",
                          name, e, (int)idx[e], M);
            return NULL;
        }
    if (!copy)
        return idx;
    int32_t *c = ms_arena_alloc(&g->arena, E * sizeof *c + 1);
    if (!c) {
        ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    if (E)
        memcpy(c, idx, E * sizeof *c);
    return c;
}

static ms_t *gather_impl(ms_graph *g, ms_t *a, const int32_t *idx, size_t E, int copy)
{
    if (!a)
        return NULL;
    if (a->ndim < 1)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "gather: a scalar has no rows");
    if (E && !idx)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "gather: no index array");
    size_t M = a->shape[0], R = M ? a->numel / M : 0;
    const int32_t *ix = index_prepare(g, "gather", idx, E, M, copy);
    if (!ix)
        return NULL;
    size_t shape[MS_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = E;
    ms_t *y = ms_empty(g, a->ndim, shape); // (E, …)
    if (!y)
        return NULL;
    const size_t es = ms_dtype_size(a->dtype);
    for (size_t e = 0; e < E; e++)
        memcpy((char *)y->raw + e * R * es, (const char *)a->raw + (size_t)ix[e] * R * es,
               R * es);
    ms_node *nd = ms_record(g, y, "gather", gather_backward, 1, &a);
    if (nd) {
        nd->idx = ix;
        nd->nidx = E;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

static ms_t *scatter_impl(ms_graph *g, ms_t *a, const int32_t *idx, size_t M, int copy)
{
    if (!a)
        return NULL;
    if (a->ndim < 1)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "scatter_add: a scalar has no rows");
    size_t E = a->shape[0], R = E ? a->numel / E : 0;
    if (E && !idx)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "scatter_add: no index array");
    const int32_t *ix = index_prepare(g, "scatter_add", idx, E, M, copy);
    if (!ix)
        return NULL;
    size_t shape[MS_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = M;
    ms_t *y = ms_zeros(g, a->ndim, shape); // (M, …)
    if (!y)
        return NULL;
    MS_K(y->dtype, ms_k_scatter_add)(E, R, ix, y->raw, a->raw);
    ms_node *nd = ms_record(g, y, "scatter_add", scatter_backward, 1, &a);
    if (nd) {
        nd->idx = ix;
        nd->nidx = E;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

ms_t *ms_gather(ms_graph *g, ms_t *a, const int32_t *idx, size_t E)
{
    return gather_impl(g, a, idx, E, 1);
}

ms_t *ms_scatter_add(ms_graph *g, ms_t *a, const int32_t *idx, size_t M)
{
    return scatter_impl(g, a, idx, M, 1);
}

ms_t *ms_segment_sum(ms_graph *g, ms_t *a, const int32_t *seg, size_t B)
{
    return scatter_impl(g, a, seg, B, 1);
}

/* ------------------------------------------------------- slice, pad, concat */

/* a's shape as (outer, shape[axis], inner). */
static void split3(const ms_t *a, int axis, size_t *outer, size_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= a->shape[d];
    for (int d = axis + 1; d < a->ndim; d++)
        *inner *= a->shape[d];
}

/* Copies len slabs of inner elements of t's type for each of outer rows:
 * dst[o, dst_off + i] = src[o, src_off + i], i < len. */
static void copy_slabs(const ms_t *t, void *dst, size_t dst_dim, size_t dst_off,
                       const void *src, size_t src_dim, size_t src_off, size_t outer,
                       size_t len, size_t inner)
{
    if (len == 0 || inner == 0)
        return;
    const size_t es = ms_dtype_size(t->dtype);
    for (size_t o = 0; o < outer; o++)
        memcpy((char *)dst + (o * dst_dim + dst_off) * inner * es,
               (const char *)src + (o * src_dim + src_off) * inner * es, len * inner * es);
}

static void slice_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                           const int *need)
{
    (void)need;
    gin[0] = ms_pad(g, gy, n->axis, n->start, n->in[0]->shape[n->axis]);
}

static void pad_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                         const int *need)
{
    (void)need;
    gin[0] = ms_slice(g, gy, n->axis, n->start, n->in[0]->shape[n->axis]);
}

ms_t *ms_slice(ms_graph *g, ms_t *a, int axis, size_t start, size_t len)
{
    if (!a)
        return NULL;
    if (axis < 0 || axis >= a->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "slice: axis %d of a %d-d tensor",
                             axis, a->ndim);
    size_t D = a->shape[axis];
    if (start > D || len > D - start)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "slice: [%zu, %zu + %zu) outside an axis of %zu", start,
                             start, len, D);
    size_t shape[MS_MAXDIM], outer, inner;
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = len;
    ms_t *y = ms_empty(g, a->ndim, shape); // (…, len, …)
    if (!y)
        return NULL;
    split3(a, axis, &outer, &inner);
    copy_slabs(y, y->raw, len, 0, a->raw, D, start, outer, len, inner);
    ms_node *nd = ms_record(g, y, "slice", slice_backward, 1, &a);
    if (nd) {
        nd->axis = axis;
        nd->start = start;
        nd->len = len;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

ms_t *ms_pad(ms_graph *g, ms_t *a, int axis, size_t start, size_t total)
{
    if (!a)
        return NULL;
    if (axis < 0 || axis >= a->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "pad: axis %d of a %d-d tensor", axis,
                             a->ndim);
    size_t len = a->shape[axis];
    if (start > total || len > total - start)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "pad: [%zu, %zu + %zu) outside an axis of %zu", start, start,
                             len, total);
    size_t shape[MS_MAXDIM], outer, inner;
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = total;
    ms_t *y = ms_zeros(g, a->ndim, shape); // (…, total, …)
    if (!y)
        return NULL;
    split3(a, axis, &outer, &inner);
    copy_slabs(y, y->raw, total, start, a->raw, len, 0, outer, len, inner);
    ms_node *nd = ms_record(g, y, "pad", pad_backward, 1, &a);
    if (nd) {
        nd->axis = axis;
        nd->start = start;
        nd->len = len;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

static void concat_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                            const int *need)
{
    size_t off = 0;
    for (int i = 0; i < n->nin; i++) {
        size_t len = n->in[i]->shape[n->axis];
        if (need[i])
            gin[i] = ms_slice(g, gy, n->axis, off, len);
        off += len;
    }
}

ms_t *ms_concat(ms_graph *g, int n, ms_t *const *ts, int axis)
{
    if (n < 1 || !ts)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "concat: no tensors");
    for (int i = 0; i < n; i++)
        if (!ts[i])
            return NULL;
    const ms_t *a = ts[0];
    if (axis < 0 || axis >= a->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "concat: axis %d of a %d-d tensor",
                             axis, a->ndim);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int ok = ts[i]->ndim == a->ndim && ts[i]->dtype == a->dtype;
        for (int d = 0; ok && d < a->ndim; d++)
            ok = d == axis || ts[i]->shape[d] == a->shape[d];
        if (!ok)
            return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                                 "concat: tensor %d differs in type or in shape off axis %d", i,
                                 axis);
        total += ts[i]->shape[axis];
    }
    size_t shape[MS_MAXDIM], outer, inner;
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = total;
    ms_t *y = ms_empty(g, a->ndim, shape); // (…, Σ n_i, …)
    if (!y)
        return NULL;
    split3(a, axis, &outer, &inner);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t len = ts[i]->shape[axis];
        copy_slabs(y, y->raw, total, off, ts[i]->raw, len, 0, outer, len, inner);
        off += len;
    }
    ms_node *nd = ms_record(g, y, "concat", concat_backward, n, ts);
    if (nd)
        nd->axis = axis;
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

/* ------------------------------------------------------------------ reshape */

static void reshape_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                             const int *need)
{
    (void)need;
    gin[0] = ms_reshape(g, gy, n->in[0]->ndim, n->in[0]->shape);
}

ms_t *ms_reshape(ms_graph *g, ms_t *a, int ndim, const size_t *shape)
{
    if (!a)
        return NULL;
    size_t numel = 1;
    for (int d = 0; d < ndim && d < MS_MAXDIM; d++)
        numel *= shape[d];
    if (ndim < 0 || ndim > MS_MAXDIM || numel != a->numel)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "reshape: %zu entries cannot take a %d-d shape of %zu", a->numel,
                             ndim, numel);
    ms_t *y = ms_view(g, a, ndim, shape); // (shape), a view of a
    if (!y)
        return NULL;
    ms_record(g, y, "reshape", reshape_backward, 1, &a);
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

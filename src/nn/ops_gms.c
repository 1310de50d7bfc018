/* SPDX-License-Identifier: MIT */
/* Gather-multiply-scatter: the message step of a message-passing network in
 * one pass, without materialising the per-edge product.
 *
 *   y = scatter_add(gather(a, ia) ⊙ b, ib, M)
 *
 * a (Na, …) rows picked by ia (E) (ia NULL: a has E rows, taken in order),
 * b (E, …), the product broadcast over the non-row dims (a and b have the
 * same ndim; each non-row dim equal or 1), rows added into row ib[e] of a
 * zero (M, …) result (ib NULL: no scatter, y has E rows, M is ignored).
 * E.g. PaiNN: Δs = gms(φ_s (N,F), dst, W_s (E,F), src, N),
 * Δv = gms(v (N,3,F), dst, x_vv (E,1,F), src, N),
 * Δv += gms(dir (E,3,1), NULL, x_vs (E,1,F), src, N).
 *
 * Its adjoint, gather-multiply-sum (gmsum), is the other op of this file:
 *
 *   z[e] = sum_to(x[ix e] ⊙ y[iy e], S)      (E rows of shape S)
 *
 * over the row index space P = broadcast(x row, y row, S) (S's dims each 1
 * or P's: summed where 1), ix / iy NULL meaning row e itself.
 *
 * Backward of gms (bilinear in a and b; P = broadcast(a row, b row)):
 *   gb[e] = sum_to(gy[ib e] ⊙ a[ia e], b row) = gmsum(gy, ib, a, ia, b row)
 *   ga    = Σ_e→ia sum_to(gy[ib e] ⊙ b[e], a row)
 *         = gms(gy, ib, b, ia, Na)                   when a's rows are P
 *         = scatter_add(gmsum(gy, ib, b, NULL, a row), ia, Na) otherwise
 *           (without the scatter when ia is NULL).
 * Backward of gmsum (bilinear in x and y; gz (E, S)):
 *   gx    = Σ_e→ix sum_to(gz[e] ⊙ y[iy e], x row)
 *         = gms(y, iy, gz, ix, Nx)           when broadcast(y row, S) = x row
 *         = scatter_add(gmsum(gz, NULL, y, iy, x row), ix, Nx) otherwise;
 *   gy    the same with x and y swapped.
 * No rule gathers an (E, …) copy of anything: every rule is gms, gmsum or
 * scatter_add, all differentiable, so second derivatives come from them. */
#include "ops.h"

#include <string.h>

#include "kernels.h"

static ms_t *gms_impl(ms_graph *g, ms_t *a, const int32_t *ia, ms_t *b,
                      const int32_t *ib, size_t M, int copy);

static ms_t *gmsum_impl(ms_graph *g, ms_t *x, const int32_t *ix, ms_t *y,
                        const int32_t *iy, size_t E, int ndim, const size_t *shape, int copy);

/* 1 if rows of t (dims 1…) have the row shape of `shape` (ndim dims). */
static int same_rows(const ms_t *t, int ndim, const size_t *shape)
{
    if (t->ndim != ndim)
        return 0;
    for (int d = 1; d < ndim; d++)
        if (t->shape[d] != shape[d])
            return 0;
    return 1;
}

static void gms_backward(ms_graph *g, const ms_node *n, ms_t *gy, ms_t **gin,
                         const int *need)
{
    ms_t *a = n->in[0], *b = n->in[1];
    const int32_t *ia = n->idx, *ib = n->idx2;
    size_t E = b->shape[0];
    if (need[0]) {
        if (same_rows(a, gy->ndim, gy->shape))
            gin[0] = gms_impl(g, gy, ib, b, ia, a->shape[0], 0);
        else {
            ms_t *t = gmsum_impl(g, gy, ib, b, NULL, E, a->ndim, a->shape, 0);
            gin[0] = ia ? ms_scatter_add(g, t, ia, a->shape[0]) : t;
        }
    }
    if (need[1])
        gin[1] = gmsum_impl(g, gy, ib, a, ia, E, b->ndim, b->shape, 0);
}

/* gx for z = gmsum(x, ix, y, iy): sum_to(gz ⊙ y[iy], x row) scattered by ix. */
static ms_t *gmsum_grad(ms_graph *g, ms_t *gz, ms_t *x, const int32_t *ix, ms_t *y,
                        const int32_t *iy)
{
    size_t E = gz->shape[0];
    int direct = 1; /* broadcast(y row, S) = x row */
    for (int d = 1; d < x->ndim; d++) {
        size_t bd = y->shape[d] > gz->shape[d] ? y->shape[d] : gz->shape[d];
        direct &= bd == x->shape[d];
    }
    if (direct)
        return gms_impl(g, y, iy, gz, ix, x->shape[0], 0);
    ms_t *t = gmsum_impl(g, gz, NULL, y, iy, E, x->ndim, x->shape, 0);
    return ix ? ms_scatter_add(g, t, ix, x->shape[0]) : t;
}

static void gmsum_backward(ms_graph *g, const ms_node *n, ms_t *gz, ms_t **gin,
                           const int *need)
{
    ms_t *x = n->in[0], *y = n->in[1];
    if (need[0])
        gin[0] = gmsum_grad(g, gz, x, n->idx, y, n->idx2);
    if (need[1])
        gin[1] = gmsum_grad(g, gz, y, n->idx2, x, n->idx);
}

static const int32_t *check_index(ms_graph *g, const int32_t *idx, size_t E, size_t M,
                                  int copy, const char *what)
{
    for (size_t e = 0; e < E; e++)
        if (idx[e] < 0 || (size_t)idx[e] >= M) {
            ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                          "gather_mul_scatter: %s index %zu is %d, outside [0, %zu)", what, e,
                          (int)idx[e], M);
            return NULL;
        }
    if (!copy)
        return idx;
    int32_t *c = ms_arena_alloc(&g->arena, E * sizeof *c + 1);
    if (!c) {
        ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "gather_mul_scatter: out of memory");
        return NULL;
    }
    if (E)
        memcpy(c, idx, E * sizeof *c);
    return c;
}

/* 1 when out (row shape po, rows jo) gets each element exactly once: no
 * scatter and no summed dim, so it need not be zeroed first. */
static int writes_once(const size_t p[3], const size_t po[3], const int32_t *jo)
{
    return !jo && po[0] == p[0] && po[1] == p[1] && po[2] == p[2];
}

/* Row shape of t (dims 1…) padded to 3 dims. */
static void row_pad(int ndim, const size_t *shape, size_t r[3])
{
    r[0] = r[1] = r[2] = 1;
    for (int d = 1; d < ndim; d++)
        r[3 - ndim + d] = shape[d];
}

static ms_t *gms_impl(ms_graph *g, ms_t *a, const int32_t *ia, ms_t *b,
                      const int32_t *ib, size_t M, int copy)
{
    if (!a || !b)
        return NULL;
    if (a->dtype != b->dtype)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "gather_mul_scatter: operands of different types");
    if (a->ndim < 1 || a->ndim != b->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "gather_mul_scatter: a and b must have rows and the same ndim "
                             "(got %d-d and %d-d)", a->ndim, b->ndim);
    size_t E = b->shape[0], Na = a->shape[0];
    if (!ia && Na != E)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "gather_mul_scatter: without an index a needs %zu rows, not %zu",
                             E, Na);
    /* row shapes padded to 3 dims (leading 1), broadcast */
    size_t pa[3] = {1, 1, 1}, pb[3] = {1, 1, 1}, p[3] = {1, 1, 1};
    for (int d = 1; d < a->ndim; d++) {
        size_t da = a->shape[d], db = b->shape[d];
        if (da != db && da != 1 && db != 1)
            return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                                 "gather_mul_scatter: dim %d is %zu in a and %zu in b", d, da,
                                 db);
        pa[3 - a->ndim + d] = da;
        pb[3 - a->ndim + d] = db;
        p[3 - a->ndim + d] = da > db ? da : db;
    }
    const int32_t *ja = ia ? check_index(g, ia, E, Na, copy, "a") : NULL;
    const int32_t *jb = ib ? check_index(g, ib, E, M, copy, "b") : NULL;
    if ((ia && !ja) || (ib && !jb))
        return NULL;
    size_t shape[MS_MAXDIM];
    memcpy(shape, b->shape, sizeof shape);
    for (int d = 1; d < a->ndim; d++)
        shape[d] = p[3 - a->ndim + d];
    shape[0] = ib ? M : E;
    ms_t *y = writes_once(p, p, jb) ? ms_empty(g, a->ndim, shape)
                                    : ms_zeros(g, a->ndim, shape); // (M or E, P)
    if (!y)
        return NULL;
    MS_K(y->dtype, ms_k_rows_mac)(E, p, y->raw, p, jb, a->raw, pa, ja, b->raw, pb, NULL);
    ms_node *nd = ms_record(g, y, "gather_mul_scatter", gms_backward, 2, (ms_t *[]){a, b});
    if (nd) {
        nd->idx = ja;
        nd->idx2 = jb;
        nd->nidx = E;
    }
    return g->err.status == MLSHIFT_OK ? y : NULL;
}

ms_t *ms_gather_mul_scatter(ms_graph *g, ms_t *a, const int32_t *ia, ms_t *b,
                            const int32_t *ib, size_t M)
{
    return gms_impl(g, a, ia, b, ib, M, 1);
}

static ms_t *gmsum_impl(ms_graph *g, ms_t *x, const int32_t *ix, ms_t *y,
                        const int32_t *iy, size_t E, int ndim, const size_t *shape, int copy)
{
    if (!x || !y)
        return NULL;
    if (x->dtype != y->dtype)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "gather_mul_sum: operands of different types");
    if (x->ndim < 1 || x->ndim != y->ndim || ndim != x->ndim)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "gather_mul_sum: x, y and the result must have rows and the same "
                             "ndim (got %d-d, %d-d and %d-d)", x->ndim, y->ndim, ndim);
    if ((!ix && x->shape[0] != E) || (!iy && y->shape[0] != E))
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                             "gather_mul_sum: without an index x and y need %zu rows", E);
    size_t px[3], py[3], ps[3], p[3];
    row_pad(ndim, x->shape, px);
    row_pad(ndim, y->shape, py);
    row_pad(ndim, shape, ps);
    for (int d = 0; d < 3; d++) {
        size_t m = px[d] > py[d] ? px[d] : py[d];
        m = m > ps[d] ? m : ps[d];
        if ((px[d] != m && px[d] != 1) || (py[d] != m && py[d] != 1) ||
            (ps[d] != m && ps[d] != 1))
            return ms_graph_fail(g, MLSHIFT_ERR_VALUE,
                                 "gather_mul_sum: row shapes do not broadcast (dim %d: %zu, "
                                 "%zu, %zu)", d, px[d], py[d], ps[d]);
        p[d] = m;
    }
    const int32_t *jx = ix ? check_index(g, ix, E, x->shape[0], copy, "x") : NULL;
    const int32_t *jy = iy ? check_index(g, iy, E, y->shape[0], copy, "y") : NULL;
    if ((ix && !jx) || (iy && !jy))
        return NULL;
    size_t oshape[MS_MAXDIM];
    memcpy(oshape, shape, (size_t)ndim * sizeof *oshape);
    oshape[0] = E;
    ms_t *z = writes_once(p, ps, NULL) ? ms_empty(g, ndim, oshape)
                                       : ms_zeros(g, ndim, oshape); // (E, S)
    if (!z)
        return NULL;
    MS_K(z->dtype, ms_k_rows_mac)(E, p, z->raw, ps, NULL, x->raw, px, jx, y->raw, py, jy);
    ms_node *nd = ms_record(g, z, "gather_mul_sum", gmsum_backward, 2, (ms_t *[]){x, y});
    if (nd) {
        nd->idx = jx;
        nd->idx2 = jy;
        nd->nidx = E;
    }
    return g->err.status == MLSHIFT_OK ? z : NULL;
}

ms_t *ms_gather_mul_sum(ms_graph *g, ms_t *x, const int32_t *ix, ms_t *y, const int32_t *iy,
                        size_t E, int ndim, const size_t *shape)
{
    return gmsum_impl(g, x, ix, y, iy, E, ndim, shape, 1);
}

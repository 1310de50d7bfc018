/* SPDX-License-Identifier: MIT */
/* Graph lifetime, tensor creation and op recording (see tensor.h). */
#include "tensor.h"

#include "kernels.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

void ms_graph_init(ms_graph *g, size_t arena_bytes)
{
    memset(g, 0, sizeof *g);
    g->arena.min_block = arena_bytes;
}

void ms_graph_set_dtype(ms_graph *g, ms_dtype dt)
{
    g->dtype = dt == MS_F32 ? MS_F32 : MS_F64;
}

void ms_graph_set_shadow(ms_graph *g, const double *of, const float *f32, size_t n)
{
    g->shadow_of = of && f32 ? of : NULL;
    g->shadow = g->shadow_of ? f32 : NULL;
    g->shadow_n = g->shadow_of ? n : 0;
}

void ms_graph_reset(ms_graph *g)
{
    ms_arena_reset(&g->arena);
    g->first = g->last = NULL;
    g->n_nodes = 0;
    g->n_tensors = 0;
    g->no_grad = 0;
    g->err.status = MLSHIFT_OK;
    g->err.message[0] = '\0';
}

void ms_graph_free(ms_graph *g)
{
    ms_arena_free(&g->arena);
    g->first = g->last = NULL;
    g->n_nodes = g->n_tensors = 0;
}

void *ms_graph_fail(ms_graph *g, mlshift_status s, const char *fmt, ...)
{
    if (g->err.status != MLSHIFT_OK)
        return NULL;
    g->err.status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err.message, sizeof g->err.message, fmt, ap);
    va_end(ap);
    return NULL;
}

int ms_same_shape(const ms_t *a, const ms_t *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

/* The struct only, with shape and numel set; data NULL. */
static ms_t *tensor_head(ms_graph *g, int ndim, const size_t *shape)
{
    if (g->err.status != MLSHIFT_OK)
        return NULL;
    if (ndim < 0 || ndim > MS_MAXDIM)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "tensor: %d dimensions (at most %d)",
                             ndim, MS_MAXDIM);
    ms_t *t = ms_arena_alloc(&g->arena, sizeof *t);
    if (!t)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "tensor: out of memory");
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < MS_MAXDIM; d++) {
        t->shape[d] = d < ndim ? shape[d] : 1;
        if (d < ndim) {
            if (t->shape[d] && t->numel > SIZE_MAX / sizeof(double) / t->shape[d])
                return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "tensor: size overflows");
            t->numel *= t->shape[d];
        }
    }
    t->data = NULL;
    t->dtype = g->dtype;
    t->requires_grad = 0;
    t->node = NULL;
    t->id = g->n_tensors++;
    return t;
}

ms_t *ms_empty(ms_graph *g, int ndim, const size_t *shape)
{
    ms_t *t = tensor_head(g, ndim, shape);
    if (!t)
        return NULL;
    t->raw = ms_arena_alloc(&g->arena, t->numel * ms_dtype_size(t->dtype));
    if (!t->raw)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "tensor: out of memory (%zu elements)",
                             t->numel);
    return t;
}

ms_t *ms_empty_like(ms_graph *g, const ms_t *a)
{
    return a ? ms_empty(g, a->ndim, a->shape) : NULL;
}

ms_t *ms_zeros(ms_graph *g, int ndim, const size_t *shape)
{
    ms_t *t = ms_empty(g, ndim, shape);
    if (t)
        memset(t->raw, 0, t->numel * ms_dtype_size(t->dtype));
    return t;
}

ms_t *ms_full(ms_graph *g, int ndim, const size_t *shape, double v)
{
    ms_t *t = ms_empty(g, ndim, shape);
    if (t)
        MS_K(t->dtype, ms_k_fill)(t->numel, t->raw, v);
    return t;
}

ms_t *ms_const(ms_graph *g, int ndim, const size_t *shape, const double *data)
{
    ms_t *t = ms_empty(g, ndim, shape);
    if (t && t->numel)
        MS_K(t->dtype, ms_k_from_f64)(t->numel, t->raw, data);
    return t;
}

/* Whether data[0..numel) lies in the graph's float32 shadow. */
static int in_shadow(const ms_graph *g, const double *data, size_t numel)
{
    uintptr_t a = (uintptr_t)data, lo = (uintptr_t)g->shadow_of;
    return g->shadow && a >= lo && (a - lo) / sizeof *data + numel <= g->shadow_n &&
           (a - lo) % sizeof *data == 0;
}

ms_t *ms_wrap(ms_graph *g, int ndim, const size_t *shape, double *data,
              int requires_grad)
{
    size_t numel = 1;
    for (int d = 0; d < ndim && d < MS_MAXDIM; d++)
        numel *= shape[d];
    int direct = g->dtype == MS_F64, shadowed = !direct && in_shadow(g, data, numel);
    ms_t *t = direct || shadowed ? tensor_head(g, ndim, shape) : ms_const(g, ndim, shape, data);
    if (!t)
        return NULL;
    if (direct)
        t->data = data;
    else if (shadowed)
        t->f32 = (float *)g->shadow + (data - g->shadow_of); /* read only */
    t->requires_grad = requires_grad != 0;
    return t;
}

ms_t *ms_view(ms_graph *g, ms_t *a, int ndim, const size_t *shape)
{
    if (!a)
        return NULL;
    ms_t *t = tensor_head(g, ndim, shape);
    if (!t)
        return NULL;
    if (t->numel != a->numel)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "view: %zu elements as %zu", a->numel,
                             t->numel);
    t->raw = a->raw;
    t->dtype = a->dtype;
    return t;
}

void ms_copy_out(const ms_t *t, double *out)
{
    if (!t->numel)
        return;
    if (t->dtype == MS_F64)
        memcpy(out, t->data, t->numel * sizeof *out);
    else
        ms_k_to_f64_f32(t->numel, out, t->raw);
}

void ms_acc_out(const ms_t *t, double *out)
{
    if (t->dtype == MS_F64)
        ms_k_acc_f64(t->numel, out, t->raw);
    else
        for (size_t i = 0; i < t->numel; i++)
            out[i] += (double)t->f32[i];
}

void ms_copy_in(ms_t *t, size_t off, size_t n, const double *src)
{
    if (n)
        MS_K(t->dtype, ms_k_from_f64)(n, (char *)t->raw + off * ms_dtype_size(t->dtype), src);
}

ms_node *ms_record(ms_graph *g, ms_t *out, const char *name,
                   ms_backward_fn backward, int nin, ms_t *const *in)
{
    if (g->no_grad || g->err.status != MLSHIFT_OK)
        return NULL;
    int any = 0;
    for (int i = 0; i < nin; i++)
        any |= in[i]->requires_grad;
    if (!any)
        return NULL;
    ms_node *n = ms_arena_alloc(&g->arena, sizeof *n);
    ms_t **ins = ms_arena_alloc(&g->arena, (size_t)nin * sizeof *ins);
    if (!n || !ins)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "%s: out of memory for the tape", name);
    memset(n, 0, sizeof *n);
    for (int i = 0; i < nin; i++)
        ins[i] = in[i];
    n->name = name;
    n->backward = backward;
    n->nin = nin;
    n->in = ins;
    n->out = out;
    n->prev = g->last;
    if (g->last)
        g->last->next = n;
    else
        g->first = n;
    g->last = n;
    g->n_nodes++;
    out->node = n;
    out->requires_grad = 1;
    return n;
}

/* SPDX-License-Identifier: MIT */
/* Named parameter tensors, their groups, seeded initialisation, freezing.
 *
 * All parameters live in one allocation theta (P); each named tensor is a
 * range [off, off + numel) of it with a shape, a group (TTT, REP, MAIN,
 * PRIOR; see model.h) and two flags: trainable (0 for the per-element
 * reference energies, scale and shift, which are statistics of the
 * training labels) and frozen (set per group). A forward pass wraps each
 * tensor as a graph leaf pointing into theta, so nothing is copied.
 *
 * Initialisation (splitmix64 from the seed, in parameter order):
 * 2-D weights Glorot-uniform U(±√(6/(fan_in + fan_out))), embeddings
 * U(±√3) (unit variance), biases, shift and atom_ref 0, scale 1. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"

void ms_model_hyper_default(ms_model_hyper *h, ms_arch arch)
{
    memset(h, 0, sizeof *h);
    h->arch = arch;
    h->F = 128;
    h->K = 20;
    h->T = 3;
    h->k_rep = 2;
    h->j_ttt = 1;
    h->r_basis = 5.0;
    h->norm_eps = 1e-8;
}

const char *ms_group_name(int group)
{
    static const char *names[MS_NGROUPS] = {"ttt", "representation", "main", "prior"};
    return group >= 0 && group < MS_NGROUPS ? names[group] : "?";
}

const char *ms_arch_name(ms_arch a)
{
    return a == MS_ARCH_PAINN ? "painn" : a == MS_ARCH_SCHNET ? "schnet" : "?";
}

mlshift_status ms_model_add_param(ms_model *m, int group, int trainable, int ndim,
                                  const size_t *shape, mlshift_error *err,
                                  const char *fmt, ...)
{
    /* capacity doubles: 1, 2, 4, … (full whenever n_params is 0 or a power of 2) */
    size_t n = m->n_params;
    if ((n & (n - 1)) == 0) {
        ms_param *q = realloc(m->param, (n ? 2 * n : 1) * sizeof *q);
        if (!q)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
        m->param = q;
    }
    ms_param *p = &m->param[m->n_params];
    memset(p, 0, sizeof *p);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof p->name)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: parameter name too long");
    p->group = group;
    p->trainable = trainable;
    p->ndim = ndim;
    p->numel = 1;
    for (int d = 0; d < MS_MAXDIM; d++) {
        p->shape[d] = d < ndim ? shape[d] : 1;
        p->numel *= p->shape[d];
    }
    p->off = m->P;
    m->P += p->numel;
    m->n_params++;
    return MLSHIFT_OK;
}

long ms_model_find(const ms_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->param[i].name, name) == 0)
            return (long)i;
    return -1;
}

void ms_model_freeze(ms_model *m, unsigned mask, int on)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (mask & (1u << m->param[i].group))
            m->param[i].frozen = on;
}

size_t ms_model_group_size(const ms_model *m, int group)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_params; i++)
        if (m->param[i].group == group)
            n += m->param[i].numel;
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}


static void init_weights(ms_model *m, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < m->n_params; i++) {
        ms_param *p = &m->param[i];
        double *w = m->theta + p->off; // (numel)
        double a = 0, c = 0;
        if (ends_with(p->name, "embedding"))
            a = sqrt(3.0);
        else if (ends_with(p->name, "scale"))
            c = 1.0;
        else if (p->ndim == 2 && p->trainable)
            a = sqrt(6.0 / (double)(p->shape[0] + p->shape[1]));
        for (size_t k = 0; k < p->numel; k++)
            w[k] = a > 0 ? a * (2 * ms_rng_uniform(&s) - 1) : c;
    }
}

static mlshift_status check_hyper(const ms_model_hyper *h, const int *z, int n_el,
                                  mlshift_error *err)
{
    if (h->arch != MS_ARCH_PAINN && h->arch != MS_ARCH_SCHNET)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown architecture %d", h->arch);
    if (h->F < 2 || h->F > 65536 || h->K < 1 || h->K > 4096 || h->T < 1 || h->T > 64)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "model: features %d, radial functions %d, blocks %d out of range "
                       "(2..65536, 1..4096, 1..64)", h->F, h->K, h->T);
    if (h->k_rep < 0 || h->k_rep > h->T || h->j_ttt < 0 || h->j_ttt > h->k_rep)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "model: need 0 <= ttt blocks (%d) <= representation blocks (%d) "
                       "<= blocks (%d)", h->j_ttt, h->k_rep, h->T);
    if (h->readout_every != 0 && h->readout_every != 1)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: readout_every %d (0 or 1)",
                       h->readout_every);
    if (!(h->r_basis > 0) || !isfinite(h->r_basis) || h->r_basis > 100)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: cutoff %g Å out of (0, 100]",
                       h->r_basis);
    if (!(h->norm_eps > 0) || !isfinite(h->norm_eps))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: norm eps %g must be > 0",
                       h->norm_eps);
    if (n_el < 1 || n_el > MS_MODEL_MAXEL)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: %d elements (need 1..%d)", n_el,
                       MS_MODEL_MAXEL);
    for (int i = 0; i < n_el; i++) {
        if (z[i] < 1 || z[i] > MS_MODEL_MAXEL)
            return ms_fail(err, MLSHIFT_ERR_VALUE, "model: atomic number %d unknown", z[i]);
        for (int j = 0; j < i; j++)
            if (z[j] == z[i])
                return ms_fail(err, MLSHIFT_ERR_VALUE, "model: element %s given twice",
                               mlshift_element_symbol(z[i]));
    }
    return MLSHIFT_OK;
}

mlshift_status ms_model_create(ms_model **out, const ms_model_hyper *h, const int *z,
                               int n_el, uint64_t seed, mlshift_error *err)
{
    return ms_model_create_at_most(out, h, z, n_el, seed, SIZE_MAX, err);
}

mlshift_status ms_model_create_at_most(ms_model **out, const ms_model_hyper *h,
                                       const int *z, int n_el, uint64_t seed,
                                       size_t max_params, mlshift_error *err)
{
    *out = NULL;
    mlshift_status st = check_hyper(h, z, n_el, err);
    if (st)
        return st;
    ms_model *m = calloc(1, sizeof *m);
    if (!m)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    m->h = *h;
    m->n_el = n_el;
    for (int i = 0; i <= MS_MODEL_MAXEL; i++)
        m->species[i] = -1;
    for (int i = 0; i < n_el; i++) {
        m->z[i] = z[i];
        m->species[z[i]] = i;
    }
    st = h->arch == MS_ARCH_PAINN ? ms_painn_params(m, err) : ms_schnet_params(m, err);
    if (!st && m->P > max_params)
        st = ms_fail(err, MLSHIFT_ERR_VALUE, "model: these hyper-parameters need %zu "
                     "parameters, more than the %zu there is room for", m->P, max_params);
    if (!st) {
        m->theta = calloc(m->P ? m->P : 1, sizeof *m->theta);
        if (!m->theta)
            st = ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory (%zu parameters)",
                         m->P);
    }
    if (st) {
        ms_model_destroy(m);
        return st;
    }
    init_weights(m, seed);
    *out = m;
    return MLSHIFT_OK;
}

void ms_model_destroy(ms_model *m)
{
    if (!m)
        return;
    free(m->param);
    free(m->theta);
    free(m->stats);
    free(m->meta);
    free(m);
}

mlshift_status ms_model_set_meta(ms_model *m, const char *json, mlshift_error *err)
{
    char *c = NULL;
    if (json) {
        size_t n = strlen(json);
        if (!(c = malloc(n + 1)))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
        memcpy(c, json, n + 1);
    }
    free(m->meta);
    m->meta = c;
    return MLSHIFT_OK;
}

mlshift_status ms_model_clone(ms_model **out, const ms_model *m, mlshift_error *err)
{
    mlshift_status st = ms_model_create(out, &m->h, m->z, m->n_el, 0, err);
    if (st)
        return st;
    ms_model *c = *out;
    memcpy(c->theta, m->theta, m->P * sizeof *m->theta);
    for (size_t i = 0; i < m->n_params; i++)
        c->param[i].frozen = m->param[i].frozen;
    if ((st = ms_model_set_stats(c, m->stats, m->stats_len, err)) ||
        (st = ms_model_set_meta(c, m->meta, err))) {
        ms_model_destroy(c);
        *out = NULL;
    }
    return st;
}

mlshift_status ms_model_set_stats(ms_model *m, const void *data, size_t len,
                                  mlshift_error *err)
{
    unsigned char *s = NULL;
    if (len) {
        s = malloc(len);
        if (!s)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
        memcpy(s, data, len);
    }
    free(m->stats);
    m->stats = s;
    m->stats_len = len;
    return MLSHIFT_OK;
}

/* The leaves are made on first use (ms_model_leaf): a head the step does
 * not evaluate costs nothing, which matters in a float32 graph, where a
 * leaf is a converted copy. Slot n_params records grad: it points at one of
 * two markers. */
static ms_t grad_on, grad_off;

ms_t **ms_model_leaves(ms_graph *g, const ms_model *m, int grad)
{
    if (g->err.status)
        return NULL;
    ms_t **leaf = ms_arena_alloc(&g->arena, (m->n_params + 1) * sizeof *leaf);
    if (!leaf)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "model: out of memory");
    memset(leaf, 0, m->n_params * sizeof *leaf);
    leaf[m->n_params] = grad ? &grad_on : &grad_off;
    return leaf;
}

ms_t *ms_model_leaf(ms_graph *g, const ms_model *m, ms_t **leaf, const char *fmt,
                    ...)
{
    char name[MS_PARAM_NAME];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (!leaf)
        return NULL;
    long i = ms_model_find(m, name);
    if (i < 0)
        return ms_graph_fail(g, MLSHIFT_ERR_VALUE, "model: no parameter %s", name);
    if (!leaf[i]) {
        const ms_param *p = &m->param[i];
        int grad = leaf[m->n_params] == &grad_on;
        leaf[i] = ms_wrap(g, p->ndim, p->shape, m->theta + p->off,
                          grad && p->trainable && !p->frozen);
    }
    return leaf[i];
}

mlshift_status ms_model_stack_params(ms_model *m, ms_block_params_fn block,
                                     mlshift_error *err)
{
    mlshift_status st = ms_model_add_param(m, MS_GROUP_TTT, 1, 2,
                                           MS_SHAPE((size_t)m->n_el, (size_t)m->h.F), err,
                                           "embedding");
    char pre[MS_PARAM_NAME];
    for (int t = 0; !st && t < m->h.T; t++)
        for (int h = 0; !st && h < (t < m->h.k_rep ? 1 : 2); h++) {
            int grp = ms_block_group(m, t, (ms_head)h, pre, sizeof pre);
            st = block(m, pre, grp, err);
            if (!st && m->h.readout_every && t + 1 < m->h.T)
                st = ms_model_mlp_readout_params(m, pre, grp, err);
        }
    return st ? st : ms_model_readout_params(m, err);
}

mlshift_status ms_model_set_ttt_blocks(ms_model *m, int j, mlshift_error *err)
{
    if (j < 0 || j > m->h.k_rep)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "model: %d TTT blocks, outside 0..%d (the representation's blocks)",
                       j, m->h.k_rep);
    m->h.j_ttt = j;
    char pre[MS_PARAM_NAME];
    for (size_t i = 0; i < m->n_params; i++) {
        int t, n = 0;
        if (sscanf(m->param[i].name, "blocks.%d.%n", &t, &n) == 1 && n > 0)
            m->param[i].group = ms_block_group(m, t, MS_HEAD_MAIN, pre, sizeof pre);
    }
    return MLSHIFT_OK;
}

size_t ms_model_update_mask(const ms_model *m, unsigned char *mask)
{
    size_t n = 0;
    memset(mask, 0, m->P);
    for (size_t i = 0; i < m->n_params; i++) {
        const ms_param *p = &m->param[i];
        if (p->trainable && !p->frozen) {
            memset(mask + p->off, 1, p->numel);
            n += p->numel;
        }
    }
    return n;
}

/* SPDX-License-Identifier: MIT */
/* The public model API (mlshift_model_*): a model with its own workspace,
 * so a caller (MD, the ASE binding, KIM) computes frame after frame without
 * allocating after the first; creation, files, what a model is, and the
 * per-atom energies and virial the calculator returns.
 *
 * Virial. The energy depends on the positions only through the pair
 * vectors r_e = r_j + S_e·cell − r_i of the radius graph (layers.c; the
 * reverse edge's vector is −r_e, a function of it). Under a
 * homogeneous strain x → (I + ε)x of positions and cell every r_e becomes
 * (I + ε)r_e, so ∂E/∂ε_ab = Σ_e (∂E/∂r_e)_a r_e,b and the virial is
 *     W = −∂E/∂ε = −Σ_e r_e ⊗ ∂E/∂r_e,
 * symmetric for a rotation-invariant energy. One backward pass gives both
 * ∂E/∂R (the forces) and ∂E/∂r_e (the graph keeps r_e as a tensor), so the
 * virial costs a (P, 3) product more than the forces. The stress of a
 * periodic cell is σ = −W/V (ASE's sign, σ = (1/V) ∂E/∂ε); the tests check
 * it against finite differences of the energy under strain.
 *
 * Per-atom energies: the readout's e_i before its segment sum, obtained by
 * reading out on a view of the batch in which every atom is its own
 * structure (seg_i = i), so the formula is the readout's own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../nn/kernels.h"
#include "handle.h"

struct mlshift_model {
    ms_model *m;
    ms_model_ws ws;
    /* float32 compute: the parameters converted once (shadow_params) and
     * reused until the model may have changed; version counts the times a
     * caller took the model to change it (ms_model_of, set_ttt_blocks),
     * theta32_version is the version theta32 was made at (0: none). */
    float *theta32;
    unsigned long version, theta32_version;
};

/* Every change of a handle's parameters goes through the mutable model
 * this returns (training, TTT, TTT during MD): taking it makes the
 * float32 copy stale. */
ms_model *ms_model_of(mlshift_model *mm)
{
    mm->version++;
    return mm->m;
}
const ms_model *ms_model_of_const(const mlshift_model *mm) { return mm->m; }

mlshift_status ms_model_wrap(ms_model *m, mlshift_model **out, mlshift_error *err)
{
    *out = NULL;
    mlshift_model *mm = calloc(1, sizeof *mm);
    if (!mm) {
        ms_model_destroy(m);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    }
    mm->m = m;
    ms_model_ws_init(&mm->ws);
    mm->version = 1;
    *out = mm;
    return MLSHIFT_OK;
}

/* Before a compute on the handle's workspace: in float32, the parameters'
 * float32 copy (made again when the model may have changed) as the
 * graph's shadow, so a step wraps them instead of converting all of them
 * (6% of an MD force call of PaiNN 128 × 3 on aspirin, measured); the
 * values are those of the per-step conversion, so results are the same
 * bits. Out of memory: no shadow, the per-step conversion as before. */
static void shadow_params(mlshift_model *mm)
{
    const ms_model *m = mm->m;
    ms_graph *g = &mm->ws.g;
    if (g->dtype != MS_F32) {
        ms_graph_set_shadow(g, NULL, NULL, 0);
        return;
    }
    if (mm->theta32_version != mm->version) {
        if (!mm->theta32)
            mm->theta32 = malloc((m->P ? m->P : 1) * sizeof *mm->theta32);
        if (!mm->theta32) {
            ms_graph_set_shadow(g, NULL, NULL, 0);
            return;
        }
        ms_k_from_f64_f32(m->P, mm->theta32, m->theta);
        mm->theta32_version = mm->version;
    }
    ms_graph_set_shadow(g, m->theta, mm->theta32, m->P);
}

mlshift_status mlshift_model_load(const char *path, mlshift_model **out,
                                  mlshift_error *err)
{
    *out = NULL;
    ms_model *m = NULL;
    mlshift_status s = ms_model_load(&m, path, err);
    if (s != MLSHIFT_OK)
        return s;
    return ms_model_wrap(m, out, err);
}

void mlshift_model_destroy(mlshift_model *mm)
{
    if (!mm)
        return;
    ms_model_ws_free(&mm->ws);
    ms_model_destroy(mm->m);
    free(mm->theta32);
    free(mm);
}

void mlshift_model_set_dtype(mlshift_model *mm, mlshift_dtype dt)
{
    ms_graph_set_dtype(&mm->ws.g, dt == MLSHIFT_FLOAT32 ? MS_F32 : MS_F64);
}

mlshift_status mlshift_model_set_ttt_blocks(mlshift_model *mm, int ttt_blocks,
                                            mlshift_error *err)
{
    return ms_model_set_ttt_blocks(ms_model_of(mm), ttt_blocks, err);
}

double mlshift_model_cutoff(const mlshift_model *mm)
{
    return mm->m->h.r_basis;
}

mlshift_status mlshift_model_compute(mlshift_model *mm, const mlshift_frame *f,
                                     mlshift_head head, double cutoff,
                                     double *energy, double *forces,
                                     mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    shadow_params(mm);
    return ms_model_predict(&mm->ws, mm->m, f, 1, (ms_head)head, cutoff, energy,
                            forces, err);
}

mlshift_status ms_model_handle_batch(mlshift_model *mm, const mlshift_frame *f, size_t nf,
                                     mlshift_head head, double r_cut, double *energy,
                                     double *forces, mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    shadow_params(mm);
    return ms_model_predict(&mm->ws, mm->m, f, nf, (ms_head)head, r_cut, energy, forces,
                            err);
}

mlshift_status ms_model_handle_compute(mlshift_model *mm, const mlshift_frame *f,
                                       mlshift_head head, double r_cut, double *energy,
                                       double *forces, double *energies, double *virial,
                                       mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    const ms_model *m = mm->m;
    shadow_params(mm);
    if (!energies && !virial) /* the path predict takes, bit for bit */
        return ms_model_predict(&mm->ws, m, f, 1, (ms_head)head, r_cut, energy, forces, err);
    if (r_cut <= 0)
        r_cut = m->h.r_basis;
    mlshift_status st = ms_batch_build(&mm->ws.b, m, f, 1, r_cut, err);
    if (st)
        return st;
    ms_graph *g = &mm->ws.g;
    ms_batch *b = &mm->ws.b;
    const size_t N = b->N, P = b->P;
    ms_graph_reset(g);
    ms_t **leaf = ms_model_leaves(g, m, 0);
    int need_grad = forces || virial;
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(N, 3), b->R, need_grad);                  // (N, 3) Å
    ms_rep r;
    ms_model_represent(g, m, b, R, leaf, &r);
    /* the head on a batch in which every atom is its own structure (the
     * blocks see only atoms and edges): the readout's per-atom terms */
    ms_batch per_atom = *b;
    int32_t *iota = ms_arena_alloc(&g->arena, (N + 1) * sizeof *iota);
    if (!iota)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    for (size_t i = 0; i < N; i++)
        iota[i] = (int32_t)i;
    per_atom.seg = iota;
    per_atom.B = N;
    ms_t *ei = ms_model_head(g, m, &per_atom, leaf, (ms_head)head, &r);          // (N, 1) eV
    ms_t *Et = ei ? ms_sum(g, ei) : NULL;                                        // () eV
    /* the readout's constant per-atom terms (shift + atom_ref), in double */
    double *off = ms_arena_alloc(&g->arena, (N + 1) * sizeof *off), O = 0; // (N) eV
    if (!off)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    ms_model_energy_offset(m, &per_atom, (ms_head)head, off);
    for (size_t i = 0; i < N; i++)
        O += off[i];
    ms_t *xs[2] = {R, r.ef.r}, *dx[2] = {NULL, NULL};
    if (need_grad && Et)
        ms_grad(g, Et, NULL, virial ? 2 : 1, xs, dx, 0);
    if (g->err.status != MLSHIFT_OK || !Et)
        return ms_fail(err, g->err.status ? g->err.status : MLSHIFT_ERR_NOMEM, "model: %s",
                       g->err.message);
    if (!isfinite(ms_at(Et, 0) + O))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: the energy is not finite");
    if (energy)
        *energy = ms_at(Et, 0) + O;
    if (energies)
        for (size_t i = 0; i < N; i++)
            energies[i] = ms_at(ei, i) + off[i];
    if (forces)
        for (size_t k = 0; k < 3 * N; k++)
            forces[k] = -ms_at(dx[0], k);
    if (virial) {
        double w[9] = {0};
        for (size_t e = 0; e < P; e++) /* r.ef.r: one vector per pair (layers.c) */
            for (int a = 0; a < 3; a++)
                for (int c = 0; c < 3; c++)
                    w[3 * a + c] -= ms_at(r.ef.r, 3 * e + a) * ms_at(dx[1], 3 * e + c);
        memcpy(virial, w, sizeof w);
    }
    return MLSHIFT_OK;
}

/* ------------------------------------------------------ create, save, info */

void mlshift_model_hyper_default(mlshift_model_hyper *h, mlshift_arch arch)
{
    ms_model_hyper d;
    ms_model_hyper_default(&d, arch == MLSHIFT_ARCH_SCHNET ? MS_ARCH_SCHNET : MS_ARCH_PAINN);
    memset(h, 0, sizeof *h);
    h->arch = arch == MLSHIFT_ARCH_SCHNET ? MLSHIFT_ARCH_SCHNET : MLSHIFT_ARCH_PAINN;
    h->features = d.F;
    h->rbf = d.K;
    h->blocks = d.T;
    h->rep_blocks = d.k_rep;
    h->ttt_blocks = d.j_ttt;
    h->cutoff = d.r_basis;
    h->readout_every = d.readout_every;
}

mlshift_status mlshift_model_create(const mlshift_model_hyper *hp, const int *z, int n_el,
                                    uint64_t seed, mlshift_model **out, mlshift_error *err)
{
    *out = NULL;
    if (hp->arch != MLSHIFT_ARCH_PAINN && hp->arch != MLSHIFT_ARCH_SCHNET)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: arch %d: painn (0) or schnet (1)",
                       (int)hp->arch);
    ms_model_hyper h;
    ms_model_hyper_default(&h, hp->arch == MLSHIFT_ARCH_SCHNET ? MS_ARCH_SCHNET : MS_ARCH_PAINN);
    h.F = hp->features;
    h.K = hp->rbf;
    h.T = hp->blocks;
    h.k_rep = hp->rep_blocks;
    h.j_ttt = hp->ttt_blocks;
    h.r_basis = hp->cutoff;
    h.readout_every = hp->readout_every;
    ms_model *m = NULL;
    mlshift_status s = ms_model_create(&m, &h, z, n_el, seed, err);
    if (s != MLSHIFT_OK)
        return s;
    return ms_model_wrap(m, out, err);
}

mlshift_status mlshift_model_save(const mlshift_model *mm, const char *path,
                                  mlshift_error *err)
{
    return ms_model_save(mm->m, path, err);
}

mlshift_status mlshift_model_clone(const mlshift_model *mm, mlshift_model **out,
                                   mlshift_error *err)
{
    *out = NULL;
    ms_model *c = NULL;
    mlshift_status s = ms_model_clone(&c, mm->m, err);
    if (s != MLSHIFT_OK)
        return s;
    return ms_model_wrap(c, out, err);
}

const char *mlshift_group_name(int group)
{
    return group >= 0 && group < MS_NGROUPS ? ms_group_name(group) : NULL;
}

const char *mlshift_arch_name(mlshift_arch a)
{
    return ms_arch_name(a == MLSHIFT_ARCH_SCHNET ? MS_ARCH_SCHNET : MS_ARCH_PAINN);
}

void mlshift_model_get_info(const mlshift_model *mm, mlshift_model_info *info)
{
    const ms_model *m = mm->m;
    memset(info, 0, sizeof *info);
    info->hyper.arch = m->h.arch == MS_ARCH_SCHNET ? MLSHIFT_ARCH_SCHNET : MLSHIFT_ARCH_PAINN;
    info->hyper.features = m->h.F;
    info->hyper.rbf = m->h.K;
    info->hyper.blocks = m->h.T;
    info->hyper.rep_blocks = m->h.k_rep;
    info->hyper.ttt_blocks = m->h.j_ttt;
    info->hyper.cutoff = m->h.r_basis;
    info->hyper.readout_every = m->h.readout_every;
    info->n_elements = m->n_el;
    info->elements = m->z;
    info->n_params = m->P;
    info->n_tensors = m->n_params;
    for (size_t i = 0; i < m->n_params; i++) {
        int g = m->param[i].group;
        if (g >= 0 && g < MS_NGROUPS)
            info->group_tensors[g]++;
    }
    for (int g = 0; g < MS_NGROUPS; g++)
        info->group_params[g] = ms_model_group_size(m, g);
    info->stats_len = m->stats_len;
    info->record = m->meta;
}

mlshift_status mlshift_model_tensor(const mlshift_model *mm, size_t i, mlshift_tensor_info *out,
                                    mlshift_error *err)
{
    const ms_model *m = mm->m;
    if (i >= m->n_params)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: tensor %zu of %zu", i, m->n_params);
    const ms_param *p = &m->param[i];
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->group = p->group;
    out->trainable = p->trainable;
    out->ndim = p->ndim;
    for (int d = 0; d < 3; d++)
        out->shape[d] = d < p->ndim ? p->shape[d] : 1;
    return MLSHIFT_OK;
}

mlshift_status mlshift_model_set_record(mlshift_model *mm, const char *json,
                                        mlshift_error *err)
{
    return ms_model_set_meta(mm->m, json, err);
}

double mlshift_model_record_number(const mlshift_model *mm, const char *key)
{
    const char *meta = mm->m->meta;
    if (!meta || !key)
        return NAN;
    /* the first "key": at the top level (nested records follow under "init") */
    size_t kl = strlen(key);
    int depth = 0, in_str = 0;
    for (const char *p = meta; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        else if (*p == '"') {
            if (depth == 1 && !strncmp(p + 1, key, kl) && p[1 + kl] == '"') {
                const char *q = p + 2 + kl;
                while (*q == ' ')
                    q++;
                if (*q == ':') {
                    char *end;
                    double x = strtod(q + 1, &end);
                    return end == q + 1 ? NAN : x;
                }
            }
            in_str = 1;
        }
    }
    return NAN;
}

const void *mlshift_model_stats(const mlshift_model *mm, size_t *len)
{
    if (len)
        *len = mm->m->stats_len;
    return mm->m->stats;
}

mlshift_status mlshift_model_set_stats(mlshift_model *mm, const void *data, size_t len,
                                       mlshift_error *err)
{
    return ms_model_set_stats(mm->m, data, len, err);
}

/* ---- issue 11 (KIM driver): atomic energies and the interaction range */

mlshift_status mlshift_model_compute_atoms(mlshift_model *mm, const mlshift_frame *f,
                                           mlshift_head head, double cutoff,
                                           const double *weights, double *energy,
                                           double *forces, double *atom_energies,
                                           mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    shadow_params(mm);
    return ms_model_predict_atoms(&mm->ws, mm->m, f, (ms_head)head, cutoff, weights,
                                  energy, forces, atom_energies, err);
}

double mlshift_model_interaction_range(const mlshift_model *mm, double cutoff)
{
    return mm->m->h.T * (cutoff > 0 ? cutoff : mm->m->h.r_basis);
}

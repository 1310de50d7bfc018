/* SPDX-License-Identifier: MIT */
/* Batches and the computations on them: energies and forces (F = −dE/dr,
 * one backward pass without create_graph), and the force loss with its
 * parameter gradient (forces with create_graph, then d loss / dθ).
 *
 * A batch concatenates B structures: atoms in order, edge pairs from each
 * structure's half neighbour list at the run-time cutoff (each pair once:
 * the full list is every pair and its reverse, so a model that messages
 * along both directions of a pair sees the full graph while computing
 * the radial features of each distance once), shifted by the structure's
 * first atom; seg (N,) names each atom's structure so the
 * per-structure energies are one segment_sum. The workspace keeps the graph
 * (arena) and the batch, so repeated calls of the same size allocate
 * nothing after the first. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void ms_model_ws_init(ms_model_ws *ws)
{
    memset(ws, 0, sizeof *ws);
    ms_graph_init(&ws->g, 0);
}

void ms_model_ws_free(ms_model_ws *ws)
{
    ms_graph_free(&ws->g);
    ms_batch_free(&ws->b);
    free(ws->off);
    ws->off = NULL;
    ws->cap_off = 0;
}

/* The batch's energy offsets (ms_model_energy_offset) in ws->off. */
static mlshift_status batch_offsets(ms_model_ws *ws, const ms_model *m, ms_head head,
                                    mlshift_error *err)
{
    if (ms_grow((void **)&ws->off, &ws->cap_off, ws->b.B + 1, sizeof *ws->off))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    ms_model_energy_offset(m, &ws->b, head, ws->off);
    return MLSHIFT_OK;
}

void ms_batch_free(ms_batch *b)
{
    free(b->R);
    free(b->species);
    free(b->seg);
    free(b->src);
    free(b->dst);
    free(b->shift);
    free(b->atom_off);
    ms_neighbours_free(&b->nl);
    memset(b, 0, sizeof *b);
}

static int grow_atoms(ms_batch *b, size_t need)
{
    if (need <= b->cap_N)
        return 0;
    size_t c = b->cap_N, c2 = b->cap_N, c3 = b->cap_N;
    if (ms_grow((void **)&b->R, &c, need, 3 * sizeof(double)) ||
        ms_grow((void **)&b->species, &c2, need, sizeof(int32_t)) ||
        ms_grow((void **)&b->seg, &c3, need, sizeof(int32_t)))
        return -1;
    b->cap_N = c < c2 ? (c < c3 ? c : c3) : (c2 < c3 ? c2 : c3);
    return 0;
}

static int grow_pairs(ms_batch *b, size_t need)
{
    if (need <= b->cap_P)
        return 0;
    size_t c = b->cap_P, c2 = b->cap_P, c3 = b->cap_P;
    if (ms_grow((void **)&b->src, &c, need, sizeof(int32_t)) ||
        ms_grow((void **)&b->dst, &c2, need, sizeof(int32_t)) ||
        ms_grow((void **)&b->shift, &c3, need, 3 * sizeof(double)))
        return -1;
    b->cap_P = c < c2 ? (c < c3 ? c : c3) : (c2 < c3 ? c2 : c3);
    return 0;
}

mlshift_status ms_batch_build(ms_batch *b, const ms_model *m, const mlshift_frame *f,
                              size_t nf, double r_cut, mlshift_error *err)
{
    if (!(r_cut > 0) || !isfinite(r_cut))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: cutoff %g Å must be > 0", r_cut);
    if (nf + 1 > b->cap_B) {
        size_t c = b->cap_B;
        if (ms_grow((void **)&b->atom_off, &c, nf + 1, sizeof(size_t)))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
        b->cap_B = c;
    }
    b->B = nf;
    b->N = b->E = b->P = 0;
    b->r_cut = r_cut;
    b->periodic = 0;
    /* non-NULL index arrays even for an empty batch */
    if (grow_atoms(b, 1) || grow_pairs(b, 1))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    for (size_t s = 0; s < nf; s++) {
        const mlshift_frame *fs = &f[s];
        size_t n = fs->natoms, n0 = b->N;
        b->atom_off[s] = n0;
        if (n > (size_t)INT32_MAX - n0 || grow_atoms(b, n0 + n))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory (%zu atoms)", n0 + n);
        for (size_t i = 0; i < n; i++) {
            int z = fs->numbers[i];
            int sp = z >= 1 && z <= MS_MODEL_MAXEL ? m->species[z] : -1;
            if (sp < 0) {
                const char *sym = mlshift_element_symbol(z);
                char where[48] = "";
                if (nf > 1)
                    snprintf(where, sizeof where, "structure %zu of the batch: ", s);
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "%satom %zu is %s, an element the model was not made for",
                               where, i, sym ? sym : "an unknown element");
            }
            b->species[n0 + i] = sp;
            b->seg[n0 + i] = (int32_t)s;
            memcpy(b->R + 3 * (n0 + i), fs->positions + 3 * i, 3 * sizeof(double));
        }
        const double *cell = (fs->flags & MLSHIFT_HAS_CELL) ? fs->cell : NULL;
        int pbc[3] = {0, 0, 0};
        if (cell)
            memcpy(pbc, fs->pbc, sizeof pbc);
        mlshift_status st = mlshift_neighbours_build(&b->nl, n, fs->positions, cell, pbc,
                                                     r_cut, 1, err);
        if (st)
            return st;
        size_t e0 = b->P, ne = b->nl.n_edges;
        if (ne > (size_t)INT32_MAX - e0 || grow_pairs(b, e0 + ne))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory (%zu atom pairs)",
                           e0 + ne);
        for (size_t e = 0; e < ne; e++) {
            b->src[e0 + e] = (int32_t)(n0 + (size_t)b->nl.src[e]);
            b->dst[e0 + e] = (int32_t)(n0 + (size_t)b->nl.dst[e]);
            const int32_t *S = b->nl.shift + 3 * e;
            for (int k = 0; k < 3; k++) {
                double x = 0;
                if (cell)
                    x = S[0] * cell[k] + S[1] * cell[3 + k] + S[2] * cell[6 + k];
                b->shift[3 * (e0 + e) + k] = x;
            }
            if (S[0] || S[1] || S[2])
                b->periodic = 1;
        }
        b->N += n;
        b->P += ne;
    }
    b->E = 2 * b->P;
    b->atom_off[nf] = b->N;
    return MLSHIFT_OK;
}

void ms_model_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                     ms_head head, int t0, int t1, ms_rep *r)
{
    void (*blocks)(ms_graph *, const ms_model *, const ms_batch *, ms_t **, ms_head, int,
                   int, ms_rep *) =
        m->h.arch == MS_ARCH_PAINN ? ms_painn_blocks : ms_schnet_blocks;
    if (!m->h.readout_every) {
        blocks(g, m, b, leaf, head, t0, t1, r);
        return;
    }
    char pre[MS_PARAM_NAME];
    for (int t = t0; t < t1; t++) {
        blocks(g, m, b, leaf, head, t, t + 1, r);
        if (t + 1 < m->h.T) {
            ms_block_group(m, t, head, pre, sizeof pre);
            ms_t *e = ms_model_mlp_readout(g, m, leaf, pre, r->s);   // (N, 1)
            r->e = r->e ? ms_add(g, r->e, e) : e;
        }
    }
}

void ms_model_represent(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                        ms_t **leaf, ms_rep *r)
{
    if (m->h.arch == MS_ARCH_PAINN)
        ms_painn_embed(g, m, b, R, leaf, r);
    else
        ms_schnet_embed(g, m, b, R, leaf, r);
    r->e = NULL;
    ms_model_blocks(g, m, b, leaf, MS_HEAD_MAIN, 0, m->h.k_rep, r);
}

ms_t *ms_model_head(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                    ms_head head, const ms_rep *rep)
{
    ms_rep r = *rep;  /* graph tensors are immutable: the heads share g_R's */
    ms_model_blocks(g, m, b, leaf, head, m->h.k_rep, m->h.T, &r);
    return ms_model_readout(g, m, b, leaf, head, r.s, r.e);
}

ms_t *ms_model_energy(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                      ms_t **leaf, ms_head head)
{
    ms_rep r;
    ms_model_represent(g, m, b, R, leaf, &r);
    return ms_model_head(g, m, b, leaf, head, &r);
}

static mlshift_status graph_status(ms_graph *g, mlshift_error *err)
{
    if (g->err.status == MLSHIFT_OK)
        return MLSHIFT_OK;
    return ms_fail(err, g->err.status, "model: %s", g->err.message);
}

mlshift_status ms_model_predict(ms_model_ws *ws, const ms_model *m,
                                const mlshift_frame *f, size_t nf, ms_head head,
                                double r_cut, double *energy, double *forces,
                                mlshift_error *err)
{
    if (r_cut <= 0)
        r_cut = m->h.r_basis;
    mlshift_status st = ms_batch_build(&ws->b, m, f, nf, r_cut, err);
    if (st || (st = batch_offsets(ws, m, head, err)))
        return st;
    ms_graph *g = &ws->g;
    ms_batch *b = &ws->b;
    ms_graph_reset(g);
    ms_t **leaf = ms_model_leaves(g, m, 0);
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(b->N, 3), b->R, forces != NULL);          // (N, 3) Å
    ms_t *Eb = ms_model_energy(g, m, b, R, leaf, head);                         // (B, 1) eV
    ms_t *dEdR = NULL;
    if (forces && Eb)
        ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, 0);
    if ((st = graph_status(g, err)))
        return st;
    for (size_t s = 0; s < nf; s++) {
        double e = ms_at(Eb, s) + ws->off[s];
        if (!isfinite(e))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "model: the energy of structure %zu is not finite",
                           s);
        if (energy)
            energy[s] = e;
    }
    if (forces) {
        ms_copy_out(dEdR, forces);
        for (size_t k = 0; k < 3 * b->N; k++)
            forces[k] = -forces[k];
    }
    return MLSHIFT_OK;
}

mlshift_status ms_model_loss_grad(ms_model_ws *ws, const ms_model *m,
                                  const mlshift_frame *f, size_t nf, ms_head head,
                                  double r_cut, double w_e, double w_f, double *loss,
                                  double *grad, mlshift_error *err)
{
    if (r_cut <= 0)
        r_cut = m->h.r_basis;
    for (size_t s = 0; s < nf; s++) {
        if (w_e > 0 && !(f[s].flags & MLSHIFT_HAS_ENERGY))
            return ms_fail(err, MLSHIFT_ERR_MISSING, "model: structure %zu has no energy label", s);
        if (w_f > 0 && !(f[s].flags & MLSHIFT_HAS_FORCES))
            return ms_fail(err, MLSHIFT_ERR_MISSING, "model: structure %zu has no force labels", s);
    }
    mlshift_status st = ms_batch_build(&ws->b, m, f, nf, r_cut, err);
    if (st || (st = batch_offsets(ws, m, head, err)))
        return st;
    ms_graph *g = &ws->g;
    ms_batch *b = &ws->b;
    const size_t N = b->N, B = b->B;
    ms_graph_reset(g);
    ms_t **leaf = ms_model_leaves(g, m, 1);
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(N, 3), b->R, 1);                           // (N, 3) Å
    ms_t *Eb = ms_model_energy(g, m, b, R, leaf, head);                         // (B, 1) eV
    ms_t *L = ms_full(g, 0, NULL, 0.0);
    if (w_f > 0 && Eb) {
        ms_t *dEdR = NULL;
        ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, 1);                       // (N, 3)
        ms_t *Fref = ms_empty(g, 2, MS_SHAPE(N, 3));
        if (Fref)
            for (size_t s = 0; s < nf; s++)
                ms_copy_in(Fref, 3 * b->atom_off[s], 3 * f[s].natoms, f[s].forces);
        ms_t *dF = ms_add(g, dEdR, Fref);                        // F − F_ref = −dE/dR − F_ref
        L = ms_add(g, L, ms_scale(g, ms_sum(g, ms_mul(g, dF, dF)),
                                  w_f / (double)(3 * (N ? N : 1))));
    }
    if (w_e > 0 && Eb) {
        ms_t *Eref = ms_empty(g, 2, MS_SHAPE(B, 1));
        if (Eref) /* the graph's energies are E − O: the target too */
            for (size_t s = 0; s < nf; s++)
                ms_set(Eref, s, f[s].energy - ws->off[s]);
        ms_t *dE = ms_sub(g, Eb, Eref);
        L = ms_add(g, L, ms_scale(g, ms_sum(g, ms_mul(g, dE, dE)), w_e / (double)(B ? B : 1)));
    }
    if (grad) {
        memset(grad, 0, m->P * sizeof *grad);
        ms_model_backward(g, m, leaf, L, grad);
    }
    if ((st = graph_status(g, err)))
        return st;
    if (!isfinite(ms_at(L, 0)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: the loss is not finite");
    if (loss)
        *loss = ms_at(L, 0);
    return MLSHIFT_OK;
}

void ms_model_backward(ms_graph *g, const ms_model *m, ms_t **leaf, ms_t *L,
                       double *grad)
{
    if (g->err.status != MLSHIFT_OK || !L || !leaf)
        return;
    ms_t **gl = ms_arena_alloc(&g->arena, (m->n_params + 1) * sizeof *gl);
    ms_t **xs = ms_arena_alloc(&g->arena, (m->n_params + 1) * sizeof *xs);
    size_t *which = ms_arena_alloc(&g->arena, (m->n_params + 1) * sizeof *which), nt = 0;
    if (!gl || !which || !xs) {
        ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "model: out of memory");
        return;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if (leaf[i] && leaf[i]->requires_grad) { /* NULL: never used, no gradient */
            which[nt] = i;
            xs[nt++] = leaf[i];
        }
    if (!nt || ms_grad(g, L, NULL, nt, xs, gl, 0) != MLSHIFT_OK)
        return;
    for (size_t t = 0; t < nt; t++) {
        const ms_param *p = &m->param[which[t]];
        ms_acc_out(gl[t], grad + p->off);
    }
}

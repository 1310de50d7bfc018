/* SPDX-License-Identifier: MIT */
/* The loss of eq. 6 on a batch, for one or both heads, and its gradient
 * with respect to the parameters (train/train.h states the terms).
 *
 * Forces are −dE/dR from a first backward pass recorded on the tape
 * (create_graph), so the force term can be differentiated again with
 * respect to θ. Joint training evaluates the two heads on one graph; each
 * head's forces come from its own energies. The gradient of L is *added*
 * into the caller's buffer, so micro-batches accumulate. */
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void ms_loss_ws_init(ms_loss_ws *ws)
{
    memset(ws, 0, sizeof *ws);
    ms_model_ws_init(&ws->mws);
}

void ms_loss_ws_free(ms_loss_ws *ws)
{
    ms_model_ws_free(&ws->mws);
    free(ws->fb);
    memset(ws, 0, sizeof *ws);
}

static double head_scale(const ms_model *m, ms_head h)
{
    long i = ms_model_find(m, h == MS_HEAD_MAIN ? "main.scale" : "prior.scale");
    double s = i < 0 ? 1.0 : m->theta[m->param[i].off];
    return s > 0 ? s : 1.0;
}

/* Adds head h's terms to *L; fills its metrics in out. */
static ms_t *head_loss(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                       ms_t *const *leaf, const ms_rep *rep, const ms_dataset *d,
                       const size_t *idx, ms_head h, const ms_loss_config *c, int create,
                       ms_loss_parts *out)
{
    const size_t N = b->N, B = b->B;
    const double s2 = 1.0 / (head_scale(m, h) * head_scale(m, h));
    ms_t *Eb = ms_model_head(g, m, b, leaf, h, rep);                            // (B, 1) eV
    ms_t *L = ms_full(g, 0, NULL, 0.0);
    double *off = ms_arena_alloc(&g->arena, (B + 1) * sizeof *off); // (B) E_b − graph's E_b
    if (!off)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "train: out of memory");
    ms_model_energy_offset(m, b, h, off);
    if (c->w_f[h] > 0 && Eb) {
        ms_t *dEdR = NULL;
        ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, create);                  // (N, 3)
        ms_t *Fref = ms_empty(g, 2, MS_SHAPE(N, 3));
        if (!Fref || !dEdR)
            return NULL;
        for (size_t s = 0; s < B; s++)
            ms_copy_in(Fref, 3 * b->atom_off[s], 3 * (b->atom_off[s + 1] - b->atom_off[s]),
                       d->F[h] + 3 * d->off[idx[s]]);
        ms_t *dF = ms_add(g, dEdR, Fref);      // −(F − F_ref): F = −dE/dR
        ms_t *sq = ms_mul(g, dF, dF);                                             // (N, 3)
        ms_t *term;
        if (c->l2mae) {
            ms_t *nrm = ms_sqrt(g, ms_add_scalar(g, ms_sum_axis(g, sq, 1), 1e-24));  // (N, 1)
            term = ms_scale(g, ms_sum(g, nrm), sqrt(s2) / (double)(N ? N : 1));
        } else {
            term = ms_scale(g, ms_sum(g, sq), s2 / (double)(3 * (N ? N : 1)));
        }
        L = ms_add(g, L, ms_scale(g, term, c->w_f[h]));
        if (dF) {
            double se = 0, ae = 0;
            for (size_t k = 0; k < 3 * N; k++) {
                double x = ms_at(dF, k);
                se += x * x;
                ae += fabs(x);
            }
            out->f_mse[h] = se / (double)(3 * (N ? N : 1));
            out->f_mae[h] = ae / (double)(3 * (N ? N : 1));
        }
    }
    if (Eb) {
        ms_t *Eref = ms_empty(g, 2, MS_SHAPE(B, 1));
        ms_t *invN = ms_empty(g, 2, MS_SHAPE(B, 1));
        if (!Eref || !invN)
            return NULL;
        for (size_t s = 0; s < B; s++) { /* the target of the graph's E − O */
            ms_set(Eref, s, d->E[h] ? d->E[h][idx[s]] - off[s] : 0.0);
            size_t n = b->atom_off[s + 1] - b->atom_off[s];
            ms_set(invN, s, 1.0 / (double)(n ? n : 1));
        }
        if (d->E[h]) {
            double ae = 0;
            for (size_t s = 0; s < B; s++)
                ae += fabs(ms_at(Eb, s) + off[s] - d->E[h][idx[s]]);
            out->e_mae[h] = ae / (double)(B ? B : 1);
        }
        if (c->w_e[h] > 0 && d->E[h]) {
            ms_t *dE = ms_mul(g, ms_sub(g, Eb, Eref), invN);                    // (B, 1) eV/atom
            if (c->center_energy)
                dE = ms_sub(g, dE, ms_scale(g, ms_sum(g, dE), 1.0 / (double)(B ? B : 1)));
            L = ms_add(g, L, ms_scale(g, ms_sum(g, ms_mul(g, dE, dE)),
                                      c->w_e[h] * s2 / (double)(B ? B : 1)));
        }
    }
    if (L)
        out->head[h] = ms_at(L, 0);
    return L;
}

mlshift_status ms_loss_grad(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                            const size_t *idx, size_t B, double r_cut,
                            const ms_loss_config *c, ms_loss_parts *out, double *grad,
                            mlshift_error *err)
{
    ms_loss_parts parts;
    memset(&parts, 0, sizeof parts);
    if (r_cut <= 0)
        r_cut = m->h.r_basis;
    for (int h = 0; h < 2; h++) {
        if (c->w_f[h] > 0 && !d->F[h])
            return ms_fail(err, MLSHIFT_ERR_MISSING, "train: no %s force labels",
                           h == MS_HEAD_MAIN ? "reference" : "prior");
        if (c->w_e[h] > 0 && !d->E[h])
            return ms_fail(err, MLSHIFT_ERR_MISSING, "train: no %s energy labels",
                           h == MS_HEAD_MAIN ? "reference" : "prior");
    }
    if (B > ws->cap) {
        size_t cap = ws->cap;
        if (ms_grow((void **)&ws->fb, &cap, B, sizeof *ws->fb))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        ws->cap = cap;
    }
    for (size_t s = 0; s < B; s++)
        ws->fb[s] = d->f[idx[s]];
    mlshift_status st = ms_batch_build(&ws->mws.b, m, ws->fb, B, r_cut, err);
    if (st)
        return st;
    ms_graph *g = &ws->mws.g;
    const ms_batch *b = &ws->mws.b;
    ms_graph_reset(g);
    const int create = grad != NULL;
    ms_t **leaf = ms_model_leaves(g, m, create);
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(b->N, 3), b->R, 1);                       // (N, 3) Å
    ms_t *L = ms_full(g, 0, NULL, 0.0);
    ms_rep rep;
    ms_model_represent(g, m, b, R, leaf, &rep);     /* g_R once for both heads */
    for (int h = 0; h < 2; h++)
        if (c->w_e[h] > 0 || c->w_f[h] > 0)
            L = ms_add(g, L, head_loss(g, m, b, R, leaf, &rep, d, idx, (ms_head)h, c, create,
                                       &parts));
    if (grad && L)
        ms_model_backward(g, m, leaf, L, grad);
    if (g->err.status != MLSHIFT_OK)
        return ms_fail(err, g->err.status, "train: %s", g->err.message);
    parts.loss = ms_at(L, 0);
    if (!isfinite(parts.loss))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "train: the loss is not finite (diverged? try a lower learning rate)");
    if (out)
        *out = parts;
    return MLSHIFT_OK;
}

mlshift_status ms_loss_eval(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                            size_t batch, double r_cut, const ms_loss_config *c,
                            ms_loss_parts *out, mlshift_error *err)
{
    ms_loss_parts acc;
    memset(&acc, 0, sizeof acc);
    if (batch < 1)
        batch = 1;
    size_t *idx = malloc(batch * sizeof *idx);
    if (!idx)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
    size_t atoms = 0;
    for (size_t s0 = 0; s0 < d->n; s0 += batch) {
        size_t B = d->n - s0 < batch ? d->n - s0 : batch;
        for (size_t k = 0; k < B; k++)
            idx[k] = s0 + k;
        ms_loss_parts p;
        mlshift_status st = ms_loss_grad(ws, m, d, idx, B, r_cut, c, &p, NULL, err);
        if (st) {
            free(idx);
            return st;
        }
        size_t na = d->off[s0 + B] - d->off[s0];
        acc.loss += p.loss * (double)B;
        for (int h = 0; h < 2; h++) {
            acc.head[h] += p.head[h] * (double)B;
            acc.e_mae[h] += p.e_mae[h] * (double)B;
            acc.f_mse[h] += p.f_mse[h] * (double)na;
            acc.f_mae[h] += p.f_mae[h] * (double)na;
        }
        atoms += na;
    }
    free(idx);
    double nb = d->n ? (double)d->n : 1, na = atoms ? (double)atoms : 1;
    acc.loss /= nb;
    for (int h = 0; h < 2; h++) {
        acc.head[h] /= nb;
        acc.e_mae[h] /= nb;
        acc.f_mse[h] /= na;
        acc.f_mae[h] /= na;
    }
    *out = acc;
    return MLSHIFT_OK;
}

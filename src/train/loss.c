/* SPDX-License-Identifier: MIT */
/* The loss of eq. 6 on a batch, for one or both heads, and its gradient
 * with respect to the parameters (train/train.h states the terms).
 *
 * Forces are −dE/dR from a first backward pass recorded on the tape
 * (create_graph), so the force term can be differentiated again with
 * respect to θ. Joint training evaluates the two heads on one graph; each
 * head's forces come from its own energies. The gradient of L is *added*
 * into the caller's buffer, so micro-batches accumulate.
 *
 * A batch in parts (ms_loss_ws: chunk, threads) is computed part by part
 * with the whole batch's normalisers (atoms N, structures B, and the mean
 * μ_h of a centred energy residual), so L = Σ_parts L_part exactly in
 * exact arithmetic. With threads, each thread takes the next part not yet
 * taken (an atomic counter: a thread on a busy core simply takes fewer)
 * and computes it in its own workspace into that part's own slot (loss
 * terms, residual sums, gradient buffer); the slots are then summed in
 * part order, so the result does not depend on which thread computed
 * what (deterministic, and equal to one thread's to rounding). */
#include "train/train.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void ms_loss_ws_init(ms_loss_ws *ws)
{
    memset(ws, 0, sizeof *ws);
    ms_model_ws_init(&ws->mws);
    ws->threads = 1;
}

static void free_subs(ms_loss_ws *ws)
{
    for (int t = 0; t < ws->nsub; t++)
        ms_loss_ws_free(&ws->sub[t]);
    ws->nsub = 0;
    free(ws->sub);
    free(ws->gsub);
    free(ws->slot);
    ws->sub = NULL;
    ws->gsub = NULL;
    ws->slot = NULL;
    ws->gsub_cap = ws->slot_cap = 0;
}

void ms_loss_ws_free(ms_loss_ws *ws)
{
    free_subs(ws);
    ms_model_ws_free(&ws->mws);
    free(ws->fb);
    memset(ws, 0, sizeof *ws);
}

/* The whole batch's normalisers for a part: atoms, structures and, per
 * head, the mean centred-energy residual (NAN: centre inside the graph,
 * when the part is the whole batch). */
typedef struct batch_norm {
    size_t N, B;
    double mu[2];
} batch_norm;

static double head_scale(const ms_model *m, ms_head h)
{
    long i = ms_model_find(m, h == MS_HEAD_MAIN ? "main.scale" : "prior.scale");
    double s = i < 0 ? 1.0 : m->theta[m->param[i].off];
    return s > 0 ? s : 1.0;
}

/* Adds head h's terms to *L; fills its metrics in out. */
static ms_t *head_loss(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                       ms_t **leaf, const ms_rep *rep, const ms_dataset *d,
                       const size_t *idx, ms_head h, const ms_loss_config *c, int create,
                       const batch_norm *nb, ms_loss_parts *out)
{
    const size_t N = nb->N, B = nb->B; /* the whole batch's, when this is a part */
    const double s2 = 1.0 / (head_scale(m, h) * head_scale(m, h));
    ms_t *Eb = ms_model_head(g, m, b, leaf, h, rep);                            // (B, 1) eV
    ms_t *L = ms_full(g, 0, NULL, 0.0);
    double *off = ms_arena_alloc(&g->arena, (b->B + 1) * sizeof *off); // E_b − graph's E_b
    if (!off)
        return ms_graph_fail(g, MLSHIFT_ERR_NOMEM, "train: out of memory");
    ms_model_energy_offset(m, b, h, off);
    if (c->w_f[h] > 0 && Eb) {
        ms_t *dEdR = NULL;
        ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, create);                  // (N, 3)
        ms_t *Fref = ms_empty(g, 2, MS_SHAPE(b->N, 3));
        if (!Fref || !dEdR)
            return NULL;
        for (size_t s = 0; s < b->B; s++)
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
            for (size_t k = 0; k < 3 * b->N; k++) {
                double x = ms_at(dF, k);
                se += x * x;
                ae += fabs(x);
            }
            out->f_mse[h] = se / (double)(3 * (N ? N : 1));
            out->f_mae[h] = ae / (double)(3 * (N ? N : 1));
        }
    }
    if (Eb) {
        ms_t *Eref = ms_empty(g, 2, MS_SHAPE(b->B, 1));
        ms_t *invN = ms_empty(g, 2, MS_SHAPE(b->B, 1));
        if (!Eref || !invN)
            return NULL;
        for (size_t s = 0; s < b->B; s++) { /* the target of the graph's E − O */
            ms_set(Eref, s, d->E[h] ? d->E[h][idx[s]] - off[s] : 0.0);
            size_t n = b->atom_off[s + 1] - b->atom_off[s];
            ms_set(invN, s, 1.0 / (double)(n ? n : 1));
        }
        if (d->E[h]) {
            double ae = 0;
            for (size_t s = 0; s < b->B; s++)
                ae += fabs(ms_at(Eb, s) + off[s] - d->E[h][idx[s]]);
            out->e_mae[h] = ae / (double)(B ? B : 1);
        }
        if (c->w_e[h] > 0 && d->E[h]) {
            ms_t *dE = ms_mul(g, ms_sub(g, Eb, Eref), invN);                    // (B, 1) eV/atom
            if (c->center_energy && isnan(nb->mu[h]))
                dE = ms_sub(g, dE, ms_scale(g, ms_sum(g, dE), 1.0 / (double)(B ? B : 1)));
            else if (c->center_energy) /* a part: the batch's mean, a constant */
                dE = ms_add_scalar(g, dE, -nb->mu[h]);
            L = ms_add(g, L, ms_scale(g, ms_sum(g, ms_mul(g, dE, dE)),
                                      c->w_e[h] * s2 / (double)(B ? B : 1)));
        }
    }
    if (L)
        out->head[h] = ms_at(L, 0);
    return L;
}

/* Frames d[idx[0..n)] in ws->fb. */
static mlshift_status batch_frames(ms_loss_ws *ws, const ms_dataset *d, const size_t *idx,
                                   size_t n, mlshift_error *err)
{
    if (n > ws->cap) {
        size_t cap = ws->cap;
        if (ms_grow((void **)&ws->fb, &cap, n, sizeof *ws->fb))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        ws->cap = cap;
    }
    for (size_t s = 0; s < n; s++)
        ws->fb[s] = d->f[idx[s]];
    return MLSHIFT_OK;
}

/* One part d[idx[0..n)] of a batch with normalisers nb: its parts added
 * into *acc and its gradient into grad (may be NULL). */
static mlshift_status part_loss(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                                const size_t *idx, size_t n, double r_cut,
                                const ms_loss_config *c, const batch_norm *nb,
                                ms_loss_parts *acc, double *grad, mlshift_error *err)
{
    mlshift_status st = batch_frames(ws, d, idx, n, err);
    if (st || (st = ms_batch_build(&ws->mws.b, m, ws->fb, n, r_cut, err)))
        return st;
    ms_graph *g = &ws->mws.g;
    const ms_batch *b = &ws->mws.b;
    ms_graph_reset(g);
    const int create = grad != NULL;
    ms_t **leaf = ms_model_leaves(g, m, create);
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(b->N, 3), b->R, 1);                       // (N, 3) Å
    ms_t *L = ms_full(g, 0, NULL, 0.0);
    ms_loss_parts parts;
    memset(&parts, 0, sizeof parts);
    ms_rep rep;
    ms_model_represent(g, m, b, R, leaf, &rep);     /* g_R once for both heads */
    for (int h = 0; h < 2; h++)
        if (c->w_e[h] > 0 || c->w_f[h] > 0)
            L = ms_add(g, L, head_loss(g, m, b, R, leaf, &rep, d, idx, (ms_head)h, c, create,
                                       nb, &parts));
    if (grad && L)
        ms_model_backward(g, m, leaf, L, grad);
    if (g->err.status != MLSHIFT_OK)
        return ms_fail(err, g->err.status, "train: %s", g->err.message);
    acc->loss += ms_at(L, 0);
    for (int h = 0; h < 2; h++) {
        acc->head[h] += parts.head[h];
        acc->f_mse[h] += parts.f_mse[h];
        acc->f_mae[h] += parts.f_mae[h];
        acc->e_mae[h] += parts.e_mae[h];
    }
    return MLSHIFT_OK;
}

/* Whether head h's energy term is centred on the batch mean (TTT). */
static int centred(const ms_loss_config *c, const ms_dataset *d, int h)
{
    return c->center_energy && c->w_e[h] > 0 && d->E[h];
}

/* Σ over the frames d[idx[0..n)] of head h's per-atom energy residual
 * (E_b − E_b^ref)/N_b, from energy-only passes (pieces of 64), into *sum. */
static mlshift_status part_residuals(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                                     const size_t *idx, size_t n, double r_cut, ms_head h,
                                     double *sum, mlshift_error *err)
{
    double E[64];
    for (size_t k0 = 0; k0 < n; k0 += 64) {
        size_t q = n - k0 < 64 ? n - k0 : 64;
        mlshift_status st = batch_frames(ws, d, idx + k0, q, err);
        if (st || (st = ms_model_predict(&ws->mws, m, ws->fb, q, h, r_cut, E, NULL, err)))
            return st;
        for (size_t k = 0; k < q; k++) {
            size_t i = idx[k0 + k], na = d->off[i + 1] - d->off[i];
            *sum += (E[k] - d->E[h][i]) / (double)(na ? na : 1);
        }
    }
    return MLSHIFT_OK;
}

/* One part's results: its slot, whichever thread computed it. */
typedef struct part_slot {
    double rsum[2];         /* phase 0: Σ (E − E_ref)/N of the centred heads */
    ms_loss_parts acc;      /* phase 1 */
    mlshift_status st;
    mlshift_error err;
} part_slot;

/* What the threads share: the batch, the next part to take, the slots. */
typedef struct part_run {
    const ms_model *m;
    const ms_dataset *d;
    const size_t *idx;
    size_t B, chunk, nparts;
    double r_cut;
    const ms_loss_config *c;
    const batch_norm *nb;
    int phase;              /* 0: residual sums of centred heads; 1: the loss */
    size_t next;            /* the next part to take (atomic) */
    part_slot *slot;        /* (nparts) */
    double *pgrad;          /* (nparts, P) each part's gradient, or NULL */
} part_run;

typedef struct part_job {
    part_run *run;
    ms_loss_ws *ws;         /* this thread's workspace */
} part_job;

/* Takes parts until none is left: phase 0 sums a part's centred energy
 * residuals, phase 1 its loss and gradient, each into the part's slot. */
static void *run_parts(void *arg)
{
    part_job *j = arg;
    part_run *r = j->run;
    for (;;) {
        size_t p = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (p >= r->nparts)
            break;
        part_slot *sl = &r->slot[p];
        size_t s0 = p * r->chunk, n = r->B - s0 < r->chunk ? r->B - s0 : r->chunk;
        if (r->phase == 1) {
            double *g = r->pgrad ? r->pgrad + p * r->m->P : NULL;
            if (g)
                memset(g, 0, r->m->P * sizeof *g);
            sl->st = part_loss(j->ws, r->m, r->d, r->idx + s0, n, r->r_cut, r->c, r->nb,
                               &sl->acc, g, &sl->err);
            continue;
        }
        for (int h = 0; h < 2 && !sl->st; h++)
            if (centred(r->c, r->d, h))
                sl->st = part_residuals(j->ws, r->m, r->d, r->idx + s0, n, r->r_cut,
                                        (ms_head)h, &sl->rsum[h], &sl->err);
    }
    return NULL;
}

/* Runs the parts on T threads (this one included; a thread that cannot
 * start leaves its share to the others) and returns the first failure in
 * part order (its message in *err). */
static mlshift_status run_jobs(part_run *run, part_job *job, size_t T, mlshift_error *err)
{
    pthread_t th[64];
    int started[64] = {0};
    run->next = 0;
    for (size_t p = 0; p < run->nparts; p++)
        run->slot[p].st = MLSHIFT_OK;
    for (size_t t = 1; t < T; t++)
        started[t] = pthread_create(&th[t], NULL, run_parts, &job[t]) == 0;
    run_parts(&job[0]);
    for (size_t t = 1; t < T; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (size_t p = 0; p < run->nparts; p++)
        if (run->slot[p].st) {
            if (err)
                *err = run->slot[p].err;
            return run->slot[p].st;
        }
    return MLSHIFT_OK;
}

/* The other threads' workspaces (same dtype as ws), the parts' slots and
 * gradient buffers. */
static mlshift_status ensure_subs(ms_loss_ws *ws, size_t nparts, size_t P,
                                  mlshift_error *err)
{
    const int T = ws->threads;
    if (ws->nsub != T - 1 || (ws->nsub && ws->sub[0].mws.g.dtype != ws->mws.g.dtype)) {
        free_subs(ws);
        ws->sub = calloc((size_t)(T - 1), sizeof *ws->sub);
        if (!ws->sub)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        ws->nsub = T - 1;
        for (int t = 0; t < T - 1; t++) {
            ms_loss_ws_init(&ws->sub[t]);
            ms_graph_set_dtype(&ws->sub[t].mws.g, ws->mws.g.dtype);
        }
    }
    if (ws->gsub_cap < nparts * P) {
        free(ws->gsub);
        ws->gsub = malloc(nparts * P * sizeof *ws->gsub);
        if (!ws->gsub) {
            ws->gsub_cap = 0;
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        }
        ws->gsub_cap = nparts * P;
    }
    if (ws->slot_cap < nparts) {
        free(ws->slot);
        ws->slot = malloc(nparts * sizeof(part_slot));
        if (!ws->slot) {
            ws->slot_cap = 0;
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        }
        ws->slot_cap = nparts;
    }
    return MLSHIFT_OK;
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
    if (ws->threads < 1)
        ws->threads = 1;
    /* chunk 0: one part with one thread; else two parts per thread, so that
     * a thread on a busy core takes fewer of them */
    size_t T = (size_t)ws->threads;
    size_t chunk = ws->chunk ? ws->chunk : T == 1 ? B : (B + 2 * T - 1) / (2 * T);
    chunk = chunk < 1 ? 1 : chunk;
    size_t nparts = B ? (B + chunk - 1) / chunk : 1;
    batch_norm nb = {0, B, {NAN, NAN}};
    for (size_t s = 0; s < B; s++)
        nb.N += d->off[idx[s] + 1] - d->off[idx[s]];
    mlshift_status st = MLSHIFT_OK;
    if (nparts <= 1) {
        st = part_loss(ws, m, d, idx, B, r_cut, c, &nb, &parts, grad, err);
    } else if (T <= 1) { /* part after part into grad: no slots needed */
        if (centred(c, d, 0) || centred(c, d, 1)) { /* the batch means μ_h first */
            double sum[2] = {0, 0};
            for (size_t p = 0; p < nparts && !st; p++) {
                size_t s0 = p * chunk, n = B - s0 < chunk ? B - s0 : chunk;
                for (int h = 0; h < 2 && !st; h++)
                    if (centred(c, d, h))
                        st = part_residuals(ws, m, d, idx + s0, n, r_cut, (ms_head)h,
                                            &sum[h], err);
            }
            for (int h = 0; h < 2; h++)
                nb.mu[h] = centred(c, d, h) ? sum[h] / (double)B : NAN;
        }
        for (size_t p = 0; p < nparts && !st; p++) {
            size_t s0 = p * chunk, n = B - s0 < chunk ? B - s0 : chunk;
            st = part_loss(ws, m, d, idx + s0, n, r_cut, c, &nb, &parts, grad, err);
        }
    } else {
        T = T > 64 ? 64 : T;
        if (T > nparts)
            T = nparts;
        if ((st = ensure_subs(ws, nparts, grad ? m->P : 0, err)))
            return st;
        part_run run = {.m = m, .d = d, .idx = idx, .B = B, .chunk = chunk,
                        .nparts = nparts, .r_cut = r_cut, .c = c, .nb = &nb,
                        .slot = ws->slot, .pgrad = grad ? ws->gsub : NULL};
        memset(run.slot, 0, nparts * sizeof *run.slot);
        part_job job[64];
        for (size_t t = 0; t < T; t++)
            job[t] = (part_job){.run = &run, .ws = t ? &ws->sub[t - 1] : ws};
        if (centred(c, d, 0) || centred(c, d, 1)) { /* the batch means μ_h first */
            if ((st = run_jobs(&run, job, T, err)))
                return st;
            for (int h = 0; h < 2; h++) {
                double sum = 0;
                for (size_t p = 0; p < nparts; p++)
                    sum += run.slot[p].rsum[h];
                nb.mu[h] = centred(c, d, h) ? sum / (double)B : NAN;
            }
        }
        run.phase = 1;
        st = run_jobs(&run, job, T, err);
        for (size_t p = 0; p < nparts && !st; p++) { /* in part order */
            const ms_loss_parts *a = &run.slot[p].acc;
            parts.loss += a->loss;
            for (int h = 0; h < 2; h++) {
                parts.head[h] += a->head[h];
                parts.f_mse[h] += a->f_mse[h];
                parts.f_mae[h] += a->f_mae[h];
                parts.e_mae[h] += a->e_mae[h];
            }
            if (grad) {
                const double *g = run.pgrad + p * m->P;
                for (size_t q = 0; q < m->P; q++)
                    grad[q] += g[q];
            }
        }
    }
    if (st)
        return st;
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

/* SPDX-License-Identifier: MIT */
/* Test-time training (paper eq. 7): gradient steps on the prior loss of the
 * test structures that move only the TTT subset of g_R; the prior head and
 * every other parameter stay frozen, and the main head then predicts with
 * the adapted representation (eq. 8).
 *
 * Batches are drawn as the authors' loader does: shuffled passes over the
 * test frames, restarted when exhausted. The energy term is centred per
 * batch (one molecule, whose per-element reference energies the training
 * compositions may leave undetermined: a constant offset carries no
 * information about the representation).
 *
 * Stop rules (the paper stopped by hand, §A.4.1.3): a running average of
 * the batch prior loss, ā ← 0.95 ā + 0.05 L, must improve by 0.1 % within
 * `patience` steps; and the run ends when the running prior force MSE
 * reaches the in-distribution value stored with the model. */
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/util.h"

void ms_ttt_config_default(ms_ttt_config *c)
{
    memset(c, 0, sizeof *c);
    ms_optim_config_default(&c->opt, MS_OPT_SGD);
    c->opt.lr = 1e-3;
    c->opt.momentum = 0.9;
    c->opt.weight_decay = 1e-3;
    c->opt.clip_norm = 10;
    c->steps = 3000;
    c->batch = 32;
    c->seed = 1;
    c->w_e = 1;
    c->w_f = 100;
    c->patience = 0;
    c->eval_frames = 0;
    c->dtype = MS_F32; /* test_train: float32 TTT ends at float64's prior loss */
    c->threads = 1;
}

static void prior_loss_config(ms_loss_config *lc, const ms_ttt_config *c)
{
    memset(lc, 0, sizeof *lc);
    lc->w_e[MS_HEAD_PRIOR] = c->w_e;
    lc->w_f[MS_HEAD_PRIOR] = c->w_f;
    lc->l2mae = c->l2mae;
    lc->center_energy = 1;
}

/* A view of the first k frames of d (labels shared, not copied). */
static ms_dataset head_view(const ms_dataset *d, size_t k)
{
    ms_dataset v = *d;
    v.n = k < d->n ? k : d->n;
    return v;
}

static mlshift_status main_mae(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                               const ms_ttt_config *c, double *f_mae, double *e_mae,
                               mlshift_error *err)
{
    ms_loss_config lc;
    memset(&lc, 0, sizeof lc);
    lc.w_f[MS_HEAD_MAIN] = 1;
    ms_dataset v = head_view(d, c->eval_frames ? c->eval_frames : d->n);
    ms_loss_parts p;
    mlshift_status st = ms_loss_eval(ws, m, &v, c->batch, c->r_cut, &lc, &p, err);
    if (!st) {
        *f_mae = p.f_mae[MS_HEAD_MAIN];
        *e_mae = d->E[MS_HEAD_MAIN] ? p.e_mae[MS_HEAD_MAIN] : NAN;
    }
    return st;
}

/* The TTT steps proper on m (already frozen but for the TTT group). */
static mlshift_status ttt_steps(ms_model *m, const ms_dataset *d, const ms_ttt_config *c,
                                ms_loss_ws *ws, ms_ttt_report *rep, mlshift_error *err)
{
    const size_t P = m->P, n = d->n, B = c->batch < n ? c->batch : n;
    ms_loss_config lc;
    prior_loss_config(&lc, c);
    unsigned char *mask = calloc(P ? P : 1, 1);
    double *grad = malloc((P ? P : 1) * sizeof *grad);
    size_t *perm = malloc(n * sizeof *perm);
    ms_optim o;
    memset(&o, 0, sizeof o);
    mlshift_status st = !mask || !grad || !perm
                            ? ms_fail(err, MLSHIFT_ERR_NOMEM, "ttt: out of memory")
                            : ms_optim_init(&o, &c->opt, P, m->theta, err);
    if (!st)
        ms_model_update_mask(m, mask);
    uint64_t rng = c->seed;
    size_t at = n, since = 0;
    double avg = NAN, best = INFINITY, favg = NAN;
    ms_ttt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.steps = c->steps;
    for (size_t s = 0; !st && s < c->steps; s++) {
        if (at + B > n) {
            for (size_t i = 0; i < n; i++)
                perm[i] = i;
            ms_rng_shuffle(&rng, perm, n);
            at = 0;
        }
        ms_loss_parts parts;
        memset(grad, 0, P * sizeof *grad);
        if ((st = ms_loss_grad(ws, m, d, perm + at, B, c->r_cut, &lc, &parts, grad, err)))
            break;
        at += B;
        ms_optim_step(&o, m->theta, grad, mask);
        avg = isnan(avg) ? parts.loss : 0.95 * avg + 0.05 * parts.loss;
        double fm = parts.f_mse[MS_HEAD_PRIOR];
        favg = isnan(favg) ? fm : 0.95 * favg + 0.05 * fm;
        rep->steps = s + 1;
        ev.step = s + 1;
        ev.prior_loss = parts.loss;
        ev.prior_loss_avg = avg;
        ev.prior_f_mse = fm;
        ev.lr = c->opt.lr;
        ev.have_main = 0;
        if (c->eval_every && d->F[MS_HEAD_MAIN] && (s + 1) % c->eval_every == 0) {
            if ((st = main_mae(ws, m, d, c, &ev.main_f_mae, &ev.main_e_mae, err)))
                break;
            ev.have_main = 1;
        }
        if (c->progress)
            c->progress(&ev, c->progress_ctx);
        if (avg < best * (1 - 1e-3)) {
            best = avg;
            since = 0;
        } else if (c->patience && ++since >= c->patience) {
            rep->stop_reason = 1;
            break;
        }
        if (c->target_f_mse > 0 && s + 1 >= 20 && favg <= c->target_f_mse) {
            rep->stop_reason = 2;
            break;
        }
    }
    ms_optim_free(&o);
    free(mask);
    free(grad);
    free(perm);
    return st;
}

mlshift_status ms_ttt(ms_model *m, const ms_dataset *d, const ms_ttt_config *c,
                      ms_ttt_report *rep, mlshift_error *err)
{
    memset(rep, 0, sizeof *rep);
    double t0 = ms_now();
    if (!d->n)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "ttt: no test frames");
    if (!d->F[MS_HEAD_PRIOR] || (c->w_e > 0 && !d->E[MS_HEAD_PRIOR]))
        return ms_fail(err, MLSHIFT_ERR_MISSING, "ttt: the test frames need prior labels");
    if (c->batch < 1)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "ttt: batch must be ≥ 1");
    ms_loss_ws ws;
    ms_loss_ws_init(&ws);
    ms_graph_set_dtype(&ws.mws.g, c->dtype);
    ws.threads = c->threads > 1 ? c->threads : 1;
    ws.chunk = c->chunk;
    ms_model_freeze(m, 0xFu, 1);
    ms_model_freeze(m, 1u << MS_GROUP_TTT, 0);
    ms_loss_config lc;
    prior_loss_config(&lc, c);
    ms_loss_parts p;
    mlshift_status st = ms_loss_eval(&ws, m, d, c->batch, c->r_cut, &lc, &p, err);
    if (!st) {
        rep->prior_before = p.loss;
        rep->prior_f_mae_before = p.f_mae[MS_HEAD_PRIOR];
        rep->have_main = d->F[MS_HEAD_MAIN] != NULL;
        if (rep->have_main)
            st = main_mae(&ws, m, d, c, &rep->main_f_mae_before, &rep->main_e_mae_before, err);
    }
    if (!st)
        st = ttt_steps(m, d, c, &ws, rep, err);
    if (!st)
        st = ms_loss_eval(&ws, m, d, c->batch, c->r_cut, &lc, &p, err);
    if (!st) {
        rep->prior_after = p.loss;
        rep->prior_f_mae_after = p.f_mae[MS_HEAD_PRIOR];
        if (rep->have_main)
            st = main_mae(&ws, m, d, c, &rep->main_f_mae_after, &rep->main_e_mae_after, err);
    }
    ms_model_freeze(m, 0xFu, 0);
    ms_loss_ws_free(&ws);
    rep->seconds = ms_now() - t0;
    return st;
}

mlshift_status ms_ttt_probe_lr(const ms_model *m, const ms_dataset *d,
                               const ms_ttt_config *c, const double *lr, size_t k,
                               size_t probe, double *best, double *losses,
                               mlshift_error *err)
{
    ms_loss_ws ws;
    ms_loss_ws_init(&ws);
    ms_graph_set_dtype(&ws.mws.g, c->dtype);
    ws.threads = c->threads > 1 ? c->threads : 1;
    ws.chunk = c->chunk;
    ms_loss_config lc;
    prior_loss_config(&lc, c);
    /* the probe set: a seeded sample of at most 4 batches */
    size_t nprobe = d->n < 4 * c->batch ? d->n : 4 * c->batch;
    ms_dataset v = head_view(d, nprobe);
    double lo = INFINITY;
    *best = lr[0];
    mlshift_status st = MLSHIFT_OK;
    for (size_t i = 0; i < k && !st; i++) {
        ms_model *mc = NULL;
        if ((st = ms_model_clone(&mc, m, err)))
            break;
        ms_ttt_config cc = *c;
        cc.opt.lr = lr[i];
        cc.steps = probe;
        cc.patience = 0;
        cc.target_f_mse = 0;
        cc.eval_every = 0;
        cc.progress = NULL;
        ms_ttt_report rep;
        memset(&rep, 0, sizeof rep);
        ms_model_freeze(mc, 0xFu, 1);
        ms_model_freeze(mc, 1u << MS_GROUP_TTT, 0);
        mlshift_error e2;
        double L = INFINITY;
        if (ttt_steps(mc, d, &cc, &ws, &rep, &e2) == MLSHIFT_OK) {
            ms_loss_parts p;
            ms_model_freeze(mc, 0xFu, 0);
            if (ms_loss_eval(&ws, mc, &v, c->batch, c->r_cut, &lc, &p, &e2) == MLSHIFT_OK &&
                isfinite(p.loss))
                L = p.loss;
        }
        if (losses)
            losses[i] = L;
        if (L < lo) {
            lo = L;
            *best = lr[i];
        }
        ms_model_destroy(mc);
    }
    if (!st && !isfinite(lo))
        st = ms_fail(err, MLSHIFT_ERR_VALUE, "ttt: every probed learning rate diverged");
    ms_loss_ws_free(&ws);
    return st;
}

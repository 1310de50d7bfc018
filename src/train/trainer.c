/* SPDX-License-Identifier: MIT */
/* The training loop: seeded epochs of shuffled mini-batches, one optimiser
 * step per batch on the groups the mode trains, validation at the end of
 * every epoch (with the EMA weights when kept), ReduceLROnPlateau, early
 * stopping, and checkpoints that make a resumed run bit-identical to an
 * uninterrupted one.
 *
 * Reproducibility: the permutation of epoch e is a Fisher–Yates shuffle
 * driven by splitmix64 seeded with seed ⊕ φ·(e + 1), so a checkpoint needs
 * only (epoch, step in epoch) to continue the same sequence of batches;
 * everything else that evolves (weights, optimiser moments, EMA, learning
 * rate, plateau counter, best weights, the epoch's running loss) is stored.
 * A checkpoint also records the mode, batch size, seed, frame count and a
 * CRC of the training positions, and refuses to resume a different run. */
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/rng.h"
#include "core/util.h"

#define CKPT_MAGIC "MLSHIFTC"
#define CKPT_VERSION 1u
#define TRAINER_BYTES (4 * 8 + 8 * 8 + 4 * 8)
/* Data parallelism: loss parts summed after the gradient: loss, head[2],
 * and the metrics times the shard's atoms (f_mse[2], f_mae[2]) or
 * structures (e_mae[2]). */
#define PAR_EXTRA 9

const char *ms_train_mode_name(ms_train_mode mode)
{
    static const char *names[] = {"pretrain", "finetune", "joint", "plain"};
    return (unsigned)mode < 4 ? names[mode] : "?";
}

unsigned ms_train_groups(ms_train_mode mode)
{
    switch (mode) {
    case MS_MODE_PRETRAIN:
        return MS_GROUPS_REPR | 1u << MS_GROUP_PRIOR;
    case MS_MODE_FINETUNE:
        return 1u << MS_GROUP_MAIN;
    case MS_MODE_JOINT:
        return MS_GROUPS_REPR | 1u << MS_GROUP_PRIOR | 1u << MS_GROUP_MAIN;
    case MS_MODE_PLAIN:
    default:
        return MS_GROUPS_REPR | 1u << MS_GROUP_MAIN;
    }
}

void ms_train_config_default(ms_train_config *c, ms_train_mode mode)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    ms_optim_config_default(&c->opt, MS_OPT_ADAMW);
    c->opt.lr = 1e-3;
    c->opt.amsgrad = 1;
    c->opt.eps = 1e-7;
    c->opt.weight_decay = 2e-6;
    c->opt.clip_norm = 10;
    c->opt.ema_decay = 0.999;
    c->epochs = 10;
    c->batch = 32;
    c->seed = 1;
    c->w_e = 1;
    c->w_f = 100;
    c->plateau_patience = 5;
    c->plateau_factor = 0.8;
    c->min_lr = 1e-6;
    c->copy_prior_head = 1;
    c->dtype = MS_F32; /* test_train: float32 training ends at float64's validation MAE */
    c->threads = 1;
    c->chunk = 8; /* bench_train: parts of 8 run as fast as the whole batch in a quarter
                     of the memory (aspirin, F = 128: 101 vs 387 MiB) */
}

static void loss_config(ms_loss_config *lc, const ms_train_config *c)
{
    memset(lc, 0, sizeof *lc);
    lc->l2mae = c->l2mae;
    int main_on = c->mode != MS_MODE_PRETRAIN, prior_on = c->mode == MS_MODE_PRETRAIN ||
                                                           c->mode == MS_MODE_JOINT;
    lc->w_e[MS_HEAD_MAIN] = main_on ? c->w_e : 0;
    lc->w_f[MS_HEAD_MAIN] = main_on ? c->w_f : 0;
    lc->w_e[MS_HEAD_PRIOR] = prior_on ? c->w_e : 0;
    lc->w_f[MS_HEAD_PRIOR] = prior_on ? c->w_f : 0;
}

/* Copies every "prior.X" parameter into "main.X". */
static void copy_prior_head(ms_model *m)
{
    for (size_t i = 0; i < m->n_params; i++) {
        const ms_param *p = &m->param[i];
        if (strncmp(p->name, "prior.", 6) != 0)
            continue;
        char name[MS_PARAM_NAME];
        snprintf(name, sizeof name, "main.%s", p->name + 6);
        long j = ms_model_find(m, name);
        if (j >= 0 && m->param[j].numel == p->numel)
            memcpy(m->theta + m->param[j].off, m->theta + p->off, p->numel * sizeof *m->theta);
    }
}

static uint32_t data_crc(const ms_dataset *d)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t k = 0; k < d->n; k++)
        crc = crc32(crc, (const Bytef *)d->f[k].positions,
                    (uInt)(3 * d->f[k].natoms * sizeof(double)));
    return (uint32_t)crc;
}

/* The trainer's evolving state (the "trainer" section). */
typedef struct tstate {
    uint64_t mode, batch, seed, n, crc, P, epoch, step_in_epoch, step;
    double lr, plateau_best, best_val, epoch_loss;
    uint64_t plateau_bad, bad_epochs, have_best, epoch_count;
} tstate;

static void put64(unsigned char **p, uint64_t x)
{
    for (int k = 0; k < 8; k++)
        (*p)[k] = (unsigned char)(x >> (8 * k));
    *p += 8;
}

static uint64_t get64(const unsigned char **p)
{
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x |= (uint64_t)(*p)[k] << (8 * k);
    *p += 8;
    return x;
}

static uint64_t dbits(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double x;
    memcpy(&x, &u, 8);
    return x;
}

#define TSTATE_FIELDS 17
static void tstate_pack(const tstate *t, unsigned char *buf)
{
    unsigned char *p = buf;
    uint64_t v[TSTATE_FIELDS] = {t->mode, t->batch, t->seed, t->n, t->crc, t->P, t->epoch,
                                 t->step_in_epoch, t->step, dbits(t->lr),
                                 dbits(t->plateau_best), dbits(t->best_val),
                                 dbits(t->epoch_loss), t->plateau_bad, t->bad_epochs,
                                 t->have_best, t->epoch_count};
    for (int k = 0; k < TSTATE_FIELDS; k++)
        put64(&p, v[k]);
}

static void tstate_unpack(tstate *t, const unsigned char *buf)
{
    const unsigned char *p = buf;
    uint64_t v[TSTATE_FIELDS];
    for (int k = 0; k < TSTATE_FIELDS; k++)
        v[k] = get64(&p);
    *t = (tstate){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], bitsd(v[9]),
                  bitsd(v[10]), bitsd(v[11]), bitsd(v[12]), v[13], v[14], v[15], v[16]};
}

static mlshift_status save_checkpoint(const char *path, const ms_model *m, const ms_optim *o,
                                      const tstate *t, const double *best, mlshift_error *err)
{
    unsigned char *mb = NULL, *ob = NULL, tb[8 * TSTATE_FIELDS];
    size_t ml = 0, ol = ms_optim_state_bytes(o);
    mlshift_status st = ms_model_serialize(m, &mb, &ml, err);
    if (st)
        return st;
    if (!(ob = malloc(ol ? ol : 1))) {
        free(mb);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    if ((st = ms_optim_save(o, ob))) {
        free(mb), free(ob);
        return ms_fail(err, st, "%s: cannot serialise the optimiser", path);
    }
    tstate_pack(t, tb);
    ms_section s[4] = {{"model", mb, ml}, {"optim", ob, ol}, {"trainer", tb, sizeof tb},
                       {"best", (const unsigned char *)best, t->have_best ? 8 * t->P : 0}};
    st = ms_sections_write(path, CKPT_MAGIC, CKPT_VERSION, s, 4, err);
    free(mb), free(ob);
    return st;
}

static mlshift_status load_checkpoint(const char *path, ms_model *m, ms_optim *o, tstate *t,
                                      double *best, mlshift_error *err)
{
    char *data = NULL;
    size_t len = 0;
    mlshift_status st = ms_read_file(path, &data, &len, err);
    if (st)
        return st;
    ms_section s[8];
    size_t ns = 0;
    const unsigned char *d = (const unsigned char *)data;
    st = ms_sections_parse(d, len, path, CKPT_MAGIC, CKPT_VERSION, s, 8, &ns, err);
    const ms_section *sm = NULL, *so = NULL, *stt = NULL, *sb = NULL;
    if (!st) {
        sm = ms_section_find(s, ns, "model");
        so = ms_section_find(s, ns, "optim");
        stt = ms_section_find(s, ns, "trainer");
        sb = ms_section_find(s, ns, "best");
        if (!sm || !so || !stt || stt->len != 8 * TSTATE_FIELDS)
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: a checkpoint section is missing", path);
    }
    ms_model *cm = NULL;
    if (!st)
        st = ms_model_parse(&cm, sm->data, sm->len, path, err);
    if (!st && (cm->P != m->P || cm->h.F != m->h.F || cm->h.T != m->h.T ||
                cm->h.arch != m->h.arch || cm->n_el != m->n_el))
        st = ms_fail(err, MLSHIFT_ERR_VALUE,
                     "%s: the checkpoint's model differs from this run's model", path);
    if (!st) {
        memcpy(m->theta, cm->theta, m->P * sizeof *m->theta);
        tstate_unpack(t, stt->data);
        st = ms_optim_restore(o, so->data, so->len, err);
    }
    if (!st && t->have_best) {
        if (!sb || sb->len != 8 * m->P)
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: the best-weights section is bad", path);
        else
            memcpy(best, sb->data, sb->len);
    }
    ms_model_destroy(cm);
    free(data);
    return st;
}

static void emit(const ms_train_config *c, ms_train_event *ev)
{
    if (c->progress)
        c->progress(ev, c->progress_ctx);
}

/* Everything one run holds. */
typedef struct run {
    ms_model *m;
    const ms_train_config *c;
    ms_loss_config lc;
    ms_optim o;
    unsigned char *mask;   /* (P) 1: updated */
    double *grad;          /* (P) */
    double *best;          /* (P) */
    size_t *perm;          /* (n) */
    ms_loss_ws ws;
    tstate t;
} run;

static mlshift_status setup(run *r, ms_model *m, const ms_dataset *train,
                            const ms_train_config *c, const char *resume,
                            ms_train_report *rep, mlshift_error *err)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->c = c;
    ms_loss_ws_init(&r->ws);
    ms_graph_set_dtype(&r->ws.mws.g, c->dtype);
    r->ws.threads = c->threads > 1 ? c->threads : 1;
    r->ws.chunk = c->chunk;
    loss_config(&r->lc, c);
    if (c->epochs < 1 || c->batch < 1)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "train: epochs and batch must be ≥ 1");
    if (train->n == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "train: no training frames");
    for (int h = 0; h < 2; h++)
        if ((r->lc.w_f[h] > 0 && !train->F[h]) || (r->lc.w_e[h] > 0 && !train->E[h]))
            return ms_fail(err, MLSHIFT_ERR_MISSING,
                           "train: mode %s needs %s %s labels on every training frame",
                           ms_train_mode_name(c->mode), h == MS_HEAD_MAIN ? "reference" : "prior",
                           r->lc.w_f[h] > 0 && !train->F[h] ? "force" : "energy");
    unsigned groups = ms_train_groups(c->mode);
    ms_model_freeze(m, 0xFu, 1);
    ms_model_freeze(m, groups, 0);
    const size_t P = m->P;
    r->mask = calloc(P ? P : 1, 1);
    r->grad = calloc(P + PAR_EXTRA, sizeof *r->grad);  /* + the loss parts (MPI) */
    r->best = calloc(P ? P : 1, sizeof *r->best);
    r->perm = calloc(train->n, sizeof *r->perm);
    if (!r->mask || !r->grad || !r->best || !r->perm)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
    ms_model_update_mask(m, r->mask);
    tstate *t = &r->t;
    if (!resume) {
        if (c->mode == MS_MODE_FINETUNE && c->copy_prior_head)
            copy_prior_head(m);
        for (int h = 0; h < 2; h++) {
            if (r->lc.w_e[h] <= 0 && r->lc.w_f[h] <= 0)
                continue;
            mlshift_status st = ms_fit_head(m, train, (ms_head)h, &rep->underdetermined[h], err);
            if (st)
                return st;
        }
    }
    mlshift_status st = ms_optim_init(&r->o, &c->opt, P, m->theta, err);
    if (st)
        return st;
    *t = (tstate){(uint64_t)c->mode, c->batch, c->seed, train->n, data_crc(train), P, 0, 0, 0,
                  c->opt.lr, INFINITY, INFINITY, 0, 0, 0, 0, 0};
    ms_plateau pl;
    ms_plateau_init(&pl, c->plateau_factor, c->plateau_patience, c->min_lr);
    t->plateau_best = pl.best;
    if (resume) {
        tstate want = *t;
        if ((st = load_checkpoint(resume, m, &r->o, t, r->best, err)))
            return st;
        const char *what = t->mode != want.mode     ? "mode"
                           : t->batch != want.batch ? "batch size"
                           : t->seed != want.seed   ? "seed"
                           : t->n != want.n         ? "number of training frames"
                           : t->crc != want.crc     ? "training data"
                           : t->P != want.P         ? "model size"
                                                    : NULL;
        if (what)
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "%s: the checkpoint was written by a run with another %s", resume,
                           what);
        ms_optim_set_lr(&r->o, t->lr);
    }
    return MLSHIFT_OK;
}

static void run_free(run *r)
{
    ms_optim_free(&r->o);
    ms_loss_ws_free(&r->ws);
    free(r->mask);
    free(r->grad);
    free(r->best);
    free(r->perm);
}

static void epoch_perm(size_t *perm, size_t n, uint64_t seed, uint64_t epoch)
{
    uint64_t s = seed ^ (0x9e3779b97f4a7c15ull * (epoch + 1));
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    ms_rng_shuffle(&s, perm, n);
}

/* ---- data parallelism (issue 11; ms_train_parallel in train.h) */

/* The gradient (into r->grad, zeroed first) and loss parts of the batch
 * d[idx[0..B)]: the whole batch on one process; with c->parallel this
 * rank's shard, then one allreduce of the gradient and the parts. */
static mlshift_status batch_grad(run *r, const ms_dataset *d, const size_t *idx, size_t B,
                                 ms_loss_parts *parts, mlshift_error *err)
{
    const ms_train_parallel *par = r->c->parallel;
    const size_t P = r->m->P;
    memset(r->grad, 0, (P + PAR_EXTRA) * sizeof *r->grad);
    if (!par || par->size <= 1)
        return ms_loss_grad(&r->ws, r->m, d, idx, B, r->c->r_cut, &r->lc, parts, r->grad, err);
    if (r->lc.center_energy)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "train: a centred energy loss cannot be split over processes");
    size_t lo = B * (size_t)par->rank / (size_t)par->size;
    size_t hi = B * (size_t)(par->rank + 1) / (size_t)par->size;
    size_t N = 0, Ns = 0;
    for (size_t k = 0; k < B; k++) {
        size_t n = d->f[idx[k]].natoms;
        N += n;
        if (k >= lo && k < hi)
            Ns += n;
    }
    ms_loss_parts p;
    memset(&p, 0, sizeof p);
    if (hi > lo) {
        /* w_E/B_s · Σ_shard and w_F/(3N_s) · Σ_shard rescaled to /B and /(3N) */
        ms_loss_config lc = r->lc;
        for (int h = 0; h < 2; h++) {
            lc.w_e[h] *= (double)(hi - lo) / (double)B;
            lc.w_f[h] *= (double)Ns / (double)(N ? N : 1);
        }
        mlshift_status st = ms_loss_grad(&r->ws, r->m, d, idx + lo, hi - lo, r->c->r_cut, &lc,
                                         &p, r->grad, err);
        if (st)
            return st;
    }
    double *x = r->grad + P, bs = (double)(hi - lo), ns = (double)Ns;
    double v[PAR_EXTRA] = {p.loss, p.head[0], p.head[1], p.f_mse[0] * ns, p.f_mse[1] * ns,
                           p.f_mae[0] * ns, p.f_mae[1] * ns, p.e_mae[0] * bs, p.e_mae[1] * bs};
    memcpy(x, v, sizeof v);
    if (par->allreduce_sum(par->ctx, r->grad, P + PAR_EXTRA))
        return ms_fail(err, MLSHIFT_ERR_IO, "train: the gradient allreduce failed");
    double n_all = (double)(N ? N : 1), b_all = (double)(B ? B : 1);
    *parts = (ms_loss_parts){x[0], {x[1], x[2]}, {x[3] / n_all, x[4] / n_all},
                             {x[5] / n_all, x[6] / n_all}, {x[7] / b_all, x[8] / b_all}};
    return MLSHIFT_OK;
}

/* Validation (EMA weights swapped in when kept) and the end-of-epoch
 * decisions; returns 1 when early stopping ends the run. */
static int epoch_end(run *r, const ms_dataset *val, ms_train_event *ev, mlshift_error *err,
                     mlshift_status *st)
{
    const ms_train_config *c = r->c;
    tstate *t = &r->t;
    double metric = t->epoch_count ? t->epoch_loss / (double)t->epoch_count : INFINITY;
    int ema = r->o.ema != NULL;
    ev->have_val = 0;
    if (ema)
        ms_optim_swap_ema(&r->o, r->m->theta, r->mask);
    if (val && val->n) {
        *st = ms_loss_eval(&r->ws, r->m, val, c->batch, c->r_cut, &r->lc, &ev->val, err);
        if (!*st) {
            ev->have_val = 1;
            metric = ev->val.loss;
        }
    }
    if (!*st && metric < t->best_val) {
        t->best_val = metric;
        memcpy(r->best, r->m->theta, r->m->P * sizeof *r->best);
        t->have_best = 1;
        t->bad_epochs = 0;
    } else {
        t->bad_epochs++;
    }
    if (ema)
        ms_optim_swap_ema(&r->o, r->m->theta, r->mask);
    if (*st)
        return 1;
    if (c->plateau_patience > 0) {
        ms_plateau pl;
        ms_plateau_init(&pl, c->plateau_factor, c->plateau_patience, c->min_lr);
        pl.best = t->plateau_best;
        pl.num_bad = (int)t->plateau_bad;
        t->lr = ms_plateau_step(&pl, metric, t->lr);
        t->plateau_best = pl.best;
        t->plateau_bad = (uint64_t)pl.num_bad;
        ms_optim_set_lr(&r->o, t->lr);
    }
    return c->early_stop > 0 && t->bad_epochs >= (uint64_t)c->early_stop;
}

mlshift_status ms_train(ms_model *m, const ms_dataset *train, const ms_dataset *val,
                        const ms_train_config *c, const char *resume,
                        ms_train_report *rep, mlshift_error *err)
{
    memset(rep, 0, sizeof *rep);
    double t0 = ms_now();
    run r;
    mlshift_status st = setup(&r, m, train, c, resume, rep, err);
    tstate *t = &r.t;
    const size_t n = train->n, spe = (n + c->batch - 1) / c->batch;
    size_t run_steps = 0, frames = 0;
    ms_train_event ev;
    memset(&ev, 0, sizeof ev);
    ev.epochs = c->epochs;
    ev.steps_per_epoch = spe;
    ev.steps_total = spe * (size_t)c->epochs;
    while (!st && t->epoch < (uint64_t)c->epochs) {
        epoch_perm(r.perm, n, c->seed, t->epoch);
        ev.epoch = (int)t->epoch;
        for (; !st && t->step_in_epoch < spe; ) {
            size_t s0 = t->step_in_epoch * c->batch;
            size_t B = n - s0 < c->batch ? n - s0 : c->batch;
            ms_loss_parts parts;
            if ((st = batch_grad(&r, train, r.perm + s0, B, &parts, err)))
                break;
            ev.grad_norm = ms_optim_step(&r.o, m->theta, r.grad, r.mask);
            t->step_in_epoch++;
            t->step++;
            t->epoch_loss += parts.loss;
            t->epoch_count++;
            run_steps++;
            frames += B;
            ev.epoch_end = 0;
            ev.step = t->step;
            ev.step_in_epoch = t->step_in_epoch;
            ev.loss = parts.loss;
            ev.lr = t->lr;
            ev.train = parts;
            ev.seconds = ms_now() - t0;
            ev.frames_done = frames;
            emit(c, &ev);
            if (c->checkpoint && c->checkpoint_every && t->step % c->checkpoint_every == 0 &&
                (st = save_checkpoint(c->checkpoint, m, &r.o, t, r.best, err)))
                break;
            if (c->stop_after && run_steps >= c->stop_after) {
                rep->interrupted = 1;
                break;
            }
        }
        if (st || rep->interrupted)
            break;
        int stop = epoch_end(&r, val, &ev, err, &st);
        if (st)
            break;
        t->epoch++;
        t->step_in_epoch = 0;
        t->epoch_loss = 0;
        t->epoch_count = 0;
        ev.epoch_end = 1;
        ev.lr = t->lr;
        ev.seconds = ms_now() - t0;
        emit(c, &ev);
        if (c->checkpoint && (st = save_checkpoint(c->checkpoint, m, &r.o, t, r.best, err)))
            break;
        if (stop) {
            rep->stopped_early = 1;
            break;
        }
    }
    if (!st && !rep->interrupted) {
        if (val && val->n && t->have_best) {
            memcpy(m->theta, r.best, m->P * sizeof *m->theta);
            rep->weights = 2;
        } else if (r.o.ema) {
            ms_optim_swap_ema(&r.o, m->theta, r.mask);
            rep->weights = 1;
        }
        if (val && val->n) {
            st = ms_loss_eval(&r.ws, m, val, c->batch, c->r_cut, &r.lc, &rep->val, err);
            rep->have_val = !st;
        }
    }
    rep->steps = t->step;
    rep->epochs = (int)t->epoch;
    rep->seconds = ms_now() - t0;
    ms_model_freeze(m, 0xFu, 0);
    run_free(&r);
    return st;
}

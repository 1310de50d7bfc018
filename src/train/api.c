/* SPDX-License-Identifier: MIT */
/* The public training API: data sets with per-head labels (prior labels
 * computed once and cached), training (eq. 6), the loss of a set,
 * test-time training (eq. 7) with its presets and learning-rate probe, and
 * sGDML training. Thin: each call converts the public structs to the
 * trainer's and back, so the command line, the ASE binding and a C program
 * run the same code.
 *
 * The prior-label cache is a sectioned file (train/sections.c, magic
 * "MLSHIFTP"): "key" = the prior's spec, the frame count and the CRC-32 of
 * every frame's positions and numbers, "E" (n,) eV, "F" (ΣN, 3) eV/Å. A
 * cache whose key differs is recomputed and replaced, never trusted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/util.h"
#include "model/handle.h"
#include "prior/sgdml.h"
#include "train/train.h"

struct mlshift_dataset {
    ms_dataset d;
};

/* ----------------------------------------------------------- data sets */

mlshift_status mlshift_dataset_create(const mlshift_frames *fr, const size_t *idx, size_t n,
                                      mlshift_dataset **out, mlshift_error *err)
{
    *out = NULL;
    mlshift_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "data set: out of memory");
    mlshift_status s = ms_dataset_init(&d->d, fr, idx, n, err);
    if (s != MLSHIFT_OK) {
        free(d);
        return s;
    }
    *out = d;
    return MLSHIFT_OK;
}

void mlshift_dataset_destroy(mlshift_dataset *d)
{
    if (!d)
        return;
    ms_dataset_free(&d->d);
    free(d);
}

size_t mlshift_dataset_count(const mlshift_dataset *d) { return d->d.n; }
size_t mlshift_dataset_atoms(const mlshift_dataset *d) { return d->d.off[d->d.n]; }

mlshift_status mlshift_dataset_frame(const mlshift_dataset *d, size_t k, mlshift_frame *f)
{
    if (k >= d->d.n)
        return MLSHIFT_ERR_VALUE;
    *f = d->d.f[k];
    return MLSHIFT_OK;
}

unsigned mlshift_dataset_labels(const mlshift_dataset *d, mlshift_head head)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return 0;
    return (d->d.E[head] != NULL) | (unsigned)(d->d.F[head] != NULL) << 1;
}

mlshift_status mlshift_dataset_set_labels(mlshift_dataset *d, mlshift_head head,
                                          const double *E, const double *F, mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "data set: unknown head %d", (int)head);
    size_t n = d->d.n, nf = 3 * d->d.off[n];
    for (size_t k = 0; E && k < n; k++)
        if (!isfinite(E[k]))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "data set: energy label %zu is not finite", k);
    for (size_t k = 0; F && k < nf; k++)
        if (!isfinite(F[k]))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "data set: force label of atom %zu is not "
                           "finite", k / 3);
    return ms_dataset_set_labels(&d->d, (ms_head)head, E, F, err);
}

static void cache_key(const ms_dataset *d, const char *spec, char *key, size_t cap)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t k = 0; k < d->n; k++) {
        crc = crc32(crc, (const Bytef *)d->f[k].positions,
                    (uInt)(3 * d->f[k].natoms * sizeof(double)));
        crc = crc32(crc, (const Bytef *)d->f[k].numbers, (uInt)(d->f[k].natoms * sizeof(int)));
    }
    snprintf(key, cap, "%s|%zu|%08lx", spec, d->n, (unsigned long)crc);
}

/* 0 when the cache held this key's labels (now set), −1 otherwise. */
static int cache_read(ms_dataset *d, const char *path, const char *key)
{
    char *data = NULL;
    size_t len = 0;
    mlshift_error err;
    if (access(path, R_OK) != 0 || ms_read_file(path, &data, &len, &err))
        return -1;
    ms_section s[4];
    size_t ns = 0;
    int ok = 0;
    if (!ms_sections_parse((const unsigned char *)data, len, path, "MLSHIFTP", 1, s, 4, &ns,
                           &err)) {
        const ms_section *k = ms_section_find(s, ns, "key"), *e = ms_section_find(s, ns, "E"),
                         *f = ms_section_find(s, ns, "F");
        size_t nf = 3 * d->off[d->n];
        if (k && e && f && k->len == strlen(key) && !memcmp(k->data, key, k->len) &&
            e->len == 8 * d->n && f->len == 8 * nf) {
            double *E = malloc(e->len + 8), *F = malloc(f->len + 8);
            if (E && F) {
                memcpy(E, e->data, e->len);
                memcpy(F, f->data, f->len);
                ok = !ms_dataset_set_labels(d, MS_HEAD_PRIOR, E, F, &err);
            }
            free(E);
            free(F);
        }
    }
    free(data);
    return ok ? 0 : -1;
}

mlshift_status mlshift_dataset_prior_labels(mlshift_dataset *ds, mlshift_prior *p,
                                            const char *cache, int *reused, int *cached,
                                            mlshift_count_fn progress, void *ctx,
                                            mlshift_error *err)
{
    ms_dataset *d = &ds->d;
    const char *spec = mlshift_prior_spec(p);
    char key[700];
    cache_key(d, spec, key, sizeof key);
    if (reused)
        *reused = 0;
    if (cached)
        *cached = 0;
    if (cache && cache_read(d, cache, key) == 0) {
        if (reused)
            *reused = 1;
        if (cached)
            *cached = 1;
        return MLSHIFT_OK;
    }
    size_t nf = 3 * d->off[d->n];
    double *E = malloc((d->n + 1) * sizeof *E), *F = malloc((nf + 1) * sizeof *F);
    mlshift_status s = MLSHIFT_OK;
    if (!E || !F) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "prior labels: out of memory");
        goto done;
    }
    for (size_t k = 0; k < d->n; k++) {
        if ((s = mlshift_prior_compute(p, &d->f[k], &E[k], F + 3 * d->off[k], NULL, err))) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err ? err->message : "");
            ms_fail(err, s, "prior %s on frame %zu: %s", spec, k, msg);
            goto done;
        }
        if (progress)
            progress(ctx, k + 1, d->n);
    }
    if ((s = ms_dataset_set_labels(d, MS_HEAD_PRIOR, E, F, err)))
        goto done;
    if (cache) {
        ms_section sec[3] = {{"key", (const unsigned char *)key, strlen(key)},
                             {"E", (const unsigned char *)E, 8 * d->n},
                             {"F", (const unsigned char *)F, 8 * nf}};
        mlshift_error e2;
        if (!ms_sections_write(cache, "MLSHIFTP", 1, sec, 3, &e2) && cached)
            *cached = 1;
    }
done:
    free(E);
    free(F);
    return s;
}

/* ------------------------------------------------------------ optimiser */

int mlshift_optimizer_parse(const char *name) { return name ? ms_opt_kind_parse(name) : -1; }

static void optim_out(mlshift_optim_config *o, const ms_optim_config *c)
{
    o->kind = (mlshift_optimizer)c->kind;
    o->lr = c->lr;
    o->momentum = c->momentum;
    o->beta1 = c->beta1;
    o->beta2 = c->beta2;
    o->eps = c->eps;
    o->amsgrad = c->amsgrad;
    o->weight_decay = c->weight_decay;
    o->clip_norm = c->clip_norm;
    o->ema_decay = c->ema_decay;
}

static void optim_in(ms_optim_config *c, const mlshift_optim_config *o)
{
    c->kind = (ms_opt_kind)o->kind;
    c->lr = o->lr;
    c->momentum = o->momentum;
    c->beta1 = o->beta1;
    c->beta2 = o->beta2;
    c->eps = o->eps;
    c->amsgrad = o->amsgrad;
    c->weight_decay = o->weight_decay;
    c->clip_norm = o->clip_norm;
    c->ema_decay = o->ema_decay;
}

void mlshift_optim_config_default(mlshift_optim_config *c, mlshift_optimizer kind)
{
    ms_optim_config o;
    ms_optim_config_default(&o, (ms_opt_kind)kind);
    memset(c, 0, sizeof *c);
    optim_out(c, &o);
}

static void parts_out(mlshift_loss_parts *o, const ms_loss_parts *p)
{
    o->loss = p->loss;
    for (int h = 0; h < 2; h++) {
        o->head[h] = p->head[h];
        o->f_mse[h] = p->f_mse[h];
        o->f_mae[h] = p->f_mae[h];
        o->e_mae[h] = p->e_mae[h];
    }
}

/* ------------------------------------------------------------- training */

static const char *mode_names[] = {"pretrain", "finetune", "joint", "plain"};

const char *mlshift_train_mode_name(mlshift_train_mode m)
{
    return (unsigned)m < 4 ? mode_names[m] : "?";
}

int mlshift_train_mode_parse(const char *name)
{
    for (int k = 0; name && k < 4; k++)
        if (!strcmp(name, mode_names[k]))
            return k;
    return -1;
}

void mlshift_train_config_default(mlshift_train_config *c, mlshift_train_mode mode)
{
    ms_train_config t;
    ms_train_config_default(&t, (ms_train_mode)mode);
    memset(c, 0, sizeof *c);
    c->mode = mode;
    optim_out(&c->opt, &t.opt);
    c->epochs = t.epochs;
    c->batch = t.batch;
    c->seed = t.seed;
    c->energy_weight = t.w_e;
    c->force_weight = t.w_f;
    c->l2mae = t.l2mae;
    c->cutoff = t.r_cut;
    c->plateau_patience = t.plateau_patience;
    c->plateau_factor = t.plateau_factor;
    c->min_lr = t.min_lr;
    c->early_stop = t.early_stop;
    c->checkpoint_every = t.checkpoint_every;
    c->checkpoint = t.checkpoint;
    c->stop_after = t.stop_after;
    c->copy_prior_head = t.copy_prior_head;
    c->dtype = t.dtype == MS_F32 ? MLSHIFT_FLOAT32 : MLSHIFT_FLOAT64;
    c->threads = t.threads;
    c->chunk = t.chunk;
}

typedef struct train_relay {
    mlshift_train_progress_fn fn;
    void *ctx;
} train_relay;

static void train_event(const ms_train_event *ev, void *ctx)
{
    train_relay *r = ctx;
    mlshift_train_event o;
    memset(&o, 0, sizeof o);
    o.epoch_end = ev->epoch_end;
    o.epoch = ev->epoch;
    o.epochs = ev->epochs;
    o.step = ev->step;
    o.steps_total = ev->steps_total;
    o.step_in_epoch = ev->step_in_epoch;
    o.steps_per_epoch = ev->steps_per_epoch;
    o.loss = ev->loss;
    o.lr = ev->lr;
    o.grad_norm = ev->grad_norm;
    parts_out(&o.train, &ev->train);
    o.have_val = ev->have_val;
    parts_out(&o.val, &ev->val);
    o.seconds = ev->seconds;
    o.frames_done = ev->frames_done;
    r->fn(&o, r->ctx);
}

mlshift_status mlshift_train(mlshift_model *mm, const mlshift_dataset *train,
                             const mlshift_dataset *val, const mlshift_train_config *c,
                             const char *resume, mlshift_train_report *rep,
                             mlshift_error *err)
{
    if ((unsigned)c->mode > MLSHIFT_TRAIN_PLAIN)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "train: unknown mode %d", (int)c->mode);
    ms_train_config t;
    ms_train_config_default(&t, (ms_train_mode)c->mode);
    optim_in(&t.opt, &c->opt);
    t.epochs = c->epochs;
    t.batch = c->batch;
    t.seed = c->seed;
    t.w_e = c->energy_weight;
    t.w_f = c->force_weight;
    t.l2mae = c->l2mae;
    t.r_cut = c->cutoff;
    t.plateau_patience = c->plateau_patience;
    t.plateau_factor = c->plateau_factor;
    t.min_lr = c->min_lr;
    t.early_stop = c->early_stop;
    t.checkpoint_every = c->checkpoint_every;
    t.checkpoint = c->checkpoint;
    t.stop_after = c->stop_after;
    t.copy_prior_head = c->copy_prior_head;
    t.dtype = c->dtype == MLSHIFT_FLOAT64 ? MS_F64 : MS_F32;
    t.threads = c->threads;
    t.chunk = c->chunk;
    ms_train_parallel par;
    if (c->parallel) {
        par = (ms_train_parallel){c->parallel->rank, c->parallel->size,
                                  c->parallel->allreduce_sum, c->parallel->ctx};
        t.parallel = &par;
    }
    train_relay relay = {c->progress, c->progress_ctx};
    if (c->progress) {
        t.progress = train_event;
        t.progress_ctx = &relay;
    }
    ms_train_report r;
    memset(&r, 0, sizeof r);
    mlshift_status s = ms_train(ms_model_of(mm), &train->d, val ? &val->d : NULL, &t, resume,
                                &r, err);
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->steps = r.steps;
        rep->epochs = r.epochs;
        rep->stopped_early = r.stopped_early;
        rep->interrupted = r.interrupted;
        rep->weights = r.weights;
        rep->have_val = r.have_val;
        parts_out(&rep->val, &r.val);
        rep->underdetermined[0] = r.underdetermined[0];
        rep->underdetermined[1] = r.underdetermined[1];
        rep->seconds = r.seconds;
    }
    return s;
}

mlshift_status mlshift_dataset_loss(mlshift_model *mm, const mlshift_dataset *d, size_t batch,
                                    double cutoff, const mlshift_loss_config *c,
                                    mlshift_loss_parts *out, mlshift_error *err)
{
    ms_loss_config lc;
    memset(&lc, 0, sizeof lc);
    for (int h = 0; h < 2; h++) {
        lc.w_e[h] = c->w_e[h];
        lc.w_f[h] = c->w_f[h];
    }
    lc.l2mae = c->l2mae;
    lc.center_energy = c->center_energy;
    ms_loss_ws ws;
    ms_loss_ws_init(&ws);
    ms_loss_parts p;
    memset(&p, 0, sizeof p);
    mlshift_status s = ms_loss_eval(&ws, ms_model_of(mm), &d->d, batch ? batch : 32, cutoff,
                                    &lc, &p, err);
    ms_loss_ws_free(&ws);
    if (s == MLSHIFT_OK)
        parts_out(out, &p);
    return s;
}

/* ------------------------------------------------------------------ TTT */

static void ttt_out(mlshift_ttt_config *o, const ms_ttt_config *c)
{
    memset(o, 0, sizeof *o);
    optim_out(&o->opt, &c->opt);
    o->steps = c->steps;
    o->batch = c->batch;
    o->seed = c->seed;
    o->energy_weight = c->w_e;
    o->force_weight = c->w_f;
    o->l2mae = c->l2mae;
    o->cutoff = c->r_cut;
    o->patience = c->patience;
    o->target_f_mse = c->target_f_mse;
    o->eval_every = c->eval_every;
    o->eval_frames = c->eval_frames;
    o->dtype = c->dtype == MS_F32 ? MLSHIFT_FLOAT32 : MLSHIFT_FLOAT64;
    o->threads = c->threads;
    o->chunk = c->chunk;
}

typedef struct ttt_relay {
    mlshift_ttt_progress_fn fn;
    void *ctx;
} ttt_relay;

static void ttt_event(const ms_ttt_event *ev, void *ctx)
{
    ttt_relay *r = ctx;
    mlshift_ttt_event o = {ev->step, ev->steps, ev->prior_loss, ev->prior_loss_avg,
                           ev->prior_f_mse, ev->lr, ev->have_main, ev->main_f_mae,
                           ev->main_e_mae};
    r->fn(&o, r->ctx);
}

static void ttt_in(ms_ttt_config *c, const mlshift_ttt_config *o, ttt_relay *relay)
{
    ms_ttt_config_default(c);
    optim_in(&c->opt, &o->opt);
    c->steps = o->steps;
    c->batch = o->batch;
    c->seed = o->seed;
    c->w_e = o->energy_weight;
    c->w_f = o->force_weight;
    c->l2mae = o->l2mae;
    c->r_cut = o->cutoff;
    c->patience = o->patience;
    c->target_f_mse = o->target_f_mse;
    c->eval_every = o->eval_every;
    c->eval_frames = o->eval_frames;
    c->dtype = o->dtype == MLSHIFT_FLOAT64 ? MS_F64 : MS_F32;
    c->threads = o->threads;
    c->chunk = o->chunk;
    relay->fn = o->progress;
    relay->ctx = o->progress_ctx;
    if (o->progress) {
        c->progress = ttt_event;
        c->progress_ctx = relay;
    }
}

mlshift_status mlshift_ttt_config_preset(mlshift_ttt_config *o, const char *preset,
                                         mlshift_error *err)
{
    ms_ttt_config c;
    ms_ttt_config_default(&c);
    if (!preset || !strcmp(preset, "md17")) {
        /* the defaults: SGD lr 1e-3, momentum 0.9, wd 1e-3, 3000 steps */
    } else if (!strcmp(preset, "spice")) {
        c.opt.lr = 1e-4;
        c.steps = 250;
    } else if (!strcmp(preset, "md22")) {
        c.opt.lr = 1e-5;
        c.steps = 50;
    } else if (!strcmp(preset, "oc20")) {
        ms_optim_config_default(&c.opt, MS_OPT_ADAM);
        c.opt.lr = 1e-4;
        c.opt.weight_decay = 1e-3;
        c.opt.clip_norm = 10;
        c.steps = 11;
    } else {
        return ms_fail(err, MLSHIFT_ERR_VALUE, "ttt: preset '%s': md17, spice, md22 or oc20",
                       preset);
    }
    ttt_out(o, &c);
    return MLSHIFT_OK;
}

mlshift_status mlshift_ttt(mlshift_model *mm, const mlshift_dataset *d,
                           const mlshift_ttt_config *o, mlshift_ttt_report *rep,
                           mlshift_error *err)
{
    ms_ttt_config c;
    ttt_relay relay;
    ttt_in(&c, o, &relay);
    ms_ttt_report r;
    memset(&r, 0, sizeof r);
    mlshift_status s = ms_ttt(ms_model_of(mm), &d->d, &c, &r, err);
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->steps = r.steps;
        rep->stop_reason = r.stop_reason;
        rep->prior_before = r.prior_before;
        rep->prior_after = r.prior_after;
        rep->prior_f_mae_before = r.prior_f_mae_before;
        rep->prior_f_mae_after = r.prior_f_mae_after;
        rep->have_main = r.have_main;
        rep->main_f_mae_before = r.main_f_mae_before;
        rep->main_f_mae_after = r.main_f_mae_after;
        rep->main_e_mae_before = r.main_e_mae_before;
        rep->main_e_mae_after = r.main_e_mae_after;
        rep->seconds = r.seconds;
    }
    return s;
}

mlshift_status mlshift_ttt_probe_lr(const mlshift_model *mm, const mlshift_dataset *d,
                                    const mlshift_ttt_config *o, const double *lr, size_t k,
                                    size_t probe, double *best, double *losses,
                                    mlshift_error *err)
{
    ms_ttt_config c;
    ttt_relay relay;
    ttt_in(&c, o, &relay);
    c.progress = NULL;
    double buf[64];
    if (!losses && k > 64)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "ttt: at most 64 learning-rate candidates");
    return ms_ttt_probe_lr(ms_model_of_const(mm), &d->d, &c, lr, k, probe, best,
                           losses ? losses : buf, err);
}

/* ---------------------------------------------------------------- sGDML */

mlshift_status mlshift_sgdml_train(const mlshift_frames *fr, const mlshift_sgdml_options *o,
                                   const char *path, mlshift_sgdml_report *rep,
                                   mlshift_error *err)
{
    if (o->nsig > 64)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: at most 64 sigma values");
    ms_sgdml_train_opts t;
    memset(&t, 0, sizeof t);
    t.samples = o->samples;
    t.val = o->val;
    t.sigmas = o->sigmas;
    t.nsig = o->nsig;
    t.seed = o->seed;
    t.lambda = o->lambda;
    t.max_memory = o->max_memory;
    t.no_perms = o->no_perms;
    t.full_grid = o->full_grid;
    ms_sgdml_model mo;
    memset(&mo, 0, sizeof mo);
    ms_sgdml_train_report r;
    memset(&r, 0, sizeof r);
    mlshift_status s = ms_sgdml_train(fr, &t, &mo, &r, err);
    if (s == MLSHIFT_OK)
        s = ms_sgdml_save(&mo, path, err);
    ms_sgdml_model_free(&mo);
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->frames = r.n_frames;
        rep->perms = r.nperms;
        rep->sigma = r.sigma;
        for (size_t k = 0; k < 64; k++) {
            rep->val_rmse[k] = r.val_rmse[k];
            rep->val_rmse_sub[k] = r.val_rmse_sub[k];
        }
        rep->sub_samples = r.sub_samples;
        rep->seconds = r.train_seconds;
    }
    return s;
}

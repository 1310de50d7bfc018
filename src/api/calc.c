/* SPDX-License-Identifier: MIT */
/* One calculator for a prior or a model alike (mlshift_calc_*): energy,
 * forces, per-atom energies and virial of a structure or a batch, the run-time
 * cutoff fixed or refined per structure (paper eq. 4), the errors against a
 * set's labels, and the library's version. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "model/handle.h"
#include "shift/stats.h"

struct mlshift_calc {
    mlshift_prior *prior;           /* exactly one of prior, model */
    mlshift_model *model;
    mlshift_head head;
    double cutoff;                  /* Å; <= 0: the model's training cutoff */
    double last_cutoff;
    /* automatic refinement (refine = 1) */
    int refine;
    mlshift_train_stats st;         /* a deep copy */
    double *radii;                  /* (k,) */
    size_t k;
    mlshift_shift_ws *ws;
    mlshift_frame *fb;              /* (cap,) batch views */
    size_t cap;
};

const char *mlshift_version(void) { return MLSHIFT_VERSION; }

mlshift_status mlshift_calc_from_prior(mlshift_prior *p, mlshift_calc **out, mlshift_error *err)
{
    *out = NULL;
    if (!p)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: no prior");
    mlshift_calc *c = calloc(1, sizeof *c);
    if (!c)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "calculator: out of memory");
    c->prior = p;
    *out = c;
    return MLSHIFT_OK;
}

mlshift_status mlshift_calc_from_model(mlshift_model *m, mlshift_head head, double cutoff,
                                       mlshift_calc **out, mlshift_error *err)
{
    *out = NULL;
    if (!m)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: no model");
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: unknown head %d", (int)head);
    if (!isfinite(cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: the cutoff is not finite");
    mlshift_calc *c = calloc(1, sizeof *c);
    if (!c)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "calculator: out of memory");
    c->model = m;
    c->head = head;
    c->cutoff = cutoff;
    *out = c;
    return MLSHIFT_OK;
}

static void drop_refinement(mlshift_calc *c)
{
    if (c->refine)
        ms_stats_free(&c->st);
    memset(&c->st, 0, sizeof c->st);
    free(c->radii);
    c->radii = NULL;
    c->k = 0;
    c->refine = 0;
}

void mlshift_calc_destroy(mlshift_calc *c)
{
    if (!c)
        return;
    drop_refinement(c);
    mlshift_shift_ws_destroy(c->ws);
    free(c->fb);
    free(c);
}

mlshift_status mlshift_calc_set_cutoff(mlshift_calc *c, double cutoff, mlshift_error *err)
{
    if (!c->model)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: a prior has no run-time cutoff");
    if (!isfinite(cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: the cutoff is not finite");
    drop_refinement(c);
    c->cutoff = cutoff;
    return MLSHIFT_OK;
}

mlshift_status mlshift_calc_set_refinement(mlshift_calc *c, const mlshift_train_stats *st,
                                           const double *radii, size_t k, mlshift_error *err)
{
    if (!c->model)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: radius refinement needs a model");
    if (!st || !st->spectrum || !st->natoms_max)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: refinement needs statistics "
                       "with a spectrum");
    if (!c->ws && !(c->ws = mlshift_shift_ws_create()))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "calculator: out of memory");
    drop_refinement(c);
    mlshift_train_stats cp = *st;
    cp.spectrum = malloc(st->natoms_max * sizeof *cp.spectrum);
    cp.compositions = malloc(st->compositions_len + 1);
    double *r = malloc((k ? k : 1) * sizeof *r);
    if (!cp.spectrum || !cp.compositions || !r) {
        free(cp.spectrum);
        free(cp.compositions);
        free(r);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "calculator: out of memory");
    }
    memcpy(cp.spectrum, st->spectrum, st->natoms_max * sizeof *cp.spectrum);
    if (st->compositions_len)
        memcpy(cp.compositions, st->compositions, st->compositions_len);
    cp.compositions[st->compositions_len] = 0;
    if (k)
        memcpy(r, radii, k * sizeof *r);
    c->st = cp;
    c->radii = r;
    c->k = k;
    c->refine = 1;
    return MLSHIFT_OK;
}

double mlshift_calc_last_cutoff(const mlshift_calc *c) { return c->model ? c->last_cutoff : 0; }

unsigned mlshift_calc_caps(const mlshift_calc *c)
{
    if (c->model)
        return MLSHIFT_CALC_FORCES | MLSHIFT_CALC_ENERGIES | MLSHIFT_CALC_VIRIAL |
               MLSHIFT_CALC_PERIODIC;
    unsigned p = mlshift_prior_caps(c->prior), caps = MLSHIFT_CALC_FORCES;
    if (p & MLSHIFT_PRIOR_VIRIAL)
        caps |= MLSHIFT_CALC_VIRIAL;
    if (p & MLSHIFT_PRIOR_PERIODIC)
        caps |= MLSHIFT_CALC_PERIODIC;
    return caps;
}

/* The cutoff for frame f: fixed, or refined (eq. 4). */
static mlshift_status cutoff_for(mlshift_calc *c, const mlshift_frame *f, double *r,
                                 mlshift_error *err)
{
    if (!c->refine) {
        *r = c->cutoff > 0 ? c->cutoff : mlshift_model_cutoff(c->model);
        return MLSHIFT_OK;
    }
    mlshift_refinement ref;
    mlshift_status s = mlshift_refine_radius(&c->st, f, c->radii, c->k, c->ws, &ref, NULL, err);
    if (s == MLSHIFT_OK)
        *r = ref.radius;
    return s;
}

mlshift_status mlshift_calc_compute(mlshift_calc *c, const mlshift_frame *f, double *energy,
                                    double *forces, double *energies, double *virial,
                                    mlshift_error *err)
{
    double e = 0;
    if (c->prior) {
        if (energies)
            return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "prior %s: no per-atom energies",
                           mlshift_prior_spec(c->prior));
        mlshift_status s = mlshift_prior_compute(c->prior, f, &e, forces, virial, err);
        if (s == MLSHIFT_OK && energy)
            *energy = e;
        return s;
    }
    double r;
    mlshift_status s = cutoff_for(c, f, &r, err);
    if (s != MLSHIFT_OK)
        return s;
    c->last_cutoff = r;
    s = ms_model_handle_compute(c->model, f, c->head, r, &e, forces, energies, virial, err);
    if (s == MLSHIFT_OK && energy)
        *energy = e;
    return s;
}

/* "frame K: " before a message. */
static mlshift_status name_frame(mlshift_status s, size_t k, mlshift_error *err)
{
    if (err && s != MLSHIFT_OK) {
        char buf[sizeof err->message];
        snprintf(buf, sizeof buf, "%s", err->message);
        ms_fail(err, s, "frame %zu: %s", k, buf);
    }
    return s;
}

mlshift_status mlshift_calc_compute_batch(mlshift_calc *c, const mlshift_frames *fr,
                                          const size_t *idx, size_t n, size_t batch,
                                          double *energy, double *forces, mlshift_error *err)
{
    size_t count = mlshift_frames_count(fr), at = 0;
    if (!batch)
        batch = 32;
    for (size_t k = 0; k < n; k++)
        if ((idx ? idx[k] : k) >= count)
            return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: frame %zu of %zu",
                           idx ? idx[k] : k, count);
    if (c->prior || c->refine) {
        /* one structure at a time (a prior; a radius per structure) */
        for (size_t k = 0; k < n; k++) {
            mlshift_frame f;
            mlshift_frames_get(fr, idx ? idx[k] : k, &f);
            double e;
            mlshift_status s = mlshift_calc_compute(c, &f, &e, forces ? forces + 3 * at : NULL,
                                                    NULL, NULL, err);
            if (s != MLSHIFT_OK)
                return name_frame(s, idx ? idx[k] : k, err);
            if (energy)
                energy[k] = e;
            at += f.natoms;
        }
        return MLSHIFT_OK;
    }
    if (batch > c->cap) {
        mlshift_frame *fb = realloc(c->fb, batch * sizeof *fb);
        if (!fb)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "calculator: out of memory");
        c->fb = fb;
        c->cap = batch;
    }
    double r = c->cutoff > 0 ? c->cutoff : mlshift_model_cutoff(c->model);
    c->last_cutoff = r;
    for (size_t k0 = 0; k0 < n; k0 += batch) {
        size_t nb = n - k0 < batch ? n - k0 : batch, atoms = 0;
        for (size_t j = 0; j < nb; j++) {
            mlshift_frames_get(fr, idx ? idx[k0 + j] : k0 + j, &c->fb[j]);
            atoms += c->fb[j].natoms;
        }
        mlshift_status s = ms_model_handle_batch(c->model, c->fb, nb, c->head, r,
                                                 energy ? energy + k0 : NULL,
                                                 forces ? forces + 3 * at : NULL, err);
        if (s != MLSHIFT_OK)
            return s;
        at += atoms;
    }
    return MLSHIFT_OK;
}

static mlshift_status md_compute(void *ctx, const mlshift_frame *f, double *energy,
                                 double *forces, mlshift_error *err)
{
    return mlshift_calc_compute(ctx, f, energy, forces, NULL, NULL, err);
}

void mlshift_calc_md(mlshift_calc *c, mlshift_md_calculator *out)
{
    memset(out, 0, sizeof *out);
    out->compute = md_compute;
    out->ctx = c;
}

mlshift_status mlshift_evaluate(mlshift_calc *c, const mlshift_frames *fr, mlshift_errors *out,
                                mlshift_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = mlshift_frames_count(fr), nmax = 0;
    for (size_t k = 0; k < n; k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, k, &f);
        if (!(f.flags & MLSHIFT_HAS_FORCES))
            return ms_fail(err, MLSHIFT_ERR_MISSING, "evaluate: frame %zu has no force labels",
                           k);
        nmax = f.natoms > nmax ? f.natoms : nmax;
    }
    double *F = malloc((3 * nmax + 1) * sizeof *F);
    if (!F)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "evaluate: out of memory");
    double fae = 0, fse = 0, eae = 0;
    mlshift_status s = MLSHIFT_OK;
    for (size_t k = 0; k < n && s == MLSHIFT_OK; k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, k, &f);
        double E;
        if ((s = mlshift_calc_compute(c, &f, &E, F, NULL, NULL, err)) != MLSHIFT_OK) {
            if (err) {
                char buf[sizeof err->message];
                snprintf(buf, sizeof buf, "%s", err->message);
                ms_fail(err, s, "evaluate: frame %zu: %s", k, buf);
            }
            break;
        }
        for (size_t i = 0; i < 3 * f.natoms; i++) {
            double d = F[i] - f.forces[i];
            fae += fabs(d);
            fse += d * d;
        }
        out->atoms += f.natoms;
        if (f.flags & MLSHIFT_HAS_ENERGY) {
            eae += fabs(E - f.energy);
            out->energy_frames++;
        }
    }
    free(F);
    if (s != MLSHIFT_OK)
        return s;
    double comp = (double)(3 * (out->atoms ? out->atoms : 1));
    out->frames = n;
    out->force_mae = fae / comp;
    out->force_rmse = sqrt(fse / comp);
    out->energy_mae = out->energy_frames ? eae / (double)out->energy_frames : NAN;
    return MLSHIFT_OK;
}

/* SPDX-License-Identifier: MIT */
/* The MD run: options, start (velocities given or drawn), the step loop
 * with its stop rules, and the state view.
 *
 * Stop rules, checked after every step (MDsim's, reference-notes §1.7, §3):
 * a NaN/Inf anywhere in energy, forces, positions or velocities; T outside
 * [t_min_K, t_max_K] (0.1 K and 1e5 K); optionally a bond whose length
 * leaves its reference by more than collapse_A (0.5 Å). A stop is a result,
 * not an error: the state keeps the step it happened on and a sentence
 * saying why. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "md.h"

void mlshift_md_options_default(mlshift_md_options *o)
{
    memset(o, 0, sizeof *o);
    o->integrator = MLSHIFT_MD_VERLET;
    o->dt_fs = 0.5;
    o->temperature_K = 500;
    o->friction_per_fs = 0.01;
    o->ttime = 20;
    o->t_min_K = 0.1;
    o->t_max_K = 1e5;
    o->collapse_A = 0.5;
    o->bond_skin_A = 0.6;
}

const char *mlshift_md_stop_string(mlshift_md_stop s)
{
    switch (s) {
    case MLSHIFT_MD_RUNNING: return "running";
    case MLSHIFT_MD_STOP_NONFINITE: return "non-finite";
    case MLSHIFT_MD_STOP_TEMPERATURE: return "temperature";
    case MLSHIFT_MD_STOP_COLLAPSE: return "collapse";
    case MLSHIFT_MD_STOP_CALCULATOR: return "calculator";
    case MLSHIFT_MD_STOP_OBSERVER: return "observer";
    }
    return "unknown";
}

static mlshift_status check_options(const mlshift_md_options *o,
                                    mlshift_error *err)
{
    if (o->integrator != MLSHIFT_MD_VERLET && o->integrator != MLSHIFT_MD_LANGEVIN &&
        o->integrator != MLSHIFT_MD_NOSE_HOOVER)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: unknown integrator %d",
                       (int)o->integrator);
    if (!(o->dt_fs > 0 && o->dt_fs <= 100))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: time step %g fs is not in "
                       "(0, 100] fs", o->dt_fs);
    if (!(o->temperature_K >= 0 && o->temperature_K <= 1e6))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: temperature %g K is not in "
                       "[0, 1e6] K", o->temperature_K);
    if (o->integrator != MLSHIFT_MD_VERLET && !(o->temperature_K > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: a thermostat needs a "
                       "temperature > 0 K");
    if (!(o->friction_per_fs >= 0 && o->friction_per_fs <= 1e3))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: friction %g fs^-1 is not in "
                       "[0, 1000]", o->friction_per_fs);
    if (!(o->ttime > 0 && isfinite(o->ttime)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: Nose-Hoover ttime %g is not "
                       "positive", o->ttime);
    if (isnan(o->t_min_K) || isnan(o->t_max_K) ||
        (o->t_min_K > 0 && o->t_max_K > 0 && o->t_min_K >= o->t_max_K))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: temperature bounds [%g, %g] "
                       "K are empty", o->t_min_K, o->t_max_K);
    if (!(o->collapse_A > 0 && isfinite(o->collapse_A)) ||
        !(o->bond_skin_A >= 0 && isfinite(o->bond_skin_A)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: collapse threshold and bond "
                       "skin must be finite, the threshold positive");
    return MLSHIFT_OK;
}

static mlshift_status alloc_state(mlshift_md *md, size_t n)
{
    md->n = n;
    md->numbers = malloc(n * sizeof *md->numbers);
    /* One block for every per-atom double: mass, x, v, f, work. */
    md->mass = malloc(13 * n * sizeof *md->mass);
    if (!md->numbers || !md->mass)
        return MLSHIFT_ERR_NOMEM;
    md->x = md->mass + n;
    md->v = md->x + 3 * n;
    md->f = md->v + 3 * n;
    md->work = md->f + 3 * n;
    return MLSHIFT_OK;
}

mlshift_status mlshift_md_create(const mlshift_frame *start,
                                 const double *velocities,
                                 const mlshift_md_calculator *calc,
                                 const mlshift_md_options *opt,
                                 mlshift_md **out, mlshift_error *err)
{
    *out = NULL;
    mlshift_md_options def;
    if (!opt) {
        mlshift_md_options_default(&def);
        opt = &def;
    }
    mlshift_status st;
    if ((st = ms_check_start(start, "md", err)) || (st = check_options(opt, err)) ||
        (st = ms_calc_check(calc, err)))
        return st;
    size_t n = start->natoms;
    for (size_t i = 0; i < n; i++) {
        if (!(mlshift_element_mass(start->numbers[i]) > 0))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "md: atom %zu: element %d has "
                           "no mass", i, start->numbers[i]);
        for (int k = 0; k < 3; k++)
            if (velocities && !isfinite(velocities[3 * i + k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE, "md: atom %zu: velocity "
                               "is not finite", i);
    }
    mlshift_md *md = calloc(1, sizeof *md);
    if (!md || alloc_state(md, n)) {
        mlshift_md_destroy(md);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "md: out of memory (%zu atoms)", n);
    }
    md->opt = *opt;
    md->calc = *calc;
    md->rng = opt->seed;
    md->max_dev = NAN;
    for (size_t i = 0; i < n; i++) {
        md->numbers[i] = start->numbers[i];
        md->mass[i] = mlshift_element_mass(start->numbers[i]);
    }
    memcpy(md->x, start->positions, 3 * n * sizeof *md->x);
    md->has_cell = start->cell != NULL;
    if (md->has_cell)
        memcpy(md->cell, start->cell, sizeof md->cell);
    for (int k = 0; k < 3; k++)
        md->pbc[k] = start->pbc[k];
    if (velocities)
        memcpy(md->v, velocities, 3 * n * sizeof *md->v);
    else
        ms_md_maxwell_boltzmann(md, opt->temperature_K);
    if (opt->check_collapse &&
        (st = mlshift_bonds_from_frame(&md->bonds, start, opt->bond_skin_A, err))) {
        mlshift_md_destroy(md);
        return st;
    }
    if ((st = ms_md_forces(md, err)) != MLSHIFT_OK) {
        mlshift_md_destroy(md);
        return st;
    }
    if (opt->check_collapse)
        md->max_dev = mlshift_bonds_max_deviation(&md->bonds, md->x);
    *out = md;
    return MLSHIFT_OK;
}

void mlshift_md_destroy(mlshift_md *md)
{
    if (!md)
        return;
    mlshift_bonds_free(&md->bonds);
    free(md->numbers);
    free(md->mass);
    free(md);
}

mlshift_status mlshift_md_set_bonds(mlshift_md *md, const mlshift_bonds *b,
                                    mlshift_error *err)
{
    for (size_t k = 0; k < b->n; k++)
        if (b->pairs[2 * k] < 0 || b->pairs[2 * k + 1] < 0 ||
            (size_t)b->pairs[2 * k] >= md->n || (size_t)b->pairs[2 * k + 1] >= md->n)
            return ms_fail(err, MLSHIFT_ERR_VALUE, "md: bond %zu names an atom "
                           "outside 0..%zu", k, md->n - 1);
    int32_t *p = malloc((b->n ? 2 * b->n : 1) * sizeof *p);
    double *l = malloc((b->n ? b->n : 1) * sizeof *l);
    if (!p || !l) {
        free(p);
        free(l);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "md: out of memory");
    }
    if (b->n) {
        memcpy(p, b->pairs, 2 * b->n * sizeof *p);
        memcpy(l, b->ref_length, b->n * sizeof *l);
    }
    mlshift_bonds_free(&md->bonds);
    md->bonds.n = b->n;
    md->bonds.pairs = p;
    md->bonds.ref_length = l;
    md->max_dev = mlshift_bonds_max_deviation(&md->bonds, md->x);
    return MLSHIFT_OK;
}

static int all_finite(const double *a, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += a[k] * 0.0; /* NaN or Inf anywhere makes s NaN */
    return s == 0.0;
}

/* The stop rules on the state after a step. */
static void check_stop(mlshift_md *md)
{
    double ekin = ms_md_kinetic(md, md->v);
    double T = ms_md_temperature(md, ekin);
    double t_fs = (double)md->step * md->opt.dt_fs;
    if (!isfinite(md->epot) || !all_finite(md->f, 3 * md->n) ||
        !all_finite(md->x, 3 * md->n) || !all_finite(md->v, 3 * md->n)) {
        md->stop = MLSHIFT_MD_STOP_NONFINITE;
        snprintf(md->reason, sizeof md->reason, "NaN or Inf in the %s at step "
                 "%llu (%.6g ps)", !isfinite(md->epot) ? "energy" :
                 !all_finite(md->f, 3 * md->n) ? "forces" : "positions or velocities",
                 (unsigned long long)md->step, t_fs * 1e-3);
        return;
    }
    const mlshift_md_options *o = &md->opt;
    if ((o->t_min_K > 0 && T < o->t_min_K) || (o->t_max_K > 0 && T > o->t_max_K)) {
        md->stop = MLSHIFT_MD_STOP_TEMPERATURE;
        snprintf(md->reason, sizeof md->reason, "temperature %.6g K left [%g, %g] "
                 "K at step %llu (%.6g ps)", T, o->t_min_K, o->t_max_K,
                 (unsigned long long)md->step, t_fs * 1e-3);
        return;
    }
    if (o->check_collapse) {
        md->max_dev = mlshift_bonds_max_deviation(&md->bonds, md->x);
        if (md->max_dev > o->collapse_A) {
            md->stop = MLSHIFT_MD_STOP_COLLAPSE;
            snprintf(md->reason, sizeof md->reason, "a bond left its reference "
                     "length by %.4g Å (> %g Å) at step %llu (%.6g ps)",
                     md->max_dev, o->collapse_A, (unsigned long long)md->step,
                     t_fs * 1e-3);
        }
    }
}

mlshift_status mlshift_md_step(mlshift_md *md, mlshift_error *err)
{
    if (md->stop != MLSHIFT_MD_RUNNING)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md: the run has stopped (%s)",
                       md->reason);
    mlshift_status st;
    switch (md->opt.integrator) {
    case MLSHIFT_MD_LANGEVIN: st = ms_md_step_langevin(md, err); break;
    case MLSHIFT_MD_NOSE_HOOVER: st = ms_md_step_nose_hoover(md, err); break;
    default: st = ms_md_step_verlet(md, err); break;
    }
    md->step++;
    if (st != MLSHIFT_OK) {
        md->stop = MLSHIFT_MD_STOP_CALCULATOR;
        snprintf(md->reason, sizeof md->reason, "the calculator failed at step "
                 "%llu: %.180s", (unsigned long long)md->step,
                 err ? err->message : mlshift_status_string(st));
        return st;
    }
    check_stop(md);
    return MLSHIFT_OK;
}

mlshift_status mlshift_md_run(mlshift_md *md, uint64_t n_steps, uint64_t every,
                              mlshift_md_observer observer, void *ctx,
                              mlshift_error *err)
{
    uint64_t last_seen = md->step;
    for (uint64_t k = 0; k < n_steps && md->stop == MLSHIFT_MD_RUNNING; k++) {
        mlshift_status st = mlshift_md_step(md, err);
        if (st != MLSHIFT_OK)
            return st;
        if (observer && every && md->step % every == 0) {
            last_seen = md->step;
            if (observer(ctx, md) && md->stop == MLSHIFT_MD_RUNNING) {
                md->stop = MLSHIFT_MD_STOP_OBSERVER;
                snprintf(md->reason, sizeof md->reason, "stopped by the caller "
                         "at step %llu", (unsigned long long)md->step);
            }
        }
    }
    if (observer && every && md->stop != MLSHIFT_MD_RUNNING &&
        md->stop != MLSHIFT_MD_STOP_OBSERVER && last_seen != md->step)
        observer(ctx, md);
    return MLSHIFT_OK;
}

void mlshift_md_get_state(const mlshift_md *md, mlshift_md_state *s)
{
    memset(s, 0, sizeof *s);
    s->step = md->step;
    s->time_fs = (double)md->step * md->opt.dt_fs;
    s->natoms = md->n;
    s->numbers = md->numbers;
    s->masses = md->mass;
    s->positions = md->x;
    s->velocities = md->v;
    s->forces = md->f;
    s->cell = md->has_cell ? md->cell : NULL;
    for (int k = 0; k < 3; k++)
        s->pbc[k] = md->pbc[k];
    s->potential = md->epot;
    s->kinetic = ms_md_kinetic(md, md->v);
    s->temperature = ms_md_temperature(md, s->kinetic);
    s->zeta = md->zeta;
    s->max_bond_deviation = md->max_dev;
    s->stop = md->stop;
    s->stop_reason = md->reason;
}

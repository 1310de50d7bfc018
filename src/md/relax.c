/* SPDX-License-Identifier: MIT */
/* Relaxation: the loop ASE's Optimizer.run drives, around one optimiser
 * step (relax_fire.c, relax_bfgs.c).
 *
 *   forces at the start
 *   while max_i |F_i| ≥ fmax and steps < max_steps:
 *       step (the optimiser's Δx from x and F), x ← x + Δx, forces
 *
 * Converged means max_i |F_i|² < fmax² (ASE compares squares). Fixed
 * atoms behave as under ASE's FixAtoms: their forces read as zero and the
 * step's component for them is dropped after the optimiser has sized it
 * (ASE's set_positions through the constraint). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "md.h"
#include "relax.h"

void mlshift_relax_options_default(mlshift_relax_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = MLSHIFT_RELAX_FIRE;
    o->fmax = 0.05;
    o->maxstep = 0.2;
    o->alpha = 70;
    o->dt = 0.1;
    o->dtmax = 1.0;
    o->nmin = 5;
    o->finc = 1.1;
    o->fdec = 0.5;
    o->astart = 0.1;
    o->fa = 0.99;
}

static mlshift_status check_options(const mlshift_relax_options *o,
                                    mlshift_error *err)
{
    if (o->method != MLSHIFT_RELAX_FIRE && o->method != MLSHIFT_RELAX_BFGS)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: unknown method %d",
                       (int)o->method);
    if (!(o->fmax > 0 && isfinite(o->fmax)) || !(o->maxstep > 0 && isfinite(o->maxstep)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: fmax (%g eV/Å) and maxstep "
                       "(%g Å) must be positive", o->fmax, o->maxstep);
    if (o->method == MLSHIFT_RELAX_BFGS && !(o->alpha > 0 && isfinite(o->alpha)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: BFGS alpha %g must be "
                       "positive", o->alpha);
    if (o->method == MLSHIFT_RELAX_FIRE &&
        !(o->dt > 0 && o->dtmax > 0 && o->finc > 0 && o->fdec > 0 && o->astart >= 0 &&
          o->fa > 0 && o->nmin >= 0 && isfinite(o->dt + o->dtmax + o->finc + o->fdec +
                                                o->astart + o->fa)))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: FIRE parameters must be "
                       "positive and finite");
    return MLSHIFT_OK;
}

void mlshift_relax_frame(const mlshift_relax *r, mlshift_frame *f)
{
    memset(f, 0, sizeof *f);
    f->natoms = r->n;
    f->numbers = r->numbers;
    f->positions = r->x;
    f->forces = r->f;
    f->energy = r->energy;
    f->flags = MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES;
    if (r->has_cell) {
        f->cell = r->cell;
        f->flags |= MLSHIFT_HAS_CELL;
    }
    if (r->fixed) {
        f->fixed = r->fixed;
        f->flags |= MLSHIFT_HAS_FIXED;
    }
    for (int k = 0; k < 3; k++)
        f->pbc[k] = r->pbc[k];
}

/* Energy and forces at r->x; fixed atoms' forces zeroed. */
static mlshift_status forces(mlshift_relax *r, mlshift_error *err)
{
    mlshift_frame f;
    mlshift_relax_frame(r, &f);
    f.flags &= ~(unsigned)(MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES);
    f.forces = NULL;
    f.energy = NAN;
    mlshift_status st = ms_calc_compute(&r->calc, &f, &r->energy, r->f, err);
    if (st)
        return st;
    if (!isfinite(r->energy))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: step %llu: the energy is "
                       "not finite", (unsigned long long)r->step);
    for (size_t i = 0; i < r->n; i++) {
        for (int k = 0; k < 3; k++)
            if (!isfinite(r->f[3 * i + k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: step %llu: the "
                               "force on atom %zu is not finite",
                               (unsigned long long)r->step, i);
        if (r->fixed && r->fixed[i])
            r->f[3 * i] = r->f[3 * i + 1] = r->f[3 * i + 2] = 0;
    }
    return MLSHIFT_OK;
}

void mlshift_relax_destroy(mlshift_relax *r)
{
    if (!r)
        return;
    free(r->numbers);
    free(r->fixed);
    free(r->x);
    free(r->H);
    free(r->x0);
    free(r->f0);
    free(r->eig);
    free(r->V);
    free(r->work);
    free(r->iwork);
    free(r);
}

mlshift_status mlshift_relax_create(const mlshift_frame *start,
                                    const mlshift_md_calculator *calc,
                                    const mlshift_relax_options *opt,
                                    mlshift_relax **out, mlshift_error *err)
{
    *out = NULL;
    mlshift_relax_options def;
    if (!opt) {
        mlshift_relax_options_default(&def);
        opt = &def;
    }
    mlshift_status st;
    if ((st = ms_check_start(start, "relax", err)) || (st = check_options(opt, err)) ||
        (st = ms_calc_check(calc, err)))
        return st;
    size_t n = start->natoms;
    mlshift_relax *r = calloc(1, sizeof *r);
    if (!r)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "relax: out of memory");
    r->opt = *opt;
    r->calc = *calc;
    r->n = n;
    r->numbers = malloc(n * sizeof *r->numbers);
    r->x = malloc(12 * n * sizeof *r->x); /* x, f, dx, v: one block */
    if (!r->numbers || !r->x) {
        mlshift_relax_destroy(r);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "relax: out of memory");
    }
    r->f = r->x + 3 * n;
    r->dx = r->x + 6 * n;
    r->v = r->x + 9 * n;
    memcpy(r->numbers, start->numbers, n * sizeof *r->numbers);
    memcpy(r->x, start->positions, 3 * n * sizeof *r->x);
    if ((start->flags & MLSHIFT_HAS_FIXED) && start->fixed) {
        r->fixed = malloc(n);
        if (!r->fixed) {
            mlshift_relax_destroy(r);
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "relax: out of memory");
        }
        memcpy(r->fixed, start->fixed, n);
    }
    if ((start->flags & MLSHIFT_HAS_CELL) && start->cell) {
        memcpy(r->cell, start->cell, sizeof r->cell);
        r->has_cell = 1;
    }
    for (int k = 0; k < 3; k++)
        r->pbc[k] = start->pbc[k];
    r->dt = opt->dt;
    r->a = opt->astart;
    if ((opt->method == MLSHIFT_RELAX_BFGS && (st = ms_relax_bfgs_init(r, err))) ||
        (st = forces(r, err))) {
        mlshift_relax_destroy(r);
        return st;
    }
    *out = r;
    return MLSHIFT_OK;
}

mlshift_status mlshift_relax_step(mlshift_relax *r, mlshift_error *err)
{
    mlshift_status st = r->opt.method == MLSHIFT_RELAX_FIRE ? ms_relax_fire_step(r, err)
                                                            : ms_relax_bfgs_step(r, err);
    if (st)
        return st;
    for (size_t i = 0; i < r->n; i++)
        if (!(r->fixed && r->fixed[i]))
            for (int k = 0; k < 3; k++)
                r->x[3 * i + k] += r->dx[3 * i + k];
    r->step++;
    return forces(r, err);
}

static double max_force_sq(const mlshift_relax *r)
{
    double m = 0;
    for (size_t i = 0; i < r->n; i++) {
        const double *f = r->f + 3 * i;
        m = fmax(m, f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    }
    return m;
}

void mlshift_relax_get_state(const mlshift_relax *r, mlshift_relax_state *s)
{
    double m = max_force_sq(r);
    s->step = r->step;
    s->natoms = r->n;
    s->energy = r->energy;
    s->fmax = sqrt(m);
    s->converged = m < r->opt.fmax * r->opt.fmax;
}

mlshift_status mlshift_relax_run(mlshift_relax *r, uint64_t max_steps,
                                 mlshift_relax_observer observer, void *ctx,
                                 mlshift_error *err)
{
    for (uint64_t k = 0; k < max_steps; k++) {
        if (max_force_sq(r) < r->opt.fmax * r->opt.fmax)
            break;
        mlshift_status st = mlshift_relax_step(r, err);
        if (st)
            return st;
        if (observer && observer(ctx, r))
            break;
    }
    return MLSHIFT_OK;
}

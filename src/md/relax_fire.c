/* SPDX-License-Identifier: MIT */
/* FIRE (Bitzek et al., PRL 97, 170201 (2006)) exactly as ase.optimize.FIRE
 * of ASE 3.22 without its downhill check. With F the forces (D,), v the
 * velocity (D,), both flattened over all atoms:
 *
 *   first step:  v = 0
 *   otherwise:   if F·v > 0:  v ← (1 − a) v + a |v| F/|F|
 *                             if more than Nmin steps since the last reset:
 *                                 dt ← min(dt·finc, dtmax), a ← a·fa
 *                             steps since reset += 1
 *                else:        v ← 0, a ← astart, dt ← dt·fdec, reset
 *   v ← v + dt F;  Δx = dt v, scaled to length maxstep if |Δx| > maxstep
 *
 * The "time" is ASE's: no masses, so Δx = dt² F on the first step. */
#include <math.h>
#include <string.h>

#include "relax.h"

static double dot(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += a[k] * b[k];
    return s;
}

mlshift_status ms_relax_fire_step(mlshift_relax *r, mlshift_error *err)
{
    (void)err;
    const mlshift_relax_options *o = &r->opt;
    size_t d = 3 * r->n;
    double *v = r->v, *f = r->f;
    if (!r->have_v) {
        memset(v, 0, d * sizeof *v);
        r->have_v = 1;
    } else if (dot(f, v, d) > 0) {
        double sf = sqrt(dot(f, f, d)), sv = sqrt(dot(v, v, d));
        for (size_t k = 0; k < d; k++) /* ASE's order of operations */
            v[k] = (1.0 - r->a) * v[k] + r->a * f[k] / sf * sv;
        if (r->n_down > o->nmin) {
            r->dt = fmin(r->dt * o->finc, o->dtmax);
            r->a *= o->fa;
        }
        r->n_down++;
    } else {
        memset(v, 0, d * sizeof *v);
        r->a = o->astart;
        r->dt *= o->fdec;
        r->n_down = 0;
    }
    for (size_t k = 0; k < d; k++) {
        v[k] += r->dt * f[k];
        r->dx[k] = r->dt * v[k];
    }
    double norm = sqrt(dot(r->dx, r->dx, d));
    if (norm > o->maxstep)
        for (size_t k = 0; k < d; k++)
            r->dx[k] = o->maxstep * r->dx[k] / norm;
    return MLSHIFT_OK;
}

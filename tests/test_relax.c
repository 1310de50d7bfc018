/* SPDX-License-Identifier: MIT */
/* Relaxation through the public API with a closed-form calculator: a
 * harmonic well E = ½ k Σ_i |x_i − c_i|², F = −k (x − c), minimum at c.
 * BFGS with α = k has the exact Hessian from the first step, so one Newton
 * step lands on c (when it is shorter than maxstep); FIRE reaches fmax;
 * a step longer than maxstep is cut to it; fixed atoms never move; bad
 * options and calculators are refused. Step-for-step agreement with ASE is
 * tests/reference/test_relax_ase.py. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "mlshift.h"

#define N 4
static const double centre[3 * N] = {0, 0, 0, 1.1, 0, 0, 0, 1.2, 0, 0, 0, 1.3};

typedef struct well { double k; int calls; } well;

static mlshift_status harmonic(void *ctx, const mlshift_frame *f, double *e,
                               double *forces, mlshift_error *err)
{
    (void)err;
    well *w = ctx;
    w->calls++;
    *e = 0;
    for (size_t k = 0; k < 3 * f->natoms; k++) {
        double d = f->positions[k] - centre[k];
        *e += 0.5 * w->k * d * d;
        forces[k] = -w->k * d;
    }
    return MLSHIFT_OK;
}

static mlshift_frame start_frame(double *x, int *z, double shift)
{
    mlshift_frame f = {0};
    for (int i = 0; i < N; i++)
        z[i] = 29;
    for (int k = 0; k < 3 * N; k++)
        x[k] = centre[k] + shift * (k % 3 == 0 ? 1 : -0.5);
    f.natoms = N;
    f.numbers = z;
    f.positions = x;
    f.energy = NAN;
    return f;
}

int main(void)
{
    double x[3 * N];
    int z[N];
    well w = {5.0, 0};
    mlshift_md_calculator calc = {harmonic, &w, NULL, NULL, MLSHIFT_HEAD_MAIN, 0};
    mlshift_error err;
    mlshift_relax *r = NULL;
    mlshift_relax_state s;
    mlshift_frame f = start_frame(x, z, 0.02), view;

    /* BFGS, α = k: one exact Newton step. */
    mlshift_relax_options o;
    mlshift_relax_options_default(&o);
    CHECK(o.method == MLSHIFT_RELAX_FIRE && o.fmax == 0.05 && o.maxstep == 0.2 &&
          o.alpha == 70 && o.dt == 0.1 && o.nmin == 5, "defaults are ASE's");
    o.method = MLSHIFT_RELAX_BFGS;
    o.alpha = w.k;
    o.fmax = 1e-6;
    CHECK(mlshift_relax_create(&f, &calc, &o, &r, &err) == MLSHIFT_OK, "create: %s",
          err.message);
    CHECK(mlshift_relax_run(r, 10, NULL, NULL, &err) == MLSHIFT_OK, "run");
    mlshift_relax_get_state(r, &s);
    CHECK(s.step == 1 && s.converged, "BFGS α = k: %llu steps, converged %d",
          (unsigned long long)s.step, s.converged);
    mlshift_relax_frame(r, &view);
    double worst = 0;
    for (int k = 0; k < 3 * N; k++)
        worst = fmax(worst, fabs(view.positions[k] - centre[k]));
    CHECK(worst < 1e-12, "BFGS lands on the minimum (off by %.3g Å)", worst);
    CHECK(fabs(s.energy) < 1e-20 && view.flags & MLSHIFT_HAS_FORCES, "energy %g", s.energy);
    mlshift_relax_destroy(r);

    /* A long step is cut to maxstep (the longest atom's, for BFGS). */
    f = start_frame(x, z, 1.0);
    CHECK(mlshift_relax_create(&f, &calc, &o, &r, &err) == MLSHIFT_OK, "create far");
    CHECK(mlshift_relax_step(r, &err) == MLSHIFT_OK, "step far");
    mlshift_relax_frame(r, &view);
    double longest = 0;
    for (int i = 0; i < N; i++) {
        double d2 = 0;
        for (int k = 0; k < 3; k++)
            d2 += pow(view.positions[3 * i + k] - x[3 * i + k], 2);
        longest = fmax(longest, sqrt(d2));
    }
    CHECK_CLOSE(longest, 0.2, 1e-12, 0, "BFGS's longest atom step is maxstep");
    mlshift_relax_destroy(r);

    /* FIRE to fmax, with atom 1 fixed. */
    unsigned char fixed[N] = {0, 1, 0, 0};
    f = start_frame(x, z, 0.3);
    f.fixed = fixed;
    f.flags |= MLSHIFT_HAS_FIXED;
    w.calls = 0;
    CHECK(mlshift_relax_create(&f, &calc, NULL, &r, &err) == MLSHIFT_OK, "create FIRE");
    CHECK(mlshift_relax_run(r, 1000, NULL, NULL, &err) == MLSHIFT_OK, "run FIRE");
    mlshift_relax_get_state(r, &s);
    mlshift_relax_frame(r, &view);
    CHECK(s.converged && s.fmax < 0.05 && s.step > 1 && w.calls == (int)s.step + 1,
          "FIRE: %llu steps, fmax %g, %d calls", (unsigned long long)s.step, s.fmax,
          w.calls);
    CHECK(!memcmp(view.positions + 3, x + 3, 3 * sizeof *x), "the fixed atom stays");
    CHECK(view.forces[3] == 0 && view.forces[4] == 0 && view.forces[5] == 0,
          "the fixed atom's forces read as zero");
    mlshift_relax_destroy(r);

    /* Refusals. */
    f = start_frame(x, z, 0.1);
    mlshift_relax_options_default(&o);
    o.fmax = 0;
    CHECK(mlshift_relax_create(&f, &calc, &o, &r, &err) == MLSHIFT_ERR_VALUE && !r,
          "fmax 0 refused");
    mlshift_relax_options_default(&o);
    o.method = (mlshift_relax_method)7;
    CHECK(mlshift_relax_create(&f, &calc, &o, &r, &err) == MLSHIFT_ERR_VALUE && !r,
          "unknown method refused");
    mlshift_md_calculator none = {0};
    CHECK(mlshift_relax_create(&f, &none, NULL, &r, &err) == MLSHIFT_ERR_VALUE && !r,
          "no calculator refused: %s", err.message);
    return check_done();
}

/* SPDX-License-Identifier: MIT */
/* Helpers the prior tests share: a frame the test owns (positions and cell
 * writable), a seeded uniform generator, and the finite-difference checks
 * of forces (five-point stencil) and of the virial (strain). */
#ifndef MLSHIFT_PRIOR_CHECK_H
#define MLSHIFT_PRIOR_CHECK_H

#include <stdint.h>

#include "check.h"
#include "mlshift.h"

/* Seed of urand(); a test may set it first. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline double urand(void)  /* uniform [0, 1), splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* A frame we own: positions and cell are writable. */
typedef struct tframe {
    size_t n;
    int numbers[512];
    double pos[512 * 3];
    double cell[9];
    int has_cell;
    int pbc[3];
} tframe;

static inline mlshift_frame view(const tframe *t)
{
    mlshift_frame f;
    memset(&f, 0, sizeof f);
    f.natoms = t->n;
    f.numbers = t->numbers;
    f.positions = t->pos;
    f.cell = t->has_cell ? t->cell : NULL;
    f.flags = t->has_cell ? MLSHIFT_HAS_CELL : 0;
    for (int k = 0; k < 3; k++)
        f.pbc[k] = t->pbc[k];
    f.energy = NAN;
    return f;
}

static inline double energy_of(mlshift_prior *p, const tframe *t)
{
    mlshift_frame f = view(t);
    double e = NAN;
    mlshift_error err;
    if (mlshift_prior_compute(p, &f, &e, NULL, NULL, &err) != MLSHIFT_OK)
        fprintf(stderr, "compute: %s\n", err.message);
    return e;
}

/* Central differences of every force component, the five-point stencil
 * −(8 (E(x+h) − E(x−h)) − (E(x+2h) − E(x−2h))) / 12h, h = 1e-5 Å. */
static inline void check_fd_forces(mlshift_prior *p, tframe *t, const char *what)
{
    mlshift_frame f = view(t);
    double e, F[512 * 3], Ffd[512 * 3];
    mlshift_error err;
    mlshift_status s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_OK, "%s: compute: %s", what,
          s == MLSHIFT_OK ? "" : err.message);
    if (s != MLSHIFT_OK)
        return;
    const double h = 1e-5;
    for (size_t q = 0; q < 3 * t->n; q++) {
        double x0 = t->pos[q];
        double ev[4];
        const double step[4] = {h, -h, 2 * h, -2 * h};
        for (int k = 0; k < 4; k++) {
            t->pos[q] = x0 + step[k];
            ev[k] = energy_of(p, t);
        }
        t->pos[q] = x0;
        Ffd[q] = -(8 * (ev[0] - ev[1]) - (ev[2] - ev[3])) / (12 * h);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%s: forces vs finite differences", what);
    check_array_close(msg, F, Ffd, 3 * t->n, 1e-8, 1e-6);
}

/* W_ab = −∂E/∂ε_ab under x → (1 + ε) x of positions and cell rows, to
 * atol + 1e-6 relative; and Σ F = 0 (Newton's third law). */
static inline void check_fd_virial(mlshift_prior *p, const tframe *t0,
                            const char *what, double atol)
{
    mlshift_frame f = view(t0);
    double e, W[9];
    mlshift_error err;
    static double F[512 * 3];
    mlshift_status s = mlshift_prior_compute(p, &f, &e, F, W, &err);
    CHECK(s == MLSHIFT_OK, "%s: compute: %s", what,
          s == MLSHIFT_OK ? "" : err.message);
    if (s != MLSHIFT_OK)
        return;
    static tframe t;
    double Wfd[9];
    const double h = 1e-6;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double ee[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                t = *t0;
                double eps = sgn ? -h : h;
                for (size_t i = 0; i < t.n; i++)
                    t.pos[3 * i + a] += eps * t0->pos[3 * i + b];
                for (int r = 0; r < 3; r++)
                    t.cell[3 * r + a] += eps * t0->cell[3 * r + b];
                ee[sgn] = energy_of(p, &t);
            }
            Wfd[3 * a + b] = -(ee[0] - ee[1]) / (2 * h);
        }
    char msg[256];
    snprintf(msg, sizeof msg, "%s: virial vs strain finite differences", what);
    check_array_close(msg, W, Wfd, 9, atol, 1e-6);
    /* Σ F = 0 */
    double sum[3] = {0, 0, 0}, fmax = 0;
    for (size_t i = 0; i < t0->n; i++)
        for (int k = 0; k < 3; k++) {
            sum[k] += F[3 * i + k];
            if (fabs(F[3 * i + k]) > fmax)
                fmax = fabs(F[3 * i + k]);
        }
    CHECK(fabs(sum[0]) + fabs(sum[1]) + fabs(sum[2]) <=
              1e-12 * (1 + fmax) * (double)t0->n,
          "%s: sum of forces %g %g %g", what, sum[0], sum[1], sum[2]);
}

/* Two atoms at the same place (atoms 1 and 2 of three, element z): the
 * prior refuses the structure naming both, as every prior does (issue 12:
 * LJ and EMT dropped the pair and returned a finite energy). */
static inline void check_coincident_refused(mlshift_prior *p, int z, const char *what)
{
    static tframe t;
    memset(&t, 0, sizeof t);
    t.n = 3;
    t.numbers[0] = t.numbers[1] = t.numbers[2] = z;
    t.pos[3] = t.pos[6] = 2.5;
    t.pos[4] = t.pos[7] = 0.25;
    mlshift_frame f = view(&t);
    double e = 0, F[9];
    mlshift_error err = {0};
    mlshift_status s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "atoms 1 and 2 coincide"),
          "%s: coincident atoms refused naming both: status %d, energy %g, '%s'",
          what, (int)s, e, s == MLSHIFT_OK ? "" : err.message);
    t.pos[7] = 0.5; /* apart again: computes */
    f = view(&t);
    s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_OK && isfinite(e), "%s: three distinct atoms compute", what);
}

#endif /* MLSHIFT_PRIOR_CHECK_H */

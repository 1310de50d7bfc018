/* SPDX-License-Identifier: MIT */
/* The prior interface inside the library: a small table of function
 * pointers per kind of prior (as CoMD's BasePotential), and one
 * constructor per kind that prior.c dispatches to by the spec's name. */
#ifndef MLSHIFT_PRIOR_H
#define MLSHIFT_PRIOR_H

#include "mlshift.h"

typedef struct ms_prior_ops {
    const char *name;                   /* "lj", "emt", "xtb", "sgdml" */
    unsigned caps;                      /* MLSHIFT_PRIOR_* */
    /* energy eV; forces (N, 3) eV/Å or NULL; virial (3, 3) eV or NULL */
    mlshift_status (*compute)(void *self, const mlshift_frame *f,
                              double *energy, double *forces, double *virial,
                              mlshift_error *err);
    void (*destroy)(void *self);
} ms_prior_ops;

struct mlshift_prior {
    const ms_prior_ops *ops;
    void *self;
    char spec[512];
};

/* Adds a central pair term to forces (N, 3) and the virial w (3, 3), either
 * may be NULL: with g = −(dE/dr)/r for the pair (i, j) and d = r_j − r_i,
 * F_i += g d, F_j −= g d, and W −= g d ⊗ d (W = −Σ r ⊗ ∂E/∂r). */
static inline void ms_pair_force(double *forces, double *w, int i, int j,
                                 double g, const double *d)
{
    if (forces)
        for (int a = 0; a < 3; a++) {
            forces[3 * i + a] += g * d[a];
            forces[3 * j + a] -= g * d[a];
        }
    if (w)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                w[3 * a + b] -= g * d[a] * d[b];
}

/* Constructors: `args` is the spec after "name:" (or "" when absent). Each
 * fills p->ops and p->self, or fails with a message naming the spec. */
mlshift_status ms_prior_lj_create(const char *args, mlshift_prior *p,
                                  mlshift_error *err);
mlshift_status ms_prior_emt_create(const char *args, mlshift_prior *p,
                                   mlshift_error *err);
mlshift_status ms_prior_xtb_create(const char *args, mlshift_prior *p,
                                   mlshift_error *err);
mlshift_status ms_prior_sgdml_create(const char *args, mlshift_prior *p,
                                     mlshift_error *err);

#endif /* MLSHIFT_PRIOR_H */

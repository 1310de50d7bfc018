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

/* SPDX-License-Identifier: MIT */
/* The relaxation's layout, shared by relax.c and one file per optimiser.
 * Internal. N = natoms, D = 3N. */
#ifndef MLSHIFT_RELAX_H
#define MLSHIFT_RELAX_H

#include "mlshift.h"

struct mlshift_relax {
    mlshift_relax_options opt;
    mlshift_md_calculator calc;
    size_t n;                   /* N */
    int *numbers;               /* (N,) */
    unsigned char *fixed;       /* (N,) 1 = fixed, or NULL */
    double *x;                  /* (N, 3) Å */
    double *f;                  /* (N, 3) eV/Å, fixed atoms zeroed */
    double *dx;                 /* (N, 3) Å, the step being built */
    double cell[9];
    int has_cell, pbc[3];
    double energy;              /* eV */
    uint64_t step;
    /* FIRE: velocity (ASE's units), its time step, mixing, steps downhill */
    double *v;                  /* (N, 3) */
    int have_v;
    double dt, a;
    int n_down;
    /* BFGS: Hessian, previous positions and forces, eigen scratch */
    double *H;                  /* (D, D) eV/Å² */
    double *x0, *f0;            /* (D,) */
    double *eig, *V, *work;     /* (D,), (D, D), LAPACK work */
    int *iwork;
    size_t lwork, liwork;
    int have_H;
};

/* Each optimiser fills r->dx with its step from r->x, r->f (ASE's step()
 * up to set_positions); relax.c then zeroes fixed atoms and moves. */
mlshift_status ms_relax_fire_step(mlshift_relax *r, mlshift_error *err);
mlshift_status ms_relax_bfgs_init(mlshift_relax *r, mlshift_error *err);
mlshift_status ms_relax_bfgs_step(mlshift_relax *r, mlshift_error *err);

#endif /* MLSHIFT_RELAX_H */

/* SPDX-License-Identifier: MIT */
/* The MD run's layout, shared by the files of src/md: the state, the
 * calculator call, and one step function per integrator. Internal.
 * N = natoms. */
#ifndef MLSHIFT_MD_H
#define MLSHIFT_MD_H

#include <stdint.h>

#include "mlshift.h"

struct mlshift_md {
    mlshift_md_options opt;
    mlshift_md_calculator calc;
    size_t n;                   /* N */
    int *numbers;               /* (N,) */
    double *mass;               /* (N,) amu */
    double *x;                  /* (N, 3) Å */
    double *v;                  /* (N, 3) Å/fs */
    double *f;                  /* (N, 3) eV/Å */
    double *work;               /* (N, 3) noise, scratch */
    double cell[9];             /* Å, rows a, b, c, when has_cell */
    int has_cell;
    int pbc[3];
    double epot;                /* eV */
    double zeta;                /* Nosé–Hoover ζ, fs⁻¹ */
    uint64_t rng;               /* splitmix64 state */
    uint64_t step;
    mlshift_bonds bonds;        /* collapse reference, when checked */
    double max_dev;             /* Å, NaN without bonds */
    mlshift_md_stop stop;
    char reason[256];
};

/* Energy (eV) and forces (N, 3) eV/Å of frame f from calculator c. */
mlshift_status ms_calc_compute(const mlshift_md_calculator *c,
                               const mlshift_frame *f, double *energy,
                               double *forces, mlshift_error *err);
/* Exactly one of function, prior and model; a known head; a finite cutoff. */
mlshift_status ms_calc_check(const mlshift_md_calculator *c, mlshift_error *err);

/* What every run (MD, relaxation, Hessian, PES) needs of its start frame:
 * atoms, numbers, finite positions. who names the caller in the message. */
mlshift_status ms_check_start(const mlshift_frame *f, const char *who,
                              mlshift_error *err);

/* The calculator on the current positions: md->epot, md->f. */
mlshift_status ms_md_forces(mlshift_md *md, mlshift_error *err);

/* Σ ½ m v² in eV of velocities v (N, 3) Å/fs. */
double ms_md_kinetic(const mlshift_md *md, const double *v);
/* 2 E_kin / (3 N k_B), K. */
double ms_md_temperature(const mlshift_md *md, double ekin);
/* Subtracts the centre-of-mass velocity from v (N, 3). */
void ms_md_zero_com(const mlshift_md *md, double *v);
/* Maxwell–Boltzmann velocities at T (K) into md->v, zero COM momentum. */
void ms_md_maxwell_boltzmann(mlshift_md *md, double temperature_K);

/* v += h F / m (Å/fs): the B (kick) part of every splitting. */
void ms_md_kick(mlshift_md *md, double h);

/* One step of each integrator: positions, velocities and forces advance by
 * dt; the calculator is called once. */
mlshift_status ms_md_step_verlet(mlshift_md *md, mlshift_error *err);
mlshift_status ms_md_step_langevin(mlshift_md *md, mlshift_error *err);
mlshift_status ms_md_step_nose_hoover(mlshift_md *md, mlshift_error *err);

#endif /* MLSHIFT_MD_H */

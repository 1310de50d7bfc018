/* SPDX-License-Identifier: MIT */
/* The layout of the training statistics, and the reader without the file.
 * mlshift_train_stats is opaque in include/mlshift.h (callers read it
 * through mlshift_stats_cutoff(), _mean(), … so a field can be added
 * without breaking the ABI); the library reads the fields directly. */
#ifndef MLSHIFT_STATS_H
#define MLSHIFT_STATS_H

#include <stddef.h>
#include "mlshift.h"

/* What a training set looks like along the paper's shift axes (§3.2, A.5).
 * Standard deviations are population ones (numpy's default, ddof = 0). A
 * zeroed struct holds nothing to free. */
struct mlshift_train_stats {
    double cutoff;                  /* Å, radius graph of the spectra */
    size_t n_structures;
    size_t element_atoms[119];      /* atoms of each element */
    size_t natoms_max;              /* N_max, length of the spectrum */
    double natoms_mean, natoms_std;
    double carbon_mean, carbon_std; /* fraction of atoms that are carbon */
    size_t n_force;                 /* structures with a force norm */
    double force_norm_mean, force_norm_std;  /* eV/Å, (1/N) Σ_i |F_i| */
    char force_source[128];         /* "labels", "prior:SPEC" or "none" */
    double *spectrum;               /* (N_max,) average ascending spectrum,
                                       each zero-padded at the end */
    double spectral_mean, spectral_std;  /* eq. 5 of each training graph to
                                            the average */
    /* Fraction of the training structures themselves that the 1-std rule
     * flags on each axis: what a flag rate on test data compares with. */
    double train_ood_size, train_ood_carbon, train_ood_force_norm,
        train_ood_connectivity;
    char *compositions;             /* distinct Hill formulas, each
                                       NUL-terminated, back to back */
    size_t n_compositions, compositions_len;
};

/* Parses the JSON text (len bytes, not necessarily NUL-terminated) of a
 * statistics file (docs/stats-format.md) into *st; path labels errors. On
 * failure *st holds nothing to free. */
mlshift_status ms_stats_parse(mlshift_train_stats *st, const char *text,
                              size_t len, const char *path, mlshift_error *err);

/* Frees what *st points to and zeroes it (the struct itself stays: for
 * statistics embedded in another object). */
void ms_stats_free(mlshift_train_stats *st);

#endif /* MLSHIFT_STATS_H */

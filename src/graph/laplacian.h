/* SPDX-License-Identifier: MIT */
/* Internal layout of the spectrum workspace. */
#ifndef MLSHIFT_LAPLACIAN_H
#define MLSHIFT_LAPLACIAN_H

#include "mlshift.h"

struct mlshift_spectrum_ws {
    size_t max_n;       /* largest graph the buffers hold */
    double *L;          /* (max_n, max_n) the Laplacian, column-major */
    double *dinv;       /* (max_n,) D^-1/2, 0 for isolated atoms */
    double *work;       /* dsyevd workspace */
    int *iwork;
    int lwork, liwork;
};

#endif /* MLSHIFT_LAPLACIAN_H */

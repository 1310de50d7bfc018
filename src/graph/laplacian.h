/* SPDX-License-Identifier: MIT */
/* Internal layout of the spectrum workspace, and the pieces of the spectrum
 * computation that batch callers (radius refinement) use directly. */
#ifndef MLSHIFT_LAPLACIAN_H
#define MLSHIFT_LAPLACIAN_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"

/* Up to this size the plain-loop reduction beats dsyevd (see laplacian.c). */
#define MLSHIFT_SMALL_EIG 128
/* Matrices reduced side by side (interleaved lanes) by the batched path. */
#define MLSHIFT_EIG_LANES 4
/* From this size on, dsyevd_2stage beats dsyevd (see laplacian.c). */
#define MLSHIFT_TWO_STAGE_EIG 2000
/* Sub-diagonals of the band the single route reduces to first (see
 * single_two_stage in laplacian.c). */
#define MLSHIFT_EIG_BAND 64
/* From this size on, the eigenvalues come from single precision
 * (LAPACK's two stages with a band of MLSHIFT_EIG_BAND, then ssterf): half
 * the time, ~1e-6 absolute error (see laplacian.c). */
#define MLSHIFT_SINGLE_EIG MLSHIFT_SINGLE_PRECISION_ATOMS

struct mlshift_spectrum_ws {
    size_t max_n;       /* largest graph the buffers hold */
    double *L;          /* (max_n, max_n) the Laplacian, column-major */
    double *dinv;       /* (max_n,) D^-1/2, 0 for isolated atoms */
    double *lanes;      /* (min(max_n, SMALL_EIG)², LANES) interleaved
                           matrices of the batched reduction */
    double *work;       /* dsyevd and dsyevd_2stage workspace */
    int *iwork;
    int lwork, liwork;
    size_t two_stage_min; /* n from which dsyevd_2stage is used:
                             MLSHIFT_TWO_STAGE_EIG; tests lower it */
    size_t single_min;  /* n from which the float route is used:
                           MLSHIFT_SINGLE_EIG; SIZE_MAX: never (exact) */
    float *swork;       /* the single route's band, tau, off-diagonal and
                           LAPACK workspaces (single_two_stage) */
    float *sw;          /* (max_n,) its eigenvalues */
    int s_lw1, s_lh, s_lw2; /* sizes: ssytrd_sy2sb work, ssytrd_sb2st
                               hous and work */
};

/* The lower triangle of L = I − D^-1/2 A D^-1/2 (n, n), column-major, and
 * D^-1/2 (n,) of the graph whose pair (i, j) is an edge when dmin[i + j n]
 * <= cutoff; dmin (n, n) symmetric, the shortest edge of each pair (+inf
 * for none and on the diagonal). Bit for bit mlshift_laplacian's. */
void ms_laplacian_from_dmin(size_t n, const double *dmin, double cutoff,
                            double *L, double *dinv);
/* dmin (n, n) of nl as above, for ms_laplacian_from_dmin. */
void ms_pair_dmin(const mlshift_neighbours *nl, double *dmin);

/* The distinct atom pairs of a neighbour list (either direction, half or
 * full; periodic self-images dropped), each with its shortest edge: pair k
 * is (lo[k] < hi[k]) at d[k] Å, grouped by lo. The sparse twin of dmin for
 * large structures. A zeroed struct is empty; build reuses its memory. */
typedef struct ms_pairs {
    size_t n_atoms, count, cap, cap_n;
    int32_t *lo, *hi;       /* (count,) */
    double *d;              /* (count,) */
    size_t *count_by_lo;    /* (n + 1,) scratch */
    int64_t *slot;          /* (n,) scratch */
} ms_pairs;
/* 0, or -1 out of memory (p keeps what it had). */
int ms_pairs_build(ms_pairs *p, const mlshift_neighbours *nl);
void ms_pairs_free(ms_pairs *p);
/* Pairs with d <= cutoff: the graph at that radius, up to isomorphism of
 * nested graphs (equal counts, equal graphs). */
size_t ms_pairs_within(const ms_pairs *p, double cutoff);
/* Whether an n-atom spectrum is solved in single precision by ws. */
int ms_spectrum_single(const mlshift_spectrum_ws *ws, size_t n);
/* The lower triangle of the Laplacian at cutoff, into L (n, n),
 * column-major, as floats when single (ms_spectrum_single) else doubles;
 * D^-1/2 into dinv (n,). The values are ms_laplacian_from_dmin's, rounded
 * to float when single: the same bits as its double matrix converted. */
void ms_laplacian_from_pairs(const ms_pairs *p, double cutoff, int single,
                             void *L, double *dinv);
/* Ascending eigenvalues w (n,) of one matrix A (n, n), n > SMALL_EIG, held
 * as floats when ms_spectrum_single(ws, n), else doubles (lower triangle
 * used, destroyed). 0, or LAPACK's info. */
int ms_eigenvalues_large(mlshift_spectrum_ws *ws, int n, void *A, double *w);
/* The spectrum in closed form when D^-1/2 (n,) says the graph has no edges
 * or is complete: fills eig (n,) ascending and returns 1; else 0. */
int ms_spectrum_closed_form(size_t n, const double *dinv, double *eig);
/* Ascending eigenvalues w (nb, n) of nb symmetric n × n matrices A (nb,
 * n, n), column-major, lower triangles used, destroyed; n <= ws->max_n.
 * Small matrices are reduced MLSHIFT_EIG_LANES at a time and their QL
 * iterations interleaved, which gives the same bits as one at a time;
 * larger ones go to dsyevd, and from ws->two_stage_min on to
 * dsyevd_2stage, one at a time (ms_eigenvalues_large); from ws->single_min
 * on, to the float route on a copy made in place (A's first n² floats).
 * Returns 0, or 1 + the index of a matrix whose iteration failed. */
int ms_eigenvalues_batch(mlshift_spectrum_ws *ws, int n, int nb, double *A,
                         double *w);

#endif /* MLSHIFT_LAPLACIAN_H */

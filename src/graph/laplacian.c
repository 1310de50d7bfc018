/* SPDX-License-Identifier: MIT */
/* The normalised graph Laplacian of a radius graph and its spectrum
 * (paper eq. 3):
 *
 *     L = I − D^-1/2 A D^-1/2,   A_ij = 1 if 0 < d_ij <= r (i ≠ j),
 *                                D_ii = Σ_j A_ij.
 *
 * A is binary: several periodic images of j within r of i still make one
 * edge, and self-images (i = j through a lattice shift) are not self loops.
 * An isolated atom (D_ii = 0) gets D^-1/2 = 0, hence L_ii = 1: it keeps its
 * node and contributes an eigenvalue 1 (PyG's convention; unlike PyG we never
 * drop an isolated atom of the highest index). The eigenvalues lie in [0, 2]
 * and the number of zeros is the number of connected components of
 * non-isolated atoms.
 *
 * The eigenvalues come from LAPACK's dsyevd (eigenvalues only) on the dense
 * N × N matrix — N is a molecule's atom count, so dense is the fast choice —
 * with a workspace sized once, so the compute path allocates nothing. */
#include "laplacian.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

mlshift_spectrum_ws *mlshift_spectrum_ws_create(size_t max_n)
{
    mlshift_spectrum_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    size_t n = max_n ? max_n : 1;
    if (n > 46340) { /* n² must fit an int for LAPACK */
        free(ws);
        return NULL;
    }
    ws->max_n = n;
    /* dsyevd, JOBZ = 'N': lwork >= 2n + 1, liwork >= 1. Ask LAPACK anyway. */
    double wq = 0;
    int iq = 0;
    int nn = (int)n;
    ws->L = malloc(n * n * sizeof *ws->L);
    ws->dinv = malloc(n * sizeof *ws->dinv);
    if (!ws->L || !ws->dinv ||
        LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', nn, ws->L, nn, NULL,
                            &wq, -1, &iq, -1) != 0) {
        mlshift_spectrum_ws_destroy(ws);
        return NULL;
    }
    ws->lwork = (int)wq > 2 * nn + 1 ? (int)wq : 2 * nn + 1;
    ws->liwork = iq > 1 ? iq : 1;
    ws->work = malloc((size_t)ws->lwork * sizeof *ws->work);
    ws->iwork = malloc((size_t)ws->liwork * sizeof *ws->iwork);
    if (!ws->work || !ws->iwork) {
        mlshift_spectrum_ws_destroy(ws);
        return NULL;
    }
    return ws;
}

void mlshift_spectrum_ws_destroy(mlshift_spectrum_ws *ws)
{
    if (!ws)
        return;
    free(ws->L);
    free(ws->dinv);
    free(ws->work);
    free(ws->iwork);
    free(ws);
}

mlshift_status mlshift_laplacian(mlshift_spectrum_ws *ws,
                                 const mlshift_neighbours *nl, double cutoff,
                                 mlshift_error *err)
{
    size_t n = nl->n_atoms;
    if (n > ws->max_n)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: %zu atoms but the workspace holds %zu", n,
                       ws->max_n);
    if (!(cutoff > 0) || cutoff > nl->cutoff * (1 + 1e-12))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: cutoff %g Å outside (0, %g] of the list",
                       cutoff, nl->cutoff);
    double *L = ws->L; /* (n, n), lower triangle used */
    memset(L, 0, n * n * sizeof *L);
    /* A into L (binary, symmetric; each pair set from whichever edge). */
    for (size_t e = 0; e < nl->n_edges; e++) {
        size_t i = (size_t)nl->src[e], j = (size_t)nl->dst[e];
        if (i == j || nl->dist[e] > cutoff)
            continue;
        L[i + j * n] = 1.0;
        L[j + i * n] = 1.0;
    }
    for (size_t i = 0; i < n; i++) {
        double deg = 0;
        for (size_t j = 0; j < n; j++)
            deg += L[j + i * n];
        ws->dinv[i] = deg > 0 ? 1.0 / sqrt(deg) : 0.0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double a = L[j + i * n];
            L[j + i * n] = (i == j ? 1.0 : 0.0) - ws->dinv[i] * a * ws->dinv[j];
        }
    return MLSHIFT_OK;
}

const double *mlshift_laplacian_matrix(const mlshift_spectrum_ws *ws)
{
    return ws->L;
}

mlshift_status mlshift_laplacian_spectrum(mlshift_spectrum_ws *ws,
                                          const mlshift_neighbours *nl,
                                          double cutoff, double *eig,
                                          mlshift_error *err)
{
    mlshift_status st = mlshift_laplacian(ws, nl, cutoff, err);
    if (st != MLSHIFT_OK)
        return st;
    int n = (int)nl->n_atoms;
    if (n == 0)
        return MLSHIFT_OK;
    int info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', n, ws->L, n, eig,
                                   ws->work, ws->lwork, ws->iwork, ws->liwork);
    if (info != 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: dsyevd failed to converge (info %d)", info);
    /* dsyevd returns ascending eigenvalues; round-off can put the zero
     * eigenvalues at ±1e-16, which we leave as they are. */
    return MLSHIFT_OK;
}

double mlshift_spectral_distance(const double *eig, size_t n,
                                 const double *avg, size_t n_avg)
{
    /* Eq. 5 with the shorter spectrum zero-padded at the end. */
    size_t m = n > n_avg ? n : n_avg;
    double d = 0;
    for (size_t l = 0; l < m; l++) {
        double a = l < n_avg ? avg[l] : 0.0;
        double b = l < n ? eig[l] : 0.0;
        d += (a - b) * (a - b);
    }
    return d;
}

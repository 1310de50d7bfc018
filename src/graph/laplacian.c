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
 * The eigenvalues of the dense N × N matrix — N is a molecule's atom count,
 * so dense is the fast choice — come from a Householder reduction and the
 * implicit QL iteration up to N = 128, and LAPACK's dsyevd beyond, with a
 * workspace sized once, so the compute path allocates nothing. */
#include "laplacian.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

/* Up to this size the plain-loop reduction beats dsyevd (see below). */
#define MLSHIFT_SMALL_EIG 128

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

/* Eigenvalues of a symmetric tridiagonal matrix: diagonal d (n,), off-
 * diagonal e (n,; e[i] couples i and i+1, e[n-1] unused), by the implicit
 * QL algorithm with Wilkinson shifts (Bowdler, Martin, Reinsch, Wilkinson
 * 1968). Eigenvalues land in d, unsorted. Returns 0, or 1 when an
 * eigenvalue needs more than 60 iterations. */
static int tridiagonal_ql(int n, double *d, double *e)
{
    if (n > 0)
        e[n - 1] = 0.0;
    for (int l = 0; l < n; l++) {
        int iter = 0, m;
        for (;;) {
            for (m = l; m < n - 1; m++) {
                double dd = fabs(d[m]) + fabs(d[m + 1]);
                if (fabs(e[m]) <= DBL_EPSILON * dd)
                    break;
            }
            if (m == l)
                break;
            if (iter++ == 60)
                return 1;
            double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            double r = sqrt(g * g + 1.0);
            g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
            double s = 1.0, c = 1.0, p = 0.0;
            int i, deflated = 0;
            for (i = m - 1; i >= l; i--) {
                double f = s * e[i], b = c * e[i];
                r = sqrt(f * f + g * g);
                e[i + 1] = r;
                if (r == 0.0) { /* underflow: split here and restart */
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = 1;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if (deflated)
                continue;
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    return 0;
}

/* Eigenvalues of the symmetric n × n matrix A (column-major, full storage;
 * destroyed) into w, ascending, for small n: Householder reduction to
 * tridiagonal form and the QL iteration above, in plain loops. For a
 * molecule-sized matrix this is several times faster than LAPACK, whose
 * unblocked reduction pays a BLAS-2 call per column (21 × 21: ~20 µs for
 * dsyevd, ~14 µs for dsterf alone, measured). Backward stable as dsyevd is;
 * `e` is scratch of n doubles. Returns 0, or nonzero if QL fails. */
static int small_symmetric_eigenvalues(int n, double *A, double *w, double *e)
{
    double v[MLSHIFT_SMALL_EIG], p[MLSHIFT_SMALL_EIG];
    for (int k = 0; k + 2 < n; k++) {
        /* x = A[k+1:, k]; v = x − α e1 with α = −sign(x0)‖x‖. */
        int m = n - k - 1;
        double *x = A + (k + 1) + (size_t)k * n, norm2 = 0;
        for (int i = 0; i < m; i++)
            norm2 += x[i] * x[i];
        double tail = norm2 - x[0] * x[0];
        w[k] = A[k + (size_t)k * n];
        if (tail == 0) { /* already tridiagonal in this column */
            e[k] = x[0];
            continue;
        }
        double alpha = x[0] > 0 ? -sqrt(norm2) : sqrt(norm2);
        for (int i = 0; i < m; i++)
            v[i] = x[i];
        v[0] -= alpha;
        double vv = tail + v[0] * v[0], tau = 2.0 / vv;
        e[k] = alpha;
        /* A22 ← H A22 H with H = I − τ v vᵀ: p = τ A22 v, w = p − (τ vᵀp/2) v,
         * A22 −= v wᵀ + w vᵀ. */
        double *A22 = A + (k + 1) + (size_t)(k + 1) * n, vp = 0;
        for (int i = 0; i < m; i++)
            p[i] = 0;
        for (int j = 0; j < m; j++) { /* columns: contiguous inner loop */
            const double *col = A22 + (size_t)j * n;
            for (int i = 0; i < m; i++)
                p[i] += col[i] * v[j];
        }
        for (int i = 0; i < m; i++) {
            p[i] *= tau;
            vp += v[i] * p[i];
        }
        double K = 0.5 * tau * vp;
        for (int i = 0; i < m; i++)
            p[i] -= K * v[i];
        for (int j = 0; j < m; j++)
            for (int i = 0; i < m; i++)
                A22[i + (size_t)j * n] -= v[i] * p[j] + p[i] * v[j];
    }
    if (n >= 2) {
        w[n - 2] = A[(n - 2) + (size_t)(n - 2) * n];
        e[n - 2] = A[(n - 1) + (size_t)(n - 2) * n];
    }
    w[n - 1] = A[(n - 1) + (size_t)(n - 1) * n];
    if (tridiagonal_ql(n, w, e))
        return 1;
    for (int i = 1; i < n; i++) { /* insertion sort: ascending */
        double x = w[i];
        int j = i - 1;
        for (; j >= 0 && w[j] > x; j--)
            w[j + 1] = w[j];
        w[j + 1] = x;
    }
    return 0;
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
    /* Closed forms for the two graphs large and small radii give: no edges
     * (L = I, all ones) and the complete graph K_n (0 once, n/(n−1) n−1
     * times). Degrees tell which: all 0, or all n − 1. */
    int empty = 1, complete = n > 1;
    for (int i = 0; i < n; i++) {
        double di = ws->dinv[i];
        empty &= di == 0.0;
        complete &= di > 0 && fabs(1.0 / (di * di) - (double)(n - 1)) < 0.5;
    }
    if (empty || complete) {
        for (int i = 0; i < n; i++)
            eig[i] = empty ? 1.0 : (i ? (double)n / (double)(n - 1) : 0.0);
        return MLSHIFT_OK;
    }
    int info = n <= MLSHIFT_SMALL_EIG
                   ? small_symmetric_eigenvalues(n, ws->L, eig, ws->work)
                   : LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', n, ws->L, n,
                                         eig, ws->work, ws->lwork, ws->iwork,
                                         ws->liwork);
    if (info != 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: the eigenvalue iteration failed to converge "
                       "(info %d)", info);
    /* Ascending; round-off can put the zero eigenvalues at ±1e-16, which we
     * leave as they are. */
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

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
 * implicit QL iteration up to N = 128, LAPACK's dsyevd beyond, and its
 * two-stage variant dsyevd_2stage from N = 2000 on, with a workspace sized
 * once, so the compute path allocates nothing. For eigenvalues only, dsyevd
 * is dsytrd + dsterf, and dsytrd spends half its flops in dsymv, which
 * reads the whole trailing matrix per column: once the matrix leaves the
 * cache (~2000 atoms, 32 MB) that is memory-bound. The two-stage reduction
 * goes to a band matrix with BLAS-3 and then to tridiagonal by bulge
 * chasing within the band: 2.1x faster at 5000 atoms (7.2 s against 15.4 s
 * CPU on one OpenBLAS thread, a random dense packing at 5 Å, on a loaded
 * machine), 20-30% slower at 1000 and 1500 atoms, even at 2000 (all
 * measured). Both are backward stable; they agree to ~1e-14. Several
 * matrices of one size (one structure at several radii) go through a
 * batched path: reductions four at a time in interleaved lanes (so the
 * loops run SIMD across the matrices) and the QL sweeps of four matrices
 * interleaved step by step (each sweep is one long chain of dependent
 * square roots and divisions; four independent chains keep the core busy).
 * Every matrix sees exactly the operations of the one-at-a-time algorithm,
 * so batching changes no bit of any result. */
#include "laplacian.h"
#include "neighbours.h"

#include <float.h>
#include <limits.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

/* LAPACK's two stages (in OpenBLAS's LAPACK; lapack.h has no prototypes
 * for them): Fortran, the hidden lengths of the character arguments
 * last. */
void ssytrd_sy2sb_(const char *uplo, const int *n, const int *kd, float *a,
                   const int *lda, float *ab, const int *ldab, float *tau,
                   float *work, const int *lwork, int *info, size_t uplo_len);
void ssytrd_sb2st_(const char *stage1, const char *vect, const char *uplo,
                   const int *n, const int *kd, float *ab, const int *ldab,
                   float *d, float *e, float *hous, const int *lhous,
                   float *work, const int *lwork, int *info, size_t l1,
                   size_t l2, size_t l3);

#if defined(__GNUC__)
#define MS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MS_ALWAYS_INLINE inline
#endif
/* The loops over the K lanes: unrolled whole, then vectorised as straight
 * code (GCC otherwise makes each a loop of two vector iterations). */
#if defined(__GNUC__) && !defined(__clang__)
#define LANES_UNROLLED _Pragma("GCC unroll 4")
#else
#define LANES_UNROLLED
#endif

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
    ws->two_stage_min = MLSHIFT_TWO_STAGE_EIG;
    /* dsyevd, JOBZ = 'N': lwork >= 2n + 1, liwork >= 1; dsyevd_2stage needs
     * room for the band and the bulge chasing besides. Ask LAPACK for both
     * (the tests lower two_stage_min after creation). */
    double wq = 0, wq2 = 0;
    int iq = 0, iq2 = 0;
    int nn = (int)n;
    size_t ns = n < MLSHIFT_SMALL_EIG ? n : MLSHIFT_SMALL_EIG;
    ws->L = malloc(n * n * sizeof *ws->L);
    ws->dinv = malloc(n * sizeof *ws->dinv);
    ws->lanes = malloc(ns * ns * MLSHIFT_EIG_LANES * sizeof *ws->lanes);
    if (!ws->L || !ws->dinv || !ws->lanes ||
        LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', nn, ws->L, nn, NULL,
                            &wq, -1, &iq, -1) != 0 ||
        LAPACKE_dsyevd_2stage_work(LAPACK_COL_MAJOR, 'N', 'L', nn, ws->L, nn,
                                   NULL, &wq2, -1, &iq2, -1) != 0 ||
        !(wq2 < (double)INT_MAX)) {
        mlshift_spectrum_ws_destroy(ws);
        return NULL;
    }
    wq = wq2 > wq ? wq2 : wq;
    iq = iq2 > iq ? iq2 : iq;
    ws->lwork = (int)wq > 2 * nn + 1 ? (int)wq : 2 * nn + 1;
    ws->liwork = iq > 1 ? iq : 1;
    ws->work = malloc((size_t)ws->lwork * sizeof *ws->work);
    ws->iwork = malloc((size_t)ws->liwork * sizeof *ws->iwork);
    /* The single-precision route: its own (smaller) workspace, for the two
     * stages called one by one (single_two_stage). */
    ws->single_min = MLSHIFT_SINGLE_EIG;
    int kd = MLSHIFT_EIG_BAND, ldab = kd + 1, q = -1, info = 0;
    float w1 = 0, h2 = 0, w2 = 0;
    ssytrd_sy2sb_("L", &nn, &kd, NULL, &nn, NULL, &ldab, NULL, &w1, &q, &info, 1);
    if (info == 0)
        ssytrd_sb2st_("N", "N", "L", &nn, &kd, NULL, &ldab, NULL, NULL, &h2, &q,
                      &w2, &q, &info, 1, 1, 1);
    size_t band = (size_t)ldab * n;
    ws->s_lw1 = (int)w1;
    ws->s_lh = (int)h2;
    ws->s_lw2 = (int)w2;
    if (info != 0 || !(w1 < (float)INT_MAX) || !(h2 < (float)INT_MAX) ||
        !(w2 < (float)INT_MAX)) {
        mlshift_spectrum_ws_destroy(ws);
        return NULL;
    }
    /* AB, tau, e, then the three LAPACK workspaces. */
    ws->swork = malloc((band + 2 * n + (size_t)ws->s_lw1 + (size_t)ws->s_lh +
                        (size_t)ws->s_lw2) * sizeof *ws->swork);
    ws->sw = malloc(n * sizeof *ws->sw);
    if (!ws->work || !ws->iwork || !ws->swork || !ws->sw) {
        mlshift_spectrum_ws_destroy(ws);
        return NULL;
    }
    return ws;
}

void mlshift_spectrum_ws_set_exact(mlshift_spectrum_ws *ws, int exact)
{
    ws->single_min = exact ? SIZE_MAX : MLSHIFT_SINGLE_EIG;
}

void mlshift_spectrum_ws_destroy(mlshift_spectrum_ws *ws)
{
    if (!ws)
        return;
    free(ws->L);
    free(ws->dinv);
    free(ws->lanes);
    free(ws->work);
    free(ws->iwork);
    free(ws->swork);
    free(ws->sw);
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

void ms_pair_dmin(const mlshift_neighbours *nl, double *dmin)
{
    size_t n = nl->n_atoms;
    for (size_t k = 0; k < n * n; k++)
        dmin[k] = INFINITY;
    for (size_t e = 0; e < nl->n_edges; e++) {
        size_t i = (size_t)nl->src[e], j = (size_t)nl->dst[e];
        double d = nl->dist[e], *a = dmin + i + j * n, *b = dmin + j + i * n;
        if (i == j) /* a periodic self-image: no self loop */
            continue;
        *a = d < *a ? d : *a;
        *b = d < *b ? d : *b;
    }
}

void ms_laplacian_from_dmin(size_t n, const double *dmin, double cutoff,
                            double *L, double *dinv)
{
    /* The same arithmetic as mlshift_laplacian, without its branch per
     * edge: A_ij = (dmin_ij <= cutoff). */
    for (size_t i = 0; i < n; i++) {
        const double *col = dmin + i * n;
        double deg = 0;
        for (size_t j = 0; j < n; j++)
            deg += col[j] <= cutoff ? 1.0 : 0.0;
        dinv[i] = deg > 0 ? 1.0 / sqrt(deg) : 0.0;
    }
    for (size_t i = 0; i < n; i++) { /* lower triangle */
        L[i + i * n] = 1.0; /* no self loops */
        for (size_t j = i + 1; j < n; j++) {
            double a = dmin[j + i * n] <= cutoff ? 1.0 : 0.0;
            L[j + i * n] = 0.0 - dinv[i] * a * dinv[j];
        }
    }
}

/* ---- Large structures: a pair list instead of an N × N dmin
 *
 * Above MLSHIFT_SMALL_EIG atoms the trial graphs of one structure come
 * from a list of its atom pairs, each with its shortest edge (periodic
 * images of one pair are one edge of A): O(E) memory where dmin took N²
 * doubles (200 MB at 5,000 atoms, written, faulted in and read once per
 * radius — a third of a refinement's time outside LAPACK). Each Laplacian
 * is then written straight in the precision its eigensolver takes. */

void ms_pairs_free(ms_pairs *p)
{
    free(p->lo);
    free(p->hi);
    free(p->d);
    free(p->count_by_lo);
    free(p->slot);
    memset(p, 0, sizeof *p);
}

/* Room for e pairs and n atoms. */
static int pairs_reserve(ms_pairs *p, size_t n, size_t e)
{
    if (e > p->cap) {
        int32_t *lo = realloc(p->lo, e * sizeof *lo);
        p->lo = lo ? lo : p->lo;
        int32_t *hi = realloc(p->hi, e * sizeof *hi);
        p->hi = hi ? hi : p->hi;
        double *d = realloc(p->d, e * sizeof *d);
        p->d = d ? d : p->d;
        if (!lo || !hi || !d)
            return -1;
        p->cap = e;
    }
    if (n + 1 > p->cap_n) {
        size_t *c = realloc(p->count_by_lo, (n + 1) * sizeof *c);
        p->count_by_lo = c ? c : p->count_by_lo;
        int64_t *s = realloc(p->slot, n * sizeof *s);
        p->slot = s ? s : p->slot;
        if (!c || !s)
            return -1;
        p->cap_n = n + 1;
    }
    return 0;
}

int ms_pairs_build(ms_pairs *p, const mlshift_neighbours *nl)
{
    size_t n = nl->n_atoms, E = nl->n_edges;
    if (pairs_reserve(p, n, E))
        return -1;
    p->n_atoms = n;
    /* Pairs are grouped by their lower atom (counting sort of the edges,
     * whichever direction an edge was stored in, half or full list), then
     * made unique within a group: slot[hi] is the pair of (lo, hi) while
     * group lo is being filled, and older slots (< the group's start) are
     * stale by construction. */
    size_t *start = p->count_by_lo;
    memset(start, 0, (n + 1) * sizeof *start);
    for (size_t e = 0; e < E; e++) {
        int32_t i = nl->src[e], j = nl->dst[e];
        if (i != j) /* a periodic self-image: no self loop */
            start[(i < j ? i : j) + 1]++;
    }
    for (size_t a = 0; a < n; a++)
        start[a + 1] += start[a];
    /* The edges in group order first, in hi and d, with start[a] as the
     * fill cursor of group a. */
    for (size_t e = 0; e < E; e++) {
        int32_t i = nl->src[e], j = nl->dst[e];
        if (i == j)
            continue;
        int32_t a = i < j ? i : j, b = i < j ? j : i;
        size_t k = start[a]++;
        p->hi[k] = b;
        p->d[k] = nl->dist[e];
    }
    /* start[a] is now the end of group a; the start of a is start[a - 1]. */
    for (size_t a = 0; a < n; a++)
        p->slot[a] = -1;
    size_t count = 0, begin = 0;
    for (size_t a = 0; a < n; a++) {
        size_t first = count;
        for (size_t k = begin; k < start[a]; k++) {
            int32_t b = p->hi[k];
            double d = p->d[k];
            int64_t s = p->slot[b];
            if (s >= (int64_t)first) { /* (a, b) again: another image */
                p->d[s] = d < p->d[s] ? d : p->d[s];
                continue;
            }
            p->slot[b] = (int64_t)count;
            p->lo[count] = (int32_t)a;
            p->hi[count] = b; /* count <= k: overwrites only read entries */
            p->d[count] = d;
            count++;
        }
        begin = start[a];
    }
    p->count = count;
    return 0;
}

size_t ms_pairs_within(const ms_pairs *p, double cutoff)
{
    size_t c = 0;
    for (size_t k = 0; k < p->count; k++)
        c += p->d[k] <= cutoff;
    return c;
}

int ms_spectrum_single(const mlshift_spectrum_ws *ws, size_t n)
{
    return n > MLSHIFT_SMALL_EIG && n >= ws->single_min;
}

void ms_laplacian_from_pairs(const ms_pairs *p, double cutoff, int single,
                             void *L, double *dinv)
{
    size_t n = p->n_atoms;
    /* Degrees (exact integers) in dinv first. */
    for (size_t i = 0; i < n; i++)
        dinv[i] = 0;
    for (size_t k = 0; k < p->count; k++)
        if (p->d[k] <= cutoff) {
            dinv[p->lo[k]] += 1.0;
            dinv[p->hi[k]] += 1.0;
        }
    for (size_t i = 0; i < n; i++)
        dinv[i] = dinv[i] > 0 ? 1.0 / sqrt(dinv[i]) : 0.0;
    /* The lower triangle, with the arithmetic of ms_laplacian_from_dmin
     * (0 − dinv_col · 1 · dinv_row; +0 off the graph, 1 on the diagonal),
     * rounded to float once where the solver is single precision. */
    float *Lf = L;
    double *Ld = L;
    for (size_t c = 0; c < n; c++) {
        if (single) {
            memset(Lf + c + c * n, 0, (n - c) * sizeof *Lf);
            Lf[c + c * n] = 1.0f;
        } else {
            memset(Ld + c + c * n, 0, (n - c) * sizeof *Ld);
            Ld[c + c * n] = 1.0;
        }
    }
    for (size_t k = 0; k < p->count; k++) {
        if (!(p->d[k] <= cutoff))
            continue;
        size_t c = (size_t)p->lo[k], r = (size_t)p->hi[k];
        double v = 0.0 - dinv[c] * 1.0 * dinv[r];
        if (single)
            Lf[r + c * n] = (float)v;
        else
            Ld[r + c * n] = v;
    }
}

int ms_spectrum_closed_form(size_t n, const double *dinv, double *eig)
{
    /* Closed forms for the two graphs large and small radii give: no edges
     * (L = I, all ones) and the complete graph K_n (0 once, n/(n−1) n−1
     * times). Degrees tell which: all 0, or all n − 1. */
    int empty = 1, complete = n > 1;
    for (size_t i = 0; i < n; i++) {
        double di = dinv[i];
        empty &= di == 0.0;
        complete &= di > 0 && fabs(1.0 / (di * di) - (double)(n - 1)) < 0.5;
    }
    if (!empty && !complete)
        return 0;
    for (size_t i = 0; i < n; i++)
        eig[i] = empty ? 1.0 : (i ? (double)n / (double)(n - 1) : 0.0);
    return 1;
}

/* Householder reduction of K symmetric n × n matrices at once, held in
 * interleaved lanes B[(i + j n) K + q] (column-major each, lower triangle
 * read and updated, destroyed), to tridiagonal form: diagonal d[q] (n,),
 * off-diagonal e[q] (n,; e[i] couples i and i+1). Column k: x = A[k+1:, k],
 * v = x − α e1 with α = −sign(x0)‖x‖, H = I − τ v vᵀ, A22 ← H A22 H as
 * p = τ A22 v, p −= (τ vᵀp/2) v, A22 −= v pᵀ + p vᵀ. A lane whose column
 * is already tridiagonal gets v = 0, τ = 0, which leaves its matrix bit for
 * bit as it was, so every lane goes through exactly the operations of a
 * reduction on its own; the inner loops over q vectorise. In plain loops
 * this is several times faster than LAPACK for molecule-sized matrices,
 * whose unblocked reduction pays a BLAS-2 call per column (21 × 21: ~20 µs
 * for dsyevd, ~14 µs for dsterf alone, measured); backward stable as dsyevd
 * is. */
static MS_ALWAYS_INLINE void householder_lanes(const int K, int n,
                                               double *restrict B,
                                               double *const *d,
                                               double *const *e)
{
    double v[MLSHIFT_SMALL_EIG * MLSHIFT_EIG_LANES]; /* (m, K) */
    double p[MLSHIFT_SMALL_EIG * MLSHIFT_EIG_LANES]; /* (m, K) */
    double norm2[MLSHIFT_EIG_LANES], tau[MLSHIFT_EIG_LANES];
    double on[MLSHIFT_EIG_LANES], v0[MLSHIFT_EIG_LANES];
    double vp[MLSHIFT_EIG_LANES], half[MLSHIFT_EIG_LANES];
    size_t ld = (size_t)n * K; /* lane-interleaved column stride */
    for (int k = 0; k + 2 < n; k++) {
        int m = n - k - 1;
        const double *x = B + (size_t)(k + 1) * K + (size_t)k * ld; /* (m, K) */
        LANES_UNROLLED
        for (int q = 0; q < K; q++)
            norm2[q] = 0;
        for (int i = 0; i < m; i++)
            LANES_UNROLLED
            for (int q = 0; q < K; q++)
                norm2[q] += x[i * K + q] * x[i * K + q];
        LANES_UNROLLED
        for (int q = 0; q < K; q++) {
            double x0 = x[q], tail = norm2[q] - x0 * x0;
            d[q][k] = B[(size_t)k * K + (size_t)k * ld + q];
            if (tail == 0) { /* already tridiagonal in this column */
                e[q][k] = x0;
                on[q] = 0;
                v0[q] = 0;
                tau[q] = 0;
                continue;
            }
            double alpha = x0 > 0 ? -sqrt(norm2[q]) : sqrt(norm2[q]);
            on[q] = 1;
            v0[q] = x0 - alpha;
            tau[q] = 2.0 / (tail + v0[q] * v0[q]);
            e[q][k] = alpha;
        }
        LANES_UNROLLED
        for (int q = 0; q < K; q++)
            v[q] = v0[q];
        for (int i = 1; i < m; i++)
            LANES_UNROLLED
            for (int q = 0; q < K; q++)
                v[i * K + q] = on[q] != 0 ? x[i * K + q] : 0.0;
        double *A22 = B + (size_t)(k + 1) * K + (size_t)(k + 1) * ld;
        /* p = A22 v, summed over j in order; A22 (i, j) for i < j is read
         * as (j, i): the matrix stays symmetric bit for bit (both halves
         * get the same products, summed in swapped order), so only the
         * lower triangle is kept up to date. */
        for (int i = 0; i < m * K; i++)
            p[i] = 0;
        for (int j = 0; j < m; j++) {
            const double *row = A22 + (size_t)j * K; /* (j, i) at row + i ld */
            const double *col = A22 + (size_t)j * ld;
            const double *vj = v + j * K;
            for (int i = 0; i < j; i++)
                LANES_UNROLLED
                for (int q = 0; q < K; q++)
                    p[i * K + q] += row[(size_t)i * ld + q] * vj[q];
            for (int i = j; i < m; i++)
                LANES_UNROLLED
                for (int q = 0; q < K; q++)
                    p[i * K + q] += col[i * K + q] * vj[q];
        }
        LANES_UNROLLED
        for (int q = 0; q < K; q++)
            vp[q] = 0;
        for (int i = 0; i < m; i++)
            LANES_UNROLLED
            for (int q = 0; q < K; q++) {
                p[i * K + q] *= tau[q];
                vp[q] += v[i * K + q] * p[i * K + q];
            }
        LANES_UNROLLED
        for (int q = 0; q < K; q++)
            half[q] = 0.5 * tau[q] * vp[q];
        for (int i = 0; i < m; i++)
            LANES_UNROLLED
            for (int q = 0; q < K; q++)
                p[i * K + q] -= half[q] * v[i * K + q];
        for (int j = 0; j < m; j++) { /* lower triangle */
            double *col = A22 + (size_t)j * ld;
            const double *vj = v + j * K, *pj = p + j * K;
            for (int i = j; i < m; i++)
                LANES_UNROLLED
                for (int q = 0; q < K; q++)
                    col[i * K + q] -= v[i * K + q] * pj[q] + p[i * K + q] * vj[q];
        }
    }
    LANES_UNROLLED
    for (int q = 0; q < K; q++) {
        if (n >= 2) {
            d[q][n - 2] = B[(size_t)(n - 2) * K + (size_t)(n - 2) * ld + q];
            e[q][n - 2] = B[(size_t)(n - 1) * K + (size_t)(n - 2) * ld + q];
        }
        d[q][n - 1] = B[(size_t)(n - 1) * K + (size_t)(n - 1) * ld + q];
    }
}

/* The implicit QL algorithm with Wilkinson shifts (Bowdler, Martin,
 * Reinsch, Wilkinson 1968) for a symmetric tridiagonal matrix, diagonal d
 * (n,) and off-diagonal e (n,; e[i] couples i and i+1, e[n-1] unused), cut
 * into single rotations so that several matrices can advance in turn:
 * ql_sweep sets up the next sweep, ql_step does one rotation of it.
 * Eigenvalues land in d, unsorted. */
typedef struct {
    double *d, *e;      /* (n,) */
    double s, c, p, g;  /* the running rotation */
    int l, m, i;        /* eigenvalue l, sweep from m − 1 down to l, at i */
    int iter;           /* sweeps spent on eigenvalue l */
    int id;             /* which matrix of the batch */
} ql_state;

static void ql_begin(ql_state *q, int n, double *d, double *e, int id)
{
    q->d = d;
    q->e = e;
    q->l = 0;
    q->iter = 0;
    q->id = id;
    if (n > 0)
        e[n - 1] = 0.0;
}

/* Finds the next unconverged block from l on and sets up its sweep.
 * Returns 1 with a sweep ready, 0 when all of d has converged, −1 when an
 * eigenvalue needs more than 60 sweeps. */
static int ql_sweep(ql_state *q, int n)
{
    double *d = q->d, *e = q->e;
    for (;;) {
        int l = q->l, m = n - 1;
        if (l >= n)
            return 0;
        /* m: the first negligible e[m] from l on (n − 1 if none), found
         * without an early exit: that branch would depend on the sweep
         * just finished and stall the other matrices' sweeps behind it. */
        for (int k = n - 2; k >= l; k--) {
            double dd = fabs(d[k]) + fabs(d[k + 1]);
            m = fabs(e[k]) <= DBL_EPSILON * dd ? k : m;
        }
        if (m == l) {
            q->l = l + 1;
            q->iter = 0;
            continue;
        }
        if (q->iter++ == 60)
            return -1;
        double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
        double r = sqrt(g * g + 1.0);
        q->g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
        q->s = 1.0;
        q->c = 1.0;
        q->p = 0.0;
        q->m = m;
        q->i = m - 1;
        return 1;
    }
}

/* One rotation of the current sweep. Returns 1 while the sweep goes on, 0
 * when it has ended (finished, or split by an underflow) and ql_sweep is
 * next. */
static MS_ALWAYS_INLINE int ql_step(ql_state *q)
{
    double *d = q->d, *e = q->e;
    int i = q->i, m = q->m;
    double s = q->s, c = q->c, p = q->p, g = q->g;
    double f = s * e[i], b = c * e[i];
    double r = sqrt(f * f + g * g);
    e[i + 1] = r;
    if (r == 0.0) { /* underflow: split here and restart */
        d[i + 1] -= p;
        e[m] = 0.0;
        return 0;
    }
    s = f / r;
    c = g / r;
    g = d[i + 1] - p;
    r = (d[i] - g) * s + 2.0 * c * b;
    p = s * r;
    d[i + 1] = g + p;
    g = c * r - b;
    if (i > q->l) {
        q->s = s;
        q->c = c;
        q->p = p;
        q->g = g;
        q->i = i - 1;
        return 1;
    }
    d[q->l] -= p;
    e[q->l] = g;
    e[m] = 0.0;
    return 0;
}

/* QL on nb tridiagonal matrices, matrix t with diagonal w + t n and off-
 * diagonal e + t estride, QL_LANES at a time, a rotation of each in turn.
 * Returns 0, or 1 + the index of a matrix that failed. */
#define QL_LANES 4 /* 4 to 8 measured alike on 21 × 21 */
static int ql_batch(int n, int nb, double *w, double *e, size_t estride)
{
    ql_state lane[QL_LANES];
    int live[QL_LANES], next = 0, n_live = 0;
    for (int s = 0; s < QL_LANES; s++) {
        live[s] = 0;
        while (next < nb) {
            int t = next++, r;
            ql_begin(&lane[s], n, w + (size_t)t * n, e + (size_t)t * estride, t);
            if ((r = ql_sweep(&lane[s], n)) < 0)
                return 1 + t;
            if (r > 0) {
                live[s] = 1;
                n_live++;
                break;
            }
        }
    }
    while (n_live > 0)
        for (int s = 0; s < QL_LANES; s++) {
            if (!live[s] || ql_step(&lane[s]))
                continue;
            int r = ql_sweep(&lane[s], n);
            if (r < 0)
                return 1 + lane[s].id;
            while (r == 0 && next < nb) { /* this one is done: take another */
                int t = next++;
                ql_begin(&lane[s], n, w + (size_t)t * n, e + (size_t)t * estride, t);
                if ((r = ql_sweep(&lane[s], n)) < 0)
                    return 1 + t;
            }
            if (r == 0) {
                live[s] = 0;
                n_live--;
            }
        }
    return 0;
}

static void sort_ascending(int n, double *w)
{
    for (int i = 1; i < n; i++) { /* insertion sort */
        double x = w[i];
        int j = i - 1;
        for (; j >= 0 && w[j] > x; j--)
            w[j + 1] = w[j];
        w[j + 1] = x;
    }
}

/* ssyevd_2stage for eigenvalues alone is ssytrd_2stage (ssytrd_sy2sb: a
 * BLAS-3 reduction to a band of kd sub-diagonals; ssytrd_sb2st: bulge
 * chasing to tridiagonal) then ssterf; called here stage by stage only to
 * choose the band: ILAENV2STAGE's kd = 32 spends ~0.2 s more at 5,000 atoms
 * than kd = 64 (3.06 s against 2.85 on the bench's matrix, one thread):
 * the first stage's SSYMM and SSYR2K run on panels twice as wide, while the
 * second stage's O(n² kd) work grows less (measured for kd 16-128,
 * 2026-12-03). The eigenvalues agree with ssyevd_2stage's to 7e-6 (float
 * rounding; both backward stable). No scaling of A: a normalised
 * Laplacian's norm is at most 2. Ascending eigenvalues into ws->sw. */
static int single_two_stage(mlshift_spectrum_ws *ws, int n, float *A)
{
    int kd = MLSHIFT_EIG_BAND, ldab = kd + 1, info = 0;
    float *ab = ws->swork, *tau = ab + (size_t)ldab * (size_t)n;
    float *e = tau + n, *w1 = e + n, *hous = w1 + ws->s_lw1, *w2 = hous + ws->s_lh;
    ssytrd_sy2sb_("L", &n, &kd, A, &n, ab, &ldab, tau, w1, &ws->s_lw1, &info, 1);
    if (info == 0)
        ssytrd_sb2st_("N", "N", "L", &n, &kd, ab, &ldab, ws->sw, e, hous,
                      &ws->s_lh, w2, &ws->s_lw2, &info, 1, 1, 1);
    if (info == 0)
        LAPACK_ssterf(&n, ws->sw, e, &info);
    return info;
}

int ms_eigenvalues_large(mlshift_spectrum_ws *ws, int n, void *A, double *w)
{
    if (ms_spectrum_single(ws, (size_t)n)) {
        int info = single_two_stage(ws, n, A);
        for (int i = 0; i < n && info == 0; i++)
            w[i] = (double)ws->sw[i];
        return info;
    }
    int two = (size_t)n >= ws->two_stage_min;
    return two ? LAPACKE_dsyevd_2stage_work(LAPACK_COL_MAJOR, 'N', 'L', n, A,
                                            n, w, ws->work, ws->lwork,
                                            ws->iwork, ws->liwork)
               : LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', n, A, n, w,
                                     ws->work, ws->lwork, ws->iwork,
                                     ws->liwork);
}

int ms_eigenvalues_batch(mlshift_spectrum_ws *ws, int n, int nb, double *A,
                         double *w)
{
    size_t nn = (size_t)n * (size_t)n;
    if (n <= 0 || nb <= 0)
        return 0;
    if (n > MLSHIFT_SMALL_EIG) {
        int single = ms_spectrum_single(ws, (size_t)n);
        for (int t = 0; t < nb; t++) {
            double *a = A + t * nn;
            if (single) {
                /* Float k lands at byte 4k, below double k at 8k: the copy
                 * runs forward in place. Stored through memcpy (bytes),
                 * so the compiler keeps every store behind the loads it
                 * may overlap. */
                unsigned char *bytes = (unsigned char *)a;
                for (size_t k = 0; k < nn; k++) {
                    float v = (float)a[k];
                    memcpy(bytes + k * sizeof v, &v, sizeof v);
                }
            }
            int info = ms_eigenvalues_large(ws, n, a, w + (size_t)t * n);
            if (info != 0)
                return 1 + t;
        }
        return 0;
    }
    /* Reductions in groups of 4 lanes (2 or 1 for what is left; a third
     * matrix gets an all-zero fourth lane); the off-diagonal of matrix t
     * then lives in the first n entries of its own A + t n², which the
     * reduction no longer needs once it is copied into the lanes. */
    double spare_d[MLSHIFT_SMALL_EIG], spare_e[MLSHIFT_SMALL_EIG];
    for (int t0 = 0; t0 < nb; t0 += MLSHIFT_EIG_LANES) {
        int kq = nb - t0 < MLSHIFT_EIG_LANES ? nb - t0 : MLSHIFT_EIG_LANES;
        int K = kq <= 2 ? kq : MLSHIFT_EIG_LANES;
        double *d[MLSHIFT_EIG_LANES], *e[MLSHIFT_EIG_LANES];
        const double *a[MLSHIFT_EIG_LANES];
        for (int q = 0; q < K; q++) {
            a[q] = q < kq ? A + (size_t)(t0 + q) * nn : NULL;
            d[q] = q < kq ? w + (size_t)(t0 + q) * n : spare_d;
            e[q] = q < kq ? A + (size_t)(t0 + q) * nn : spare_e;
        }
        for (size_t j = 0; j < (size_t)n; j++) /* the lower triangles */
            for (size_t k = j * n + j; k < (j + 1) * n; k++)
                for (int q = 0; q < K; q++)
                    ws->lanes[k * K + q] = a[q] ? a[q][k] : 0.0;
        if (K == 1)
            householder_lanes(1, n, ws->lanes, d, e);
        else if (K == 2)
            householder_lanes(2, n, ws->lanes, d, e);
        else
            householder_lanes(MLSHIFT_EIG_LANES, n, ws->lanes, d, e);
    }
    int info = ql_batch(n, nb, w, A, nn);
    if (info)
        return info;
    for (int t = 0; t < nb; t++)
        sort_ascending(n, w + (size_t)t * n);
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
    if (n == 0 || ms_spectrum_closed_form((size_t)n, ws->dinv, eig))
        return MLSHIFT_OK;
    int info = ms_eigenvalues_batch(ws, n, 1, ws->L, eig);
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

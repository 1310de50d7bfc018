/* SPDX-License-Identifier: MIT */
/* Cell list: plan the grid (basis, bins, stencil reach) from the cell and
 * the cutoff, then bin the atoms by a stable counting sort. The geometry is
 * derived in cell_list.h. */
#include "cell_list.h"

#include <math.h>
#include <string.h>

#include "../core/util.h"

/* Most candidate pairs (or stencil cells) one build may walk: beyond this
 * the cutoff is absurd for the cell and the list would not fit in memory. */
#define MS_MAX_PAIRS 1e10

/* Largest coordinate accepted, Å: beyond it doubles resolve no distance. */
#define MS_MAX_COORD 1e15

/* Cells per cutoff length: 2 bins of rc/2 visit 5³ cells of (rc/2)³, 15.6 rc³
 * of candidates against 27 rc³ for bins of rc (the sphere is 4.19 rc³). */
#ifndef MS_CELLS_PER_CUTOFF
#define MS_CELLS_PER_CUTOFF 1
#endif

static void cross(const double *u, const double *v, double *out)
{
    out[0] = u[1] * v[2] - u[2] * v[1];
    out[1] = u[2] * v[0] - u[0] * v[2];
    out[2] = u[0] * v[1] - u[1] * v[0];
}

static double dot(const double *u, const double *v)
{
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

static double norm(const double *u) { return sqrt(dot(u, u)); }

static const char AXIS[3] = {'a', 'b', 'c'};

/* Fills cl->basis: periodic rows are the lattice vectors, open rows an
 * orthonormal completion. Fails when the periodic rows are degenerate. */
static mlshift_status plan_basis(ms_cell_list *cl, mlshift_error *err)
{
    int per[3], np = 0, open[3], no = 0;
    for (int k = 0; k < 3; k++) {
        if (cl->periodic[k])
            per[np++] = k;
        else
            open[no++] = k;
    }
    memset(cl->basis, 0, sizeof cl->basis);
    for (int t = 0; t < np; t++)
        memcpy(cl->basis[per[t]], cl->cell[per[t]], sizeof cl->basis[0]);
    for (int t = 0; t < np; t++)
        if (!(norm(cl->cell[per[t]]) > 0))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "neighbours: cell vector %c is zero but periodic",
                           AXIS[per[t]]);
    if (np == 3) {
        double bc[3];
        cross(cl->cell[1], cl->cell[2], bc);
        double det = dot(cl->cell[0], bc);
        double scale = norm(cl->cell[0]) * norm(cl->cell[1]) * norm(cl->cell[2]);
        if (!(fabs(det) > 1e-9 * scale))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "neighbours: cell is singular (volume %g Å^3) "
                           "but periodic along a, b and c", det);
    } else if (np == 2) {
        double nrm[3];
        cross(cl->cell[per[0]], cl->cell[per[1]], nrm);
        double len = norm(nrm);
        if (!(len > 1e-9 * norm(cl->cell[per[0]]) * norm(cl->cell[per[1]])))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "neighbours: periodic cell vectors %c and %c are "
                           "parallel", AXIS[per[0]], AXIS[per[1]]);
        for (int d = 0; d < 3; d++)
            cl->basis[open[0]][d] = nrm[d] / len;
    } else if (np == 1) {
        const double *a = cl->cell[per[0]];
        double u[3], e[3] = {0, 0, 0}, v1[3], v2[3];
        double la = norm(a);
        for (int d = 0; d < 3; d++)
            u[d] = a[d] / la;
        int kmin = 0; /* the Cartesian axis least along u */
        for (int d = 1; d < 3; d++)
            if (fabs(u[d]) < fabs(u[kmin]))
                kmin = d;
        e[kmin] = 1;
        double eu = dot(e, u);
        for (int d = 0; d < 3; d++)
            v1[d] = e[d] - eu * u[d];
        double l1 = norm(v1);
        for (int d = 0; d < 3; d++)
            v1[d] /= l1;
        cross(u, v1, v2);
        memcpy(cl->basis[open[0]], v1, sizeof v1);
        memcpy(cl->basis[open[1]], v2, sizeof v2);
    } else {
        for (int k = 0; k < 3; k++)
            cl->basis[k][k] = 1;
    }
    /* G = B⁻¹: g_k = (b_{k+1} × b_{k+2}) / det. */
    double c12[3], c20[3], c01[3];
    cross(cl->basis[1], cl->basis[2], c12);
    cross(cl->basis[2], cl->basis[0], c20);
    cross(cl->basis[0], cl->basis[1], c01);
    double det = dot(cl->basis[0], c12);
    for (int d = 0; d < 3; d++) {
        cl->recip[0][d] = c12[d] / det;
        cl->recip[1][d] = c20[d] / det;
        cl->recip[2][d] = c01[d] / det;
    }
    for (int k = 0; k < 3; k++)
        cl->width[k] = 1.0 / norm(cl->recip[k]);
    return MLSHIFT_OK;
}

static size_t align8(size_t b) { return (b + 7) & ~(size_t)7; }

mlshift_status ms_cell_list_plan(ms_cell_list *cl, size_t n,
                                 const double *positions, const double *cell,
                                 const int *pbc, double cutoff,
                                 mlshift_error *err)
{
    memset(cl, 0, sizeof *cl);
    cl->n = n;
    cl->cutoff = cutoff;
    if (!isfinite(cutoff) || !(cutoff > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: cutoff must be positive and finite, got %g",
                       cutoff);
    if (n > (size_t)INT32_MAX)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: %zu atoms, more than %d", n, INT32_MAX);
    if (n > 0 && !positions)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: positions are NULL for %zu atoms", n);
    int np = 0;
    for (int k = 0; k < 3; k++) {
        cl->periodic[k] = pbc ? pbc[k] != 0 : 0;
        np += cl->periodic[k];
    }
    if (np > 0 && !cell)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: pbc = %d %d %d but no cell",
                       cl->periodic[0], cl->periodic[1], cl->periodic[2]);
    if (cell) {
        for (int t = 0; t < 9; t++)
            if (!isfinite(cell[t]))
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "neighbours: cell[%d][%d] is not finite (%g)",
                               t / 3, t % 3, cell[t]);
        for (int k = 0; k < 3; k++)
            if (cl->periodic[k])
                memcpy(cl->cell[k], cell + 3 * k, sizeof cl->cell[0]);
    }
    mlshift_status st = plan_basis(cl, err);
    if (st != MLSHIFT_OK)
        return st;

    /* One pass: finite positions, magnitude, fractional bounding box. */
    double maxabs = 0, flo[3] = {0, 0, 0}, fhi[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const double *r = positions + 3 * i;
        if (!isfinite(r[0]) || !isfinite(r[1]) || !isfinite(r[2]))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "neighbours: position of atom %zu is not finite "
                           "(%g %g %g)", i, r[0], r[1], r[2]);
        for (int d = 0; d < 3; d++)
            if (fabs(r[d]) > maxabs)
                maxabs = fabs(r[d]);
        if (maxabs > MS_MAX_COORD)
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "neighbours: position of atom %zu (%g %g %g) is "
                           "beyond %g Å", i, r[0], r[1], r[2], MS_MAX_COORD);
        for (int k = 0; k < 3; k++) {
            double f = dot(r, cl->recip[k]);
            if (!isfinite(f) || (cl->periodic[k] && fabs(f) >= 1e9))
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "neighbours: atom %zu lies %g cells away "
                               "along %c", i, f, AXIS[k]);
            if (i == 0 || f < flo[k])
                flo[k] = f;
            if (i == 0 || f > fhi[k])
                fhi[k] = f;
        }
    }
    double cellsum = 0;
    for (int k = 0; k < 3; k++)
        cellsum += norm(cl->cell[k]);
    /* Slack for the rounding of wrapped coordinates: a pair is found when
     * its distance is within `reach`, then tested exactly against cutoff. */
    cl->reach = cutoff * (1 + 1e-12) + 1e-12 * (maxabs + cellsum);

    /* Bins at least `reach` wide; no more than ~2N of them. */
    double nbd[3];
    for (int k = 0; k < 3; k++) {
        if (cl->periodic[k]) {
            nbd[k] = floor(MS_CELLS_PER_CUTOFF * cl->width[k] / cl->reach);
        } else {
            cl->lo[k] = flo[k];
            cl->span[k] = fhi[k] - flo[k];
            nbd[k] = floor(MS_CELLS_PER_CUTOFF * cl->span[k] * cl->width[k] / cl->reach);
        }
        if (!(nbd[k] >= 1))
            nbd[k] = 1;
    }
    double limit = 2.0 * (double)n + 8;
    while (nbd[0] * nbd[1] * nbd[2] > limit &&
           (nbd[0] > 1 || nbd[1] > 1 || nbd[2] > 1)) {
        int k = 0;
        for (int t = 1; t < 3; t++)
            if (nbd[t] > nbd[k])
                k = t;
        nbd[k] = fmax(1, floor(nbd[k] / 2));
    }
    double images = 1, widest = 0;
    cl->n_stencil = 1;
    for (int k = 0; k < 3; k++) {
        cl->nb[k] = (int)nbd[k];
        double m;
        if (cl->periodic[k]) {
            m = ceil(nbd[k] * cl->reach / cl->width[k]);
            images *= 2 * ceil(cl->reach / cl->width[k]) + 1;
        } else {
            m = cl->span[k] > 0
                    ? ceil(nbd[k] * cl->reach / (cl->span[k] * cl->width[k]))
                    : 0;
            m = fmin(m, nbd[k] - 1);
        }
        double nt = 2 * m + 1;
        if (!cl->periodic[k])
            nt = fmin(nt, nbd[k]);
        cl->n_stencil *= nt;
        widest = fmax(widest, nt);
        cl->m[k] = nt > 1e7 ? 0 : (int)m; /* refused below */
        cl->ntab[k] = nt > 1e7 ? 0 : (int)nt;
    }
    cl->n_bins = (size_t)cl->nb[0] * (size_t)cl->nb[1] * (size_t)cl->nb[2];
    double dn = (double)n;
    cl->est_pairs = dn * cl->n_stencil * dn / (double)cl->n_bins;
    if (dn * cl->n_stencil > MS_MAX_PAIRS || cl->est_pairs > MS_MAX_PAIRS ||
        widest > 1e7)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: cutoff %g Å reaches about %.3g periodic "
                       "images of the cell (%.3g cells and %.3g candidate "
                       "pairs for %zu atoms, limit %.0e); the cutoff is too "
                       "long for this cell", cutoff, images,
                       dn * cl->n_stencil, cl->est_pairs, n, MS_MAX_PAIRS);

    const size_t npad = n + MS_CL_PAD;
    size_t b = 0;
    b += align8(sizeof(double) * 3 * n) * 2;      /* wpos, sx|sy|sz */
    b += align8(sizeof(float) * 3 * npad);          /* fx|fy|fz */
    b += align8(sizeof(size_t) * (cl->n_bins + 1)); /* start */
    b += align8(sizeof(int32_t) * 3 * n) * 2;     /* wrap, bin */
    b += align8(sizeof(int32_t) * npad) * 2;        /* sidx, cand */
    for (int k = 0; k < 3; k++)
        b += align8(sizeof(ms_cl_entry) * (size_t)cl->nb[k] * (size_t)cl->ntab[k]) +
             align8(sizeof(int32_t) * (size_t)cl->nb[k]);
    cl->work_bytes = b;
    return MLSHIFT_OK;
}

void ms_cell_list_fill(ms_cell_list *cl, const double *positions, void *work)
{
    size_t n = cl->n;
    char *p = work;
#define TAKE(ptr, type, count)                                               \
    do {                                                                     \
        (ptr) = (type *)(void *)p;                                           \
        p += align8(sizeof(type) * (count));                                 \
    } while (0)
    const size_t npad = n + MS_CL_PAD;
    TAKE(cl->wpos, double, 3 * n);
    TAKE(cl->sx, double, 3 * n);
    cl->sy = cl->sx + n;
    cl->sz = cl->sy + n;
    TAKE(cl->fx, float, 3 * npad);
    cl->fy = cl->fx + npad;
    cl->fz = cl->fy + npad;
    TAKE(cl->start, size_t, cl->n_bins + 1);
    TAKE(cl->wrap, int32_t, 3 * n);
    TAKE(cl->bin, int32_t, 3 * n);
    TAKE(cl->sidx, int32_t, npad);
    TAKE(cl->cand, int32_t, npad);
    for (int k = 0; k < 3; k++) {
        size_t sz = (size_t)cl->nb[k] * (size_t)cl->ntab[k];
        TAKE(cl->tab[k], ms_cl_entry, sz);
        TAKE(cl->tab_len[k], int32_t, (size_t)cl->nb[k]);
    }
#undef TAKE

    /* Stencil tables: unrolled bin e = b + δ → (e mod nb, floor(e / nb));
     * along a, a bin that follows the previous one in the same image
     * extends that entry. */
    for (int k = 0; k < 3; k++) {
        int nb = cl->nb[k], m = cl->m[k], nt = cl->ntab[k];
        for (int b = 0; b < nb; b++) {
            ms_cl_entry *row = cl->tab[k] + (size_t)b * nt;
            int len = 0;
            for (int d = -m; d <= m; d++) {
                int e = b + d, img = 0;
                if (cl->periodic[k]) {
                    img = e >= 0 ? e / nb : -((-e + nb - 1) / nb);
                    e -= img * nb;
                } else if (e < 0 || e >= nb) {
                    continue;
                }
                if (k == 0 && len > 0 && row[len - 1].img == img &&
                    row[len - 1].bin + row[len - 1].n == e) {
                    row[len - 1].n++;
                    continue;
                }
                ms_cl_entry *en = row + len++;
                en->bin = e;
                en->n = 1;
                en->img = img;
                en->pad = 0;
                for (int c = 0; c < 3; c++)
                    en->off[c] = img * cl->cell[k][c];
            }
            cl->tab_len[k][b] = len;
        }
    }

    /* Wrap into the cell along periodic axes and find each atom's bin. */
    memset(cl->start, 0, sizeof(size_t) * (cl->n_bins + 1));
    double wmax = 0;
    int wrapped = 0;
    for (size_t i = 0; i < n; i++) {
        const double *r = positions + 3 * i;
        double *w = cl->wpos + 3 * i;
        w[0] = r[0];
        w[1] = r[1];
        w[2] = r[2];
        for (int k = 0; k < 3; k++) {
            double f = dot(r, cl->recip[k]);
            int32_t s = 0;
            int b;
            if (cl->periodic[k]) {
                double fl = floor(f);
                f -= fl;
                s = (int32_t)fl;
                if (f >= 1) { /* f was -tiny: rounds up to 1 */
                    f -= 1;
                    s += 1;
                }
                b = (int)(f * cl->nb[k]);
                for (int d = 0; d < 3; d++)
                    w[d] -= s * cl->cell[k][d];
            } else {
                b = cl->span[k] > 0
                        ? (int)((f - cl->lo[k]) / cl->span[k] * cl->nb[k])
                        : 0;
            }
            if (b < 0)
                b = 0;
            if (b >= cl->nb[k])
                b = cl->nb[k] - 1;
            cl->wrap[3 * i + k] = s;
            cl->bin[3 * i + k] = b;
            wrapped |= s != 0;
        }
        for (int d = 0; d < 3; d++)
            wmax = fmax(wmax, fabs(w[d]));
        const int32_t *bi = cl->bin + 3 * i;
        size_t c = ((size_t)bi[2] * cl->nb[1] + bi[1]) * cl->nb[0] + bi[0];
        cl->start[c + 1]++;
    }
    cl->wmax = wmax;
    cl->wrapped = wrapped;
    for (size_t c = 0; c < cl->n_bins; c++)
        cl->start[c + 1] += cl->start[c];
    /* Stable scatter: start[c] runs ahead as a cursor, then shifts back. */
    for (size_t i = 0; i < n; i++) {
        const int32_t *bi = cl->bin + 3 * i;
        size_t c = ((size_t)bi[2] * cl->nb[1] + bi[1]) * cl->nb[0] + bi[0];
        size_t slot = cl->start[c]++;
        const double *w = cl->wpos + 3 * i;
        cl->sidx[slot] = (int32_t)i;
        cl->sx[slot] = w[0];
        cl->sy[slot] = w[1];
        cl->sz[slot] = w[2];
        cl->fx[slot] = (float)w[0];
        cl->fy[slot] = (float)w[1];
        cl->fz[slot] = (float)w[2];
    }
    for (size_t q = n; q < n + MS_CL_PAD; q++) {
        cl->sidx[q] = 0;
        cl->fx[q] = cl->fy[q] = cl->fz[q] = 0;
    }
    for (size_t c = cl->n_bins; c > 0; c--)
        cl->start[c] = cl->start[c - 1];
    cl->start[0] = 0;
}

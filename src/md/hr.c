/* SPDX-License-Identifier: MIT */
/* The distribution of interatomic distances h(r) (paper eq. 13) and its MAE
 * (eq. 14), exactly as MDsim computes them (reference-notes §3):
 *
 *     d = torch.cdist(traj, traj)                 every frame, ordered pairs
 *     h = numpy.histogram(d, bins=numpy.linspace(1e-6, 10, 501),
 *                         density=True)[0]
 *     MAE = mean|h_pred − h_ref| × 10 = Σ_k |Δh_k| · Δr
 *
 * numpy with an array of edges counts d in bin k when e_k <= d < e_{k+1}
 * (the last bin also takes d = e_K), drops what is outside [e_0, e_K] (the
 * zero self-distances among them), and divides by each bin's own width and
 * the total count. The edges are computed as numpy.linspace does (k · step
 * + lo, the last one = hi), so the bins are numpy's to the last bit. Every
 * unordered pair counts twice, which density=True cancels. */
#include <math.h>
#include <stdlib.h>

#include "../core/util.h"
#include "md.h"

/* Bin of d among edges e (nbins + 1,), or -1 outside [e_0, e_nbins]. */
static long bin_of(double d, const double *e, size_t nbins)
{
    if (!(d >= e[0] && d <= e[nbins]))
        return -1;
    double g = (d - e[0]) / (e[nbins] - e[0]) * (double)nbins;
    long k = (long)g;
    if (k >= (long)nbins)
        k = (long)nbins - 1;
    while (k > 0 && d < e[k])
        k--;
    while (k + 1 < (long)nbins && d >= e[k + 1])
        k++;
    return k;
}

mlshift_status mlshift_hr(const mlshift_frames *fr, size_t first, size_t end,
                          size_t nbins, double r_lo, double r_hi, double *h,
                          mlshift_error *err)
{
    if (!nbins || !(r_lo < r_hi) || !isfinite(r_lo) || !isfinite(r_hi))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "h(r): need bins >= 1 and a "
                       "range lo < hi (got %zu bins, %g..%g)", nbins, r_lo, r_hi);
    if (first >= end || end > mlshift_frames_count(fr))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "h(r): frames [%zu, %zu) are not "
                       "in 0..%zu", first, end, mlshift_frames_count(fr));
    double *e = malloc((nbins + 1) * sizeof *e);
    double *count = calloc(nbins, sizeof *count);
    if (!e || !count) {
        free(e);
        free(count);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "h(r): out of memory");
    }
    double step = (r_hi - r_lo) / (double)nbins;
    for (size_t k = 0; k <= nbins; k++)
        e[k] = (double)k * step + r_lo;
    e[nbins] = r_hi;
    double total = 0;
    for (size_t s = first; s < end; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        for (size_t i = 0; i < f.natoms; i++)
            for (size_t j = i + 1; j < f.natoms; j++) {
                const double *a = f.positions + 3 * i, *b = f.positions + 3 * j;
                double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
                long k = bin_of(sqrt(dx * dx + dy * dy + dz * dz), e, nbins);
                if (k >= 0) {
                    count[k] += 2; /* (i, j) and (j, i) */
                    total += 2;
                }
            }
    }
    for (size_t k = 0; k < nbins; k++)
        h[k] = total > 0 ? count[k] / (e[k + 1] - e[k]) / total : NAN;
    free(e);
    free(count);
    if (!(total > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "h(r): no distance falls in "
                       "[%g, %g] Å", r_lo, r_hi);
    return MLSHIFT_OK;
}

double mlshift_hr_mae(const double *h, const double *g, size_t nbins,
                      double r_lo, double r_hi)
{
    double s = 0;
    for (size_t k = 0; k < nbins; k++)
        s += fabs(h[k] - g[k]);
    return s * (r_hi - r_lo) / (double)nbins;
}

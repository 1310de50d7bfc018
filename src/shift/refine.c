/* SPDX-License-Identifier: MIT */
/* Test-time radius refinement (paper §4.1, eq. 4): per structure, among k
 * trial cutoffs choose the one whose normalised-Laplacian spectrum is
 * closest (eq. 5) to the average training spectrum. The training cutoff is
 * always a candidate, so the result is never farther from the training
 * connectivity than the training cutoff itself ("virtually never
 * deteriorates" becomes "never"). Ties — distances within 1e-12 relative —
 * go to the training cutoff, then to the smaller radius (the authors'
 * argmin keeps the first, smallest, radius).
 *
 * The radius graph is built once at the largest radius; every other radius
 * filters it inside the Laplacian assembly, radii that keep the same graph
 * share its spectrum, and the distinct graphs' eigenproblems are solved
 * together (ms_shift_spectra). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "shift_ws.h"
#include "stats.h"

static mlshift_status check_radii(const double *radii, size_t k,
                                  mlshift_error *err)
{
    if (k == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "refine-radius: no trial radii");
    for (size_t a = 0; a < k; a++) {
        if (!(radii[a] > 0) || !isfinite(radii[a]))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "refine-radius: trial radius %g Å is not positive",
                           radii[a]);
        for (size_t b = 0; b < a; b++)
            if (radii[a] == radii[b])
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "refine-radius: trial radius %g Å given twice",
                               radii[a]);
    }
    return MLSHIFT_OK;
}

/* Is (d, r) a better choice than (best, rbest)? */
static int better(double d, double r, double best, double rbest, double rtrain)
{
    double tol = 1e-12 * fmax(1.0, fabs(best));
    if (d < best - tol)
        return 1;
    if (d > best + tol)
        return 0;
    if (rbest == rtrain)
        return 0;
    return r == rtrain || r < rbest;
}

/* The trial radii, then the training cutoff, in one list (k + 1,): small
 * lists on the stack (buf), longer ones allocated. */
static double *radius_list(const double *radii, size_t k, double cutoff,
                           double *buf, size_t nbuf)
{
    double *r = k + 1 <= nbuf ? buf : malloc((k + 1) * sizeof *r);
    if (!r)
        return NULL;
    memcpy(r, radii, k * sizeof *r);
    r[k] = cutoff;
    return r;
}

mlshift_status mlshift_refine_radius(const mlshift_train_stats *st,
                                     const mlshift_frame *f,
                                     const double *radii, size_t k,
                                     mlshift_shift_ws *ws,
                                     mlshift_refinement *out,
                                     double *distances, mlshift_error *err)
{
    mlshift_status s = check_radii(radii, k, err);
    if (s != MLSHIFT_OK)
        return s;
    double rmax = st->cutoff;
    for (size_t a = 0; a < k; a++)
        rmax = fmax(rmax, radii[a]);
    s = ms_shift_graph(ws, f, rmax, err);
    if (s != MLSHIFT_OK)
        return s;
    /* All k + 1 spectra at once: radii with the same graph share one, the
     * distinct ones are solved as a batch. */
    double buf[17], *r = radius_list(radii, k, st->cutoff, buf, 17);
    if (!r)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "refine-radius: out of memory");
    s = ms_shift_spectra(ws, r, k + 1, err);
    if (r != buf)
        free(r);
    if (s != MLSHIFT_OK)
        return s;
    size_t n = ws->nl.n_atoms;
    const double *spec = ws->spectra;
    size_t g = ws->graph_of[k];
    double dtrain = mlshift_spectral_distance(spec + g * n, n, st->spectrum,
                                              st->natoms_max);
    out->radius = st->cutoff;
    out->spectral_distance = out->spectral_distance_train = dtrain;
    out->degree_std = out->degree_std_train = ws->degree_std[g];
    for (size_t a = 0; a < k; a++) {
        g = ws->graph_of[a];
        double d = mlshift_spectral_distance(spec + g * n, n, st->spectrum,
                                             st->natoms_max);
        if (distances)
            distances[a] = d;
        if (better(d, radii[a], out->spectral_distance, out->radius, st->cutoff)) {
            out->radius = radii[a];
            out->spectral_distance = d;
            out->degree_std = ws->degree_std[g];
        }
    }
    return MLSHIFT_OK;
}

mlshift_status mlshift_refine_radius_set(const mlshift_train_stats *st,
                                         const mlshift_frames *fr,
                                         const size_t *idx, size_t n,
                                         const double *radii, size_t k,
                                         mlshift_shift_ws *ws,
                                         mlshift_refinement *out,
                                         mlshift_error *err)
{
    mlshift_status s = check_radii(radii, k, err);
    if (s != MLSHIFT_OK)
        return s;
    if (n == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "refine-radius: empty set");
    /* Sums over the set of eq. 5 and of the degree std, per trial radius
     * (the training cutoff last), and those radii. */
    double *sum = calloc(3 * (k + 1), sizeof *sum), *deg = sum + k + 1;
    double *r = deg + k + 1;
    if (!sum)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "refine-radius: out of memory");
    double rmax = st->cutoff;
    for (size_t a = 0; a < k; a++)
        rmax = fmax(rmax, radii[a]);
    memcpy(r, radii, k * sizeof *r);
    r[k] = st->cutoff;
    for (size_t m = 0; m < n && s == MLSHIFT_OK; m++) {
        mlshift_frame f;
        if (mlshift_frames_get(fr, idx[m], &f) != MLSHIFT_OK) {
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "refine-radius: no frame %zu",
                        idx[m]);
            break;
        }
        s = ms_shift_graph(ws, &f, rmax, err);
        if (s == MLSHIFT_OK)
            s = ms_shift_spectra(ws, r, k + 1, err);
        for (size_t a = 0; a <= k && s == MLSHIFT_OK; a++) {
            size_t g = ws->graph_of[a];
            sum[a] += mlshift_spectral_distance(ws->spectra + g * f.natoms,
                                                f.natoms, st->spectrum,
                                                st->natoms_max);
            deg[a] += ws->degree_std[g];
        }
    }
    if (s == MLSHIFT_OK) {
        double inv = 1.0 / (double)n;
        out->radius = st->cutoff;
        out->spectral_distance = out->spectral_distance_train = sum[k] * inv;
        out->degree_std = out->degree_std_train = deg[k] * inv;
        for (size_t a = 0; a < k; a++)
            if (better(sum[a] * inv, radii[a], out->spectral_distance, out->radius,
                       st->cutoff)) {
                out->radius = radii[a];
                out->spectral_distance = sum[a] * inv;
                out->degree_std = deg[a] * inv;
            }
    }
    free(sum);
    return s;
}

mlshift_status mlshift_spectral_distance_at(const mlshift_train_stats *st,
                                            const mlshift_frame *f, double r,
                                            mlshift_shift_ws *ws, double *dist,
                                            double *degree_std, mlshift_error *err)
{
    if (!(r > 0) || !isfinite(r))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "radius %g Å is not positive", r);
    mlshift_status s = ms_shift_graph(ws, f, r, err);
    if (s == MLSHIFT_OK)
        s = ms_shift_spectrum(ws, r, degree_std, err);
    if (s == MLSHIFT_OK)
        *dist = mlshift_spectral_distance(ws->eig, f->natoms, st->spectrum,
                                          st->natoms_max);
    return s;
}

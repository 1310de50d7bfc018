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
 * filters it inside the Laplacian assembly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "shift_ws.h"

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

/* Edges of ws->nl with dist <= r. The subgraphs are nested in r, so two
 * radii with the same count have the same graph and the same spectrum. */
static size_t edges_within(const mlshift_neighbours *nl, double r)
{
    size_t c = 0;
    for (size_t e = 0; e < nl->n_edges; e++)
        c += nl->dist[e] <= r;
    return c;
}

/* Eq. 5 distance and degree std at radius r, reusing an earlier radius's
 * result when the graph is the same (same edge count). cache holds n_cache
 * (count, distance, degree std) triples. */
static mlshift_status distance_cached(const mlshift_train_stats *st,
                                      mlshift_shift_ws *ws, double r,
                                      double (*cache)[3], size_t *n_cache,
                                      double *dist, double *deg,
                                      mlshift_error *err)
{
    double count = (double)edges_within(&ws->nl, r);
    for (size_t c = 0; c < *n_cache; c++)
        if (cache[c][0] == count) {
            *dist = cache[c][1];
            *deg = cache[c][2];
            return MLSHIFT_OK;
        }
    mlshift_status s = ms_shift_spectrum(ws, r, deg, err);
    if (s != MLSHIFT_OK)
        return s;
    *dist = mlshift_spectral_distance(ws->eig, ws->nl.n_atoms, st->spectrum,
                                      st->natoms_max);
    cache[*n_cache][0] = count;
    cache[*n_cache][1] = *dist;
    cache[*n_cache][2] = *deg;
    (*n_cache)++;
    return MLSHIFT_OK;
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
    double small[17][3], (*cache)[3] = small;
    if (k + 1 > 17 && !(cache = malloc((k + 1) * sizeof *cache)))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "refine-radius: out of memory");
    size_t n_cache = 0;
    double dtrain, degtrain;
    s = distance_cached(st, ws, st->cutoff, cache, &n_cache, &dtrain, &degtrain, err);
    out->radius = st->cutoff;
    out->spectral_distance = out->spectral_distance_train = dtrain;
    out->degree_std = out->degree_std_train = degtrain;
    for (size_t a = 0; a < k && s == MLSHIFT_OK; a++) {
        double d, deg;
        s = distance_cached(st, ws, radii[a], cache, &n_cache, &d, &deg, err);
        if (s != MLSHIFT_OK)
            break;
        if (distances)
            distances[a] = d;
        if (better(d, radii[a], out->spectral_distance, out->radius, st->cutoff)) {
            out->radius = radii[a];
            out->spectral_distance = d;
            out->degree_std = deg;
        }
    }
    if (cache != small)
        free(cache);
    return s;
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
     * (the training cutoff last). */
    double *sum = calloc(2 * (k + 1), sizeof *sum), *deg = sum + k + 1;
    if (!sum)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "refine-radius: out of memory");
    double rmax = st->cutoff;
    for (size_t a = 0; a < k; a++)
        rmax = fmax(rmax, radii[a]);
    for (size_t m = 0; m < n && s == MLSHIFT_OK; m++) {
        mlshift_frame f;
        if (mlshift_frames_get(fr, idx[m], &f) != MLSHIFT_OK) {
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "refine-radius: no frame %zu",
                        idx[m]);
            break;
        }
        s = ms_shift_graph(ws, &f, rmax, err);
        for (size_t a = 0; a <= k && s == MLSHIFT_OK; a++) {
            double r = a < k ? radii[a] : st->cutoff, dd;
            s = ms_shift_spectrum(ws, r, &dd, err);
            if (s != MLSHIFT_OK)
                break;
            sum[a] += mlshift_spectral_distance(ws->eig, f.natoms, st->spectrum,
                                                st->natoms_max);
            deg[a] += dd;
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

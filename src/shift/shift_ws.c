/* SPDX-License-Identifier: MIT */
/* The shift workspace: radius graph → Laplacian spectrum, reusing memory. */
#include "shift_ws.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../graph/laplacian.h"

mlshift_shift_ws *mlshift_shift_ws_create(void)
{
    return calloc(1, sizeof(mlshift_shift_ws));
}

/* The buffers of the batched spectra, grown together. */
static void free_batch(mlshift_shift_ws *ws)
{
    free(ws->dmin);
    ms_pairs_free(&ws->pair_list);
    free(ws->mats);
    free(ws->spectra);
    free(ws->dinvs);
    free(ws->degree_std);
    free(ws->scratch);
    free(ws->pairs);
    free(ws->graph_of);
    free(ws->solve);
}

static void free_more(mlshift_shift_ws *ws)
{
    for (int t = 0; t < ws->n_more; t++)
        mlshift_spectrum_ws_destroy(ws->spec_more[t]);
    free(ws->spec_more);
    ws->spec_more = NULL;
    ws->n_more = 0;
}

void mlshift_shift_ws_set_exact(mlshift_shift_ws *ws, int exact)
{
    ws->exact = exact != 0;
    if (ws->spec)
        mlshift_spectrum_ws_set_exact(ws->spec, ws->exact);
    for (int t = 0; t < ws->n_more; t++)
        mlshift_spectrum_ws_set_exact(ws->spec_more[t], ws->exact);
}

void mlshift_shift_ws_set_threads(mlshift_shift_ws *ws, int threads)
{
    ws->threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
}

void mlshift_shift_ws_destroy(mlshift_shift_ws *ws)
{
    if (!ws)
        return;
    ms_neighbours_free(&ws->nl);
    mlshift_spectrum_ws_destroy(ws->spec);
    free_more(ws);
    free(ws->eig);
    free_batch(ws);
    free(ws->comp);
    free(ws);
}

mlshift_status ms_shift_graph(mlshift_shift_ws *ws, const mlshift_frame *f,
                              double build, mlshift_error *err)
{
    if (f->natoms == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "structure has no atoms");
    if (f->natoms > ws->spec_n) {
        size_t n = f->natoms > 2 * ws->spec_n ? f->natoms : 2 * ws->spec_n;
        mlshift_spectrum_ws_destroy(ws->spec);
        free_more(ws); /* made again at the new size when needed */
        free(ws->eig);
        ws->spec = mlshift_spectrum_ws_create(n);
        if (ws->spec)
            mlshift_spectrum_ws_set_exact(ws->spec, ws->exact);
        ws->eig = malloc(n * sizeof *ws->eig);
        ws->spec_n = ws->spec && ws->eig ? n : 0;
        if (!ws->spec_n)
            return ms_fail(err, MLSHIFT_ERR_NOMEM,
                           "out of memory for a %zu-atom spectrum", n);
    }
    return mlshift_neighbours_build(&ws->nl, f->natoms, f->positions, f->cell,
                                    f->cell ? f->pbc : NULL, build, 0, err);
}

/* Population std of the node degrees, from D^-1/2 (n,): degree = 1/dinv²,
 * 0 when isolated. */
static double degree_std(size_t n, const double *dinv)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double di = dinv[i];
        double deg = di > 0 ? 1.0 / (di * di) : 0.0;
        deg = nearbyint(deg); /* degrees are integers; undo the round-off */
        s += deg;
        s2 += deg * deg;
    }
    double mean = s / (double)n;
    double var = s2 / (double)n - mean * mean;
    return sqrt(var > 0 ? var : 0);
}

mlshift_status ms_shift_spectrum(mlshift_shift_ws *ws, double cutoff,
                                 double *degree_std_out, mlshift_error *err)
{
    mlshift_status st = mlshift_laplacian_spectrum(ws->spec, &ws->nl, cutoff,
                                                   ws->eig, err);
    if (st != MLSHIFT_OK || !degree_std_out)
        return st;
    /* D^-1/2 is left in the workspace. */
    *degree_std_out = degree_std(ws->nl.n_atoms, ws->spec->dinv);
    return MLSHIFT_OK;
}

/* Room for `graphs` graphs of n atoms in the batch arrays. */
static int batch_reserve(mlshift_shift_ws *ws, size_t n, size_t graphs)
{
    if (n <= ws->batch_n && graphs <= ws->batch_graphs)
        return 0;
    n = n > ws->batch_n ? n : ws->batch_n;
    graphs = graphs > ws->batch_graphs ? graphs : ws->batch_graphs;
    free_batch(ws);
    /* Only small graphs are solved as a batch, from dmin; a large one is
     * built from the pair list in the spectrum workspace's own matrix and
     * solved at once. */
    size_t small = n < MLSHIFT_SMALL_EIG ? n : MLSHIFT_SMALL_EIG;
    ws->dmin = malloc(small * small * sizeof *ws->dmin);
    ws->mats = malloc(graphs * small * small * sizeof *ws->mats);
    ws->spectra = malloc(graphs * n * sizeof *ws->spectra);
    ws->dinvs = malloc(graphs * n * sizeof *ws->dinvs);
    ws->degree_std = malloc(graphs * sizeof *ws->degree_std);
    ws->scratch = malloc(graphs * n * sizeof *ws->scratch);
    ws->pairs = malloc(graphs * sizeof *ws->pairs);
    ws->graph_of = malloc(graphs * sizeof *ws->graph_of);
    ws->solve = malloc(graphs * sizeof *ws->solve);
    int ok = ws->dmin && ws->mats && ws->spectra && ws->dinvs &&
             ws->degree_std && ws->scratch && ws->pairs && ws->graph_of &&
             ws->solve;
    ws->batch_n = ok ? n : 0;
    ws->batch_graphs = ok ? graphs : 0;
    return ok ? 0 : -1;
}

/* Large graphs: thread t builds and solves graphs t, t + T, … (radius
 * rad[g]) in its own spectrum workspace; every graph writes only its own
 * rows of dinvs, spectra and degree_std, so the result does not depend on
 * the thread count. */
typedef struct large_job {
    mlshift_shift_ws *ws;
    mlshift_spectrum_ws *spec;
    const double *rad;      /* (graphs) */
    size_t n, graphs, t, T;
    int info;
} large_job;

static void *solve_large(void *arg)
{
    large_job *j = arg;
    mlshift_shift_ws *ws = j->ws;
    size_t n = j->n;
    for (size_t g = j->t; g < j->graphs && !j->info; g += j->T) {
        double *dinv = ws->dinvs + g * n, *spec = ws->spectra + g * n;
        ms_laplacian_from_pairs(&ws->pair_list, j->rad[g],
                                ms_spectrum_single(j->spec, n), j->spec->L, dinv);
        ws->degree_std[g] = degree_std(n, dinv);
        if (!ms_spectrum_closed_form(n, dinv, spec))
            j->info = ms_eigenvalues_large(j->spec, (int)n, j->spec->L, spec);
    }
    return NULL;
}

/* The large graphs [0, graphs) at radii rad, on ws->threads threads
 * (fewer when a workspace or a thread cannot be had). */
static int solve_large_graphs(mlshift_shift_ws *ws, size_t n, size_t graphs,
                              const double *rad)
{
    size_t T = (size_t)(ws->threads > 1 ? ws->threads : 1);
    T = T < graphs ? T : graphs;
    if (T > 1 && ws->n_more < (int)T - 1) {
        free_more(ws);
        ws->spec_more = calloc(T - 1, sizeof *ws->spec_more);
        for (size_t t = 0; ws->spec_more && t + 1 < T; t++) {
            ws->spec_more[t] = mlshift_spectrum_ws_create(ws->spec_n);
            if (!ws->spec_more[t])
                break;
            mlshift_spectrum_ws_set_exact(ws->spec_more[t], ws->exact);
            ws->n_more = (int)t + 1;
        }
    }
    if (T > (size_t)ws->n_more + 1)
        T = (size_t)ws->n_more + 1; /* out of memory for more: fewer threads */
    large_job job[64];
    pthread_t th[64];
    int started[64] = {0};
    for (size_t t = 0; t < T; t++)
        job[t] = (large_job){.ws = ws, .spec = t ? ws->spec_more[t - 1] : ws->spec,
                             .rad = rad, .n = n, .graphs = graphs, .t = t, .T = T};
    for (size_t t = 1; t < T; t++)
        started[t] = pthread_create(&th[t], NULL, solve_large, &job[t]) == 0;
    solve_large(&job[0]);
    for (size_t t = 1; t < T; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            solve_large(&job[t]);
    }
    for (size_t t = 0; t < T; t++)
        if (job[t].info)
            return job[t].info;
    return 0;
}

mlshift_status ms_shift_spectra(mlshift_shift_ws *ws, const double *r,
                                size_t nr, mlshift_error *err)
{
    const mlshift_neighbours *nl = &ws->nl;
    size_t n = nl->n_atoms, nn = n * n;
    if (n > ws->spec_n)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: %zu atoms but the workspace holds %zu", n,
                       ws->spec_n);
    for (size_t a = 0; a < nr; a++)
        if (!(r[a] > 0) || r[a] > nl->cutoff * (1 + 1e-12))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "laplacian: cutoff %g Å outside (0, %g] of the list",
                           r[a], nl->cutoff);
    if (n == 0 || nr == 0)
        return MLSHIFT_OK;
    if (n > (size_t)INT_MAX || nr > (size_t)INT_MAX ||
        batch_reserve(ws, n, nr))
        return ms_fail(err, MLSHIFT_ERR_NOMEM,
                       "out of memory for %zu spectra of %zu atoms", nr, n);
    int large = n > MLSHIFT_SMALL_EIG;
    if (!large)
        ms_pair_dmin(nl, ws->dmin);
    else if (ms_pairs_build(&ws->pair_list, nl))
        return ms_fail(err, MLSHIFT_ERR_NOMEM,
                       "out of memory for the atom pairs of %zu atoms", n);
    size_t graphs = 0, n_solve = 0;
    for (size_t a = 0; a < nr; a++) {
        /* Nested subgraphs: the same pair count is the same graph. */
        size_t pairs = 0, g;
        if (large)
            pairs = ms_pairs_within(&ws->pair_list, r[a]);
        else
            for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                    pairs += ws->dmin[j + i * n] <= r[a];
        for (g = 0; g < graphs && ws->pairs[g] != pairs; g++)
            ;
        ws->graph_of[a] = g;
        if (g < graphs)
            continue;
        graphs++;
        ws->pairs[g] = pairs;
        if (large) { /* built and solved below, a thread each */
            ws->scratch[g] = r[a];
            continue;
        }
        double *dinv = ws->dinvs + g * n, *spec = ws->spectra + g * n;
        double *L = ws->mats + n_solve * nn;
        ms_laplacian_from_dmin(n, ws->dmin, r[a], L, dinv);
        ws->degree_std[g] = degree_std(n, dinv);
        if (ms_spectrum_closed_form(n, dinv, spec))
            continue;
        ws->solve[n_solve++] = g;
    }
    if (large) {
        /* One graph per thread at a time (LAPACK), so no (graphs, n, n)
         * stack: 2.2 GB for 11 graphs of 5000 atoms. */
        int info = solve_large_graphs(ws, n, graphs, ws->scratch);
        if (info != 0)
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "laplacian: the eigenvalue iteration failed to "
                           "converge (info %d)", info);
        return MLSHIFT_OK;
    }
    int info = ms_eigenvalues_batch(ws->spec, (int)n, (int)n_solve, ws->mats,
                                    ws->scratch);
    if (info != 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "laplacian: the eigenvalue iteration failed to converge "
                       "(info %d)", info);
    for (size_t t = 0; t < n_solve; t++)
        memcpy(ws->spectra + ws->solve[t] * n, ws->scratch + t * n,
               n * sizeof *ws->spectra);
    return MLSHIFT_OK;
}

mlshift_status mlshift_frame_spectrum(const mlshift_frame *f, double cutoff,
                                      mlshift_shift_ws *ws, double *eig,
                                      mlshift_error *err)
{
    mlshift_status s = ms_shift_graph(ws, f, cutoff, err);
    if (s == MLSHIFT_OK)
        s = ms_shift_spectrum(ws, cutoff, NULL, err);
    if (s == MLSHIFT_OK)
        memcpy(eig, ws->eig, f->natoms * sizeof *eig);
    return s;
}

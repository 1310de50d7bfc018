/* SPDX-License-Identifier: MIT */
/* The shift workspace: radius graph → Laplacian spectrum, reusing memory. */
#include "shift_ws.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../graph/laplacian.h"

mlshift_shift_ws *mlshift_shift_ws_create(void)
{
    return calloc(1, sizeof(mlshift_shift_ws));
}

void mlshift_shift_ws_destroy(mlshift_shift_ws *ws)
{
    if (!ws)
        return;
    mlshift_neighbours_free(&ws->nl);
    mlshift_spectrum_ws_destroy(ws->spec);
    free(ws->eig);
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
        free(ws->eig);
        ws->spec = mlshift_spectrum_ws_create(n);
        ws->eig = malloc(n * sizeof *ws->eig);
        ws->spec_n = ws->spec && ws->eig ? n : 0;
        if (!ws->spec_n)
            return ms_fail(err, MLSHIFT_ERR_NOMEM,
                           "out of memory for a %zu-atom spectrum", n);
    }
    return mlshift_neighbours_build(&ws->nl, f->natoms, f->positions, f->cell,
                                    f->cell ? f->pbc : NULL, build, 0, err);
}

mlshift_status ms_shift_spectrum(mlshift_shift_ws *ws, double cutoff,
                                 double *degree_std, mlshift_error *err)
{
    mlshift_status st = mlshift_laplacian_spectrum(ws->spec, &ws->nl, cutoff,
                                                   ws->eig, err);
    if (st != MLSHIFT_OK || !degree_std)
        return st;
    /* D^-1/2 is left in the workspace: degree = 1/dinv², 0 when isolated. */
    size_t n = ws->nl.n_atoms;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double di = ws->spec->dinv[i];
        double deg = di > 0 ? 1.0 / (di * di) : 0.0;
        deg = nearbyint(deg); /* degrees are integers; undo the round-off */
        s += deg;
        s2 += deg * deg;
    }
    double mean = s / (double)n;
    double var = s2 / (double)n - mean * mean;
    *degree_std = sqrt(var > 0 ? var : 0);
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

/* SPDX-License-Identifier: MIT */
/* Scratch shared by the shift diagnostics and radius refinement: one
 * neighbour list, one spectrum workspace, one spectrum buffer, grown to the
 * largest structure seen and then reused. */
#ifndef MLSHIFT_SHIFT_WS_H
#define MLSHIFT_SHIFT_WS_H

#include "mlshift.h"

struct mlshift_shift_ws {
    mlshift_neighbours nl;
    mlshift_spectrum_ws *spec;
    size_t spec_n;          /* atoms spec holds */
    double *eig;            /* (spec_n,) */
    /* Sorted view of a statistics' compositions, for lookups. */
    const char *comp_src;   /* st->compositions it was built from */
    const char **comp;      /* (n_comp,) */
    size_t n_comp;
};

/* Builds the radius graph of f at `build` Å into ws->nl (molecules without
 * a cell; periodic frames with theirs). */
mlshift_status ms_shift_graph(mlshift_shift_ws *ws, const mlshift_frame *f,
                              double build, mlshift_error *err);
/* The ascending spectrum of ws->nl restricted to dist <= cutoff, into
 * ws->eig; *degree_std (if non-NULL) the population std of node degrees. */
mlshift_status ms_shift_spectrum(mlshift_shift_ws *ws, double cutoff,
                                 double *degree_std, mlshift_error *err);

#endif /* MLSHIFT_SHIFT_WS_H */

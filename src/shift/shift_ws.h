/* SPDX-License-Identifier: MIT */
/* Scratch shared by the shift diagnostics and radius refinement: one
 * neighbour list, one spectrum workspace, one spectrum buffer, grown to the
 * largest structure seen and then reused. */
#ifndef MLSHIFT_SHIFT_WS_H
#define MLSHIFT_SHIFT_WS_H

#include "../graph/laplacian.h"
#include "../graph/neighbours.h"
#include "mlshift.h"

struct mlshift_shift_ws {
    mlshift_neighbours nl;
    mlshift_spectrum_ws *spec;
    size_t spec_n;          /* atoms spec holds */
    double *eig;            /* (spec_n,) */
    /* One structure at several radii (ms_shift_spectra). */
    double *dmin;           /* (n, n) shortest edge of each atom pair,
                               n <= MLSHIFT_SMALL_EIG */
    ms_pairs pair_list;     /* the same as a list, larger structures */
    double *mats;           /* (graphs, n, n) Laplacians for the batched
                               eigensolver, n <= MLSHIFT_SMALL_EIG; larger
                               graphs use spec->L one at a time */
    double *spectra;        /* (graphs, n) ascending, graph g at g n */
    double *dinvs;          /* (graphs, n) D^-1/2 of each graph */
    double *degree_std;     /* (graphs,) */
    double *scratch;        /* (graphs, n) eigenvalues in solver order */
    size_t *pairs;          /* (graphs,) atom pairs within each radius */
    size_t *graph_of;       /* (radii,) the graph of each radius */
    size_t *solve;          /* (graphs,) graphs sent to the eigensolver */
    size_t batch_n, batch_graphs; /* sizes the arrays above hold */
    /* Sorted view of a statistics' compositions, for lookups. */
    const char *comp_src;   /* st->compositions it was built from */
    const char **comp;      /* (n_comp,) */
    size_t n_comp;
    int exact;              /* double-precision eigenvalues at every size */
    int threads;            /* large graphs solved at once (default 1) */
    mlshift_spectrum_ws **spec_more; /* (threads − 1) the other threads' */
    int n_more;
};

/* Builds the radius graph of f at `build` Å into ws->nl (molecules without
 * a cell; periodic frames with theirs). */
mlshift_status ms_shift_graph(mlshift_shift_ws *ws, const mlshift_frame *f,
                              double build, mlshift_error *err);
/* The ascending spectrum of ws->nl restricted to dist <= cutoff, into
 * ws->eig; *degree_std (if non-NULL) the population std of node degrees. */
mlshift_status ms_shift_spectrum(mlshift_shift_ws *ws, double cutoff,
                                 double *degree_std, mlshift_error *err);

/* The ascending spectra and degree stds of ws->nl restricted to each of the
 * nr cutoffs r (nr,): radius a gets graph ws->graph_of[a], whose spectrum
 * is at ws->spectra + graph_of[a] n and degree std at ws->degree_std. Radii
 * that keep the same atom pairs (the subgraphs are nested) share one graph,
 * and the eigenproblems of the distinct graphs are solved as one batch;
 * each result is bit for bit what ms_shift_spectrum gives. */
mlshift_status ms_shift_spectra(mlshift_shift_ws *ws, const double *r,
                                size_t nr, mlshift_error *err);

#endif /* MLSHIFT_SHIFT_WS_H */

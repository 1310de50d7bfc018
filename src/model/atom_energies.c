/* SPDX-License-Identifier: MIT */
/* Per-atom energies and the forces of a weighted sum of them: what a
 * domain-decomposed simulator (LAMMPS through the KIM API, docs/lammps.md)
 * needs from a message-passing model.
 *
 * The readout already makes atomic energies e_i and sums them per structure
 * with a segment sum over seg (N,). Giving every atom its own segment
 * (seg_i = i, B = N) returns the e_i themselves; then
 *   E_w = Σ_i w_i e_i,   F_j = −∂E_w/∂r_j   for every atom j,
 * one backward pass. With w_i = 1 for the atoms a process owns and 0 for
 * its ghost (padding) atoms, E_w is exactly the owned atoms' share when the
 * ghosts reach T × r_cut beyond them (T blocks, each one hop of at most
 * r_cut), and F_j on a ghost j is the force the owner of j must add (the
 * simulator's reverse communication). */
#include "model.h"

#include <math.h>
#include <string.h>

#include "core/util.h"

mlshift_status ms_model_predict_atoms(ms_model_ws *ws, const ms_model *m,
                                      const mlshift_frame *f, ms_head head,
                                      double r_cut, const double *weights,
                                      double *energy, double *forces,
                                      double *atom_energies, mlshift_error *err)
{
    if (r_cut <= 0)
        r_cut = m->h.r_basis;
    mlshift_status st = ms_batch_build(&ws->b, m, f, 1, r_cut, err);
    if (st)
        return st;
    ms_batch *b = &ws->b;
    const size_t N = b->N;
    if (N == 0) {
        if (energy)
            *energy = 0;
        return MLSHIFT_OK;
    }
    for (size_t i = 0; i < N; i++)  /* one segment per atom */
        b->seg[i] = (int32_t)i;
    b->B = N;
    ms_graph *g = &ws->g;
    ms_graph_reset(g);
    ms_t **leaf = ms_model_leaves(g, m, 0);
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(N, 3), b->R, forces != NULL);              // (N, 3) Å
    ms_t *e = ms_model_energy(g, m, b, R, leaf, head);                          // (N, 1) eV
    ms_t *w = weights ? ms_const(g, 2, MS_SHAPE(N, 1), weights)
                      : ms_full(g, 2, MS_SHAPE(N, 1), 1.0);                     // (N, 1)
    ms_t *E = ms_sum(g, ms_mul(g, e, w));                                       // () eV
    /* the readout's constant per-atom terms (shift + atom_ref), in double */
    double *off = ms_arena_alloc(&g->arena, N * sizeof *off), O = 0;           // (N) eV
    if (!off)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    ms_model_energy_offset(m, b, head, off);
    for (size_t i = 0; i < N; i++)
        O += (weights ? weights[i] : 1.0) * off[i];
    ms_t *dEdR = NULL;
    if (forces && E)
        ms_grad(g, E, NULL, 1, &R, &dEdR, 0);
    if (g->err.status != MLSHIFT_OK)
        return ms_fail(err, g->err.status, "model: %s", g->err.message);
    if (!isfinite(ms_at(E, 0) + O))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: the energy is not finite");
    if (energy)
        *energy = ms_at(E, 0) + O;
    if (atom_energies)
        for (size_t i = 0; i < N; i++)
            atom_energies[i] = ms_at(e, i) + off[i];
    if (forces)
        for (size_t k = 0; k < 3 * N; k++)
            forces[k] = -ms_at(dEdR, k);
    return MLSHIFT_OK;
}

/* SPDX-License-Identifier: MIT */
/* The public model API (mlshift_model_*): a loaded model with its own
 * workspace, so a caller (MD, the ASE binding, KIM) computes frame after
 * frame without allocating after the first. */
#include <stdlib.h>

#include "../core/util.h"
#include "model.h"

struct mlshift_model {
    ms_model *m;
    ms_model_ws ws;
};

mlshift_status mlshift_model_load(const char *path, mlshift_model **out,
                                  mlshift_error *err)
{
    *out = NULL;
    mlshift_model *mm = calloc(1, sizeof *mm);
    if (!mm)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    mlshift_status s = ms_model_load(&mm->m, path, err);
    if (s != MLSHIFT_OK) {
        free(mm);
        return s;
    }
    ms_model_ws_init(&mm->ws);
    *out = mm;
    return MLSHIFT_OK;
}

void mlshift_model_destroy(mlshift_model *mm)
{
    if (!mm)
        return;
    ms_model_ws_free(&mm->ws);
    ms_model_destroy(mm->m);
    free(mm);
}

double mlshift_model_cutoff(const mlshift_model *mm)
{
    return mm->m->h.r_basis;
}

mlshift_status mlshift_model_compute(mlshift_model *mm, const mlshift_frame *f,
                                     mlshift_head head, double cutoff,
                                     double *energy, double *forces,
                                     mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    return ms_model_predict(&mm->ws, mm->m, f, 1, (ms_head)head, cutoff, energy,
                            forces, err);
}

/* ---- issue 11 (KIM driver): atomic energies and the interaction range */

mlshift_status mlshift_model_compute_atoms(mlshift_model *mm, const mlshift_frame *f,
                                           mlshift_head head, double cutoff,
                                           const double *weights, double *energy,
                                           double *forces, double *atom_energies,
                                           mlshift_error *err)
{
    if (head != MLSHIFT_HEAD_MAIN && head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "model: unknown head %d", (int)head);
    return ms_model_predict_atoms(&mm->ws, mm->m, f, (ms_head)head, cutoff, weights,
                                  energy, forces, atom_energies, err);
}

double mlshift_model_interaction_range(const mlshift_model *mm, double cutoff)
{
    return mm->m->h.T * (cutoff > 0 ? cutoff : mm->m->h.r_basis);
}

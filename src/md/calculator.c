/* SPDX-License-Identifier: MIT */
/* The calculator behind MD: one call, energy (eV) and forces (N, 3) eV/Å of
 * the current positions, whether it is a user's function, a prior or a
 * model (either head, at a fixed run-time cutoff). MD, relaxation and
 * anything else that moves atoms sees only this. */
#include <math.h>

#include "../core/util.h"
#include "md.h"

mlshift_status ms_calc_compute(const mlshift_md_calculator *c,
                               const mlshift_frame *f, double *energy,
                               double *forces, mlshift_error *err)
{
    if (c->compute)
        return c->compute(c->ctx, f, energy, forces, err);
    if (c->prior)
        return mlshift_prior_compute(c->prior, f, energy, forces, NULL, err);
    return mlshift_model_compute(c->model, f, c->head, c->cutoff, energy, forces,
                                 err);
}

mlshift_status ms_calc_check(const mlshift_md_calculator *c, mlshift_error *err)
{
    int k = c ? (c->compute != NULL) + (c->prior != NULL) + (c->model != NULL) : 0;
    if (k != 1)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: give exactly one of "
                       "a compute function, a prior or a model (got %d)", k);
    if (c->model && c->head != MLSHIFT_HEAD_MAIN && c->head != MLSHIFT_HEAD_PRIOR)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: unknown model head "
                       "%d", (int)c->head);
    if (c->model && !isfinite(c->cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "calculator: cutoff is not finite");
    return MLSHIFT_OK;
}

mlshift_status ms_check_start(const mlshift_frame *f, const char *who,
                              mlshift_error *err)
{
    if (!f || !f->natoms || !f->numbers || !f->positions)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: the start frame has no atoms", who);
    for (size_t i = 0; i < f->natoms; i++)
        for (int k = 0; k < 3; k++)
            if (!isfinite(f->positions[3 * i + k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: atom %zu: position is "
                               "not finite", who, i);
    return MLSHIFT_OK;
}

mlshift_status ms_md_forces(mlshift_md *md, mlshift_error *err)
{
    mlshift_frame f = {0};
    f.natoms = md->n;
    f.numbers = md->numbers;
    f.positions = md->x;
    f.cell = md->has_cell ? md->cell : NULL;
    f.flags = md->has_cell ? MLSHIFT_HAS_CELL : 0;
    for (int k = 0; k < 3; k++)
        f.pbc[k] = md->pbc[k];
    f.energy = NAN;
    return ms_calc_compute(&md->calc, &f, &md->epot, md->f, err);
}

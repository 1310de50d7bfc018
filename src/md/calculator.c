/* SPDX-License-Identifier: MIT */
/* The calculator behind MD: one call, energy (eV) and forces (N, 3) eV/Å of
 * the current positions, whether it is a user's function, a prior or a
 * model (either head, at a fixed run-time cutoff). MD, relaxation and
 * anything else that moves atoms sees only this. */
#include <math.h>

#include "../core/util.h"
#include "md.h"

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
    const mlshift_md_calculator *c = &md->calc;
    if (c->compute)
        return c->compute(c->ctx, &f, &md->epot, md->f, err);
    if (c->prior)
        return mlshift_prior_compute(c->prior, &f, &md->epot, md->f, NULL, err);
    return mlshift_model_compute(c->model, &f, c->head, c->cutoff, &md->epot,
                                 md->f, err);
}

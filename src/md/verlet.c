/* SPDX-License-Identifier: MIT */
/* Velocity Verlet (NVE), as ASE's VelocityVerlet:
 *
 *     v ← v + ½ dt a(x)      a = F / (m · MLSHIFT_EV_PER_AMU_A2_FS2), Å/fs²
 *     x ← x + dt v
 *     v ← v + ½ dt a(x)      (new forces)
 *
 * Symplectic and time-reversible: negating v after n steps and taking n
 * more returns to the start up to rounding (tests/test_md.c). Its energy
 * error is O(dt²) and bounded, with no drift for a smooth potential. */
#include "md.h"

void ms_md_kick(mlshift_md *md, double half_dt)
{
    for (size_t i = 0; i < md->n; i++) {
        double s = half_dt / (md->mass[i] * MLSHIFT_EV_PER_AMU_A2_FS2);
        for (int k = 0; k < 3; k++)
            md->v[3 * i + k] += s * md->f[3 * i + k];
    }
}

mlshift_status ms_md_step_verlet(mlshift_md *md, mlshift_error *err)
{
    double dt = md->opt.dt_fs;
    ms_md_kick(md, 0.5 * dt);
    for (size_t a = 0; a < 3 * md->n; a++)
        md->x[a] += dt * md->v[a];
    mlshift_status st = ms_md_forces(md, err);
    if (st != MLSHIFT_OK)
        return st;
    ms_md_kick(md, 0.5 * dt);
    return MLSHIFT_OK;
}

/* SPDX-License-Identifier: MIT */
/* One Nosé–Hoover thermostat (no chain), step for step as MDsim's
 * NoseHoover (mdsim/md/integrator.py, after mdgrad) ran MD17 (Fu et al.;
 * reference-notes §3):
 *
 *     x  ← x + dt v + ½ dt² (a − ζ v)
 *     K₀ = E_kin(v)
 *     v' = v + ½ dt (a − ζ v)
 *     a  ← F(x) / m                                  (new forces)
 *     ζ  ← ζ + ½ dt (K₀ − K*) / Q
 *     ζ  ← ζ + ½ dt (E_kin(v') − K*) / Q
 *     v  ← (v' + ½ dt a) / (1 + ½ dt ζ)
 *
 * with K* = (3N/2) k_B T and Q = 3N k_B T (ttime · dt)² (ttime 20 in MDsim,
 * so the thermostat period is ~20 steps). Units: Q in eV·fs², ζ in fs⁻¹.
 * The second ζ half step uses the half-step velocities v', as MDsim does
 * (not the textbook K(t + dt)); kept for comparability. */
#include "md.h"

mlshift_status ms_md_step_nose_hoover(mlshift_md *md, mlshift_error *err)
{
    double dt = md->opt.dt_fs;
    double kT = MLSHIFT_KB_EV * md->opt.temperature_K;
    double N3 = 3.0 * (double)md->n;
    double target = 0.5 * N3 * kT;
    double tq = md->opt.ttime * dt;
    double Q = N3 * kT * tq * tq;
    double zeta = md->zeta;
    double k0 = ms_md_kinetic(md, md->v);
    for (size_t i = 0; i < md->n; i++) {
        double s = 1.0 / (md->mass[i] * MLSHIFT_EV_PER_AMU_A2_FS2);
        for (int k = 0; k < 3; k++) {
            size_t a = 3 * i + k;
            double acc = s * md->f[a] - zeta * md->v[a];
            md->x[a] += dt * md->v[a] + 0.5 * dt * dt * acc;
            md->v[a] += 0.5 * dt * acc;
        }
    }
    mlshift_status st = ms_md_forces(md, err);
    if (st != MLSHIFT_OK)
        return st;
    zeta += 0.5 * dt * (k0 - target) / Q;
    zeta += 0.5 * dt * (ms_md_kinetic(md, md->v) - target) / Q;
    for (size_t i = 0; i < md->n; i++) {
        double s = 1.0 / (md->mass[i] * MLSHIFT_EV_PER_AMU_A2_FS2);
        for (int k = 0; k < 3; k++) {
            size_t a = 3 * i + k;
            md->v[a] = (md->v[a] + 0.5 * dt * s * md->f[a]) / (1.0 + 0.5 * dt * zeta);
        }
    }
    md->zeta = zeta;
    return MLSHIFT_OK;
}

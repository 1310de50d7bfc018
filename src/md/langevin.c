/* SPDX-License-Identifier: MIT */
/* Langevin dynamics (NVT) with the BAOAB splitting of Leimkuhler and
 * Matthews (2013):
 *
 *     B  v ← v + ½ dt a(x)
 *     A  x ← x + ½ dt v
 *     O  v ← c₁ v + c₂ √(k_B T / m) ξ,   c₁ = e^(−γ dt), c₂ = √(1 − c₁²)
 *     A  x ← x + ½ dt v
 *     B  v ← v + ½ dt a(x)               (new forces)
 *
 * The O step solves the Ornstein–Uhlenbeck part dv = −γ v dt + √(2γ k_B T
 * / m) dW exactly, so any γ ≥ 0 is stable and γ = 0 is plain Verlet; the
 * configurational distribution is exact to O(dt²) with a small constant.
 * γ is in fs⁻¹: the paper's 0.01 fs⁻¹ is the default; the authors' code
 * passed friction=0.01 to ASE without units.fs, i.e. 0.01 per ASE time unit
 * ≈ 0.000982 fs⁻¹ (docs/md.md). ξ: splitmix64 normals, one per component,
 * atom by atom. With fix_com the centre-of-mass velocity is removed after
 * O (what ASE's fixcm keeps fixed); T then settles at T·(3N − 3)/(3N). */
#include <math.h>

#include "../core/rng.h"
#include "md.h"

static void drift(mlshift_md *md, double h)
{
    for (size_t a = 0; a < 3 * md->n; a++)
        md->x[a] += h * md->v[a];
}

mlshift_status ms_md_step_langevin(mlshift_md *md, mlshift_error *err)
{
    double dt = md->opt.dt_fs;
    double c1 = exp(-md->opt.friction_per_fs * dt);
    double c2 = sqrt(1.0 - c1 * c1);
    double kT = MLSHIFT_KB_EV * md->opt.temperature_K;
    ms_md_kick(md, 0.5 * dt);
    drift(md, 0.5 * dt);
    ms_normal_fill(&md->rng, md->work, 3 * md->n);
    for (size_t i = 0; i < md->n; i++) {
        double s = c2 * sqrt(kT / (md->mass[i] * MLSHIFT_EV_PER_AMU_A2_FS2));
        for (int k = 0; k < 3; k++)
            md->v[3 * i + k] = c1 * md->v[3 * i + k] + s * md->work[3 * i + k];
    }
    if (md->opt.fix_com)
        ms_md_zero_com(md, md->v);
    drift(md, 0.5 * dt);
    mlshift_status st = ms_md_forces(md, err);
    if (st != MLSHIFT_OK)
        return st;
    ms_md_kick(md, 0.5 * dt);
    return MLSHIFT_OK;
}

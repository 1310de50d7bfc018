/* SPDX-License-Identifier: MIT */
/* Kinetic energy, temperature and Maxwell–Boltzmann velocities.
 *
 * E_kin = Σ_i ½ m_i |v_i|², with m in amu and v in Å/fs, times
 * MLSHIFT_EV_PER_AMU_A2_FS2 to get eV. T = 2 E_kin / (3 N k_B): ASE's
 * get_temperature without constraints and MDsim's E_kin / (1.5 k_B N) are
 * the same number.
 *
 * Maxwell–Boltzmann at T: each component v = √(k_B T / m) ξ, ξ ~ N(0, 1)
 * (k_B T / m in eV/amu, divided by MLSHIFT_EV_PER_AMU_A2_FS2 for (Å/fs)²),
 * as ASE's MaxwellBoltzmannDistribution, then the centre-of-mass velocity
 * Σ m v / Σ m is subtracted (ASE's Stationary). That removes 3 degrees of
 * freedom: the expected T of the draw is T·(3N − 3)/(3N); no rescaling is
 * done, as in ASE. Normals come from splitmix64 (src/core/rng.c) seeded
 * with the run's seed, in the order atom 0 x, y, z, atom 1 …. */
#include <math.h>

#include "../core/rng.h"
#include "md.h"

double ms_md_kinetic(const mlshift_md *md, const double *v)
{
    double e = 0;
    for (size_t i = 0; i < md->n; i++) {
        const double *vi = v + 3 * i;
        e += 0.5 * md->mass[i] * (vi[0] * vi[0] + vi[1] * vi[1] + vi[2] * vi[2]);
    }
    return e * MLSHIFT_EV_PER_AMU_A2_FS2;
}

double ms_md_temperature(const mlshift_md *md, double ekin)
{
    return 2.0 * ekin / (3.0 * (double)md->n * MLSHIFT_KB_EV);
}

void ms_md_zero_com(const mlshift_md *md, double *v)
{
    double p[3] = {0, 0, 0}, mtot = 0;
    for (size_t i = 0; i < md->n; i++) {
        for (int k = 0; k < 3; k++)
            p[k] += md->mass[i] * v[3 * i + k];
        mtot += md->mass[i];
    }
    for (size_t i = 0; i < md->n; i++)
        for (int k = 0; k < 3; k++)
            v[3 * i + k] -= p[k] / mtot;
}

void ms_md_maxwell_boltzmann(mlshift_md *md, double temperature_K)
{
    ms_normal_fill(&md->rng, md->v, 3 * md->n);
    double kT = MLSHIFT_KB_EV * temperature_K; /* eV */
    for (size_t i = 0; i < md->n; i++) {
        double s = sqrt(kT / (md->mass[i] * MLSHIFT_EV_PER_AMU_A2_FS2));
        for (int k = 0; k < 3; k++)
            md->v[3 * i + k] *= s;
    }
    ms_md_zero_com(md, md->v);
}

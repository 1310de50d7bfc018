/* SPDX-License-Identifier: MIT */
/* Bonds, bond collapse and stability time after Fu et al. (MDsim,
 * observable.ipynb; reference-notes §3).
 *
 * A bond is a pair i < j of the first frame with d_ij < r_i + r_j + skin,
 * r the Cordero (2008) covalent radii ASE calls covalent_radii: MDsim builds
 * NeighborList(natural_cutoffs(atoms), self_interaction=False), whose
 * default skin 0.3 Å is added to each radius, so skin = 0.6 Å. The run has
 * collapsed when some bond length ℓ_b differs from its reference ℓ̄_b (the
 * mean over a reference trajectory, e.g. the MD17 frames; or the first
 * frame's own length) by more than 0.5 Å. Stability = the time of the first
 * saved frame that collapsed: (collapse_pt − 1) · save interval in MDsim's
 * indexing, i.e. k · interval for 0-based frame k. Distances are plain
 * (molecules); periodic images are not considered. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "md.h"

/* ASE 3.22 ase.data.covalent_radii (Cordero et al. 2008; 0.2 where none). */
static const double radii[119] = {
    0.2, 0.31, 0.28, 1.28, 0.96, 0.84, 0.76, 0.71, 0.66, 0.57,
    0.58, 1.66, 1.41, 1.21, 1.11, 1.07, 1.05, 1.02, 1.06, 2.03,
    1.76, 1.7, 1.6, 1.53, 1.39, 1.39, 1.32, 1.26, 1.24, 1.32,
    1.22, 1.22, 1.2, 1.19, 1.2, 1.2, 1.16, 2.2, 1.95, 1.9,
    1.75, 1.64, 1.54, 1.47, 1.46, 1.42, 1.39, 1.45, 1.44, 1.42,
    1.39, 1.39, 1.38, 1.39, 1.4, 2.44, 2.15, 2.07, 2.04, 2.03,
    2.01, 1.99, 1.98, 1.98, 1.96, 1.94, 1.92, 1.92, 1.89, 1.9,
    1.87, 1.87, 1.75, 1.7, 1.62, 1.51, 1.44, 1.41, 1.36, 1.36,
    1.32, 1.45, 1.46, 1.48, 1.4, 1.5, 1.5, 2.6, 2.21, 2.15,
    2.06, 2, 1.96, 1.9, 1.87, 1.8, 1.69, 0.2, 0.2, 0.2,
    0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2,
    0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2,
};

double mlshift_covalent_radius(int z)
{
    return z >= 1 && z <= 118 ? radii[z] : 0.2;
}

static double dist(const double *x, size_t i, size_t j)
{
    double d[3];
    for (int k = 0; k < 3; k++)
        d[k] = x[3 * j + k] - x[3 * i + k];
    return sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

void mlshift_bonds_free(mlshift_bonds *b)
{
    if (!b)
        return;
    free(b->pairs);
    free(b->ref_length);
    b->pairs = NULL;
    b->ref_length = NULL;
    b->n = 0;
}

mlshift_status mlshift_bonds_from_frame(mlshift_bonds *b, const mlshift_frame *f,
                                        double skin, mlshift_error *err)
{
    mlshift_bonds_free(b);
    if (!(skin > 0))
        skin = 0.6;
    size_t n = f->natoms, cap = 0, nb = 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
        if (pass) {
            cap = nb ? nb : 1;
            b->pairs = malloc(2 * cap * sizeof *b->pairs);
            b->ref_length = malloc(cap * sizeof *b->ref_length);
            if (!b->pairs || !b->ref_length) {
                mlshift_bonds_free(b);
                return ms_fail(err, MLSHIFT_ERR_NOMEM, "bonds: out of memory");
            }
            nb = 0;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                double d = dist(f->positions, i, j);
                if (!(d < mlshift_covalent_radius(f->numbers[i]) +
                              mlshift_covalent_radius(f->numbers[j]) + skin))
                    continue;
                if (pass) {
                    b->pairs[2 * nb] = (int32_t)i;
                    b->pairs[2 * nb + 1] = (int32_t)j;
                    b->ref_length[nb] = d;
                }
                nb++;
            }
    }
    b->n = nb;
    return MLSHIFT_OK;
}

mlshift_status mlshift_bonds_reference(mlshift_bonds *b,
                                       const mlshift_frames *ref,
                                       mlshift_error *err)
{
    size_t m = mlshift_frames_count(ref);
    if (!m)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "bonds: the reference has no "
                       "frames");
    for (size_t k = 0; k < b->n; k++)
        b->ref_length[k] = 0;
    for (size_t s = 0; s < m; s++) {
        mlshift_frame f;
        mlshift_frames_get(ref, s, &f);
        for (size_t k = 0; k < b->n; k++) {
            size_t i = (size_t)b->pairs[2 * k], j = (size_t)b->pairs[2 * k + 1];
            if (i >= f.natoms || j >= f.natoms)
                return ms_fail(err, MLSHIFT_ERR_VALUE, "bonds: reference frame "
                               "%zu has %zu atoms, bond %zu needs atom %zu", s,
                               f.natoms, k, j);
            b->ref_length[k] += dist(f.positions, i, j);
        }
    }
    for (size_t k = 0; k < b->n; k++)
        b->ref_length[k] /= (double)m;
    return MLSHIFT_OK;
}

double mlshift_bonds_max_deviation(const mlshift_bonds *b,
                                   const double *positions)
{
    double worst = 0;
    for (size_t k = 0; k < b->n; k++) {
        double d = fabs(dist(positions, (size_t)b->pairs[2 * k],
                             (size_t)b->pairs[2 * k + 1]) - b->ref_length[k]);
        if (!(d <= worst)) /* NaN counts as the worst */
            worst = d;
    }
    return worst;
}

mlshift_status mlshift_stability(const mlshift_bonds *b,
                                 const mlshift_frames *traj, size_t first,
                                 double save_interval_ps, double threshold,
                                 double *stability_ps, size_t *collapse_frame,
                                 mlshift_error *err)
{
    size_t m = mlshift_frames_count(traj);
    if (first >= m)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stability: no frames from %zu "
                       "(%zu frames)", first, m);
    if (!(save_interval_ps > 0) || !(threshold > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stability: save interval and "
                       "threshold must be positive");
    size_t k = first;
    for (; k < m; k++) {
        mlshift_frame f;
        mlshift_frames_get(traj, k, &f);
        for (size_t q = 0; q < b->n; q++)
            if ((size_t)b->pairs[2 * q + 1] >= f.natoms)
                return ms_fail(err, MLSHIFT_ERR_VALUE, "stability: frame %zu has "
                               "%zu atoms, too few for the bonds", k, f.natoms);
        double dev = mlshift_bonds_max_deviation(b, f.positions);
        if (!(dev <= threshold))
            break;
    }
    if (collapse_frame)
        *collapse_frame = k;
    *stability_ps = (double)((k < m ? k : m - 1) - first) * save_interval_ps;
    return MLSHIFT_OK;
}

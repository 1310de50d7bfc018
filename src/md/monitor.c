/* SPDX-License-Identifier: MIT */
/* The shift monitor of an MD run: each saved state seen against the
 * training statistics on two of the paper's axes (§3.2, reference-notes
 * §1.5), so a simulation drifting out of distribution shows before it
 * collapses:
 *
 *   connectivity  eq. 5, Σ_l (avg_l − eig_l)², of the normalised-Laplacian
 *                 spectrum of the radius graph at the run's cutoff against
 *                 the training average; flagged when it is more than one
 *                 std above the training graphs' own mean distance (a
 *                 graph cannot be closer than close);
 *   force norm    (1/N) Σ_i |F_i| of the calculator's forces (the paper
 *                 uses the prior's at test time; here whatever drives the
 *                 run), flagged outside the training mean ± 1 std.
 *
 * The same numbers mlshift_diagnose gives for that structure at that
 * cutoff; only the forces come from the run instead of a label. */
#include <math.h>

#include "../core/util.h"
#include "../shift/stats.h"
#include "md.h"

mlshift_status mlshift_md_monitor_state(const mlshift_md *md,
                                        const mlshift_train_stats *st,
                                        double cutoff, mlshift_shift_ws *ws,
                                        mlshift_md_monitor *out,
                                        mlshift_error *err)
{
    mlshift_md_state s;
    mlshift_md_get_state(md, &s);
    mlshift_frame f = {0};
    f.natoms = s.natoms;
    f.numbers = s.numbers;
    f.positions = s.positions;
    f.forces = s.forces;
    f.cell = s.cell;
    f.flags = MLSHIFT_HAS_FORCES | (s.cell ? MLSHIFT_HAS_CELL : 0);
    for (int k = 0; k < 3; k++)
        f.pbc[k] = s.pbc[k];
    f.energy = s.potential;
    out->cutoff = cutoff;
    mlshift_status rc = mlshift_spectral_distance_at(st, &f, cutoff, ws,
                                                     &out->spectral_distance,
                                                     NULL, err);
    if (rc)
        return rc;
    out->ood_connectivity = out->spectral_distance - st->spectral_mean >
                            st->spectral_std; /* one-sided, as diagnose */
    out->force_norm = mlshift_frame_mean_force_norm(&f);
    out->ood_force = st->n_force == 0 || !isfinite(st->force_norm_mean)
                         ? -1
                         : fabs(out->force_norm - st->force_norm_mean) >
                               st->force_norm_std;
    return MLSHIFT_OK;
}

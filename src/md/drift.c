/* SPDX-License-Identifier: MIT */
/* NVE energy drift: after a transient (skip_ps), the least-squares line
 * E(t) ≈ a + b t through the total energies; drift = b / N in eV/atom/ps,
 * fluctuation = the standard deviation of E about the line (eV). A good
 * integrator on a smooth potential shows |b| · (run length) well below the
 * fluctuation; a drift comparable to it means the time step is too long or
 * the forces are not the gradient of the energy. */
#include <math.h>

#include "../core/util.h"
#include "md.h"

mlshift_status mlshift_energy_drift(const double *t_ps, const double *etot,
                                    size_t n, size_t natoms, double skip_ps,
                                    double *drift, double *fluct,
                                    mlshift_error *err)
{
    double st = 0, se = 0, m = 0;
    for (size_t k = 0; k < n; k++)
        if (t_ps[k] >= skip_ps) {
            st += t_ps[k];
            se += etot[k];
            m++;
        }
    if (m < 2 || !natoms)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "energy drift: need >= 2 samples "
                       "after %g ps and atoms (got %g)", skip_ps, m);
    double tm = st / m, em = se / m, stt = 0, ste = 0;
    for (size_t k = 0; k < n; k++)
        if (t_ps[k] >= skip_ps) {
            stt += (t_ps[k] - tm) * (t_ps[k] - tm);
            ste += (t_ps[k] - tm) * (etot[k] - em);
        }
    if (!(stt > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "energy drift: all samples at "
                       "one time");
    double b = ste / stt;
    if (fluct) {
        double r2 = 0;
        for (size_t k = 0; k < n; k++)
            if (t_ps[k] >= skip_ps) {
                double r = etot[k] - (em + b * (t_ps[k] - tm));
                r2 += r * r;
            }
        *fluct = sqrt(r2 / m);
    }
    *drift = b / (double)natoms;
    return MLSHIFT_OK;
}

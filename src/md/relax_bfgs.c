/* SPDX-License-Identifier: MIT */
/* BFGS exactly as ase.optimize.BFGS of ASE 3.22. x, F flattened (D = 3N):
 *
 *   first step:  H = α I (α = 70 eV/Å²)
 *   otherwise:   Δx = x − x₀, unless max |Δx_k| < 1e-7 (same point again):
 *                ΔF = F − F₀, a = Δx·ΔF, g = H Δx, b = Δx·g,
 *                H ← H − (ΔF ΔFᵀ / a + g gᵀ / b)
 *   H = V diag(ω) Vᵀ (LAPACK dsyevd, numpy.linalg.eigh's routine)
 *   step = V diag(1/|ω|) Vᵀ F: Newton's step on |H|, which walks downhill
 *          along directions of negative curvature too
 *   if the longest atom step ≥ maxstep, scale the whole step to maxstep
 *   x₀ ← x, F₀ ← F
 *
 * ASE's update subtracts ΔF ΔFᵀ/a with a = Δx·ΔF = −Δx·Δg (g = −F the
 * gradient), which is the textbook + y yᵀ/(yᵀs) with y = Δg, s = Δx. The
 * step through |ω| is independent of how eigenvectors of a repeated
 * eigenvalue are chosen, so it agrees with numpy to rounding. Memory D² and
 * time D³ per step: meant for molecules and clusters, not thousands of
 * atoms. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "relax.h"

mlshift_status ms_relax_bfgs_init(mlshift_relax *r, mlshift_error *err)
{
    size_t d = 3 * r->n;
    r->lwork = 1 + 6 * d + 2 * d * d;
    r->liwork = 3 + 5 * d;
    r->H = malloc(d * d * sizeof *r->H);
    r->V = malloc(d * d * sizeof *r->V);
    r->work = malloc(r->lwork * sizeof *r->work);
    r->x0 = malloc(d * sizeof *r->x0);
    r->f0 = malloc(d * sizeof *r->f0);
    r->eig = malloc(d * sizeof *r->eig);
    r->iwork = malloc(r->liwork * sizeof *r->iwork);
    if (!r->H || !r->V || !r->work || !r->x0 || !r->f0 || !r->eig || !r->iwork)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "relax: BFGS: out of memory for "
                       "a %zu × %zu Hessian", d, d);
    return MLSHIFT_OK;
}

/* ASE's BFGS.update(r, f, r0, f0). */
static void update(mlshift_relax *r)
{
    size_t d = 3 * r->n;
    double *H = r->H;
    if (!r->have_H) {
        memset(H, 0, d * d * sizeof *H);
        for (size_t k = 0; k < d; k++)
            H[k * d + k] = r->opt.alpha;
        r->have_H = 1;
        return;
    }
    double *dx = r->dx, *df = r->eig, *dg = r->work; /* scratch, (D,) each */
    double big = 0;
    for (size_t k = 0; k < d; k++) {
        dx[k] = r->x[k] - r->x0[k];
        big = fmax(big, fabs(dx[k]));
    }
    if (big < 1e-7)
        return;
    double a = 0, b = 0;
    for (size_t k = 0; k < d; k++) {
        df[k] = r->f[k] - r->f0[k];
        a += dx[k] * df[k];
    }
    for (size_t i = 0; i < d; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += H[i * d + j] * dx[j];
        dg[i] = s;
    }
    for (size_t k = 0; k < d; k++)
        b += dx[k] * dg[k];
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            H[i * d + j] -= df[i] * df[j] / a + dg[i] * dg[j] / b;
}

mlshift_status ms_relax_bfgs_step(mlshift_relax *r, mlshift_error *err)
{
    size_t d = 3 * r->n;
    update(r);
    memcpy(r->V, r->H, d * d * sizeof *r->V); /* symmetric: either order */
    lapack_int info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)d,
                                          r->V, (lapack_int)d, r->eig, r->work,
                                          (lapack_int)r->lwork, r->iwork,
                                          (lapack_int)r->liwork);
    if (info != 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "relax: BFGS: the Hessian's "
                       "eigendecomposition failed (LAPACK info %d)", (int)info);
    /* Column j of V (column-major) is eigenvector j: V[j * d + i]. */
    double *w = r->work; /* (D,), work is free again */
    for (size_t j = 0; j < d; j++) {
        double s = 0;
        for (size_t i = 0; i < d; i++)
            s += r->f[i] * r->V[j * d + i];
        w[j] = s / fabs(r->eig[j]);
    }
    double longest = 0;
    for (size_t i = 0; i < d; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += r->V[j * d + i] * w[j];
        r->dx[i] = s;
    }
    for (size_t a = 0; a < r->n; a++) {
        const double *s = r->dx + 3 * a;
        longest = fmax(longest, sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]));
    }
    if (longest >= r->opt.maxstep) {
        double scale = r->opt.maxstep / longest;
        for (size_t k = 0; k < d; k++)
            r->dx[k] *= scale;
    }
    memcpy(r->x0, r->x, d * sizeof *r->x0);
    memcpy(r->f0, r->f, d * sizeof *r->f0);
    return MLSHIFT_OK;
}

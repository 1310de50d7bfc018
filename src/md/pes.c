/* SPDX-License-Identifier: MIT */
/* Potential-energy maps (paper Figs 4b, 16): the Hessian of any calculator
 * by central differences of its forces, its leading eigenvectors, and the
 * energies on a plane through the structure spanned by two of them.
 *
 *   H_{ia,jb} = ∂²E/∂x_ia ∂x_jb = −∂F_jb/∂x_ia
 *             ≈ −(F_jb(x + h e_ia) − F_jb(x − h e_ia)) / 2h,
 *
 * row ia from two force calls (6N calls in all), error O(h²) (ASE's
 * ase.vibrations.Vibrations with nfree = 2, delta = h: the same numbers).
 * The exact Hessian is symmetric; the difference quotient is not quite, so
 * it is symmetrised, H ← ½(H + Hᵀ), as ASE does, and the largest
 * |H − Hᵀ|/2 removed is reported: it measures the calculator's noise and
 * the truncation error, and a large value means h is wrong for it.
 *
 * "Principal components of the Hessian" (paper A.3.6) are taken as the
 * eigenvectors with the largest eigenvalues: the stiffest directions, the
 * ones a model's curvature errors show most. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "md.h"

mlshift_status mlshift_md_calculator_compute(const mlshift_md_calculator *calc,
                                             const mlshift_frame *f, double *energy,
                                             double *forces, mlshift_error *err)
{
    mlshift_status st;
    if ((st = ms_calc_check(calc, err)) || (st = ms_check_start(f, "calculator", err)))
        return st;
    return ms_calc_compute(calc, f, energy, forces, err);
}

/* A copy of f's geometry whose positions are x (the caller's buffer). */
static mlshift_frame displaced(const mlshift_frame *f, double *x)
{
    mlshift_frame g = {0};
    g.natoms = f->natoms;
    g.numbers = f->numbers;
    g.positions = x;
    g.cell = f->cell;
    g.flags = f->cell ? (f->flags & MLSHIFT_HAS_CELL) : 0;
    for (int k = 0; k < 3; k++)
        g.pbc[k] = f->pbc[k];
    g.energy = NAN;
    return g;
}

static mlshift_status finite_point(double e, const double *F, size_t d,
                                   const char *what, mlshift_error *err)
{
    int ok = isfinite(e);
    for (size_t k = 0; k < d && ok; k++)
        ok = isfinite(F[k]);
    return ok ? MLSHIFT_OK
              : ms_fail(err, MLSHIFT_ERR_VALUE, "%s: the calculator returned a "
                        "non-finite energy or force", what);
}

mlshift_status mlshift_hessian(const mlshift_md_calculator *calc,
                               const mlshift_frame *f, double h, double *H,
                               double *asymmetry, mlshift_error *err)
{
    mlshift_status st;
    if ((st = ms_calc_check(calc, err)) || (st = ms_check_start(f, "hessian", err)))
        return st;
    if (!(h > 0 && h < 1))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "hessian: displacement %g Å is not "
                       "in (0, 1) Å", h);
    const size_t d = 3 * f->natoms;
    double *x = malloc(3 * d * sizeof *x);
    if (!x)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "hessian: out of memory (%zu atoms)",
                       f->natoms);
    double *fp = x + d, *fm = x + 2 * d;
    memcpy(x, f->positions, d * sizeof *x);
    mlshift_frame g = displaced(f, x);
    for (size_t r = 0; r < d && !st; r++) {
        double e;
        x[r] = f->positions[r] + h;
        if ((st = ms_calc_compute(calc, &g, &e, fp, err)) ||
            (st = finite_point(e, fp, d, "hessian", err)))
            break;
        x[r] = f->positions[r] - h;
        if ((st = ms_calc_compute(calc, &g, &e, fm, err)) ||
            (st = finite_point(e, fm, d, "hessian", err)))
            break;
        x[r] = f->positions[r];
        for (size_t c = 0; c < d; c++)
            H[r * d + c] = (fm[c] - fp[c]) / (2 * h);
    }
    free(x);
    if (st)
        return st;
    double asym = 0;
    for (size_t r = 0; r < d; r++)
        for (size_t c = r + 1; c < d; c++) {
            double m = 0.5 * (H[r * d + c] + H[c * d + r]);
            asym = fmax(asym, fabs(H[r * d + c] - m));
            H[r * d + c] = H[c * d + r] = m;
        }
    if (asymmetry)
        *asymmetry = asym;
    return MLSHIFT_OK;
}

mlshift_status mlshift_hessian_modes(const double *H, size_t d, size_t k,
                                     double *eig, double *vec, mlshift_error *err)
{
    if (!d || k > d)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "hessian modes: %zu of a %zu × %zu "
                       "matrix", k, d, d);
    double *a = malloc(d * d * sizeof *a), *w = malloc(d * sizeof *w);
    mlshift_status st = MLSHIFT_OK;
    if (!a || !w)
        st = ms_fail(err, MLSHIFT_ERR_NOMEM, "hessian modes: out of memory");
    for (size_t i = 0; !st && i < d * d; i++)
        if (!isfinite(H[i]))
            st = ms_fail(err, MLSHIFT_ERR_VALUE, "hessian modes: entry %zu is not "
                         "finite", i);
    if (!st) {
        memcpy(a, H, d * d * sizeof *a);
        /* Symmetric, so the row-major array is its own column-major self;
         * eigenvalues ascending, eigenvector j in column j = a[j*d ..]. */
        lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)d, a,
                                         (lapack_int)d, w);
        if (info)
            st = ms_fail(err, MLSHIFT_ERR_VALUE, "hessian modes: LAPACK dsyevd "
                         "info %d", (int)info);
    }
    for (size_t m = 0; !st && m < k; m++) {
        size_t j = d - 1 - m;
        eig[m] = w[j];
        /* Sign convention: the largest-magnitude component positive, so a
         * mode's direction does not depend on the LAPACK build. */
        size_t big = 0;
        for (size_t i = 1; i < d; i++)
            if (fabs(a[j * d + i]) > fabs(a[j * d + big]))
                big = i;
        double s = a[j * d + big] < 0 ? -1 : 1;
        for (size_t i = 0; i < d; i++)
            vec[m * d + i] = s * a[j * d + i];
    }
    free(a);
    free(w);
    return st;
}

mlshift_status mlshift_pes_grid(const mlshift_md_calculator *calc,
                                const mlshift_frame *f, const double *u,
                                const double *w, const double *a, size_t na,
                                const double *b, size_t nb, double *E,
                                mlshift_error *err)
{
    mlshift_status st;
    if ((st = ms_calc_check(calc, err)) || (st = ms_check_start(f, "pes", err)))
        return st;
    const size_t d = 3 * f->natoms;
    double *x = malloc(2 * d * sizeof *x);
    if (!x)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "pes: out of memory");
    double *F = x + d;
    mlshift_frame g = displaced(f, x);
    for (size_t i = 0; i < na && !st; i++)
        for (size_t j = 0; j < nb && !st; j++) {
            for (size_t c = 0; c < d; c++)
                x[c] = f->positions[c] + a[i] * u[c] + b[j] * w[c];
            st = ms_calc_compute(calc, &g, &E[i * nb + j], F, err);
        }
    free(x);
    return st;
}

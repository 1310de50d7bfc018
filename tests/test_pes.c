/* SPDX-License-Identifier: MIT */
/* Hessian, modes and PES grid through the public API against closed
 * forms: a Lennard-Jones trimer (E = Σ 4ε((σ/r)¹² − (σ/r)⁶) over pairs)
 * whose Hessian is assembled here from the analytic pair second
 * derivative, H_ij block = −(φ''(r) r̂r̂ᵀ + φ'(r)/r (I − r̂r̂ᵀ)) for i ≠ j and
 * minus the row sum on the diagonal; a quadratic well E = ½ xᵀAx with a
 * known A whose eigenvectors are known; grid energies against single
 * points at the same displaced positions; bad arguments refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlshift.h"

static const double EPS = 0.0103, SIG = 3.4; /* argon-like, eV and Å */

static mlshift_status lj(void *ctx, const mlshift_frame *f, double *e, double *F,
                         mlshift_error *err)
{
    (void)ctx;
    (void)err;
    *e = 0;
    memset(F, 0, 3 * f->natoms * sizeof *F);
    for (size_t i = 0; i < f->natoms; i++)
        for (size_t j = i + 1; j < f->natoms; j++) {
            double d[3], r2 = 0;
            for (int c = 0; c < 3; c++) {
                d[c] = f->positions[3 * i + c] - f->positions[3 * j + c];
                r2 += d[c] * d[c];
            }
            double s6 = pow(SIG * SIG / r2, 3);
            *e += 4 * EPS * (s6 * s6 - s6);
            double g = 24 * EPS * (2 * s6 * s6 - s6) / r2; /* −φ'(r)/r */
            for (int c = 0; c < 3; c++) {
                F[3 * i + c] += g * d[c];
                F[3 * j + c] -= g * d[c];
            }
        }
    return MLSHIFT_OK;
}

/* The analytic Hessian of lj at x (n atoms) into H (3n, 3n). */
static void lj_hessian(const double *x, size_t n, double *H)
{
    size_t d = 3 * n;
    memset(H, 0, d * d * sizeof *H);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (i == j)
                continue;
            double u[3], r2 = 0;
            for (int c = 0; c < 3; c++) {
                u[c] = x[3 * i + c] - x[3 * j + c];
                r2 += u[c] * u[c];
            }
            double r = sqrt(r2), sr = SIG / r;
            double s6 = pow(sr, 6), s12 = s6 * s6;
            double d1 = 4 * EPS * (-12 * s12 + 6 * s6) / r;       /* φ' */
            double d2 = 4 * EPS * (156 * s12 - 42 * s6) / r2;     /* φ'' */
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    double uu = u[a] * u[b] / r2;
                    double k = d2 * uu + d1 / r * ((a == b) - uu);
                    H[(3 * i + a) * d + 3 * j + b] -= k;
                    H[(3 * i + a) * d + 3 * i + b] += k;
                }
        }
}

/* E = ½ Σ_k λ_k (q_k · x)² with orthonormal q: Hessian Q diag(λ) Qᵀ. */
static const double lam[6] = {9, 7, 3, 2, 1, 0.5};
static double Q[36];
static mlshift_status well(void *ctx, const mlshift_frame *f, double *e, double *F,
                           mlshift_error *err)
{
    (void)ctx;
    (void)err;
    *e = 0;
    memset(F, 0, 6 * sizeof *F);
    for (int k = 0; k < 6; k++) {
        double p = 0;
        for (int c = 0; c < 6; c++)
            p += Q[6 * k + c] * f->positions[c];
        *e += 0.5 * lam[k] * p * p;
        for (int c = 0; c < 6; c++)
            F[c] -= lam[k] * p * Q[6 * k + c];
    }
    return MLSHIFT_OK;
}

int main(void)
{
    mlshift_error err;
    int z[3] = {18, 18, 18};
    /* a bent trimer, near but not at the minimum */
    double x[9] = {0, 0, 0, 3.9, 0.1, 0, 1.8, 3.3, 0.2};
    mlshift_frame f = {0};
    f.natoms = 3;
    f.numbers = z;
    f.positions = x;
    f.energy = NAN;
    mlshift_md_calculator calc = {lj, NULL, NULL, NULL, MLSHIFT_HEAD_MAIN, 0};
    double H[81], A[81], asym = -1;
    CHECK(mlshift_hessian(&calc, &f, 1e-3, H, &asym, &err) == MLSHIFT_OK, "hessian: %s",
          err.message);
    lj_hessian(x, 3, A);
    double worst = 0, sym = 0, scale = 0;
    for (int k = 0; k < 81; k++) {
        worst = fmax(worst, fabs(H[k] - A[k]));
        scale = fmax(scale, fabs(A[k]));
        sym = fmax(sym, fabs(H[k] - H[(k % 9) * 9 + k / 9]));
    }
    CHECK(worst < 1e-5 * scale, "LJ trimer Hessian: max error %.3g (scale %.3g)",
          worst, scale);
    /* Central differences err by O(h²): doubling h quadruples the error. */
    double H2[81], worst2 = 0;
    CHECK(mlshift_hessian(&calc, &f, 2e-3, H2, NULL, &err) == MLSHIFT_OK, "hessian 2h");
    for (int k = 0; k < 81; k++)
        worst2 = fmax(worst2, fabs(H2[k] - A[k]));
    CHECK(worst2 / worst > 3.5 && worst2 / worst < 4.5,
          "error ratio at 2h / h = %.3f (O(h²): 4)", worst2 / worst);
    CHECK(sym == 0, "the returned Hessian is symmetric (%.3g)", sym);
    CHECK(asym >= 0 && asym < 1e-6 * scale, "asymmetry removed %.3g", asym);
    /* Translation invariance: every row sums to zero over atoms (per axis). */
    double rowsum = 0;
    for (int r = 0; r < 9; r++)
        for (int b = 0; b < 3; b++)
            rowsum = fmax(rowsum, fabs(H[r * 9 + b] + H[r * 9 + 3 + b] + H[r * 9 + 6 + b]));
    CHECK(rowsum < 1e-6 * scale, "rows sum to zero (translations): %.3g", rowsum);
    /* Modes of the LJ Hessian: H v = λ v, unit norm, descending. */
    double eig[2], vec[18];
    CHECK(mlshift_hessian_modes(H, 9, 2, eig, vec, &err) == MLSHIFT_OK, "modes: %s",
          err.message);
    double res = 0, nrm = 0;
    for (int m = 0; m < 2; m++) {
        double n2 = 0;
        for (int i = 0; i < 9; i++) {
            double s = 0;
            for (int j = 0; j < 9; j++)
                s += H[i * 9 + j] * vec[m * 9 + j];
            res = fmax(res, fabs(s - eig[m] * vec[m * 9 + i]));
            n2 += vec[m * 9 + i] * vec[m * 9 + i];
        }
        nrm = fmax(nrm, fabs(n2 - 1));
    }
    CHECK(res < 1e-10 * scale && nrm < 1e-12 && eig[0] >= eig[1],
          "eigenpairs: residual %.3g, norm %.3g, %g >= %g", res, nrm, eig[0], eig[1]);
    /* The trace is the sum of all eigenvalues; the two leading ones bound
     * the others from above: λ1 ≥ every diagonal entry (Rayleigh). */
    double dmax = 0;
    for (int i = 0; i < 9; i++)
        dmax = fmax(dmax, H[i * 9 + i]);
    CHECK(eig[0] >= dmax - 1e-12, "λ1 %.6g ≥ max diagonal %.6g", eig[0], dmax);

    /* A quadratic well with known eigenvectors: a rotation of the axes. */
    memset(Q, 0, sizeof Q);
    double t = 0.3;
    for (int k = 0; k < 6; k++)
        Q[6 * k + k] = 1;
    Q[0] = cos(t), Q[1] = sin(t), Q[6] = -sin(t), Q[7] = cos(t);
    Q[14] = cos(2 * t), Q[15] = -sin(2 * t), Q[20] = sin(2 * t), Q[21] = cos(2 * t);
    int z2[2] = {1, 1};
    double x2[6] = {0.01, -0.02, 0.03, 0, 0.01, -0.01};
    mlshift_frame g = f;
    g.natoms = 2;
    g.numbers = z2;
    g.positions = x2;
    mlshift_md_calculator wc = {well, NULL, NULL, NULL, MLSHIFT_HEAD_MAIN, 0};
    double W[36], e2[2], v2[12];
    CHECK(!mlshift_hessian(&wc, &g, 0.01, W, NULL, &err) &&
          !mlshift_hessian_modes(W, 6, 2, e2, v2, &err), "well: %s", err.message);
    CHECK_CLOSE(e2[0], 9, 1e-9, 0, "well λ1");
    CHECK_CLOSE(e2[1], 7, 1e-9, 0, "well λ2");
    double dot0 = 0, dot1 = 0;
    for (int c = 0; c < 6; c++) {
        dot0 += v2[c] * Q[c];
        dot1 += v2[6 + c] * Q[6 + c];
    }
    CHECK(fabs(fabs(dot0) - 1) < 1e-9 && fabs(fabs(dot1) - 1) < 1e-9,
          "well modes are the rotated axes: |v·q| %.12f %.12f", fabs(dot0), fabs(dot1));
    /* Grid energies: E(x + a u + b w) = ½ (λ1 (q1·x + a)² + λ2 (q2·x + b)² + …)
     * for u = ±q1, w = ±q2; and equal to direct single points of the LJ. */
    double ga[3] = {-0.1, 0, 0.2}, gb[2] = {0.05, -0.15}, E[6];
    CHECK(!mlshift_pes_grid(&wc, &g, v2, v2 + 6, ga, 3, gb, 2, E, &err), "grid: %s",
          err.message);
    double gw = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            double xx[6], want = 0;
            for (int c = 0; c < 6; c++)
                xx[c] = x2[c] + ga[i] * v2[c] + gb[j] * v2[6 + c];
            for (int k = 0; k < 6; k++) {
                double p = 0;
                for (int c = 0; c < 6; c++)
                    p += Q[6 * k + c] * xx[c];
                want += 0.5 * lam[k] * p * p;
            }
            gw = fmax(gw, fabs(E[i * 2 + j] - want));
        }
    CHECK(gw < 1e-14, "well grid = closed form (%.3g)", gw);
    double Eg[4], ag[2] = {-0.05, 0.07};
    CHECK(!mlshift_pes_grid(&calc, &f, vec, vec + 9, ag, 2, ag, 2, Eg, &err), "LJ grid");
    double gd = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double xx[9], e, F[9];
            for (int c = 0; c < 9; c++)
                xx[c] = x[c] + ag[i] * vec[c] + ag[j] * vec[9 + c];
            mlshift_frame h = f;
            h.positions = xx;
            CHECK(!mlshift_md_calculator_compute(&calc, &h, &e, F, &err), "single point");
            gd = fmax(gd, fabs(Eg[i * 2 + j] - e));
        }
    CHECK(gd == 0, "LJ grid = single points (%.3g)", gd);

    /* Bad arguments. */
    CHECK(mlshift_hessian(&calc, &f, 0, H, NULL, &err) == MLSHIFT_ERR_VALUE, "h = 0");
    CHECK(mlshift_hessian(&calc, &f, NAN, H, NULL, &err) == MLSHIFT_ERR_VALUE, "h NaN");
    mlshift_md_calculator none = {0};
    CHECK(mlshift_hessian(&none, &f, 0.01, H, NULL, &err) == MLSHIFT_ERR_VALUE,
          "no calculator");
    double xbad[9];
    memcpy(xbad, x, sizeof xbad);
    xbad[4] = NAN;
    mlshift_frame fb = f;
    fb.positions = xbad;
    CHECK(mlshift_hessian(&calc, &fb, 0.01, H, NULL, &err) == MLSHIFT_ERR_VALUE,
          "NaN position: %s", err.message);
    CHECK(mlshift_hessian_modes(H, 9, 10, eig, vec, &err) == MLSHIFT_ERR_VALUE, "k > d");
    return check_done();
}

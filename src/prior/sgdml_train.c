/* SPDX-License-Identifier: MIT */
/* sGDML training: the force–force kernel, its Cholesky solve, σ on a
 * validation set and the energy integration constant.
 *
 * With J_b = ∂x_b/∂r_b (D, 3N), d = x_a − P_p x_b, u = √5|d|/σ,
 * c0 = 5/(3σ²), g = 5/σ²:
 *
 *   K_F(a, b) = Σ_p J_aᵀ M(d) P_p J_b,  M(d) = c0 e^{−u}[(1+u) I − g d dᵀ]
 *
 * the Hessian ∂²k/∂r_a∂r_b of the Matérn-5/2 kernel k(x_a, P_p x_b)
 * (3N × 3N per pair of training points; symmetric in (a, b) because the
 * permutations form a group). Labels y = F/y_std (kcal/mol/Å, y_std the
 * standard deviation of all training force components); (K_F + λI) α = y by
 * Cholesky; the model keeps w_b = J_b α_b (D,), all prediction needs. The
 * kernel is filled as a row-major lower triangle, which LAPACK reads as the
 * column-major upper triangle (no transposed copy). c = mean over the
 * training set of E_ref − E_pred(c = 0). Frames arrive in eV and eV/Å and
 * are converted to kcal/mol (× MLSHIFT_KCALMOL_PER_EV) here, so every model
 * file is in sGDML's units. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "sgdml.h"

#define KCAL MLSHIFT_KCALMOL_PER_EV

/* One 3N × 3N block K_F(a, b), summed over the permutations.
 * pair_i, pair_j (D,): the atoms of each pair; scratch dv, dp (D,),
 * ja, jb (3N,). */
static void kernel_block(int n, int d, int np, const int *pi, const int *pair_i,
                         const int *pair_j, const double *xa, const double *rda,
                         const double *xb, const double *rdb, double sig,
                         double *blk, double *dv, double *dp, double *ja,
                         double *jb)
{
    int n3 = 3 * n;
    double c0 = 5.0 / (3.0 * sig * sig), g = 5.0 / (sig * sig);
    memset(blk, 0, (size_t)n3 * n3 * sizeof *blk);
    for (int p = 0; p < np; p++) {
        const int *pp = pi + (size_t)p * d;
        double dd = 0;
        for (int k = 0; k < d; k++) {
            dv[k] = xa[k] - xb[pp[k]];
            dd += dv[k] * dv[k];
        }
        double u = sqrt(5.0 * dd) / sig, ex = exp(-u);
        double s1 = c0 * ex * (1.0 + u), s2 = c0 * ex * g;
        /* s1 · J_aᵀ P_p J_b: pair k of a (i, j) against pair pp[k] of b */
        for (int k = 0; k < d; k++) {
            int kb = pp[k], i = pair_i[k], j = pair_j[k];
            int ib = pair_i[kb], jbb = pair_j[kb];
            for (int c1 = 0; c1 < 3; c1++) {
                double ta = s1 * rda[3 * k + c1];
                double *ri = blk + (size_t)(3 * i + c1) * n3;
                double *rj = blk + (size_t)(3 * j + c1) * n3;
                for (int c2 = 0; c2 < 3; c2++) {
                    double t = ta * rdb[3 * kb + c2];
                    ri[3 * ib + c2] += t;
                    ri[3 * jbb + c2] -= t;
                    rj[3 * ib + c2] -= t;
                    rj[3 * jbb + c2] += t;
                }
            }
        }
        /* − s2 (J_aᵀ d)(J_bᵀ P_pᵀ d)ᵀ */
        for (int k = 0; k < d; k++)
            dp[pp[k]] = dv[k];
        memset(ja, 0, (size_t)n3 * sizeof *ja);
        memset(jb, 0, (size_t)n3 * sizeof *jb);
        ms_sgdml_jt(n, rda, dv, ja);
        ms_sgdml_jt(n, rdb, dp, jb);
        for (int r = 0; r < n3; r++) {
            double t = s2 * ja[r];
            for (int c = 0; c < n3; c++)
                blk[(size_t)r * n3 + c] -= t * jb[c];
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Force RMSE (kcal/mol/Å) of model mo over frames idx (nv,). */
static mlshift_status val_rmse(const ms_sgdml_model *mo, const mlshift_frames *fr,
                               const size_t *idx, size_t nv, double *fbuf,
                               double *rmse, mlshift_error *err)
{
    ms_sgdml_pred pr;
    mlshift_status s = ms_sgdml_pred_init(&pr, mo, err);
    if (s != MLSHIFT_OK)
        return s;
    double sum = 0;
    for (size_t v = 0; v < nv; v++) {
        mlshift_frame f;
        mlshift_frames_get(fr, idx[v], &f);
        double e;
        if (ms_sgdml_predict(&pr, f.positions, &e, fbuf)) {
            ms_sgdml_pred_free(&pr);
            return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: validation "
                           "frame %zu has coincident atoms", idx[v]);
        }
        for (size_t k = 0; k < 3 * f.natoms; k++) {
            double t = fbuf[k] - KCAL * f.forces[k];
            sum += t * t;
        }
    }
    ms_sgdml_pred_free(&pr);
    *rmse = sqrt(sum / (double)(nv * 3 * (size_t)mo->n));
    return MLSHIFT_OK;
}

mlshift_status ms_sgdml_train(const mlshift_frames *fr,
                              const ms_sgdml_train_opts *opt,
                              ms_sgdml_model *mo, ms_sgdml_train_report *rep,
                              mlshift_error *err)
{
    double t0 = now();
    memset(mo, 0, sizeof *mo);
    memset(rep, 0, sizeof *rep);
    size_t nf = mlshift_frames_count(fr), m = opt->samples, nv = opt->val;
    rep->n_frames = nf;
    if (nf == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: no frames");
    if (opt->nsig < 1 || opt->nsig > 64)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: %zu σ values "
                       "(1 to 64)", opt->nsig);
    if (opt->nsig > 1 && nv == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: choosing σ among "
                       "%zu values needs validation points", opt->nsig);
    for (size_t s = 0; s < opt->nsig; s++)
        if (!(opt->sigmas[s] > 0) || !isfinite(opt->sigmas[s]))
            return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: σ = %g must "
                           "be positive", opt->sigmas[s]);
    if (m < 1 || m + nv > nf)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: %zu training + %zu"
                       " validation points requested, %zu frames available",
                       m, nv, nf);
    mlshift_frame f0;
    mlshift_frames_get(fr, 0, &f0);
    size_t n = f0.natoms;
    if (n < 2 || n > 4096)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: %zu atoms (2 to "
                       "4096)", n);
    double *e = malloc(nf * sizeof *e);
    if (!e)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory");
    for (size_t i = 0; i < nf; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        int same = f.natoms == n;
        for (size_t a = 0; same && a < n; a++)
            same = f.numbers[a] == f0.numbers[a];
        if (!same) {
            free(e);
            return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: frame %zu has "
                           "other atoms than frame 0 (sGDML needs one molecule"
                           " in one atom order)", i);
        }
        if (!(f.flags & MLSHIFT_HAS_ENERGY) || !(f.flags & MLSHIFT_HAS_FORCES)) {
            free(e);
            return ms_fail(err, MLSHIFT_ERR_MISSING, "sgdml train: frame %zu "
                           "lacks %s", i, f.flags & MLSHIFT_HAS_ENERGY ?
                           "forces" : "an energy");
        }
        e[i] = f.energy * KCAL;
    }
    /* the dense kernel, before anything large is allocated */
    size_t n3 = 3 * n, dim = n3 * m;
    double need = (double)dim * (double)dim * 8.0;
    double avail = opt->max_memory > 0 ? opt->max_memory
                   : (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (need > avail) {
        free(e);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: the dense kernel "
                       "of %zu points × %zu coordinates needs (3N·M)²·8 = %.0f "
                       "bytes (%.2f GiB), more than the %.0f bytes (%.2f GiB) "
                       "available; use fewer samples", m, n3, need,
                       need / 1073741824.0, avail, avail / 1073741824.0);
    }
    int d = (int)(n * (n - 1) / 2);
    size_t *idx = malloc((m + nv) * sizeof *idx);
    unsigned char *excl = calloc(nf, 1);
    int *perms = malloc((size_t)MS_SGDML_MAX_PERMS * n * sizeof *perms);
    double *K = malloc(dim * dim * sizeof *K);
    double *work = malloc((2 * dim + 2 * m * (size_t)d + m * (size_t)d * 3 +
                           (size_t)n3 * n3 + 2 * (size_t)d + 2 * n3 + n3) *
                          sizeof *work);
    int *pi = NULL;
    mlshift_status s = MLSHIFT_OK;
    if (!idx || !excl || !perms || !K || !work) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory");
        goto done;
    }
    double *y = work, *alpha = y + dim, *wcand = alpha + dim;
    double *wbest = wcand + m * (size_t)d, *rd = wbest + m * (size_t)d;
    double *blk = rd + m * (size_t)d * 3, *dv = blk + (size_t)n3 * n3;
    double *dp = dv + d, *ja = dp + d, *jb = ja + n3, *fbuf = jb + n3;
    size_t *vidx = idx + m;
    uint64_t rng = opt->seed;
    if ((s = ms_sgdml_sample(e, nf, NULL, m, &rng, idx, err)))
        goto done;
    for (size_t b = 0; b < m; b++)
        excl[idx[b]] = 1;
    if (nv && (s = ms_sgdml_sample(e, nf, excl, nv, &rng, vidx, err)))
        goto done;
    /* permutations from the first training geometry */
    mlshift_frame fa;
    mlshift_frames_get(fr, idx[0], &fa);
    int np = 1;
    if (opt->no_perms) {
        for (size_t i = 0; i < n; i++)
            perms[i] = (int)i;
    } else if ((s = ms_sgdml_graph_perms((int)n, fa.numbers, fa.positions,
                                         perms, MS_SGDML_MAX_PERMS, &np, err))) {
        goto done;
    }
    rep->nperms = np;
    pi = malloc(((size_t)np + 2) * (size_t)d * sizeof *pi);
    if (!pi) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory");
        goto done;
    }
    mo->n = (int)n;
    mo->d = d;
    mo->m = (int)m;
    mo->p = np;
    if ((s = ms_sgdml_model_alloc(mo, err)))
        goto done;
    for (size_t i = 0; i < n; i++)
        mo->z[i] = fa.numbers[i];
    memcpy(mo->perms, perms, (size_t)np * n * sizeof *perms);
    int *pair_i = pi + (size_t)np * d, *pair_j = pair_i + d;
    ms_sgdml_desc_perms((int)n, np, perms, pi);
    for (int i = 1, k = 0; i < (int)n; i++)
        for (int j = 0; j < i; j++, k++) {
            pair_i[k] = i;
            pair_j[k] = j;
        }
    /* descriptors and labels of the training points */
    double ysum = 0, ysq = 0;
    for (size_t b = 0; b < m; b++) {
        mlshift_frame f;
        mlshift_frames_get(fr, idx[b], &f);
        if (ms_sgdml_desc((int)n, f.positions, mo->x + b * d, rd + b * 3 * d)) {
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: frame %zu has "
                        "coincident atoms", idx[b]);
            goto done;
        }
        for (size_t k = 0; k < n3; k++) {
            y[b * n3 + k] = KCAL * f.forces[k];
            ysum += y[b * n3 + k];
        }
    }
    double ymean = ysum / (double)dim;
    for (size_t k = 0; k < dim; k++)
        ysq += (y[k] - ymean) * (y[k] - ymean);
    mo->y_std = sqrt(ysq / (double)dim);
    if (!(mo->y_std > 0)) {
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: all training forces "
                    "are equal");
        goto done;
    }
    double lambda = opt->lambda > 0 ? opt->lambda : 1e-10, best = INFINITY;
    for (size_t si = 0; si < opt->nsig; si++) {
        double sig = opt->sigmas[si];
        rep->val_rmse[si] = NAN;
        for (size_t a = 0; a < m; a++)
            for (size_t b = 0; b <= a; b++) {
                kernel_block((int)n, d, np, pi, pair_i, pair_j, mo->x + a * d,
                             rd + a * 3 * d, mo->x + b * d, rd + b * 3 * d, sig,
                             blk, dv, dp, ja, jb);
                for (size_t r = 0; r < n3; r++)
                    memcpy(K + (a * n3 + r) * dim + b * n3, blk + r * n3,
                           n3 * sizeof *K);
            }
        for (size_t k = 0; k < dim; k++)
            K[k * dim + k] += lambda;
        /* row-major lower = column-major upper */
        lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)dim,
                                         K, (lapack_int)dim);
        if (info != 0)
            continue;   /* not positive definite at this σ: skip it */
        for (size_t k = 0; k < dim; k++)
            alpha[k] = y[k] / mo->y_std;
        LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)dim, 1, K,
                       (lapack_int)dim, alpha, (lapack_int)dim);
        /* w_b = J_b α_b */
        for (size_t b = 0; b < m; b++) {
            const double *al = alpha + b * n3, *r3 = rd + b * 3 * d;
            for (int k = 0; k < d; k++) {
                int i = pair_i[k], j = pair_j[k];
                double t = 0;
                for (int c = 0; c < 3; c++)
                    t += r3[3 * k + c] * (al[3 * j + c] - al[3 * i + c]);
                wcand[b * d + k] = t;
            }
        }
        double rmse = 0;
        if (nv) {
            mo->sigma = sig;
            mo->c = 0;
            memcpy(mo->w, wcand, m * (size_t)d * sizeof *wcand);
            if ((s = val_rmse(mo, fr, vidx, nv, fbuf, &rmse, err)))
                goto done;
            rep->val_rmse[si] = rmse;
        }
        if (rmse < best || (nv == 0 && si == 0)) {
            best = rmse;
            rep->sigma = sig;
            memcpy(wbest, wcand, m * (size_t)d * sizeof *wcand);
        }
    }
    if (!isfinite(best)) {
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: the kernel is not "
                    "positive definite at any σ of the grid");
        goto done;
    }
    mo->sigma = rep->sigma;
    mo->c = 0;
    memcpy(mo->w, wbest, m * (size_t)d * sizeof *wbest);
    /* integration constant over the training set */
    ms_sgdml_pred pr;
    if ((s = ms_sgdml_pred_init(&pr, mo, err)))
        goto done;
    double csum = 0;
    for (size_t b = 0; b < m; b++) {
        mlshift_frame f;
        mlshift_frames_get(fr, idx[b], &f);
        double ep;
        ms_sgdml_predict(&pr, f.positions, &ep, NULL);
        csum += e[idx[b]] - ep;
    }
    ms_sgdml_pred_free(&pr);
    mo->c = csum / (double)m;
    s = ms_sgdml_model_check(mo, "sgdml train", err);
done:
    if (s != MLSHIFT_OK)
        ms_sgdml_model_free(mo);
    rep->train_seconds = now() - t0;
    free(e);
    free(idx);
    free(excl);
    free(perms);
    free(K);
    free(work);
    free(pi);
    return s;
}

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
 * standard deviation of all training force components).
 *
 * Rigid motions removed: the descriptor is invariant to translations and
 * rotations, so J_b has a null space (6-dimensional for a non-linear
 * molecule) and K_F has the same null space in every block. With U_b (3N, r_b)
 * an orthonormal basis of the rest (eigenvectors of J_bᵀJ_b with non-zero
 * eigenvalues), K_F + λI is block diagonal in the basis [U, null], so
 *
 *   (Uᵀ K_F U + λI) α̃ = Uᵀ y,   α = U α̃
 *
 * gives exactly the same w_b = J_b α_b as the full system (the null-space
 * part of α, y_null/λ, is annihilated by J_b), with a matrix of R = Σ r_b =
 * M(3N − 6) rows instead of 3N·M: Cholesky (R³/3) costs (1 − 6/3N)³ of the
 * full one (0.70 for naphthalene). Each 3N × 3N block is assembled sparse (a
 * descriptor row touches two atoms) and projected by two small dgemms.
 *
 * The projected kernel is filled as a row-major lower triangle, which LAPACK
 * reads as the column-major upper triangle (no transposed copy); the model
 * keeps w_b = J_b α_b (D,), all prediction needs.
 *
 * Choosing σ (docs/priors-sgdml.md): by default the grid is first scanned on
 * half of the training points (every other one; each solve costs 1/8), then
 * the full-M model is trained at the subset's best σ and the walk moves to
 * the neighbouring σ while the full-M validation error falls. The model is
 * the full-M solve with the lowest validation error. opt->full_grid trains
 * every σ on all M, as sGDML does. c = mean over the training set of
 * E_ref − E_pred(c = 0). Frames arrive in eV and eV/Å and are converted to
 * kcal/mol (× MLSHIFT_KCALMOL_PER_EV) here, so every model file is in
 * sGDML's units. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "sgdml.h"

#define KCAL MLSHIFT_KCALMOL_PER_EV

/* One 3N × 3N block K_F(a, b), summed over the permutations, into blk with
 * row stride ldb. pair_i, pair_j (D,): the atoms of each pair; scratch
 * dv, dp (D,), ja, jb (3N,). */
static void kernel_block(int n, int d, int np, const int *pi, const int *pair_i,
                         const int *pair_j, const double *xa, const double *rda,
                         const double *xb, const double *rdb, double sig,
                         double *blk, size_t ldb, double *dv, double *dp,
                         double *ja, double *jb)
{
    int n3 = 3 * n;
    double c0 = 5.0 / (3.0 * sig * sig), g = 5.0 / (sig * sig);
    for (int r = 0; r < n3; r++)
        memset(blk + (size_t)r * ldb, 0, (size_t)n3 * sizeof *blk);
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
                double *ri = blk + (size_t)(3 * i + c1) * ldb;
                double *rj = blk + (size_t)(3 * j + c1) * ldb;
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
            double *row = blk + (size_t)r * ldb;
            for (int c = 0; c < n3; c++)
                row[c] -= t * jb[c];
        }
    }
}

/* Everything σ-independent, built once, and the buffers of one solve. */
typedef struct train_set {
    int n, d, np;           /* N, D, P */
    size_t n3, m;           /* 3N, M */
    const int *pi;          /* (P, D) descriptor permutations */
    const int *pair_i;      /* (D,) first atom of each pair */
    const int *pair_j;      /* (D,) second atom */
    const double *x;        /* (M, D) training descriptors, 1/Å */
    const double *rd;       /* (M, D, 3) pair vectors */
    const double *y;        /* (M, 3N) labels F/y_std */
    const double *ub;       /* (M, 3N, 3N) eigenvectors of J_bᵀJ_b, ascending;
                               U_b = the last r_b columns (row stride 3N) */
    const int *rk;          /* (M,) r_b, the rank of J_b */
    double lambda;
    double *k;              /* (R, R) projected kernel, R ≤ 3N·M */
    double *rowk;           /* (3N, 3N·M) one block row of K_F */
    double *rowt;           /* (R_a ≤ 3N, 3N·M) U_aᵀ × that row */
    double *alpha;          /* (R,) */
    double *al;             /* (3N,) α_b = U_b α̃_b */
    size_t *off;            /* (M + 1,) row offsets of the blocks */
    double *dv, *dp;        /* (D,) scratch */
    double *ja, *jb;        /* (3N,) scratch */
    /* validation */
    const mlshift_frames *fr;
    const size_t *vidx;     /* (nv,) validation frames */
    size_t nv;
    double *fbuf;           /* (N, 3) */
} train_set;

/* Solves (Uᵀ K_F U + λI) α̃ = Uᵀ y at σ on the training points sel (ms,)
 * and writes w (ms, D) = J_b U_b α̃_b. Returns 0, or 1 when the kernel is
 * not positive definite. */
static int solve_sigma(train_set *t, const size_t *sel, size_t ms, double sig,
                       double *w)
{
    size_t n3 = t->n3, d = (size_t)t->d, ldr = n3 * t->m;
    t->off[0] = 0;
    for (size_t a = 0; a < ms; a++)
        t->off[a + 1] = t->off[a] + (size_t)t->rk[sel[a]];
    size_t rr = t->off[ms];
    for (size_t a = 0; a < ms; a++) {
        size_t ia = sel[a];
        int ra = t->rk[ia];
        const double *ua = t->ub + ia * n3 * n3 + (n3 - (size_t)ra);
        for (size_t b = 0; b <= a; b++) {
            size_t ib = sel[b];
            kernel_block(t->n, t->d, t->np, t->pi, t->pair_i, t->pair_j,
                         t->x + ia * d, t->rd + ia * 3 * d, t->x + ib * d,
                         t->rd + ib * 3 * d, sig, t->rowk + b * n3, ldr,
                         t->dv, t->dp, t->ja, t->jb);
        }
        /* rowt = U_aᵀ [K_F(a, 0) … K_F(a, a)], then block b: rowt_b U_b */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ra,
                    (int)((a + 1) * n3), (int)n3, 1.0, ua, (int)n3, t->rowk,
                    (int)ldr, 0.0, t->rowt, (int)ldr);
        for (size_t b = 0; b <= a; b++) {
            size_t ib = sel[b];
            int rb = t->rk[ib];
            const double *ubb = t->ub + ib * n3 * n3 + (n3 - (size_t)rb);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ra, rb,
                        (int)n3, 1.0, t->rowt + b * n3, (int)ldr, ubb, (int)n3,
                        0.0, t->k + t->off[a] * rr + t->off[b], (int)rr);
        }
        /* α̃_a = U_aᵀ y_a (the right-hand side) */
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n3, ra, 1.0, ua, (int)n3,
                    t->y + ia * n3, 1, 0.0, t->alpha + t->off[a], 1);
    }
    for (size_t k = 0; k < rr; k++)
        t->k[k * rr + k] += t->lambda;
    /* row-major lower = column-major upper */
    lapack_int info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U',
                                          (lapack_int)rr, t->k, (lapack_int)rr);
    if (info != 0)
        return 1;
    LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', (lapack_int)rr, 1, t->k,
                        (lapack_int)rr, t->alpha, (lapack_int)rr);
    /* α_b = U_b α̃_b, w_b = J_b α_b */
    for (size_t a = 0; a < ms; a++) {
        size_t ia = sel[a];
        int ra = t->rk[ia];
        const double *ua = t->ub + ia * n3 * n3 + (n3 - (size_t)ra);
        const double *r3 = t->rd + ia * 3 * d;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n3, ra, 1.0, ua,
                    (int)n3, t->alpha + t->off[a], 1, 0.0, t->al, 1);
        for (size_t k = 0; k < d; k++) {
            int i = t->pair_i[k], j = t->pair_j[k];
            double s = 0;
            for (int c = 0; c < 3; c++)
                s += r3[3 * k + c] * (t->al[3 * j + c] - t->al[3 * i + c]);
            w[a * d + k] = s;
        }
    }
    return 0;
}

/* Force RMSE (kcal/mol/Å) of model mo over the validation frames. */
static mlshift_status val_rmse(const ms_sgdml_model *mo, const train_set *t,
                               double *rmse, mlshift_error *err)
{
    ms_sgdml_pred pr;
    mlshift_status s = ms_sgdml_pred_init(&pr, mo, err);
    if (s != MLSHIFT_OK)
        return s;
    double sum = 0;
    for (size_t v = 0; v < t->nv; v++) {
        mlshift_frame f;
        mlshift_frames_get(t->fr, t->vidx[v], &f);
        double e;
        if (ms_sgdml_predict(&pr, f.positions, &e, t->fbuf)) {
            ms_sgdml_pred_free(&pr);
            return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: validation "
                           "frame %zu has coincident atoms", t->vidx[v]);
        }
        for (size_t k = 0; k < 3 * f.natoms; k++) {
            double d = t->fbuf[k] - KCAL * f.forces[k];
            sum += d * d;
        }
    }
    ms_sgdml_pred_free(&pr);
    *rmse = sqrt(sum / (double)(t->nv * 3 * (size_t)mo->n));
    return MLSHIFT_OK;
}

/* Trains model view mv (its x the descriptors of sel, its w the output) at
 * σ and validates it: *rmse, or +∞ when the kernel is not positive
 * definite. */
static mlshift_status try_sigma(train_set *t, const size_t *sel, size_t ms,
                                double sig, ms_sgdml_model *mv, double *rmse,
                                mlshift_error *err)
{
    *rmse = INFINITY;
    if (solve_sigma(t, sel, ms, sig, mv->w))
        return MLSHIFT_OK;
    mv->sigma = sig;
    mv->c = 0;
    return val_rmse(mv, t, rmse, err);
}

/* J_bᵀJ_b (3N, 3N) from the pair vectors rd (D, 3). */
static void jtj(int n, const double *rd, double *a)
{
    size_t n3 = 3 * (size_t)n;
    memset(a, 0, n3 * n3 * sizeof *a);
    int k = 0;
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++, k++)
            for (int c1 = 0; c1 < 3; c1++)
                for (int c2 = 0; c2 < 3; c2++) {
                    double v = rd[3 * k + c1] * rd[3 * k + c2];
                    a[(3 * i + c1) * n3 + 3 * i + c2] += v;
                    a[(3 * j + c1) * n3 + 3 * j + c2] += v;
                    a[(3 * i + c1) * n3 + 3 * j + c2] -= v;
                    a[(3 * j + c1) * n3 + 3 * i + c2] -= v;
                }
}

mlshift_status ms_sgdml_train(const mlshift_frames *fr,
                              const ms_sgdml_train_opts *opt,
                              ms_sgdml_model *mo, ms_sgdml_train_report *rep,
                              mlshift_error *err)
{
    double t0 = ms_now();
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
    size_t *idx = malloc((2 * m + nv + 1) * sizeof *idx);  /* idx, vidx, off */
    unsigned char *excl = calloc(nf, 1);
    int *perms = malloc((size_t)MS_SGDML_MAX_PERMS * n * sizeof *perms);
    int *rk = malloc(m * sizeof *rk);
    /* one block for the σ-independent arrays and the scratch */
    size_t md = m * (size_t)d, lwork = 8 * n3;
    double *work = malloc((2 * dim + 4 * md + 3 * md + m * n3 * n3 +
                           2 * n3 * dim + n3 * n3 + n3 + lwork + 2 * (size_t)d +
                           3 * n3) * sizeof *work);
    double *K = NULL;
    int *pi = NULL;
    mlshift_status s = MLSHIFT_OK;
    if (!idx || !excl || !perms || !rk || !work) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory");
        goto done;
    }
    double *y = work;                   /* (M, 3N) labels / y_std */
    double *alpha = y + dim;            /* (R,) */
    double *wcand = alpha + dim;        /* (M, D) w of the current solve */
    double *wbest = wcand + md;         /* (M, D) w of the best full solve */
    double *xsub = wbest + md;          /* (M/2, D) subset descriptors */
    double *wsub = xsub + md;           /* (M/2, D) subset w */
    double *rd = wsub + md;             /* (M, D, 3) pair vectors */
    double *ub = rd + 3 * md;           /* (M, 3N, 3N) bases U_b */
    double *rowk = ub + m * n3 * n3;    /* (3N, 3N·M) */
    double *rowt = rowk + n3 * dim;     /* (3N, 3N·M) */
    double *ata = rowt + n3 * dim;      /* (3N, 3N) J_bᵀJ_b */
    double *ev = ata + n3 * n3;         /* (3N,) its eigenvalues */
    double *lw = ev + n3;               /* (lwork,) dsyev workspace */
    double *dv = lw + lwork, *dp = dv + d, *ja = dp + d, *jb = ja + n3;
    double *fbuf = jb + n3;             /* (N, 3) */
    size_t *vidx = idx + m;             /* (nv,) */
    size_t *off = vidx + nv;            /* (M + 1,) */
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
    /* descriptors, labels and the rigid-motion-free bases of the training
     * points */
    double ysum = 0, ysq = 0;
    size_t rsum = 0;
    for (size_t b = 0; b < m; b++) {
        mlshift_frame f;
        mlshift_frames_get(fr, idx[b], &f);
        double *rdb = rd + b * 3 * d, *u = ub + b * n3 * n3;
        if (ms_sgdml_desc((int)n, f.positions, mo->x + b * d, rdb)) {
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: frame %zu has "
                        "coincident atoms", idx[b]);
            goto done;
        }
        for (size_t k = 0; k < n3; k++) {
            y[b * n3 + k] = KCAL * f.forces[k];
            ysum += y[b * n3 + k];
        }
        jtj((int)n, rdb, u);
        if (LAPACKE_dsyev_work(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n3, u,
                               (lapack_int)n3, ev, lw, (lapack_int)lwork)) {
            s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: eigenvalues of "
                        "JᵀJ of frame %zu did not converge", idx[b]);
            goto done;
        }
        /* ascending: the rigid motions (≈ 0) first */
        int r = 0;
        for (size_t k = 0; k < n3; k++)
            r += ev[k] > 1e-10 * ev[n3 - 1];
        rk[b] = r;
        rsum += (size_t)r;
    }
    K = malloc(rsum * rsum * sizeof *K);
    if (!K) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory for "
                    "the kernel (%zu rows)", rsum);
        goto done;
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
    for (size_t k = 0; k < dim; k++)
        y[k] /= mo->y_std;
    train_set t = {
        .n = (int)n, .d = d, .np = np, .n3 = n3, .m = m, .pi = pi,
        .pair_i = pair_i, .pair_j = pair_j, .x = mo->x, .rd = rd, .y = y,
        .ub = ub, .rk = rk, .lambda = opt->lambda > 0 ? opt->lambda : 1e-10,
        .k = K, .rowk = rowk, .rowt = rowt, .alpha = alpha, .al = ja,
        .off = off, .dv = dv, .dp = dp, .ja = ja, .jb = jb, .fr = fr,
        .vidx = vidx, .nv = nv, .fbuf = fbuf,
    };
    /* t.al shares ja: solve_sigma uses al only after the assembly */
    size_t nsig = opt->nsig;
    for (size_t si = 0; si < nsig; si++)
        rep->val_rmse[si] = rep->val_rmse_sub[si] = NAN;
    /* the full-M solves: a view of mo with w = wcand */
    ms_sgdml_model mv = *mo;
    mv.w = wcand;
    size_t *seq = malloc(m * sizeof *seq);
    if (!seq) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml train: out of memory");
        goto done;
    }
    for (size_t b = 0; b < m; b++)
        seq[b] = b;
    double best = INFINITY;
    int tried[64] = {0};
    if (nv == 0) {
        /* one σ, no validation */
        rep->full_solves = 1;
        if (!solve_sigma(&t, seq, m, opt->sigmas[0], wbest)) {
            best = 0;
            rep->sigma = opt->sigmas[0];
        }
    } else {
        size_t k0 = 0;
        int search = !opt->full_grid && nsig > 3 && m >= 16;
        if (search) {
            /* stage 1: every σ on every other training point */
            size_t ms = (m + 1) / 2;
            ms_sgdml_model sv = *mo;
            sv.m = (int)ms;
            sv.x = xsub;
            sv.w = wsub;
            for (size_t a = 0; a < ms; a++) {
                seq[a] = 2 * a;
                memcpy(xsub + a * d, mo->x + 2 * a * d, (size_t)d * sizeof *xsub);
            }
            double sbest = INFINITY;
            for (size_t si = 0; si < nsig; si++) {
                double r;
                if ((s = try_sigma(&t, seq, ms, opt->sigmas[si], &sv, &r, err)))
                    goto done_seq;
                rep->val_rmse_sub[si] = isfinite(r) ? r : NAN;
                if (r < sbest) {
                    sbest = r;
                    k0 = si;
                }
            }
            rep->sub_samples = ms;
            search = isfinite(sbest);
            for (size_t b = 0; b < m; b++)
                seq[b] = b;
        }
        /* stage 2 (or the full grid): solves on all M points */
        for (size_t step = 0; step < nsig; step++) {
            size_t si;
            if (!search) {
                si = step;
            } else if (step == 0) {
                si = k0;
            } else {
                /* walk downhill from the best full solve so far: the lower
                 * neighbour first, then the upper one */
                if (!isfinite(best))
                    break;
                size_t kb = 0;
                while (!(tried[kb] && rep->val_rmse[kb] == best))
                    kb++;
                if (kb > 0 && !tried[kb - 1])
                    si = kb - 1;
                else if (kb + 1 < nsig && !tried[kb + 1])
                    si = kb + 1;
                else
                    break;
            }
            double r;
            tried[si] = 1;
            rep->full_solves++;
            if ((s = try_sigma(&t, seq, m, opt->sigmas[si], &mv, &r, err)))
                goto done_seq;
            rep->val_rmse[si] = isfinite(r) ? r : NAN;
            if (r < best) {
                best = r;
                rep->sigma = opt->sigmas[si];
                memcpy(wbest, wcand, md * sizeof *wcand);
            }
        }
        /* the subset's σ was not positive definite on all M: the full grid */
        for (size_t si = 0; search && !isfinite(best) && si < nsig; si++) {
            if (tried[si])
                continue;
            double r;
            rep->full_solves++;
            if ((s = try_sigma(&t, seq, m, opt->sigmas[si], &mv, &r, err)))
                goto done_seq;
            rep->val_rmse[si] = isfinite(r) ? r : NAN;
            if (r < best) {
                best = r;
                rep->sigma = opt->sigmas[si];
                memcpy(wbest, wcand, md * sizeof *wcand);
            }
        }
    }
    if (!isfinite(best)) {
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml train: the kernel is not "
                    "positive definite at any σ of the grid");
        goto done_seq;
    }
    mo->sigma = rep->sigma;
    mo->c = 0;
    memcpy(mo->w, wbest, md * sizeof *wbest);
    /* integration constant over the training set */
    ms_sgdml_pred pr;
    if ((s = ms_sgdml_pred_init(&pr, mo, err)))
        goto done_seq;
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
done_seq:
    free(seq);
done:
    if (s != MLSHIFT_OK)
        ms_sgdml_model_free(mo);
    rep->train_seconds = ms_now() - t0;
    free(e);
    free(idx);
    free(excl);
    free(perms);
    free(rk);
    free(K);
    free(work);
    free(pi);
    return s;
}

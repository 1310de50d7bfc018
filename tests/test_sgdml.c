/* SPDX-License-Identifier: MIT */
/* sGDML: the descriptor's Jacobian and F = −∇E against central finite
 * differences, the BLAS predictor against the plain one, the 2018 sGDML
 * models against the MD17 labels (published MAEs), our model file (round
 * trip, other version, corruption), the permutation search, the sampler and
 * training on MD17 naphthalene (Table 2 of the paper); the projected
 * (rigid-motion-free) solve against the full 3N·M system built densely here,
 * and the σ search against every σ trained on all points.
 *
 * Also a driver for tests/reference/test_sgdml_numpy.py:
 *   test_sgdml --predict MODEL POS.txt OUT.txt   (POS: K·N lines "x y z";
 *   OUT: per structure a line "E" then N lines "fx fy fz", kcal/mol units)
 *   test_sgdml --train DATA M SEED OUT_MODEL     (MD17 labels, σ grid 10..90) */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "mlshift.h"
#include "io/npy.h"
#include "prior/sgdml.h"

#define KCAL MLSHIFT_KCALMOL_PER_EV

static mlshift_frames *read_md17(const char *rel, int old)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_read_options o = {0};
    o.labels_old = old;
    mlshift_error err;
    if (mlshift_read(fr, check_data_path(rel), &o, &err) != MLSHIFT_OK) {
        CHECK(0, "reading %s: %s", rel, err.message);
        mlshift_frames_destroy(fr);
        return NULL;
    }
    return fr;
}

/* Force MAE (kcal/mol/Å) of prior `spec` over frames (labels in eV/Å). */
static double force_mae(mlshift_prior *p, const mlshift_frames *fr, size_t nmax,
                        double *e_mae)
{
    size_t nf = mlshift_frames_count(fr), cnt = 0;
    if (nf > nmax)
        nf = nmax;
    double sum = 0, esum = 0;
    double *f = NULL;
    for (size_t i = 0; i < nf; i++) {
        mlshift_frame fm;
        mlshift_frames_get(fr, i, &fm);
        if (!f)
            f = malloc(3 * fm.natoms * sizeof *f);
        double e;
        mlshift_error err;
        if (mlshift_prior_compute(p, &fm, &e, f, NULL, &err) != MLSHIFT_OK) {
            CHECK(0, "compute: %s", err.message);
            break;
        }
        for (size_t k = 0; k < 3 * fm.natoms; k++)
            sum += fabs(f[k] - fm.forces[k]);
        cnt += 3 * fm.natoms;
        esum += fabs(e - fm.energy);
    }
    free(f);
    if (e_mae)
        *e_mae = esum / (double)nf * KCAL;
    return sum / (double)cnt * KCAL;
}

/* ∂x/∂r from ms_sgdml_desc against central differences of x. */
static void test_desc_jacobian(void)
{
    int n = 5, d = 10;
    double r[15] = {0, 0, 0, 1.1, 0.1, -0.2, -0.3, 1.0, 0.4,
                    0.5, -0.7, 1.2, 2.0, 0.9, -0.5};
    double x[10], rd[30], xp[10], xm[10], tmp[30];
    ms_sgdml_desc(n, r, x, rd);
    CHECK_CLOSE(x[0], 1.0 / sqrt(1.1 * 1.1 + 0.01 + 0.04), 0, 1e-15, "x_10");
    double worst = 0;
    for (int a = 0; a < 3 * n; a++) {
        /* column a of J via Jᵀ e_k for every k */
        double h = 1e-6;
        r[a] += h;
        ms_sgdml_desc(n, r, xp, tmp);
        r[a] -= 2 * h;
        ms_sgdml_desc(n, r, xm, tmp);
        r[a] += h;
        for (int k = 0; k < d; k++) {
            double v[10] = {0}, g[15] = {0};
            v[k] = 1;
            ms_sgdml_jt(n, rd, v, g);
            double num = (xp[k] - xm[k]) / (2 * h);
            double ex = fabs(g[a] - num) - (1e-8 + 1e-6 * fabs(num));
            if (ex > worst)
                worst = ex;
        }
    }
    CHECK(worst <= 0, "descriptor Jacobian vs finite differences: excess %g",
          worst);
    double same[6] = {0, 0, 0, 0, 0, 0};
    CHECK(ms_sgdml_desc(2, same, x, rd) == -1, "coincident atoms refused");
}

/* F = −∇E by central differences (h = 1e-5 Å), the BLAS predictor against
 * the plain one. `tol_rel` is the relative tolerance (1e-6 by the style;
 * the 2018 models' α ~ 1e10 make E a sum of large cancelling terms). */
static void test_fd(const ms_sgdml_model *mo, const double *r0,
                    const char *name, double h, double atol, double blas_rtol)
{
    ms_sgdml_pred pr;
    mlshift_error err;
    if (ms_sgdml_pred_init(&pr, mo, &err) != MLSHIFT_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    int n = mo->n;
    double *r = malloc(3 * (size_t)n * sizeof *r);
    double *f = malloc(3 * (size_t)n * sizeof *f);
    double *fr = malloc(3 * (size_t)n * sizeof *fr);
    double *num = malloc(3 * (size_t)n * sizeof *num);
    memcpy(r, r0, 3 * (size_t)n * sizeof *r);
    double e, er, ep, em;
    ms_sgdml_predict(&pr, r, &e, f);
    ms_sgdml_predict_ref(&pr, r, &er, fr);
    CHECK_CLOSE(e, er, 0, blas_rtol, "%s: BLAS energy vs plain", name);
    char what[160];
    snprintf(what, sizeof what, "%s: BLAS forces vs plain", name);
    check_array_close(what, f, fr, 3 * (size_t)n, blas_rtol, blas_rtol);
    for (int a = 0; a < 3 * n; a++) {
        r[a] = r0[a] + h;
        ms_sgdml_predict_ref(&pr, r, &ep, NULL);
        r[a] = r0[a] - h;
        ms_sgdml_predict_ref(&pr, r, &em, NULL);
        r[a] = r0[a];
        num[a] = -(ep - em) / (2 * h);
    }
    snprintf(what, sizeof what, "%s: F = -dE/dr (central differences)", name);
    check_array_close(what, fr, num, 3 * (size_t)n, atol, 1e-6);
    free(r);
    free(f);
    free(fr);
    free(num);
    ms_sgdml_pred_free(&pr);
}


/* F = −∇E with the style's tolerance (h = 1e-5, 1e-8 + 1e-6·|F|) on a
 * well-conditioned model: real naphthalene descriptors and permutations,
 * coefficients of order one (the fitted models' α is ~1e10, which makes E
 * a sum of large cancelling terms; their check above uses h = 1e-4). */
static void test_fd_synthetic(void)
{
    ms_sgdml_model src, mo = {0};
    mlshift_error err;
    if (ms_sgdml_load(&src, check_data_path("sgdml_models/sgdml_2018_naphthalene.npz"),
                      &err) != MLSHIFT_OK) {
        CHECK(0, "%s", err.message);
        return;
    }
    mo.n = src.n;
    mo.d = src.d;
    mo.m = 20;
    mo.p = src.p;
    ms_sgdml_model_alloc(&mo, &err);
    memcpy(mo.z, src.z, (size_t)mo.n * sizeof *mo.z);
    memcpy(mo.perms, src.perms, (size_t)mo.p * mo.n * sizeof *mo.perms);
    memcpy(mo.x, src.x, (size_t)mo.m * mo.d * sizeof *mo.x);
    uint64_t st = 7;
    for (size_t k = 0; k < (size_t)mo.m * mo.d; k++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        mo.w[k] = ((double)(st >> 11) * 0x1p-53 - 0.5) * 4.0;
    }
    mo.sigma = 0.3;  /* so that u is of order one at these distances */
    mo.c = -1234.5;
    mo.y_std = 3.7;
    mlshift_frames *fr = read_md17("rmd17/rmd17_naphthalene_test_01.npz", 1);
    if (fr) {
        mlshift_frame f;
        mlshift_frames_get(fr, 5, &f);
        test_fd(&mo, f.positions, "synthetic naphthalene", 1e-5, 1e-8, 1e-10);
        mlshift_frames_destroy(fr);
    }
    ms_sgdml_model_free(&mo);
    ms_sgdml_model_free(&src);
}

/* The 2018 models: published MAEs against the MD17 labels of test_01. */
static void test_2018(void)
{
    static const struct {
        const char *mol;
        double fmae, tol;
        size_t frames;
    } cases[] = {
        {"naphthalene", 0.11, 0.01, 1000},
        {"toluene", -1, 0.01, 1000},   /* see below */
        {"uracil", -1, 0.01, 1000},
        {"aspirin", 0.70, 0.01, 1000},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char model[256], test[256], spec[4200];
        snprintf(model, sizeof model, "sgdml_models/sgdml_2018_%s.npz",
                 cases[c].mol);
        snprintf(test, sizeof test, "rmd17/rmd17_%s_test_01.npz", cases[c].mol);
        snprintf(spec, sizeof spec, "sgdml:%s", check_data_path(model));
        mlshift_prior *p;
        mlshift_error err;
        if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
            CHECK(0, "%s: %s", spec, err.message);
            continue;
        }
        mlshift_frames *fr = read_md17(test, 1);
        if (!fr) {
            mlshift_prior_destroy(p);
            continue;
        }
        double emae, fmae = force_mae(p, fr, cases[c].frames, &emae);
        double want = cases[c].fmae;
        if (want < 0) {
            /* The issue quotes 0.12 (toluene) and 0.21 (uracil); two
             * independent predictors (this one and numpy, test_sgdml_numpy.py)
             * give 0.139 and 0.237, and so does sGDML itself: the models
             * store their own test MAE as f_mae (0.142, 0.241). Compare
             * with that. */
            ms_npz z;
            ms_npy a;
            want = NAN;
            if (ms_npz_open(&z, check_data_path(model), &err) == MLSHIFT_OK) {
                if (ms_npz_get(&z, "f_mae", &a, &err) == MLSHIFT_OK) {
                    ms_npy_to_double(&a, &want, &err);
                    ms_npy_free(&a);
                }
                ms_npz_close(&z);
            }
        }
        printf("sgdml 2018 %s: force MAE %.4f kcal/mol/A, energy MAE %.4f "
               "kcal/mol over %zu frames\n", cases[c].mol, fmae, emae,
               cases[c].frames);
        CHECK(fabs(fmae - want) <= cases[c].tol, "%s: force MAE %.4f, "
              "published %.3f", cases[c].mol, fmae, want);
        if (c == 0) {
            /* F = −∇E for a real model, at the first test frame */
            ms_sgdml_model mo;
            if (ms_sgdml_load(&mo, check_data_path(model), &err) == MLSHIFT_OK) {
                mlshift_frame fm;
                mlshift_frames_get(fr, 0, &fm);
                test_fd(&mo, fm.positions, "2018 naphthalene", 1e-4, 1e-3,
                        1e-6);
                ms_sgdml_model_free(&mo);
            }
        }
        mlshift_frames_destroy(fr);
        mlshift_prior_destroy(p);
    }
}


/* The graph automorphisms equal the permutations sGDML found for its 2018
 * models (as sets), from the first test geometry. */
static void test_perms(void)
{
    static const char *mols[] = {"naphthalene", "toluene", "uracil", "aspirin"};
    for (size_t c = 0; c < 4; c++) {
        char model[256], test[256];
        snprintf(model, sizeof model, "sgdml_models/sgdml_2018_%s.npz", mols[c]);
        snprintf(test, sizeof test, "rmd17/rmd17_%s_test_01.npz", mols[c]);
        ms_sgdml_model mo;
        mlshift_error err;
        if (ms_sgdml_load(&mo, check_data_path(model), &err) != MLSHIFT_OK) {
            CHECK(0, "%s", err.message);
            continue;
        }
        mlshift_frames *fr = read_md17(test, 1);
        if (!fr) {
            ms_sgdml_model_free(&mo);
            continue;
        }
        mlshift_frame f;
        mlshift_frames_get(fr, 0, &f);
        int *perms = malloc(64 * (size_t)mo.n * sizeof *perms), np = 0;
        mlshift_status s = ms_sgdml_graph_perms(mo.n, f.numbers, f.positions,
                                                perms, 64, &np, &err);
        CHECK(s == MLSHIFT_OK, "%s: %s", mols[c], err.message);
        CHECK(np == mo.p, "%s: %d graph automorphisms, sGDML found %d",
              mols[c], np, mo.p);
        int id = 1;
        for (int i = 0; i < mo.n; i++)
            id &= perms[i] == i;
        CHECK(id, "%s: the identity comes first", mols[c]);
        int all = 1;
        for (int p = 0; p < mo.p; p++) {
            int found = 0;
            for (int q = 0; q < np && !found; q++)
                found = !memcmp(mo.perms + (size_t)p * mo.n,
                                perms + (size_t)q * mo.n, (size_t)mo.n * sizeof *perms);
            all &= found;
        }
        CHECK(all, "%s: every sGDML permutation is a graph automorphism", mols[c]);
        free(perms);
        mlshift_frames_destroy(fr);
        ms_sgdml_model_free(&mo);
    }
}

/* Stratified sampling: distinct, sorted, exclusions respected, the seed
 * reproduces, and every Freedman–Diaconis bin with frames is sampled
 * (counts against a brute-force recount here). */
static void test_sample(void)
{
    size_t n = 997;
    double *e = malloc(n * sizeof *e);
    unsigned char *ex = calloc(n, 1);
    uint64_t st = 42;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((st >> 11) + 0.5) * 0x1p-53;
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = ((st >> 11) + 0.5) * 0x1p-53;
        e[i] = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        ex[i] = i % 7 == 0;
    }
    size_t a[100], b[100], c[100];
    uint64_t r1 = 5, r2 = 5, r3 = 6;
    mlshift_error err;
    CHECK(ms_sgdml_sample(e, n, ex, 100, &r1, a, &err) == MLSHIFT_OK, "sample");
    ms_sgdml_sample(e, n, ex, 100, &r2, b, &err);
    ms_sgdml_sample(e, n, ex, 100, &r3, c, &err);
    CHECK(!memcmp(a, b, sizeof a), "same seed, same sample");
    CHECK(memcmp(a, c, sizeof a), "another seed, another sample");
    int ok = 1;
    for (size_t i = 0; i < 100; i++) {
        ok &= a[i] < n && !ex[a[i]];
        if (i)
            ok &= a[i] > a[i - 1];
    }
    CHECK(ok, "distinct, sorted, not excluded");
    /* proportional allocation: the low and high tails are represented like
     * the bulk — compare the sample's mean and spread with the pool's */
    double ms = 0, vs = 0, mp = 0, vp = 0;
    size_t np = 0;
    for (size_t i = 0; i < 100; i++)
        ms += e[a[i]] / 100;
    for (size_t i = 0; i < 100; i++)
        vs += (e[a[i]] - ms) * (e[a[i]] - ms) / 100;
    for (size_t i = 0; i < n; i++)
        if (!ex[i]) {
            mp += e[i];
            np++;
        }
    mp /= (double)np;
    for (size_t i = 0; i < n; i++)
        if (!ex[i])
            vp += (e[i] - mp) * (e[i] - mp) / (double)np;
    CHECK(fabs(ms - mp) < 0.1 && fabs(sqrt(vs) / sqrt(vp) - 1) < 0.1,
          "stratified sample mean %.3f sd %.3f vs pool %.3f %.3f", ms,
          sqrt(vs), mp, sqrt(vp));
    CHECK(ms_sgdml_sample(e, n, ex, n, &r1, a, &err) == MLSHIFT_ERR_VALUE,
          "more points than frames refused");
    free(e);
    free(ex);
}

/* The training solve against brute force: K_F built densely here (J_b as
 * (D, 3N) matrices, K_F(a, b) = Σ_p J_aᵀ M(d) P_p J_b with
 * M = c0 e^{−u}[(1+u)I − g d dᵀ]), the full 3N·M system solved by dposv
 * (λ = 1e-4, so the null-space part y_null/λ does not swamp the rounding),
 * w_b = J_b α_b compared with the trained model's (which solves the
 * rigid-motion-free projection). */
static void test_train_dense(void)
{
    mlshift_frames *tr = read_md17("rmd17/rmd17_naphthalene_train_01.npz", 1);
    if (!tr)
        return;
    enum { M = 3, N = 18, D = N * (N - 1) / 2, N3 = 3 * N, DIM = M * N3 };
    double sig = 20.0;
    ms_sgdml_train_opts o = {0};
    o.samples = M;
    o.sigmas = &sig;
    o.nsig = 1;
    o.seed = 7;
    o.lambda = 1e-4;
    ms_sgdml_model mo;
    ms_sgdml_train_report rep;
    mlshift_error err;
    mlshift_status s = ms_sgdml_train(tr, &o, &mo, &rep, &err);
    CHECK(s == MLSHIFT_OK, "train M=3: %s", err.message);
    if (s != MLSHIFT_OK) {
        mlshift_frames_destroy(tr);
        return;
    }
    /* the same training frames: the sampler with the same seed */
    size_t nf = mlshift_frames_count(tr), idx[M];
    double *e = malloc(nf * sizeof *e);
    for (size_t i = 0; i < nf; i++) {
        mlshift_frame f;
        mlshift_frames_get(tr, i, &f);
        e[i] = f.energy * KCAL;
    }
    uint64_t rng = 7;
    ms_sgdml_sample(e, nf, NULL, M, &rng, idx, &err);
    static double x[M][D], jac[M][D][N3], y[DIM], k[DIM * DIM], w[M * D];
    int pidx[N][N], pi[MS_SGDML_MAX_PERMS][D];
    for (int i = 1, q = 0; i < N; i++)
        for (int j = 0; j < i; j++, q++)
            pidx[i][j] = pidx[j][i] = q;
    for (int p = 0; p < mo.p; p++)
        for (int i = 1, q = 0; i < N; i++)
            for (int j = 0; j < i; j++, q++)
                pi[p][q] = pidx[mo.perms[p * N + i]][mo.perms[p * N + j]];
    double ysum = 0, ysq = 0;
    memset(jac, 0, sizeof jac);
    for (int b = 0; b < M; b++) {
        mlshift_frame f;
        mlshift_frames_get(tr, idx[b], &f);
        const double *r = f.positions;
        for (int i = 1, q = 0; i < N; i++)
            for (int j = 0; j < i; j++, q++) {
                double v[3], r2 = 0;
                for (int c = 0; c < 3; c++) {
                    v[c] = r[3 * i + c] - r[3 * j + c];
                    r2 += v[c] * v[c];
                }
                x[b][q] = 1.0 / sqrt(r2);
                for (int c = 0; c < 3; c++) {
                    jac[b][q][3 * i + c] = -v[c] / (r2 * sqrt(r2));
                    jac[b][q][3 * j + c] = v[c] / (r2 * sqrt(r2));
                }
            }
        for (int c = 0; c < N3; c++) {
            y[b * N3 + c] = KCAL * f.forces[c];
            ysum += y[b * N3 + c];
        }
    }
    check_array_close("dense test: training descriptors", mo.x, &x[0][0],
                      (size_t)M * D, 0, 1e-15);
    for (int c = 0; c < DIM; c++)
        ysq += (y[c] - ysum / DIM) * (y[c] - ysum / DIM);
    double ystd = sqrt(ysq / DIM);
    for (int c = 0; c < DIM; c++)
        y[c] /= ystd;
    double c0 = 5.0 / (3.0 * sig * sig), g = 5.0 / (sig * sig);
    memset(k, 0, sizeof k);
    for (int a = 0; a < M; a++)
        for (int b = 0; b < M; b++)
            for (int p = 0; p < mo.p; p++) {
                double d[D], dd = 0, ja[N3] = {0}, jb[N3] = {0};
                for (int q = 0; q < D; q++) {
                    d[q] = x[a][q] - x[b][pi[p][q]];
                    dd += d[q] * d[q];
                }
                double u = sqrt(5.0 * dd) / sig, ex = exp(-u);
                for (int q = 0; q < D; q++)
                    for (int c = 0; c < N3; c++) {
                        ja[c] += d[q] * jac[a][q][c];
                        jb[c] += d[q] * jac[b][pi[p][q]][c];
                    }
                for (int r1 = 0; r1 < N3; r1++)
                    for (int r2 = 0; r2 < N3; r2++) {
                        double jj = 0;
                        for (int q = 0; q < D; q++)
                            jj += jac[a][q][r1] * jac[b][pi[p][q]][r2];
                        k[(size_t)(a * N3 + r1) * DIM + b * N3 + r2] +=
                            c0 * ex * ((1.0 + u) * jj - g * ja[r1] * jb[r2]);
                    }
            }
    for (int c = 0; c < DIM; c++)
        k[(size_t)c * DIM + c] += o.lambda;
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', DIM, 1, k, DIM, y, 1);
    CHECK(info == 0, "dense test: dposv info %d", (int)info);
    for (int b = 0; b < M; b++)
        for (int q = 0; q < D; q++) {
            double t = 0;
            for (int c = 0; c < N3; c++)
                t += jac[b][q][c] * y[b * N3 + c];
            w[b * D + q] = t;
        }
    CHECK_CLOSE(mo.y_std, ystd, 0, 1e-13, "dense test: y_std");
    check_array_close("projected solve = dense 3N·M solve (w = J α)", mo.w, w,
                      (size_t)M * D, 1e-9 * fabs(w[0]), 1e-7);
    ms_sgdml_model_free(&mo);
    free(e);
    mlshift_frames_destroy(tr);
}

/* The σ search (grid on M/2 points, walk on all M) against every σ trained
 * on all M: the same σ, and the same validation error wherever both
 * trained on all M. */
static void test_sigma_search(void)
{
    mlshift_frames *tr = read_md17("rmd17/rmd17_naphthalene_train_01.npz", 1);
    if (!tr)
        return;
    double grid[9];
    for (int i = 0; i < 9; i++)
        grid[i] = 10.0 * (i + 1);
    ms_sgdml_train_opts o = {0};
    o.samples = 24;
    o.val = 300;
    o.sigmas = grid;
    o.nsig = 9;
    o.seed = 3;
    ms_sgdml_model ms_, mf;
    ms_sgdml_train_report rs, rf;
    mlshift_error err;
    o.full_grid = 1;
    mlshift_status s1 = ms_sgdml_train(tr, &o, &mf, &rf, &err);
    CHECK(s1 == MLSHIFT_OK, "full grid: %s", err.message);
    o.full_grid = 0;
    mlshift_status s2 = ms_sgdml_train(tr, &o, &ms_, &rs, &err);
    CHECK(s2 == MLSHIFT_OK, "search: %s", err.message);
    if (s1 == MLSHIFT_OK && s2 == MLSHIFT_OK) {
        size_t kbest = 0;
        for (size_t k = 0; k < 9; k++)
            if (rf.val_rmse[k] < rf.val_rmse[kbest])
                kbest = k;
        CHECK(rf.full_solves == 9 && rf.sub_samples == 0, "full grid: %d "
              "solves, subset %zu", rf.full_solves, rf.sub_samples);
        CHECK(rs.sub_samples == 12 && rs.full_solves >= 2 &&
              rs.full_solves < 9, "search: subset %zu, %d full solves",
              rs.sub_samples, rs.full_solves);
        CHECK(rs.sigma == grid[kbest] && rf.sigma == grid[kbest],
              "search chose sigma %g, full grid %g, argmin %g", rs.sigma,
              rf.sigma, grid[kbest]);
        int same = 1, n = 0;
        for (size_t k = 0; k < 9; k++)
            if (!isnan(rs.val_rmse[k])) {
                n++;
                same &= fabs(rs.val_rmse[k] - rf.val_rmse[k]) <=
                        1e-12 * rf.val_rmse[k];
            }
        CHECK(same && n == rs.full_solves, "search: validation errors of "
              "its %d full solves = the full grid's", n);
        CHECK(!memcmp(ms_.w, mf.w, (size_t)mf.m * mf.d * sizeof *mf.w) &&
              ms_.c == mf.c, "search: the same model as the full grid");
        ms_sgdml_model_free(&ms_);
        ms_sgdml_model_free(&mf);
    }
    mlshift_frames_destroy(tr);
}

/* Train on MD17 naphthalene (Table 2), F = −∇E for our model, the file
 * round trip and its failure modes, the memory refusal. */
static void test_train(const char *tmpdir)
{
    mlshift_frames *tr = read_md17("rmd17/rmd17_naphthalene_train_01.npz", 1);
    mlshift_frames *te = read_md17("rmd17/rmd17_naphthalene_test_01.npz", 1);
    if (!tr || !te) {
        mlshift_frames_destroy(tr);
        mlshift_frames_destroy(te);
        return;
    }
    double grid[9];
    for (int i = 0; i < 9; i++)
        grid[i] = 10.0 * (i + 1);
    ms_sgdml_train_opts o = {0};
    o.samples = 50;
    o.val = 500;
    o.sigmas = grid;
    o.nsig = 9;
    o.seed = 1;
    ms_sgdml_model mo;
    ms_sgdml_train_report rep;
    mlshift_error err;
    /* memory refusal: (3·18·50)²·8 = 58320000 bytes named in the message */
    o.max_memory = 1e6;
    mlshift_status s = ms_sgdml_train(tr, &o, &mo, &rep, &err);
    CHECK(s == MLSHIFT_ERR_NOMEM && strstr(err.message, "58320000"),
          "memory refusal names the kernel size: %s", err.message);
    o.max_memory = 0;
    s = ms_sgdml_train(tr, &o, &mo, &rep, &err);
    CHECK(s == MLSHIFT_OK, "train: %s", err.message);
    if (s != MLSHIFT_OK)
        goto out;
    CHECK(rep.nperms == 4, "naphthalene: %d permutations, want 4", rep.nperms);
    char path[4200];
    snprintf(path, sizeof path, "%s/naph50.sgdml", tmpdir);
    CHECK(ms_sgdml_save(&mo, path, &err) == MLSHIFT_OK, "save: %s", err.message);
    char spec[4300];
    snprintf(spec, sizeof spec, "sgdml:%s", path);
    mlshift_prior *p;
    if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
        CHECK(0, "%s", err.message);
    } else {
        double emae, fmae = force_mae(p, te, 1000, &emae) / KCAL * 1000.0;
        printf("sgdml trained naphthalene M=50 (MD17 labels, sigma %g, %.2f s):"
               " test force MAE %.2f meV/A, energy MAE %.3f kcal/mol\n",
               rep.sigma, rep.train_seconds, fmae, emae);
        CHECK(fmae <= 45.0, "naphthalene M=50: force MAE %.2f meV/A > 45", fmae);
        /* virial = Σ r ⊗ F, checked against the forces */
        mlshift_frame f;
        mlshift_frames_get(te, 3, &f);
        double e, fo[54], w[9], want[9] = {0};
        mlshift_prior_compute(p, &f, &e, fo, w, &err);
        for (int i = 0; i < 18; i++)
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    want[3 * a + b] += f.positions[3 * i + a] * fo[3 * i + b];
        check_array_close("virial = sum r (x) F", w, want, 9, 1e-12, 1e-12);
        /* coincident atoms: refused naming both, as by every prior (issue
         * 12; tests/prior_check.h for LJ and EMT) */
        double pc[54];
        memcpy(pc, f.positions, sizeof pc);
        memcpy(pc + 3 * 7, pc + 3 * 1, 3 * sizeof *pc); /* atom 7 onto atom 1 */
        mlshift_frame co = f;
        co.positions = pc;
        mlshift_status sc = mlshift_prior_compute(p, &co, &e, fo, NULL, &err);
        CHECK(sc == MLSHIFT_ERR_VALUE && strstr(err.message, "atoms 1 and 7 coincide"),
              "sgdml: coincident atoms refused naming both: status %d, '%s'", (int)sc,
              sc == MLSHIFT_OK ? "" : err.message);
        mlshift_prior_destroy(p);
    }
    /* round trip: identical arrays */
    ms_sgdml_model back;
    s = ms_sgdml_load(&back, path, &err);
    CHECK(s == MLSHIFT_OK, "load: %s", err.message);
    if (s == MLSHIFT_OK) {
        size_t md = (size_t)mo.m * mo.d;
        CHECK(back.n == mo.n && back.m == mo.m && back.p == mo.p &&
              back.sigma == mo.sigma && back.c == mo.c && back.y_std == mo.y_std &&
              !memcmp(back.z, mo.z, (size_t)mo.n * sizeof *mo.z) &&
              !memcmp(back.perms, mo.perms, (size_t)mo.p * mo.n * sizeof *mo.perms) &&
              !memcmp(back.x, mo.x, md * sizeof *mo.x) &&
              !memcmp(back.w, mo.w, md * sizeof *mo.w), "round trip is exact");
        ms_sgdml_model_free(&back);
    }
    /* F = −∇E and BLAS = plain on our model, strict tolerances */
    mlshift_frame f;
    mlshift_frames_get(te, 0, &f);
    test_fd(&mo, f.positions, "trained naphthalene", 1e-4, 1e-3, 1e-8);
    /* another version, a flipped byte, a truncated file */
    char *buf;
    size_t len;
    FILE *fp = fopen(path, "rb");
    buf = malloc(1 << 22);
    len = fp ? fread(buf, 1, 1 << 22, fp) : 0;
    if (fp)
        fclose(fp);
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/bad.sgdml", tmpdir);
    struct { size_t off; int val; size_t len; const char *want; mlshift_status st; } cases[] = {
        {8, 2, 0, "version 2", MLSHIFT_ERR_UNSUPPORTED},
        {1000, -1, 0, "checksum", MLSHIFT_ERR_FORMAT},
        {0, 0, 777, "truncated", MLSHIFT_ERR_FORMAT},
        {0, 'X', 0, "not an sGDML model", MLSHIFT_ERR_FORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *cp = malloc(len);
        memcpy(cp, buf, len);
        if (cases[c].val == -1)
            cp[cases[c].off] ^= 0x10;
        else if (!cases[c].len)
            cp[cases[c].off] = (char)cases[c].val;
        fp = fopen(bad, "wb");
        fwrite(cp, 1, cases[c].len ? cases[c].len : len, fp);
        fclose(fp);
        ms_sgdml_model mb;
        s = ms_sgdml_load(&mb, bad, &err);
        CHECK(s == cases[c].st && strstr(err.message, cases[c].want),
              "bad file case %zu: status %d, message %s", c, (int)s,
              s ? err.message : "(none)");
        if (s == MLSHIFT_OK)
            ms_sgdml_model_free(&mb);
        free(cp);
    }
    free(buf);
    CHECK(mlshift_prior_create("sgdml:/nonexistent/model", &p, &err) != MLSHIFT_OK,
          "missing model refused");
    /* wrong molecule: the naphthalene model on a toluene frame */
    mlshift_frames *tol = read_md17("rmd17/rmd17_toluene_test_01.npz", 1);
    if (tol && mlshift_prior_create(spec, &p, &err) == MLSHIFT_OK) {
        mlshift_frame ft;
        mlshift_frames_get(tol, 0, &ft);
        double e, fo[45];
        s = mlshift_prior_compute(p, &ft, &e, fo, NULL, &err);
        CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "atoms"),
              "other molecule refused: %s", err.message);
        mlshift_prior_destroy(p);
    }
    mlshift_frames_destroy(tol);
    ms_sgdml_model_free(&mo);
out:
    mlshift_frames_destroy(tr);
    mlshift_frames_destroy(te);
}

static int predict_driver(const char *model, const char *pos, const char *out)
{
    ms_sgdml_model mo;
    ms_sgdml_pred pr;
    mlshift_error err;
    if (ms_sgdml_load(&mo, model, &err) != MLSHIFT_OK ||
        ms_sgdml_pred_init(&pr, &mo, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    FILE *in = fopen(pos, "r"), *o = fopen(out, "w");
    if (!in || !o) {
        fprintf(stderr, "cannot open %s or %s\n", pos, out);
        return 1;
    }
    int n = mo.n;
    double *r = malloc(3 * (size_t)n * sizeof *r), *f = malloc(3 * (size_t)n * sizeof *f);
    for (;;) {
        int ok = 1;
        for (int k = 0; k < 3 * n && ok; k++)
            ok = fscanf(in, "%lf", &r[k]) == 1;
        if (!ok)
            break;
        double e;
        if (ms_sgdml_predict(&pr, r, &e, f))
            return 1;
        fprintf(o, "%.17g\n", e);
        for (int i = 0; i < n; i++)
            fprintf(o, "%.17g %.17g %.17g\n", f[3 * i], f[3 * i + 1], f[3 * i + 2]);
    }
    fclose(in);
    fclose(o);
    free(r);
    free(f);
    ms_sgdml_pred_free(&pr);
    ms_sgdml_model_free(&mo);
    return 0;
}


static int train_driver(const char *data, const char *msamp, const char *seed,
                        const char *out)
{
    mlshift_frames *fr = read_md17(data, 1);
    if (!fr)
        return 1;
    double grid[9];
    for (int i = 0; i < 9; i++)
        grid[i] = 10.0 * (i + 1);
    ms_sgdml_train_opts o = {0};
    o.samples = (size_t)atol(msamp);
    o.val = 500;
    o.sigmas = grid;
    o.nsig = 9;
    o.seed = (uint64_t)atol(seed);
    ms_sgdml_model mo;
    ms_sgdml_train_report rep;
    mlshift_error err;
    if (ms_sgdml_train(fr, &o, &mo, &rep, &err) != MLSHIFT_OK ||
        ms_sgdml_save(&mo, out, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        mlshift_frames_destroy(fr);
        return 1;
    }
    ms_sgdml_model_free(&mo);
    mlshift_frames_destroy(fr);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--train"))
        return train_driver(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 5 && !strcmp(argv[1], "--predict"))
        return predict_driver(argv[2], argv[3], argv[4]);
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/test_sgdml_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_desc_jacobian();
    test_sample();
    test_perms();
    test_fd_synthetic();
    test_2018();
    test_train_dense();
    test_sigma_search();
    test_train(dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}

/* SPDX-License-Identifier: MIT */
/* sGDML: training naphthalene M = 100 (MD17 labels, OpenBLAS on 2 threads
 * for the Cholesky): one σ; the default σ search over the grid 10..90 (the
 * grid on M/2 points, then a walk on all M); every σ on all M as sGDML does
 * (the reference; 900 validation frames for both). Then
 * prediction throughput at M = 200 on aspirin (the first 200 training
 * points of the 2018 model, 6 permutations: Q = 1200 rows of D = 210),
 * one structure per call through BLAS and through the plain loops.
 * bench_sgdml.py times numpy on the same model in the same run. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlshift.h"
#include "prior/sgdml.h"
#include "bench.h"

static const char *data_path(const char *rel)
{
    static char buf[4096];
    const char *d = getenv("MLSHIFT_DATA");
    snprintf(buf, sizeof buf, "%s/%s", d && *d ? d : "../shared/data", rel);
    return buf;
}

int main(void)
{
    mlshift_error err;
    mlshift_read_options ro = {0};
    ro.labels_old = 1;
    mlshift_frames *tr = mlshift_frames_create();
    if (mlshift_read(tr, data_path("rmd17/rmd17_naphthalene_train_01.npz"), &ro,
                     &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    openblas_set_num_threads(2);
    double grid[9];
    for (int i = 0; i < 9; i++)
        grid[i] = 10.0 * (i + 1);
    /* 0: one σ, no validation; 1: the default σ search (grid on M/2, walk
     * on M); 2: every σ on all M (sGDML's way, the reference) */
    static const char *mode[3] = {"one_sigma", "search", "full_grid"};
    for (int g = 0; g < 3; g++) {
        ms_sgdml_train_opts o = {0};
        o.samples = 100;
        o.val = g ? 900 : 0;
        o.sigmas = grid;
        o.nsig = g ? 9 : 1;
        o.seed = 1;
        o.full_grid = g == 2;
        ms_sgdml_model mo;
        ms_sgdml_train_report rep;
        double best = 1e300;
        for (int rep_i = 0; rep_i < (g == 2 ? 1 : 3); rep_i++) {
            double t0 = bench_now();
            if (ms_sgdml_train(tr, &o, &mo, &rep, &err) != MLSHIFT_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            double t = bench_now() - t0;
            best = t < best ? t : best;
            ms_sgdml_model_free(&mo);
        }
        int k = (int)(rep.sigma / 10.0 + 0.5) - 1;
        printf("{\"bench\":\"sgdml_train\",\"mode\":\"%s\",\"molecule\":\"naphthalene\","
               "\"samples\":100,\"sigmas\":%zu,\"val\":%zu,\"blas_threads\":2,"
               "\"sub_samples\":%zu,\"full_solves\":%d,\"sigma\":%g,"
               "\"val_rmse\":%.4f,\"seconds\":%.3f}\n", mode[g], o.nsig, o.val,
               rep.sub_samples, rep.full_solves, rep.sigma,
               g ? rep.val_rmse[k] : 0.0, best);
        if (g == 1) {
            printf("{\"bench\":\"sgdml_train_curve\",\"sub_rmse\":[");
            for (int i = 0; i < 9; i++)
                printf("%s%.4f", i ? "," : "", rep.val_rmse_sub[i]);
            printf("]}\n");
        }
    }
    mlshift_frames_destroy(tr);
    openblas_set_num_threads(1);

    /* prediction, M = 200 aspirin */
    ms_sgdml_model full, mo;
    if (ms_sgdml_load(&full, data_path("sgdml_models/sgdml_2018_aspirin.npz"),
                      &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    mo = full;
    mo.m = 200;   /* a view of the first 200 points */
    mlshift_frames *te = mlshift_frames_create();
    if (mlshift_read(te, data_path("rmd17/rmd17_aspirin_test_01.npz"), &ro,
                     &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    ms_sgdml_pred pr;
    if (ms_sgdml_pred_init(&pr, &mo, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    size_t nq = 500;
    double f[63], e, sink = 0;
    for (int path = 0; path < 2; path++) {
        double best = 1e300;
        for (int r = 0; r < 5; r++) {
            double t0 = bench_now();
            for (size_t i = 0; i < nq; i++) {
                mlshift_frame fm;
                mlshift_frames_get(te, i, &fm);
                if (path == 0)
                    ms_sgdml_predict(&pr, fm.positions, &e, f);
                else
                    ms_sgdml_predict_ref(&pr, fm.positions, &e, f);
                sink += e + f[0];
            }
            double t = bench_now() - t0;
            best = t < best ? t : best;
        }
        printf("{\"bench\":\"sgdml_predict\",\"impl\":\"%s\",\"molecule\":\"aspirin\","
               "\"samples\":200,\"perms\":%d,\"structures\":%zu,\"seconds\":%.4f,"
               "\"structures_per_s\":%.1f}\n", path ? "c_plain" : "c_blas",
               mo.p, nq, best, (double)nq / best);
    }
    if (sink == 12345.678)
        printf("%g\n", sink);
    ms_sgdml_pred_free(&pr);
    ms_sgdml_model_free(&full);
    mlshift_frames_destroy(te);
    return 0;
}

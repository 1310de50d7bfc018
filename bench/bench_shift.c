/* SPDX-License-Identifier: MIT */
/* Shift diagnostics speed on rMD17 (MLSHIFT_DATA): radius refinement with
 * the paper's 10 radii per structure (aspirin 21 atoms, naphthalene 18),
 * and training statistics over the deduplicated train frames of the five
 * molecules. bench/bench_shift.py runs the same refinement loop in numpy
 * in the same `make bench`. One JSON line per measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlshift.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *data_dir(void)
{
    const char *d = getenv("MLSHIFT_DATA");
    return d && *d ? d : "../shared/data";
}

static const char *mols[5] = {"aspirin", "benzene", "uracil", "naphthalene",
                              "toluene"};

int main(void)
{
    mlshift_error err;
    mlshift_read_options opt = {0};
    opt.labels_old = 1;
    char path[4096];

    /* Statistics over every distinct frame of the five molecules (train and
     * test files, deduplicated per molecule on old_index): ~48k frames. */
    mlshift_frames *train = mlshift_frames_create();
    size_t *idx = malloc(10000 * sizeof *idx), m = 0;
    for (int q = 0; q < 5; q++) {
        mlshift_frames *blk = mlshift_frames_create();
        for (int k = 1; k <= 10; k++) {
            snprintf(path, sizeof path, "%s/rmd17/rmd17_%s_%s_%02d.npz", data_dir(),
                     mols[q], k <= 5 ? "train" : "test", (k - 1) % 5 + 1);
            if (mlshift_read(blk, path, &opt, &err)) {
                fprintf(stderr, "bench_shift: %s\n", err.message);
                return 2;
            }
        }
        mlshift_dedup(blk, "old_index", idx, &m, &err);
        mlshift_frames_select(train, blk, idx, m, &err);
        mlshift_frames_destroy(blk);
    }
    mlshift_train_stats st;
    double t0 = now();
    if (mlshift_stats_compute(train, 5.0, NULL, NULL, &st, &err)) {
        fprintf(stderr, "bench_shift: %s\n", err.message);
        return 2;
    }
    double t_stats = now() - t0;
    printf("{\"bench\": \"stats\", \"impl\": \"mlshift\", \"structures\": %zu, "
           "\"cutoff\": 5.0, \"seconds\": %.4f, \"target_seconds\": 5}\n",
           mlshift_frames_count(train), t_stats);
    fflush(stdout);

    /* Radius refinement, 10 radii, per structure. */
    double radii[10];
    for (int k = 0; k < 10; k++)
        radii[k] = 3.0 + 6.0 * k / 9.0;
    mlshift_shift_ws *ws = mlshift_shift_ws_create();
    const char *rr[2] = {"aspirin", "naphthalene"};
    const double target_us[2] = {150, 100};
    for (int q = 0; q < 2; q++) {
        mlshift_frames *test = mlshift_frames_create();
        snprintf(path, sizeof path, "%s/rmd17/rmd17_%s_test_01.npz", data_dir(), rr[q]);
        if (mlshift_read(test, path, &opt, &err)) {
            fprintf(stderr, "bench_shift: %s\n", err.message);
            return 2;
        }
        size_t nt = 500;
        double best = INFINITY, checksum = 0;
        for (int rep = 0; rep < 5; rep++) {
            t0 = now();
            for (size_t s = 0; s < nt; s++) {
                mlshift_frame f;
                mlshift_refinement out;
                mlshift_frames_get(test, s, &f);
                mlshift_refine_radius(&st, &f, radii, 10, ws, &out, NULL, &err);
                checksum += out.radius;
            }
            double t = (now() - t0) / (double)nt;
            best = t < best ? t : best;
        }
        printf("{\"bench\": \"refine_radius\", \"impl\": \"mlshift\", \"molecule\": "
               "\"%s\", \"radii\": 10, \"structures\": %zu, \"us_per_structure\": "
               "%.2f, \"target_us\": %.0f, \"mean_radius\": %.4f}\n", rr[q], nt,
               1e6 * best, target_us[q], checksum / (5.0 * (double)nt));
        fflush(stdout);
        mlshift_frames_destroy(test);
    }
    mlshift_shift_ws_destroy(ws);
    mlshift_stats_free(&st);
    mlshift_frames_destroy(train);
    free(idx);
    return 0;
}

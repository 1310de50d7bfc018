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
#include "bench.h"

static const char *data_dir(void)
{
    const char *d = getenv("MLSHIFT_DATA");
    return d && *d ? d : "../shared/data";
}

static const char *mols[5] = {"aspirin", "benzene", "uracil", "naphthalene",
                              "toluene"};

/* --neighbours: training graphs within eps counted through the norm index
 * over ~96k training graphs (the 48k distinct frames twice), for toluene
 * test frames, against all pairs on a subset of the queries. */
static void bench_neighbours(const mlshift_frames *train, mlshift_shift_ws *ws,
                             const mlshift_read_options *opt)
{
    mlshift_error err;
    char path[4096];
    size_t nt = mlshift_frames_count(train);
    size_t *twice = malloc(2 * nt * sizeof *twice);
    for (size_t i = 0; i < 2 * nt; i++)
        twice[i] = i % nt;
    mlshift_frames *big = mlshift_frames_create(), *q = mlshift_frames_create();
    mlshift_frames_select(big, train, twice, 2 * nt, &err);
    snprintf(path, sizeof path, "%s/rmd17/rmd17_toluene_test_01.npz", data_dir());
    mlshift_read(q, path, opt, &err);
    mlshift_spectral_index *ix;
    double t0 = bench_now();
    mlshift_spectral_index_build(big, 5.0, &ix, &err);
    double t_build = bench_now() - t0;
    /* Every training spectrum, for the all-pairs reference. */
    double *all = malloc(mlshift_frames_total_atoms(big) * sizeof *all), eig[64];
    size_t off = 0;
    for (size_t k = 0; k < 2 * nt; k++) {
        mlshift_frame f;
        mlshift_frames_get(big, k, &f);
        mlshift_frame_spectrum(&f, 5.0, ws, all + off, &err);
        off += f.natoms;
    }
    const double eps_list[2] = {0.1, 1.0}; /* a tight and a loose threshold */
    for (int e = 0; e < 2; e++) {
        double eps = eps_list[e];
        size_t nq = 200, nb = 20, total = 0, brute = 0, check = 0;
        t0 = bench_now();
        for (size_t s = 0; s < nq; s++) {
            mlshift_frame f;
            mlshift_frames_get(q, s, &f);
            mlshift_frame_spectrum(&f, 5.0, ws, eig, &err);
            total += mlshift_spectral_index_count(ix, eig, f.natoms, eps);
        }
        double t_index = (bench_now() - t0) / (double)nq;
        t0 = bench_now();
        for (size_t s = 0; s < nb; s++) {
            mlshift_frame f;
            mlshift_frames_get(q, s, &f);
            mlshift_frame_spectrum(&f, 5.0, ws, eig, &err);
            off = 0;
            for (size_t k = 0; k < 2 * nt; k++) {
                mlshift_frame g;
                mlshift_frames_get(big, k, &g);
                brute += mlshift_spectral_distance(eig, f.natoms, all + off,
                                                   g.natoms) <= eps;
                off += g.natoms;
            }
            check += mlshift_spectral_index_count(ix, eig, f.natoms, eps);
        }
        double t_brute = (bench_now() - t0) / (double)nb;
        printf("{\"bench\": \"spectral_neighbours\", \"impl\": \"mlshift\", "
               "\"training_graphs\": %zu, \"eps\": %g, \"index_build_seconds\": "
               "%.3f, \"us_per_query\": %.1f, \"all_pairs_us_per_query\": %.1f, "
               "\"speedup\": %.1f, \"mean_count\": %.1f, \"same_counts\": %s}\n",
               2 * nt, eps, t_build, 1e6 * t_index, 1e6 * t_brute,
               t_brute / t_index, (double)total / (double)nq,
               brute == check ? "true" : "false");
        fflush(stdout);
    }
    free(all);
    free(twice);
    mlshift_spectral_index_destroy(ix);
    mlshift_frames_destroy(q);
    mlshift_frames_destroy(big);
}

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
    mlshift_train_stats *st;
    double t0 = bench_now();
    if (mlshift_stats_compute(train, 5.0, NULL, NULL, &st, &err)) {
        fprintf(stderr, "bench_shift: %s\n", err.message);
        return 2;
    }
    double t_stats = bench_now() - t0;
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
            t0 = bench_now();
            for (size_t s = 0; s < nt; s++) {
                mlshift_frame f;
                mlshift_refinement out;
                mlshift_frames_get(test, s, &f);
                mlshift_refine_radius(st, &f, radii, 10, ws, &out, NULL, &err);
                checksum += out.radius;
            }
            double t = (bench_now() - t0) / (double)nt;
            best = t < best ? t : best;
        }
        printf("{\"bench\": \"refine_radius\", \"impl\": \"mlshift\", \"molecule\": "
               "\"%s\", \"radii\": 10, \"structures\": %zu, \"us_per_structure\": "
               "%.2f, \"target_us\": %.0f, \"mean_radius\": %.4f}\n", rr[q], nt,
               1e6 * best, target_us[q], checksum / (5.0 * (double)nt));
        fflush(stdout);
        mlshift_frames_destroy(test);
    }
    bench_neighbours(train, ws, &opt);
    mlshift_shift_ws_destroy(ws);
    mlshift_stats_destroy(st);
    mlshift_frames_destroy(train);
    free(idx);
    return 0;
}

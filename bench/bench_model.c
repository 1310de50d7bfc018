/* SPDX-License-Identifier: MIT */
/* Timings of the models on real molecules (rMD17, first frames):
 * energy + forces of one structure (aspirin 21 atoms, uracil 12 atoms) and
 * a force-loss training step (forces with create_graph, then d loss / dθ)
 * at batch 32, for PaiNN 128 × 3 (K = 20, 5 Å) and SchNet of the same
 * width, one thread. bench/bench_model.py times the PyTorch twin in the same
 * `make bench`. Also this core's DGEMM rate (n = 512), and the fraction of
 * it the model reaches, counting its matmul FLOPs analytically (forward,
 * and the input gradients of the backward pass: painn_flops), and energy +
 * forces once more through a model handle (mlshift_model_compute, the path
 * md and predict take). One JSON line per measurement; median of reps
 * after warm-up. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/handle.h"
#include "model/model.h"
#include "bench.h"

static double dgemm_rate(void) /* FLOP/s of one 512³ dgemm, best of 5 */
{
    const int n = 512;
    double *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
           *c = malloc((size_t)n * n * sizeof *c), best = 1e300;
    for (int i = 0; i < n * n; i++)
        a[i] = b[i] = 1.0 / (1 + i % 7);
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double dt = bench_now() - t0;
        best = dt < best ? dt : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * n / best;
}

static double sgemm_rate(void) /* FLOP/s of one 512³ sgemm, best of 5 */
{
    const int n = 512;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
          *c = malloc((size_t)n * n * sizeof *c);
    double best = 1e300;
    for (int i = 0; i < n * n; i++)
        a[i] = b[i] = 1.0f / (float)(1 + i % 7);
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double dt = bench_now() - t0;
        best = dt < best ? dt : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * n / best;
}

/* Matmul FLOPs of PaiNN energy + forces (N atoms, P = E / 2 pairs) as
 * computed: the forward pass (filters [rbf·env, env]·[Wf; bf] with K + 1
 * rows, once per pair: both edges share them), and the backward
 * pass for dE/dr, which (parameters not requiring grad in predict) forms
 * only the input gradient gx = gy·Wᵀ of each matmul on the path from r:
 * every forward matmul once more except block 0's message MLP, whose input
 * s⁰ = embedding[Z] does not depend on r. Block 0 has two filters, not
 * three (v⁰ = 0: no W_vv, painn.c). */
static double painn_flops(const ms_model_hyper *h, double N, double P)
{
    double F = h->F, K = h->K;
    double mlp = 2 * N * F * F + 2 * N * F * 3 * F;                      /* message MLP */
    double filt = 2 * P * (K + 1) * F;                                    /* one filter */
    double blk = mlp + 3 * filt
                 + 2 * 2 * 3 * N * F * F + 2 * N * 2 * F * F + 2 * N * F * 3 * F; /* update */
    double fwd = h->T * blk - filt + 2 * N * F * F / 2 + 2 * N * F / 2;
    return 2 * fwd - mlp;
}

/* Matmul FLOPs of SchNet energy + forces as computed: per block the
 * filter network once per pair (rbf (P, K)·W1, then (P, F)·W2), s·Win and
 * the output MLP; the backward for dE/dr repeats each on the path from r,
 * all but block 0's s⁰·Win (s⁰ = embedding[Z] does not depend on r). */
static double schnet_flops(const ms_model_hyper *h, double N, double P)
{
    double F = h->F, K = h->K;
    double blk = 2 * P * K * F + 2 * P * F * F + 2 * N * F * F + 2 * 2 * N * F * F;
    double fwd = h->T * blk + 2 * N * F * F / 2 + 2 * N * F / 2;
    return 2 * fwd - 2 * N * F * F;
}

typedef struct job {
    const char *file, *name;   /* file NULL: ethanol, built below */
} job;

/* Ethanol (9 atoms; not in ../shared/data): an equilibrium geometry, Å,
 * as 32 frames jittered by ±0.05 Å (splitmix64), zero labels — the timing
 * depends on the atoms and edges only. bench_model.py builds the same. */
static mlshift_status ethanol(mlshift_frames *fr, mlshift_error *err)
{
    static const int z[9] = {6, 6, 8, 1, 1, 1, 1, 1, 1};
    static const double r0[27] = {
        0.0072, -0.5687, 0.0, -1.2854, 0.2499, 0.0, 1.1304, 0.3147, 0.0,
        -0.0392, -1.1972, 0.89, -0.0392, -1.1972, -0.89, -1.3175, 0.8784, 0.89,
        -1.3175, 0.8784, -0.89, -2.1422, -0.4239, 0.0, 1.9074, -0.2654, 0.0};
    uint64_t state = 7;
    double pos[27], forces[27] = {0};
    for (int k = 0; k < 32; k++) {
        for (int i = 0; i < 27; i++) {
            uint64_t v = (state += 0x9E3779B97F4A7C15ull);
            v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
            v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
            v ^= v >> 31;
            pos[i] = r0[i] + 0.1 * ((double)(v >> 11) * 0x1.0p-53 - 0.5);
        }
        mlshift_frame f = {0};
        f.natoms = 9;
        f.numbers = z;
        f.positions = pos;
        f.forces = forces;
        f.flags = MLSHIFT_HAS_ENERGY;
        f.energy = 0.0;
        mlshift_status s = mlshift_frames_append(fr, &f, "ethanol", err);
        if (s != MLSHIFT_OK)
            return s;
    }
    return MLSHIFT_OK;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    char path[3][4096];
    const char *dir = getenv("MLSHIFT_DATA");
    dir = dir && *dir ? dir : "../shared/data";
    const job jobs[3] = {{"rmd17/rmd17_aspirin_test_01.npz", "aspirin"},
                         {"rmd17/rmd17_uracil_test_01.npz", "uracil"},
                         {NULL, "ethanol"}};
    double peaks[2] = {dgemm_rate(), sgemm_rate()};
    printf("{\"bench\":\"dgemm\",\"n\":512,\"threads\":1,\"gflops\":%.2f}\n", peaks[0] / 1e9);
    printf("{\"bench\":\"sgemm\",\"n\":512,\"threads\":1,\"gflops\":%.2f}\n", peaks[1] / 1e9);
    const char *dtn[2] = {"float64", "float32"};
    int z[4] = {1, 6, 7, 8};
    for (int a = 0; a < 2; a++) {
        ms_model_hyper h;
        ms_model_hyper_default(&h, a ? MS_ARCH_SCHNET : MS_ARCH_PAINN);
        ms_model *m = NULL;
        mlshift_error err;
        if (ms_model_create(&m, &h, z, 4, 1, &err)) {
            fprintf(stderr, "bench_model: %s\n", err.message);
            return 1;
        }
        for (int j = 0; j < 3; j++) {
            snprintf(path[j], sizeof path[j], "%s/%s", dir,
                     jobs[j].file ? jobs[j].file : "");
            mlshift_frames *fr = mlshift_frames_create();
            if (jobs[j].file ? mlshift_read(fr, path[j], NULL, &err)
                             : ethanol(fr, &err)) {
                fprintf(stderr, "bench_model: %s (skipped)\n", err.message);
                mlshift_frames_destroy(fr);
                continue;
            }
            mlshift_frame f[32];
            for (size_t i = 0; i < 32; i++)
                mlshift_frames_get(fr, i, &f[i]);
            for (int d = 0; d < 2; d++) {
            const double peak = peaks[d];
            ms_model_ws ws;
            ms_model_ws_init(&ws);
            ms_graph_set_dtype(&ws.g, d ? MS_F32 : MS_F64);
            double *F = malloc(32 * f[0].natoms * 3 * sizeof *F), E[32], L;
            double *grad = malloc(m->P * sizeof *grad), *t = malloc((size_t)reps * sizeof *t);
            /* energy + forces, one structure */
            for (int r = 0; r < 3; r++)
                ms_model_predict(&ws, m, f, 1, MS_HEAD_MAIN, 0, E, F, &err);
            size_t nm = ws.g.arena.n_malloc;
            for (int r = 0; r < reps; r++) {
                double t0 = bench_now();
                ms_model_predict(&ws, m, f, 1, MS_HEAD_MAIN, 0, E, F, &err);
                t[r] = bench_now() - t0;
            }
            double s = bench_median(t, reps);
            size_t N = ws.b.N, Ed = ws.b.E;
            double fl = a ? schnet_flops(&h, (double)N, (double)ws.b.P)
                          : painn_flops(&h, (double)N, (double)ws.b.P);
            printf("{\"bench\":\"model_energy_forces\",\"impl\":\"c\",\"arch\":\"%s\","
                   "\"molecule\":\"%s\",\"atoms\":%zu,\"edges\":%zu,\"features\":%d,"
                   "\"blocks\":%d,\"rbf\":%d,\"cutoff\":%g,\"params_one_head\":%zu,"
                   "\"dtype\":\"%s\",\"seconds\":%.6g,\"matmul_mflop\":%.1f,"
                   "\"gemm_peak_fraction\":%.3f,\"arena_mib\":%.1f,"
                   "\"mallocs_after_warmup\":%zu}\n",
                   ms_arch_name(h.arch), jobs[j].name, N, Ed, h.F, h.T, h.K, h.r_basis,
                   m->P - ms_model_group_size(m, MS_GROUP_PRIOR), dtn[d], s, fl / 1e6,
                   fl / s / peak, (double)ws.g.arena.high_water / 1048576.0,
                   ws.g.arena.n_malloc - nm);
            /* the same through a model handle (mlshift_model_compute: what md,
             * predict, the ASE calculator and the KIM driver call), whose
             * float32 parameters are converted once, not per call */
            {
                ms_model *c = NULL;
                mlshift_model *mm = NULL;
                if (ms_model_clone(&c, m, &err) == MLSHIFT_OK &&
                    ms_model_wrap(c, &mm, &err) == MLSHIFT_OK) {
                    mlshift_model_set_dtype(mm, d ? MLSHIFT_FLOAT32 : MLSHIFT_FLOAT64);
                    for (int r = 0; r < 3; r++)
                        mlshift_model_compute(mm, f, MLSHIFT_HEAD_MAIN, 0, E, F, &err);
                    for (int r = 0; r < reps; r++) {
                        double t0 = bench_now();
                        mlshift_model_compute(mm, f, MLSHIFT_HEAD_MAIN, 0, E, F, &err);
                        t[r] = bench_now() - t0;
                    }
                    double sh = bench_median(t, reps);
                    printf("{\"bench\":\"model_energy_forces_handle\",\"impl\":\"c\","
                           "\"arch\":\"%s\",\"molecule\":\"%s\",\"atoms\":%zu,"
                           "\"features\":%d,\"blocks\":%d,\"dtype\":\"%s\","
                           "\"seconds\":%.6g,\"gemm_peak_fraction\":%.3f}\n",
                           ms_arch_name(h.arch), jobs[j].name, N, h.F, h.T, dtn[d], sh,
                           fl / sh / peak);
                }
                mlshift_model_destroy(mm);
            }
            /* force-loss training step, batch 32 */
            int rt = reps / 4 > 3 ? reps / 4 : 3;
            for (int r = 0; r < 2; r++)
                ms_model_loss_grad(&ws, m, f, 32, MS_HEAD_MAIN, 0, 1, 1, &L, grad, &err);
            nm = ws.g.arena.n_malloc;
            for (int r = 0; r < rt; r++) {
                double t0 = bench_now();
                if (ms_model_loss_grad(&ws, m, f, 32, MS_HEAD_MAIN, 0, 1, 1, &L, grad, &err))
                    fprintf(stderr, "bench_model: %s\n", err.message);
                t[r] = bench_now() - t0;
            }
            s = bench_median(t, rt);
            printf("{\"bench\":\"model_force_loss_step\",\"impl\":\"c\",\"arch\":\"%s\","
                   "\"molecule\":\"%s\",\"batch\":32,\"atoms\":%zu,\"edges\":%zu,"
                   "\"features\":%d,\"blocks\":%d,\"dtype\":\"%s\",\"seconds\":%.6g,"
                   "\"arena_mib\":%.1f,\"mallocs_after_warmup\":%zu}\n",
                   ms_arch_name(h.arch), jobs[j].name, ws.b.N, ws.b.E, h.F, h.T, dtn[d], s,
                   (double)ws.g.arena.high_water / 1048576.0, ws.g.arena.n_malloc - nm);
            free(F);
            free(grad);
            free(t);
            ms_model_ws_free(&ws);
            }
            mlshift_frames_destroy(fr);
        }
        ms_model_destroy(m);
    }
    return 0;
}

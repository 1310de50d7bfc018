/* SPDX-License-Identifier: MIT */
/* Training and TTT throughput on naphthalene (rMD17 test_01, first 32
 * frames, 18 atoms), PaiNN F × 3 (F = 64, the MD17 benchmark's width, and
 * 128), K = 20, 5 Å, one thread, float64: one pre-training step (energy +
 * force loss of the prior head, gradient for g_R and h_P, AdamW update) and
 * one TTT step (the same loss, gradient for the TTT subset only, SGD with
 * momentum) at batch 32. bench/bench_train.py times the PyTorch twin in the
 * same `make bench`. One JSON line per measurement; median after warm-up.
 * The MD17 preset's budget (3000 TTT steps) is printed as minutes.
 * Variants: float64 and float32 on one thread, float32 on two threads (the
 * default: parts of 8 taken from a shared counter; and one part of 16 each),
 * and float32 on one thread in parts of 16 and 8 structures (the arena
 * holds one part: memory); arena_mib sums every thread's arena.
 * Aspirin (21 atoms) at F = 128 is the memory and threading case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/train.h"
#include "bench.h"

static double time_steps(ms_loss_ws *ws, ms_model *m, const ms_dataset *d, ms_optim *o,
                         const unsigned char *mask, const ms_loss_config *lc, int reps)
{
    size_t idx[32];
    for (size_t i = 0; i < 32; i++)
        idx[i] = i;
    double *g = malloc(m->P * sizeof *g), t[64];
    mlshift_error err;
    for (int r = -2; r < reps; r++) {
        double t0 = bench_now();
        memset(g, 0, m->P * sizeof *g);
        if (ms_loss_grad(ws, m, d, idx, 32, 0, lc, NULL, g, &err))
            fprintf(stderr, "bench_train: %s\n", err.message);
        ms_optim_step(o, m->theta, g, mask);
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    free(g);
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    return t[reps / 2];
}

/* Every variant of both steps for a PaiNN of width F on the first 32 frames
 * of molecule's test_01. */
static int bench_molecule(const char *molecule, int F, int reps)
{
    const char *dir = getenv("MLSHIFT_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/rmd17/rmd17_%s_test_01.npz",
             dir && *dir ? dir : "../shared/data", molecule);
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_read_options ro = {0};
    ro.labels_old = 1;
    if (mlshift_read(fr, path, &ro, &err)) {
        fprintf(stderr, "bench_train: %s (skipped)\n", err.message);
        mlshift_frames_destroy(fr);
        return 0;
    }
    ms_dataset d;
    ms_dataset_init(&d, fr, NULL, 32, &err);
    ms_dataset_set_labels(&d, MS_HEAD_PRIOR, d.E[MS_HEAD_MAIN], d.F[MS_HEAD_MAIN], &err);
    const int z[4] = {1, 6, 7, 8};
    ms_model_hyper h;
    ms_model_hyper_default(&h, MS_ARCH_PAINN);
    h.F = F;
    ms_model *m = NULL;
    if (ms_model_create(&m, &h, z, 4, 1, &err)) {
        fprintf(stderr, "bench_train: %s\n", err.message);
        ms_dataset_free(&d);
        mlshift_frames_destroy(fr);
        return 1;
    }
    ms_loss_config lc = {{0, 1}, {0, 100}, 0, 0};
    unsigned char *mask = calloc(m->P, 1);
    const struct { ms_dtype dt; int threads; size_t chunk; } var[6] = {
        {MS_F64, 1, 0}, {MS_F32, 1, 0}, {MS_F32, 2, 0}, {MS_F32, 2, 16}, {MS_F32, 1, 16},
        {MS_F32, 1, 8}};
    for (int v = 0; v < 6; v++)
        for (int mode = 0; mode < 2; mode++) {
            ms_loss_ws ws;
            ms_loss_ws_init(&ws);
            ms_graph_set_dtype(&ws.mws.g, var[v].dt);
            ws.threads = var[v].threads;
            ws.chunk = var[v].chunk;
            unsigned groups =
                mode == 0 ? ms_train_groups(MS_MODE_PRETRAIN) : 1u << MS_GROUP_TTT;
            ms_model_freeze(m, 0xFu, 1);
            ms_model_freeze(m, groups, 0);
            size_t ntrain = ms_model_update_mask(m, mask);
            ms_optim_config oc;
            ms_optim_config_default(&oc, mode == 0 ? MS_OPT_ADAMW : MS_OPT_SGD);
            oc.lr = 1e-6;
            oc.momentum = mode == 0 ? 0 : 0.9;
            ms_optim o;
            ms_optim_init(&o, &oc, m->P, m->theta, &err);
            lc.center_energy = mode == 1;
            double s = time_steps(&ws, m, &d, &o, mask, &lc, reps);
            size_t hw = ws.mws.g.arena.high_water;
            for (int t = 0; t < ws.nsub; t++)
                hw += ws.sub[t].mws.g.arena.high_water;
            printf("{\"bench\":\"%s\",\"impl\":\"c\",\"arch\":\"painn\",\"molecule\":"
                   "\"%s\",\"batch\":32,\"atoms\":%zu,\"features\":%d,\"blocks\":%d,"
                   "\"rbf\":%d,\"trainable\":%zu,\"dtype\":\"%s\",\"threads\":%d,"
                   "\"part\":%zu,\"seconds\":%.6g,\"structures_per_s\":%.1f,"
                   "\"arena_mib\":%.1f%s",
                   mode == 0 ? "train_step" : "ttt_step", molecule, (size_t)d.off[32], h.F,
                   h.T, h.K, ntrain, var[v].dt == MS_F32 ? "float32" : "float64",
                   var[v].threads,
                   var[v].chunk               ? var[v].chunk
                   : var[v].threads == 1      ? (size_t)32
                                              : (32 + 2 * (size_t)var[v].threads - 1) /
                                                    (2 * (size_t)var[v].threads),
                   s, 32 / s, (double)hw / 1048576.0, mode == 1 ? "" : "}\n");
            if (mode == 1)
                printf(",\"md17_preset_3000_steps_min\":%.1f}\n", 3000 * s / 60);
            ms_optim_free(&o);
            ms_loss_ws_free(&ws);
        }
    free(mask);
    ms_model_destroy(m);
    ms_dataset_free(&d);
    mlshift_frames_destroy(fr);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 64)
        reps = 7;
    return bench_molecule("naphthalene", 64, reps) || bench_molecule("naphthalene", 128, reps) ||
           bench_molecule("aspirin", 128, reps);
}

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
 * Aspirin (21 atoms) at F = 128 is the memory and threading case.
 * Last, the float32 training step on one thread against two with the
 * other core kept busy by a spinning child process (issue 9: a busy core
 * must not make two threads slower than one), interleaved in rounds. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* One variant's step: mode 0 the pre-training step (AdamW, g_R and h_P),
 * mode 1 the TTT step (SGD with momentum, the TTT subset, centred
 * energies); the median seconds per step. *ntrain gets the scalars the
 * step moves and *arena the arenas' high water summed over threads (either
 * may be NULL). */
static double time_variant(ms_model *m, const ms_dataset *d, unsigned char *mask,
                           ms_loss_config *lc, ms_dtype dt, int threads, size_t chunk,
                           int mode, int reps, size_t *ntrain, size_t *arena)
{
    ms_loss_ws ws;
    ms_loss_ws_init(&ws);
    ms_graph_set_dtype(&ws.mws.g, dt);
    ws.threads = threads;
    ws.chunk = chunk;
    unsigned groups = mode == 0 ? ms_train_groups(MS_MODE_PRETRAIN) : 1u << MS_GROUP_TTT;
    ms_model_freeze(m, 0xFu, 1);
    ms_model_freeze(m, groups, 0);
    size_t nt = ms_model_update_mask(m, mask);
    ms_optim_config oc;
    ms_optim_config_default(&oc, mode == 0 ? MS_OPT_ADAMW : MS_OPT_SGD);
    oc.lr = 1e-6;
    oc.momentum = mode == 0 ? 0 : 0.9;
    ms_optim o;
    mlshift_error err;
    ms_optim_init(&o, &oc, m->P, m->theta, &err);
    lc->center_energy = mode == 1;
    double s = time_steps(&ws, m, d, &o, mask, lc, reps);
    size_t hw = ws.mws.g.arena.high_water;
    for (int t = 0; t < ws.nsub; t++)
        hw += ws.sub[t].mws.g.arena.high_water;
    if (ntrain)
        *ntrain = nt;
    if (arena)
        *arena = hw;
    ms_optim_free(&o);
    ms_loss_ws_free(&ws);
    return s;
}

/* The float32 pre-training step on one thread (whole batch) against two
 * (parts of 8, the default) while a child process spins on the other
 * core: `rounds` rounds, each timing reps steps on one thread and then on
 * two, so a change of load hits both; medians of the rounds' medians.
 * The child's CPU time over the wall time is how busy it kept a core. */
static void busy_core(ms_model *m, const ms_dataset *d, unsigned char *mask,
                      ms_loss_config *lc, const char *molecule, int F, int rounds, int reps)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        volatile unsigned long spin = 0;
        for (;;)
            spin++;
    }
    if (pid < 0) {
        perror("bench_train: fork");
        return;
    }
    double t[2][64], w0 = bench_now();
    int wins = 0;
    for (int r = 0; r < rounds; r++) {
        for (int th = 0; th < 2; th++)
            t[th][r] = time_variant(m, d, mask, lc, MS_F32, th + 1, 0, 0, reps, NULL, NULL);
        wins += t[1][r] <= t[0][r];
    }
    double wall = bench_now() - w0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    double one = bench_median(t[0], rounds), two = bench_median(t[1], rounds);
    printf("{\"bench\":\"train_step_other_core_busy\",\"impl\":\"c\",\"arch\":\"painn\","
           "\"molecule\":\"%s\",\"batch\":32,\"features\":%d,\"dtype\":\"float32\","
           "\"rounds\":%d,\"steps_per_round\":%d,\"one_thread_s\":%.6g,"
           "\"two_threads_s\":%.6g,\"speedup\":%.3f,\"rounds_two_not_slower\":%d,"
           "\"spinner_cpu_share\":%.2f}\n",
           molecule, F, rounds, reps, one, two, one / two, wins, cpu / wall);
}

/* Every variant of both steps for a PaiNN of width F on the first 32 frames
 * of molecule's test_01; with busy_rounds > 0, busy_core's comparison
 * instead. */
static int bench_molecule(const char *molecule, int F, int reps, int busy_rounds)
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
    if (busy_rounds > 0)
        busy_core(m, &d, mask, &lc, molecule, F, busy_rounds, reps);
    for (int v = 0; v < 6 && busy_rounds <= 0; v++)
        for (int mode = 0; mode < 2; mode++) {
            size_t ntrain, hw;
            double s = time_variant(m, &d, mask, &lc, var[v].dt, var[v].threads, var[v].chunk,
                                    mode, reps, &ntrain, &hw);
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
    if (argc > 2 && !strcmp(argv[2], "busy")) /* `bench_train REPS busy`: that line only */
        return bench_molecule("naphthalene", 128, reps, 7);
    return bench_molecule("naphthalene", 64, reps, 0) ||
           bench_molecule("naphthalene", 128, reps, 0) ||
           bench_molecule("aspirin", 128, reps, 0) ||
           bench_molecule("naphthalene", 128, reps, 7);
}

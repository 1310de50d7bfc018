/* SPDX-License-Identifier: MIT */
/* Timings of the differentiation core on a toy model (the composite model
 * of tests/test_nn_ops.c at MLIP width): energy + forces (one backward
 * pass), and a force-loss training step (forces with create_graph, then
 * d loss / d θ). B copies of a 21-atom random molecule, all pairs within
 * 5 Å, K = 20 radial functions, H = 128 features; bench/bench_nn.py runs
 * the same model (same random numbers) in PyTorch.
 * One JSON line per measurement; best of `reps` after warm-up, with the
 * arena high-water mark, the number of arena mallocs (0 expected) and the
 * minor page faults per step during the timed steps.
 * Usage: bench_nn [reps [B]] (B = 1, 8 by default; any one of 1, 8, 32). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nn/ops.h"
#include "bench.h"

enum { NA = 21, K = 20, H = 128 };
#define RC 5.0

typedef struct toy {
    size_t N, E, B;
    double *R;                      /* (N, 3) Å */
    int32_t *src, *dst, *batch;     /* (E,), (E,), (N,) */
    double W1[(K + 1) * H], b1[H], W2[H * H], w3[H], w4[H]; /* parameters */
    double *Fref;                   /* (N, 3) */
} toy;

static unsigned long long rs = 2463534242ULL;
static double urand(double lo, double hi)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return lo + (hi - lo) * (double)(rs >> 11) / 9007199254740992.0;
}

static void toy_init(toy *t, size_t B)
{
    rs = 2463534242ULL; /* same numbers for every B, as bench_nn.py */
    t->B = B;
    t->N = B * NA;
    t->R = malloc(t->N * 3 * sizeof(double));
    t->Fref = malloc(t->N * 3 * sizeof(double));
    t->batch = malloc(t->N * sizeof(int32_t));
    t->src = malloc(t->N * NA * sizeof(int32_t));
    t->dst = malloc(t->N * NA * sizeof(int32_t));
    double mol[NA * 3];
    for (size_t i = 0; i < NA; i++) /* a loose random molecule, ~1.5 Å apart */
        for (int k = 0; k < 3; k++)
            mol[i * 3 + k] = urand(0, 4.5);
    t->E = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < NA; i++) {
            size_t a = b * NA + i;
            t->batch[a] = (int32_t)b;
            for (int k = 0; k < 3; k++) {
                t->R[a * 3 + k] = mol[i * 3 + k] + 0.05 * urand(-1, 1);
                t->Fref[a * 3 + k] = urand(-1, 1);
            }
        }
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < NA; i++)
            for (size_t j = 0; j < NA; j++) {
                if (i == j)
                    continue;
                double d2 = 0;
                for (int k = 0; k < 3; k++) {
                    double x = t->R[(b * NA + j) * 3 + k] - t->R[(b * NA + i) * 3 + k];
                    d2 += x * x;
                }
                if (d2 <= RC * RC) {
                    t->src[t->E] = (int32_t)(b * NA + i);
                    t->dst[t->E] = (int32_t)(b * NA + j);
                    t->E++;
                }
            }
    for (size_t k = 0; k < (K + 1) * H; k++)
        t->W1[k] = urand(-1, 1) / 4.5;
    for (size_t k = 0; k < H * H; k++)
        t->W2[k] = urand(-1, 1) / 11.3;
    for (size_t k = 0; k < H; k++) {
        t->b1[k] = urand(-0.1, 0.1);
        t->w3[k] = urand(-1, 1) / 11.3;
        t->w4[k] = urand(-1, 1) / 11.3;
    }
}

/* Energy per structure (B, 1); the parameters as leaves in th[5]. */
static ms_t *toy_energy(ms_graph *g, toy *t, ms_t *R, ms_t **th)
{
    size_t N = t->N, E = t->E;
    double freq[K];
    for (int n = 0; n < K; n++)
        freq[n] = (n + 1) * 3.14159265358979323846 / RC;
    th[0] = ms_wrap(g, 2, MS_SHAPE(K + 1, H), t->W1, 1);
    th[1] = ms_wrap(g, 1, MS_SHAPE(H), t->b1, 1);
    th[2] = ms_wrap(g, 2, MS_SHAPE(H, H), t->W2, 1);
    th[3] = ms_wrap(g, 2, MS_SHAPE(H, 1), t->w3, 1);
    th[4] = ms_wrap(g, 2, MS_SHAPE(H, 1), t->w4, 1);
    ms_t *r = ms_sub(g, ms_gather(g, R, t->dst, E), ms_gather(g, R, t->src, E)); // (E, 3)
    ms_t *d = ms_sqrt(g, ms_sum_axis(g, ms_mul(g, r, r), 1));                   // (E, 1)
    ms_t *rbf = ms_div(g, ms_sin(g, ms_mul(g, d, ms_const(g, 1, MS_SHAPE(K), freq))), d);
    ms_t *phi = ms_concat(g, 2, (ms_t *[]){rbf, d}, 1);                          // (E, K+1)
    ms_t *u = ms_scale(g, d, 1.0 / RC);
    ms_t *env = ms_add_scalar(g, ms_add(g, ms_add(g, ms_scale(g, ms_pow(g, u, 5), -21.0),
                                                  ms_scale(g, ms_pow(g, u, 6), 35.0)),
                                        ms_scale(g, ms_pow(g, u, 7), -15.0)),
                              1.0);                                              // (E, 1)
    ms_t *h = ms_mul(g, ms_silu(g, ms_add(g, ms_matmul(g, phi, th[0], 0, 0), th[1])), env);
    ms_t *s = ms_silu(g, ms_matmul(g, ms_scatter_add(g, h, t->src, N), th[2], 0, 0)); // (N, H)
    ms_t *dir = ms_reshape(g, ms_div(g, r, d), 3, MS_SHAPE(E, 3, 1));           // (E, 3, 1)
    ms_t *v = ms_scatter_add(g, ms_mul(g, dir, ms_reshape(g, h, 3, MS_SHAPE(E, 1, H))),
                             t->src, N);                                         // (N, 3, H)
    ms_t *vn = ms_reshape(g, ms_sum_axis(g, ms_mul(g, v, v), 1), 2, MS_SHAPE(N, H));
    ms_t *e = ms_add(g, ms_matmul(g, s, th[3], 0, 0), ms_matmul(g, vn, th[4], 0, 0)); // (N, 1)
    return ms_segment_sum(g, e, t->batch, t->B);                                 // (B, 1)
}

static int energy_forces(ms_graph *g, toy *t)
{
    ms_graph_reset(g);
    ms_t *th[5], *dEdR;
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(t->N, 3), t->R, 1);
    ms_t *Eb = toy_energy(g, t, R, th);
    return ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, 0) == MLSHIFT_OK ? 0 : -1;
}

static int train_step(ms_graph *g, toy *t)
{
    ms_graph_reset(g);
    ms_t *th[5], *dEdR, *gth[5];
    ms_t *R = ms_wrap(g, 2, MS_SHAPE(t->N, 3), t->R, 1);
    ms_t *Eb = toy_energy(g, t, R, th);
    if (ms_grad(g, ms_sum(g, Eb), NULL, 1, &R, &dEdR, 1) != MLSHIFT_OK)
        return -1;
    ms_t *dF = ms_add(g, dEdR, ms_const(g, 2, MS_SHAPE(t->N, 3), t->Fref)); /* F − F_ref */
    ms_t *loss = ms_sum(g, ms_mul(g, dF, dF));
    return ms_grad(g, loss, NULL, 5, th, gth, 0) == MLSHIFT_OK ? 0 : -1;
}

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static void run(const char *name, int (*fn)(ms_graph *, toy *), ms_graph *g, toy *t,
                int reps)
{
    /* two warm-ups: the first sizes the arena (chaining blocks), the reset
     * before the second coalesces them into one block */
    if (fn(g, t) || fn(g, t)) {
        fprintf(stderr, "%s: %s\n", name, g->err.message);
        return;
    }
    size_t nm = g->arena.n_malloc;
    long pf = minor_faults();
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        fn(g, t);
        double dt = bench_now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("{\"bench\":\"nn_%s\",\"structures\":%zu,\"atoms\":%zu,\"edges\":%zu,"
           "\"features\":%d,\"rbf\":%d,\"nodes\":%zu,\"arena_mib\":%.1f,"
           "\"mallocs_after_warmup\":%zu,\"page_faults_per_step\":%.1f,\"seconds\":%.6g}\n",
           name, t->B, t->N, t->E, H, K, g->n_nodes,
           (double)g->arena.high_water / 1048576.0, g->arena.n_malloc - nm,
           (double)(minor_faults() - pf) / reps, best);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    size_t only = argc > 2 ? (size_t)atoi(argv[2]) : 0; /* one batch size only */
    size_t batches[] = {1, 8, 32};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        if (only ? batches[b] != only : batches[b] == 32)
            continue;
        toy t;
        toy_init(&t, batches[b]);
        ms_graph g;
        ms_graph_init(&g, 0);
        run("energy_forces", energy_forces, &g, &t, reps);
        run("force_loss_step", train_step, &g, &t, reps);
        ms_graph_free(&g);
        free(t.R);
        free(t.Fref);
        free(t.batch);
        free(t.src);
        free(t.dst);
    }
    return 0;
}

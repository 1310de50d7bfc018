/* SPDX-License-Identifier: MIT */
/* EMT and LJ prior speed: energy + forces of a 100-atom Cu cluster, best
 * of several rounds of many calls into one reused prior. The cluster is the
 * 100 fcc sites (a = 3.61 Å) nearest the origin: integer (i, j, k) with
 * i + j + k even, ordered by (i² + j² + k², i, j, k), at (a/2)(i, j, k) —
 * exact integer arithmetic, so bench/bench_emt.py builds the same atoms for
 * ASE's EMT (the reference, timed in the same `make bench` run). One JSON
 * line per measurement. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlshift.h"
#include "bench.h"

#define N_ATOMS 100

typedef struct site {
    int r2, i, j, k;
} site;

static int site_cmp(const void *pa, const void *pb)
{
    const site *a = pa, *b = pb;
    if (a->r2 != b->r2) return a->r2 < b->r2 ? -1 : 1;
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    if (a->j != b->j) return a->j < b->j ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

/* positions (N_ATOMS, 3) Å */
static void cu_cluster(double *pos)
{
    static site s[13 * 13 * 13];
    int n = 0;
    for (int i = -6; i <= 6; i++)
        for (int j = -6; j <= 6; j++)
            for (int k = -6; k <= 6; k++)
                if (((i + j + k) % 2 + 2) % 2 == 0)
                    s[n++] = (site){i * i + j * j + k * k, i, j, k};
    qsort(s, (size_t)n, sizeof *s, site_cmp);
    const double h = 3.61 / 2;
    for (int a = 0; a < N_ATOMS; a++) {
        pos[3 * a] = h * s[a].i;
        pos[3 * a + 1] = h * s[a].j;
        pos[3 * a + 2] = h * s[a].k;
    }
}

static int bench(const char *spec, const mlshift_frame *f)
{
    mlshift_error err;
    mlshift_prior *p = NULL;
    if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
        fprintf(stderr, "bench_emt: %s\n", err.message);
        return 1;
    }
    static double F[3 * N_ATOMS];
    double e = 0, best = 1e30;
    const int calls = 2000;
    for (int round = 0; round < 7; round++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++)
            if (mlshift_prior_compute(p, f, &e, F, NULL, &err) != MLSHIFT_OK) {
                fprintf(stderr, "bench_emt: %s\n", err.message);
                mlshift_prior_destroy(p);
                return 1;
            }
        double dt = (bench_now() - t0) / calls;
        if (dt < best)
            best = dt;
    }
    printf("{\"bench\":\"prior_energy_forces\",\"impl\":\"mlshift\","
           "\"prior\":\"%s\",\"system\":\"Cu100 fcc cluster\",\"atoms\":%d,"
           "\"calls\":%d,\"seconds_per_call\":%.4e,\"calls_per_s\":%.1f,"
           "\"energy_eV\":%.10f}\n",
           spec, N_ATOMS, calls, best, 1 / best, e);
    mlshift_prior_destroy(p);
    return 0;
}

int main(void)
{
    static double pos[3 * N_ATOMS];
    static int numbers[N_ATOMS];
    cu_cluster(pos);
    for (int a = 0; a < N_ATOMS; a++)
        numbers[a] = 29;
    mlshift_frame f;
    memset(&f, 0, sizeof f);
    f.natoms = N_ATOMS;
    f.numbers = numbers;
    f.positions = pos;
    int rc = bench("emt", &f);
    rc |= bench("lj", &f);
    rc |= bench("lj:cutoff=fs", &f);
    return rc;
}

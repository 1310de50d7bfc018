/* SPDX-License-Identifier: MIT */
/* Neighbour-list speed: 10,000-atom random periodic boxes (cubic and
 * triclinic, 0.1 atoms/Å³ like liquid water) at 5 Å, full and half lists,
 * best of several builds into reused buffers, against an O(N²·27) brute
 * force timed once in the same run; and an aspirin molecule (21 atoms,
 * MLSHIFT_DATA/sgdml_models/geom_aspirin.xyz, random if absent) per
 * structure. One JSON line per measurement. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlshift.h"
#include "bench.h"

static uint64_t rng_state = 12345;
static double uniform(void) /* splitmix64 → [0, 1) */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* The plain reference: every pair, every image shift in [-1, 1]³ along
 * periodic axes (enough when every cell width exceeds the cutoff), squared
 * distances, writing the same arrays a full list holds. Returns the edge
 * count. */
static size_t brute(size_t n, const double *pos, const double *cell,
                    const int *pbc, double rc, int32_t *src, int32_t *dst,
                    int32_t *shift, double *vec, double *dist)
{
    int lim[3];
    for (int k = 0; k < 3; k++)
        lim[k] = pbc && pbc[k] ? 1 : 0;
    int img[27][3], ni = 0;
    double off[27][3];
    for (int a = -lim[0]; a <= lim[0]; a++)
        for (int b = -lim[1]; b <= lim[1]; b++)
            for (int c = -lim[2]; c <= lim[2]; c++) {
                img[ni][0] = a;
                img[ni][1] = b;
                img[ni][2] = c;
                for (int d = 0; d < 3; d++)
                    off[ni][d] = cell ? a * cell[d] + b * cell[3 + d] + c * cell[6 + d]
                                      : 0;
                ni++;
            }
    const double rc2 = rc * rc;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < ni; t++) {
            const double ox = off[t][0] - pos[3 * i], oy = off[t][1] - pos[3 * i + 1];
            const double oz = off[t][2] - pos[3 * i + 2];
            for (size_t j = 0; j < n; j++) {
                const double dx = pos[3 * j] + ox, dy = pos[3 * j + 1] + oy;
                const double dz = pos[3 * j + 2] + oz;
                const double r2 = dx * dx + dy * dy + dz * dz;
                if (r2 > 0 && r2 <= rc2) {
                    src[m] = (int32_t)i;
                    dst[m] = (int32_t)j;
                    memcpy(shift + 3 * m, img[t], 3 * sizeof(int32_t));
                    vec[3 * m] = dx;
                    vec[3 * m + 1] = dy;
                    vec[3 * m + 2] = dz;
                    dist[m] = sqrt(r2);
                    m++;
                }
            }
        }
    return m;
}

/* Best of `reps` timings of `batch` builds each; seconds per build. */
static double time_build(mlshift_neighbours *nl, size_t n, const double *pos,
                         const double *cell, const int *pbc, double rc,
                         int half, int reps, int batch)
{
    mlshift_error err;
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int b = 0; b < batch; b++)
            if (mlshift_neighbours_build(nl, n, pos, cell, pbc, rc, half, &err) !=
                MLSHIFT_OK) {
                fprintf(stderr, "bench_neighbours: %s\n", err.message);
                exit(1);
            }
        double t = (bench_now() - t0) / batch;
        if (t < best)
            best = t;
    }
    return best;
}

static void bench_box(const char *name, const double *cell, size_t n, double rc)
{
    const int pbc[3] = {1, 1, 1};
    double *pos = malloc(3 * n * sizeof *pos);
    for (size_t i = 0; i < n; i++) {
        double f[3] = {uniform(), uniform(), uniform()};
        for (int d = 0; d < 3; d++)
            pos[3 * i + d] = f[0] * cell[d] + f[1] * cell[3 + d] + f[2] * cell[6 + d];
    }
    double vol = fabs(cell[0] * (cell[4] * cell[8] - cell[5] * cell[7]) -
                      cell[1] * (cell[3] * cell[8] - cell[5] * cell[6]) +
                      cell[2] * (cell[3] * cell[7] - cell[4] * cell[6]));
    mlshift_neighbours *nl = mlshift_neighbours_create();
    double t_full = time_build(nl, n, pos, cell, pbc, rc, 0, 15, 1);
    size_t e_full = mlshift_neighbours_n_edges(nl);
    double t_half = time_build(nl, n, pos, cell, pbc, rc, 1, 15, 1);
    size_t e_half = mlshift_neighbours_n_edges(nl);

    size_t cap = e_full + 1024;
    int32_t *src = malloc(cap * sizeof *src), *dst = malloc(cap * sizeof *dst);
    int32_t *shift = malloc(3 * cap * sizeof *shift);
    double *vec = malloc(3 * cap * sizeof *vec), *dist = malloc(cap * sizeof *dist);
    double t0 = bench_now();
    size_t e_brute = brute(n, pos, cell, pbc, rc, src, dst, shift, vec, dist);
    double t_brute = bench_now() - t0;

    const char *lists[2] = {"full", "half"};
    double ts[2] = {t_full, t_half};
    size_t es[2] = {e_full, e_half};
    for (int l = 0; l < 2; l++)
        printf("{\"bench\":\"neighbours\",\"system\":\"%s\",\"atoms\":%zu,"
               "\"density\":%.4f,\"cutoff\":%g,\"list\":\"%s\",\"edges\":%zu,"
               "\"seconds\":%.6g,\"edges_per_s\":%.4g,\"runs\":15,"
               "\"brute_force_seconds\":%.4g,\"brute_force_edges\":%zu,"
               "\"speedup\":%.1f}\n",
               name, n, (double)n / vol, rc, lists[l], es[l], ts[l],
               (double)es[l] / ts[l], t_brute, e_brute, t_brute / ts[l]);
    fflush(stdout);
    free(src);
    free(dst);
    free(shift);
    free(vec);
    free(dist);
    mlshift_neighbours_destroy(nl);
    free(pos);
}

static void bench_molecule(double rc)
{
    double pos[3 * 64];
    size_t n = 0;
    const char *dir = getenv("MLSHIFT_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/sgdml_models/geom_aspirin.xyz",
             dir && *dir ? dir : "../shared/data");
    const char *source = path;
    FILE *fp = fopen(path, "r");
    char line[512];
    if (fp && fgets(line, sizeof line, fp) && sscanf(line, "%zu", &n) == 1 &&
        n <= 64 && fgets(line, sizeof line, fp)) {
        for (size_t i = 0; i < n; i++) {
            char sym[8];
            if (!fgets(line, sizeof line, fp) ||
                sscanf(line, "%7s %lf %lf %lf", sym, pos + 3 * i, pos + 3 * i + 1,
                       pos + 3 * i + 2) != 4) {
                n = 0;
                break;
            }
        }
    } else {
        n = 0;
    }
    if (fp)
        fclose(fp);
    if (n == 0) {
        source = "random";
        n = 21;
        for (size_t i = 0; i < 3 * n; i++)
            pos[i] = 6 * uniform() - 3;
    }
    mlshift_neighbours *nl = mlshift_neighbours_create();
    const int batch = 20000;
    double t_full = time_build(nl, n, pos, NULL, NULL, rc, 0, 7, batch);
    size_t e_full = mlshift_neighbours_n_edges(nl);
    double t_half = time_build(nl, n, pos, NULL, NULL, rc, 1, 7, batch);
    size_t e_half = mlshift_neighbours_n_edges(nl);
    int32_t src[64 * 64], dst[64 * 64], shift[3 * 64 * 64];
    double vec[3 * 64 * 64], dist[64 * 64];
    double best = INFINITY;
    size_t e_brute = 0;
    for (int r = 0; r < 7; r++) {
        double t0 = bench_now();
        for (int b = 0; b < batch; b++)
            e_brute = brute(n, pos, NULL, NULL, rc, src, dst, shift, vec, dist);
        double t = (bench_now() - t0) / batch;
        if (t < best)
            best = t;
    }
    const char *lists[2] = {"full", "half"};
    double ts[2] = {t_full, t_half};
    size_t es[2] = {e_full, e_half};
    for (int l = 0; l < 2; l++)
        printf("{\"bench\":\"neighbours\",\"system\":\"aspirin\",\"file\":\"%s\","
               "\"atoms\":%zu,\"cutoff\":%g,\"list\":\"%s\",\"edges\":%zu,"
               "\"seconds_per_structure\":%.4g,\"structures_per_s\":%.4g,"
               "\"runs\":\"best of 7 x %d\",\"brute_force_seconds_per_structure\":%.4g,"
               "\"brute_force_edges\":%zu,\"speedup\":%.2f}\n",
               source, n, rc, lists[l], es[l], ts[l], 1.0 / ts[l], batch, best,
               e_brute, best / ts[l]);
    mlshift_neighbours_destroy(nl);
}

int main(void)
{
    const size_t n = 10000;
    const double L = cbrt((double)n / 0.1);
    const double cubic[9] = {L, 0, 0, 0, L, 0, 0, 0, L};
    /* Same volume, angles ~70–110°. */
    double tri[9] = {L, 0, 0, 0.31 * L, 0.95 * L, 0, -0.22 * L, 0.27 * L, 0.93 * L};
    double s = cbrt(1.0 / (0.95 * 0.93));
    for (int k = 0; k < 9; k++)
        tri[k] *= s;
    bench_box("random cubic box", cubic, n, 5.0);
    bench_box("random triclinic box", tri, n, 5.0);
    bench_molecule(5.0);
    return 0;
}

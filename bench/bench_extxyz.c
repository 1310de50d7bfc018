/* SPDX-License-Identifier: MIT */
/* Extended XYZ parsing speed: the 3BPA train files and every OC20
 * trajectory, parsed from memory (text already read) and from disk
 * (mlshift_read_extxyz) into one frame set, and streamed from disk frame
 * by frame (mlshift_reader, how the commands read since issue 12: the same
 * speed is the promise), best of REPS runs each. One JSON line per file and
 * mode; bench_extxyz.py times ase.io.read(':') on the same files. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlshift.h"
#include "core/util.h"
#include "bench.h"

#define REPS 20

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Best-of-REPS parse of one file; prints three JSON lines. */
static int bench_file(const char *data, const char *rel, double *atoms_tot,
                      double *sec_tot)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data, rel);
    mlshift_error err;
    char *text;
    size_t len;
    if (ms_read_file(path, &text, &len, &err) != MLSHIFT_OK) {
        fprintf(stderr, "bench_extxyz: %s\n", err.message);
        return 1;
    }
    static const char *source[3] = {"memory", "disk", "stream"};
    for (int disk = 0; disk < 3; disk++) {
        double best = 1e300;
        size_t atoms = 0, frames = 0;
        for (int r = 0; r < REPS; r++) {
            mlshift_frames *fr = mlshift_frames_create();
            double t0 = bench_now(), sum = 0;
            size_t sf = 0, sa = 0;
            mlshift_status st =
                disk == 2 ? (bench_stream(path, &sf, &sa, &sum, &err) ? MLSHIFT_ERR_IO
                                                                      : MLSHIFT_OK)
                : disk    ? mlshift_read_extxyz(fr, path, NULL, &err)
                          : mlshift_parse_extxyz(fr, text, len, path, NULL, &err);
            double t = bench_now() - t0;
            if (st != MLSHIFT_OK) {
                fprintf(stderr, "bench_extxyz: %s\n", err.message);
                mlshift_frames_destroy(fr);
                free(text);
                return 1;
            }
            atoms = disk == 2 ? sa : mlshift_frames_total_atoms(fr);
            frames = disk == 2 ? sf : mlshift_frames_count(fr);
            mlshift_frames_destroy(fr);
            if (t < best)
                best = t;
        }
        printf("{\"bench\":\"extxyz_read\",\"impl\":\"mlshift\",\"source\":\"%s\","
               "\"file\":\"%s\",\"bytes\":%zu,\"frames\":%zu,\"atoms\":%zu,"
               "\"reps\":%d,\"seconds\":%.6g,\"atoms_per_s\":%.4g,"
               "\"mb_per_s\":%.4g}\n",
               source[disk], rel, len, frames, atoms, REPS, best,
               (double)atoms / best, (double)len / best / 1e6);
        if (!disk) {
            *atoms_tot += (double)atoms;
            *sec_tot += best;
        }
    }
    free(text);
    return 0;
}

int main(void)
{
    const char *data = getenv("MLSHIFT_DATA");
    if (!data || !*data)
        data = "../shared/data";
    int bad = 0;
    double atoms = 0, sec = 0;
    bad |= bench_file(data, "3bpa/train_300K.xyz", &atoms, &sec);
    bad |= bench_file(data, "3bpa/train_mixedT.xyz", &atoms, &sec);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/oc20", data);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_extxyz: cannot open %s\n", dir);
        return 1;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 7 && strcmp(e->d_name + l - 7, ".extxyz") == 0) {
            names[n] = malloc(l + 6);
            if (names[n])
                snprintf(names[n++], l + 6, "oc20/%s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        bad |= bench_file(data, names[i], &atoms, &sec);
        free(names[i]);
    }
    printf("{\"bench\":\"extxyz_read\",\"impl\":\"mlshift\",\"source\":\"memory\","
           "\"file\":\"all\",\"atoms\":%.0f,\"seconds\":%.6g,"
           "\"atoms_per_s\":%.4g}\n", atoms, sec, atoms / sec);
    return bad;
}

/* SPDX-License-Identifier: MIT */
/* Reads all 50 rMD17 npz files (5 molecules × 5 splits × train/test, 1000
 * frames each, stored members) and prints one JSON line per measurement:
 * from disk (mlshift_read_npz) and from memory (mlshift_parse_npz, the
 * files already loaded) into one frame set, and streamed frame by frame
 * (mlshift_reader, how the commands read since issue 12: the same speed is
 * the promise). Best of `repeats` runs. The numpy twin is
 * bench/bench_npz.py. Data: $MLSHIFT_DATA (default ../shared/data). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "mlshift.h"
#include "bench.h"

enum { NFILES = 50, REPEATS = 5 };

int main(void)
{
    static const char *mols[5] = {"aspirin", "benzene", "uracil", "naphthalene",
                                  "toluene"};
    const char *dir = getenv("MLSHIFT_DATA");
    if (!dir || !*dir)
        dir = "../shared/data";
    static char paths[NFILES][4096];
    int nf = 0;
    for (int m = 0; m < 5; m++)
        for (int s = 0; s < 2; s++)
            for (int k = 1; k <= 5; k++)
                snprintf(paths[nf++], sizeof paths[0], "%s/rmd17/rmd17_%s_%s_%02d.npz",
                         dir, mols[m], s ? "test" : "train", k);

    mlshift_error err;
    char *bufs[NFILES];
    size_t lens[NFILES], bytes = 0;
    for (int i = 0; i < nf; i++) {
        if (ms_read_file(paths[i], &bufs[i], &lens[i], &err) != MLSHIFT_OK) {
            fprintf(stderr, "bench_npz: %s\n", err.message);
            return 1;
        }
        bytes += lens[i];
    }
    static const char *source[3] = {"disk", "memory", "stream"};
    for (int mode = 0; mode < 3; mode++) {
        double best = 1e30;
        size_t frames = 0, atoms = 0;
        for (int r = 0; r < REPEATS; r++) {
            mlshift_frames *fr = mlshift_frames_create();
            double t0 = bench_now(), sum = 0;
            size_t sf = 0, sa = 0;
            for (int i = 0; i < nf && mode == 2; i++)
                if (bench_stream(paths[i], &sf, &sa, &sum, &err)) {
                    fprintf(stderr, "bench_npz: %s\n", err.message);
                    return 1;
                }
            for (int i = 0; i < nf && mode < 2; i++) {
                mlshift_status st =
                    mode == 0 ? mlshift_read_npz(fr, paths[i], NULL, &err)
                              : mlshift_parse_npz(fr, (const unsigned char *)bufs[i],
                                                  lens[i], paths[i], NULL, &err);
                if (st != MLSHIFT_OK) {
                    fprintf(stderr, "bench_npz: %s\n", err.message);
                    return 1;
                }
            }
            double t = bench_now() - t0;
            if (t < best)
                best = t;
            frames = mode == 2 ? sf : mlshift_frames_count(fr);
            atoms = mode == 2 ? sa : mlshift_frames_total_atoms(fr);
            mlshift_frames_destroy(fr);
        }
        printf("{\"bench\":\"npz_read\",\"impl\":\"mlshift\",\"source\":\"%s\","
               "\"files\":%d,\"bytes\":%zu,\"frames\":%zu,\"atoms\":%zu,"
               "\"repeats\":%d,\"seconds\":%.6f,\"frames_per_s\":%.0f,"
               "\"mb_per_s\":%.1f}\n",
               source[mode], nf, bytes, frames, atoms, REPEATS,
               best, (double)frames / best, (double)bytes / best / 1e6);
    }
    for (int i = 0; i < nf; i++)
        free(bufs[i]);
    return 0;
}

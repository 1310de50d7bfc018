/* SPDX-License-Identifier: MIT */
/* Timing helpers every C benchmark uses: a monotonic clock, the median
 * of repeated measurements, and a streamed read. */
#ifndef MLSHIFT_BENCH_H
#define MLSHIFT_BENCH_H

#include <stdlib.h>
#include <time.h>

#include "mlshift.h"

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of t (n ≥ 1), sorting t in place. */
static inline double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    return t[n / 2];
}

/* Streams every frame of path through mlshift_reader (the way stats,
 * label, diagnose, convert and predict read since they stream, issue 12),
 * touching each position; frames and atoms are added to *frames, *atoms.
 * 0, or -1 with err filled. */
static inline int bench_stream(const char *path, size_t *frames, size_t *atoms,
                               double *checksum, mlshift_error *err)
{
    mlshift_reader *rd;
    if (mlshift_reader_open(path, NULL, &rd, err) != MLSHIFT_OK)
        return -1;
    mlshift_frame f;
    int got;
    mlshift_status st;
    while ((st = mlshift_reader_next(rd, &f, &got, err)) == MLSHIFT_OK && got) {
        *frames += 1;
        *atoms += f.natoms;
        for (size_t k = 0; k < 3 * f.natoms; k++)
            *checksum += f.positions[k];
    }
    mlshift_reader_close(rd);
    return st == MLSHIFT_OK ? 0 : -1;
}

#endif /* MLSHIFT_BENCH_H */

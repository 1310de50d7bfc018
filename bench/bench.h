/* SPDX-License-Identifier: MIT */
/* Timing helpers every C benchmark uses: a monotonic clock and the median
 * of repeated measurements. */
#ifndef MLSHIFT_BENCH_H
#define MLSHIFT_BENCH_H

#include <stdlib.h>
#include <time.h>

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

#endif /* MLSHIFT_BENCH_H */

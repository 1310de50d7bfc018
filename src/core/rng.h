/* SPDX-License-Identifier: MIT */
/* The project's one seeded generator: splitmix64 (Steele, Lea, Flood 2014),
 * a 64-bit state advanced by a Weyl constant and mixed; every stream is
 * fixed by its seed, so runs with the same seed are bit-identical. The
 * state is one uint64_t, which a checkpoint stores as it is. */
#ifndef MLSHIFT_RNG_H
#define MLSHIFT_RNG_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t ms_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* U[0, 1) with 53 random bits. */
static inline double ms_rng_uniform(uint64_t *s)
{
    return (double)(ms_rng_next(s) >> 11) * 0x1p-53;
}

/* Uniform integer in [0, n) without modulo bias (n ≥ 1). */
static inline uint64_t ms_rng_below(uint64_t *s, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, r;
    do
        r = ms_rng_next(s);
    while (r >= lim);
    return r % n;
}

/* Fisher–Yates shuffle of idx (n,). */
static inline void ms_rng_shuffle(uint64_t *s, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ms_rng_below(s, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* n standard normal deviates into x (n,), by Box–Muller on pairs of
 * uniforms (both of each pair used; x depends only on the state and n). */
void ms_normal_fill(uint64_t *s, double *x, size_t n);

#endif /* MLSHIFT_RNG_H */

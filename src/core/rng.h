/* SPDX-License-Identifier: MIT */
/* The library's one pseudo-random generator: splitmix64 (Steele, Lea and
 * Flood 2014), a 64-bit state advanced by a Weyl step and finalised by a
 * mixing function. Fast, passes BigCrush, and any seed (0 included) gives
 * a good stream. Not cryptographic. Not part of the public API. */
#ifndef MLSHIFT_RNG_H
#define MLSHIFT_RNG_H

#include <stddef.h>
#include <stdint.h>

/* The next 64 random bits; advances *state. */
uint64_t ms_splitmix64(uint64_t *state);
/* Uniform on [0, 1) with 53 random bits. */
double ms_uniform(uint64_t *state);
/* n standard normal deviates into x (n,), by Box–Muller on pairs of
 * uniforms (the second of each pair used, not cached, so x depends only on
 * the state and n). */
void ms_normal_fill(uint64_t *state, double *x, size_t n);

#endif /* MLSHIFT_RNG_H */

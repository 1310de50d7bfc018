/* SPDX-License-Identifier: MIT */
/* splitmix64 and what is built on it (rng.h). Box–Muller: for u1 in (0, 1]
 * and u2 in [0, 1), √(−2 ln u1)·(cos 2πu2, sin 2πu2) are two independent
 * standard normals. */
#include <math.h>

#include "rng.h"

uint64_t ms_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double ms_uniform(uint64_t *state)
{
    return (double)(ms_splitmix64(state) >> 11) * 0x1p-53;
}

void ms_normal_fill(uint64_t *state, double *x, size_t n)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - ms_uniform(state); /* (0, 1]: log is finite */
        double u2 = ms_uniform(state);
        double r = sqrt(-2.0 * log(u1));
        x[i] = r * cos(two_pi * u2);
        if (i + 1 < n)
            x[i + 1] = r * sin(two_pi * u2);
    }
}

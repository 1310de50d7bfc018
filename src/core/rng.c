/* SPDX-License-Identifier: MIT */
/* Normal deviates from the splitmix64 stream (rng.h). Box–Muller: for u1 in (0, 1]
 * and u2 in [0, 1), √(−2 ln u1)·(cos 2πu2, sin 2πu2) are two independent
 * standard normals. */
#include <math.h>

#include "rng.h"

void ms_normal_fill(uint64_t *state, double *x, size_t n)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - ms_rng_uniform(state); /* (0, 1]: log is finite */
        double u2 = ms_rng_uniform(state);
        double r = sqrt(-2.0 * log(u1));
        x[i] = r * cos(two_pi * u2);
        if (i + 1 < n)
            x[i + 1] = r * sin(two_pi * u2);
    }
}

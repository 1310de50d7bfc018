/* SPDX-License-Identifier: MIT */
/* kernels.inc compiled for double (name_f64) and for float (name_f32).
 *
 * Each kernel is compiled three times more, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2 + FMA) and the baseline, and the loader picks the one
 * the CPU runs (GCC's target_clones, an ifunc): the binary still runs on
 * any x86-64 while the loops use the widest vectors the machine has.
 * Build with -DMS_NO_CLONES (or a compiler without target_clones) for one
 * baseline copy.
 *
 * The float instance's exp is ms_expf below, not libm's expf: the
 * vectoriser cannot call libm, and silu on an (E, F) edge tensor is most
 * of SchNet's elementwise time. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bcast.h" /* last: its vectoriser pragma covers this file only */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 11 && \
    !defined(MS_NO_CLONES)
#define MS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MS_CLONES
#endif
#if defined(__GNUC__)
#define MS_INLINE static inline __attribute__((always_inline))
#else
#define MS_INLINE static inline
#endif

/* eˣ in float without a branch or a call, so that a loop of it
 * vectorises: x = k ln 2 + r (Cody–Waite, |r| ≤ ln 2 / 2), eʳ by Cephes'
 * degree-6 polynomial (within 2 ulp of expf on the clamped range),
 * 2ᵏ built in the exponent bits. x is clamped to [−87.3, 88.3], where 2ᵏ
 * is a normal float: below, the result is ~1e-38 instead of 0 or a
 * denormal (irrelevant next to 1 in a sigmoid); above, ~2e38 instead of
 * inf. NaN stays NaN (the polynomial runs on 0 instead, the select
 * returns x). */
MS_INLINE float ms_expf(float x)
{
    float c = x == x ? x : 0.0f; /* NaN: computed on 0 (no UB converting k), then x */
    c = c < -87.3f ? -87.3f : c;
    c = c > 88.3f ? 88.3f : c;
    float k = rintf(c * 1.44269504088896341f);
    float r = c - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23; /* k + 127 in [1, 254] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
}

#define T double
#define FN(x) x##_f64
#define EXP exp
#define LOG log
#define SQRT sqrt
#define SIN sin
#define COS cos
#define TANH tanh
#define POW pow
#include "kernels.inc"
#undef T
#undef FN
#undef EXP
#undef LOG
#undef SQRT
#undef SIN
#undef COS
#undef TANH
#undef POW

#define T float
#define FN(x) x##_f32
#define EXP ms_expf
#define LOG logf
#define SQRT sqrtf
#define SIN sinf
#define COS cosf
#define TANH tanhf
#define POW powf
#include "kernels.inc"

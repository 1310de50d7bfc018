/* SPDX-License-Identifier: MIT */
/* Decimal text -> double, correctly rounded, fast in the common case.
 *
 * A decimal number is m · 10^e with m an integer. When m <= 2^53 and
 * |e| <= 22, both m and 10^|e| are exactly representable doubles, so the
 * IEEE product m · 10^e (or quotient m / 10^-e) is the correctly rounded
 * value of the exact decimal (Clinger 1990, "How to read floating point
 * numbers accurately"). That covers every coordinate and force written with
 * up to 15 significant digits. Longer mantissas (17-digit reprs above 2^53),
 * huge exponents and subnormals go to strtod, which glibc rounds correctly.
 * This needs strict IEEE double arithmetic: no -ffast-math, FLT_EVAL_METHOD 0
 * (x86-64 SSE2, aarch64). */
#include "numparse.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static int lower(char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

/* Case-insensitive match of word at [p, end); returns its length or 0. */
static size_t match_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != word[i])
            return 0;
    return n;
}

/* strtod on a NUL-terminated copy of [s, e). */
static int slow_path(const char *s, const char *e, double *out)
{
    char small[128];
    size_t n = (size_t)(e - s);
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *stop;
    *out = strtod(buf, &stop);
    int ok = stop == buf + n;
    if (buf != small)
        free(buf);
    return ok ? 0 : -1;
}

/* Eight ASCII digits at once (SWAR, as in simdjson and fast_float): the
 * test and the conversion of a little-endian 8-byte load. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MS_SWAR 1
static int eight_digits(uint64_t v)
{
    return ((v & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
            (((v + UINT64_C(0x0606060606060606)) &
              UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

static uint64_t eight_value(uint64_t v)
{
    v -= UINT64_C(0x3030303030303030);
    v = v * 10 + (v >> 8);
    v = ((v & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32)) +
         ((v >> 16) & UINT64_C(0x000000FF000000FF)) *
             (1 + (UINT64_C(10000) << 32))) >> 32;
    return v & 0xFFFFFFFFu;
}
#else
#define MS_SWAR 0
#endif

const char *ms_parse_double(const char *p, const char *end, double *out,
                            int flags)
{
    const char *s = p;
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p >= end)
        return NULL;
    if ((flags & MS_NUM_SPECIAL) && (lower(*p) == 'n' || lower(*p) == 'i')) {
        size_t k;
        if ((k = match_word(p, end, "nan"))) {
            *out = neg ? -NAN : NAN;
        } else if ((k = match_word(p, end, "infinity")) ||
                   (k = match_word(p, end, "inf"))) {
            *out = neg ? -INFINITY : INFINITY;
        } else {
            return NULL;
        }
        return p + k;
    }
    /* m accumulates every digit; it is exact while there are at most 19
     * (10^19 < 2^64), and past that unsigned wrap-around is harmless
     * because we then take the slow path. */
    uint64_t m = 0;
    const char *ds = p;
    while (p < end && (unsigned)(*p - '0') < 10)
        m = 10 * m + (uint64_t)(*p++ - '0');
    size_t ndig = (size_t)(p - ds);
    long e10 = 0;
    if (p < end && *p == '.') {
        const char *fs = ++p;
#if MS_SWAR
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (!eight_digits(v))
                break;
            m = m * 100000000u + eight_value(v);
            p += 8;
        }
#endif
        while (p < end && (unsigned)(*p - '0') < 10)
            m = 10 * m + (uint64_t)(*p++ - '0');
        size_t nf = (size_t)(p - fs);
        ndig += nf;
        e10 = -(long)(nf < 100000000 ? nf : 100000000);
    }
    if (ndig == 0)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0;
        if (q < end && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        if (q < end && (unsigned)(*q - '0') < 10) {
            long x = 0;
            while (q < end && (unsigned)(*q - '0') < 10) {
                if (x < 100000000)
                    x = 10 * x + (*q - '0');
                q++;
            }
            e10 += eneg ? -x : x;
            p = q;
        } else {
            return NULL; /* "1e", "1e+": not a number for float() */
        }
    }
    if (ndig <= 19) {
        if (m == 0) {
            *out = neg ? -0.0 : 0.0;
            return p;
        }
        if (m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
            double v = (double)m;
            v = e10 >= 0 ? v * pow10_exact[e10] : v / pow10_exact[-e10];
            *out = neg ? -v : v;
            return p;
        }
    }
    if (slow_path(s, p, out))
        return NULL;
    return p;
}

int ms_format_double(char *buf, size_t cap, double v)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (prec == 17 || !isfinite(v) || strtod(buf, NULL) == v)
            break;
    }
    return n;
}

/* SPDX-License-Identifier: MIT */
/* Seeded train/val/test splits and deduplication by an info key.
 *
 * The shuffle is Fisher–Yates driven by splitmix64 (Steele, Lea, Flood 2014),
 * drawing j uniformly in [0, i] by rejection, so a seed gives the same split
 * on every platform and in every version. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/util.h"
#include "frames.h"

/* A size given as a count (>= 1) or a fraction of n (< 1). */
static size_t resolve(double v, size_t n)
{
    if (v >= 1.0)
        return (size_t)v;
    return (size_t)floor(v * (double)n + 0.5);
}

mlshift_status mlshift_split(size_t n, const mlshift_split_spec *spec,
                             uint64_t seed, size_t *perm, size_t counts[3],
                             mlshift_error *err)
{
    const double v[3] = {spec->train, spec->val, spec->test};
    for (int k = 0; k < 3; k++)
        if (isnan(v[k]) || (k < 2 && v[k] < 0) ||
            (v[k] >= 1.0 && v[k] != floor(v[k])))
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "split: size %g is neither a count nor a fraction",
                           v[k]);
    size_t c[3] = {resolve(v[0], n), resolve(v[1], n), 0};
    if (c[0] + c[1] > n)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "split: train %zu + val %zu exceed the %zu frames",
                       c[0], c[1], n);
    c[2] = v[2] < 0 ? n - c[0] - c[1] : resolve(v[2], n);
    if (c[0] + c[1] + c[2] > n)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "split: train %zu + val %zu + test %zu exceed the %zu "
                       "frames", c[0], c[1], c[2], n);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t state = seed;
    ms_rng_shuffle(&state, perm, n);
    memcpy(counts, c, sizeof c);
    return MLSHIFT_OK;
}

/* Open-addressing set of strings (FNV-1a), for deduplication. The strings
 * live back to back in one growing buffer and the slots hold offsets + 1
 * (0 = empty), so the buffer may move while the set grows. */
typedef struct strset {
    size_t *slot;           /* (cap,) offset + 1 into buf, 0 = empty */
    size_t cap, n;
    char *buf;              /* the distinct strings, NUL-terminated */
    size_t len, buf_cap;
} strset;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Inserts a copy of s; returns 1 if it was new, 0 if present, -1 nomem. */
static int strset_add(strset *set, const char *s)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t nc = set->cap ? 2 * set->cap : 1024;
        size_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < set->cap; i++)
            if (set->slot[i]) {
                size_t h = fnv1a(set->buf + set->slot[i] - 1) & (nc - 1);
                while (ns[h])
                    h = (h + 1) & (nc - 1);
                ns[h] = set->slot[i];
            }
        free(set->slot);
        set->slot = ns;
        set->cap = nc;
    }
    size_t h = fnv1a(s) & (set->cap - 1);
    while (set->slot[h]) {
        if (strcmp(set->buf + set->slot[h] - 1, s) == 0)
            return 0;
        h = (h + 1) & (set->cap - 1);
    }
    size_t l = strlen(s) + 1;
    if (ms_grow((void **)&set->buf, &set->buf_cap, set->len + l, 1))
        return -1;
    memcpy(set->buf + set->len, s, l);
    set->slot[h] = set->len + 1;
    set->len += l;
    set->n++;
    return 1;
}

mlshift_status mlshift_dedup(const mlshift_frames *fr, const char *key,
                             size_t *idx, size_t *n_out, mlshift_error *err)
{
    char v[512];
    strset set = {0};
    size_t n = 0;
    mlshift_status st = MLSHIFT_OK;
    for (size_t i = 0; i < fr->n; i++) {
        /* The key is "formula|value": an index repeats across molecules
         * (rMD17's old_index does), a frame does not. */
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        mlshift_formula(&f, v, sizeof v / 2);
        size_t fl = strlen(v);
        v[fl++] = '|';
        if (!mlshift_info_get(fr->info + fr->info_off[i], key, v + fl,
                              sizeof v - fl)) {
            idx[n++] = i;
            continue;
        }
        int r = strset_add(&set, v);
        if (r < 0) {
            st = ms_fail(err, MLSHIFT_ERR_NOMEM, "dedup: out of memory");
            break;
        }
        if (r)
            idx[n++] = i;
    }
    free(set.slot);
    free(set.buf);
    *n_out = n;
    if (st == MLSHIFT_OK && fr->n && !set.n)
        st = ms_fail(err, MLSHIFT_ERR_MISSING, "no frame has the info key '%s' "
                     "(nothing to deduplicate by; rMD17 npz: old_index)", key);
    return st;
}

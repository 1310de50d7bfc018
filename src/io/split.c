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
#include "strset.h"

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

struct mlshift_dedup_set {
    ms_strset set;
    char *key;
    size_t frames;          /* frames seen */
};

mlshift_dedup_set *mlshift_dedup_set_create(const char *key)
{
    mlshift_dedup_set *d = calloc(1, sizeof *d);
    if (!d || !key || !(d->key = malloc(strlen(key) + 1))) {
        free(d);
        return NULL;
    }
    strcpy(d->key, key);
    return d;
}

mlshift_status mlshift_dedup_set_add(mlshift_dedup_set *d,
                                     const mlshift_frame *f, int *keep,
                                     mlshift_error *err)
{
    /* The key is "formula|value": an index repeats across molecules
     * (rMD17's old_index does), a frame does not. */
    char v[512];
    d->frames++;
    mlshift_formula(f, v, sizeof v / 2);
    size_t fl = strlen(v);
    v[fl++] = '|';
    if (!mlshift_info_get(f->info ? f->info : "", d->key, v + fl, sizeof v - fl)) {
        *keep = 1;
        return MLSHIFT_OK;
    }
    int r = ms_strset_add(&d->set, v);
    if (r < 0) {
        *keep = 0;
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "dedup: out of memory");
    }
    *keep = r;
    return MLSHIFT_OK;
}

mlshift_status mlshift_dedup_set_finish(const mlshift_dedup_set *d,
                                        mlshift_error *err)
{
    if (d->frames && !d->set.n)
        return ms_fail(err, MLSHIFT_ERR_MISSING, "no frame has the info key '%s' "
                       "(nothing to deduplicate by; rMD17 npz: old_index)",
                       d->key);
    return MLSHIFT_OK;
}

void mlshift_dedup_set_destroy(mlshift_dedup_set *d)
{
    if (!d)
        return;
    ms_strset_free(&d->set);
    free(d->key);
    free(d);
}

mlshift_status mlshift_dedup(const mlshift_frames *fr, const char *key,
                             size_t *idx, size_t *n_out, mlshift_error *err)
{
    size_t n = 0;
    *n_out = 0;
    mlshift_dedup_set *d = mlshift_dedup_set_create(key);
    if (!d)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "dedup: out of memory");
    mlshift_status st = MLSHIFT_OK;
    for (size_t i = 0; i < fr->n && st == MLSHIFT_OK; i++) {
        mlshift_frame f;
        int keep;
        mlshift_frames_get(fr, i, &f);
        if ((st = mlshift_dedup_set_add(d, &f, &keep, err)) == MLSHIFT_OK && keep)
            idx[n++] = i;
    }
    *n_out = n;
    if (st == MLSHIFT_OK)
        st = mlshift_dedup_set_finish(d, err);
    mlshift_dedup_set_destroy(d);
    return st;
}

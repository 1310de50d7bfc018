/* SPDX-License-Identifier: MIT */
/* A set of strings: open addressing on FNV-1a hashes, for deduplication
 * keys and the distinct compositions of a training set. */
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "strset.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Inserts a copy of s; returns 1 if it was new, 0 if present, -1 nomem. */
int ms_strset_add(ms_strset *set, const char *s)
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


void ms_strset_free(ms_strset *set)
{
    free(set->slot);
    free(set->buf);
    memset(set, 0, sizeof *set);
}

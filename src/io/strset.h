/* SPDX-License-Identifier: MIT */
/* A set of strings (internal). */
#ifndef MLSHIFT_STRSET_H
#define MLSHIFT_STRSET_H

#include <stddef.h>

/* Open-addressing set of strings (FNV-1a). The strings live back to back
 * in one growing buffer and the slots hold offsets + 1 (0 = empty), so the
 * buffer may move while the set grows. A zeroed struct is empty. */
typedef struct ms_strset {
    size_t *slot;           /* (cap,) offset + 1 into buf, 0 = empty */
    size_t cap, n;
    char *buf;              /* the distinct strings, NUL-terminated */
    size_t len, buf_cap;
} ms_strset;

/* Inserts a copy of s; returns 1 if it was new, 0 if present, -1 when out
 * of memory. */
int ms_strset_add(ms_strset *set, const char *s);
void ms_strset_free(ms_strset *set);

#endif /* MLSHIFT_STRSET_H */

/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by every module: errors, whole-file reads and
 * atomic writes. Not part of the public API. */
#ifndef MLSHIFT_UTIL_H
#define MLSHIFT_UTIL_H

#include <stdio.h>
#include "mlshift.h"

#if defined(__GNUC__)
#define MS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MS_PRINTF(a, b)
#endif

/* Fills err (if non-NULL) with status s and a formatted message; returns s,
 * so a failing path reads `return ms_fail(err, MLSHIFT_ERR_FORMAT, …);`. */
mlshift_status ms_fail(mlshift_error *err, mlshift_status s, const char *fmt,
                       ...) MS_PRINTF(3, 4);

/* Reads a whole file into a malloc'ed buffer with a terminating NUL (not
 * counted in *len). */
mlshift_status ms_read_file(const char *path, char **data, size_t *len,
                            mlshift_error *err);

/* Atomic output (the rules are mlshift_outputs_begin's in mlshift.h):
 * ms_atomic_open resolves symbolic links and creates "<real>.tmp.<pid>"
 * (registered for mlshift_remove_temporaries) with the permissions of the
 * file it replaces, or opens a FIFO/device directly; ms_atomic_commit
 * flushes, closes and renames it over the real path (or holds it back while
 * outputs are staged), reporting any write error; ms_atomic_abort closes and
 * removes it. */
typedef struct ms_atomic_file {
    FILE *fp;
    int direct;         /* writing straight into a FIFO or device */
    char *reg;          /* the registered copy of tmp (malloc'ed) */
    char path[4096];    /* the real path: symbolic links followed */
    char tmp[4200];     /* "" when there is none */
} ms_atomic_file;
mlshift_status ms_atomic_open(ms_atomic_file *af, const char *path,
                              mlshift_error *err);
mlshift_status ms_atomic_commit(ms_atomic_file *af, mlshift_error *err);
void ms_atomic_abort(ms_atomic_file *af);

/* Grows *p (an array of elem-sized items with capacity *cap) to hold at
 * least need items, doubling. Returns 0 on success, -1 out of memory. */
int ms_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Seconds on a monotonic clock (for durations and progress). */
double ms_now(void);

/* Does a stored checksum match the computed one? Fuzzing builds (scripts/
 * fuzz defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the libFuzzer and
 * OSS-Fuzz convention) say yes always, so that a mutated file reaches the
 * parser behind its checksum instead of stopping there. Never defined in
 * any other build. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define MS_CHECKSUM_OK(computed, stored) ((void)(computed), (void)(stored), 1)
#else
#define MS_CHECKSUM_OK(computed, stored) ((computed) == (stored))
#endif

#endif /* MLSHIFT_UTIL_H */

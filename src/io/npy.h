/* SPDX-License-Identifier: MIT */
/* numpy's .npy array format and the .npz archives of them: a described view
 * of one array's bytes, converters to double and int64 in C order, and a
 * small archive API (open, list keys, get an array by key). Shared by the
 * frames reader (npz.c) and the sGDML model loader. Not part of the public
 * API.
 *
 *     ms_npz npz;
 *     ms_npy a;
 *     if (ms_npz_open(&npz, "model.npz", err) != MLSHIFT_OK) return …;
 *     if (ms_npz_get(&npz, "R_desc", &a, err) == MLSHIFT_OK) {
 *         double *x = malloc(a.count * sizeof *x);   // shape a.shape[0..ndim)
 *         ms_npy_to_double(&a, x, err);              // C order, whatever a's order
 *         ms_npy_free(&a);
 *     }
 *     ms_npz_close(&npz);
 */
#ifndef MLSHIFT_NPY_H
#define MLSHIFT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"
#include "zip.h"

#define MS_NPY_MAXDIM 32

/* One array: its description and a view of its raw element bytes. */
typedef struct ms_npy {
    char descr[32];             /* as written, e.g. "<f8" */
    char kind;                  /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int itemsize;               /* bytes per element: 1, 2, 4 or 8 */
    int swap;                   /* 1 if the bytes are in the other byte order */
    int fortran;                /* 1 if stored in Fortran (column-major) order */
    int ndim;
    size_t shape[MS_NPY_MAXDIM];/* (ndim,) */
    size_t count;               /* product of shape (1 for ndim 0) */
    const unsigned char *data;  /* (count * itemsize,) raw, possibly unaligned */
    unsigned char *owned;       /* buffer to free (a deflated member), or NULL */
    char where[1100];           /* "FILE:KEY", labels errors */
} ms_npy;

/* Parses a .npy image (versions 1.0, 2.0, 3.0) of len bytes; a->data points
 * into buf. Dtypes: f8 f4 i8 i4 i2 i1 u8 u4 u2 u1 b1 in either byte order;
 * others ('|O', '<U7', structured) are MLSHIFT_ERR_UNSUPPORTED. `where`
 * ("FILE:KEY") labels errors; a keeps a copy. */
mlshift_status ms_npy_parse(ms_npy *a, const unsigned char *buf, size_t len,
                            const char *where, mlshift_error *err);
/* Frees a->owned and clears a. */
void ms_npy_free(ms_npy *a);

/* Size of the first axis (1 for a 0-d array) and of one row of it. */
size_t ms_npy_rows(const ms_npy *a);
size_t ms_npy_row_size(const ms_npy *a);

/* Converts rows [row0, row0 + nrows) of the first axis to C-order doubles:
 * out (nrows · row_size,). Integers convert exactly up to 2^53. */
mlshift_status ms_npy_to_double_rows(const ms_npy *a, size_t row0, size_t nrows,
                                     double *out, mlshift_error *err);
/* The whole array: out (count,). */
mlshift_status ms_npy_to_double(const ms_npy *a, double *out, mlshift_error *err);
/* The whole array as int64, C order: out (count,). Floats must be whole
 * numbers and unsigned values ≤ INT64_MAX, else MLSHIFT_ERR_VALUE. */
mlshift_status ms_npy_to_int64(const ms_npy *a, int64_t *out, mlshift_error *err);

/* 1 if a's shape equals dims (ndim entries; an entry of -1 matches any
 * size). */
int ms_npy_shape_is(const ms_npy *a, int ndim, const long *dims);
/* Writes a's shape as numpy prints it, "(1000, 21, 3)" or "(21,)". */
void ms_npy_shape_str(const ms_npy *a, char *buf, size_t cap);

/* ------------------------------------------------------------------ npz */

/* An opened npz: the archive plus, when opened from a path, the file's
 * bytes. Keys are member names without their ".npy" suffix; members that do
 * not end in ".npy" are not keys. */
typedef struct ms_npz {
    ms_zip zip;
    unsigned char *file;        /* owned file bytes (ms_npz_open), or NULL */
    char **keys;                /* (zip.n,) key of each member, or NULL */
    char *keybuf;               /* the keys' bytes, one block */
    char name[1024];            /* labels errors */
} ms_npz;

/* Opens an npz held in memory (the buffer must outlive npz) or a file.
 * Not a zip, or a zip without .npy members, is MLSHIFT_ERR_FORMAT. */
mlshift_status ms_npz_open_memory(ms_npz *npz, const unsigned char *data,
                                  size_t len, const char *name,
                                  mlshift_error *err);
mlshift_status ms_npz_open(ms_npz *npz, const char *path, mlshift_error *err);
void ms_npz_close(ms_npz *npz);

/* Keys: ms_npz_key(npz, i) for i < ms_npz_count(npz) is the i-th member's
 * name without ".npy", or NULL if member i is not an array. */
size_t ms_npz_count(const ms_npz *npz);
const char *ms_npz_key(const ms_npz *npz, size_t i);
/* 1 if key exists. */
int ms_npz_has(const ms_npz *npz, const char *key);
/* Extracts and parses the array `key` (the last one if repeated). Missing
 * key: MLSHIFT_ERR_MISSING. a->where is "NAME:KEY". Free a with
 * ms_npy_free; a stored member's bytes stay inside npz, so a must not
 * outlive it. */
mlshift_status ms_npz_get(ms_npz *npz, const char *key, ms_npy *a,
                          mlshift_error *err);

#endif /* MLSHIFT_NPY_H */

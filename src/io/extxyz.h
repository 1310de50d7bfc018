/* SPDX-License-Identifier: MIT */
/* Extended XYZ internals shared by the reader, the writer and later modules:
 * the comment-line key=value splitter (ASE's rules), the canonical encoding
 * of one key=value pair, and the writer with extra named columns. */
#ifndef MLSHIFT_EXTXYZ_H
#define MLSHIFT_EXTXYZ_H

#include <stddef.h>

#include "mlshift.h"

/* ------------------------------------------------------------ key=value */

/* One pair of a comment line; key and value are decoded (quotes and
 * backslash escapes removed) and live in ms_kv_list.buf. */
typedef struct ms_kv {
    size_t key, klen;    /* offset and length of the key in buf */
    size_t val, vlen;    /* offset and length of the value in buf */
    int has_val;         /* 0: a bare key (ASE reads it as True) */
} ms_kv;

/* Reusable storage for the pairs of one line: parse many lines into the
 * same list and it stops allocating once it is large enough. */
typedef struct ms_kv_list {
    ms_kv *kv;           /* (n,) pairs in order of appearance */
    size_t n, cap;
    char *buf;           /* decoded text, cap_buf bytes */
    size_t cap_buf;
} ms_kv_list;

/* Splits s[0, len) into pairs exactly as ase.io.extxyz.key_val_str_to_dict
 * (ASE 3.22) does: blanks separate pairs; "…", '…', {…} and […] delimit;
 * a backslash escapes the next character anywhere; blanks around '=' are
 * allowed; further '=' join into the value. Pairs with an empty key are
 * dropped. Returns 0, or -1 when out of memory. */
int ms_kv_parse(ms_kv_list *l, const char *s, size_t len);
void ms_kv_free(ms_kv_list *l);

/* Index of the last pair whose key is `key`, or -1. */
long ms_kv_find(const ms_kv_list *l, const char *key);

/* Appends " key" or " key=value" (leading blank only when *len > 0) to the
 * NUL-terminated growable string *s (capacity *cap), quoting key or value
 * with "…" and escaping \ and " where ASE and mlshift_info_get need it.
 * Newlines and NUL bytes become blanks. Returns 0, or -1 out of memory. */
int ms_kv_append(char **s, size_t *len, size_t *cap, const char *key,
                 size_t klen, const char *val, size_t vlen, int has_val);

/* Python's str.split() blanks as far as ASCII goes (newline included). */
static inline int ms_is_blank(char c)
{
    unsigned char u = (unsigned char)c;
    return u == ' ' || (u >= 9 && u <= 13) || (u >= 0x1c && u <= 0x1f);
}

/* -------------------------------------------------------------- writer */

/* An extra named quantity written beside the standard ones. per_atom = 1:
 * a per-atom property name:R:ncols, data (A, ncols) over all atoms of the
 * set in order; per_atom = 0: a per-frame info key, data (n, ncols), written
 * as name=v (ncols 1) or name="v1 v2 …". Names must be plain identifiers
 * ([A-Za-z0-9_-], not starting with a digit or '-') and must not clash with
 * the standard keys. NaN/Inf are written as nan/inf. */
typedef struct ms_extxyz_extra {
    const char *name;
    int per_atom;
    int ncols;
    const double *data;  /* (A, ncols) or (n, ncols) */
} ms_extxyz_extra;

/* mlshift_write_extxyz plus n_extra extra quantities (extra may be NULL
 * when n_extra is 0). Atomic like mlshift_write_extxyz. */
mlshift_status ms_write_extxyz_extra(const mlshift_frames *fr, const char *path,
                                     const mlshift_write_options *opt,
                                     const ms_extxyz_extra *extra,
                                     size_t n_extra, mlshift_error *err);

#endif /* MLSHIFT_EXTXYZ_H */

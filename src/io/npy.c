/* SPDX-License-Identifier: MIT */
/* The .npy format (numpy NEP 1) and npz archives of .npy members.
 *
 * A .npy image is
 *   "\x93NUMPY" | major | minor | header length (u16 LE for 1.0, u32 LE for
 *   2.0 and 3.0) | header | data
 * where the header is a Python dict literal padded with spaces and ending
 * in '\n', e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (1000, 21, 3), }
 * and the data are count = Π shape elements of descr, in C (row-major) or
 * Fortran (column-major) order. We parse exactly that dict grammar (the
 * three keys, each once, in any order) rather than general Python.
 *
 * Conversions produce C order whatever the stored order: for a Fortran
 * array of shape (s0, …, s_{d-1}) element (i0, …, i_{d-1}) sits at flat
 * index i0 + s0·(i1 + s1·(i2 + …)), which an odometer over the C-order
 * output walks incrementally. Elements are read with memcpy (member data in
 * a zip are not aligned) and byte-swapped when the array's byte order is not
 * the host's. */
#include "npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

static int host_little(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ------------------------------------------------------------ header */

typedef struct hdr_cursor {
    const char *p, *end;
} hdr_cursor;

static void skip_ws(hdr_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
                             *c->p == '\r'))
        c->p++;
}

static int eat(hdr_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into buf (cap bytes). 0 on success. */
static int parse_str(hdr_cursor *c, char *buf, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap)
            return -1;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    buf[n] = '\0';
    return 0;
}

static int parse_word(hdr_cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Shape tuple "(a, b, )" or "()". 0 on success. */
static int parse_shape(hdr_cursor *c, ms_npy *a)
{
    if (!eat(c, '('))
        return -1;
    a->ndim = 0;
    for (;;) {
        if (eat(c, ')'))
            return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -1;
        size_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            size_t d = (size_t)(*c->p++ - '0');
            if (v > (SIZE_MAX - d) / 10)
                return -1;
            v = 10 * v + d;
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 long literals */
            c->p++;
        if (a->ndim >= MS_NPY_MAXDIM)
            return -1;
        a->shape[a->ndim++] = v;
        if (eat(c, ','))
            continue;
        if (eat(c, ')'))
            return a->ndim == 1 ? -1 : 0; /* "(5)" is not a tuple */
        return -1;
    }
}

static mlshift_status parse_descr(ms_npy *a, mlshift_error *err)
{
    const char *d = a->descr;
    char order = d[0];
    if (!strchr("<>|=", order) || !d[0] || !d[1])
        goto unsupported;
    char kind = d[1];
    const char *s = d + 2;
    int size = 0;
    if (!(*s >= '1' && *s <= '9'))
        goto unsupported;
    while (*s >= '0' && *s <= '9' && size < 1000)
        size = 10 * size + (*s++ - '0');
    if (*s)
        goto unsupported;
    int ok = (kind == 'f' && (size == 4 || size == 8)) ||
             ((kind == 'i' || kind == 'u') &&
              (size == 1 || size == 2 || size == 4 || size == 8)) ||
             (kind == 'b' && size == 1);
    if (!ok)
        goto unsupported;
    a->kind = kind;
    a->itemsize = size;
    a->swap = size > 1 && ((order == '>' && host_little()) ||
                           (order == '<' && !host_little()));
    return MLSHIFT_OK;
unsupported:
    return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                   "%s: dtype '%s' is not supported (numeric dtypes only: "
                   "f8 f4 i8 i4 i2 i1 u8 u4 u2 u1 b1)", a->where, a->descr);
}

void ms_npy_free(ms_npy *a)
{
    free(a->owned);
    memset(a, 0, sizeof *a);
}

mlshift_status ms_npy_parse(ms_npy *a, const unsigned char *buf, size_t len,
                            const char *where, mlshift_error *err)
{
    memset(a, 0, sizeof *a);
    snprintf(a->where, sizeof a->where, "%s", where ? where : "npy");
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: not a .npy array (no \\x93NUMPY magic)", a->where);
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: truncated .npy header",
                           a->where);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        hoff = 12;
    } else {
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s: .npy format version %d.%d is not supported (1.0, "
                       "2.0, 3.0)", a->where, major, buf[7]);
    }
    if (hlen > len - hoff)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: .npy header (%zu bytes) runs past the end of the "
                       "array (%zu bytes)", a->where, hlen, len);

    hdr_cursor c = {(const char *)buf + hoff, (const char *)buf + hoff + hlen};
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    if (!eat(&c, '{'))
        goto bad_header;
    for (;;) {
        if (eat(&c, '}'))
            break;
        char key[32];
        if (parse_str(&c, key, sizeof key) != 0 || !eat(&c, ':'))
            goto bad_header;
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                               "%s: structured dtypes are not supported",
                               a->where);
            if (parse_str(&c, a->descr, sizeof a->descr) != 0)
                goto bad_header;
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (parse_word(&c, "True"))
                a->fortran = 1;
            else if (parse_word(&c, "False"))
                a->fortran = 0;
            else
                goto bad_header;
            seen_order = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if (parse_shape(&c, a) != 0)
                goto bad_header;
            seen_shape = 1;
        } else {
            goto bad_header;
        }
        if (eat(&c, ','))
            continue;
        if (eat(&c, '}'))
            break;
        goto bad_header;
    }
    skip_ws(&c);
    if (c.p != c.end || !seen_descr || !seen_order || !seen_shape)
        goto bad_header;

    mlshift_status st = parse_descr(a, err);
    if (st != MLSHIFT_OK)
        return st;
    size_t count = 1;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] && count > SIZE_MAX / a->shape[d])
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: shape too large",
                           a->where);
        count *= a->shape[d];
    }
    size_t avail = len - hoff - hlen;
    if (count > avail / (size_t)a->itemsize) {
        char sh[256];
        ms_npy_shape_str(a, sh, sizeof sh);
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: truncated array: shape %s of '%s' needs %zu bytes, "
                       "%zu present", a->where, sh, a->descr,
                       count > SIZE_MAX / (size_t)a->itemsize
                           ? SIZE_MAX : count * (size_t)a->itemsize, avail);
    }
    a->count = count;
    a->data = buf + hoff + hlen;
    return MLSHIFT_OK;
bad_header:
    return ms_fail(err, MLSHIFT_ERR_FORMAT,
                   "%s: malformed .npy header (want {'descr': …, "
                   "'fortran_order': …, 'shape': (…)})", a->where);
}

size_t ms_npy_rows(const ms_npy *a) { return a->ndim ? a->shape[0] : 1; }

size_t ms_npy_row_size(const ms_npy *a)
{
    size_t r = 1;
    for (int d = 1; d < a->ndim; d++)
        r *= a->shape[d];
    return r;
}

int ms_npy_shape_is(const ms_npy *a, int ndim, const long *dims)
{
    if (a->ndim != ndim)
        return 0;
    for (int d = 0; d < ndim; d++)
        if (dims[d] >= 0 && a->shape[d] != (size_t)dims[d])
            return 0;
    return 1;
}

void ms_npy_shape_str(const ms_npy *a, char *buf, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
    buf[0] = '\0';
    o += (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < a->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %zu" : "%zu", a->shape[d]);
    if (o < cap)
        snprintf(buf + o, cap - o, a->ndim == 1 ? ",)" : ")");
}

/* ------------------------------------------------------------ elements */

/* The raw bits of element i, byte-swapped into host order. */
static uint64_t load_bits(const ms_npy *a, size_t i)
{
    const unsigned char *p = a->data + i * (size_t)a->itemsize;
    unsigned char b[8];
    int n = a->itemsize;
    if (a->swap)
        for (int k = 0; k < n; k++)
            b[k] = p[n - 1 - k];
    else
        memcpy(b, p, (size_t)n);
    switch (n) {
    case 1: return b[0];
    case 2: { uint16_t v; memcpy(&v, b, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, b, 4); return v; }
    default: { uint64_t v; memcpy(&v, b, 8); return v; }
    }
}

static double elem_double(const ms_npy *a, size_t i)
{
    uint64_t u = load_bits(a, i);
    switch (a->kind) {
    case 'f':
        if (a->itemsize == 8) {
            double v;
            memcpy(&v, &u, 8);
            return v;
        } else {
            uint32_t w = (uint32_t)u;
            float v;
            memcpy(&v, &w, 4);
            return (double)v;
        }
    case 'i':
        switch (a->itemsize) {
        case 1: return (double)(int8_t)(uint8_t)u;
        case 2: return (double)(int16_t)(uint16_t)u;
        case 4: return (double)(int32_t)(uint32_t)u;
        default: return (double)(int64_t)u;
        }
    case 'u': return (double)u;
    default: return u ? 1.0 : 0.0; /* bool */
    }
}

/* Source flat index of each C-order index k in [k0, k0 + n), as a
 * callback-free odometer: fills src (n,). Only for Fortran arrays. */
static void fortran_walk(const ms_npy *a, size_t k0, size_t n, size_t *src)
{
    size_t idx[MS_NPY_MAXDIM], stride[MS_NPY_MAXDIM];
    int d = a->ndim;
    size_t s = 1;
    for (int j = 0; j < d; j++) {
        stride[j] = s;
        s *= a->shape[j];
    }
    size_t k = k0, off = 0;
    for (int j = d - 1; j >= 0; j--) {
        idx[j] = a->shape[j] ? k % a->shape[j] : 0;
        k = a->shape[j] ? k / a->shape[j] : 0;
        off += idx[j] * stride[j];
    }
    for (size_t t = 0; t < n; t++) {
        src[t] = off;
        for (int j = d - 1; j >= 0; j--) {
            if (++idx[j] < a->shape[j]) {
                off += stride[j];
                break;
            }
            off -= (a->shape[j] - 1) * stride[j];
            idx[j] = 0;
        }
    }
}

/* Calls the element converter over rows, C order. Fortran arrays are
 * walked in blocks so no index array of the whole size is needed. */
#define WALK_BLOCK 512

mlshift_status ms_npy_to_double_rows(const ms_npy *a, size_t row0, size_t nrows,
                                     double *out, mlshift_error *err)
{
    size_t rs = ms_npy_row_size(a);
    if (row0 > ms_npy_rows(a) || nrows > ms_npy_rows(a) - row0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: rows %zu..%zu out of range",
                       a->where, row0, row0 + nrows);
    size_t k0 = row0 * rs, n = nrows * rs;
    if (n == 0)
        return MLSHIFT_OK;
    int contiguous = !a->fortran || a->ndim <= 1;
    if (contiguous && a->kind == 'f' && a->itemsize == 8 && !a->swap) {
        memcpy(out, a->data + 8 * k0, 8 * n);
        return MLSHIFT_OK;
    }
    if (contiguous) {
        for (size_t t = 0; t < n; t++)
            out[t] = elem_double(a, k0 + t);
        return MLSHIFT_OK;
    }
    size_t src[WALK_BLOCK];
    for (size_t t = 0; t < n; t += WALK_BLOCK) {
        size_t m = n - t < WALK_BLOCK ? n - t : WALK_BLOCK;
        fortran_walk(a, k0 + t, m, src);
        for (size_t j = 0; j < m; j++)
            out[t + j] = elem_double(a, src[j]);
    }
    return MLSHIFT_OK;
}

mlshift_status ms_npy_to_double(const ms_npy *a, double *out, mlshift_error *err)
{
    return ms_npy_to_double_rows(a, 0, ms_npy_rows(a), out, err);
}

mlshift_status ms_npy_to_int64(const ms_npy *a, int64_t *out, mlshift_error *err)
{
    int contiguous = !a->fortran || a->ndim <= 1;
    size_t src[WALK_BLOCK];
    for (size_t t = 0; t < a->count; t += WALK_BLOCK) {
        size_t m = a->count - t < WALK_BLOCK ? a->count - t : WALK_BLOCK;
        if (contiguous)
            for (size_t j = 0; j < m; j++)
                src[j] = t + j;
        else
            fortran_walk(a, t, m, src);
        for (size_t j = 0; j < m; j++) {
            size_t i = src[j];
            if (a->kind == 'f') {
                double v = elem_double(a, i);
                if (!(v == floor(v)) || !(v >= -9223372036854775808.0) ||
                    !(v < 9223372036854775808.0))
                    return ms_fail(err, MLSHIFT_ERR_VALUE,
                                   "%s: element %zu (%g) is not an integer",
                                   a->where, t + j, v);
                out[t + j] = (int64_t)v;
            } else if (a->kind == 'u' && a->itemsize == 8) {
                uint64_t u = load_bits(a, i);
                if (u > (uint64_t)INT64_MAX)
                    return ms_fail(err, MLSHIFT_ERR_VALUE,
                                   "%s: element %zu (%llu) does not fit int64",
                                   a->where, t + j, (unsigned long long)u);
                out[t + j] = (int64_t)u;
            } else if (a->kind == 'i' && a->itemsize == 8) {
                out[t + j] = (int64_t)load_bits(a, i);
            } else {
                out[t + j] = (int64_t)elem_double(a, i); /* exact: ≤ 32 bits */
            }
        }
    }
    return MLSHIFT_OK;
}

/* ------------------------------------------------------------------ npz */

void ms_npz_close(ms_npz *npz)
{
    ms_zip_close(&npz->zip);
    free(npz->file);
    free(npz->keys);
    free(npz->keybuf);
    npz->file = NULL;
    npz->keys = NULL;
    npz->keybuf = NULL;
}

mlshift_status ms_npz_open_memory(ms_npz *npz, const unsigned char *data,
                                  size_t len, const char *name,
                                  mlshift_error *err)
{
    memset(npz, 0, sizeof *npz);
    snprintf(npz->name, sizeof npz->name, "%s", name ? name : "npz");
    mlshift_status st = ms_zip_open(&npz->zip, data, len, npz->name, err);
    if (st != MLSHIFT_OK)
        return st;
    size_t n = npz->zip.n, total = 0;
    for (size_t i = 0; i < n; i++)
        total += npz->zip.entries[i].name_len + 1;
    npz->keys = calloc(n ? n : 1, sizeof *npz->keys);
    npz->keybuf = malloc(total ? total : 1);
    if (!npz->keys || !npz->keybuf) {
        ms_npz_close(npz);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", npz->name);
    }
    size_t o = 0, nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        const ms_zip_entry *en = &npz->zip.entries[i];
        size_t nl = en->name_len;
        if (nl < 4 || memcmp(en->name + nl - 4, ".npy", 4) != 0 ||
            strlen(en->name) != nl)
            continue;
        memcpy(npz->keybuf + o, en->name, nl - 4);
        npz->keybuf[o + nl - 4] = '\0';
        npz->keys[i] = npz->keybuf + o;
        o += nl - 3;
        nkeys++;
    }
    if (nkeys == 0) {
        ms_npz_close(npz);
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: a zip archive but not an npz (no .npy members)",
                       npz->name);
    }
    return MLSHIFT_OK;
}

mlshift_status ms_npz_open(ms_npz *npz, const char *path, mlshift_error *err)
{
    char *buf;
    size_t len;
    memset(npz, 0, sizeof *npz);
    mlshift_status st = ms_read_file(path, &buf, &len, err);
    if (st != MLSHIFT_OK)
        return st;
    st = ms_npz_open_memory(npz, (const unsigned char *)buf, len, path, err);
    if (st != MLSHIFT_OK) {
        free(buf);
        return st;
    }
    npz->file = (unsigned char *)buf;
    return MLSHIFT_OK;
}

size_t ms_npz_count(const ms_npz *npz) { return npz->zip.n; }

const char *ms_npz_key(const ms_npz *npz, size_t i)
{
    return i < npz->zip.n ? npz->keys[i] : NULL;
}

static long find_key(const ms_npz *npz, const char *key)
{
    for (size_t i = npz->zip.n; i-- > 0;)
        if (npz->keys[i] && strcmp(npz->keys[i], key) == 0)
            return (long)i;
    return -1;
}

int ms_npz_has(const ms_npz *npz, const char *key) { return find_key(npz, key) >= 0; }

mlshift_status ms_npz_get(ms_npz *npz, const char *key, ms_npy *a,
                          mlshift_error *err)
{
    memset(a, 0, sizeof *a);
    char where[1100];
    snprintf(where, sizeof where, "%s:%s", npz->name, key);
    long i = find_key(npz, key);
    if (i < 0)
        return ms_fail(err, MLSHIFT_ERR_MISSING, "%s: no such key", where);
    const unsigned char *bytes;
    size_t n;
    unsigned char *owned;
    mlshift_status st = ms_zip_extract(&npz->zip, (size_t)i, &bytes, &n, &owned, err);
    if (st != MLSHIFT_OK)
        return st;
    st = ms_npy_parse(a, bytes, n, where, err);
    if (st != MLSHIFT_OK) {
        free(owned);
        memset(a, 0, sizeof *a);
        return st;
    }
    a->owned = owned;
    return MLSHIFT_OK;
}

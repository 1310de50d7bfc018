/* SPDX-License-Identifier: MIT */
/* The model file: versioned, self-describing, checksummed, written
 * atomically. All integers and doubles little-endian; str = u32 length +
 * bytes (no NUL).
 *
 *   magic   "MLSHIFTM" (8 bytes)
 *   u32     version (MS_MODEL_VERSION = 3; versions 1 and 2 are read too)
 *   str     architecture ("painn" | "schnet")
 *   u32 ×5  F, K, T, k_rep, j_ttt
 *   u32     readout_every (version 3; 0 in earlier versions)
 *   f64 ×2  r_basis (Å, the training cutoff), norm_eps
 *   str     units ("energy=eV length=Angstrom forces=eV/Angstrom")
 *   u32     S, then i32 × S atomic numbers
 *   u64     stats length, then that many bytes (training statistics)
 *   u64     record length, then that many bytes: the training record, JSON
 *           (version ≥ 2; version 1 files have none)
 *   u32     tensor count, then per tensor:
 *             str name, u32 group, u32 trainable, u32 ndim,
 *             u64 × ndim shape, f64 × numel data (row-major)
 *   u32     CRC-32 (zlib) of every byte before it
 *
 * A reader checks the magic, then the version (another version is refused
 * by number before anything else is trusted), then the checksum, then every
 * field: bounds, hyper-parameters, each tensor present once with the shape,
 * group and flag the architecture gives it, finite values. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/util.h"

#define UNITS "energy=eV length=Angstrom forces=eV/Angstrom"

/* ------------------------------------------------------------- writing */

typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom)
        return;
    if (ms_grow((void **)&w->p, &w->cap, w->n + n, 1)) {
        w->oom = 1;
        return;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_u64(wbuf *w, uint64_t x)
{
    unsigned char b[8];
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(x >> (8 * k));
    put(w, b, 8);
}

static void put_u32(wbuf *w, uint32_t x)
{
    unsigned char b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (unsigned char)(x >> (8 * k));
    put(w, b, 4);
}

static void put_f64(wbuf *w, double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    put_u64(w, u);
}

static void put_str(wbuf *w, const char *s)
{
    put_u32(w, (uint32_t)strlen(s));
    put(w, s, strlen(s));
}

mlshift_status ms_model_serialize(const ms_model *m, unsigned char **buf, size_t *len,
                                  mlshift_error *err)
{
    wbuf w = {0};
    put(&w, MS_MODEL_MAGIC, 8);
    put_u32(&w, MS_MODEL_VERSION);
    put_str(&w, ms_arch_name(m->h.arch));
    put_u32(&w, (uint32_t)m->h.F);
    put_u32(&w, (uint32_t)m->h.K);
    put_u32(&w, (uint32_t)m->h.T);
    put_u32(&w, (uint32_t)m->h.k_rep);
    put_u32(&w, (uint32_t)m->h.j_ttt);
    put_u32(&w, (uint32_t)m->h.readout_every);
    put_f64(&w, m->h.r_basis);
    put_f64(&w, m->h.norm_eps);
    put_str(&w, UNITS);
    put_u32(&w, (uint32_t)m->n_el);
    for (int i = 0; i < m->n_el; i++)
        put_u32(&w, (uint32_t)m->z[i]);
    put_u64(&w, m->stats_len);
    if (m->stats_len)
        put(&w, m->stats, m->stats_len);
    size_t nmeta = m->meta ? strlen(m->meta) : 0;
    put_u64(&w, nmeta);
    if (nmeta)
        put(&w, m->meta, nmeta);
    put_u32(&w, (uint32_t)m->n_params);
    for (size_t i = 0; i < m->n_params; i++) {
        const ms_param *p = &m->param[i];
        put_str(&w, p->name);
        put_u32(&w, (uint32_t)p->group);
        put_u32(&w, (uint32_t)p->trainable);
        put_u32(&w, (uint32_t)p->ndim);
        for (int d = 0; d < p->ndim; d++)
            put_u64(&w, p->shape[d]);
        for (size_t k = 0; k < p->numel; k++)
            put_f64(&w, m->theta[p->off + k]);
    }
    if (!w.oom) {
        uLong crc = crc32(0L, Z_NULL, 0);
        size_t done = 0;
        while (done < w.n) { /* crc32 takes uInt lengths */
            size_t chunk = w.n - done > (1u << 30) ? (1u << 30) : w.n - done;
            crc = crc32(crc, w.p + done, (uInt)chunk);
            done += chunk;
        }
        put_u32(&w, (uint32_t)crc);
    }
    if (w.oom) {
        free(w.p);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "model: out of memory");
    }
    *buf = w.p;
    *len = w.n;
    return MLSHIFT_OK;
}

mlshift_status ms_model_save(const ms_model *m, const char *path, mlshift_error *err)
{
    wbuf w = {0};
    mlshift_status st0 = ms_model_serialize(m, &w.p, &w.n, err);
    if (st0)
        return st0;
    ms_atomic_file af;
    mlshift_status st = ms_atomic_open(&af, path, err);
    if (!st) {
        if (fwrite(w.p, 1, w.n, af.fp) != w.n) {
            ms_atomic_abort(&af);
            st = ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed", path);
        } else {
            st = ms_atomic_commit(&af, err);
        }
    }
    free(w.p);
    return st;
}

/* ------------------------------------------------------------- reading */

typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;             /* ran past the end */
} rbuf;

static const unsigned char *take(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->at;
    r->at += n;
    return q;
}

static uint64_t get_u64(rbuf *r)
{
    const unsigned char *b = take(r, 8);
    uint64_t x = 0;
    for (int k = 0; b && k < 8; k++)
        x |= (uint64_t)b[k] << (8 * k);
    return x;
}

static uint32_t get_u32(rbuf *r)
{
    const unsigned char *b = take(r, 4);
    uint32_t x = 0;
    for (int k = 0; b && k < 4; k++)
        x |= (uint32_t)b[k] << (8 * k);
    return x;
}

static double get_f64(rbuf *r)
{
    uint64_t u = get_u64(r);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* A string into buf (cap bytes with NUL); 0, or −1 when too long/short. */
static int get_str(rbuf *r, char *buf, size_t cap)
{
    uint32_t n = get_u32(r);
    if (r->bad || n >= cap)
        return -1;
    const unsigned char *q = take(r, n);
    if (!q)
        return -1;
    memcpy(buf, q, n);
    buf[n] = 0;
    return 0;
}

#define BAD(...) ms_fail(err, MLSHIFT_ERR_FORMAT, __VA_ARGS__)

mlshift_status ms_model_parse(ms_model **out, const unsigned char *data, size_t len,
                              const char *where, mlshift_error *err)
{
    *out = NULL;
    if (len < 12 || memcmp(data, MS_MODEL_MAGIC, 8) != 0)
        return BAD("%s: not an mlshift model file (no MLSHIFTM magic)", where);
    rbuf r = {data, len - 4, 8, 0};
    uint32_t version = get_u32(&r);
    if (version < 1 || version > MS_MODEL_VERSION)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED,
                       "%s: model file version %u, this build reads versions 1 to %u", where,
                       version, MS_MODEL_VERSION);
    if (len < 16)
        return BAD("%s: truncated model file", where);
    uint32_t crc_file = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                        (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < len - 4;) {
        size_t chunk = len - 4 - done > (1u << 30) ? (1u << 30) : len - 4 - done;
        crc = crc32(crc, data + done, (uInt)chunk);
        done += chunk;
    }
    if (!MS_CHECKSUM_OK((uint32_t)crc, crc_file))
        return BAD("%s: checksum mismatch (file corrupt or truncated: CRC-32 %08x, "
                   "stored %08x)", where, (unsigned)crc, (unsigned)crc_file);
    char s[256];
    ms_model_hyper h;
    memset(&h, 0, sizeof h);
    if (get_str(&r, s, sizeof s))
        return BAD("%s: bad architecture field", where);
    if (strcmp(s, "painn") == 0)
        h.arch = MS_ARCH_PAINN;
    else if (strcmp(s, "schnet") == 0)
        h.arch = MS_ARCH_SCHNET;
    else
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: unknown architecture '%s'",
                       where, s);
    uint32_t hv[5];
    for (int k = 0; k < 5; k++)
        hv[k] = get_u32(&r);
    for (int k = 0; k < 5; k++)
        if (hv[k] > 65536)
            return BAD("%s: hyper-parameter %d is %u, out of range", where, k, hv[k]);
    h.F = (int)hv[0];
    h.K = (int)hv[1];
    h.T = (int)hv[2];
    h.k_rep = (int)hv[3];
    h.j_ttt = (int)hv[4];
    if (version >= 3) {
        uint32_t ro = get_u32(&r);
        if (ro > 1)
            return BAD("%s: readout_every is %u (0 or 1)", where, ro);
        h.readout_every = (int)ro;
    }
    h.r_basis = get_f64(&r);
    h.norm_eps = get_f64(&r);
    if (get_str(&r, s, sizeof s))
        return BAD("%s: bad units field", where);
    if (strcmp(s, UNITS) != 0)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: units '%s', expected '%s'", where,
                       s, UNITS);
    uint32_t S = get_u32(&r);
    if (r.bad || S < 1 || S > MS_MODEL_MAXEL)
        return BAD("%s: %u elements (need 1..%d)", where, S, MS_MODEL_MAXEL);
    int z[MS_MODEL_MAXEL];
    for (uint32_t i = 0; i < S; i++)
        z[i] = (int)get_u32(&r);
    if (r.bad)
        return BAD("%s: truncated model file (elements)", where);
    mlshift_error e2;
    ms_model *m = NULL;
    /* Each parameter takes 8 bytes of what is left of the file. */
    mlshift_status st = ms_model_create_at_most(&m, &h, z, (int)S, 0, (r.n - r.at) / 8, &e2);
    if (st)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: %s", where, e2.message);
    uint64_t ns = get_u64(&r);
    const unsigned char *sb = r.bad || ns > r.n - r.at ? NULL : take(&r, (size_t)ns);
    if (!sb) {
        ms_model_destroy(m);
        return BAD("%s: truncated model file (statistics)", where);
    }
    if ((st = ms_model_set_stats(m, sb, (size_t)ns, err))) {
        ms_model_destroy(m);
        return st;
    }
    if (version >= 2) {
        uint64_t nm = get_u64(&r);
        const unsigned char *mb = r.bad || nm > r.n - r.at ? NULL : take(&r, (size_t)nm);
        if (!mb) {
            ms_model_destroy(m);
            return BAD("%s: truncated model file (training record)", where);
        }
        if (memchr(mb, 0, (size_t)nm)) {
            ms_model_destroy(m);
            return BAD("%s: the training record holds a NUL byte", where);
        }
        char *meta = malloc((size_t)nm + 1);
        if (!meta) {
            ms_model_destroy(m);
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", where);
        }
        memcpy(meta, mb, (size_t)nm);
        meta[nm] = 0;
        free(m->meta);
        m->meta = nm ? meta : NULL;
        if (!nm)
            free(meta);
    }
    uint32_t nt = get_u32(&r);
    unsigned char *seen = calloc(m->n_params ? m->n_params : 1, 1);
    if (!seen) {
        ms_model_destroy(m);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", where);
    }
    st = MLSHIFT_OK;
    if (r.bad || nt != m->n_params)
        st = BAD("%s: %u tensors, a %s model with these hyper-parameters has %zu", where, nt,
                 ms_arch_name(h.arch), m->n_params);
    for (uint32_t t = 0; !st && t < nt; t++) {
        char name[MS_PARAM_NAME];
        if (get_str(&r, name, sizeof name)) {
            st = BAD("%s: tensor %u: bad name", where, t);
            break;
        }
        long i = ms_model_find(m, name);
        if (i < 0 || seen[i]) {
            st = BAD("%s: tensor '%s' %s", where, name, i < 0 ? "is not a parameter of "
                     "this architecture" : "appears twice");
            break;
        }
        seen[i] = 1;
        ms_param *p = &m->param[i];
        uint32_t grp = get_u32(&r), tr = get_u32(&r), nd = get_u32(&r);
        int ok = !r.bad && grp == (uint32_t)p->group && tr == (uint32_t)p->trainable &&
                 nd == (uint32_t)p->ndim;
        for (int d = 0; ok && d < p->ndim; d++)
            ok = get_u64(&r) == p->shape[d] && !r.bad;
        if (!ok) {
            st = BAD("%s: tensor '%s': group, flag or shape differ from the "
                     "architecture's", where, name);
            break;
        }
        const unsigned char *q = p->numel <= (r.n - r.at) / 8 ? take(&r, 8 * p->numel)
                                                               : NULL;
        if (!q) {
            st = BAD("%s: truncated model file (tensor '%s')", where, name);
            break;
        }
        rbuf rq = {q, 8 * p->numel, 0, 0};
        for (size_t k = 0; k < p->numel; k++) {
            double x = get_f64(&rq);
            if (!isfinite(x)) {
                st = BAD("%s: tensor '%s' entry %zu is not finite", where, name, k);
                break;
            }
            m->theta[p->off + k] = x;
        }
    }
    if (!st && r.at != r.n)
        st = BAD("%s: %zu unexpected bytes after the tensors", where, r.n - r.at);
    free(seen);
    if (st) {
        ms_model_destroy(m);
        return st;
    }
    *out = m;
    return MLSHIFT_OK;
}

mlshift_status ms_model_load(ms_model **out, const char *path, mlshift_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    mlshift_status st = ms_read_file(path, &data, &len, err);
    if (st)
        return st;
    st = ms_model_parse(out, (const unsigned char *)data, len, path, err);
    free(data);
    return st;
}

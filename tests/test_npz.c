/* SPDX-License-Identifier: MIT */
/* Tests of the npz reader (src/io/npz.c) and its ZIP and .npy layers.
 *
 * References: numpy (literals printed by numpy from the real rMD17 and
 * sGDML files; the bulk bit-for-bit comparison is in
 * tests/reference/test_npz_numpy.py, which drives the --dump mode below),
 * and archives built here byte by byte with an independent little ZIP/.npy
 * writer (zlib's deflate and crc32), so every malformed case is exact.
 *
 *     test_npz                                run the tests
 *     test_npz --dump FILE.npz OUTDIR [--old] write positions.bin, forces.bin,
 *         energies.bin, numbers.bin (little-endian float64) and info.txt;
 *         on a read error print "error: STATUS: MESSAGE" and exit 3. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "check.h"
#include "io/frames.h"
#include "io/npy.h"
#include "io/zip.h"
#include "mlshift.h"

#define KC MLSHIFT_KCALMOL_PER_EV

/* ------------------------------------------------------- little writers */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n)
            c *= 2;
        b->p = realloc(b->p, c);
        if (!b->p)
            abort();
        b->cap = c;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put16(buf *b, unsigned v)
{
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, x, 2);
}
static void put32(buf *b, uint32_t v)
{
    unsigned char x[4];
    for (int k = 0; k < 4; k++)
        x[k] = (unsigned char)(v >> (8 * k));
    put(b, x, 4);
}
static void put64(buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

/* An array to write: C-order values cast to descr ("<f8", ">i4", "|u1", …). */
typedef struct arr {
    const char *key;
    const char *descr;  /* also used for the data bytes with `header` */
    int ndim;
    size_t shape[3];
    int fortran;
    const double *v;    /* (count,) C order */
    int version;        /* .npy format major version; 0 means 1 */
    const char *header; /* overrides the header dict when non-NULL */
} arr;

static void put_elem(buf *b, const char *descr, double v)
{
    char order = descr[0], kind = descr[1];
    int size = atoi(descr + 2);
    unsigned char x[8];
    if (kind == 'f' && size == 8) {
        memcpy(x, &v, 8);
    } else if (kind == 'f' && size == 4) {
        float f = (float)v;
        memcpy(x, &f, 4);
    } else if (kind == 'i' || kind == 'u' || kind == 'b') {
        int64_t i = (int64_t)v;
        memcpy(x, &i, 8); /* little-endian host: low bytes first */
    } else {
        abort();
    }
    if (order == '>')
        for (int k = 0; k < size / 2; k++) {
            unsigned char t = x[k];
            x[k] = x[size - 1 - k];
            x[size - 1 - k] = t;
        }
    put(b, x, (size_t)size);
}

static void npy_image(buf *b, const arr *a)
{
    char hdr[512];
    if (a->header) {
        snprintf(hdr, sizeof hdr, "%s", a->header);
    } else {
        char sh[128] = "(";
        for (int d = 0; d < a->ndim; d++)
            snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%zu, ", a->shape[d]);
        if (a->ndim > 1)
            sh[strlen(sh) - 2] = '\0';
        else if (a->ndim == 1)
            sh[strlen(sh) - 1] = '\0';
        strcat(sh, ")");
        snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }",
                 a->descr, a->fortran ? "True" : "False", sh);
    }
    int ver = a->version ? a->version : 1;
    size_t pre = ver == 1 ? 10 : 12, hl = strlen(hdr) + 1;
    while ((pre + hl) % 64)
        hl++;
    put(b, "\x93NUMPY", 6);
    unsigned char v[2] = {(unsigned char)ver, 0};
    put(b, v, 2);
    if (ver == 1)
        put16(b, (unsigned)hl);
    else
        put32(b, (uint32_t)hl);
    put(b, hdr, strlen(hdr));
    for (size_t k = strlen(hdr); k + 1 < hl; k++)
        put(b, " ", 1);
    put(b, "\n", 1);
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->shape[d];
    for (size_t t = 0; t < n; t++) {
        size_t c = t; /* C index of the t-th stored element */
        if (a->fortran && a->ndim > 1) {
            size_t rem = t, idx[3] = {0, 0, 0};
            for (int d = 0; d < a->ndim; d++) {
                idx[d] = rem % a->shape[d];
                rem /= a->shape[d];
            }
            c = 0;
            for (int d = 0; d < a->ndim; d++)
                c = c * a->shape[d] + idx[d];
        }
        put_elem(b, a->descr, a->v[c]);
    }
}

/* How to write an archive. */
typedef struct zopt {
    int deflate;        /* method 8 for every member */
    int zip64_local;    /* numpy style: 0xFFFFFFFF sizes + 20-byte extra */
    int zip64_central;  /* sizes and offset in a central ZIP64 extra */
    int zip64_eocd;     /* ZIP64 EOCD record and locator */
    int descriptor;     /* flag bit 3, zero CRC/sizes in the local header */
    int method;         /* forces this method number when nonzero */
    const char *comment;
} zopt;

typedef struct zmember {
    const char *name;
    const unsigned char *data;
    size_t len;
} zmember;

static void build_zip(buf *out, const zmember *m, int n, const zopt *o)
{
    size_t loff[16], csz[16];
    uint32_t crc[16];
    unsigned char *cdata[16];
    for (int i = 0; i < n; i++) {
        crc[i] = (uint32_t)crc32(0L, m[i].data, (uInt)m[i].len);
        if (o->deflate) {
            z_stream s;
            memset(&s, 0, sizeof s);
            deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
            uLong cap = deflateBound(&s, (uLong)m[i].len);
            cdata[i] = malloc(cap);
            s.next_in = (unsigned char *)(uintptr_t)m[i].data;
            s.avail_in = (uInt)m[i].len;
            s.next_out = cdata[i];
            s.avail_out = (uInt)cap;
            deflate(&s, Z_FINISH);
            csz[i] = s.total_out;
            deflateEnd(&s);
        } else {
            cdata[i] = malloc(m[i].len + 1);
            memcpy(cdata[i], m[i].data, m[i].len);
            csz[i] = m[i].len;
        }
        int method = o->method ? o->method : o->deflate ? 8 : 0;
        size_t nl = strlen(m[i].name);
        loff[i] = out->len;
        put32(out, 0x04034b50);
        put16(out, o->zip64_local ? 45 : 20);
        put16(out, o->descriptor ? 8 : 0);
        put16(out, (unsigned)method);
        put16(out, 0);
        put16(out, 0x21);
        put32(out, o->descriptor ? 0 : crc[i]);
        put32(out, o->descriptor ? 0 : o->zip64_local ? 0xFFFFFFFFu : (uint32_t)csz[i]);
        put32(out, o->descriptor ? 0 : o->zip64_local ? 0xFFFFFFFFu : (uint32_t)m[i].len);
        put16(out, (unsigned)nl);
        put16(out, o->zip64_local ? 20 : 0);
        put(out, m[i].name, nl);
        if (o->zip64_local) {
            put16(out, 1);
            put16(out, 16);
            put64(out, m[i].len);
            put64(out, csz[i]);
        }
        put(out, cdata[i], csz[i]);
        if (o->descriptor) {
            put32(out, 0x08074b50);
            put32(out, crc[i]);
            put32(out, (uint32_t)csz[i]);
            put32(out, (uint32_t)m[i].len);
        }
    }
    size_t cd_off = out->len;
    for (int i = 0; i < n; i++) {
        int method = o->method ? o->method : o->deflate ? 8 : 0;
        size_t nl = strlen(m[i].name);
        put32(out, 0x02014b50);
        put16(out, 45);
        put16(out, 20);
        put16(out, o->descriptor ? 8 : 0);
        put16(out, (unsigned)method);
        put16(out, 0);
        put16(out, 0x21);
        put32(out, crc[i]);
        put32(out, o->zip64_central ? 0xFFFFFFFFu : (uint32_t)csz[i]);
        put32(out, o->zip64_central ? 0xFFFFFFFFu : (uint32_t)m[i].len);
        put16(out, (unsigned)nl);
        put16(out, o->zip64_central ? 9 + 28 : 0);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0);
        put32(out, 0);
        put32(out, o->zip64_central ? 0xFFFFFFFFu : (uint32_t)loff[i]);
        put(out, m[i].name, nl);
        if (o->zip64_central) {
            /* An unrelated field first ("UT" timestamp), then ZIP64. */
            put16(out, 0x5455);
            put16(out, 5);
            unsigned char ut[5] = {1, 0, 0, 0, 0};
            put(out, ut, 5);
            put16(out, 1);
            put16(out, 24);
            put64(out, m[i].len);
            put64(out, csz[i]);
            put64(out, loff[i]);
        }
        free(cdata[i]);
    }
    size_t cd_size = out->len - cd_off;
    if (o->zip64_eocd) {
        size_t r = out->len;
        put32(out, 0x06064b50);
        put64(out, 44);
        put16(out, 45);
        put16(out, 45);
        put32(out, 0);
        put32(out, 0);
        put64(out, (uint64_t)n);
        put64(out, (uint64_t)n);
        put64(out, cd_size);
        put64(out, cd_off);
        put32(out, 0x07064b50);
        put32(out, 0);
        put64(out, r);
        put32(out, 1);
    }
    size_t cl = o->comment ? strlen(o->comment) : 0;
    put32(out, 0x06054b50);
    put16(out, 0);
    put16(out, 0);
    put16(out, o->zip64_eocd ? 0xFFFF : (unsigned)n);
    put16(out, o->zip64_eocd ? 0xFFFF : (unsigned)n);
    put32(out, o->zip64_eocd ? 0xFFFFFFFFu : (uint32_t)cd_size);
    put32(out, o->zip64_eocd ? 0xFFFFFFFFu : (uint32_t)cd_off);
    put16(out, (unsigned)cl);
    if (cl)
        put(out, o->comment, cl);
}

/* An npz of the arrays a[0..n). */
static void build_npz(buf *out, const arr *a, int n, const zopt *o)
{
    buf img[16];
    zmember m[16];
    char names[16][64];
    memset(img, 0, sizeof img);
    memset(m, 0, sizeof m);
    for (int i = 0; i < n; i++) {
        npy_image(&img[i], &a[i]);
        snprintf(names[i], sizeof names[i], "%s.npy", a[i].key);
        m[i].name = names[i];
        m[i].data = img[i].p;
        m[i].len = img[i].len;
    }
    out->len = 0;
    build_zip(out, m, n, o);
    for (int i = 0; i < n; i++)
        free(img[i].p);
}

/* ------------------------------------------------------ a small fixture */

enum { FM = 2, FN = 3 };
static const double fz[FN] = {8, 1, 1};
static double fcoords[FM * FN * 3], fforces[FM * FN * 3], fold_forces[FM * FN * 3];
/* Chosen so that e / 23.0605 != e * (1 / 23.0605): the tests tell a
 * division from a multiplication by the inverse (numpy divides). */
static const double fenergies[FM] = {-47627.875, -47626.25};
static const double fold_energies[FM] = {-47623.75, -47620.5};
static const double fold_idx[FM] = {7, 123456789};

static void fixture_init(void)
{
    for (int t = 0; t < FM * FN * 3; t++) {
        fcoords[t] = 0.25 * t - 1.0 + 1e-3 * t * t;
        fforces[t] = 3.0 - 0.7 * t;
        fold_forces[t] = -2.0 + 0.3 * t;
    }
    int discr = 1;
    for (int k = 0; k < FM; k++)
        discr &= fenergies[k] / KC != fenergies[k] * (1.0 / KC) &&
                 fold_energies[k] / KC != fold_energies[k] * (1.0 / KC);
    CHECK(discr, "fixture energies tell a / 23.0605 from a * (1 / 23.0605)");
}

/* The rMD17 arrays with the given dtypes/order (NULL descr: "<f8"). */
static int rmd17_arrays(arr *a, const char *fdescr, int fortran)
{
    const char *d = fdescr ? fdescr : "<f8";
    arr t[7] = {
        {"nuclear_charges", "|u1", 1, {FN, 0, 0}, 0, fz, 0, NULL},
        {"coords", d, 3, {FM, FN, 3}, fortran, fcoords, 0, NULL},
        {"energies", d, 1, {FM, 0, 0}, 0, fenergies, 0, NULL},
        {"forces", d, 3, {FM, FN, 3}, fortran, fforces, 0, NULL},
        {"old_indices", "<i8", 1, {FM, 0, 0}, 0, fold_idx, 0, NULL},
        {"old_energies", d, 1, {FM, 0, 0}, 0, fold_energies, 0, NULL},
        {"old_forces", d, 3, {FM, FN, 3}, fortran, fold_forces, 0, NULL},
    };
    memcpy(a, t, sizeof t);
    return 7;
}

/* Checks that fr's frames [n0, n0 + FM) are the fixture (old labels or
 * new), positions and labels exactly as the fixture / 23.0605. `prec32`:
 * the fixture went through float32. */
static void check_fixture(const mlshift_frames *fr, size_t n0, int old,
                          int prec32, const char *what)
{
    CHECK(mlshift_frames_count(fr) == n0 + FM, "%s: %zu frames, want %zu", what,
          mlshift_frames_count(fr), n0 + (size_t)FM);
    if (mlshift_frames_count(fr) != n0 + FM)
        return;
    const double *E = old ? fold_energies : fenergies;
    const double *F = old ? fold_forces : fforces;
    int ok_pos = 1, ok_f = 1, ok_e = 1, ok_z = 1, ok_info = 1;
    for (size_t k = 0; k < FM; k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, n0 + k, &f);
        ok_z &= f.natoms == FN;
        for (size_t i = 0; i < FN; i++)
            ok_z &= f.numbers[i] == (int)fz[i];
        for (size_t t = 0; t < 3 * FN; t++) {
            double p = fcoords[k * 3 * FN + t], g = F[k * 3 * FN + t];
            if (prec32) {
                p = (double)(float)p;
                g = (double)(float)g;
            }
            ok_pos &= f.positions[t] == p;
            ok_f &= f.forces && f.forces[t] == g / KC;
        }
        double e = prec32 ? (double)(float)E[k] : E[k];
        ok_e &= (f.flags & MLSHIFT_HAS_ENERGY) && f.energy == e / KC;
        char v[64];
        ok_info &= mlshift_info_get(f.info, "old_index", v, sizeof v) &&
                   strtoll(v, NULL, 10) == (long long)fold_idx[k];
        ok_info &= mlshift_info_get(f.info, "index", v, sizeof v) &&
                   strtoll(v, NULL, 10) == (long long)k;
    }
    CHECK(ok_z, "%s: atomic numbers", what);
    CHECK(ok_pos, "%s: positions", what);
    CHECK(ok_f, "%s: forces / 23.0605", what);
    CHECK(ok_e, "%s: energies / 23.0605", what);
    CHECK(ok_info, "%s: info index/old_index", what);
}

/* Reads the archive into a set that already holds one frame; returns the
 * status and leaves the message in *err. Checks the set is unchanged on
 * failure. */
static mlshift_status read_buf(mlshift_frames *fr, const buf *b,
                               const mlshift_read_options *opt,
                               mlshift_error *err, const char *what)
{
    size_t n0 = mlshift_frames_count(fr), a0 = mlshift_frames_total_atoms(fr);
    err->message[0] = '\0';
    mlshift_status st = mlshift_parse_npz(fr, b->p, b->len, "t.npz", opt, err);
    if (st != MLSHIFT_OK)
        CHECK(mlshift_frames_count(fr) == n0 &&
              mlshift_frames_total_atoms(fr) == a0,
              "%s: failed read changed the frames set", what);
    return st;
}

static mlshift_frames *one_frame_set(void)
{
    mlshift_frames *fr = mlshift_frames_create();
    int z[1] = {6};
    double p[3] = {0, 0, 0};
    mlshift_frame f = {0};
    f.natoms = 1;
    f.numbers = z;
    f.positions = p;
    f.energy = NAN;
    mlshift_error err;
    mlshift_frames_append(fr, &f, "seed", &err);
    return fr;
}

/* An error with status st whose message contains every needle. */
static void expect_error(mlshift_status got, const mlshift_error *err,
                         mlshift_status st, const char *what, const char *n1,
                         const char *n2)
{
    CHECK(got == st, "%s: status %s, want %s (%s)", what,
          mlshift_status_string(got), mlshift_status_string(st), err->message);
    CHECK(strncmp(err->message, "t.npz", 5) == 0, "%s: message '%s' does not "
          "start with the file name", what, err->message);
    if (n1)
        CHECK(strstr(err->message, n1) != NULL, "%s: message '%s' lacks '%s'",
              what, err->message, n1);
    if (n2)
        CHECK(strstr(err->message, n2) != NULL, "%s: message '%s' lacks '%s'",
              what, err->message, n2);
}

/* ---------------------------------------------------------------- tests */

static void test_good_variants(void)
{
    mlshift_frames *fr = one_frame_set();
    mlshift_error err;
    arr a[8];
    buf b = {0};
    struct {
        const char *name;
        zopt z;
        const char *descr;
        int fortran, prec32;
    } cases[] = {
        {"stored", {0}, NULL, 0, 0},
        {"deflate", {.deflate = 1}, NULL, 0, 0},
        {"numpy zip64 local extra", {.zip64_local = 1}, NULL, 0, 0},
        {"zip64 everywhere", {.zip64_local = 1, .zip64_central = 1, .zip64_eocd = 1}, NULL, 0, 0},
        {"zip64 + deflate", {.deflate = 1, .zip64_central = 1, .zip64_eocd = 1}, NULL, 0, 0},
        {"data descriptor", {.descriptor = 1, .deflate = 1}, NULL, 0, 0},
        {"archive comment", {.comment = "PK\x05\x06 fake signature in a comment"}, NULL, 0, 0},
        {"big-endian f8", {0}, ">f8", 0, 0},
        {"fortran order", {0}, NULL, 1, 0},
        {"big-endian fortran deflate", {.deflate = 1}, ">f8", 1, 0},
        {"float32", {0}, "<f4", 0, 1},
        {"big-endian float32", {0}, ">f4", 1, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = rmd17_arrays(a, cases[c].descr, cases[c].fortran);
        build_npz(&b, a, n, &cases[c].z);
        for (int old = 0; old <= 1; old++) {
            mlshift_read_options opt = {0};
            opt.labels_old = old;
            size_t n0 = mlshift_frames_count(fr);
            mlshift_status st = read_buf(fr, &b, &opt, &err, cases[c].name);
            CHECK(st == MLSHIFT_OK, "%s: %s", cases[c].name, err.message);
            char what[128];
            snprintf(what, sizeof what, "%s%s", cases[c].name, old ? " (old)" : "");
            check_fixture(fr, n0, old, cases[c].prec32, what);
        }
    }
    /* .npy format versions 2.0 and 3.0, and other integer dtypes. */
    int n = rmd17_arrays(a, NULL, 0);
    a[1].version = 2;
    a[3].version = 3;
    a[0].descr = "<i8";
    a[4].descr = ">u4";
    build_npz(&b, a, n, &(zopt){0});
    size_t n0 = mlshift_frames_count(fr);
    CHECK(read_buf(fr, &b, NULL, &err, "npy v2/v3") == MLSHIFT_OK, "npy v2/v3: %s",
          err.message);
    check_fixture(fr, n0, 0, 0, "npy v2/v3, <i8 z, >u4 old_indices");

    /* sGDML layout: z, R, E (M, 1), F; frames get index= but no old_index. */
    double e2[FM] = {fenergies[0], fenergies[1]};
    arr s[4] = {
        {"z", "|u1", 1, {FN, 0, 0}, 0, fz, 0, NULL},
        {"R", "<f8", 3, {FM, FN, 3}, 0, fcoords, 0, NULL},
        {"E", "<f8", 2, {FM, 1, 0}, 0, e2, 0, NULL},
        {"F", "<f8", 3, {FM, FN, 3}, 0, fforces, 0, NULL},
    };
    build_npz(&b, s, 4, &(zopt){.deflate = 1});
    n0 = mlshift_frames_count(fr);
    CHECK(read_buf(fr, &b, NULL, &err, "sgdml") == MLSHIFT_OK, "sgdml: %s",
          err.message);
    CHECK(mlshift_frames_count(fr) == n0 + FM, "sgdml: frames");
    if (mlshift_frames_count(fr) == n0 + FM) {
        mlshift_frame f;
        mlshift_frames_get(fr, n0 + 1, &f);
        CHECK(f.energy == fenergies[1] / KC, "sgdml: E (M,1)");
        CHECK(f.forces && f.forces[4] == fforces[3 * FN + 4] / KC, "sgdml: F");
        CHECK(f.positions[8] == fcoords[3 * FN + 8], "sgdml: R");
        char v[32];
        CHECK(mlshift_info_get(f.info, "index", v, sizeof v) && strcmp(v, "1") == 0,
              "sgdml: info index=1, got '%s'", f.info);
        CHECK(!mlshift_info_get(f.info, "old_index", v, sizeof v),
              "sgdml: no old_index");
    }
    /* sGDML without E and F: positions only, unless required. */
    build_npz(&b, s, 2, &(zopt){0});
    n0 = mlshift_frames_count(fr);
    CHECK(read_buf(fr, &b, NULL, &err, "unlabelled") == MLSHIFT_OK, "unlabelled: %s",
          err.message);
    if (mlshift_frames_count(fr) == n0 + FM) {
        mlshift_frame f;
        mlshift_frames_get(fr, n0, &f);
        CHECK(!(f.flags & (MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES)) && isnan(f.energy),
              "unlabelled: flags %u", f.flags);
    }
    mlshift_read_options req = {0};
    req.require_energy = 1;
    expect_error(read_buf(fr, &b, &req, &err, "require_energy"), &err,
                 MLSHIFT_ERR_MISSING, "require_energy", ":E", NULL);
    req.require_energy = 0;
    req.require_forces = 1;
    expect_error(read_buf(fr, &b, &req, &err, "require_forces"), &err,
                 MLSHIFT_ERR_MISSING, "require_forces", ":F", NULL);
    mlshift_read_options old = {0};
    old.labels_old = 1;
    expect_error(read_buf(fr, &b, &old, &err, "sgdml labels_old"), &err,
                 MLSHIFT_ERR_MISSING, "sgdml labels_old", "old_energies", NULL);
    free(b.p);
    mlshift_frames_destroy(fr);
}

static void test_bad_inputs(void)
{
    mlshift_frames *fr = one_frame_set();
    mlshift_error err;
    arr a[8];
    buf b = {0};
    mlshift_status st;

    /* Not a zip; an empty buffer; a zip with no .npy members; an empty zip. */
    buf txt = {(unsigned char *)"hello, I am not a zip archive", 29, 0};
    expect_error(read_buf(fr, &txt, NULL, &err, "not zip"), &err,
                 MLSHIFT_ERR_FORMAT, "not zip", "not a zip", NULL);
    buf empty = {(unsigned char *)"", 0, 0};
    expect_error(read_buf(fr, &empty, NULL, &err, "empty"), &err,
                 MLSHIFT_ERR_FORMAT, "empty", "not a zip", NULL);
    zmember readme = {"readme.txt", (const unsigned char *)"hi", 2};
    build_zip(&b, &readme, 1, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "no npy"), &err,
                 MLSHIFT_ERR_FORMAT, "no npy", "no .npy members", NULL);
    b.len = 0;
    build_zip(&b, NULL, 0, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "empty zip"), &err,
                 MLSHIFT_ERR_FORMAT, "empty zip", "not an npz", NULL);

    /* An npz of neither layout: the message names both and lists the keys. */
    arr other = {"weights", "<f8", 1, {2, 0, 0}, 0, fenergies, 0, NULL};
    build_npz(&b, &other, 1, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "no layout"), &err,
                 MLSHIFT_ERR_MISSING, "no layout", "rMD17", "weights");
    CHECK(strstr(err.message, "sGDML") != NULL, "no layout: '%s'", err.message);

    /* Missing coords in an rMD17 file. */
    int n = rmd17_arrays(a, NULL, 0);
    a[1] = a[n - 1]; /* drop coords (old_forces moves into its slot) */
    build_npz(&b, a, n - 1, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "no coords"), &err,
                 MLSHIFT_ERR_MISSING, "no coords", ":coords", "rMD17");

    /* labels_old without old_forces. */
    n = rmd17_arrays(a, NULL, 0);
    build_npz(&b, a, n - 1, &(zopt){0});
    mlshift_read_options old = {0};
    old.labels_old = 1;
    expect_error(read_buf(fr, &b, &old, &err, "no old_forces"), &err,
                 MLSHIFT_ERR_MISSING, "no old_forces", ":old_forces", NULL);
    CHECK(read_buf(fr, &b, NULL, &err, "new labels still fine") == MLSHIFT_OK,
          "new labels without old_forces: %s", err.message);
    ms_frames_truncate(fr, 1);

    /* Mismatched shapes name both shapes. */
    double big[FM * 4 * 3] = {0};
    n = rmd17_arrays(a, NULL, 0);
    a[3].shape[1] = 4;
    a[3].v = big;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "forces shape"), &err,
                 MLSHIFT_ERR_FORMAT, "forces shape", "(2, 4, 3)", "(2, 3, 3)");
    CHECK(strstr(err.message, ":forces") != NULL, "forces shape: '%s'", err.message);
    n = rmd17_arrays(a, NULL, 0);
    a[2].shape[0] = 1;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "energies shape"), &err,
                 MLSHIFT_ERR_FORMAT, "energies shape", "(1,)", "(2, 3, 3)");
    n = rmd17_arrays(a, NULL, 0);
    a[1].shape[1] = 4;
    a[1].v = big;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "coords vs z"), &err,
                 MLSHIFT_ERR_FORMAT, "coords vs z", "(2, 4, 3)", "(3,)");
    n = rmd17_arrays(a, NULL, 0);
    a[4].shape[0] = 1;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "old_indices shape"), &err,
                 MLSHIFT_ERR_FORMAT, "old_indices shape", ":old_indices", "(1,)");

    /* Non-finite values and unknown elements, each naming its key. */
    double bad[FM * FN * 3];
    memcpy(bad, fforces, sizeof bad);
    bad[3 * FN + 4] = NAN;
    n = rmd17_arrays(a, NULL, 0);
    a[3].v = bad;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "NaN force"), &err,
                 MLSHIFT_ERR_VALUE, "NaN force", ":forces", "frame 1, atom 1");
    bad[3 * FN + 4] = INFINITY;
    n = rmd17_arrays(a, NULL, 0);
    a[1].v = bad;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "Inf coord"), &err,
                 MLSHIFT_ERR_VALUE, "Inf coord", ":coords", "not finite");
    double ebad[FM] = {fenergies[0], NAN};
    n = rmd17_arrays(a, NULL, 0);
    a[2].v = ebad;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "NaN energy"), &err,
                 MLSHIFT_ERR_VALUE, "NaN energy", ":energies", "frame 1");
    double zbad[FN] = {8, 119, 1};
    n = rmd17_arrays(a, NULL, 0);
    a[0].v = zbad;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "Z=119"), &err,
                 MLSHIFT_ERR_VALUE, "Z=119", ":nuclear_charges", "119");
    double z0[FN] = {8, 0, 1};
    a[0].v = z0;
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "Z=0"), &err,
                 MLSHIFT_ERR_VALUE, "Z=0", ":nuclear_charges", "atom 1");
    double zfrac[FN] = {8, 1.5, 1};
    a[0].v = zfrac;
    a[0].descr = "<f8";
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "Z=1.5"), &err,
                 MLSHIFT_ERR_VALUE, "Z=1.5", ":nuclear_charges", "not an integer");

    /* Unsupported dtype and malformed headers. */
    n = rmd17_arrays(a, NULL, 0);
    a[1].header = "{'descr': '<U7', 'fortran_order': False, 'shape': (), }";
    build_npz(&b, a, n, &(zopt){0});
    expect_error(read_buf(fr, &b, NULL, &err, "<U7 coords"), &err,
                 MLSHIFT_ERR_UNSUPPORTED, "<U7 coords", ":coords", "<U7");
    const char *bad_headers[] = {
        "{'descr': '<f8', 'fortran_order': False}",
        "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3, 3), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 3), 'x': 1}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 3), } junk",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 3, }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 99999999999999999999), }",
        "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 3), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 4), }",
        "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 3, 3), }",
        "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3, 3), }",
        "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3, 3), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (5), }",
    };
    for (size_t h = 0; h < sizeof bad_headers / sizeof bad_headers[0]; h++) {
        n = rmd17_arrays(a, NULL, 0);
        a[1].header = bad_headers[h];
        build_npz(&b, a, n, &(zopt){0});
        st = read_buf(fr, &b, NULL, &err, "bad header");
        CHECK(st == MLSHIFT_ERR_FORMAT || st == MLSHIFT_ERR_UNSUPPORTED,
              "bad header %zu: status %s (%s)", h, mlshift_status_string(st),
              err.message);
        CHECK(strstr(err.message, "t.npz:coords") != NULL,
              "bad header %zu: message '%s' does not name t.npz:coords", h,
              err.message);
    }

    /* Bad CRC: one flipped bit in the coords data. */
    n = rmd17_arrays(a, NULL, 0);
    build_npz(&b, a, n, &(zopt){0});
    buf good = {malloc(b.len), b.len, b.len};
    memcpy(good.p, b.p, b.len);
    CHECK(read_buf(fr, &good, NULL, &err, "good") == MLSHIFT_OK, "good: %s", err.message);
    ms_frames_truncate(fr, 1);
    unsigned char *hit = NULL;
    for (size_t i = 0; i + 8 <= b.len && !hit; i++) {
        double v;
        memcpy(&v, b.p + i, 8);
        if (v == fcoords[5])
            hit = b.p + i;
    }
    CHECK(hit != NULL, "found coords[5] in the archive");
    if (hit) {
        hit[0] ^= 1;
        expect_error(read_buf(fr, &b, NULL, &err, "bad CRC"), &err,
                     MLSHIFT_ERR_FORMAT, "bad CRC", "coords.npy", "CRC-32");
    }
    /* A corrupt DEFLATE stream. */
    build_npz(&b, a, n, &(zopt){.deflate = 1});
    buf defl = {malloc(b.len), b.len, b.len};
    memcpy(defl.p, b.p, b.len);
    unsigned char *cn = NULL; /* the coords member's local header name */
    for (size_t i = 0; i + 10 <= b.len && !cn; i++)
        if (memcmp(b.p + i, "coords.npy", 10) == 0)
            cn = b.p + i;
    CHECK(cn != NULL, "found coords.npy");
    for (int i = 14; cn && i < 24; i++)
        cn[i] ^= 0x5a; /* data start at name + 10 */
    st = read_buf(fr, &b, NULL, &err, "corrupt deflate");
    CHECK(st == MLSHIFT_ERR_FORMAT, "corrupt deflate: %s (%s)",
          mlshift_status_string(st), err.message);
    /* Unsupported method (12 = bzip2). */
    build_npz(&b, a, n, &(zopt){.method = 12});
    expect_error(read_buf(fr, &b, NULL, &err, "bzip2"), &err,
                 MLSHIFT_ERR_UNSUPPORTED, "bzip2", "method 12", NULL);

    /* Every truncation of a valid npz (stored, and deflated) is an error. */
    const buf *whole[2] = {&good, &defl};
    for (int w = 0; w < 2; w++) {
        size_t nbad = 0, nmsg = 0;
        for (size_t len = 0; len < whole[w]->len; len++) {
            unsigned char *cut = malloc(len ? len : 1);
            memcpy(cut, whole[w]->p, len);
            buf t = {cut, len, len};
            mlshift_status s2 = read_buf(fr, &t, NULL, &err, "truncated");
            nbad += s2 == MLSHIFT_OK;
            nmsg += s2 != MLSHIFT_OK && strncmp(err.message, "t.npz", 5) != 0;
            if (s2 == MLSHIFT_OK)
                ms_frames_truncate(fr, 1);
            free(cut);
        }
        CHECK(nbad == 0, "%s: %zu of %zu truncations read without error",
              w ? "deflate" : "stored", nbad, whole[w]->len);
        CHECK(nmsg == 0, "%s: %zu truncation errors without the file name",
              w ? "deflate" : "stored", nmsg);
    }
    /* Every single-byte corruption: no crash (ASan checks the reads); if it
     * reads, it reads the fixture's frame count. */
    for (int w = 0; w < 2; w++) {
        size_t nodd = 0;
        for (size_t i = 0; i < whole[w]->len; i++) {
            for (int x = 0; x < 2; x++) {
                unsigned char *c = malloc(whole[w]->len);
                memcpy(c, whole[w]->p, whole[w]->len);
                c[i] ^= x ? 0xff : 0x01;
                buf t = {c, whole[w]->len, whole[w]->len};
                if (read_buf(fr, &t, NULL, &err, "corrupted") == MLSHIFT_OK) {
                    nodd += mlshift_frames_count(fr) != 1 + FM;
                    ms_frames_truncate(fr, 1);
                }
                free(c);
            }
        }
        CHECK(nodd == 0, "corruptions: %zu reads with a wrong frame count", nodd);
    }
    CHECK(mlshift_frames_count(fr) == 1, "seed frame kept through all failures");
    free(good.p);
    free(defl.p);
    free(b.p);
    mlshift_frames_destroy(fr);
}

/* The internal npz/npy API on a hand-built archive. */
static void test_internal_api(void)
{
    mlshift_error err;
    buf b = {0};
    double strs[1] = {0};
    double v6[6] = {1, 2, 3, 4, 5, 6};
    double big_u8[2] = {9223372036854775807.0, 3};
    arr a[5] = {
        {"dataset", "<f8", 0, {0, 0, 0}, 0, strs, 0,
         "{'descr': '<U7', 'fortran_order': False, 'shape': (), }"},
        {"m", "<i2", 2, {2, 3, 0}, 1, v6, 0, NULL},
        {"dir/x", ">u2", 2, {3, 2, 0}, 0, v6, 0, NULL},
        {"flags", "|b1", 1, {3, 0, 0}, 0, v6, 0, NULL},
        {"u", "<f8", 1, {2, 0, 0}, 0, big_u8, 0, NULL},
    };
    build_npz(&b, a, 5, &(zopt){.deflate = 1, .zip64_local = 1});
    ms_npz npz;
    CHECK(ms_npz_open_memory(&npz, b.p, b.len, "api.npz", &err) == MLSHIFT_OK,
          "open: %s", err.message);
    CHECK(ms_npz_count(&npz) == 5, "5 members");
    const char *want[5] = {"dataset", "m", "dir/x", "flags", "u"};
    for (size_t i = 0; i < 5 && i < ms_npz_count(&npz); i++)
        CHECK(ms_npz_key(&npz, i) && strcmp(ms_npz_key(&npz, i), want[i]) == 0,
              "key %zu: '%s'", i, ms_npz_key(&npz, i));
    ms_npy x;
    CHECK(ms_npz_get(&npz, "dataset", &x, &err) == MLSHIFT_ERR_UNSUPPORTED &&
              strstr(err.message, "api.npz:dataset") && strstr(err.message, "<U7"),
          "dataset <U7: %s", err.message);
    CHECK(ms_npz_get(&npz, "nope", &x, &err) == MLSHIFT_ERR_MISSING,
          "missing key: %s", err.message);
    CHECK(ms_npz_get(&npz, "m", &x, &err) == MLSHIFT_OK, "m: %s", err.message);
    double d[6];
    int64_t i64[6];
    CHECK(x.fortran && x.ndim == 2 && x.shape[0] == 2 && x.shape[1] == 3,
          "m: fortran (2, 3)");
    ms_npy_to_double(&x, d, &err);
    ms_npy_to_int64(&x, i64, &err);
    int ok = 1;
    for (int k = 0; k < 6; k++)
        ok &= d[k] == v6[k] && i64[k] == (int64_t)v6[k];
    CHECK(ok, "m: fortran <i2 to C order");
    double row[3];
    ms_npy_to_double_rows(&x, 1, 1, row, &err);
    CHECK(row[0] == 4 && row[1] == 5 && row[2] == 6, "m: row 1 = 4 5 6");
    CHECK(ms_npy_to_double_rows(&x, 1, 2, row, &err) == MLSHIFT_ERR_VALUE,
          "rows out of range");
    char sh[64];
    ms_npy_shape_str(&x, sh, sizeof sh);
    CHECK(strcmp(sh, "(2, 3)") == 0, "shape string '%s'", sh);
    ms_npy_free(&x);
    CHECK(ms_npz_get(&npz, "dir/x", &x, &err) == MLSHIFT_OK, "dir/x: %s", err.message);
    ms_npy_to_int64(&x, i64, &err);
    ok = 1;
    for (int k = 0; k < 6; k++)
        ok &= i64[k] == (int64_t)v6[k];
    CHECK(ok && x.swap, ">u2 values");
    ms_npy_free(&x);
    CHECK(ms_npz_get(&npz, "flags", &x, &err) == MLSHIFT_OK, "flags: %s", err.message);
    ms_npy_to_double(&x, d, &err);
    CHECK(d[0] == 1 && d[1] == 1 && d[2] == 1 && x.kind == 'b', "b1 values");
    ms_npy_free(&x);
    CHECK(ms_npz_get(&npz, "u", &x, &err) == MLSHIFT_OK, "u: %s", err.message);
    CHECK(ms_npy_to_int64(&x, i64, &err) == MLSHIFT_ERR_VALUE,
          "2^63 as float does not fit int64: %s", err.message);
    ms_npy_free(&x);
    ms_npz_close(&npz);

    /* The zip layer: find, extract, stored members without a copy. */
    zmember m[2] = {{"a.txt", (const unsigned char *)"alpha", 5},
                    {"a.txt", (const unsigned char *)"beta!", 5}};
    b.len = 0;
    build_zip(&b, m, 2, &(zopt){.zip64_local = 1});
    ms_zip z;
    CHECK(ms_zip_open(&z, b.p, b.len, "z.zip", &err) == MLSHIFT_OK, "zip: %s",
          err.message);
    CHECK(ms_zip_find(&z, "a.txt") == 1, "last duplicate wins, as zipfile");
    CHECK(ms_zip_find(&z, "b.txt") == -1, "find missing");
    const unsigned char *o;
    size_t olen;
    unsigned char *own;
    CHECK(ms_zip_extract(&z, 1, &o, &olen, &own, &err) == MLSHIFT_OK && olen == 5 &&
              memcmp(o, "beta!", 5) == 0 && own == NULL &&
              o >= b.p && o < b.p + b.len,
          "stored member extracted in place");
    ms_zip_close(&z);
    free(b.p);
}

/* The real rMD17 files; literals printed by numpy (see the header). */
static void test_rmd17(void)
{
    const char *path = check_data_path("rmd17/rmd17_aspirin_train_01.npz");
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status st = mlshift_read_npz(fr, path, NULL, &err);
    CHECK(st == MLSHIFT_OK, "aspirin train_01: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 1000, "1000 frames, got %zu",
          mlshift_frames_count(fr));
    CHECK(mlshift_frames_total_atoms(fr) == 21000, "21 atoms each");
    static const int zasp[21] = {6, 6, 6, 6, 6, 6, 6, 8, 8, 8, 6,
                                 6, 8, 1, 1, 1, 1, 1, 1, 1, 1};
    static const long long oidx[5] = {179251, 52093, 153431, 115882, 96654};
    if (mlshift_frames_count(fr) == 1000) {
        mlshift_frame f;
        int zok = 1, cnt[9] = {0};
        for (size_t k = 0; k < 1000; k++) {
            mlshift_frames_get(fr, k, &f);
            for (int i = 0; i < 21; i++)
                zok &= f.numbers[i] == zasp[i];
            zok &= (f.flags & (MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES)) ==
                   (MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES);
        }
        for (int i = 0; i < 21; i++)
            cnt[f.numbers[i]]++;
        CHECK(zok, "aspirin Z order (numpy's nuclear_charges), all labelled");
        CHECK(cnt[6] == 9 && cnt[1] == 8 && cnt[8] == 4, "aspirin is C9H8O4");
        char v[64];
        for (size_t k = 0; k < 5; k++) {
            mlshift_frames_get(fr, k, &f);
            CHECK(mlshift_info_get(f.info, "old_index", v, sizeof v) &&
                      strtoll(v, NULL, 10) == oidx[k],
                  "old_indices[%zu]: info '%s'", k, f.info);
        }
        mlshift_frames_get(fr, 999, &f);
        CHECK(mlshift_info_get(f.info, "old_index", v, sizeof v) &&
                  strcmp(v, "14298") == 0, "old_indices[999]: '%s'", f.info);
        CHECK(f.positions[62] == 1.14700387, "coords[999,20,2]");
        CHECK(f.energy == -17618.049281530108, "energies[999]/23.0605: %.17g", f.energy);
        CHECK(f.forces[62] == 1.6940460367568262, "forces[999,20,2]/23.0605");
        mlshift_frames_get(fr, 0, &f);
        CHECK(f.positions[0] == 2.01027426, "coords[0,0,0]");
        CHECK(f.energy == -17617.733596373742, "energies[0]/23.0605: %.17g", f.energy);
        CHECK(f.forces[0] == -1.0619697631331753, "forces[0,0,0]/23.0605");
    }
    /* The original MD17 labels, appended after the first read. */
    mlshift_read_options opt = {0};
    opt.labels_old = 1;
    st = mlshift_read(fr, path, &opt, &err);
    CHECK(st == MLSHIFT_OK, "labels_old: %s", err.message);
    CHECK(mlshift_frames_count(fr) == 2000, "2000 frames after the second read");
    if (mlshift_frames_count(fr) == 2000) {
        mlshift_frame n0, o0, o999;
        mlshift_frames_get(fr, 0, &n0);
        mlshift_frames_get(fr, 1000, &o0);
        mlshift_frames_get(fr, 1999, &o999);
        CHECK(o0.energy == -17637.853138467857, "old_energies[0]/23.0605");
        CHECK(o0.forces[0] == -0.9129940466309736, "old_forces[0,0,0]/23.0605");
        CHECK(o999.energy == -17638.059660877298, "old_energies[999]/23.0605");
        CHECK(o999.forces[62] == 1.2885195856428338, "old_forces[999,20,2]/23.0605");
        CHECK(o0.energy != n0.energy && o0.forces[0] != n0.forces[0],
              "old and new labels differ");
        CHECK(memcmp(o0.positions, n0.positions, 63 * sizeof(double)) == 0,
              "same geometry under both label sets");
    }
    /* All 50 files read; a missing file is an i/o error. */
    static const char *mols[5] = {"aspirin", "benzene", "uracil", "naphthalene",
                                  "toluene"};
    static const size_t natoms[5] = {21, 12, 12, 18, 15};
    for (int m = 0; m < 5; m++)
        for (int s = 0; s < 2; s++)
            for (int k = 1; k <= 5; k++) {
                char rel[128];
                snprintf(rel, sizeof rel, "rmd17/rmd17_%s_%s_%02d.npz", mols[m],
                         s ? "test" : "train", k);
                mlshift_frames *g = mlshift_frames_create();
                st = mlshift_read_npz(g, check_data_path(rel), NULL, &err);
                CHECK(st == MLSHIFT_OK && mlshift_frames_count(g) == 1000 &&
                          mlshift_frames_total_atoms(g) == 1000 * natoms[m],
                      "%s: %s", rel, st ? err.message : "wrong size");
                mlshift_frames_destroy(g);
            }
    size_t n = mlshift_frames_count(fr);
    st = mlshift_read_npz(fr, check_data_path("rmd17/nope.npz"), NULL, &err);
    CHECK(st == MLSHIFT_ERR_IO && mlshift_frames_count(fr) == n, "missing file: %s",
          err.message);
    mlshift_frames_destroy(fr);
}

/* A pretrained sGDML model through the internal npz API (DEFLATE members,
 * Fortran-order arrays, a '<U7' string); literals printed by numpy. */
static void test_sgdml_model(void)
{
    ms_npz npz;
    mlshift_error err;
    const char *path = check_data_path("sgdml_models/sgdml_2018_aspirin.npz");
    mlshift_status st = ms_npz_open(&npz, path, &err);
    CHECK(st == MLSHIFT_OK, "open model: %s", err.message);
    if (st != MLSHIFT_OK)
        return;
    static const char *keys[12] = {"e_mae", "Rt_d_desc_alpha", "Rt_desc", "perms",
                                   "f_rmse", "c", "dataset", "sig", "e_rmse", "z",
                                   "f_mae", "tril_perms_lin"};
    CHECK(ms_npz_count(&npz) == 12, "12 keys, got %zu", ms_npz_count(&npz));
    for (size_t i = 0; i < 12 && i < ms_npz_count(&npz); i++)
        CHECK(ms_npz_key(&npz, i) && strcmp(ms_npz_key(&npz, i), keys[i]) == 0,
              "key %zu '%s', numpy lists '%s'", i, ms_npz_key(&npz, i), keys[i]);
    ms_npy a;
    st = ms_npz_get(&npz, "dataset", &a, &err);
    CHECK(st == MLSHIFT_ERR_UNSUPPORTED && strstr(err.message, ":dataset"),
          "dataset '<U7' is a clean error: %s", err.message);
    st = ms_npz_get(&npz, "Rt_desc", &a, &err);
    CHECK(st == MLSHIFT_OK, "Rt_desc: %s", err.message);
    if (st == MLSHIFT_OK) {
        CHECK(a.fortran && a.ndim == 2 && a.shape[0] == 210 && a.shape[1] == 1000,
              "Rt_desc (210, 1000) Fortran order");
        double *x = malloc(a.count * sizeof *x);
        ms_npy_to_double(&a, x, &err);
        CHECK(x[0] == 0.3608802706371364, "Rt_desc[0,0]");
        CHECK(x[209 * 1000 + 999] == 0.5958456113424296, "Rt_desc[209,999]");
        CHECK(x[5 * 1000 + 7] == 0.7051810079358765, "Rt_desc[5,7]");
        double s = 0;
        for (size_t i = 0; i < a.count; i++)
            s += x[i];
        CHECK_CLOSE(s, 67953.57327513957, 0, 1e-12, "Rt_desc sum");
        free(x);
        ms_npy_free(&a);
    }
    st = ms_npz_get(&npz, "Rt_d_desc_alpha", &a, &err);
    if (st == MLSHIFT_OK) {
        double v[210];
        ms_npy_to_double_rows(&a, 999, 1, v, &err);
        CHECK(v[209] == -7765552368.032693, "Rt_d_desc_alpha[999,209,0]");
        ms_npy_free(&a);
    }
    CHECK(st == MLSHIFT_OK, "Rt_d_desc_alpha: %s", err.message);
    st = ms_npz_get(&npz, "perms", &a, &err);
    if (st == MLSHIFT_OK) {
        int64_t p[6 * 21];
        ms_npy_to_int64(&a, p, &err);
        int ok = a.fortran && a.count == 126;
        for (int i = 0; i < 21; i++)
            ok &= p[i] == i + 1;
        ok &= p[21 + 18] == 19 && p[21 + 19] == 21 && p[21 + 20] == 20;
        ok &= p[5 * 21 + 18] == 21 && p[5 * 21 + 19] == 20 && p[5 * 21 + 20] == 19;
        CHECK(ok, "perms (6, 21) Fortran-order uint8 rows as numpy prints them");
        ms_npy_free(&a);
    }
    st = ms_npz_get(&npz, "sig", &a, &err);
    if (st == MLSHIFT_OK) {
        int64_t sig;
        CHECK(a.ndim == 0 && ms_npy_to_int64(&a, &sig, &err) == MLSHIFT_OK && sig == 68,
              "sig = 68 (0-d int64)");
        ms_npy_free(&a);
    }
    st = ms_npz_get(&npz, "z", &a, &err);
    if (st == MLSHIFT_OK) {
        int64_t z[21];
        static const int zasp[21] = {6, 6, 6, 6, 6, 6, 6, 8, 8, 8, 6,
                                     6, 8, 1, 1, 1, 1, 1, 1, 1, 1};
        int ok = a.count == 21 && ms_npy_to_int64(&a, z, &err) == MLSHIFT_OK;
        for (int i = 0; ok && i < 21; i++)
            ok &= z[i] == zasp[i];
        CHECK(ok, "model z is rMD17's aspirin order");
        ms_npy_free(&a);
    }
    ms_npz_close(&npz);
    /* As a frames file it is neither layout... but it has z: the sGDML layout
     * without R, a clean missing-key error. */
    mlshift_frames *fr = mlshift_frames_create();
    st = mlshift_read_npz(fr, path, NULL, &err);
    CHECK(st == MLSHIFT_ERR_MISSING && strstr(err.message, ":R") &&
              mlshift_frames_count(fr) == 0,
          "model as frames: %s", err.message);
    mlshift_frames_destroy(fr);
}

/* ------------------------------------------------------------- --dump */

static int write_bin(const char *dir, const char *name, const double *x, size_t n)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    if (!fp)
        return -1;
    size_t w = n ? fwrite(x, sizeof *x, n, fp) : 0;
    return (fclose(fp) == 0 && w == n) ? 0 : -1;
}

static int dump(const char *path, const char *dir, int old)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_read_options opt = {0};
    opt.labels_old = old;
    mlshift_status st = mlshift_read_npz(fr, path, &opt, &err);
    if (st != MLSHIFT_OK) {
        printf("error: %s: %s\n", mlshift_status_string(st), err.message);
        mlshift_frames_destroy(fr);
        return 3;
    }
    size_t n = fr->n, A = fr->atoms;
    double *num = malloc((A ? A : 1) * sizeof *num);
    for (size_t i = 0; i < A; i++)
        num[i] = fr->numbers[i];
    mkdir(dir, 0777);
    int rc = write_bin(dir, "positions.bin", fr->pos, 3 * A) |
             write_bin(dir, "forces.bin", fr->forces, 3 * A) |
             write_bin(dir, "energies.bin", fr->energy, n) |
             write_bin(dir, "numbers.bin", num, A);
    char p[4200];
    snprintf(p, sizeof p, "%s/info.txt", dir);
    FILE *fp = fopen(p, "w");
    if (fp) {
        for (size_t k = 0; k < n; k++)
            fprintf(fp, "%u %zu %s\n", fr->flags[k],
                    fr->atom_off[k + 1] - fr->atom_off[k], fr->info + fr->info_off[k]);
        rc |= fclose(fp);
    } else {
        rc = -1;
    }
    free(num);
    mlshift_frames_destroy(fr);
    if (rc) {
        fprintf(stderr, "test_npz --dump: cannot write into %s: %s\n", dir,
                strerror(errno));
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2], argv[3], argc >= 5 && strcmp(argv[4], "--old") == 0);
    fixture_init();
    test_good_variants();
    test_bad_inputs();
    test_internal_api();
    test_rmd17();
    test_sgdml_model();
    return check_done();
}

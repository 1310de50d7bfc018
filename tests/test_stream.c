/* SPDX-License-Identifier: MIT */
/* The streaming API against the whole-file one it must reproduce: every
 * frame mlshift_reader_next gives equals, bit for bit, the frame
 * mlshift_read gives (real extxyz, npz and HDF5 files; files larger than
 * the reader's block and chunk), errors carry the same message, the writer
 * writes the bytes mlshift_write_extxyz writes, the statistics builder
 * (spilling to a temporary file) gives mlshift_stats_compute's statistics
 * bit for bit, and the dedup set keeps what mlshift_dedup keeps. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"
#include "shift/stats.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int same_doubles(const double *a, const double *b, size_t n)
{
    return (!a && !b) || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

/* Frame f equals frame g in every field, bit for bit. */
static int same_frame(const mlshift_frame *f, const mlshift_frame *g)
{
    size_t n = f->natoms;
    return f->natoms == g->natoms && f->flags == g->flags &&
           memcmp(f->numbers, g->numbers, n * sizeof *f->numbers) == 0 &&
           same_doubles(f->positions, g->positions, 3 * n) &&
           same_doubles(f->forces, g->forces, 3 * n) &&
           same_doubles(f->cell, g->cell, 9) &&
           ((!f->fixed && !g->fixed) ||
            (f->fixed && g->fixed && memcmp(f->fixed, g->fixed, n) == 0)) &&
           memcmp(f->pbc, g->pbc, sizeof f->pbc) == 0 &&
           memcmp(&f->energy, &g->energy, sizeof f->energy) == 0 &&
           strcmp(f->info ? f->info : "", g->info ? g->info : "") == 0;
}

/* Streams path and compares with mlshift_read: same frames, or the same
 * error. Returns the frame count. */
static size_t stream_equals_read(const char *path, const mlshift_read_options *opt,
                                 const char *what)
{
    mlshift_error e1, e2;
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_status s1 = mlshift_read(fr, path, opt, &e1);
    mlshift_reader *rd = NULL;
    mlshift_status s2 = mlshift_reader_open(path, opt, &rd, &e2);
    size_t n = 0;
    int all_same = 1;
    while (s2 == MLSHIFT_OK) {
        mlshift_frame f, g;
        int got;
        s2 = mlshift_reader_next(rd, &f, &got, &e2);
        if (s2 != MLSHIFT_OK || !got)
            break;
        if (n < mlshift_frames_count(fr)) {
            mlshift_frames_get(fr, n, &g);
            if (all_same && !same_frame(&f, &g)) {
                CHECK(0, "%s: frame %zu differs from mlshift_read's", what, n);
                all_same = 0;
            }
        }
        n++;
    }
    CHECK(s1 == s2, "%s: status %d streaming, %d reading whole", what, (int)s2,
          (int)s1);
    if (s1 == MLSHIFT_OK) {
        CHECK(n == mlshift_frames_count(fr), "%s: %zu frames streamed, %zu read",
              what, n, mlshift_frames_count(fr));
        CHECK(all_same, "%s: every frame the same", what);
        CHECK(mlshift_reader_count(rd) == n, "%s: reader count %zu", what,
              mlshift_reader_count(rd));
    } else {
        CHECK(s2 != MLSHIFT_OK && strcmp(e1.message, e2.message) == 0,
              "%s: error '%s' streaming, '%s' reading whole", what,
              s2 != MLSHIFT_OK ? e2.message : "(none)", e1.message);
    }
    mlshift_reader_close(rd);
    mlshift_frames_destroy(fr);
    return n;
}

static void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL, "create %s", path);
    if (fp) {
        CHECK(fwrite(data, 1, n, fp) == n, "write %s", path);
        fclose(fp);
    }
}

/* The first n bytes of src into dst. */
static void truncate_copy(const char *src, const char *dst, size_t n)
{
    FILE *fp = fopen(src, "rb");
    char *buf = malloc(n);
    CHECK(fp && buf, "read %s", src);
    if (fp && buf)
        CHECK(fread(buf, 1, n, fp) == n, "read %zu bytes of %s", n, src);
    if (fp)
        fclose(fp);
    if (buf)
        write_bytes(dst, buf, n);
    free(buf);
}

static void test_real_files(void)
{
    mlshift_read_options old = {0};
    old.labels_old = 1;
    /* 1.5 MB: more than the 1 MB first block, so frames straddle refills. */
    CHECK(stream_equals_read(check_data_path("3bpa/train_300K.xyz"), NULL,
                             "3BPA extxyz") == 500, "3BPA: 500 frames");
    /* Cells, pbc, fixed atoms, info pairs. */
    CHECK(stream_equals_read(check_data_path("oc20/random1000170.extxyz"), NULL,
                             "OC20 extxyz") > 0, "OC20 frames");
    /* 1,000 frames: four chunks of rows. */
    CHECK(stream_equals_read(check_data_path("rmd17/rmd17_aspirin_train_01.npz"),
                             NULL, "rMD17 npz") == 1000, "rMD17: 1000 frames");
    CHECK(stream_equals_read(check_data_path("rmd17/rmd17_aspirin_train_01.npz"),
                             &old, "rMD17 npz, old labels") == 1000,
          "rMD17 old labels: 1000 frames");
    CHECK(stream_equals_read(check_data_path("spice/SPICE-1.1.4_n2.hdf5"), NULL,
                             "SPICE HDF5") > 0, "SPICE frames");
    CHECK(stream_equals_read(check_data_path("ani1x/ani1x_format_n5.hdf5"), NULL,
                             "ANI-1x HDF5") > 0, "ANI-1x frames");
    CHECK(stream_equals_read(check_data_path("ani1x/ani2x_minimal.hdf5"), NULL,
                             "ANI-2x HDF5") > 0, "ANI-2x frames");
}

static void test_errors(void)
{
    /* Truncated past the first block: the error comes at the end, with
     * the line number mlshift_read reports. */
    truncate_copy(check_data_path("3bpa/train_300K.xyz"), tmp_path("cut.xyz"),
                  1200000);
    stream_equals_read(tmp_path("cut.xyz"), NULL, "truncated extxyz");
    /* A bad count line after blank lines and a good frame. */
    const char *bad = "1\nenergy=1\nH 0 0 0\n\n\n  \n2x\nc\nH 0 0 0\n";
    write_bytes(tmp_path("bad.xyz"), bad, strlen(bad));
    CHECK(stream_equals_read(tmp_path("bad.xyz"), NULL, "bad count") == 1,
          "bad count: the good frame comes first");
    /* Blank lines only at the end: no error, one frame. */
    const char *tail = "1\n\nH 0 0 0\n\n\n";
    write_bytes(tmp_path("tail.xyz"), tail, strlen(tail));
    CHECK(stream_equals_read(tmp_path("tail.xyz"), NULL, "trailing blanks") == 1,
          "trailing blanks: one frame");
    write_bytes(tmp_path("empty.xyz"), "", 0);
    CHECK(stream_equals_read(tmp_path("empty.xyz"), NULL, "empty extxyz") == 0,
          "empty extxyz: no frame");
    truncate_copy(check_data_path("rmd17/rmd17_aspirin_test_01.npz"),
                  tmp_path("cut.npz"), 700000);
    stream_equals_read(tmp_path("cut.npz"), NULL, "truncated npz");
    write_bytes(tmp_path("empty.npz"), "", 0);
    stream_equals_read(tmp_path("empty.npz"), NULL, "empty npz");
    stream_equals_read(tmp_path("nope.npz"), NULL, "missing npz");
    stream_equals_read(tmp_path("nope.xyz"), NULL, "missing extxyz");
    stream_equals_read(tmp_path("nope.h5"), NULL, "missing HDF5");
    stream_equals_read(tmp_path("bad.xyz"), &(mlshift_read_options){
                           .format = MLSHIFT_FORMAT_HDF5}, "extxyz as HDF5");
    mlshift_reader *rd;
    mlshift_error err;
    CHECK(mlshift_reader_open(tmp_path("x.unknown"), NULL, &rd, &err) ==
              MLSHIFT_ERR_UNSUPPORTED && rd == NULL,
          "unknown extension refused");
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void test_writer(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    CHECK(mlshift_read(fr, check_data_path("oc20/random1000156.extxyz"), NULL,
                       &err) == MLSHIFT_OK, "read OC20: %s", err.message);
    size_t n = mlshift_frames_count(fr);
    /* Plain frames: the same bytes as mlshift_write_extxyz. */
    mlshift_write_options wo = {"E", "F"};
    CHECK(mlshift_write_extxyz(fr, tmp_path("whole.extxyz"), &wo, &err) ==
              MLSHIFT_OK, "write whole: %s", err.message);
    mlshift_writer *w;
    CHECK(mlshift_writer_open(tmp_path("stream.extxyz"), &wo, NULL, 0, &w, &err) ==
              MLSHIFT_OK, "writer open: %s", err.message);
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        CHECK(mlshift_writer_write(w, &f, NULL, &err) == MLSHIFT_OK, "write %zu", s);
    }
    CHECK(mlshift_writer_count(w) == n, "writer count");
    CHECK(mlshift_writer_commit(w, &err) == MLSHIFT_OK, "commit: %s", err.message);
    size_t l1 = 0, l2 = 0;
    char *a = slurp(tmp_path("whole.extxyz"), &l1), *b = slurp(tmp_path("stream.extxyz"), &l2);
    CHECK(a && b && l1 == l2 && l1 > 0 && memcmp(a, b, l1) == 0,
          "writer: the bytes of mlshift_write_extxyz (%zu, %zu)", l1, l2);
    free(a);
    free(b);

    /* Columns: a per-frame value k + 0.5 and per-atom (i, -i, 2^-k) read
     * back as energy and forces under their names. */
    mlshift_column cols[2] = {{"tag", 0, 1}, {"vec", 1, 3}};
    CHECK(mlshift_writer_open(tmp_path("cols.extxyz"), NULL, cols, 2, &w, &err) ==
              MLSHIFT_OK, "writer with columns: %s", err.message);
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        double tag = (double)s + 0.5, *vec = malloc(3 * f.natoms * sizeof *vec);
        for (size_t i = 0; vec && i < f.natoms; i++) {
            vec[3 * i] = (double)i;
            vec[3 * i + 1] = -(double)i;
            vec[3 * i + 2] = ldexp(1.0, -(int)s);
        }
        const double *values[2] = {&tag, vec};
        CHECK(vec && mlshift_writer_write(w, &f, values, &err) == MLSHIFT_OK,
              "write columns %zu", s);
        free(vec);
    }
    CHECK(mlshift_writer_commit(w, &err) == MLSHIFT_OK, "commit columns");
    mlshift_read_options ro = {0};
    ro.energy_key = "tag";
    ro.forces_key = "vec";
    mlshift_frames *back = mlshift_frames_create();
    CHECK(mlshift_read(back, tmp_path("cols.extxyz"), &ro, &err) == MLSHIFT_OK,
          "read columns back: %s", err.message);
    int ok = mlshift_frames_count(back) == n;
    for (size_t s = 0; ok && s < n; s++) {
        mlshift_frame f, g;
        mlshift_frames_get(back, s, &f);
        mlshift_frames_get(fr, s, &g);
        ok = f.energy == (double)s + 0.5 && f.forces && f.natoms == g.natoms &&
             same_doubles(f.positions, g.positions, 3 * f.natoms);
        for (size_t i = 0; ok && i < f.natoms; i++)
            ok = f.forces[3 * i] == (double)i && f.forces[3 * i + 1] == -(double)i &&
                 f.forces[3 * i + 2] == ldexp(1.0, -(int)s);
    }
    CHECK(ok, "columns read back exactly");
    mlshift_frames_destroy(back);

    /* A clashing name is refused at open; abort leaves nothing. */
    mlshift_column clash[1] = {{"pos", 1, 3}};
    CHECK(mlshift_writer_open(tmp_path("clash.extxyz"), NULL, clash, 1, &w, &err) ==
              MLSHIFT_ERR_VALUE && w == NULL, "a column named pos is refused");
    CHECK(mlshift_writer_open(tmp_path("aborted.extxyz"), NULL, NULL, 0, &w, &err) ==
              MLSHIFT_OK, "open to abort");
    mlshift_writer_abort(w);
    CHECK(access(tmp_path("aborted.extxyz"), F_OK) != 0, "abort writes no file");
    mlshift_frames_destroy(fr);
}

static int same_stats(const mlshift_train_stats *a, const mlshift_train_stats *b)
{
    return a->n_structures == b->n_structures && a->natoms_max == b->natoms_max &&
           memcmp(a->element_atoms, b->element_atoms, sizeof a->element_atoms) == 0 &&
           same_doubles(&a->natoms_mean, &b->natoms_mean, 1) &&
           same_doubles(&a->natoms_std, &b->natoms_std, 1) &&
           same_doubles(&a->carbon_mean, &b->carbon_mean, 1) &&
           same_doubles(&a->carbon_std, &b->carbon_std, 1) &&
           a->n_force == b->n_force &&
           same_doubles(&a->force_norm_mean, &b->force_norm_mean, 1) &&
           same_doubles(&a->force_norm_std, &b->force_norm_std, 1) &&
           same_doubles(&a->spectral_mean, &b->spectral_mean, 1) &&
           same_doubles(&a->spectral_std, &b->spectral_std, 1) &&
           same_doubles(&a->train_ood_connectivity, &b->train_ood_connectivity, 1) &&
           same_doubles(&a->train_ood_size, &b->train_ood_size, 1) &&
           same_doubles(a->spectrum, b->spectrum, a->natoms_max) &&
           a->n_compositions == b->n_compositions &&
           a->compositions_len == b->compositions_len &&
           memcmp(a->compositions, b->compositions, a->compositions_len) == 0 &&
           strcmp(a->force_source, b->force_source) == 0;
}

static void test_stats_builder(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    /* Two molecules of different sizes: padding, two compositions. */
    CHECK(mlshift_read(fr, check_data_path("rmd17/rmd17_benzene_train_01.npz"),
                       NULL, &err) == MLSHIFT_OK, "read benzene");
    CHECK(mlshift_read(fr, check_data_path("rmd17/rmd17_aspirin_train_01.npz"),
                       NULL, &err) == MLSHIFT_OK, "read aspirin");
    size_t n = mlshift_frames_count(fr);
    mlshift_train_stats *whole = NULL, *streamed = NULL;
    CHECK(mlshift_stats_compute(fr, 5.0, NULL, NULL, &whole, &err) == MLSHIFT_OK,
          "stats compute: %s", err.message);
    if (!whole) {
        mlshift_frames_destroy(fr);
        return;
    }
    /* 64 bytes in memory: the records go to a temporary file at once. */
    size_t spills[2] = {64, 0};
    for (int k = 0; k < 2; k++) {
        mlshift_stats_builder *b;
        CHECK(mlshift_stats_begin(5.0, NULL, spills[k], &b, &err) == MLSHIFT_OK,
              "begin");
        int ok = 1;
        for (size_t s = 0; s < n && ok; s++) {
            mlshift_frame f;
            mlshift_frames_get(fr, s, &f);
            ok = mlshift_stats_add(b, &f, mlshift_frame_mean_force_norm(&f), &err) ==
                 MLSHIFT_OK;
        }
        CHECK(ok, "add every frame: %s", err.message);
        CHECK(mlshift_stats_finish(b, &streamed, &err) == MLSHIFT_OK, "finish: %s",
              err.message);
        CHECK(streamed && same_stats(whole, streamed),
              "builder (spill %zu bytes) = mlshift_stats_compute, bit for bit",
              spills[k]);
        mlshift_stats_destroy(streamed);
    }
    CHECK(whole->n_compositions == 2 && whole->natoms_max == 21,
          "two compositions, N_max 21 (benzene 12, aspirin 21)");
    mlshift_stats_destroy(whole);
    mlshift_stats_builder *b;
    CHECK(mlshift_stats_begin(5.0, NULL, 0, &b, &err) == MLSHIFT_OK, "begin empty");
    CHECK(mlshift_stats_finish(b, &streamed, &err) == MLSHIFT_ERR_VALUE && !streamed,
          "an empty builder is an error");
    CHECK(mlshift_stats_begin(-1, NULL, 0, &b, &err) == MLSHIFT_ERR_VALUE && !b,
          "a negative cutoff is refused");
    mlshift_frames_destroy(fr);
}

static void test_dedup_set(void)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    /* Train and test files of one molecule share old indices. */
    CHECK(mlshift_read(fr, check_data_path("rmd17/rmd17_aspirin_train_01.npz"),
                       NULL, &err) == MLSHIFT_OK, "read train");
    CHECK(mlshift_read(fr, check_data_path("rmd17/rmd17_aspirin_train_02.npz"),
                       NULL, &err) == MLSHIFT_OK, "read train 2");
    size_t n = mlshift_frames_count(fr), m = 0;
    size_t *idx = malloc(n * sizeof *idx);
    CHECK(idx && mlshift_dedup(fr, "old_index", idx, &m, &err) == MLSHIFT_OK,
          "dedup");
    mlshift_dedup_set *d = mlshift_dedup_set_create("old_index");
    size_t kept = 0;
    int ok = d != NULL;
    for (size_t s = 0; s < n && ok; s++) {
        mlshift_frame f;
        int keep;
        mlshift_frames_get(fr, s, &f);
        ok = mlshift_dedup_set_add(d, &f, &keep, &err) == MLSHIFT_OK;
        if (keep)
            ok = ok && kept < m && idx[kept++] == s;
    }
    CHECK(ok && kept == m, "dedup set keeps mlshift_dedup's %zu of %zu frames", m, n);
    CHECK(m < n, "the two files overlap (%zu of %zu kept)", m, n);
    CHECK(mlshift_dedup_set_finish(d, &err) == MLSHIFT_OK, "finish");
    mlshift_dedup_set_destroy(d);
    d = mlshift_dedup_set_create("nosuchkey");
    mlshift_frame f;
    int keep;
    mlshift_frames_get(fr, 0, &f);
    CHECK(mlshift_dedup_set_add(d, &f, &keep, &err) == MLSHIFT_OK && keep,
          "a frame without the key is kept");
    CHECK(mlshift_dedup_set_finish(d, &err) == MLSHIFT_ERR_MISSING,
          "no frame has the key: an error");
    mlshift_dedup_set_destroy(d);
    free(idx);
    mlshift_frames_destroy(fr);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/mlshift-stream-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s", tmpdir);
        return check_done();
    }
    test_real_files();
    test_errors();
    test_writer();
    test_stats_builder();
    test_dedup_set();
    return check_done();
}

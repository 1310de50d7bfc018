/* SPDX-License-Identifier: MIT */
/* Training statistics along the paper's shift axes (§3.2, A.5):
 *   atomic features — elements, compositions, atoms per structure, carbon
 *     fraction;
 *   force norm — per structure (1/N) Σ_i |F_i|, from labels or a prior;
 *   connectivity — the average normalised-Laplacian spectrum at the training
 *     cutoff: each structure's ascending spectrum zero-padded at the end to
 *     N_max, averaged element-wise (λ̄), and each structure's squared
 *     spectral distance to λ̄ (eq. 5), whose mean and std set the
 *     connectivity rule.
 * Means and population standard deviations are two-pass sums
 * (mlshift_stats_builder: one pass over the frames, then over a record
 * per frame). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../io/json.h"
#include "../io/strset.h"
#include "shift_ws.h"
#include "stats.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ms_stats_free(mlshift_train_stats *st)
{
    free(st->spectrum);
    free(st->compositions);
    memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------- the builder */

/* One pass over the frames gathers the counts, the sums of the means and of
 * λ̄, and a record per frame (N, carbon fraction, force norm, spectrum);
 * finish then reads the records twice: the deviations from the means and
 * each distance to λ̄, then the distances' deviations and the training
 * flag rates. Every sum runs over the frames in their order, exactly as
 * the two-pass loops over arrays did, so the results are bit for bit the
 * same. The records stay in memory up to spill bytes, then go to a
 * temporary file. */
struct mlshift_stats_builder {
    mlshift_train_stats st;
    char source[128];
    int has_source;
    mlshift_shift_ws *ws;
    double sum_nat, sum_carbon, sum_fn;
    size_t n_fn;
    double *spec;               /* (spec_cap,) Σ of zero-padded spectra */
    size_t spec_cap;
    ms_strset comps;            /* distinct formulas */
    double *mem;                /* records in memory, mem_len doubles */
    size_t mem_len, mem_cap, spill;
    FILE *tmp;                  /* records beyond spill */
    size_t rec_doubles;         /* doubles recorded in all */
    double *row;                /* (natoms_max + 3,) a record read back */
};

#define FORMULA_W 64

mlshift_status mlshift_stats_begin(double cutoff, const char *source,
                                   size_t spill_bytes,
                                   mlshift_stats_builder **out,
                                   mlshift_error *err)
{
    *out = NULL;
    if (!(cutoff > 0) || !isfinite(cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stats: cutoff %g Å is not positive",
                       cutoff);
    mlshift_stats_builder *b = calloc(1, sizeof *b);
    if (!b || !(b->ws = mlshift_shift_ws_create())) {
        free(b);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
    }
    b->st.cutoff = cutoff;
    if (source) {
        snprintf(b->source, sizeof b->source, "%s", source);
        b->has_source = 1;
    }
    b->spill = spill_bytes ? spill_bytes : (size_t)1 << 20;
    *out = b;
    return MLSHIFT_OK;
}

void mlshift_stats_abort(mlshift_stats_builder *b)
{
    if (!b)
        return;
    mlshift_shift_ws_destroy(b->ws);
    free(b->spec);
    ms_strset_free(&b->comps);
    free(b->mem);
    if (b->tmp)
        fclose(b->tmp);
    free(b->row);
    ms_stats_free(&b->st);
    free(b);
}

/* Appends n doubles to the records. */
static int record(mlshift_stats_builder *b, const double *x, size_t n)
{
    b->rec_doubles += n;
    if (!b->tmp && (b->mem_len + n) * sizeof *x > b->spill) {
        if (!(b->tmp = tmpfile()) ||
            fwrite(b->mem, sizeof *x, b->mem_len, b->tmp) != b->mem_len)
            return -1;
        free(b->mem);
        b->mem = NULL;
        b->mem_len = b->mem_cap = 0;
    }
    if (b->tmp)
        return fwrite(x, sizeof *x, n, b->tmp) == n ? 0 : -1;
    if (ms_grow((void **)&b->mem, &b->mem_cap, b->mem_len + n, sizeof *x))
        return -1;
    memcpy(b->mem + b->mem_len, x, n * sizeof *x);
    b->mem_len += n;
    return 0;
}

/* The record at *off (a count of doubles) into b->row: N, carbon, force
 * norm, then N eigenvalues. */
static int read_record(mlshift_stats_builder *b, size_t *off)
{
    if (!b->tmp) {
        size_t N = (size_t)b->mem[*off];
        memcpy(b->row, b->mem + *off, (N + 3) * sizeof *b->row);
        *off += N + 3;
        return 0;
    }
    if (fread(b->row, sizeof *b->row, 3, b->tmp) != 3)
        return -1;
    size_t N = (size_t)b->row[0];
    if (N > b->st.natoms_max || fread(b->row + 3, sizeof *b->row, N, b->tmp) != N)
        return -1;
    *off += N + 3;
    return 0;
}

mlshift_status mlshift_stats_add(mlshift_stats_builder *b,
                                 const mlshift_frame *f, double force_norm,
                                 mlshift_error *err)
{
    mlshift_train_stats *st = &b->st;
    size_t s = st->n_structures;
    mlshift_status status = ms_shift_graph(b->ws, f, st->cutoff, err);
    if (status == MLSHIFT_OK)
        status = ms_shift_spectrum(b->ws, st->cutoff, NULL, err);
    if (status != MLSHIFT_OK) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return ms_fail(err, status, "stats: structure %zu: %s", s, msg);
    }
    size_t nc = 0;
    for (size_t i = 0; i < f->natoms; i++)
        nc += f->numbers[i] == 6;
    double head[3] = {(double)f->natoms,
                      f->natoms ? (double)nc / (double)f->natoms : 0.0,
                      force_norm};
    char formula[FORMULA_W];
    mlshift_formula(f, formula, sizeof formula);
    if (f->natoms > b->spec_cap) {
        size_t cap = b->spec_cap;
        if (ms_grow((void **)&b->spec, &cap, f->natoms, sizeof *b->spec))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
        memset(b->spec + b->spec_cap, 0, (cap - b->spec_cap) * sizeof *b->spec);
        b->spec_cap = cap;
    }
    if (record(b, head, 3) || record(b, b->ws->eig, f->natoms) ||
        ms_strset_add(&b->comps, formula) < 0)
        return ms_fail(err, MLSHIFT_ERR_IO, "stats: cannot keep the spectra "
                       "(out of memory, or the temporary file failed: %s)",
                       strerror(errno));
    for (size_t i = 0; i < f->natoms; i++)
        st->element_atoms[f->numbers[i]]++;
    if (f->natoms > st->natoms_max)
        st->natoms_max = f->natoms;
    b->sum_nat += head[0];
    b->sum_carbon += head[1];
    if (!isnan(force_norm)) {
        b->sum_fn += force_norm;
        b->n_fn++;
    }
    for (size_t l = 0; l < f->natoms; l++)
        b->spec[l] += b->ws->eig[l];
    st->n_structures++;
    return MLSHIFT_OK;
}

/* st->compositions from the set, sorted. */
static int compositions(mlshift_stats_builder *b)
{
    mlshift_train_stats *st = &b->st;
    size_t n = b->comps.n;
    const char **ptr = malloc((n ? n : 1) * sizeof *ptr);
    st->compositions = malloc(b->comps.len ? b->comps.len : 1);
    if (!ptr || !st->compositions) {
        free(ptr);
        return -1;
    }
    for (size_t o = 0, k = 0; k < n; k++, o += strlen(b->comps.buf + o) + 1)
        ptr[k] = b->comps.buf + o;
    qsort(ptr, n, sizeof *ptr, cmp_str);
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(ptr[k]) + 1;
        memcpy(st->compositions + st->compositions_len, ptr[k], l);
        st->compositions_len += l;
    }
    st->n_compositions = n;
    free(ptr);
    return 0;
}

mlshift_status mlshift_stats_finish(mlshift_stats_builder *b,
                                    mlshift_train_stats **out,
                                    mlshift_error *err)
{
    *out = NULL;
    mlshift_train_stats *st = &b->st;
    size_t n = st->n_structures;
    mlshift_status status = MLSHIFT_OK;
    if (n == 0) {
        status = ms_fail(err, MLSHIFT_ERR_VALUE, "stats: the training set is empty");
        goto done;
    }
    b->row = malloc((st->natoms_max + 3) * sizeof *b->row);
    st->spectrum = calloc(st->natoms_max ? st->natoms_max : 1, sizeof *st->spectrum);
    if (!b->row || !st->spectrum || compositions(b)) {
        status = ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
        goto done;
    }
    /* Means (population statistics, NaN force norms skipped) and λ̄. */
    st->natoms_mean = b->sum_nat / (double)n;
    st->carbon_mean = b->sum_carbon / (double)n;
    st->n_force = b->n_fn;
    st->force_norm_mean = b->n_fn ? b->sum_fn / (double)b->n_fn : NAN;
    snprintf(st->force_source, sizeof st->force_source, "%s",
             !st->n_force ? "none" : b->has_source ? b->source : "labels");
    for (size_t l = 0; l < st->natoms_max; l++)
        st->spectrum[l] = b->spec[l] / (double)n;

    /* Pass 1: deviations from the means, distances to λ̄. */
    double v[3] = {0, 0, 0}, dsum = 0;
    size_t dn = 0, off = 0;
    if (b->tmp && fseek(b->tmp, 0, SEEK_SET))
        goto io;
    for (size_t s = 0; s < n; s++) {
        if (read_record(b, &off))
            goto io;
        double *x = b->row;
        v[0] += (x[0] - st->natoms_mean) * (x[0] - st->natoms_mean);
        v[1] += (x[1] - st->carbon_mean) * (x[1] - st->carbon_mean);
        if (!isnan(x[2]))
            v[2] += (x[2] - st->force_norm_mean) * (x[2] - st->force_norm_mean);
        double d = mlshift_spectral_distance(x + 3, (size_t)x[0], st->spectrum,
                                             st->natoms_max);
        if (!isnan(d)) {
            dsum += d;
            dn++;
        }
    }
    st->natoms_std = sqrt(v[0] / (double)n);
    st->carbon_std = sqrt(v[1] / (double)n);
    st->force_norm_std = b->n_fn ? sqrt(v[2] / (double)b->n_fn) : NAN;
    st->spectral_mean = dn ? dsum / (double)dn : NAN;

    /* Pass 2: the distances' deviation and the training flag rates. */
    double vd = 0;
    size_t c[4] = {0, 0, 0, 0};
    off = 0;
    if (b->tmp && fseek(b->tmp, 0, SEEK_SET))
        goto io;
    for (size_t s = 0; s < n; s++) {
        if (read_record(b, &off))
            goto io;
        double *x = b->row;
        double d = mlshift_spectral_distance(x + 3, (size_t)x[0], st->spectrum,
                                             st->natoms_max);
        if (!isnan(d))
            vd += (d - st->spectral_mean) * (d - st->spectral_mean);
        c[0] += fabs(x[0] - st->natoms_mean) > st->natoms_std;
        c[1] += fabs(x[1] - st->carbon_mean) > st->carbon_std;
        c[2] += fabs(x[2] - st->force_norm_mean) > st->force_norm_std;
    }
    st->spectral_std = dn ? sqrt(vd / (double)dn) : NAN;
    /* c[3] needs spectral_std: a third, cheap read. */
    off = 0;
    if (b->tmp && fseek(b->tmp, 0, SEEK_SET))
        goto io;
    for (size_t s = 0; s < n; s++) {
        if (read_record(b, &off))
            goto io;
        double d = mlshift_spectral_distance(b->row + 3, (size_t)b->row[0],
                                             st->spectrum, st->natoms_max);
        c[3] += d - st->spectral_mean > st->spectral_std;
    }
    st->train_ood_size = (double)c[0] / (double)n;
    st->train_ood_carbon = (double)c[1] / (double)n;
    st->train_ood_force_norm = st->n_force ? (double)c[2] / (double)st->n_force : NAN;
    st->train_ood_connectivity = (double)c[3] / (double)n;
    if (!(*out = malloc(sizeof **out))) {
        status = ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
        goto done;
    }
    **out = *st;
    memset(st, 0, sizeof *st);
    goto done;
io:
    status = ms_fail(err, MLSHIFT_ERR_IO, "stats: cannot read back the "
                     "temporary spectra: %s", strerror(errno ? errno : EIO));
done:
    mlshift_stats_abort(b);
    return status;
}

mlshift_status mlshift_stats_compute(const mlshift_frames *fr, double cutoff,
                                     const double *force_norms,
                                     const char *source,
                                     mlshift_train_stats **out,
                                     mlshift_error *err)
{
    *out = NULL;
    size_t n = mlshift_frames_count(fr);
    if (n == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stats: the training set is empty");
    mlshift_stats_builder *b;
    /* In memory: the frames are already there, the records are smaller. */
    mlshift_status status = mlshift_stats_begin(cutoff, source, SIZE_MAX, &b, err);
    for (size_t s = 0; s < n && status == MLSHIFT_OK; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        status = mlshift_stats_add(b, &f, force_norms ? force_norms[s]
                                          : mlshift_frame_mean_force_norm(&f),
                                   err);
    }
    if (status != MLSHIFT_OK) {
        mlshift_stats_abort(b);
        return status;
    }
    return mlshift_stats_finish(b, out, err);
}

/* ------------------------------------------------------------- the file */

static void put_num(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, "%.17g", v);
    else
        fputs("null", fp);
}

mlshift_status mlshift_stats_write(const mlshift_train_stats *st,
                                   const char *path, mlshift_error *err)
{
    ms_atomic_file af;
    mlshift_status s = ms_atomic_open(&af, path, err);
    if (s != MLSHIFT_OK)
        return s;
    FILE *fp = af.fp;
    fprintf(fp, "{\n  \"format\": \"mlshift-train-stats\",\n  \"version\": %d,\n",
            MLSHIFT_STATS_VERSION);
    fprintf(fp, "  \"created_by\": \"mlshift %s\",\n  \"units\": {\"length\": "
            "\"A\", \"force\": \"eV/A\"},\n", MLSHIFT_VERSION);
    fprintf(fp, "  \"cutoff\": ");
    put_num(fp, st->cutoff);
    fprintf(fp, ",\n  \"n_structures\": %zu,\n  \"elements\": {", st->n_structures);
    const char *sep = "";
    for (int z = 1; z <= 118; z++)
        if (st->element_atoms[z]) {
            fprintf(fp, "%s\"%s\": %zu", sep, mlshift_element_symbol(z),
                    st->element_atoms[z]);
            sep = ", ";
        }
    fprintf(fp, "},\n  \"compositions\": [");
    const char *c = st->compositions;
    for (size_t k = 0; k < st->n_compositions; k++, c += strlen(c) + 1)
        fprintf(fp, "%s\"%s\"", k ? ", " : "", c);
    fprintf(fp, "],\n  \"natoms\": {\"max\": %zu, \"mean\": ", st->natoms_max);
    put_num(fp, st->natoms_mean);
    fprintf(fp, ", \"std\": ");
    put_num(fp, st->natoms_std);
    fprintf(fp, "},\n  \"carbon_fraction\": {\"mean\": ");
    put_num(fp, st->carbon_mean);
    fprintf(fp, ", \"std\": ");
    put_num(fp, st->carbon_std);
    fprintf(fp, "},\n  \"force_norm\": {\"source\": \"");
    for (const char *p = st->force_source; *p; p++)
        if (*p == '"' || *p == '\\')
            fprintf(fp, "\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            fputc(*p, fp);
    fprintf(fp, "\", \"count\": %zu, \"mean\": ", st->n_force);
    put_num(fp, st->force_norm_mean);
    fprintf(fp, ", \"std\": ");
    put_num(fp, st->force_norm_std);
    fprintf(fp, "},\n  \"spectral_distance\": {\"mean\": ");
    put_num(fp, st->spectral_mean);
    fprintf(fp, ", \"std\": ");
    put_num(fp, st->spectral_std);
    fprintf(fp, "},\n  \"train_ood_fraction\": {\"size\": ");
    put_num(fp, st->train_ood_size);
    fprintf(fp, ", \"carbon_fraction\": ");
    put_num(fp, st->train_ood_carbon);
    fprintf(fp, ", \"force_norm\": ");
    put_num(fp, st->train_ood_force_norm);
    fprintf(fp, ", \"connectivity\": ");
    put_num(fp, st->train_ood_connectivity);
    fprintf(fp, "},\n  \"spectrum\": [");
    for (size_t l = 0; l < st->natoms_max; l++) {
        fprintf(fp, "%s", l ? (l % 4 ? ", " : ",\n    ") : "\n    ");
        put_num(fp, st->spectrum[l]);
    }
    fprintf(fp, "\n  ]\n}\n");
    return ms_atomic_commit(&af, err);
}

/* Reads a number member; NaN for null; an error if absent or of another
 * type. */
static mlshift_status get_num(const ms_json *d, const ms_json_node *obj,
                              const char *key, const char *path, double *out,
                              mlshift_error *err)
{
    const ms_json_node *v = ms_json_get(d, obj, key);
    if (v && v->type == MS_JSON_NULL) {
        *out = NAN;
        return MLSHIFT_OK;
    }
    if (!v || v->type != MS_JSON_NUMBER)
        return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%d: '%s' missing or not a "
                       "number", path, v ? v->line : obj->line, key);
    *out = v->number;
    return MLSHIFT_OK;
}

static mlshift_status get_count(const ms_json *d, const ms_json_node *obj,
                                const char *key, const char *path, size_t *out,
                                mlshift_error *err)
{
    double v;
    mlshift_status s = get_num(d, obj, key, path, &v, err);
    if (s == MLSHIFT_OK && !(v >= 0 && v == floor(v) && v < 1e15))
        s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: '%s' is not a count", path, key);
    *out = s == MLSHIFT_OK ? (size_t)v : 0;
    return s;
}

/* A key twice in one object: JSON parsers disagree on which one wins, so
 * the file is ambiguous; every object of the document is checked. */
static mlshift_status no_duplicate_keys(const ms_json *d, const char *path,
                                        mlshift_error *err)
{
    for (size_t k = 0; k < d->n; k++) {
        const ms_json_node *o = &d->nodes[k];
        if (o->type != MS_JSON_OBJECT)
            continue;
        for (const ms_json_node *a = ms_json_first(d, o); a; a = ms_json_next(d, a))
            for (const ms_json_node *b = ms_json_next(d, a); b; b = ms_json_next(d, b))
                if (a->key && b->key && !strcmp(a->key, b->key))
                    return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%d: key \"%s\" "
                                   "appears twice in one object (also line %d)",
                                   path, b->line, b->key, a->line);
    }
    return MLSHIFT_OK;
}

/* A standard deviation below zero (or infinite) is no statistic. */
static mlshift_status check_std(const ms_json *d, const ms_json_node *obj,
                                const char *name, double std, const char *path,
                                mlshift_error *err)
{
    if (isnan(std) || (std >= 0 && isfinite(std)))
        return MLSHIFT_OK;
    const ms_json_node *v = ms_json_get(d, obj, "std");
    return ms_fail(err, MLSHIFT_ERR_VALUE, "%s:%d: %s.std is %g: a standard "
                   "deviation is >= 0 and finite", path, v ? v->line : obj->line,
                   name, std);
}

mlshift_status mlshift_stats_read(const char *path, mlshift_train_stats **out,
                                  mlshift_error *err)
{
    *out = NULL;
    char *text;
    size_t len;
    mlshift_status s = ms_read_file(path, &text, &len, err);
    if (s != MLSHIFT_OK)
        return s;
    mlshift_train_stats *st = malloc(sizeof *st);
    s = st ? ms_stats_parse(st, text, len, path, err)
           : ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    free(text);
    if (s != MLSHIFT_OK) {
        free(st);
        return s;
    }
    *out = st;
    return MLSHIFT_OK;
}

mlshift_status ms_stats_parse(mlshift_train_stats *st, const char *text,
                              size_t len, const char *path, mlshift_error *err)
{
    memset(st, 0, sizeof *st);
    ms_json d;
    mlshift_status s = ms_json_parse(&d, text, len, path, err);
    if (s != MLSHIFT_OK)
        return s;
    const ms_json_node *root = &d.nodes[0], *v;
    if ((s = no_duplicate_keys(&d, path, err)))
        goto done;
    v = ms_json_get(&d, root, "format");
    if (root->type != MS_JSON_OBJECT || !v || v->type != MS_JSON_STRING ||
        strcmp(v->string, "mlshift-train-stats")) {
        s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: not an mlshift training-"
                    "statistics file (no \"format\": \"mlshift-train-stats\")", path);
        goto done;
    }
    double ver;
    if ((s = get_num(&d, root, "version", path, &ver, err)))
        goto done;
    if (ver != MLSHIFT_STATS_VERSION) {
        s = ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "%s: statistics file version "
                    "%g; this mlshift reads version %d (recompute it with "
                    "mlshift stats)", path, ver, MLSHIFT_STATS_VERSION);
        goto done;
    }
    const ms_json_node *nat = ms_json_get(&d, root, "natoms");
    const ms_json_node *cf = ms_json_get(&d, root, "carbon_fraction");
    const ms_json_node *fn = ms_json_get(&d, root, "force_norm");
    const ms_json_node *sd = ms_json_get(&d, root, "spectral_distance");
    const ms_json_node *sp = ms_json_get(&d, root, "spectrum");
    const ms_json_node *el = ms_json_get(&d, root, "elements");
    const ms_json_node *co = ms_json_get(&d, root, "compositions");
    if (!nat || !cf || !fn || !sd || !sp || sp->type != MS_JSON_ARRAY || !el ||
        el->type != MS_JSON_OBJECT || !co || co->type != MS_JSON_ARRAY) {
        s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: missing one of natoms, "
                    "carbon_fraction, force_norm, spectral_distance, spectrum, "
                    "elements, compositions", path);
        goto done;
    }
    if ((s = get_num(&d, root, "cutoff", path, &st->cutoff, err)) ||
        (s = get_count(&d, root, "n_structures", path, &st->n_structures, err)) ||
        (s = get_count(&d, nat, "max", path, &st->natoms_max, err)) ||
        (s = get_num(&d, nat, "mean", path, &st->natoms_mean, err)) ||
        (s = get_num(&d, nat, "std", path, &st->natoms_std, err)) ||
        (s = get_num(&d, cf, "mean", path, &st->carbon_mean, err)) ||
        (s = get_num(&d, cf, "std", path, &st->carbon_std, err)) ||
        (s = get_count(&d, fn, "count", path, &st->n_force, err)) ||
        (s = get_num(&d, fn, "mean", path, &st->force_norm_mean, err)) ||
        (s = get_num(&d, fn, "std", path, &st->force_norm_std, err)) ||
        (s = get_num(&d, sd, "mean", path, &st->spectral_mean, err)) ||
        (s = get_num(&d, sd, "std", path, &st->spectral_std, err)))
        goto done;
    if (!(st->cutoff > 0) || !isfinite(st->cutoff)) {
        v = ms_json_get(&d, root, "cutoff");
        s = ms_fail(err, MLSHIFT_ERR_VALUE, "%s:%d: cutoff %g Å: the cutoff "
                    "radius must be positive and finite", path, v ? v->line : 1,
                    st->cutoff);
        goto done;
    }
    if ((s = check_std(&d, nat, "natoms", st->natoms_std, path, err)) ||
        (s = check_std(&d, cf, "carbon_fraction", st->carbon_std, path, err)) ||
        (s = check_std(&d, fn, "force_norm", st->force_norm_std, path, err)) ||
        (s = check_std(&d, sd, "spectral_distance", st->spectral_std, path, err)))
        goto done;
    if (!(st->cutoff > 0) || !st->n_structures || st->natoms_max != sp->n_children) {
        s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: inconsistent: cutoff %g, %zu "
                    "structures, natoms max %zu but %zu spectrum values", path,
                    st->cutoff, st->n_structures, st->natoms_max, sp->n_children);
        goto done;
    }
    /* Training flag rates: informative, absent in hand-made files. */
    const ms_json_node *tr = ms_json_get(&d, root, "train_ood_fraction");
    double *rate[4] = {&st->train_ood_size, &st->train_ood_carbon,
                       &st->train_ood_force_norm, &st->train_ood_connectivity};
    static const char *rate_key[4] = {"size", "carbon_fraction", "force_norm",
                                      "connectivity"};
    for (int k = 0; k < 4; k++) {
        *rate[k] = NAN;
        if (tr && ms_json_get(&d, tr, rate_key[k]) &&
            (s = get_num(&d, tr, rate_key[k], path, rate[k], err)))
            goto done;
    }
    v = ms_json_get(&d, fn, "source");
    snprintf(st->force_source, sizeof st->force_source, "%s",
             v && v->type == MS_JSON_STRING ? v->string : "labels");
    st->spectrum = malloc((st->natoms_max ? st->natoms_max : 1) * sizeof *st->spectrum);
    if (!st->spectrum) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t l = 0;
    for (v = ms_json_first(&d, sp); v; v = ms_json_next(&d, v), l++) {
        if (v->type != MS_JSON_NUMBER || !(v->number >= -1e-9 && v->number <= 2 + 1e-9)) {
            s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%d: spectrum value %zu is "
                        "not a number in [0, 2]", path, v->line, l);
            goto done;
        }
        st->spectrum[l] = v->number;
    }
    for (v = ms_json_first(&d, el); v; v = ms_json_next(&d, v)) {
        int z = mlshift_element_number(v->key);
        if (!z || v->type != MS_JSON_NUMBER || !(v->number >= 0)) {
            s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%d: bad element entry '%s'",
                        path, v->line, v->key);
            goto done;
        }
        st->element_atoms[z] = (size_t)v->number;
    }
    size_t clen = 0;
    for (v = ms_json_first(&d, co); v; v = ms_json_next(&d, v)) {
        if (v->type != MS_JSON_STRING) {
            s = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%d: composition is not a "
                        "string", path, v->line);
            goto done;
        }
        clen += strlen(v->string) + 1;
    }
    st->compositions = malloc(clen ? clen : 1);
    if (!st->compositions) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (v = ms_json_first(&d, co); v; v = ms_json_next(&d, v)) {
        size_t k = strlen(v->string) + 1;
        memcpy(st->compositions + st->compositions_len, v->string, k);
        st->compositions_len += k;
        st->n_compositions++;
    }
done:
    ms_json_free(&d);
    if (s != MLSHIFT_OK)
        ms_stats_free(st);
    return s;
}

/* ------------------------------------------- the public, opaque statistics */

void mlshift_stats_destroy(mlshift_train_stats *st)
{
    if (!st)
        return;
    ms_stats_free(st);
    free(st);
}

double mlshift_stats_cutoff(const mlshift_train_stats *st) { return st->cutoff; }
size_t mlshift_stats_n_structures(const mlshift_train_stats *st) { return st->n_structures; }
size_t mlshift_stats_natoms_max(const mlshift_train_stats *st) { return st->natoms_max; }
const double *mlshift_stats_spectrum(const mlshift_train_stats *st) { return st->spectrum; }
size_t mlshift_stats_n_force(const mlshift_train_stats *st) { return st->n_force; }
const char *mlshift_stats_force_source(const mlshift_train_stats *st) { return st->force_source; }
size_t mlshift_stats_n_compositions(const mlshift_train_stats *st) { return st->n_compositions; }

size_t mlshift_stats_element_atoms(const mlshift_train_stats *st, int z)
{
    return z >= 1 && z <= 118 ? st->element_atoms[z] : 0;
}

const char *mlshift_stats_compositions(const mlshift_train_stats *st, size_t *len)
{
    if (len)
        *len = st->compositions_len;
    return st->compositions ? st->compositions : "";
}

/* The three numbers of one axis: mean, std, training flag rate. */
static const double *axis_field(const mlshift_train_stats *st, unsigned axis, int which)
{
    switch (axis) {
    case MLSHIFT_OOD_SIZE:
        return which == 0 ? &st->natoms_mean : which == 1 ? &st->natoms_std
                                                          : &st->train_ood_size;
    case MLSHIFT_OOD_CARBON:
        return which == 0 ? &st->carbon_mean : which == 1 ? &st->carbon_std
                                                          : &st->train_ood_carbon;
    case MLSHIFT_OOD_FORCE_NORM:
        return which == 0 ? &st->force_norm_mean : which == 1 ? &st->force_norm_std
                                                              : &st->train_ood_force_norm;
    case MLSHIFT_OOD_CONNECTIVITY:
        return which == 0 ? &st->spectral_mean : which == 1 ? &st->spectral_std
                                                            : &st->train_ood_connectivity;
    default:
        return NULL;
    }
}

double mlshift_stats_mean(const mlshift_train_stats *st, unsigned axis)
{
    const double *v = axis_field(st, axis, 0);
    return v ? *v : NAN;
}

double mlshift_stats_std(const mlshift_train_stats *st, unsigned axis)
{
    const double *v = axis_field(st, axis, 1);
    return v ? *v : NAN;
}

double mlshift_stats_train_ood(const mlshift_train_stats *st, unsigned axis)
{
    const double *v = axis_field(st, axis, 2);
    return v ? *v : NAN;
}

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
 * Means and population standard deviations are two-pass sums. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../io/json.h"
#include "shift_ws.h"
#include "stats.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mean and population std of x (n,), skipping NaN; returns the count. */
static size_t mean_std(const double *x, size_t n, double *mean, double *std)
{
    size_t c = 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            s += x[i];
            c++;
        }
    *mean = c ? s / (double)c : NAN;
    double v = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            v += (x[i] - *mean) * (x[i] - *mean);
    *std = c ? sqrt(v / (double)c) : NAN;
    return c;
}

void mlshift_stats_free(mlshift_train_stats *st)
{
    free(st->spectrum);
    free(st->compositions);
    memset(st, 0, sizeof *st);
}

/* Distinct formulas of the frames, sorted, into st->compositions. */
static mlshift_status collect_compositions(const mlshift_frames *fr,
                                           mlshift_train_stats *st,
                                           mlshift_error *err)
{
    size_t n = mlshift_frames_count(fr);
    const size_t W = 64;
    char *buf = malloc(n * W);
    char **ptr = malloc(n * sizeof *ptr);
    if (!buf || !ptr) {
        free(buf);
        free(ptr);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        ptr[i] = buf + i * W;
        mlshift_formula(&f, ptr[i], W);
    }
    qsort(ptr, n, sizeof *ptr, cmp_str);
    size_t len = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(ptr[i], ptr[i - 1]))
            len += strlen(ptr[i]) + 1;
    st->compositions = malloc(len ? len : 1);
    if (!st->compositions) {
        free(buf);
        free(ptr);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(ptr[i], ptr[i - 1])) {
            size_t l = strlen(ptr[i]) + 1;
            memcpy(st->compositions + k, ptr[i], l);
            k += l;
            st->n_compositions++;
        }
    st->compositions_len = len;
    free(buf);
    free(ptr);
    return MLSHIFT_OK;
}

mlshift_status mlshift_stats_compute(const mlshift_frames *fr, double cutoff,
                                     const double *force_norms,
                                     const char *source,
                                     mlshift_train_stats *st,
                                     mlshift_error *err)
{
    memset(st, 0, sizeof *st);
    size_t n = mlshift_frames_count(fr);
    if (n == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stats: the training set is empty");
    if (!(cutoff > 0) || !isfinite(cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "stats: cutoff %g Å is not positive",
                       cutoff);
    st->cutoff = cutoff;
    st->n_structures = n;
    size_t A = mlshift_frames_total_atoms(fr);
    double *x = malloc(3 * n * sizeof *x);       /* natoms, carbon, force norm */
    double *eig = malloc(A * sizeof *eig);       /* every spectrum, back to back */
    double *dist = malloc(n * sizeof *dist);
    mlshift_shift_ws *ws = mlshift_shift_ws_create();
    mlshift_status status = MLSHIFT_OK;
    if (!x || !eig || !dist || !ws) {
        status = ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
        goto done;
    }
    double *nat = x, *carbon = x + n, *fnorm = x + 2 * n;
    size_t off = 0;
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        size_t nc = 0;
        for (size_t i = 0; i < f.natoms; i++) {
            st->element_atoms[f.numbers[i]]++;
            nc += f.numbers[i] == 6;
        }
        nat[s] = (double)f.natoms;
        carbon[s] = f.natoms ? (double)nc / (double)f.natoms : 0.0;
        fnorm[s] = force_norms ? force_norms[s] : mlshift_frame_mean_force_norm(&f);
        if (f.natoms > st->natoms_max)
            st->natoms_max = f.natoms;
        status = ms_shift_graph(ws, &f, cutoff, err);
        if (status == MLSHIFT_OK)
            status = ms_shift_spectrum(ws, cutoff, NULL, err);
        if (status != MLSHIFT_OK) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err ? err->message : "");
            status = ms_fail(err, status, "stats: structure %zu: %s", s, msg);
            goto done;
        }
        memcpy(eig + off, ws->eig, f.natoms * sizeof *eig);
        off += f.natoms;
    }
    mean_std(nat, n, &st->natoms_mean, &st->natoms_std);
    mean_std(carbon, n, &st->carbon_mean, &st->carbon_std);
    st->n_force = mean_std(fnorm, n, &st->force_norm_mean, &st->force_norm_std);
    snprintf(st->force_source, sizeof st->force_source, "%s",
             !st->n_force ? "none" : source ? source : "labels");

    /* λ̄: element-wise mean of the zero-padded spectra. */
    st->spectrum = calloc(st->natoms_max, sizeof *st->spectrum);
    if (!st->spectrum) {
        status = ms_fail(err, MLSHIFT_ERR_NOMEM, "stats: out of memory");
        goto done;
    }
    off = 0;
    for (size_t s = 0; s < n; s++) {
        size_t N = (size_t)nat[s];
        for (size_t l = 0; l < N; l++)
            st->spectrum[l] += eig[off + l];
        off += N;
    }
    for (size_t l = 0; l < st->natoms_max; l++)
        st->spectrum[l] /= (double)n;
    off = 0;
    for (size_t s = 0; s < n; s++) {
        size_t N = (size_t)nat[s];
        dist[s] = mlshift_spectral_distance(eig + off, N, st->spectrum,
                                            st->natoms_max);
        off += N;
    }
    mean_std(dist, n, &st->spectral_mean, &st->spectral_std);
    size_t c[4] = {0, 0, 0, 0};
    for (size_t s = 0; s < n; s++) {
        c[0] += fabs(nat[s] - st->natoms_mean) > st->natoms_std;
        c[1] += fabs(carbon[s] - st->carbon_mean) > st->carbon_std;
        c[2] += fabs(fnorm[s] - st->force_norm_mean) > st->force_norm_std;
        c[3] += dist[s] - st->spectral_mean > st->spectral_std;
    }
    st->train_ood_size = (double)c[0] / (double)n;
    st->train_ood_carbon = (double)c[1] / (double)n;
    st->train_ood_force_norm = st->n_force ? (double)c[2] / (double)st->n_force : NAN;
    st->train_ood_connectivity = (double)c[3] / (double)n;
    status = collect_compositions(fr, st, err);
done:
    free(x);
    free(eig);
    free(dist);
    mlshift_shift_ws_destroy(ws);
    if (status != MLSHIFT_OK)
        mlshift_stats_free(st);
    return status;
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

mlshift_status mlshift_stats_read(mlshift_train_stats *st, const char *path,
                                  mlshift_error *err)
{
    memset(st, 0, sizeof *st);
    char *text;
    size_t len;
    mlshift_status s = ms_read_file(path, &text, &len, err);
    if (s != MLSHIFT_OK)
        return s;
    s = ms_stats_parse(st, text, len, path, err);
    free(text);
    return s;
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
        mlshift_stats_free(st);
    return s;
}

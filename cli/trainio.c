/* SPDX-License-Identifier: MIT */
/* Prior labels for training and TTT, computed once and cached.
 *
 * The cache is a sectioned file (train/sections.c, magic "MLSHIFTP"):
 * "key" = the prior's spec and the CRC-32 of every frame's positions and
 * numbers, "E" (n,) eV, "F" (ΣN, 3) eV/Å. A cache whose key differs is
 * recomputed and replaced, never trusted. */
#include "trainio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/util.h"

void cli_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e8)
        snprintf(buf, cap, "?");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%.0fs", s);
}

double cli_meta_number(const char *meta, const char *key)
{
    if (!meta)
        return NAN;
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(meta, pat);
    if (!p)
        return NAN;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    char *end;
    double x = strtod(p, &end);
    return end == p ? NAN : x;
}

static void cache_key(const ms_dataset *d, const char *spec, char *key, size_t cap)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t k = 0; k < d->n; k++) {
        crc = crc32(crc, (const Bytef *)d->f[k].positions,
                    (uInt)(3 * d->f[k].natoms * sizeof(double)));
        crc = crc32(crc, (const Bytef *)d->f[k].numbers, (uInt)(d->f[k].natoms * sizeof(int)));
    }
    snprintf(key, cap, "%s|%zu|%08lx", spec, d->n, (unsigned long)crc);
}

static int cache_read(ms_dataset *d, const char *path, const char *key)
{
    char *data = NULL;
    size_t len = 0;
    mlshift_error err;
    if (access(path, R_OK) != 0 || ms_read_file(path, &data, &len, &err))
        return -1;
    ms_section s[4];
    size_t ns = 0;
    int ok = 0;
    if (!ms_sections_parse((const unsigned char *)data, len, path, "MLSHIFTP", 1, s, 4, &ns,
                           &err)) {
        const ms_section *k = ms_section_find(s, ns, "key"), *e = ms_section_find(s, ns, "E"),
                         *f = ms_section_find(s, ns, "F");
        size_t nf = 3 * d->off[d->n];
        if (k && e && f && k->len == strlen(key) && !memcmp(k->data, key, k->len) &&
            e->len == 8 * d->n && f->len == 8 * nf) {
            double *E = malloc(e->len + 8), *F = malloc(f->len + 8);
            if (E && F) {
                memcpy(E, e->data, e->len);
                memcpy(F, f->data, f->len);
                ok = !ms_dataset_set_labels(d, MS_HEAD_PRIOR, E, F, &err);
            }
            free(E);
            free(F);
        }
    }
    free(data);
    return ok ? 0 : -1;
}

static int compute(ms_dataset *d, const char *spec, const char *cache, const char *key,
                   int quiet)
{
    mlshift_error err;
    mlshift_prior *p = NULL;
    if (mlshift_prior_create(spec, &p, &err))
        return cli_fail("%s", err.message);
    size_t nf = 3 * d->off[d->n];
    double *E = malloc((d->n + 1) * sizeof *E), *F = malloc((nf + 1) * sizeof *F);
    int rc = CLI_ERROR, tty = !quiet && isatty(2);
    double t0 = cli_now(), last = 0;
    if (!E || !F) {
        cli_fail("out of memory");
        goto done;
    }
    for (size_t k = 0; k < d->n; k++) {
        if (mlshift_prior_compute(p, &d->f[k], &E[k], F + 3 * d->off[k], NULL, &err)) {
            cli_fail("prior %s on frame %zu: %s", spec, k, err.message);
            goto done;
        }
        double t = cli_now() - t0;
        if (tty && (t - last > 0.5 || k + 1 == d->n)) {
            char eta[32];
            cli_duration(t / (double)(k + 1) * (double)(d->n - k - 1), eta, sizeof eta);
            fprintf(stderr, "\rprior labels (%s): %zu/%zu frames, ETA %s   ", spec, k + 1, d->n,
                    eta);
            last = t;
        }
    }
    if (tty)
        fputc('\n', stderr);
    if (ms_dataset_set_labels(d, MS_HEAD_PRIOR, E, F, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    rc = CLI_OK;
    if (cache) {
        ms_section s[3] = {{"key", (const unsigned char *)key, strlen(key)},
                           {"E", (const unsigned char *)E, 8 * d->n},
                           {"F", (const unsigned char *)F, 8 * nf}};
        if (ms_sections_write(cache, "MLSHIFTP", 1, s, 3, &err))
            fprintf(stderr, "mlshift: warning: prior labels not cached: %s\n", err.message);
    }
done:
    free(E);
    free(F);
    mlshift_prior_destroy(p);
    return rc;
}

int cli_prior_labels(ms_dataset *d, const char *spec, const char *cache,
                     const cli_frames_opts *o, char **files, size_t nfiles,
                     const size_t *idx, const char *ekey, const char *fkey)
{
    if (spec) {
        char key[512];
        cache_key(d, spec, key, sizeof key);
        if (cache && cache_read(d, cache, key) == 0) {
            if (!o->quiet)
                fprintf(stderr, "prior labels: reused %s\n", cache);
            return CLI_OK;
        }
        return compute(d, spec, cache, key, o->quiet);
    }
    /* the frames' own prior labels: read the files again with the prior keys */
    cli_frames_opts po = *o;
    po.read.energy_key = ekey;
    po.read.forces_key = fkey;
    po.read.require_energy = 1;
    po.read.require_forces = 1;
    po.read.labels_old = 0;
    po.quiet = 1;
    mlshift_frames *pf = NULL;
    size_t *parts[3] = {NULL, NULL, NULL}, counts[3];
    int split = o->split && !o->part;
    if (cli_load_frames(&po, files, nfiles, &pf, split ? parts : NULL, counts, NULL))
        return cli_fail("no prior labels: give --prior SPEC, or frames with %s and %s "
                        "(mlshift label)", ekey, fkey);
    int rc = CLI_OK;
    size_t nf = 3 * d->off[d->n];
    double *E = malloc((d->n + 1) * sizeof *E), *F = malloc((nf + 1) * sizeof *F);
    for (int k = 0; k < 3; k++)
        free(parts[k]);
    if (!E || !F || (!idx && mlshift_frames_count(pf) < d->n)) {
        rc = cli_fail("prior labels: the files' frames do not line up with the data set");
        goto done;
    }
    for (size_t k = 0; k < d->n && rc == CLI_OK; k++) {
        mlshift_frame f;
        if (mlshift_frames_get(pf, idx ? idx[k] : k, &f)) {
            rc = cli_fail("prior labels: the files' frames do not line up with the data set");
            break;
        }
        if (f.natoms != d->f[k].natoms ||
            memcmp(f.positions, d->f[k].positions, 3 * f.natoms * sizeof(double))) {
            rc = cli_fail("prior labels: frame %zu differs between the two reads", k);
            break;
        }
        E[k] = f.energy;
        memcpy(F + 3 * d->off[k], f.forces, 3 * f.natoms * sizeof(double));
    }
    mlshift_error err;
    if (rc == CLI_OK && ms_dataset_set_labels(d, MS_HEAD_PRIOR, E, F, &err))
        rc = cli_fail("%s", err.message);
done:
    free(E);
    free(F);
    mlshift_frames_destroy(pf);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* The reader options every frame-reading command shares, and loading:
 * read every file, deduplicate, split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char cli_frames_help[] =
    "Reading frames (every command that reads frames takes these):\n"
    "  --format F          extxyz | npz | hdf5 (default: by file extension)\n"
    "  --labels old|new    npz (rMD17): old = the original MD17 labels\n"
    "                      (old_energies, old_forces), the paper's; default new\n"
    "  --energy-key K      extxyz info key of the energy (default: energy,\n"
    "                      then REF_energy, then Energy)\n"
    "  --forces-key K      extxyz per-atom forces (default: forces, then\n"
    "                      REF_forces, then force)\n"
    "  --level L           HDF5 (ANI-1x) level of theory (default wb97x_dz)\n"
    "  --require-energy    a frame without an energy is an error\n"
    "  --require-forces    a frame without forces is an error\n"
    "  --dedup KEY         keep the first frame of each value of info KEY\n"
    "                      (rMD17: old_index, set by the npz reader)\n"
    "  --split T,V,S       train, val, test sizes: counts (>= 1) or fractions\n"
    "                      (< 1); S may be 'rest'; shuffled with --seed\n"
    "  --seed S            split seed (default 0)\n"
    "  --part train|val|test  use only that part of the split\n"
    "  --quiet             no progress on stderr\n"
    "Units inside mlshift: eV, Å. npz (MD17/rMD17) kcal/mol is divided by\n"
    "23.0605; HDF5 hartree and bohr are converted (docs/formats-*.md).\n";

int cli_frames_option(cli_args *a, cli_frames_opts *o)
{
    const char *v;
    if (cli_value(a, "--format", &v)) {
        if (strcmp(v, "extxyz") == 0 || strcmp(v, "xyz") == 0)
            o->read.format = MLSHIFT_FORMAT_EXTXYZ;
        else if (strcmp(v, "npz") == 0)
            o->read.format = MLSHIFT_FORMAT_NPZ;
        else if (strcmp(v, "hdf5") == 0 || strcmp(v, "h5") == 0)
            o->read.format = MLSHIFT_FORMAT_HDF5;
        else {
            cli_fail("%s: --format: unknown format '%s' (extxyz, npz, hdf5)",
                     a->cmd, v);
            return -1;
        }
        return 1;
    }
    if (cli_value(a, "--labels", &v)) {
        if (strcmp(v, "old") == 0)
            o->read.labels_old = 1;
        else if (strcmp(v, "new") == 0)
            o->read.labels_old = 0;
        else {
            cli_fail("%s: --labels: '%s' is neither old nor new", a->cmd, v);
            return -1;
        }
        return 1;
    }
    if (cli_value(a, "--energy-key", &o->read.energy_key) ||
        cli_value(a, "--forces-key", &o->read.forces_key) ||
        cli_value(a, "--level", &o->read.hdf5_level) ||
        cli_value(a, "--dedup", &o->dedup_key) ||
        cli_value(a, "--split", &o->split))
        return 1;
    if (cli_value(a, "--seed", &v))
        return cli_parse_u64("--seed", v, &o->seed) ? -1 : 1;
    if (cli_value(a, "--part", &v)) {
        if (strcmp(v, "train") && strcmp(v, "val") && strcmp(v, "test")) {
            cli_fail("%s: --part: '%s' is not train, val or test", a->cmd, v);
            return -1;
        }
        o->part = v;
        return 1;
    }
    if (cli_flag(a, "--require-energy")) {
        o->read.require_energy = 1;
        return 1;
    }
    if (cli_flag(a, "--require-forces")) {
        o->read.require_forces = 1;
        return 1;
    }
    if (cli_flag(a, "--quiet")) {
        o->quiet = 1;
        return 1;
    }
    return a->bad ? -1 : 0;
}

/* "T,V,S" with S optionally "rest" (or absent: the rest). */
static int parse_split(const char *s, mlshift_split_spec *spec)
{
    double v[3] = {0, 0, -1};
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return cli_fail("--split: '%s' is too long", s);
    strcpy(buf, s);
    int k = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (k >= 3)
            return cli_fail("--split: '%s' has more than three sizes", s);
        if (k == 2 && strcmp(tok, "rest") == 0)
            v[k] = -1;
        else if (cli_parse_double("--split", tok, &v[k]) || v[k] < 0)
            return cli_fail("--split: sizes are counts or fractions >= 0");
        k++;
    }
    if (k < 2)
        return cli_fail("--split: give at least TRAIN,VAL (e.g. 1000,100,rest)");
    if (v[0] == 0 && v[1] == 0 && v[2] == 0)
        return cli_fail("--split %s: every size is 0, no frame would be used", s);
    spec->train = v[0];
    spec->val = v[1];
    spec->test = v[2];
    return 0;
}

/* Where the frames of the last few loaded sets came from: per frame the
 * file and the index in it, followed through dedup and split, so that an
 * error names "FILE: frame K" as the user counts it. */
typedef struct origin {
    const mlshift_frames *fr;
    size_t n, nfiles;
    size_t *global;         /* (n,) index over all files, before dedup/split */
    size_t *file_end;       /* (nfiles,) */
    char **files;
} origin;
static origin origins[4];
static size_t origin_next;

static void origin_keep(const mlshift_frames *fr, size_t *global, size_t n,
                        size_t *file_end, char **files, size_t nfiles)
{
    for (size_t k = 0; k < 4; k++) /* an address reused: the new set wins */
        if (origins[k].fr == fr)
            origins[k].fr = NULL;
    origin *o = &origins[origin_next++ % 4];
    free(o->global);
    free(o->file_end);
    *o = (origin){fr, n, nfiles, global, file_end, files};
}

const char *cli_frame_name(const mlshift_frames *fr, size_t s)
{
    static char buf[4400];
    for (size_t k = 0; k < 4; k++) {
        const origin *o = &origins[k];
        if (!fr || o->fr != fr || s >= o->n)
            continue;
        size_t g = o->global[s], f = 0;
        while (f + 1 < o->nfiles && g >= o->file_end[f])
            f++;
        size_t first = f ? o->file_end[f - 1] : 0;
        char name[4096];
        cli_escape(o->files[f], name, sizeof name);
        snprintf(buf, sizeof buf, "%s: frame %zu", name, g - first);
        return buf;
    }
    snprintf(buf, sizeof buf, "frame %zu", s);
    return buf;
}

/* --labels old that no file can honour is a mistake, not a no-op. */
static int labels_old_check(const cli_frames_opts *o, char **files, size_t n)
{
    int any_npz = o->read.format == MLSHIFT_FORMAT_NPZ;
    for (size_t k = 0; k < n && !any_npz && o->read.format == MLSHIFT_FORMAT_AUTO; k++) {
        size_t l = strlen(files[k]);
        any_npz = l >= 4 && strcasecmp(files[k] + l - 4, ".npz") == 0;
    }
    if (o->read.labels_old && n && !any_npz)
        return cli_fail("%s: --labels old selects the original MD17 labels of "
                        "an rMD17 npz file; %s not npz", files[0],
                        n > 1 ? "none of the inputs is" : "this file is");
    return CLI_OK;
}

int cli_load_frames(const cli_frames_opts *o, char **files, size_t n,
                    mlshift_frames **out, size_t *parts[3], size_t counts[3],
                    size_t *file_end)
{
    mlshift_error err;
    mlshift_frames *fr = mlshift_frames_create();
    if (!fr)
        return cli_fail("out of memory");
    int tty = !o->quiet && isatty(2);
    double t0 = cli_now();
    size_t *ends = malloc((n ? n : 1) * sizeof *ends), *global = NULL;
    if (!ends) {
        mlshift_frames_destroy(fr);
        return cli_fail("out of memory");
    }
    if (labels_old_check(o, files, n)) {
        mlshift_frames_destroy(fr);
        free(ends);
        return CLI_ERROR;
    }
    for (size_t k = 0; k < n; k++) {
        if (mlshift_read(fr, files[k], &o->read, &err) != MLSHIFT_OK) {
            if (tty && cli_now() - t0 > 1.0)
                fputc('\n', stderr);
            mlshift_frames_destroy(fr);
            free(ends);
            return cli_fail("%s", err.message);
        }
        ends[k] = mlshift_frames_count(fr);
        if (file_end)
            file_end[k] = mlshift_frames_count(fr);
        if (tty && cli_now() - t0 > 1.0)
            fprintf(stderr, "\rread %zu/%zu files, %zu frames", k + 1, n,
                    mlshift_frames_count(fr));
    }
    if (tty && cli_now() - t0 > 1.0)
        fputc('\n', stderr);

    size_t nf = mlshift_frames_count(fr);
    global = malloc((nf ? nf : 1) * sizeof *global);
    if (!global) {
        free(ends);
        mlshift_frames_destroy(fr);
        return cli_fail("out of memory");
    }
    for (size_t s = 0; s < nf; s++)
        global[s] = s;
    if (o->dedup_key) {
        size_t *idx = malloc((nf ? nf : 1) * sizeof *idx);
        size_t m = 0;
        mlshift_frames *d = mlshift_frames_create();
        if (!idx || !d || mlshift_dedup(fr, o->dedup_key, idx, &m, &err) ||
            mlshift_frames_select(d, fr, idx, m, &err)) {
            free(idx);
            mlshift_frames_destroy(d);
            mlshift_frames_destroy(fr);
            free(global);
            free(ends);
            return cli_fail("--dedup %s: %s", o->dedup_key, err.message);
        }
        for (size_t s = 0; s < m; s++) /* idx ascends: in place is safe */
            global[s] = global[idx[s]];
        free(idx);
        mlshift_frames_destroy(fr);
        fr = d;
        nf = m;
    }

    if (parts)
        parts[0] = parts[1] = parts[2] = NULL;
    if (o->split) {
        mlshift_split_spec spec;
        if (parse_split(o->split, &spec)) {
            mlshift_frames_destroy(fr);
            free(global);
            free(ends);
            return CLI_ERROR;
        }
        size_t *perm = malloc((nf ? nf : 1) * sizeof *perm);
        size_t c[3];
        if (!perm || mlshift_split(nf, &spec, o->seed, perm, c, &err)) {
            free(perm);
            mlshift_frames_destroy(fr);
            free(global);
            free(ends);
            return cli_fail("--split %s: %s", o->split,
                            perm ? err.message : "out of memory");
        }
        size_t *p[3] = {perm, perm + c[0], perm + c[0] + c[1]};
        if (o->part) {
            int which = o->part[0] == 't' ? (o->part[1] == 'r' ? 0 : 2) : 1;
            mlshift_frames *d = mlshift_frames_create();
            if (!d || mlshift_frames_select(d, fr, p[which], c[which], &err)) {
                free(perm);
                mlshift_frames_destroy(d);
                mlshift_frames_destroy(fr);
                free(global);
                free(ends);
                return cli_fail("--part %s: %s", o->part, err.message);
            }
            mlshift_frames_destroy(fr);
            fr = d;
            size_t *g = malloc((c[which] ? c[which] : 1) * sizeof *g);
            for (size_t s = 0; g && s < c[which]; s++)
                g[s] = global[p[which][s]];
            free(global);
            global = g; /* NULL (out of memory): errors say "frame K" */
            nf = c[which];
            free(perm);
        } else if (parts) {
            for (int k = 0; k < 3; k++) {
                parts[k] = malloc((c[k] ? c[k] : 1) * sizeof **parts);
                if (parts[k] && c[k])
                    memcpy(parts[k], p[k], c[k] * sizeof **parts);
                counts[k] = c[k];
            }
            free(perm);
            if (!parts[0] || !parts[1] || !parts[2]) {
                for (int k = 0; k < 3; k++)
                    free(parts[k]);
                mlshift_frames_destroy(fr);
                free(global);
                free(ends);
                return cli_fail("out of memory");
            }
        } else {
            free(perm);
            mlshift_frames_destroy(fr);
            free(global);
            free(ends);
            return cli_fail("--split needs --part train|val|test here");
        }
    } else if (o->part) {
        mlshift_frames_destroy(fr);
        free(global);
        free(ends);
        return cli_fail("--part needs --split");
    }
    if (global)
        origin_keep(fr, global, nf, ends, files, n);
    else
        free(ends);
    *out = fr;
    return CLI_OK;
}

int cli_stream_frames(const cli_frames_opts *o, char **files, size_t n,
                      cli_frame_fn fn, void *ctx, size_t *count)
{
    size_t s = 0;
    if (count)
        *count = 0;
    if (o->split) {
        /* A split shuffles indices over every frame before the first one
         * is used: load, then hand the part out. */
        mlshift_frames *fr;
        if (cli_load_frames(o, files, n, &fr, NULL, NULL, NULL))
            return CLI_ERROR;
        int rc = CLI_OK;
        for (; s < mlshift_frames_count(fr) && rc == CLI_OK; s++) {
            mlshift_frame f;
            mlshift_frames_get(fr, s, &f);
            rc = fn(ctx, &f, s, cli_frame_name(fr, s));
        }
        mlshift_frames_destroy(fr);
        if (count)
            *count = s;
        return rc;
    }
    if (o->part)
        return cli_fail("--part needs --split");
    if (labels_old_check(o, files, n))
        return CLI_ERROR;
    mlshift_error err;
    mlshift_dedup_set *dd = NULL;
    if (o->dedup_key && !(dd = mlshift_dedup_set_create(o->dedup_key)))
        return cli_fail("out of memory");
    int rc = CLI_OK;
    for (size_t k = 0; k < n && rc == CLI_OK; k++) {
        mlshift_reader *rd;
        if (mlshift_reader_open(files[k], &o->read, &rd, &err)) {
            rc = cli_fail("%s", err.message);
            break;
        }
        char esc[4096], name[4400];
        cli_escape(files[k], esc, sizeof esc);
        for (;;) {
            mlshift_frame f;
            int got, keep = 1;
            size_t index = mlshift_reader_count(rd);
            if (mlshift_reader_next(rd, &f, &got, &err)) {
                rc = cli_fail("%s", err.message);
                break;
            }
            if (!got)
                break;
            if (dd && mlshift_dedup_set_add(dd, &f, &keep, &err)) {
                rc = cli_fail("--dedup %s: %s", o->dedup_key, err.message);
                break;
            }
            if (!keep)
                continue;
            snprintf(name, sizeof name, "%s: frame %zu", esc, index);
            if ((rc = fn(ctx, &f, s, name)) != CLI_OK)
                break;
            s++;
        }
        mlshift_reader_close(rd);
    }
    if (rc == CLI_OK && dd && mlshift_dedup_set_finish(dd, &err))
        rc = cli_fail("--dedup %s: %s", o->dedup_key, err.message);
    mlshift_dedup_set_destroy(dd);
    if (count)
        *count = s;
    return rc;
}

int cli_frames_arg(cli_args *a, cli_frames_opts *o, char **files,
                   size_t *nfiles)
{
    if (a->bad)
        return CLI_ERROR;
    int r = cli_frames_option(a, o);
    if (r < 0)
        return CLI_ERROR;
    if (r > 0)
        return CLI_OK;
    const char *arg = a->argv[a->i];
    if (arg[0] == '-' && arg[1])
        return cli_fail("%s: unknown option '%s' (see mlshift %s --help)",
                        a->cmd, arg, a->cmd);
    files[(*nfiles)++] = a->argv[a->i];
    return CLI_OK;
}

struct cli_output {
    mlshift_output *o;
};

FILE *cli_output_open(cli_output **out, const char *path)
{
    mlshift_error err;
    FILE *fp;
    *out = malloc(sizeof **out);
    if (!*out) {
        cli_fail("out of memory");
        return NULL;
    }
    if (mlshift_output_open(path, &(*out)->o, &fp, &err) != MLSHIFT_OK) {
        cli_fail("%s", err.message);
        free(*out);
        *out = NULL;
        return NULL;
    }
    return fp;
}

int cli_output_close(cli_output *out)
{
    mlshift_error err;
    int rc = CLI_OK;
    if (mlshift_output_commit(out->o, &err) != MLSHIFT_OK)
        rc = cli_fail("%s", err.message);
    free(out);
    return rc;
}

void cli_output_abort(cli_output *out)
{
    if (!out)
        return;
    mlshift_output_abort(out->o);
    free(out);
}

int cli_prior_force_norms(const char *spec, const mlshift_frames *fr,
                          double *norms, int quiet)
{
    mlshift_error err;
    mlshift_prior *prior;
    if (mlshift_prior_create(spec, &prior, &err))
        return cli_fail("%s", err.message);
    size_t n = mlshift_frames_count(fr), nmax = 0;
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        nmax = f.natoms > nmax ? f.natoms : nmax;
    }
    double *forces = malloc((nmax ? 3 * nmax : 1) * sizeof *forces);
    if (!forces) {
        mlshift_prior_destroy(prior);
        return cli_fail("out of memory");
    }
    int tty = !quiet && isatty(2), rc = CLI_OK;
    double t0 = cli_now(), last = t0;
    for (size_t s = 0; s < n && rc == CLI_OK; s++) {
        mlshift_frame f;
        double e;
        mlshift_frames_get(fr, s, &f);
        if (mlshift_prior_compute(prior, &f, &e, forces, NULL, &err)) {
            rc = cli_fail("%s: %s", cli_frame_name(fr, s), err.message);
            break;
        }
        f.forces = forces;
        norms[s] = mlshift_frame_mean_force_norm(&f);
        if (tty && cli_now() - last > 0.5) {
            last = cli_now();
            fprintf(stderr, "\r%s force norms: %zu/%zu", spec, s + 1, n);
        }
    }
    if (tty && last > t0)
        fputc('\n', stderr);
    free(forces);
    mlshift_prior_destroy(prior);
    return rc;
}

int cli_prior_norms_open(cli_prior_norms *p, const char *spec)
{
    mlshift_error err;
    memset(p, 0, sizeof *p);
    if (mlshift_prior_create(spec, &p->prior, &err))
        return cli_fail("%s", err.message);
    return CLI_OK;
}

int cli_prior_norm(cli_prior_norms *p, const mlshift_frame *f, const char *name,
                   double *norm)
{
    mlshift_error err;
    if (3 * f->natoms > p->cap) {
        size_t cap = 3 * f->natoms > 2 * p->cap ? 3 * f->natoms : 2 * p->cap;
        double *nf = realloc(p->forces, cap * sizeof *nf);
        if (!nf)
            return cli_fail("out of memory");
        p->forces = nf;
        p->cap = cap;
    }
    double e;
    if (mlshift_prior_compute(p->prior, f, &e, p->forces, NULL, &err))
        return cli_fail("%s: %s", name, err.message);
    mlshift_frame g = *f;
    g.forces = p->forces;
    *norm = mlshift_frame_mean_force_norm(&g);
    return CLI_OK;
}

void cli_prior_norms_close(cli_prior_norms *p)
{
    mlshift_prior_destroy(p->prior);
    free(p->forces);
    memset(p, 0, sizeof *p);
}

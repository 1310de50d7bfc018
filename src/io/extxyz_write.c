/* SPDX-License-Identifier: MIT */
/* Extended XYZ writer. Per frame:
 *
 *     N
 *     Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3
 *         [:fixed:I:1][:<forces_key>:R:3][:<extra>:R:k…] <energy_key>=E
 *         [<extra>=v …] <info pairs> pbc="T T F"
 *     Sym x y z [fixed] [fx fy fz] [extra columns]
 *
 * Lattice only with a cell, fixed only when the frame has fixed flags,
 * forces and energy only when present. Numbers are the shortest of %.15g,
 * %.16g, %.17g that reads back to the same double, so a write→read round
 * trip is exact. The info text is re-split (extxyz.c) and written pair by
 * pair, without keys the writer owns (Lattice, Properties, pbc, the energy
 * key, per-frame extras). ASE 3.22 reads the file: energy and forces go to a
 * SinglePointCalculator, fixed to atoms.arrays['fixed']. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "extxyz.h"
#include "frames.h"
#include "numparse.h"

/* A growable line. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static int put(text *t, const char *s, size_t n)
{
    if (ms_grow((void **)&t->s, &t->cap, t->len + n + 1, 1))
        return -1;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

static int puts_(text *t, const char *s) { return put(t, s, strlen(s)); }

static int put_num(text *t, double v)
{
    char b[40];
    int n = ms_format_double(b, sizeof b, v);
    return put(t, b, (size_t)n);
}

/* [A-Za-z_][A-Za-z0-9_-]*: safe as a key and as a property name. */
static int plain_name(const char *s)
{
    if (!s || !*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                       *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int same(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

static mlshift_status check_names(const char *path, const char *ek,
                                  const char *fk, const ms_extxyz_extra *extra,
                                  size_t n_extra, mlshift_error *err)
{
    if (!plain_name(ek))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: energy key '%s' is not a "
                       "plain name ([A-Za-z_][A-Za-z0-9_-]*)", path, ek);
    if (!plain_name(fk))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: forces key '%s' is not a "
                       "plain name ([A-Za-z_][A-Za-z0-9_-]*)", path, fk);
    static const char *const atom_names[] = {"species", "pos", "Z", "fixed",
                                             "move_mask"};
    static const char *const frame_names[] = {"Lattice", "Properties", "pbc"};
    for (size_t e = 0; e < n_extra; e++) {
        const ms_extxyz_extra *x = &extra[e];
        if (!plain_name(x->name) || x->ncols < 1 || !x->data)
            return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: extra '%s': needs a "
                           "plain name, ncols >= 1 and data", path,
                           x->name ? x->name : "(null)");
        int clash = 0;
        if (x->per_atom) {
            for (int k = 0; k < 5; k++)
                clash |= strcmp(x->name, atom_names[k]) == 0;
            clash |= strcmp(x->name, fk) == 0;
        } else {
            for (int k = 0; k < 3; k++)
                clash |= strcmp(x->name, frame_names[k]) == 0;
            clash |= strcmp(x->name, ek) == 0;
        }
        for (size_t j = 0; j < e; j++)
            clash |= extra[j].per_atom == x->per_atom &&
                     strcmp(extra[j].name, x->name) == 0;
        if (clash)
            return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: extra '%s' clashes with "
                           "another key", path, x->name);
    }
    return MLSHIFT_OK;
}

/* Whether the writer owns an info key (it would be written twice). */
static int owned_key(const char *k, size_t n, const char *ek,
                     const ms_extxyz_extra *extra, size_t n_extra)
{
    if (same("Lattice", k, n) || same("Properties", k, n) || same("pbc", k, n) ||
        same(ek, k, n))
        return 1;
    for (size_t e = 0; e < n_extra; e++)
        if (!extra[e].per_atom && same(extra[e].name, k, n))
            return 1;
    return 0;
}

/* The comment line of frame i into t. */
static int comment_line(text *t, ms_kv_list *kv, char **info, size_t *info_cap,
                        const mlshift_frames *fr, size_t i,
                        const mlshift_frame *f, const char *ek, const char *fk,
                        const ms_extxyz_extra *extra, size_t n_extra)
{
    t->len = 0;
    if (f->cell) {
        if (puts_(t, "Lattice=\""))
            return -1;
        for (int k = 0; k < 9; k++)
            if ((k && puts_(t, " ")) || put_num(t, f->cell[k]))
                return -1;
        if (puts_(t, "\" "))
            return -1;
    }
    if (puts_(t, "Properties=species:S:1:pos:R:3"))
        return -1;
    if (f->fixed && puts_(t, ":fixed:I:1"))
        return -1;
    if (f->forces && (puts_(t, ":") || puts_(t, fk) || puts_(t, ":R:3")))
        return -1;
    for (size_t e = 0; e < n_extra; e++) {
        char b[32];
        snprintf(b, sizeof b, ":R:%d", extra[e].ncols);
        if (extra[e].per_atom &&
            (puts_(t, ":") || puts_(t, extra[e].name) || puts_(t, b)))
            return -1;
    }
    if ((f->flags & MLSHIFT_HAS_ENERGY) &&
        (puts_(t, " ") || puts_(t, ek) || puts_(t, "=") || put_num(t, f->energy)))
        return -1;
    for (size_t e = 0; e < n_extra; e++) {
        const ms_extxyz_extra *x = &extra[e];
        if (x->per_atom)
            continue;
        const double *v = x->data + i * (size_t)x->ncols;
        if (puts_(t, " ") || puts_(t, x->name) || puts_(t, x->ncols > 1 ? "=\"" : "="))
            return -1;
        for (int c = 0; c < x->ncols; c++)
            if ((c && puts_(t, " ")) || put_num(t, v[c]))
                return -1;
        if (x->ncols > 1 && puts_(t, "\""))
            return -1;
    }
    /* Info pairs, re-encoded; of repeated keys the last one. An empty
     * value (key="") swallows the next pair in ASE's splitter, so those go
     * after pbc, at the end of the line; only the last of them survives a
     * re-read. */
    char pbc[16];
    snprintf(pbc, sizeof pbc, " pbc=\"%c %c %c\"", f->pbc[0] ? 'T' : 'F',
             f->pbc[1] ? 'T' : 'F', f->pbc[2] ? 'T' : 'F');
    size_t npairs = 0;
    if (f->info && f->info[0]) {
        if (ms_kv_parse(kv, f->info, strlen(f->info)))
            return -1;
        npairs = kv->n;
    }
    for (int empty = 0; empty < 2; empty++) {
        size_t ilen = 0;
        if (ms_grow((void **)info, info_cap, 1, 1))
            return -1;
        (*info)[0] = '\0';
        for (size_t j = 0; j < npairs; j++) {
            const ms_kv *p = &kv->kv[j];
            const char *k = kv->buf + p->key;
            int later = 0;
            for (size_t m = j + 1; m < kv->n && !later; m++)
                later = kv->kv[m].klen == p->klen &&
                        memcmp(kv->buf + kv->kv[m].key, k, p->klen) == 0;
            if (later || owned_key(k, p->klen, ek, extra, n_extra) ||
                (p->has_val && p->vlen == 0) != empty)
                continue;
            if (ms_kv_append(info, &ilen, info_cap, k, p->klen,
                             kv->buf + p->val, p->vlen, p->has_val))
                return -1;
        }
        if (ilen && (puts_(t, " ") || put(t, *info, ilen)))
            return -1;
        if (!empty && puts_(t, pbc))
            return -1;
    }
    (void)fr;
    return puts_(t, "\n");
}

/* Atom line: a is the atom's index over the whole set. */
static int atom_line(text *t, const mlshift_frame *f, size_t j, size_t a,
                     const ms_extxyz_extra *extra, size_t n_extra)
{
    t->len = 0;
    const char *sym = mlshift_element_symbol(f->numbers[j]);
    char b[16];
    snprintf(b, sizeof b, "%-2s", sym ? sym : "X");
    if (puts_(t, b))
        return -1;
    for (int k = 0; k < 3; k++)
        if (puts_(t, " ") || put_num(t, f->positions[3 * j + k]))
            return -1;
    if (f->fixed && puts_(t, f->fixed[j] ? " 1" : " 0"))
        return -1;
    if (f->forces)
        for (int k = 0; k < 3; k++)
            if (puts_(t, " ") || put_num(t, f->forces[3 * j + k]))
                return -1;
    for (size_t e = 0; e < n_extra; e++) {
        const ms_extxyz_extra *x = &extra[e];
        if (!x->per_atom)
            continue;
        const double *v = x->data + a * (size_t)x->ncols;
        for (int c = 0; c < x->ncols; c++)
            if (puts_(t, " ") || put_num(t, v[c]))
                return -1;
    }
    return puts_(t, "\n");
}

/* Frame f, the i-th of its set, whose first atom is atom a0 of the set
 * (the rows of the extras); nonzero on a failed write. */
static int write_frame(FILE *fp, text *t, ms_kv_list *kv, char **info,
                       size_t *info_cap, size_t i, size_t a0,
                       const mlshift_frame *f, const char *ek, const char *fk,
                       const ms_extxyz_extra *extra, size_t n_extra)
{
    int bad = fprintf(fp, "%zu\n", f->natoms) < 0 ||
              comment_line(t, kv, info, info_cap, NULL, i, f, ek, fk, extra,
                           n_extra) ||
              fwrite(t->s, 1, t->len, fp) != t->len;
    for (size_t j = 0; j < f->natoms && !bad; j++)
        bad = atom_line(t, f, j, a0 + j, extra, n_extra) ||
              fwrite(t->s, 1, t->len, fp) != t->len;
    return bad;
}

mlshift_status ms_write_extxyz_extra(const mlshift_frames *fr, const char *path,
                                     const mlshift_write_options *opt,
                                     const ms_extxyz_extra *extra,
                                     size_t n_extra, mlshift_error *err)
{
    if (!path)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "write extxyz: no path");
    if (!fr || (n_extra && !extra))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no frames or extras", path);
    const char *ek = opt && opt->energy_key ? opt->energy_key : "energy";
    const char *fk = opt && opt->forces_key ? opt->forces_key : "forces";
    mlshift_status st = check_names(path, ek, fk, extra, n_extra, err);
    if (st != MLSHIFT_OK)
        return st;
    ms_atomic_file af;
    if ((st = ms_atomic_open(&af, path, err)) != MLSHIFT_OK)
        return st;
    text t = {0};
    ms_kv_list kv = {0};
    char *info = NULL;
    size_t info_cap = 0;
    int bad = 0;
    size_t n = mlshift_frames_count(fr);
    for (size_t i = 0; i < n && !bad; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        bad = write_frame(af.fp, &t, &kv, &info, &info_cap, i, fr->atom_off[i],
                          &f, ek, fk, extra, n_extra);
    }
    free(t.s);
    free(info);
    ms_kv_free(&kv);
    if (bad) {
        ms_atomic_abort(&af);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed (disk full or "
                       "out of memory)", path);
    }
    return ms_atomic_commit(&af, err);
}

mlshift_status mlshift_write_extxyz(const mlshift_frames *fr, const char *path,
                                    const mlshift_write_options *opt,
                                    mlshift_error *err)
{
    return ms_write_extxyz_extra(fr, path, opt, NULL, 0, err);
}

/* ------------------------------------------------------------ streaming */

struct mlshift_writer {
    ms_atomic_file af;
    char *path, *ek, *fk;
    ms_extxyz_extra *extra;     /* (n_extra,) names copied; data set per frame */
    size_t n_extra;
    text t;
    ms_kv_list kv;
    char *info;
    size_t info_cap;
    size_t frames;
};

static char *dup_str(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    return d ? strcpy(d, s) : NULL;
}

static void writer_free(mlshift_writer *w)
{
    for (size_t e = 0; e < w->n_extra; e++)
        free((char *)w->extra[e].name);
    free(w->extra);
    free(w->path);
    free(w->ek);
    free(w->fk);
    free(w->t.s);
    free(w->info);
    ms_kv_free(&w->kv);
    free(w);
}

mlshift_status mlshift_writer_open(const char *path,
                                   const mlshift_write_options *opt,
                                   const mlshift_column *columns,
                                   size_t n_columns, mlshift_writer **out,
                                   mlshift_error *err)
{
    *out = NULL;
    if (!path)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "write extxyz: no path");
    if (n_columns && !columns)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no columns", path);
    mlshift_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    w->path = dup_str(path);
    w->ek = dup_str(opt && opt->energy_key ? opt->energy_key : "energy");
    w->fk = dup_str(opt && opt->forces_key ? opt->forces_key : "forces");
    w->extra = calloc(n_columns ? n_columns : 1, sizeof *w->extra);
    int nomem = !w->path || !w->ek || !w->fk || !w->extra;
    for (size_t e = 0; e < n_columns && !nomem; e++) {
        const char *nm = columns[e].name ? columns[e].name : "";
        w->extra[e] = (ms_extxyz_extra){dup_str(nm), columns[e].per_atom != 0,
                                        columns[e].ncols, NULL};
        w->n_extra = e + 1;
        nomem = !w->extra[e].name;
    }
    if (nomem) {
        writer_free(w);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    /* check_names wants data: a placeholder, replaced per frame. */
    static const double none = 0;
    for (size_t e = 0; e < w->n_extra; e++)
        w->extra[e].data = &none;
    mlshift_status st = check_names(path, w->ek, w->fk, w->extra, w->n_extra, err);
    if (st == MLSHIFT_OK)
        st = ms_atomic_open(&w->af, path, err);
    if (st != MLSHIFT_OK) {
        writer_free(w);
        return st;
    }
    *out = w;
    return MLSHIFT_OK;
}

mlshift_status mlshift_writer_write(mlshift_writer *w, const mlshift_frame *f,
                                    const double *const *values,
                                    mlshift_error *err)
{
    if (w->n_extra && !values)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no column values", w->path);
    for (size_t e = 0; e < w->n_extra; e++) {
        if (!values[e])
            return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no values for '%s'",
                           w->path, w->extra[e].name);
        w->extra[e].data = values[e];
    }
    if (write_frame(w->af.fp, &w->t, &w->kv, &w->info, &w->info_cap, 0, 0, f,
                    w->ek, w->fk, w->extra, w->n_extra))
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: write failed (disk full or "
                       "out of memory)", w->path);
    w->frames++;
    return MLSHIFT_OK;
}

size_t mlshift_writer_count(const mlshift_writer *w)
{
    return w ? w->frames : 0;
}

mlshift_status mlshift_writer_commit(mlshift_writer *w, mlshift_error *err)
{
    if (!w)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "write extxyz: no writer");
    mlshift_status st = ms_atomic_commit(&w->af, err);
    writer_free(w);
    return st;
}

void mlshift_writer_abort(mlshift_writer *w)
{
    if (!w)
        return;
    ms_atomic_abort(&w->af);
    writer_free(w);
}

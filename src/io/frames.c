/* SPDX-License-Identifier: MIT */
/* A set of frames in a few contiguous arrays (structure of arrays): appending
 * grows each array geometrically, so reading millions of frames costs a few
 * dozen reallocations, not millions of mallocs. */
#include "frames.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

mlshift_frames *mlshift_frames_create(void)
{
    mlshift_frames *fr = calloc(1, sizeof *fr);
    if (!fr)
        return NULL;
    /* Every array exists from the start, so a view of a zero-atom frame
     * points into an allocation (pointer arithmetic on NULL is undefined). */
    fr->cap_atoms = 16;
    fr->atom_off = calloc(1, sizeof *fr->atom_off);
    fr->info_off = calloc(1, sizeof *fr->info_off);
    fr->numbers = calloc(fr->cap_atoms, sizeof *fr->numbers);
    fr->pos = calloc(fr->cap_atoms, 3 * sizeof *fr->pos);
    fr->forces = calloc(fr->cap_atoms, 3 * sizeof *fr->forces);
    fr->fixed = calloc(fr->cap_atoms, 1);
    if (!fr->atom_off || !fr->info_off || !fr->numbers || !fr->pos ||
        !fr->forces || !fr->fixed) {
        mlshift_frames_destroy(fr);
        return NULL;
    }
    return fr;
}

void mlshift_frames_destroy(mlshift_frames *fr)
{
    if (!fr)
        return;
    free(fr->atom_off);
    free(fr->flags);
    free(fr->energy);
    free(fr->cell);
    free(fr->pbc);
    free(fr->numbers);
    free(fr->pos);
    free(fr->forces);
    free(fr->fixed);
    free(fr->info_off);
    free(fr->info);
    free(fr);
}

size_t mlshift_frames_count(const mlshift_frames *fr) { return fr->n; }
size_t mlshift_frames_total_atoms(const mlshift_frames *fr) { return fr->atoms; }

mlshift_status mlshift_frames_get(const mlshift_frames *fr, size_t i,
                                  mlshift_frame *out)
{
    if (i >= fr->n)
        return MLSHIFT_ERR_VALUE;
    size_t a = fr->atom_off[i];
    unsigned fl = fr->flags[i];
    out->natoms = fr->atom_off[i + 1] - a;
    out->flags = fl;
    out->numbers = fr->numbers + a;
    out->positions = fr->pos + 3 * a;
    out->forces = (fl & MLSHIFT_HAS_FORCES) ? fr->forces + 3 * a : NULL;
    out->fixed = (fl & MLSHIFT_HAS_FIXED) ? fr->fixed + a : NULL;
    out->cell = (fl & MLSHIFT_HAS_CELL) ? fr->cell + 9 * i : NULL;
    for (int k = 0; k < 3; k++)
        out->pbc[k] = fr->pbc[3 * i + k];
    out->energy = fr->energy[i];
    out->info = fr->info + fr->info_off[i];
    return MLSHIFT_OK;
}

/* Reallocates *p to count items of elem bytes; 0 on success. */
static int resize(void **p, size_t count, size_t elem)
{
    void *np = realloc(*p, count * elem);
    if (!np)
        return -1;
    *p = np;
    return 0;
}

static mlshift_status check_frame(const mlshift_frame *f, const char *where,
                                  mlshift_error *err)
{
    for (size_t i = 0; i < f->natoms; i++) {
        int z = f->numbers[i];
        if (z < 1 || z > 118)
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "%s: atom %zu: atomic number %d is not an element",
                           where, i, z);
        for (int k = 0; k < 3; k++) {
            if (!isfinite(f->positions[3 * i + k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "%s: atom %zu: position is not finite", where, i);
            if (f->forces && !isfinite(f->forces[3 * i + k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "%s: atom %zu: force is not finite", where, i);
        }
    }
    if ((f->flags & MLSHIFT_HAS_ENERGY) && !isfinite(f->energy))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: energy is not finite", where);
    if (f->cell)
        for (int k = 0; k < 9; k++)
            if (!isfinite(f->cell[k]))
                return ms_fail(err, MLSHIFT_ERR_VALUE,
                               "%s: cell is not finite", where);
    for (int k = 0; k < 3; k++)
        if (f->pbc[k] && !f->cell)
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "%s: periodic boundaries without a cell", where);
    return MLSHIFT_OK;
}

mlshift_status mlshift_frames_append(mlshift_frames *fr, const mlshift_frame *f,
                                     const char *where, mlshift_error *err)
{
    if (!where)
        where = "frame";
    mlshift_status st = check_frame(f, where, err);
    if (st != MLSHIFT_OK)
        return st;
    size_t n = fr->n, N = f->natoms, A = fr->atoms + N;
    const char *info = f->info ? f->info : "";
    size_t ilen = strlen(info) + 1;

    /* Per-frame arrays share one capacity, per-atom arrays another. */
    if (n + 1 > fr->cap) {
        size_t c = fr->cap ? 2 * fr->cap : 64;
        if (resize((void **)&fr->flags, c, sizeof *fr->flags) ||
            resize((void **)&fr->energy, c, sizeof *fr->energy) ||
            resize((void **)&fr->cell, c, 9 * sizeof *fr->cell) ||
            resize((void **)&fr->pbc, c, 3 * sizeof *fr->pbc) ||
            resize((void **)&fr->atom_off, c + 1, sizeof *fr->atom_off) ||
            resize((void **)&fr->info_off, c + 1, sizeof *fr->info_off))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", where);
        fr->cap = c;
    }
    if (A > fr->cap_atoms) {
        size_t c = fr->cap_atoms ? 2 * fr->cap_atoms : 1024;
        while (c < A)
            c *= 2;
        if (resize((void **)&fr->numbers, c, sizeof *fr->numbers) ||
            resize((void **)&fr->pos, c, 3 * sizeof *fr->pos) ||
            resize((void **)&fr->forces, c, 3 * sizeof *fr->forces) ||
            resize((void **)&fr->fixed, c, sizeof *fr->fixed))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", where);
        fr->cap_atoms = c;
    }
    if (ms_grow((void **)&fr->info, &fr->info_cap, fr->info_len + ilen, 1))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", where);

    size_t a = fr->atoms;
    if (N) {
        memcpy(fr->numbers + a, f->numbers, N * sizeof *f->numbers);
        memcpy(fr->pos + 3 * a, f->positions, 3 * N * sizeof *f->positions);
    }
    /* Energy presence comes from the flag, the arrays' from their pointers. */
    unsigned fl = f->flags & MLSHIFT_HAS_ENERGY;
    if (f->forces && N) {
        memcpy(fr->forces + 3 * a, f->forces, 3 * N * sizeof *f->forces);
        fl |= MLSHIFT_HAS_FORCES;
    } else if (N) {
        memset(fr->forces + 3 * a, 0, 3 * N * sizeof *fr->forces);
    }
    if (f->fixed && N) {
        memcpy(fr->fixed + a, f->fixed, N);
        fl |= MLSHIFT_HAS_FIXED;
    } else if (N) {
        memset(fr->fixed + a, 0, N);
    }
    if (f->cell) {
        memcpy(fr->cell + 9 * n, f->cell, 9 * sizeof *f->cell);
        fl |= MLSHIFT_HAS_CELL;
    } else {
        memset(fr->cell + 9 * n, 0, 9 * sizeof *fr->cell);
    }
    for (int k = 0; k < 3; k++)
        fr->pbc[3 * n + k] = f->pbc[k] ? 1 : 0;
    fr->energy[n] = (fl & MLSHIFT_HAS_ENERGY) ? f->energy : NAN;
    fr->flags[n] = fl;
    memcpy(fr->info + fr->info_len, info, ilen);
    fr->info_off[n] = fr->info_len;
    fr->info_len += ilen;
    fr->info_off[n + 1] = fr->info_len;
    fr->atom_off[n] = a;
    fr->atom_off[n + 1] = A;
    fr->atoms = A;
    fr->n = n + 1;
    return MLSHIFT_OK;
}

void ms_frames_truncate(mlshift_frames *fr, size_t n)
{
    if (n >= fr->n)
        return;
    fr->n = n;
    fr->atoms = fr->atom_off[n];
    fr->info_len = fr->info_off[n];
}

mlshift_status mlshift_frames_select(mlshift_frames *dst,
                                     const mlshift_frames *src,
                                     const size_t *idx, size_t n,
                                     mlshift_error *err)
{
    size_t n0 = dst->n;
    for (size_t k = 0; k < n; k++) {
        mlshift_frame f;
        if (mlshift_frames_get(src, idx[k], &f) != MLSHIFT_OK) {
            ms_frames_truncate(dst, n0);
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "select: frame index %zu out of range (%zu frames)",
                           idx[k], src->n);
        }
        mlshift_status st = mlshift_frames_append(dst, &f, "select", err);
        if (st != MLSHIFT_OK) {
            ms_frames_truncate(dst, n0);
            return st;
        }
    }
    return MLSHIFT_OK;
}

/* Info strings are extxyz comment-line fragments: key=value pairs separated
 * by blanks, a value possibly "double quoted" with \" escapes, or a bare key
 * (meaning True). */
int mlshift_info_get(const char *info, const char *key, char *val, size_t cap)
{
    if (!info || !key)
        return 0;
    size_t klen = strlen(key);
    const char *p = info;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *ks = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t kl = (size_t)(p - ks);
        const char *vs = NULL;
        size_t vl = 0;
        int quoted = 0;
        if (*p == '=') {
            p++;
            if (*p == '"' || *p == '{') {
                char close = *p == '"' ? '"' : '}';
                quoted = *p == '"';
                vs = ++p;
                while (*p && *p != close) {
                    if (quoted && *p == '\\' && p[1])
                        p++;
                    p++;
                }
                vl = (size_t)(p - vs);
                if (*p)
                    p++;
            } else {
                vs = p;
                while (*p && !isspace((unsigned char)*p))
                    p++;
                vl = (size_t)(p - vs);
            }
        }
        if (kl == klen && strncmp(ks, key, klen) == 0) {
            if (val && cap) {
                size_t o = 0;
                if (!vs) {
                    vs = "T";
                    vl = 1;
                }
                for (size_t i = 0; i < vl && o + 1 < cap; i++) {
                    if (quoted && vs[i] == '\\' && i + 1 < vl)
                        i++;
                    val[o++] = vs[i];
                }
                val[o] = '\0';
            }
            return 1;
        }
    }
    return 0;
}

double mlshift_frame_mean_force_norm(const mlshift_frame *f)
{
    if (!f->forces || f->natoms == 0)
        return NAN;
    double s = 0.0;
    for (size_t i = 0; i < f->natoms; i++) {
        const double *F = f->forces + 3 * i;
        s += sqrt(F[0] * F[0] + F[1] * F[1] + F[2] * F[2]);
    }
    return s / (double)f->natoms;
}

/* Hill order: C, H, then the rest alphabetically; without carbon, all
 * alphabetically. */
void mlshift_formula(const mlshift_frame *f, char *buf, size_t cap)
{
    size_t count[119] = {0};
    for (size_t i = 0; i < f->natoms; i++)
        if (f->numbers[i] >= 1 && f->numbers[i] <= 118)
            count[f->numbers[i]]++;
    int order[118], n = 0;
    if (count[6]) {
        order[n++] = 6;
        if (count[1])
            order[n++] = 1;
    }
    int rest[118], m = 0;
    for (int z = 1; z <= 118; z++)
        if (count[z] && !(count[6] && (z == 6 || z == 1)))
            rest[m++] = z;
    for (int a = 1; a < m; a++) /* insertion sort by symbol */
        for (int b = a; b > 0 && strcmp(mlshift_element_symbol(rest[b - 1]),
                                        mlshift_element_symbol(rest[b])) > 0; b--) {
            int t = rest[b];
            rest[b] = rest[b - 1];
            rest[b - 1] = t;
        }
    for (int a = 0; a < m; a++)
        order[n++] = rest[a];
    size_t o = 0;
    if (cap)
        buf[0] = '\0';
    for (int k = 0; k < n && o < cap; k++) {
        int w = count[order[k]] > 1
                    ? snprintf(buf + o, cap - o, "%s%zu",
                               mlshift_element_symbol(order[k]), count[order[k]])
                    : snprintf(buf + o, cap - o, "%s",
                               mlshift_element_symbol(order[k]));
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

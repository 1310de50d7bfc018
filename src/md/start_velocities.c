/* SPDX-License-Identifier: MIT */
/* Velocities of a start frame from extxyz: the `velocities` column (Å/fs,
 * ours) or the `momenta` column (ASE's: amu·Å per ASE time unit, what
 * ase.io.write puts there for atoms with velocities), v = p / m /
 * MLSHIFT_FS_PER_ASE_TIME with m from the species column. The frames
 * reader keeps positions and labels only; this reads one frame's columns
 * again, with the same comment-line splitter (extxyz.h). */
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../io/extxyz.h"
#include "../io/numparse.h"
#include "md.h"

/* The end of the line starting at p (at '\n' or end). */
static const char *eol(const char *p, const char *end)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

/* Column plan of a Properties value: the first column of `want` (R:3) and of
 * species (S:1), the number of columns; -1 when absent. Returns 0, or -1 on
 * a malformed value. */
static int plan(const char *s, size_t n, const char *want, long *col,
                long *species, long *ncols)
{
    *col = *species = -1;
    long c = 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *f[3];
        size_t fl[3];
        for (int k = 0; k < 3; k++) {
            const char *q = memchr(p, ':', (size_t)(end - p));
            if (!q)
                q = end;
            if (k < 2 && q == end)
                return -1;
            f[k] = p;
            fl[k] = (size_t)(q - p);
            p = q < end ? q + 1 : end;
        }
        long m = strtol(f[2], NULL, 10);
        if (m < 1 || m > 4096)
            return -1;
        if (fl[0] == strlen(want) && !memcmp(f[0], want, fl[0]) && fl[1] == 1 &&
            f[1][0] == 'R' && m == 3)
            *col = c;
        if (fl[0] == 7 && !memcmp(f[0], "species", 7) && m == 1)
            *species = c;
        c += m;
    }
    *ncols = c;
    return 0;
}

/* Reads `natoms` atom lines from p into v (N, 3) from column col; for
 * momenta (species >= 0) divides by the masses. */
static mlshift_status atoms(const char *p, const char *end, size_t line,
                            const char *path, size_t natoms, long col,
                            long species, double *v, mlshift_error *err)
{
    for (size_t i = 0; i < natoms; i++, line++) {
        if (p >= end)
            return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: truncated frame",
                           path, line);
        const char *e = eol(p, end);
        double mass = 1;
        int k = 0;
        for (long c = 0; k < 3 || c <= species; c++) {
            while (p < e && ms_is_blank(*p))
                p++;
            const char *t = p;
            while (p < e && !ms_is_blank(*p))
                p++;
            if (t == p)
                return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: too few "
                               "columns", path, line);
            if (c == species) {
                char sym[4] = {0};
                if (p - t < 4)
                    memcpy(sym, t, (size_t)(p - t));
                mass = mlshift_element_mass(mlshift_element_number(sym));
                if (!(mass > 0))
                    return ms_fail(err, MLSHIFT_ERR_VALUE, "%s:%zu: unknown "
                                   "element '%.*s'", path, line, (int)(p - t), t);
            }
            if (c >= col && c < col + 3) {
                double x;
                if (ms_parse_double(t, p, &x, 0) != p)
                    return ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: '%.*s' is "
                                   "not a number", path, line, (int)(p - t), t);
                v[3 * i + (size_t)k++] = x;
            }
        }
        if (species >= 0)
            for (k = 0; k < 3; k++)
                v[3 * i + (size_t)k] /= mass * MLSHIFT_FS_PER_ASE_TIME;
        p = e < end ? e + 1 : end;
    }
    return MLSHIFT_OK;
}

mlshift_status mlshift_read_extxyz_velocities(const char *path, size_t index,
                                              size_t natoms, double *velocities,
                                              int *found, mlshift_error *err)
{
    *found = 0;
    char *text;
    size_t len;
    mlshift_status st = ms_read_file(path, &text, &len, err);
    if (st != MLSHIFT_OK)
        return st;
    const char *p = text, *end = text + len;
    size_t line = 1;
    ms_kv_list kv = {0};
    for (size_t frame = 0;; frame++) {
        while (p < end && eol(p, end) == p) { /* blank lines between frames */
            p++;
            line++;
        }
        if (p >= end) {
            st = ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no frame %zu (%zu frames)",
                         path, index, frame);
            break;
        }
        size_t n = (size_t)strtoull(p, NULL, 10);
        const char *c = eol(p, end) + 1;
        if (c > end) {
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: truncated", path, line);
            break;
        }
        const char *ce = eol(c, end);
        if (frame < index) { /* skip N atom lines */
            p = ce < end ? ce + 1 : end;
            for (size_t i = 0; i < n && p < end; i++)
                p = eol(p, end) < end ? eol(p, end) + 1 : end;
            line += n + 2;
            continue;
        }
        if (n != natoms) {
            st = ms_fail(err, MLSHIFT_ERR_VALUE, "%s:%zu: frame %zu has %zu "
                         "atoms, not %zu", path, line, index, n, natoms);
            break;
        }
        long col, species, ncols;
        long pi;
        if (ms_kv_parse(&kv, c, (size_t)(ce - c))) {
            st = ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        if ((pi = ms_kv_find(&kv, "Properties")) < 0)
            break; /* plain xyz: no velocities */
        const ms_kv *pr = &kv.kv[pi];
        if (plan(kv.buf + pr->val, pr->vlen, "velocities", &col, &species, &ncols)) {
            st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: bad Properties", path,
                         line + 1);
            break;
        }
        long use_species = -1;
        if (col < 0) {
            plan(kv.buf + pr->val, pr->vlen, "momenta", &col, &species, &ncols);
            if (col >= 0 && species < 0) {
                st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s:%zu: momenta need a "
                             "species column for the masses", path, line + 1);
                break;
            }
            use_species = species;
        }
        if (col < 0)
            break;
        st = atoms(ce < end ? ce + 1 : end, end, line + 2, path, natoms, col,
                   use_species, velocities, err);
        *found = st == MLSHIFT_OK;
        break;
    }
    ms_kv_free(&kv);
    free(text);
    return st;
}

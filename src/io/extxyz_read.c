/* SPDX-License-Identifier: MIT */
/* Extended XYZ reader, compatible with ase.io.extxyz (ASE 3.22).
 *
 * A frame is: a line with the atom count N; a comment line of key=value
 * pairs (see extxyz.c for how it is split); N atom lines whose columns the
 * Properties key describes (name:type:ncols triples, types S string,
 * R real, I integer, L logical; default species:S:1:pos:R:3). We keep:
 *   species (symbols, or atomic numbers written as digits) or Z:I:1,
 *   pos:R:3, the forces property (opt->forces_key, else forces, REF_forces,
 *   force; R:3), fixed:I:1 / fixed:L:1 (nonzero/T = fixed) and ASE's
 *   move_mask:L:1 or :L:3 (all F = fixed);
 *   Lattice (9 numbers a b c, rows of the cell), pbc (T/F, one or three;
 *   default T T T with a Lattice, F F F without), the energy key
 *   (opt->energy_key, else energy, REF_energy, Energy);
 *   every other pair of the comment line, re-encoded into frame.info.
 * Other per-atom properties are checked (count and type) and dropped.
 * A comment line without any key=value pair is free text: defaults apply
 * and nothing of it is kept. Blank lines between frames are skipped.
 * Units are the file's own (eV, Å, eV/Å assumed); nothing is converted.
 *
 * Speed: one pass over the text held in memory, numbers parsed in place by
 * ms_parse_double (numparse.c), atoms gathered in scratch arrays that grow
 * geometrically and are reused for every frame, then appended in one copy.
 * N = atoms of the current frame. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/util.h"
#include "extxyz_reader.h"
#include "frames.h"
#include "numparse.h"
#include "stream.h"

mlshift_status ms_xr_fail(reader *r, mlshift_status s, size_t line,
                          const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->status = s;
    return ms_fail(r->err, s, "%s:%zu: %s", r->name, line, msg);
}

mlshift_status ms_xr_nomem(reader *r, size_t line)
{
    return ms_xr_fail(r, MLSHIFT_ERR_NOMEM, line, "out of memory");
}


static int is_hblank(char c) { return c != '\n' && ms_is_blank(c); }

/* Skips blanks other than newline; runs of spaces eight bytes at a time. */
static const char *skip_hblank(const char *p, const char *end)
{
    for (;;) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            uint64_t x = v ^ UINT64_C(0x2020202020202020);
            if (x) {
                p += __builtin_ctzll(x) >> 3;
                break;
            }
            p += 8;
        }
#endif
        if (p < end && is_hblank(*p))
            p++;
        else
            return p;
    }
}

static const char *token_end(const char *p, const char *end)
{
    while (p < end && !ms_is_blank(*p))
        p++;
    return p;
}

/* Atomic number of an element symbol (any case, as ASE capitalises it) or
 * of a number written in digits; 0 if neither. */
static int lookup_z(const reader *r, const char *t, size_t n)
{
    if (n >= 1 && n <= 3 && t[0] >= '0' && t[0] <= '9') {
        int z = 0;
        for (size_t i = 0; i < n; i++) {
            if (t[i] < '0' || t[i] > '9')
                return 0;
            z = 10 * z + (t[i] - '0');
        }
        return z >= 1 && z <= 118 ? z : 0;
    }
    if (n < 1 || n > 2)
        return 0;
    int a = t[0] >= 'a' && t[0] <= 'z' ? t[0] - 'a' : t[0] - 'A';
    if (a < 0 || a >= 26)
        return 0;
    int b = 0;
    if (n == 2) {
        b = t[1] >= 'A' && t[1] <= 'Z' ? t[1] - 'A' : t[1] - 'a';
        if (b < 0 || b >= 26)
            return 0;
        b++;
    }
    return r->z_of[a][b];
}

const char *ms_xr_parse_int(const char *p, const char *end, long long *out)
{
    int neg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p >= end || (unsigned)(*p - '0') >= 10)
        return NULL;
    long long v = 0;
    while (p < end && (unsigned)(*p - '0') < 10) {
        if (v < 1000000000000000LL)
            v = 10 * v + (*p - '0');
        p++;
    }
    *out = neg ? -v : v;
    return p;
}

int ms_xr_parse_bool(const char *t, size_t n)
{
    if ((n == 1 && t[0] == 'T') || (n == 4 && memcmp(t, "True", 4) == 0))
        return 1;
    if ((n == 1 && t[0] == 'F') || (n == 5 && memcmp(t, "False", 5) == 0))
        return 0;
    return -1;
}

static int grow_atoms(reader *r, size_t need)
{
    if (need <= r->cap_atoms)
        return 0;
    size_t c = r->cap_atoms ? r->cap_atoms : 256;
    while (c < need)
        c *= 2;
    void *a = realloc(r->numbers, c * sizeof *r->numbers);
    if (!a)
        return -1;
    r->numbers = a;
    if (!(a = realloc(r->pos, 3 * c * sizeof *r->pos)))
        return -1;
    r->pos = a;
    if (!(a = realloc(r->forces, 3 * c * sizeof *r->forces)))
        return -1;
    r->forces = a;
    if (!(a = realloc(r->fixed, c)))
        return -1;
    r->fixed = a;
    if (!(a = realloc(r->movable, c)))
        return -1;
    r->movable = a;
    r->cap_atoms = c;
    return 0;
}

/* Counts the blank-separated tokens of [p, e). */
static size_t count_tokens(const char *p, const char *e)
{
    size_t n = 0;
    while (p < e) {
        while (p < e && ms_is_blank(*p))
            p++;
        if (p < e)
            n++;
        while (p < e && !ms_is_blank(*p))
            p++;
    }
    return n;
}

static const char *line_end(const char *p, const char *end)
{
    const char *q = memchr(p, '\n', (size_t)(end - p));
    return q ? q : end;
}

/* Reads atom line i starting at p; returns the pointer after it (past its
 * newline) or NULL after filling the error. */
static const char *parse_atom(reader *r, const char *p, const char *end,
                              size_t i, size_t line)
{
    const char *ls = p;
    double *x = r->pos + 3 * i, *F = r->forces + 3 * i;
    r->fixed[i] = 0;
    r->movable[i] = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        p = skip_hblank(p, end);
        if (p >= end || *p == '\n') {
            ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                    "expected %zu columns (Properties=%.*s), found %zu",
                    r->ncols, ms_xr_show(r->plan_len), r->plan_key,
                    count_tokens(ls, p));
            return NULL;
        }
        const col cl = r->cols[c];
        const char *q;
        double v;
        long long iv;
        switch (cl.kind) {
        case COL_POS:
        case COL_FORCE:
        case COL_SKIP_R:
            q = ms_parse_double(p, end, &v, MS_NUM_SPECIAL);
            if (!q || (q < end && !ms_is_blank(*q)))
                goto not_number;
            if (cl.kind != COL_SKIP_R && !isfinite(v)) {
                ms_xr_fail(r, MLSHIFT_ERR_VALUE, line,
                        "column %zu: %.*s is not finite", c + 1,
                        ms_xr_show((size_t)(q - p)), p);
                return NULL;
            }
            if (cl.kind == COL_POS)
                x[cl.k] = v;
            else if (cl.kind == COL_FORCE)
                F[cl.k] = v;
            p = q;
            break;
        case COL_Z:
        case COL_FIXED_I:
        case COL_SKIP_I:
            q = ms_xr_parse_int(p, end, &iv);
            if (!q || (q < end && !ms_is_blank(*q))) {
                const char *te = token_end(p, end);
                ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                        "column %zu: '%.*s' is not an integer", c + 1,
                        ms_xr_show((size_t)(te - p)), p);
                return NULL;
            }
            if (cl.kind == COL_Z) {
                if (iv < 1 || iv > 118) {
                    ms_xr_fail(r, MLSHIFT_ERR_VALUE, line,
                            "unknown element '%.*s'", ms_xr_show((size_t)(q - p)), p);
                    return NULL;
                }
                r->numbers[i] = (int)iv;
            } else if (cl.kind == COL_FIXED_I) {
                r->fixed[i] = iv != 0;
            }
            p = q;
            break;
        case COL_SPECIES:
        case COL_SPECIES_CHK: {
            q = token_end(p, end);
            int z = lookup_z(r, p, (size_t)(q - p));
            if (!z) {
                ms_xr_fail(r, MLSHIFT_ERR_VALUE, line, "unknown element '%.*s'",
                        ms_xr_show((size_t)(q - p)), p);
                return NULL;
            }
            if (cl.kind == COL_SPECIES)
                r->numbers[i] = z;
            p = q;
            break;
        }
        case COL_FIXED_L:
        case COL_MASK:
        case COL_SKIP_L: {
            q = token_end(p, end);
            int b = ms_xr_parse_bool(p, (size_t)(q - p));
            if (b < 0) {
                ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                        "column %zu: '%.*s' is not a logical (T or F)", c + 1,
                        ms_xr_show((size_t)(q - p)), p);
                return NULL;
            }
            if (cl.kind == COL_FIXED_L)
                r->fixed[i] = (unsigned char)b;
            else if (cl.kind == COL_MASK)
                r->movable[i] = (unsigned char)(r->movable[i] + b);
            p = q;
            break;
        }
        default: /* COL_SKIP_S */
            p = token_end(p, end);
            break;
        }
        continue;
    not_number: {
            const char *te = token_end(p, end);
            ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                    "column %zu: '%.*s' is not a number", c + 1,
                    ms_xr_show((size_t)(te - p)), p);
            return NULL;
        }
    }
    while (p < end && is_hblank(*p))
        p++;
    if (p < end && *p != '\n') {
        const char *le = line_end(p, end);
        ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                "expected %zu columns (Properties=%.*s), found %zu", r->ncols,
                ms_xr_show(r->plan_len), r->plan_key, count_tokens(ls, le));
        return NULL;
    }
    return p < end ? p + 1 : p;
}

/* The frame at *pp (after any blank lines) of [*pp, end), appended to fr;
 * *pp and *line move past it. Only blank lines left: *pp becomes end and
 * nothing is appended. */
static mlshift_status parse_one(reader *r, mlshift_frames *fr, const char **pp,
                                const char *end, size_t *linep)
{
    const char *p = *pp;
    size_t line = *linep;
    mlshift_status st;
    for (;;) {
        if (p >= end) {
            *pp = p;
            *linep = line;
            return MLSHIFT_OK;
        }
        const char *le = line_end(p, end), *a = p;
        while (a < le && ms_is_blank(*a))
            a++;
        if (a == le) { /* blank line between frames */
            p = le < end ? le + 1 : end;
            line++;
            continue;
        }
        /* Atom count: [+]digits, blanks around. */
        size_t head = line;
        const char *q = a;
        if (q < le && *q == '+')
            q++;
        size_t natoms = 0;
        int digits = 0, big = 0;
        while (q < le && *q >= '0' && *q <= '9') {
            natoms = 10 * natoms + (size_t)(*q - '0');
            if (natoms > ((size_t)1 << 40))
                big = 1, natoms = (size_t)1 << 40;
            digits = 1;
            q++;
        }
        const char *t = q;
        while (t < le && ms_is_blank(*t))
            t++;
        if (!digits || t != le) {
            const char *te = le;
            while (te > a && ms_is_blank(te[-1]))
                te--;
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "expected an atom count, found '%.*s'",
                           ms_xr_show((size_t)(te - a)), a);
        }
        if (big)
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "atom count '%.*s' is too large",
                           ms_xr_show((size_t)(q - a)), a);
        p = le < end ? le + 1 : end;
        line++;

        /* Comment line. */
        if (p >= end)
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "unexpected end of file: frame at line %zu has no "
                           "comment line", head);
        le = line_end(p, end);
        mlshift_frame f;
        memset(&f, 0, sizeof f);
        double cell[9];
        if ((st = ms_xr_parse_comment(r, p, le, line, &f, cell)))
            return st;
        p = le < end ? le + 1 : end;
        line++;

        /* Atom lines. Each complete one takes >= 8 bytes, so reserving
         * more than the text can hold is never needed. */
        size_t left = (size_t)(end - p);
        if (grow_atoms(r, natoms < left / 4 + 2 ? natoms : left / 4 + 2))
            return ms_xr_nomem(r, line);
        for (size_t i = 0; i < natoms; i++) {
            if (p >= end)
                return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                               "unexpected end of file: frame at line %zu "
                               "has %zu atoms, found %zu", head, natoms, i);
            if (i >= r->cap_atoms && grow_atoms(r, i + 1))
                return ms_xr_nomem(r, line);
            if (!(p = parse_atom(r, p, end, i, line)))
                return r->status;
            line++;
        }
        if (r->has_mask)
            for (size_t i = 0; i < natoms; i++)
                r->fixed[i] |= r->movable[i] == 0;
        f.natoms = natoms;
        f.numbers = r->numbers;
        f.positions = r->pos;
        f.forces = r->has_forces ? r->forces : NULL;
        f.fixed = (r->has_fixed || r->has_mask) ? r->fixed : NULL;
        char where[4200];
        snprintf(where, sizeof where, "%s:%zu", r->name, head);
        if ((st = mlshift_frames_append(fr, &f, where, r->err)))
            return st;
        *pp = p;
        *linep = line;
        return MLSHIFT_OK;
    }
}

static mlshift_status parse_all(reader *r, mlshift_frames *fr,
                                const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t line = 1;
    mlshift_status st = MLSHIFT_OK;
    while (p < end && st == MLSHIFT_OK)
        st = parse_one(r, fr, &p, end, &line);
    return st;
}

static void reader_init(reader *r, const char *name,
                        const mlshift_read_options *opt, mlshift_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->opt = opt;
    r->err = err;
    for (int z = 1; z <= 118; z++) {
        const char *s = mlshift_element_symbol(z);
        if (s && s[0] >= 'A' && s[0] <= 'Z' &&
            (!s[1] || (s[1] >= 'a' && s[1] <= 'z' && !s[2])))
            r->z_of[s[0] - 'A'][s[1] ? s[1] - 'a' + 1 : 0] = (unsigned char)z;
    }
}

static void reader_free(reader *r)
{
    ms_kv_free(&r->kv);
    free(r->props);
    free(r->cols);
    free(r->plan_key);
    free(r->numbers);
    free(r->pos);
    free(r->forces);
    free(r->fixed);
    free(r->movable);
    free(r->info);
}

mlshift_status mlshift_parse_extxyz(mlshift_frames *fr, const char *text,
                                    size_t len, const char *name,
                                    const mlshift_read_options *opt,
                                    mlshift_error *err)
{
    if (!name)
        name = "<memory>";
    if (!fr || (!text && len))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no frames set or no text",
                       name);
    reader r;
    reader_init(&r, name, opt, err);
    size_t n0 = mlshift_frames_count(fr);
    mlshift_status st = parse_all(&r, fr, text ? text : "", len);
    if (st != MLSHIFT_OK)
        ms_frames_truncate(fr, n0);
    reader_free(&r);
    return st;
}

/* ------------------------------------------------------------ streaming */

/* The file is read in blocks into a buffer that holds at least one whole
 * frame; each frame is parsed by the same parse_one as above, so frames,
 * line numbers and messages are those of mlshift_read_extxyz. The buffer
 * grows to the largest frame (twice, at most), not to the file. */
struct ms_xyz_stream {
    reader r;
    FILE *fp;
    char *name;
    mlshift_read_options opt;
    char *buf;               /* (cap + 1,) bytes [pos, len) not yet parsed */
    size_t cap, len, pos;
    size_t line;             /* line number of buf[pos] */
    int eof;
};

enum { XYZ_BLOCK = 1 << 20 };

/* Whether [p, end) holds the next frame whole: blank lines, the count line,
 * the comment line and N atom lines, each ended by a newline. A count line
 * that does not parse counts as whole: parse_one reports it. */
static int frame_whole(const char *p, const char *end)
{
    for (;;) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            return 0;
        const char *a = p;
        while (a < le && ms_is_blank(*a))
            a++;
        if (a == le) {
            p = le + 1;
            continue;
        }
        if (*a == '+')
            a++;
        size_t n = 0;
        int digits = 0;
        for (; a < le && *a >= '0' && *a <= '9'; a++, digits = 1)
            if ((n = 10 * n + (size_t)(*a - '0')) > ((size_t)1 << 40))
                return 1;
        if (!digits)
            return 1;
        p = le + 1;
        for (size_t k = 0; k <= n; k++) {
            const char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e)
                return 0;
            p = e + 1;
        }
        return 1;
    }
}

mlshift_status ms_xyz_stream_open(ms_xyz_stream **out, const char *path,
                                  const mlshift_read_options *opt,
                                  mlshift_error *err)
{
    *out = NULL;
    ms_xyz_stream *s = calloc(1, sizeof *s);
    char *name = malloc(strlen(path) + 1);
    char *buf = malloc(XYZ_BLOCK + 1);
    if (!s || !name || !buf) {
        free(s), free(name), free(buf);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(name, path);
    s->fp = fopen(path, "rb");
    if (!s->fp) {
        mlshift_status st = ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot open: %s",
                                    path, strerror(errno));
        free(s), free(name), free(buf);
        return st;
    }
    struct stat sb;
    if (fstat(fileno(s->fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(s->fp);
        free(s), free(name), free(buf);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path,
                       strerror(EISDIR));
    }
    s->name = name;
    s->buf = buf;
    s->cap = XYZ_BLOCK;
    s->line = 1;
    if (opt)
        s->opt = *opt;
    reader_init(&s->r, s->name, opt ? &s->opt : NULL, err);
    *out = s;
    return MLSHIFT_OK;
}

/* Reads the next block behind the unparsed bytes (moved to the front). */
static mlshift_status refill(ms_xyz_stream *s, mlshift_error *err)
{
    if (s->pos) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->cap - s->len < XYZ_BLOCK / 2) {
        char *nb = realloc(s->buf, 2 * s->cap + 1);
        if (!nb)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", s->name);
        s->buf = nb;
        s->cap *= 2;
    }
    size_t got = fread(s->buf + s->len, 1, s->cap - s->len, s->fp);
    s->len += got;
    s->buf[s->len] = '\0';
    if (got == 0) {
        if (ferror(s->fp))
            return ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", s->name,
                           strerror(errno ? errno : EIO));
        s->eof = 1;
    }
    return MLSHIFT_OK;
}

mlshift_status ms_xyz_stream_fill(ms_xyz_stream *s, mlshift_frames *fr,
                                  size_t max_frames, int *end,
                                  mlshift_error *err)
{
    *end = 0;
    s->r.err = err;
    size_t n0 = mlshift_frames_count(fr);
    mlshift_status st;
    while (mlshift_frames_count(fr) - n0 < max_frames) {
        while (!s->eof && !frame_whole(s->buf + s->pos, s->buf + s->len))
            if ((st = refill(s, err)) != MLSHIFT_OK)
                return st;
        const char *p = s->buf + s->pos;
        if ((st = parse_one(&s->r, fr, &p, s->buf + s->len, &s->line)))
            return st;
        s->pos = (size_t)(p - s->buf);
        if (s->eof && s->pos >= s->len) {
            *end = 1;
            break;
        }
    }
    return MLSHIFT_OK;
}

void ms_xyz_stream_close(ms_xyz_stream *s)
{
    if (!s)
        return;
    reader_free(&s->r);
    if (s->fp)
        fclose(s->fp);
    free(s->buf);
    free(s->name);
    free(s);
}

mlshift_status mlshift_read_extxyz(mlshift_frames *fr, const char *path,
                                   const mlshift_read_options *opt,
                                   mlshift_error *err)
{
    char *text;
    size_t len;
    mlshift_status st = ms_read_file(path, &text, &len, err);
    if (st != MLSHIFT_OK)
        return st;
    st = mlshift_parse_extxyz(fr, text, len, path, opt, err);
    free(text);
    return st;
}

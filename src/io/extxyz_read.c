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
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "extxyz.h"
#include "frames.h"
#include "numparse.h"

/* What to do with one column of an atom line. */
enum {
    COL_SPECIES,      /* symbol or digits -> numbers */
    COL_SPECIES_CHK,  /* symbol checked, numbers come from Z */
    COL_Z,            /* atomic number -> numbers */
    COL_POS,          /* component k of the position */
    COL_FORCE,        /* component k of the force */
    COL_FIXED_I,      /* nonzero integer = fixed */
    COL_FIXED_L,      /* T = fixed */
    COL_MASK,         /* move_mask component k: T = may move */
    COL_SKIP_R,
    COL_SKIP_I,
    COL_SKIP_L,
    COL_SKIP_S
};

typedef struct col {
    unsigned char kind, k;
} col;

/* One name:type:ncols triple of a Properties value. */
typedef struct prop {
    const char *name;
    size_t nlen;
    char type;
    size_t ncols;
} prop;

#define MAX_COLUMNS 4096

typedef struct reader {
    const char *name;                 /* labels errors */
    const mlshift_read_options *opt;  /* may be NULL */
    mlshift_error *err;
    mlshift_status status;            /* of the last failure */
    unsigned char z_of[26][27];       /* symbol -> Z: [A-Z][none or a-z] */
    ms_kv_list kv;                    /* pairs of the current comment line */
    prop *props;                      /* (np,) triples of Properties */
    size_t np, cap_props;
    col *cols;                        /* (ncols,) column plan */
    size_t ncols, cap_cols;
    char *plan_key;                   /* Properties value the plan is for */
    size_t plan_len, cap_plan_key;
    int plan_valid;
    int has_forces, has_fixed, has_mask;
    int *numbers;                     /* (N,) */
    double *pos;                      /* (N, 3) Å */
    double *forces;                   /* (N, 3) eV/Å */
    unsigned char *fixed;             /* (N,) */
    unsigned char *movable;           /* (N,) move_mask T count */
    size_t cap_atoms;
    char *info;                       /* info text of the current frame */
    size_t info_len, info_cap;
} reader;

static mlshift_status fail_at(reader *r, mlshift_status s, size_t line,
                              const char *fmt, ...) MS_PRINTF(4, 5);
static mlshift_status fail_at(reader *r, mlshift_status s, size_t line,
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

static mlshift_status nomem(reader *r, size_t line)
{
    return fail_at(r, MLSHIFT_ERR_NOMEM, line, "out of memory");
}

/* A token shown in an error message: at most 40 bytes of it. */
static int show(size_t n) { return n > 40 ? 40 : (int)n; }

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

/* [+-]digits, as Python's int() (without underscores). Saturates. */
static const char *parse_int(const char *p, const char *end, long long *out)
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

/* T/F/True/False as ASE's parse_bool; -1 if neither. */
static int parse_bool_token(const char *t, size_t n)
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

static const prop *find_prop(const reader *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->np; i++)
        if (r->props[i].nlen == n && memcmp(r->props[i].name, name, n) == 0)
            return &r->props[i];
    return NULL;
}

static int prop_is(const prop *p, const char *name)
{
    size_t n = strlen(name);
    return p->nlen == n && memcmp(p->name, name, n) == 0;
}

static int add_col(reader *r, int kind, int k)
{
    if (ms_grow((void **)&r->cols, &r->cap_cols, r->ncols + 1, sizeof *r->cols))
        return -1;
    r->cols[r->ncols].kind = (unsigned char)kind;
    r->cols[r->ncols].k = (unsigned char)k;
    r->ncols++;
    return 0;
}

/* Builds the column plan from a Properties value spec[0, n). */
static mlshift_status make_plan(reader *r, const char *spec, size_t n,
                                size_t line)
{
    r->np = 0;
    r->ncols = 0;
    r->plan_valid = 0;
    /* Split on ':' into triples. */
    const char *p = spec, *end = spec + n;
    size_t field = 0, total = 0;
    prop cur = {0};
    for (;;) {
        const char *q = memchr(p, ':', (size_t)(end - p));
        if (!q)
            q = end;
        size_t fl = (size_t)(q - p);
        if (field % 3 == 0) {
            cur.name = p;
            cur.nlen = fl;
        } else if (field % 3 == 1) {
            if (fl != 1 || !strchr("RISL", *p))
                return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: type '%.*s' of '%.*s' is not "
                               "one of S, R, I, L", show(fl), p,
                               show(cur.nlen), cur.name);
            cur.type = *p;
        } else {
            long long c;
            const char *e = parse_int(p, q, &c);
            if (!e || e != q || c < 1 || c > MAX_COLUMNS)
                return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: column count '%.*s' of "
                               "'%.*s' is not an integer in 1..%d",
                               show(fl), p, show(cur.nlen), cur.name,
                               MAX_COLUMNS);
            cur.ncols = (size_t)c;
            total += cur.ncols;
            if (total > MAX_COLUMNS)
                return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: more than %d columns",
                               MAX_COLUMNS);
            for (size_t i = 0; i < r->np; i++)
                if (r->props[i].nlen == cur.nlen &&
                    memcmp(r->props[i].name, cur.name, cur.nlen) == 0)
                    return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                                   "bad Properties: '%.*s' appears twice",
                                   show(cur.nlen), cur.name);
            if (ms_grow((void **)&r->props, &r->cap_props, r->np + 1,
                        sizeof *r->props))
                return nomem(r, line);
            r->props[r->np++] = cur;
        }
        field++;
        if (q == end)
            break;
        p = q + 1;
    }
    if (field % 3 != 0)
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties '%.*s': not name:type:ncols triples",
                       show(n), spec);

    const prop *pos = find_prop(r, "pos");
    const prop *species = find_prop(r, "species");
    const prop *z = find_prop(r, "Z");
    if (!pos || pos->type != 'R' || pos->ncols != 3)
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: no pos:R:3");
    if (species && (species->type != 'S' || species->ncols != 1))
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: species must be S:1");
    if (z && (z->type != 'I' || z->ncols != 1))
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: Z must be I:1");
    if (!species && !z)
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: neither species:S:1 nor Z:I:1");

    const prop *forces = NULL;
    const char *fkey = r->opt ? r->opt->forces_key : NULL;
    if (fkey) {
        forces = find_prop(r, fkey);
    } else {
        static const char *const cand[] = {"forces", "REF_forces", "force"};
        for (int i = 0; i < 3 && !forces; i++)
            forces = find_prop(r, cand[i]);
    }
    if (forces && (forces->type != 'R' || forces->ncols != 3))
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: forces property '%.*s' must be R:3",
                       show(forces->nlen), forces->name);
    r->has_forces = forces != NULL;
    r->has_fixed = 0;
    r->has_mask = 0;

    for (size_t i = 0; i < r->np; i++) {
        const prop *pr = &r->props[i];
        int kind;
        if (pr == pos) {
            kind = COL_POS;
        } else if (pr == forces) {
            kind = COL_FORCE;
        } else if (pr == species) {
            kind = z ? COL_SPECIES_CHK : COL_SPECIES;
        } else if (pr == z) {
            kind = COL_Z;
        } else if (prop_is(pr, "fixed") && pr->ncols == 1 &&
                   (pr->type == 'I' || pr->type == 'L')) {
            kind = pr->type == 'I' ? COL_FIXED_I : COL_FIXED_L;
            r->has_fixed = 1;
        } else if (prop_is(pr, "move_mask") && pr->type == 'L' &&
                   (pr->ncols == 1 || pr->ncols == 3)) {
            kind = COL_MASK;
            r->has_mask = 1;
        } else {
            kind = pr->type == 'R' ? COL_SKIP_R : pr->type == 'I' ? COL_SKIP_I
                 : pr->type == 'L' ? COL_SKIP_L : COL_SKIP_S;
        }
        for (size_t k = 0; k < pr->ncols; k++)
            if (add_col(r, kind, kind == COL_POS || kind == COL_FORCE ||
                                     kind == COL_MASK ? (int)k : 0))
                return nomem(r, line);
    }
    if (ms_grow((void **)&r->plan_key, &r->cap_plan_key, n + 1, 1))
        return nomem(r, line);
    memcpy(r->plan_key, spec, n);
    r->plan_len = n;
    r->plan_valid = 1;
    return MLSHIFT_OK;
}

/* Splits v[0, n) on blanks and commas, as ASE's re.findall(r'[^\s,]+'). */
static const char *next_item(const char *p, const char *end, const char **s)
{
    while (p < end && (ms_is_blank(*p) || *p == ','))
        p++;
    *s = p;
    while (p < end && !ms_is_blank(*p) && *p != ',')
        p++;
    return p;
}

static mlshift_status parse_lattice(reader *r, const ms_kv *kv, double *cell,
                                    size_t line)
{
    const char *v = r->kv.buf + kv->val, *end = v + kv->vlen, *p = v;
    int k = 0;
    for (;;) {
        const char *s;
        p = next_item(p, end, &s);
        if (s == p)
            break;
        double x;
        const char *q = ms_parse_double(s, p, &x, 0);
        if (!q || q != p || k == 9 || !isfinite(x))
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "bad Lattice \"%.*s\": expected 9 finite numbers",
                           show(kv->vlen), v);
        cell[k++] = x;
    }
    if (!kv->has_val || k != 9)
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Lattice \"%.*s\": expected 9 finite numbers",
                       show(kv->vlen), v);
    return MLSHIFT_OK;
}

static mlshift_status parse_pbc(reader *r, const ms_kv *kv, int *pbc,
                                size_t line)
{
    const char *v = r->kv.buf + kv->val, *end = v + kv->vlen, *p = v;
    int b[3], k = 0;
    for (;;) {
        const char *s;
        p = next_item(p, end, &s);
        if (s == p)
            break;
        int t = parse_bool_token(s, (size_t)(p - s));
        if (t < 0 && p - s == 1 && (*s == '0' || *s == '1'))
            t = *s == '1';
        if (t < 0 || k == 3)
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "bad pbc \"%.*s\": expected one or three of T, F",
                           show(kv->vlen), v);
        b[k++] = t;
    }
    if (!kv->has_val && k == 0) {
        b[0] = 1; /* a bare key is True */
        k = 1;
    }
    if (k != 1 && k != 3)
        return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                       "bad pbc \"%.*s\": expected one or three of T, F",
                       show(kv->vlen), v);
    for (int i = 0; i < 3; i++)
        pbc[i] = k == 1 ? b[0] : b[i];
    return MLSHIFT_OK;
}

/* The comment line [s, e): fills cell/pbc/energy, the plan and r->info. */
static mlshift_status parse_comment(reader *r, const char *s, const char *e,
                                    size_t line, mlshift_frame *f,
                                    double *cell)
{
    if (memchr(s, '\0', (size_t)(e - s)))
        return fail_at(r, MLSHIFT_ERR_FORMAT, line, "NUL byte in comment line");
    if (ms_kv_parse(&r->kv, s, (size_t)(e - s)))
        return nomem(r, line);
    int keyed = 0;
    for (size_t i = 0; i < r->kv.n; i++)
        keyed |= r->kv.kv[i].has_val;
    if (!keyed)
        r->kv.n = 0; /* free text: nothing of it is kept */
    const ms_kv_list *l = &r->kv;
    mlshift_status st;

    long il = ms_kv_find(l, "Lattice");
    f->cell = NULL;
    if (il >= 0) {
        if ((st = parse_lattice(r, &l->kv[il], cell, line)))
            return st;
        f->cell = cell;
    }
    long ip = ms_kv_find(l, "pbc");
    for (int k = 0; k < 3; k++)
        f->pbc[k] = il >= 0;
    if (ip >= 0 && (st = parse_pbc(r, &l->kv[ip], f->pbc, line)))
        return st;

    long ie = -1;
    const char *ekey = r->opt ? r->opt->energy_key : NULL;
    if (ekey) {
        ie = ms_kv_find(l, ekey);
    } else {
        static const char *const cand[] = {"energy", "REF_energy", "Energy"};
        for (int i = 0; i < 3 && ie < 0; i++)
            if ((ie = ms_kv_find(l, cand[i])) >= 0)
                ekey = cand[i];
    }
    f->flags = 0;
    f->energy = NAN;
    if (ie >= 0) {
        const ms_kv *kv = &l->kv[ie];
        const char *v = l->buf + kv->val, *ve = v + kv->vlen;
        while (v < ve && ms_is_blank(*v))
            v++;
        while (ve > v && ms_is_blank(ve[-1]))
            ve--;
        double x = NAN;
        const char *q = kv->has_val && v < ve ?
            ms_parse_double(v, ve, &x, MS_NUM_SPECIAL) : NULL;
        if (!q || q != ve)
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "%s=\"%.*s\" is not a number", ekey,
                           show(kv->vlen), l->buf + kv->val);
        if (!isfinite(x))
            return fail_at(r, MLSHIFT_ERR_VALUE, line, "%s is not finite",
                           ekey);
        f->energy = x;
        f->flags |= MLSHIFT_HAS_ENERGY;
    } else if (r->opt && r->opt->require_energy) {
        return fail_at(r, MLSHIFT_ERR_MISSING, line, "no energy (key '%s')",
                       r->opt->energy_key ? r->opt->energy_key
                                          : "energy, REF_energy or Energy");
    }

    long iq = ms_kv_find(l, "Properties");
    static const char defprops[] = "species:S:1:pos:R:3";
    const char *spec = defprops;
    size_t slen = sizeof defprops - 1;
    if (iq >= 0) {
        if (!l->kv[iq].has_val)
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "bad Properties: no value");
        spec = l->buf + l->kv[iq].val;
        slen = l->kv[iq].vlen;
    }
    if (!r->plan_valid || r->plan_len != slen ||
        memcmp(r->plan_key, spec, slen) != 0)
        if ((st = make_plan(r, spec, slen, line)))
            return st;
    if (!r->has_forces && r->opt && r->opt->require_forces)
        return fail_at(r, MLSHIFT_ERR_MISSING, line, "no forces (property '%s')",
                       r->opt->forces_key ? r->opt->forces_key
                                          : "forces, REF_forces or force");

    /* Info: every other pair, once per key (the last value wins, at the
     * place of the first, as in a Python dict). Empty values (key="") go
     * last: anywhere else ASE's splitter would read the next pair as their
     * value, and the info text must split back into the same pairs. */
    r->info_len = 0;
    if (ms_grow((void **)&r->info, &r->info_cap, 1, 1))
        return nomem(r, line);
    r->info[0] = '\0';
    for (int empty = 0; empty < 2; empty++) {
        for (size_t i = 0; i < l->n; i++) {
            const ms_kv *kv = &l->kv[i];
            const char *k = l->buf + kv->key;
            if ((long)i == il || (long)i == ip || (long)i == iq ||
                (long)i == ie)
                continue;
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = l->kv[j].klen == kv->klen &&
                       memcmp(l->buf + l->kv[j].key, k, kv->klen) == 0;
            if (seen)
                continue;
            size_t last = i;
            for (size_t j = i + 1; j < l->n; j++)
                if (l->kv[j].klen == kv->klen &&
                    memcmp(l->buf + l->kv[j].key, k, kv->klen) == 0)
                    last = j;
            const ms_kv *lv = &l->kv[last];
            if ((long)last == il || (long)last == ip || (long)last == iq ||
                (long)last == ie || (lv->has_val && lv->vlen == 0) != empty)
                continue;
            if (ms_kv_append(&r->info, &r->info_len, &r->info_cap, k,
                             kv->klen, l->buf + lv->val, lv->vlen,
                             lv->has_val))
                return nomem(r, line);
        }
    }
    f->info = r->info;
    return MLSHIFT_OK;
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
            fail_at(r, MLSHIFT_ERR_FORMAT, line,
                    "expected %zu columns (Properties=%.*s), found %zu",
                    r->ncols, show(r->plan_len), r->plan_key,
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
                fail_at(r, MLSHIFT_ERR_VALUE, line,
                        "column %zu: %.*s is not finite", c + 1,
                        show((size_t)(q - p)), p);
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
            q = parse_int(p, end, &iv);
            if (!q || (q < end && !ms_is_blank(*q))) {
                const char *te = token_end(p, end);
                fail_at(r, MLSHIFT_ERR_FORMAT, line,
                        "column %zu: '%.*s' is not an integer", c + 1,
                        show((size_t)(te - p)), p);
                return NULL;
            }
            if (cl.kind == COL_Z) {
                if (iv < 1 || iv > 118) {
                    fail_at(r, MLSHIFT_ERR_VALUE, line,
                            "unknown element '%.*s'", show((size_t)(q - p)), p);
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
                fail_at(r, MLSHIFT_ERR_VALUE, line, "unknown element '%.*s'",
                        show((size_t)(q - p)), p);
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
            int b = parse_bool_token(p, (size_t)(q - p));
            if (b < 0) {
                fail_at(r, MLSHIFT_ERR_FORMAT, line,
                        "column %zu: '%.*s' is not a logical (T or F)", c + 1,
                        show((size_t)(q - p)), p);
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
            fail_at(r, MLSHIFT_ERR_FORMAT, line,
                    "column %zu: '%.*s' is not a number", c + 1,
                    show((size_t)(te - p)), p);
            return NULL;
        }
    }
    while (p < end && is_hblank(*p))
        p++;
    if (p < end && *p != '\n') {
        const char *le = line_end(p, end);
        fail_at(r, MLSHIFT_ERR_FORMAT, line,
                "expected %zu columns (Properties=%.*s), found %zu", r->ncols,
                show(r->plan_len), r->plan_key, count_tokens(ls, le));
        return NULL;
    }
    return p < end ? p + 1 : p;
}

static mlshift_status parse_all(reader *r, mlshift_frames *fr,
                                const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t line = 1;
    mlshift_status st;
    while (p < end) {
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
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "expected an atom count, found '%.*s'",
                           show((size_t)(te - a)), a);
        }
        if (big)
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "atom count '%.*s' is too large",
                           show((size_t)(q - a)), a);
        p = le < end ? le + 1 : end;
        line++;

        /* Comment line. */
        if (p >= end)
            return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                           "unexpected end of file: frame at line %zu has no "
                           "comment line", head);
        le = line_end(p, end);
        mlshift_frame f;
        memset(&f, 0, sizeof f);
        double cell[9];
        if ((st = parse_comment(r, p, le, line, &f, cell)))
            return st;
        p = le < end ? le + 1 : end;
        line++;

        /* Atom lines. Each complete one takes >= 8 bytes, so reserving
         * more than the text can hold is never needed. */
        size_t left = (size_t)(end - p);
        if (grow_atoms(r, natoms < left / 4 + 2 ? natoms : left / 4 + 2))
            return nomem(r, line);
        for (size_t i = 0; i < natoms; i++) {
            if (p >= end)
                return fail_at(r, MLSHIFT_ERR_FORMAT, line,
                               "unexpected end of file: frame at line %zu "
                               "has %zu atoms, found %zu", head, natoms, i);
            if (i >= r->cap_atoms && grow_atoms(r, i + 1))
                return nomem(r, line);
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
    }
    return MLSHIFT_OK;
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
    memset(&r, 0, sizeof r);
    r.name = name;
    r.opt = opt;
    r.err = err;
    for (int z = 1; z <= 118; z++) {
        const char *s = mlshift_element_symbol(z);
        if (s && s[0] >= 'A' && s[0] <= 'Z' &&
            (!s[1] || (s[1] >= 'a' && s[1] <= 'z' && !s[2])))
            r.z_of[s[0] - 'A'][s[1] ? s[1] - 'a' + 1 : 0] = (unsigned char)z;
    }
    size_t n0 = mlshift_frames_count(fr);
    mlshift_status st = parse_all(&r, fr, text ? text : "", len);
    if (st != MLSHIFT_OK)
        ms_frames_truncate(fr, n0);
    ms_kv_free(&r.kv);
    free(r.props);
    free(r.cols);
    free(r.plan_key);
    free(r.numbers);
    free(r.pos);
    free(r.forces);
    free(r.fixed);
    free(r.movable);
    free(r.info);
    return st;
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

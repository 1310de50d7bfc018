/* SPDX-License-Identifier: MIT */
/* The comment line of an extxyz frame, as ase.io.extxyz reads it (ASE
 * 3.22): the Properties value becomes a column plan (which column of an atom
 * line is species, position, forces, fixed flags, or skipped after a type
 * check), Lattice and pbc the cell, the energy key the energy; every other
 * pair is re-encoded into the frame's info. See extxyz_read.c for the
 * frame format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extxyz_reader.h"
#include "numparse.h"

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
                return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: type '%.*s' of '%.*s' is not "
                               "one of S, R, I, L", ms_xr_show(fl), p,
                               ms_xr_show(cur.nlen), cur.name);
            cur.type = *p;
        } else {
            long long c;
            const char *e = ms_xr_parse_int(p, q, &c);
            if (!e || e != q || c < 1 || c > MAX_COLUMNS)
                return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: column count '%.*s' of "
                               "'%.*s' is not an integer in 1..%d",
                               ms_xr_show(fl), p, ms_xr_show(cur.nlen), cur.name,
                               MAX_COLUMNS);
            cur.ncols = (size_t)c;
            total += cur.ncols;
            if (total > MAX_COLUMNS)
                return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                               "bad Properties: more than %d columns",
                               MAX_COLUMNS);
            for (size_t i = 0; i < r->np; i++)
                if (r->props[i].nlen == cur.nlen &&
                    memcmp(r->props[i].name, cur.name, cur.nlen) == 0)
                    return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                                   "bad Properties: '%.*s' appears twice",
                                   ms_xr_show(cur.nlen), cur.name);
            if (ms_grow((void **)&r->props, &r->cap_props, r->np + 1,
                        sizeof *r->props))
                return ms_xr_nomem(r, line);
            r->props[r->np++] = cur;
        }
        field++;
        if (q == end)
            break;
        p = q + 1;
    }
    if (field % 3 != 0)
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties '%.*s': not name:type:ncols triples",
                       ms_xr_show(n), spec);

    const prop *pos = find_prop(r, "pos");
    const prop *species = find_prop(r, "species");
    const prop *z = find_prop(r, "Z");
    if (!pos || pos->type != 'R' || pos->ncols != 3)
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: no pos:R:3");
    if (species && (species->type != 'S' || species->ncols != 1))
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: species must be S:1");
    if (z && (z->type != 'I' || z->ncols != 1))
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: Z must be I:1");
    if (!species && !z)
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
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
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Properties: forces property '%.*s' must be R:3",
                       ms_xr_show(forces->nlen), forces->name);
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
                return ms_xr_nomem(r, line);
    }
    if (ms_grow((void **)&r->plan_key, &r->cap_plan_key, n + 1, 1))
        return ms_xr_nomem(r, line);
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
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "bad Lattice \"%.*s\": expected 9 finite numbers",
                           ms_xr_show(kv->vlen), v);
        cell[k++] = x;
    }
    if (!kv->has_val || k != 9)
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad Lattice \"%.*s\": expected 9 finite numbers",
                       ms_xr_show(kv->vlen), v);
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
        int t = ms_xr_parse_bool(s, (size_t)(p - s));
        if (t < 0 && p - s == 1 && (*s == '0' || *s == '1'))
            t = *s == '1';
        if (t < 0 || k == 3)
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "bad pbc \"%.*s\": expected one or three of T, F",
                           ms_xr_show(kv->vlen), v);
        b[k++] = t;
    }
    if (!kv->has_val && k == 0) {
        b[0] = 1; /* a bare key is True */
        k = 1;
    }
    if (k != 1 && k != 3)
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                       "bad pbc \"%.*s\": expected one or three of T, F",
                       ms_xr_show(kv->vlen), v);
    for (int i = 0; i < 3; i++)
        pbc[i] = k == 1 ? b[0] : b[i];
    return MLSHIFT_OK;
}

mlshift_status ms_xr_parse_comment(reader *r, const char *s, const char *e,
                                   size_t line, mlshift_frame *f, double *cell)
{
    if (memchr(s, '\0', (size_t)(e - s)))
        return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line, "NUL byte in comment line");
    if (ms_kv_parse(&r->kv, s, (size_t)(e - s)))
        return ms_xr_nomem(r, line);
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
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "%s=\"%.*s\" is not a number", ekey,
                           ms_xr_show(kv->vlen), l->buf + kv->val);
        if (!isfinite(x))
            return ms_xr_fail(r, MLSHIFT_ERR_VALUE, line, "%s is not finite",
                           ekey);
        f->energy = x;
        f->flags |= MLSHIFT_HAS_ENERGY;
    } else if (r->opt && r->opt->require_energy) {
        return ms_xr_fail(r, MLSHIFT_ERR_MISSING, line, "no energy (key '%s')",
                       r->opt->energy_key ? r->opt->energy_key
                                          : "energy, REF_energy or Energy");
    }

    long iq = ms_kv_find(l, "Properties");
    static const char defprops[] = "species:S:1:pos:R:3";
    const char *spec = defprops;
    size_t slen = sizeof defprops - 1;
    if (iq >= 0) {
        if (!l->kv[iq].has_val)
            return ms_xr_fail(r, MLSHIFT_ERR_FORMAT, line,
                           "bad Properties: no value");
        spec = l->buf + l->kv[iq].val;
        slen = l->kv[iq].vlen;
    }
    if (!r->plan_valid || r->plan_len != slen ||
        memcmp(r->plan_key, spec, slen) != 0)
        if ((st = make_plan(r, spec, slen, line)))
            return st;
    if (!r->has_forces && r->opt && r->opt->require_forces)
        return ms_xr_fail(r, MLSHIFT_ERR_MISSING, line, "no forces (property '%s')",
                       r->opt->forces_key ? r->opt->forces_key
                                          : "forces, REF_forces or force");

    /* Info: every other pair, once per key (the last value wins, at the
     * place of the first, as in a Python dict). Empty values (key="") go
     * last: anywhere else ASE's splitter would read the next pair as their
     * value, and the info text must split back into the same pairs. */
    r->info_len = 0;
    if (ms_grow((void **)&r->info, &r->info_cap, 1, 1))
        return ms_xr_nomem(r, line);
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
                return ms_xr_nomem(r, line);
        }
    }
    f->info = r->info;
    return MLSHIFT_OK;
}

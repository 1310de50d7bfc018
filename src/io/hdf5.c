/* SPDX-License-Identifier: MIT */
/* HDF5 reader for the molecular data sets that ship one group per molecule:
 *
 *   SPICE   atomic_numbers (N,) int, conformations (M, N, 3) bohr,
 *           dft_total_energy (M,) hartree, dft_total_gradient (M, N, 3)
 *           hartree/bohr, smiles and subset (strings)
 *   ANI-1x  atomic_numbers (N,) int, coordinates (M, N, 3) Å,
 *           <level>.energy (M,) hartree, <level>.forces (M, N, 3) hartree/Å,
 *           NaN where the level was not computed
 *   ANI-2x  (torchani) species (M, N) int, coordinates (M, N, 3) Å,
 *           energies (M,) hartree, forces (M, N, 3) hartree/Å
 *
 * M = conformers in a group, N = atoms. Conversions at this boundary only,
 * with the CODATA 2018 constants of mlshift.h:
 *
 *   positions  Å    = bohr · MLSHIFT_ANGSTROM_PER_BOHR
 *   energy     eV   = hartree · MLSHIFT_EV_PER_HARTREE
 *   forces     eV/Å = −(gradient · MLSHIFT_EV_PER_HARTREE) /
 *                     MLSHIFT_ANGSTROM_PER_BOHR            (SPICE)
 *              eV/Å = hartree/Å · MLSHIFT_EV_PER_HARTREE    (ANI)
 *
 * The layout is detected per group from its dataset names. Groups are
 * visited depth first in name order (byte-wise, as h5py lists them) through
 * hard links only, each object once (H5Ovisit), so soft links, external
 * links and link cycles are never followed. A group without datasets is a
 * container; one with datasets of no known layout is an error. Each
 * dataset is read with one H5Dread into a scratch buffer, converted to
 * double by HDF5 (float32 → double is exact); the scratch buffers are
 * reused across groups. Every frame gets the info "name=<group path>
 * conf=<k>" plus smiles= and subset= where SPICE stores them.
 *
 * The library never prints: HDF5's automatic error printing is switched off
 * for the duration of a read and the caller's handler restored after. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "../core/util.h"
#include "frames.h"
#include "stream.h"

/* A dimension the caller does not know yet: read_array fills it in. */
#define ANY_DIM ((hsize_t)-1)

typedef enum { LAYOUT_NONE, LAYOUT_SPICE, LAYOUT_ANI1X, LAYOUT_ANI2X } layout;

typedef struct h5_reader {
    mlshift_frames *fr;
    const char *path;
    const mlshift_read_options *opt;
    const char *level;         /* ANI-1x level prefix */
    mlshift_error *err;
    mlshift_status st;
    hsize_t file_size;         /* bytes, bounds unfiltered datasets */
    size_t n_groups;           /* molecule groups read */
    /* Scratch, reused across groups (M, N of the current group). */
    int *z;                    /* (N,) or (M, N) atomic numbers */
    double *pos;               /* (M, N, 3) Å */
    double *frc;               /* (M, N, 3) eV/Å */
    double *en;                /* (M,) eV */
    char *head, *tail, *info;  /* info text: "name=…", " smiles=…", frame */
    size_t cap_z, cap_pos, cap_frc, cap_en, cap_head, cap_tail, cap_info;
} h5_reader;

/* ------------------------------------------------------------ HDF5 errors */

static herr_t first_error_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc)
        snprintf(buf, 256, "%s", e->desc);
    return 0;
}

/* The most specific message on HDF5's error stack ("" when empty). Call it
 * right after the failing call: the next API call clears the stack. */
static const char *h5_message(char buf[256])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error_cb, buf);
    return buf;
}

static void close_id(hid_t *id, herr_t (*close)(hid_t))
{
    if (*id >= 0)
        close(*id);
    *id = -1;
}

/* ------------------------------------------------------------------ text */

/* Appends s (n bytes) to the NUL-terminated growable string *buf. */
static int str_append(char **buf, size_t *cap, size_t *len, const char *s,
                      size_t n)
{
    if (ms_grow((void **)buf, cap, *len + n + 1, 1))
        return -1;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Appends " key=value" (no leading blank when *len == 0) in extxyz syntax:
 * bare when the value is made of [A-Za-z0-9_.+-] only, otherwise "double
 * quoted" with \" and \\ escaped, so mlshift_info_get reads it back.
 * Control characters (a newline would end the comment line) become blanks. */
static int info_append(char **buf, size_t *cap, size_t *len, const char *key,
                       const char *val)
{
    int bare = *val != '\0';
    for (const char *p = val; *p && bare; p++) {
        unsigned char ch = (unsigned char)*p;
        bare = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
               ch == '+' || ch == '-';
    }
    if ((*len && str_append(buf, cap, len, " ", 1)) ||
        str_append(buf, cap, len, key, strlen(key)) ||
        str_append(buf, cap, len, "=", 1))
        return -1;
    if (bare)
        return str_append(buf, cap, len, val, strlen(val));
    if (str_append(buf, cap, len, "\"", 1))
        return -1;
    for (const char *p = val; *p; p++) {
        char ch = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
        if ((ch == '"' || ch == '\\') && str_append(buf, cap, len, "\\", 1))
            return -1;
        if (str_append(buf, cap, len, &ch, 1))
            return -1;
    }
    return str_append(buf, cap, len, "\"", 1);
}

/* Writes "(a, b, c)" into buf; dimensions equal to ANY_DIM print as the
 * matching letter of lab ("MN3": M, N). */
static void format_shape(char *buf, size_t cap, int rank, const hsize_t *d,
                         const char *lab)
{
    size_t o = (size_t)snprintf(buf, cap, "(");
    for (int k = 0; k < rank && o < cap; k++) {
        const char *sep = k ? ", " : "";
        if (d[k] == ANY_DIM && lab)
            o += (size_t)snprintf(buf + o, cap - o, "%s%c", sep, lab[k]);
        else
            o += (size_t)snprintf(buf + o, cap - o, "%s%llu", sep,
                                  (unsigned long long)d[k]);
    }
    if (o < cap)
        snprintf(buf + o, cap - o, rank == 1 ? ",)" : ")");
}

/* ---------------------------------------------------------------- strings */

/* Reads a one-element string dataset (is_attr = 0) or attribute (1) into
 * a malloc'ed NUL-terminated string; NULL when it is not such a string. */
static char *read_string(hid_t obj, int is_attr)
{
    char *out = NULL;
    hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mtype = -1;
    if (ftype < 0 || space < 0 || H5Tget_class(ftype) != H5T_STRING ||
        H5Sget_simple_extent_npoints(space) != 1)
        goto done;
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0)
        goto done;
    if (H5Tis_variable_str(ftype) > 0) {
        char *s = NULL;
        if (H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
            goto done;
        herr_t rc = is_attr ? H5Aread(obj, mtype, &s)
                            : H5Dread(obj, mtype, H5S_ALL, H5S_ALL,
                                      H5P_DEFAULT, &s);
        if (rc >= 0 && s)
            out = strdup(s);
        if (rc >= 0)
#if H5_VERSION_GE(1, 12, 0)
            H5Treclaim(mtype, space, H5P_DEFAULT, &s);
#else
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &s);
#endif
    } else {
        size_t n = H5Tget_size(ftype);
        if (n == 0 || n > (1u << 20) || H5Tset_size(mtype, n + 1) < 0 ||
            H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0)
            goto done;
        out = calloc(n + 2, 1);
        if (!out)
            goto done;
        herr_t rc = is_attr ? H5Aread(obj, mtype, out)
                            : H5Dread(obj, mtype, H5S_ALL, H5S_ALL,
                                      H5P_DEFAULT, out);
        if (rc < 0) {
            free(out);
            out = NULL;
        }
    }
done:
    close_id(&mtype, H5Tclose);
    close_id(&space, H5Sclose);
    close_id(&ftype, H5Tclose);
    return out;
}

/* The string dataset `name` of group g, or NULL when absent or unreadable. */
static char *read_string_dataset(hid_t g, const char *name)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    char *s = read_string(d, 0);
    H5Dclose(d);
    return s;
}

/* 1 when unit (from a "units" attribute) names the expected one. */
static int units_match(const char *unit, const char *want)
{
    static const char *const alias[][2] = {
        {"bohr", "a0"}, {"hartree", "Eh"}, {"hartree", "Ha"},
        {"hartree/bohr", "Eh/a0"}, {"hartree/bohr", "Ha/bohr"},
    };
    if (strcmp(unit, want) == 0)
        return 1;
    for (size_t k = 0; k < sizeof alias / sizeof alias[0]; k++)
        if (strcmp(want, alias[k][0]) == 0 && strcmp(unit, alias[k][1]) == 0)
            return 1;
    return 0;
}

/* ----------------------------------------------------------------- arrays */

/* Reads dataset gname/dname of rank `rank` into *buf (grown as needed) as
 * memtype (H5T_NATIVE_DOUBLE or H5T_NATIVE_INT, elem bytes each) with one
 * H5Dread. dims (rank,) holds the expected shape, ANY_DIM where unknown;
 * on success it holds the actual shape. lab names the unknown dimensions
 * in errors. units, when non-NULL, is checked against a "units" attribute
 * if the dataset has one. */
static mlshift_status read_array(h5_reader *r, hid_t g, const char *gname,
                                 const char *dname, int rank, hsize_t *dims,
                                 const char *lab, hid_t memtype, void **buf,
                                 size_t *cap, size_t elem, const char *units)
{
    char msg[256], got[160], want[160];
    mlshift_status st = MLSHIFT_OK;
    hid_t d = -1, ftype = -1, space = -1, a = -1, dcpl = -1;
    const char *path = r->path;
    d = H5Dopen2(g, dname, H5P_DEFAULT);
    if (d < 0) {
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                     "%s:%s/%s: cannot open dataset: %s", path, gname, dname,
                     h5_message(msg));
        goto done;
    }
    ftype = H5Dget_type(d);
    space = H5Dget_space(d);
    if (ftype < 0 || space < 0) {
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                     "%s:%s/%s: cannot read type or shape: %s", path, gname,
                     dname, h5_message(msg));
        goto done;
    }
    H5T_class_t cls = H5Tget_class(ftype);
    int want_int = memtype == H5T_NATIVE_INT;
    if (cls != H5T_INTEGER && (want_int || cls != H5T_FLOAT)) {
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s:%s/%s: %s expected",
                     path, gname, dname, want_int ? "integers" : "numbers");
        goto done;
    }
    hsize_t shape[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0 || H5Sget_simple_extent_dims(space, shape, NULL) < 0) {
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s:%s/%s: bad shape: %s",
                     path, gname, dname, h5_message(msg));
        goto done;
    }
    int ok = nd == rank;
    for (int k = 0; k < rank && ok; k++)
        ok = dims[k] == ANY_DIM || dims[k] == shape[k];
    if (!ok) {
        format_shape(got, sizeof got, nd, shape, NULL);
        format_shape(want, sizeof want, rank, dims, lab);
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                     "%s:%s/%s: shape %s but %s expected", path, gname, dname,
                     got, want);
        goto done;
    }
    size_t count = 1;
    for (int k = 0; k < rank; k++) {
        if (shape[k] && count > SIZE_MAX / elem / shape[k]) {
            st = ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s:%s/%s: too large",
                         path, gname, dname);
            goto done;
        }
        count *= (size_t)shape[k];
        dims[k] = shape[k];
    }
    /* Unfiltered data lives in the file as it is: a shape that needs more
     * bytes than the file holds is corrupt (and must not be allocated). */
    size_t fsize = H5Tget_size(ftype);
    dcpl = H5Dget_create_plist(d);
    if (dcpl >= 0 && H5Pget_nfilters(dcpl) == 0 && fsize &&
        (count > SIZE_MAX / fsize || count * fsize > r->file_size)) {
        format_shape(got, sizeof got, nd, shape, NULL);
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                     "%s:%s/%s: shape %s needs more bytes than the file "
                     "holds (%llu)", path, gname, dname, got,
                     (unsigned long long)r->file_size);
        goto done;
    }
    if (units && H5Aexists(d, "units") > 0) {
        a = H5Aopen(d, "units", H5P_DEFAULT);
        char *u = a >= 0 ? read_string(a, 1) : NULL;
        if (u && !units_match(u, units))
            st = ms_fail(r->err, MLSHIFT_ERR_UNSUPPORTED,
                         "%s:%s/%s: units '%s' but '%s' expected", path,
                         gname, dname, u, units);
        free(u);
        if (st != MLSHIFT_OK)
            goto done;
    }
    if (ms_grow(buf, cap, count ? count : 1, elem)) {
        st = ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s:%s/%s: out of memory",
                     path, gname, dname);
        goto done;
    }
    if (count &&
        H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) < 0)
        st = ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s:%s/%s: read failed: %s",
                     path, gname, dname, h5_message(msg));
done:
    close_id(&dcpl, H5Pclose);
    close_id(&a, H5Aclose);
    close_id(&space, H5Sclose);
    close_id(&ftype, H5Tclose);
    close_id(&d, H5Dclose);
    return st;
}

static int has(hid_t g, const char *name)
{
    return H5Lexists(g, name, H5P_DEFAULT) > 0;
}

static layout detect(hid_t g)
{
    if (has(g, "atomic_numbers") && has(g, "conformations"))
        return LAYOUT_SPICE;
    if (has(g, "species") && has(g, "coordinates"))
        return LAYOUT_ANI2X;
    if (has(g, "atomic_numbers") && has(g, "coordinates"))
        return LAYOUT_ANI1X;
    return LAYOUT_NONE;
}

/* Names of the datasets directly in g, in name order, into *list
 * ("a, b, c"); returns how many. */
static size_t list_datasets(hid_t g, char **list, size_t *cap)
{
    H5G_info_t gi;
    size_t n = 0, len = 0;
    if (str_append(list, cap, &len, "", 0) || H5Gget_info(g, &gi) < 0)
        return 0;
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        char name[256];
        ssize_t nl = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                        name, sizeof name, H5P_DEFAULT);
        hid_t o = H5Oopen_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                 H5P_DEFAULT);
        int is_ds = o >= 0 && H5Iget_type(o) == H5I_DATASET;
        close_id(&o, H5Oclose);
        if (nl < 0 || !is_ds)
            continue;
        if ((n && str_append(list, cap, &len, ", ", 2)) ||
            str_append(list, cap, &len, name, strlen(name)))
            break;
        n++;
    }
    return n;
}

/* 1 when every entry of x (n,) is NaN: the ANI-1x mark of an absent label. */
static int all_nan(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            return 0;
    return n > 0;
}

/* ----------------------------------------------------------------- groups */

static mlshift_status read_group(h5_reader *r, hid_t g, const char *gname,
                                 layout lay)
{
    const char *path = r->path;
    mlshift_status st;
    int per_conf_z = lay == LAYOUT_ANI2X;
    const char *pos_name = lay == LAYOUT_SPICE ? "conformations" : "coordinates";
    char e_name[256], f_name[256];
    if (lay == LAYOUT_SPICE) {
        snprintf(e_name, sizeof e_name, "dft_total_energy");
        snprintf(f_name, sizeof f_name, "dft_total_gradient");
    } else if (lay == LAYOUT_ANI2X) {
        snprintf(e_name, sizeof e_name, "energies");
        snprintf(f_name, sizeof f_name, "forces");
    } else {
        snprintf(e_name, sizeof e_name, "%s.energy", r->level);
        snprintf(f_name, sizeof f_name, "%s.forces", r->level);
    }

    /* Atomic numbers fix N (and M for ANI-2x), positions then fix M. */
    hsize_t dz[2] = {ANY_DIM, ANY_DIM};
    if (per_conf_z)
        st = read_array(r, g, gname, "species", 2, dz, "MN", H5T_NATIVE_INT,
                        (void **)&r->z, &r->cap_z, sizeof *r->z, NULL);
    else
        st = read_array(r, g, gname, "atomic_numbers", 1, dz, "N",
                        H5T_NATIVE_INT, (void **)&r->z, &r->cap_z,
                        sizeof *r->z, NULL);
    if (st != MLSHIFT_OK)
        return st;
    hsize_t dp[3] = {per_conf_z ? dz[0] : ANY_DIM, per_conf_z ? dz[1] : dz[0],
                     3};
    st = read_array(r, g, gname, pos_name, 3, dp, "MN3", H5T_NATIVE_DOUBLE,
                    (void **)&r->pos, &r->cap_pos, sizeof *r->pos,
                    lay == LAYOUT_SPICE ? "bohr" : NULL);
    if (st != MLSHIFT_OK)
        return st;
    size_t M = (size_t)dp[0], N = (size_t)dp[1];
    if (N == 0)
        return ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s:%s: no atoms", path,
                       gname);

    int has_e = has(g, e_name), has_f = has(g, f_name);
    if (lay == LAYOUT_ANI1X && !has_e && !has_f) {
        list_datasets(g, &r->info, &r->cap_info);
        return ms_fail(r->err, MLSHIFT_ERR_MISSING,
                       "%s:%s: no %s or %s for level '%s' (datasets: %.700s)",
                       path, gname, e_name, f_name, r->level, r->info);
    }
    if (has_e) {
        hsize_t de[1] = {M};
        st = read_array(r, g, gname, e_name, 1, de, "M", H5T_NATIVE_DOUBLE,
                        (void **)&r->en, &r->cap_en, sizeof *r->en,
                        lay == LAYOUT_SPICE ? "hartree" : NULL);
        if (st != MLSHIFT_OK)
            return st;
        for (size_t k = 0; k < M; k++)
            r->en[k] *= MLSHIFT_EV_PER_HARTREE;
    }
    if (has_f) {
        hsize_t df[3] = {M, N, 3};
        st = read_array(r, g, gname, f_name, 3, df, "MN3", H5T_NATIVE_DOUBLE,
                        (void **)&r->frc, &r->cap_frc, sizeof *r->frc,
                        lay == LAYOUT_SPICE ? "hartree/bohr" : NULL);
        if (st != MLSHIFT_OK)
            return st;
        double *F = r->frc; // (M, N, 3)
        if (lay == LAYOUT_SPICE)
            for (size_t i = 0; i < 3 * M * N; i++)
                F[i] = -(F[i] * MLSHIFT_EV_PER_HARTREE) /
                       MLSHIFT_ANGSTROM_PER_BOHR;
        else
            for (size_t i = 0; i < 3 * M * N; i++)
                F[i] *= MLSHIFT_EV_PER_HARTREE;
    }
    if (lay == LAYOUT_SPICE)
        for (size_t i = 0; i < 3 * M * N; i++)
            r->pos[i] *= MLSHIFT_ANGSTROM_PER_BOHR;

    /* Info: head "name=…", then per frame " conf=k", then tail. */
    size_t hl = 0, tl = 0;
    if (info_append(&r->head, &r->cap_head, &hl, "name", gname) ||
        str_append(&r->tail, &r->cap_tail, &tl, "", 0))
        return ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    if (lay == LAYOUT_SPICE) {
        static const char *const keys[] = {"smiles", "subset"};
        for (int k = 0; k < 2; k++) {
            char *s = read_string_dataset(g, keys[k]);
            int bad = s && info_append(&r->tail, &r->cap_tail, &tl, keys[k], s);
            free(s);
            if (bad)
                return ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s: out of memory",
                               path);
        }
    }
    if (ms_grow((void **)&r->info, &r->cap_info, hl + tl + 40, 1))
        return ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);

    const mlshift_read_options *opt = r->opt;
    for (size_t k = 0; k < M; k++) {
        char where[1024];
        snprintf(where, sizeof where, "%s:%s: conformer %zu", path, gname, k);
        mlshift_frame f = {0};
        f.natoms = N;
        f.numbers = per_conf_z ? r->z + k * N : r->z;
        f.positions = r->pos + 3 * N * k;
        f.energy = NAN;
        /* ANI-1x marks a level that was not computed with NaN. */
        if (has_e && !(lay == LAYOUT_ANI1X && isnan(r->en[k]))) {
            f.energy = r->en[k];
            f.flags |= MLSHIFT_HAS_ENERGY;
        }
        if (has_f && !(lay == LAYOUT_ANI1X &&
                       all_nan(r->frc + 3 * N * k, 3 * N)))
            f.forces = r->frc + 3 * N * k;
        if (opt && opt->require_energy && !(f.flags & MLSHIFT_HAS_ENERGY))
            return ms_fail(r->err, MLSHIFT_ERR_MISSING, "%s: no energy (%s)",
                           where, e_name);
        if (opt && opt->require_forces && !f.forces)
            return ms_fail(r->err, MLSHIFT_ERR_MISSING, "%s: no forces (%s)",
                           where, f_name);
        snprintf(r->info, r->cap_info, "%s conf=%zu%s%s", r->head, k,
                 tl ? " " : "", r->tail);
        f.info = r->info;
        st = mlshift_frames_append(r->fr, &f, where, r->err);
        if (st != MLSHIFT_OK)
            return st;
    }
    r->n_groups++;
    return MLSHIFT_OK;
}

/* One group met by the walk: a molecule group of a known layout, a pure
 * container (no datasets), or an error. */
static mlshift_status visit_group(h5_reader *r, hid_t g, const char *gname)
{
    layout lay = detect(g);
    if (lay != LAYOUT_NONE)
        return read_group(r, g, gname, lay);
    if (list_datasets(g, &r->info, &r->cap_info) == 0)
        return MLSHIFT_OK;
    return ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                   "%s:%s: not a SPICE, ANI-1x or ANI-2x group "
                   "(datasets: %.700s)", r->path, gname, r->info);
}

#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t ms_h5o_info;
#define MS_OVISIT(o, cb, data) \
    H5Ovisit3(o, H5_INDEX_NAME, H5_ITER_INC, cb, data, H5O_INFO_BASIC)
#else
typedef H5O_info_t ms_h5o_info;
#define MS_OVISIT(o, cb, data) \
    H5Ovisit2(o, H5_INDEX_NAME, H5_ITER_INC, cb, data, H5O_INFO_BASIC)
#endif

static herr_t visit_cb(hid_t root, const char *name, const ms_h5o_info *info,
                       void *data)
{
    h5_reader *r = data;
    if (info->type != H5O_TYPE_GROUP)
        return 0;
    const char *gname = strcmp(name, ".") == 0 ? "/" : name;
    hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
    if (g < 0) {
        char msg[256];
        r->st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                        "%s:%s: cannot open group: %s", r->path, gname,
                        h5_message(msg));
        return -1;
    }
    r->st = visit_group(r, g, gname);
    H5Gclose(g);
    return r->st == MLSHIFT_OK ? 0 : -1;
}

/* --------------------------------------------------------------- the file */

static mlshift_status read_file(h5_reader *r)
{
    const char *path = r->path;
    char msg[256];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ms_fail(r->err, MLSHIFT_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    fclose(fp);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s: not an HDF5 file",
                       path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return ms_fail(r->err, MLSHIFT_ERR_NOMEM, "%s: %s", path,
                       h5_message(msg));
#if H5_VERSION_GE(1, 10, 7)
    /* Lock where the file system can, read anyway where it cannot. */
    H5Pset_file_locking(fapl, 1, 1);
#endif
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        h5_message(msg);
        H5Pclose(fapl);
        return ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                       "%s: cannot open as HDF5 (truncated or corrupt?): %s",
                       path, msg);
    }
    r->st = MLSHIFT_OK;
    if (H5Fget_filesize(f, &r->file_size) < 0)
        r->file_size = (hsize_t)-1;
    if (MS_OVISIT(f, visit_cb, r) < 0 && r->st == MLSHIFT_OK)
        r->st = ms_fail(r->err, MLSHIFT_ERR_FORMAT, "%s: cannot walk: %s",
                        path, h5_message(msg));
    if (r->st == MLSHIFT_OK && r->n_groups == 0)
        r->st = ms_fail(r->err, MLSHIFT_ERR_FORMAT,
                        "%s: no SPICE, ANI-1x or ANI-2x group", path);
    H5Fclose(f);
    H5Pclose(fapl);
    return r->st;
}

mlshift_status mlshift_read_hdf5(mlshift_frames *fr, const char *path,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err)
{
    h5_reader r = {0};
    r.fr = fr;
    r.path = path;
    r.opt = opt;
    r.err = err;
    r.level = opt && opt->hdf5_level ? opt->hdf5_level : "wb97x_dz";
    if (!*r.level || strlen(r.level) > 200 || strchr(r.level, '/'))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "%s: bad ANI-1x level '%.200s'", path, r.level);

    H5E_auto2_t old_fn = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    size_t n0 = fr->n;
    mlshift_status st = read_file(&r);
    if (st != MLSHIFT_OK)
        ms_frames_truncate(fr, n0);

    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    free(r.z);
    free(r.pos);
    free(r.frc);
    free(r.en);
    free(r.head);
    free(r.tail);
    free(r.info);
    return st;
}

/* ------------------------------------------------------------ streaming */

/* The walk is done once at open, keeping only the names of the groups in
 * visit order (memory: the names, not the data); each fill then reads the
 * next group with read_group as above. A molecule group is read whole:
 * memory is bounded by the largest group (SPICE and ANI keep one molecule's
 * conformations per group), not by the file. */
struct ms_h5_stream {
    h5_reader r;
    char *path;
    mlshift_read_options opt;
    char level[256];
    hid_t f, fapl;
    char *names;            /* NUL-separated group names, visit order */
    size_t names_len, names_cap;
    size_t next;            /* offset of the next name */
};

static herr_t name_cb(hid_t root, const char *name, const ms_h5o_info *info,
                      void *data)
{
    (void)root;
    ms_h5_stream *s = data;
    if (info->type != H5O_TYPE_GROUP)
        return 0;
    size_t l = strlen(name) + 1;
    if (ms_grow((void **)&s->names, &s->names_cap, s->names_len + l, 1)) {
        s->r.st = ms_fail(s->r.err, MLSHIFT_ERR_NOMEM, "%s: out of memory",
                          s->path);
        return -1;
    }
    memcpy(s->names + s->names_len, name, l);
    s->names_len += l;
    return 0;
}

/* Quiet HDF5 for the length of one call, as mlshift_read_hdf5 does. */
typedef struct h5_quiet {
    H5E_auto2_t fn;
    void *data;
} h5_quiet;
static void quiet_on(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

mlshift_status ms_h5_stream_open(ms_h5_stream **out, const char *path,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err)
{
    *out = NULL;
    ms_h5_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = malloc(strlen(path) + 1))) {
        free(s);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(s->path, path);
    s->f = s->fapl = -1;
    if (opt)
        s->opt = *opt;
    const char *level = opt && opt->hdf5_level ? opt->hdf5_level : "wb97x_dz";
    if (!*level || strlen(level) > 200 || strchr(level, '/')) {
        ms_h5_stream_close(s);
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "%s: bad ANI-1x level '%.200s'", path, level);
    }
    snprintf(s->level, sizeof s->level, "%s", level);
    s->r.path = s->path;
    s->r.opt = opt ? &s->opt : NULL;
    s->r.level = s->level;
    s->r.err = err;

    h5_quiet q;
    quiet_on(&q);
    char msg[256];
    mlshift_status st = MLSHIFT_OK;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        st = ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot open: %s", path,
                     strerror(errno));
    else
        fclose(fp);
    if (st == MLSHIFT_OK && H5Fis_hdf5(path) <= 0)
        st = ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: not an HDF5 file", path);
    if (st == MLSHIFT_OK && (s->fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0)
        st = ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: %s", path, h5_message(msg));
    if (st == MLSHIFT_OK) {
#if H5_VERSION_GE(1, 10, 7)
        H5Pset_file_locking(s->fapl, 1, 1);
#endif
        if ((s->f = H5Fopen(path, H5F_ACC_RDONLY, s->fapl)) < 0) {
            h5_message(msg);
            st = ms_fail(err, MLSHIFT_ERR_FORMAT,
                         "%s: cannot open as HDF5 (truncated or corrupt?): %s",
                         path, msg);
        }
    }
    if (st == MLSHIFT_OK) {
        if (H5Fget_filesize(s->f, &s->r.file_size) < 0)
            s->r.file_size = (hsize_t)-1;
        s->r.st = MLSHIFT_OK;
        if (MS_OVISIT(s->f, name_cb, s) < 0)
            st = s->r.st != MLSHIFT_OK
                     ? s->r.st
                     : ms_fail(err, MLSHIFT_ERR_FORMAT, "%s: cannot walk: %s",
                               path, h5_message(msg));
    }
    quiet_off(&q);
    if (st != MLSHIFT_OK) {
        ms_h5_stream_close(s);
        return st;
    }
    *out = s;
    return MLSHIFT_OK;
}

mlshift_status ms_h5_stream_fill(ms_h5_stream *s, mlshift_frames *fr,
                                 size_t max_frames, int *end,
                                 mlshift_error *err)
{
    (void)max_frames; /* one group at a time */
    h5_quiet q;
    quiet_on(&q);
    s->r.fr = fr;
    s->r.err = err;
    s->r.st = MLSHIFT_OK;
    size_t n0 = mlshift_frames_count(fr);
    char msg[256];
    while (s->r.st == MLSHIFT_OK && s->next < s->names_len &&
           mlshift_frames_count(fr) == n0) {
        const char *name = s->names + s->next;
        s->next += strlen(name) + 1;
        const char *gname = strcmp(name, ".") == 0 ? "/" : name;
        hid_t g = H5Gopen2(s->f, name, H5P_DEFAULT);
        if (g < 0) {
            s->r.st = ms_fail(err, MLSHIFT_ERR_FORMAT,
                              "%s:%s: cannot open group: %s", s->path, gname,
                              h5_message(msg));
            break;
        }
        s->r.st = visit_group(&s->r, g, gname);
        H5Gclose(g);
    }
    *end = s->next >= s->names_len;
    if (s->r.st == MLSHIFT_OK && *end && s->r.n_groups == 0)
        s->r.st = ms_fail(err, MLSHIFT_ERR_FORMAT,
                          "%s: no SPICE, ANI-1x or ANI-2x group", s->path);
    quiet_off(&q);
    return s->r.st;
}

void ms_h5_stream_close(ms_h5_stream *s)
{
    if (!s)
        return;
    if (s->f >= 0)
        H5Fclose(s->f);
    if (s->fapl >= 0)
        H5Pclose(s->fapl);
    free(s->r.z);
    free(s->r.pos);
    free(s->r.frc);
    free(s->r.en);
    free(s->r.head);
    free(s->r.tail);
    free(s->r.info);
    free(s->names);
    free(s->path);
    free(s);
}

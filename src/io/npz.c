/* SPDX-License-Identifier: MIT */
/* Frames from numpy npz files: the MD17/MD22 sGDML dataset layout and the
 * rMD17 layout. M = frames, N = atoms.
 *
 *   layout   numbers             positions (Å)   energy (kcal/mol)     forces (kcal/mol/Å)
 *   sGDML    z (N,)              R (M, N, 3)     E (M,) or (M, 1)      F (M, N, 3)
 *   rMD17    nuclear_charges (N,) coords (M,N,3) energies (M,)         forces (M, N, 3)
 *            + old_indices (M,), old_energies (M,), old_forces (M, N, 3): the
 *              original MD17 labels of the same frames (opt->labels_old)
 *
 * Energies and forces are divided by MLSHIFT_KCALMOL_PER_EV (a division,
 * not a multiplication by its inverse, so eV values are bit-identical to
 * numpy's `a / 23.0605`). Positions are Å already. Each frame's info is
 * "index=K" (its row in the file) and, for rMD17, "old_index=I" (its frame
 * in the original MD17 trajectory, for deduplication across splits).
 * Arrays of any numeric dtype, byte order and memory order are accepted. */
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/util.h"
#include "frames.h"
#include "npy.h"
#include "stream.h"

typedef struct npz_layout {
    const char *name;
    const char *numbers, *positions, *energy, *forces;
    const char *old_energy, *old_forces, *old_index; /* NULL: none */
} npz_layout;

static const npz_layout LAYOUT_SGDML = {"MD17/MD22 sGDML", "z", "R", "E", "F",
                                        NULL, NULL, NULL};
static const npz_layout LAYOUT_RMD17 = {"rMD17", "nuclear_charges", "coords",
                                        "energies", "forces", "old_energies",
                                        "old_forces", "old_indices"};

/* The arrays one read uses; closed together. */
typedef struct npz_arrays {
    ms_npy z, r, e, f, idx;
    int has_e, has_f, has_idx;
} npz_arrays;

static void arrays_free(npz_arrays *A)
{
    ms_npy_free(&A->z);
    ms_npy_free(&A->r);
    ms_npy_free(&A->e);
    ms_npy_free(&A->f);
    ms_npy_free(&A->idx);
}

/* "a, b, c" of the npz's keys, for an error message. */
static void list_keys(const ms_npz *npz, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ms_npz_count(npz) && o < cap; i++) {
        const char *k = ms_npz_key(npz, i);
        if (k)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", k);
    }
}

/* Loads the arrays of `L` and checks their shapes against each other. */
static mlshift_status load_arrays(ms_npz *npz, const npz_layout *L,
                                  const mlshift_read_options *opt,
                                  npz_arrays *A, mlshift_error *err)
{
    const char *nm = npz->name;
    const char *want = L == &LAYOUT_RMD17 ? "nuclear_charges, coords"
                                          : "z, R";
    if (!ms_npz_has(npz, L->numbers) || !ms_npz_has(npz, L->positions))
        return ms_fail(err, MLSHIFT_ERR_MISSING,
                       "%s:%s: missing (the %s layout needs %s)", nm,
                       ms_npz_has(npz, L->numbers) ? L->positions : L->numbers,
                       L->name, want);
    const char *ekey = L->energy, *fkey = L->forces;
    if (opt && opt->labels_old) {
        if (!L->old_energy)
            return ms_fail(err, MLSHIFT_ERR_MISSING,
                           "%s:old_energies: missing: the original-label "
                           "option (labels_old) needs an rMD17 file; an %s "
                           "dataset has only %s/%s", nm, L->name, L->energy,
                           L->forces);
        ekey = L->old_energy;
        fkey = L->old_forces;
        const char *miss = !ms_npz_has(npz, ekey) ? ekey
                           : !ms_npz_has(npz, fkey) ? fkey : NULL;
        if (miss)
            return ms_fail(err, MLSHIFT_ERR_MISSING,
                           "%s:%s: missing (labels_old asks for the original "
                           "MD17 labels)", nm, miss);
    }
    A->has_e = ms_npz_has(npz, ekey);
    A->has_f = ms_npz_has(npz, fkey);
    A->has_idx = L->old_index && ms_npz_has(npz, L->old_index);
    if (opt && opt->require_energy && !A->has_e)
        return ms_fail(err, MLSHIFT_ERR_MISSING,
                       "%s:%s: missing, and energies are required", nm, ekey);
    if (opt && opt->require_forces && !A->has_f)
        return ms_fail(err, MLSHIFT_ERR_MISSING,
                       "%s:%s: missing, and forces are required", nm, fkey);

    mlshift_status st;
    if ((st = ms_npz_get(npz, L->numbers, &A->z, err)) != MLSHIFT_OK ||
        (st = ms_npz_get(npz, L->positions, &A->r, err)) != MLSHIFT_OK ||
        (A->has_e && (st = ms_npz_get(npz, ekey, &A->e, err)) != MLSHIFT_OK) ||
        (A->has_f && (st = ms_npz_get(npz, fkey, &A->f, err)) != MLSHIFT_OK) ||
        (A->has_idx &&
         (st = ms_npz_get(npz, L->old_index, &A->idx, err)) != MLSHIFT_OK))
        return st;

    char zs[256], rs[256], xs[256];
    ms_npy_shape_str(&A->z, zs, sizeof zs);
    ms_npy_shape_str(&A->r, rs, sizeof rs);
    if (A->z.ndim != 1)
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: shape %s, want (N,) atomic numbers", A->z.where, zs);
    size_t N = A->z.shape[0];
    if (N == 0)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "%s: no atoms", A->z.where);
    long rdims[3] = {-1, (long)N, 3};
    if (!ms_npy_shape_is(&A->r, 3, rdims))
        return ms_fail(err, MLSHIFT_ERR_FORMAT,
                       "%s: shape %s does not match %s %s: want (M, %zu, 3)",
                       A->r.where, rs, L->numbers, zs, N);
    long M = (long)A->r.shape[0];
    if (A->has_e) {
        long d1[1] = {M}, d2[2] = {M, 1};
        if (!ms_npy_shape_is(&A->e, 1, d1) && !ms_npy_shape_is(&A->e, 2, d2)) {
            ms_npy_shape_str(&A->e, xs, sizeof xs);
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: shape %s does not match %s %s: want (%ld,) or "
                           "(%ld, 1)", A->e.where, xs, L->positions, rs, M, M);
        }
    }
    if (A->has_f) {
        long d[3] = {M, (long)N, 3};
        if (!ms_npy_shape_is(&A->f, 3, d)) {
            ms_npy_shape_str(&A->f, xs, sizeof xs);
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: shape %s does not match %s %s", A->f.where, xs,
                           L->positions, rs);
        }
    }
    if (A->has_idx) {
        long d[1] = {M};
        if (!ms_npy_shape_is(&A->idx, 1, d)) {
            ms_npy_shape_str(&A->idx, xs, sizeof xs);
            return ms_fail(err, MLSHIFT_ERR_FORMAT,
                           "%s: shape %s does not match %s %s: want (%ld,)",
                           A->idx.where, xs, L->positions, rs, M);
        }
    }
    return MLSHIFT_OK;
}

/* First non-finite entry of x (n,), or n. */
static size_t first_nonfinite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* Appends frames [k0, k1) of the arrays: z (N,) holds the checked atomic
 * numbers, oidx (k1 - k0,) the old indices of those rows (if has_idx), pos
 * and frc (N, 3) scratch. */
static mlshift_status append_rows(mlshift_frames *fr, const npz_layout *L,
                                  const npz_arrays *A, const char *nm,
                                  const int *z, const int64_t *oidx,
                                  double *pos, double *frc, size_t k0,
                                  size_t k1, mlshift_error *err)
{
    size_t N = A->z.shape[0];
    mlshift_status st = MLSHIFT_OK;
    char where[1200], info[96];
    for (size_t k = k0; st == MLSHIFT_OK && k < k1; k++) {
        mlshift_frame f = {0};
        f.natoms = N;
        f.numbers = z;
        f.positions = pos;
        st = ms_npy_to_double_rows(&A->r, k, 1, pos, err);
        if (st != MLSHIFT_OK)
            break;
        size_t bad = first_nonfinite(pos, 3 * N);
        if (bad < 3 * N) {
            st = ms_fail(err, MLSHIFT_ERR_VALUE,
                         "%s: frame %zu, atom %zu: position is not finite (%g)",
                         A->r.where, k, bad / 3, pos[bad]);
            break;
        }
        if (A->has_e) {
            double e;
            st = ms_npy_to_double_rows(&A->e, k, 1, &e, err);
            if (st != MLSHIFT_OK)
                break;
            if (!isfinite(e)) {
                st = ms_fail(err, MLSHIFT_ERR_VALUE,
                             "%s: frame %zu: energy is not finite (%g)",
                             A->e.where, k, e);
                break;
            }
            f.energy = e / MLSHIFT_KCALMOL_PER_EV;
            f.flags |= MLSHIFT_HAS_ENERGY;
        } else {
            f.energy = NAN;
        }
        if (A->has_f) {
            st = ms_npy_to_double_rows(&A->f, k, 1, frc, err);
            if (st != MLSHIFT_OK)
                break;
            bad = first_nonfinite(frc, 3 * N);
            if (bad < 3 * N) {
                st = ms_fail(err, MLSHIFT_ERR_VALUE,
                             "%s: frame %zu, atom %zu: force is not finite (%g)",
                             A->f.where, k, bad / 3, frc[bad]);
                break;
            }
            for (size_t i = 0; i < 3 * N; i++)
                frc[i] = frc[i] / MLSHIFT_KCALMOL_PER_EV;
            f.forces = frc;
        }
        if (A->has_idx)
            snprintf(info, sizeof info, "index=%zu old_index=%lld", k,
                     (long long)oidx[k - k0]);
        else
            snprintf(info, sizeof info, "index=%zu", k);
        f.info = info;
        snprintf(where, sizeof where, "%s: frame %zu (%s layout)", nm, k, L->name);
        st = mlshift_frames_append(fr, &f, where, err);
    }
    return st;
}

/* The atomic numbers as int, each checked to be an element. */
static mlshift_status numbers(const npz_arrays *A, int64_t *z64, int *z,
                              mlshift_error *err)
{
    size_t N = A->z.shape[0];
    mlshift_status st = ms_npy_to_int64(&A->z, z64, err);
    for (size_t i = 0; st == MLSHIFT_OK && i < N; i++) {
        if (z64[i] < 1 || z64[i] > 118)
            st = ms_fail(err, MLSHIFT_ERR_VALUE,
                         "%s: atom %zu: atomic number %lld is not an element",
                         A->z.where, i, (long long)z64[i]);
        z[i] = (int)z64[i];
    }
    return st;
}

static mlshift_status append_frames(mlshift_frames *fr, const npz_layout *L,
                                    npz_arrays *A, const char *nm,
                                    mlshift_error *err)
{
    size_t N = A->z.shape[0], M = A->r.shape[0];
    /* One scratch block: numbers as int64 then int, positions, forces. */
    size_t need = N * sizeof(int64_t) + N * sizeof(int) + 6 * N * sizeof(double) +
                  (A->has_idx ? M * sizeof(int64_t) : 0);
    unsigned char *scratch = malloc(need);
    if (!scratch)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", nm);
    double *pos = (double *)scratch;                /* (N, 3) Å */
    double *frc = pos + 3 * N;                      /* (N, 3) eV/Å */
    int64_t *z64 = (int64_t *)(frc + 3 * N);        /* (N,) */
    int64_t *oidx = z64 + N;                        /* (M,) if has_idx */
    int *z = (int *)(oidx + (A->has_idx ? M : 0));  /* (N,) */

    mlshift_status st = numbers(A, z64, z, err);
    if (st == MLSHIFT_OK && A->has_idx)
        st = ms_npy_to_int64(&A->idx, oidx, err);
    if (st == MLSHIFT_OK)
        st = append_rows(fr, L, A, nm, z, oidx, pos, frc, 0, M, err);
    free(scratch);
    return st;
}

/* The layout an opened npz holds, or NULL with the error set. */
static const npz_layout *detect_layout(const ms_npz *npz, mlshift_error *err)
{
    if (ms_npz_has(npz, "nuclear_charges") || ms_npz_has(npz, "coords"))
        return &LAYOUT_RMD17;
    if (ms_npz_has(npz, "z") || ms_npz_has(npz, "R"))
        return &LAYOUT_SGDML;
    char keys[512];
    list_keys(npz, keys, sizeof keys);
    ms_fail(err, MLSHIFT_ERR_MISSING,
            "%s: not a frames npz: expected z, R (and E, F) of the "
            "MD17/MD22 sGDML layout or nuclear_charges, coords (and "
            "energies, forces, old_indices, old_energies, old_forces) "
            "of the rMD17 layout; keys present: %s", npz->name, keys);
    return NULL;
}

mlshift_status mlshift_parse_npz(mlshift_frames *fr, const unsigned char *data,
                                 size_t len, const char *name,
                                 const mlshift_read_options *opt,
                                 mlshift_error *err)
{
    if (!name)
        name = "npz";
    ms_npz npz;
    mlshift_status st = ms_npz_open_memory(&npz, data, len, name, err);
    if (st != MLSHIFT_OK)
        return st;
    const npz_layout *L = detect_layout(&npz, err);
    if (!L) {
        ms_npz_close(&npz);
        return MLSHIFT_ERR_MISSING;
    }
    npz_arrays A;
    memset(&A, 0, sizeof A);
    size_t n0 = mlshift_frames_count(fr);
    st = load_arrays(&npz, L, opt, &A, err);
    if (st == MLSHIFT_OK)
        st = append_frames(fr, L, &A, npz.name, err);
    if (st != MLSHIFT_OK)
        ms_frames_truncate(fr, n0);
    arrays_free(&A);
    ms_npz_close(&npz);
    return st;
}

mlshift_status mlshift_read_npz(mlshift_frames *fr, const char *path,
                                const mlshift_read_options *opt,
                                mlshift_error *err)
{
    char *buf;
    size_t len;
    mlshift_status st = ms_read_file(path, &buf, &len, err);
    if (st != MLSHIFT_OK)
        return st;
    st = mlshift_parse_npz(fr, (const unsigned char *)buf, len, path, opt, err);
    free(buf);
    return st;
}

/* ------------------------------------------------------------ streaming */

/* The file is mapped, not read: the zip directory and each array's .npy
 * header are parsed as above, a stored member's CRC-32 is checked block by
 * block with its pages released after, and frames are converted a chunk of
 * rows at a time, the pages of rows already read handed back to the kernel
 * after each chunk (madvise). Resident memory stays at a chunk however
 * large the file. A DEFLATE-compressed member (np.savez_compressed) is
 * still inflated whole: it costs its uncompressed size. */
struct ms_npz_stream {
    unsigned char *map;         /* (len,) the file, read-only */
    size_t len;
    ms_npz npz;
    const npz_layout *L;
    npz_arrays A;
    int open;                   /* A holds arrays */
    size_t N, M, k;             /* atoms, frames, next frame */
    int *z;                     /* (N,) */
    int64_t *z64, *oidx;        /* (N,), (chunk,) */
    double *pos, *frc;          /* (N, 3) each */
    size_t cap_oidx;
    uintptr_t dropped[4];       /* end of the pages released so far, per
                                   array r, e, f, idx (drop_rows) */
};

static const unsigned char empty_file[1];

mlshift_status ms_npz_stream_open(ms_npz_stream **out, const char *path,
                                  const mlshift_read_options *opt,
                                  mlshift_error *err)
{
    *out = NULL;
    ms_npz_stream *s = calloc(1, sizeof *s);
    if (!s)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        free(s);
        return ms_fail(err, MLSHIFT_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    }
    struct stat sb;
    mlshift_status st = MLSHIFT_OK;
    if (fstat(fd, &sb) != 0)
        st = ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        st = ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path,
                     strerror(EISDIR));
    else if (!S_ISREG(sb.st_mode)) {
        close(fd); /* a pipe or device cannot be mapped: *out NULL says
                      read it whole */
        free(s);
        return MLSHIFT_OK;
    }
    if (st == MLSHIFT_OK && sb.st_size > 0) {
        s->len = (size_t)sb.st_size;
        void *m = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            st = ms_fail(err, MLSHIFT_ERR_IO, "%s: read error: %s", path,
                         strerror(errno));
        else
            s->map = m;
    }
    close(fd);
    if (st != MLSHIFT_OK) {
        free(s);
        return st;
    }
    const unsigned char *data = s->map ? s->map : empty_file;
    if ((st = ms_npz_open_memory(&s->npz, data, s->len, path, err))) {
        ms_npz_stream_close(s);
        return st;
    }
    s->npz.zip.drop_pages = s->map != NULL;
    s->open = 1;
    if (!(s->L = detect_layout(&s->npz, err))) {
        ms_npz_stream_close(s);
        return MLSHIFT_ERR_MISSING;
    }
    if ((st = load_arrays(&s->npz, s->L, opt, &s->A, err))) {
        ms_npz_stream_close(s);
        return st;
    }
    s->N = s->A.z.shape[0];
    s->M = s->A.r.shape[0];
    size_t N = s->N;
    s->z = malloc(N * sizeof *s->z);
    s->z64 = malloc(N * sizeof *s->z64);
    s->pos = malloc(3 * N * sizeof *s->pos);
    s->frc = malloc(3 * N * sizeof *s->frc);
    if (!s->z || !s->z64 || !s->pos || !s->frc) {
        ms_npz_stream_close(s);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", path);
    }
    if ((st = numbers(&s->A, s->z64, s->z, err))) {
        ms_npz_stream_close(s);
        return st;
    }
    *out = s;
    return MLSHIFT_OK;
}

/* Releases the pages of a mapped array up to its first `rows` rows (all of
 * them when not in C order: a row is then spread over the array), from
 * *dropped (the end of what earlier calls released) on, once there is at
 * least DROP_SPAN to release (the rest goes with the mapping): each
 * madvise flushes the TLB, and one per chunk of 256 frames, each from the
 * array's start, made streaming 1.5x slower than reading whole on the
 * rMD17 files (measured: 40% of the time in madvise). Resident memory
 * stays within a chunk plus DROP_SPAN per array. */
enum { DROP_SPAN = 1 << 20 };
static void drop_rows(const ms_npy *a, size_t rows, uintptr_t *dropped)
{
    if (a->owned || !a->data || !a->count)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t bytes = a->fortran && a->ndim > 1
                       ? a->count * (size_t)a->itemsize
                       : rows * ms_npy_row_size(a) * (size_t)a->itemsize;
    uintptr_t lo = ((uintptr_t)a->data + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)a->data + bytes) & ~(page - 1);
    lo = *dropped > lo ? *dropped : lo;
    if (hi > lo && hi - lo >= DROP_SPAN) {
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
        *dropped = hi;
    }
}

mlshift_status ms_npz_stream_fill(ms_npz_stream *s, mlshift_frames *fr,
                                  size_t max_frames, int *end,
                                  mlshift_error *err)
{
    size_t k1 = s->M - s->k < max_frames ? s->M : s->k + max_frames;
    mlshift_status st = MLSHIFT_OK;
    if (s->A.has_idx && k1 > s->k) {
        /* The chunk's old indices through a view of those rows; a bad one
         * is reported as the whole-array conversion reports it. */
        size_t n = k1 - s->k;
        if (ms_grow((void **)&s->oidx, &s->cap_oidx, n, sizeof *s->oidx))
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory", s->npz.name);
        ms_npy v = s->A.idx;
        v.owned = NULL;
        v.shape[0] = n;
        v.count = n;
        v.data += s->k * (size_t)v.itemsize;
        if (ms_npy_to_int64(&v, s->oidx, err)) {
            int64_t *all = malloc(s->M * sizeof *all);
            st = all ? ms_npy_to_int64(&s->A.idx, all, err)
                     : ms_fail(err, MLSHIFT_ERR_NOMEM, "%s: out of memory",
                               s->npz.name);
            free(all);
            return st ? st : MLSHIFT_ERR_VALUE;
        }
    }
    st = append_rows(fr, s->L, &s->A, s->npz.name, s->z, s->oidx, s->pos,
                     s->frc, s->k, k1, err);
    if (st != MLSHIFT_OK)
        return st;
    s->k = k1;
    drop_rows(&s->A.r, s->k, &s->dropped[0]);
    drop_rows(&s->A.e, s->k, &s->dropped[1]);
    drop_rows(&s->A.f, s->k, &s->dropped[2]);
    drop_rows(&s->A.idx, s->k, &s->dropped[3]);
    *end = s->k >= s->M;
    return MLSHIFT_OK;
}

void ms_npz_stream_close(ms_npz_stream *s)
{
    if (!s)
        return;
    arrays_free(&s->A);
    if (s->open)
        ms_npz_close(&s->npz);
    if (s->map)
        munmap(s->map, s->len);
    free(s->z);
    free(s->z64);
    free(s->oidx);
    free(s->pos);
    free(s->frc);
    free(s);
}

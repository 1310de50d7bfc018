/* SPDX-License-Identifier: MIT */
/* Radius graph from a cell list, O(N) for a fixed density and cutoff.
 *
 * An edge i → j with integer image shift S (of atom j) is
 *     vec = r_j + S·cell − r_i,   0 < |vec| <= cutoff,
 * with r the positions as given (not wrapped). The cell list bins the
 * wrapped positions r'_i = r_i − w_i·cell (w_i integer, zero along open
 * axes); walking the stencil of atom i meets atom j in image S' of the
 * wrapped frame, and r'_j + S'·cell − r'_i = r_j + (S' + w_i − w_j)·cell −
 * r_i, so S = S' + w_i − w_j. The walk tests |r'_j + S'·cell − r'_i| against
 * the cell list's reach (cutoff plus rounding slack; two at a time with SSE2,
 * branch-free), then computes vec from the original positions,
 *     vec = (r_j + (S'·cell + w_i·cell − w_j·cell)) − r_i,
 * the lattice translation S·cell summed from per-image and per-atom parts
 * (equal to S·cell up to rounding), and keeps the edge only if
 * 0 < |vec|² <= cutoff², so dist and the cutoff test agree exactly.
 *
 * Order: src ascending; within a src, the stencil order (c outermost, a
 * innermost, each from the most negative unrolled bin up) and within a cell
 * ascending j. Deterministic for a given input.
 *
 * Half lists keep (i, j, S) with i < j, and for i == j the S whose first
 * nonzero component is positive. The full list holds each half edge twice:
 * (i, j, S) and (j, i, −S).
 *
 * Memory: the edge arrays are one block (capacity edges) that only grows,
 * geometrically. first[] and the cell-list workspace share a second block
 * that only grows; a size_t header in front of first[] holds its size in
 * bytes. So repeated builds of similar systems allocate nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../core/util.h"
#include "cell_list.h"

/* Bytes per edge: vec (3 doubles), dist, shift (3 int32), src, dst. */
#define MS_EDGE_BYTES (4 * sizeof(double) + 5 * sizeof(int32_t))

/* first[] (N + 1) plus `work_bytes` of workspace, in the block behind the
 * size header. *work (if asked) points past first[], 8-byte aligned. */
static mlshift_status reserve_first(mlshift_neighbours *nl, size_t n,
                                    size_t work_bytes, void **work,
                                    mlshift_error *err)
{
    size_t need = sizeof(size_t) * (n + 2) + work_bytes;
    size_t *hdr = nl->first ? nl->first - 1 : NULL;
    if (!hdr || hdr[0] < need) {
        size_t want = need;
        if (hdr && want < hdr[0] + hdr[0] / 2)
            want = hdr[0] + hdr[0] / 2;
        size_t *nh = malloc(want);
        if (!nh) {
            if (hdr)
                hdr[1] = 0;
            return ms_fail(err, MLSHIFT_ERR_NOMEM,
                           "neighbours: out of memory for %zu atoms "
                           "(%zu bytes of workspace)", n, want);
        }
        free(hdr);
        hdr = nh;
        hdr[0] = want;
        nl->first = hdr + 1;
    }
    if (work)
        *work = (void *)(hdr + n + 2);
    return MLSHIFT_OK;
}

/* Room for `need` edges, keeping the first `keep`. */
static mlshift_status reserve_edges(mlshift_neighbours *nl, size_t need,
                                    size_t keep, mlshift_error *err)
{
    if (need <= nl->capacity && nl->vec)
        return MLSHIFT_OK;
    size_t cap = nl->capacity * 2;
    if (cap < need)
        cap = need;
    if (cap < 64)
        cap = 64;
    if (cap > (size_t)1 << 40)
        return ms_fail(err, MLSHIFT_ERR_NOMEM,
                       "neighbours: %zu edges do not fit in memory", need);
    char *blk = malloc(cap * MS_EDGE_BYTES);
    if (!blk)
        return ms_fail(err, MLSHIFT_ERR_NOMEM,
                       "neighbours: out of memory for %zu edges (%.3g GB)",
                       cap, (double)cap * MS_EDGE_BYTES / 1e9);
    double *vec = (double *)(void *)blk;          /* (cap, 3) */
    double *dist = vec + 3 * cap;                 /* (cap,) */
    int32_t *shift = (int32_t *)(void *)(dist + cap); /* (cap, 3) */
    int32_t *src = shift + 3 * cap;               /* (cap,) */
    int32_t *dst = src + cap;                     /* (cap,) */
    if (keep) {
        memcpy(vec, nl->vec, keep * 3 * sizeof(double));
        memcpy(dist, nl->dist, keep * sizeof(double));
        memcpy(shift, nl->shift, keep * 3 * sizeof(int32_t));
        memcpy(src, nl->src, keep * sizeof(int32_t));
        memcpy(dst, nl->dst, keep * sizeof(int32_t));
    }
    free(nl->vec);
    nl->vec = vec;
    nl->dist = dist;
    nl->shift = shift;
    nl->src = src;
    nl->dst = dst;
    nl->capacity = cap;
    return MLSHIFT_OK;
}

/* What the walk of one atom reads. */
typedef struct ms_nl_walk {
    const ms_cell_list *cl;
    const double *positions; /* (N, 3) Å, as given */
    int half;
    double rc2, reach2;      /* Å² */
} ms_nl_walk;

#if defined(__GNUC__)
#define MS_INLINE static inline __attribute__((always_inline))
#else
#define MS_INLINE static inline
#endif

/* Slots p0 + q (q < len) whose wrapped position plus (ox, oy, oz) lies
 * within reach (|·|² <= reach2) — and, when `half`, whose atom idx[q] >= i —
 * in order, into cand; returns how many. Branch-free; two slots at a time
 * with SSE2 where there is SSE2. d2 (len) is scratch for the portable
 * version. */
MS_INLINE size_t within_reach(const double *sx, const double *sy,
                              const double *sz, const int32_t *idx,
                              size_t len, double ox, double oy, double oz,
                              double reach2, const int half, int32_t i,
                              double *d2, int32_t *cand, int32_t p0)
{
    size_t nc = 0, q = 0;
#if defined(__SSE2__)
    (void)d2;
    const __m128d vx = _mm_set1_pd(ox), vy = _mm_set1_pd(oy);
    const __m128d vz = _mm_set1_pd(oz), vr = _mm_set1_pd(reach2);
    const __m128i vi = _mm_set1_epi32(i - 1);
    for (; q + 2 <= len; q += 2) {
        const __m128d dx = _mm_add_pd(_mm_loadu_pd(sx + q), vx);
        const __m128d dy = _mm_add_pd(_mm_loadu_pd(sy + q), vy);
        const __m128d dz = _mm_add_pd(_mm_loadu_pd(sz + q), vz);
        const __m128d r2 = _mm_add_pd(_mm_add_pd(_mm_mul_pd(dx, dx),
                                                 _mm_mul_pd(dy, dy)),
                                      _mm_mul_pd(dz, dz));
        int mask = _mm_movemask_pd(_mm_cmple_pd(r2, vr));
        if (half) { /* idx[q], idx[q+1] > i − 1 */
            const __m128i j2 = _mm_loadl_epi64((const __m128i *)(const void *)(idx + q));
            mask &= _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(j2, vi)));
        }
        cand[nc] = p0 + (int32_t)q;
        nc += (size_t)(mask & 1);
        cand[nc] = p0 + (int32_t)q + 1;
        nc += (size_t)((mask >> 1) & 1);
    }
    for (; q < len; q++) {
        const double dx = sx[q] + ox, dy = sy[q] + oy, dz = sz[q] + oz;
        cand[nc] = p0 + (int32_t)q;
        nc += (dx * dx + dy * dy + dz * dz <= reach2) & (!half || idx[q] >= i);
    }
#else
    for (; q < len; q++) {
        const double dx = sx[q] + ox, dy = sy[q] + oy, dz = sz[q] + oz;
        d2[q] = dx * dx + dy * dy + dz * dz;
    }
    for (q = 0; q < len; q++) {
        cand[nc] = p0 + (int32_t)q;
        nc += (d2[q] <= reach2) & (!half || idx[q] >= i);
    }
#endif
    return nc;
}

/* Appends the edges of atom i (src = i) to nl. `half` is a constant at
 * each call site, so the full and half walks compile separately. */
MS_INLINE mlshift_status walk_atom(mlshift_neighbours *nl,
                                   const ms_nl_walk *w, size_t i,
                                   const int half, mlshift_error *err)
{
    const ms_cell_list *cl = w->cl;
    const double (*cv)[3] = (const double (*)[3])cl->cell;
    const size_t nb0 = (size_t)cl->nb[0], nb1 = (size_t)cl->nb[1];
    const size_t *start = cl->start;
    const int32_t *sidx = cl->sidx;
    const double *sx = cl->sx, *sy = cl->sy, *sz = cl->sz; /* (N,) each */
    const double *sorig = cl->sorig;  /* (N, 3) */
    const int32_t *swrap = cl->swrap; /* (N, 3) */
    const double *swcell = cl->swcell; /* (N, 3) Å */
    double *d2 = cl->d2;              /* (N,) */
    int32_t *cand = cl->cand;         /* (N,) */
    const double reach2 = w->reach2, rc2 = w->rc2;
    const int32_t ii = (int32_t)i;
    const double *xi = cl->wpos + 3 * i;
    const double rix = w->positions[3 * i], riy = w->positions[3 * i + 1];
    const double riz = w->positions[3 * i + 2];
    const double *wci = cl->wcell + 3 * i;
    const int32_t *wi = cl->wrap + 3 * i, *bi = cl->bin + 3 * i;
    const size_t r0 = (size_t)bi[0] * cl->ntab[0];
    const size_t r1 = (size_t)bi[1] * cl->ntab[1];
    const size_t r2 = (size_t)bi[2] * cl->ntab[2];
    const int32_t *tb0 = cl->tab_bin[0] + r0, *ti0 = cl->tab_img[0] + r0;
    const int32_t *tr0 = cl->tab_run[0] + r0;
    const int32_t *tb1 = cl->tab_bin[1] + r1, *ti1 = cl->tab_img[1] + r1;
    const int32_t *tb2 = cl->tab_bin[2] + r2, *ti2 = cl->tab_img[2] + r2;
    const int len0 = cl->tab_len[0][bi[0]];
    const int len1 = cl->tab_len[1][bi[1]];
    const int len2 = cl->tab_len[2][bi[2]];
    size_t ne = nl->n_edges;
    for (int t2 = 0; t2 < len2; t2++) {
        const int32_t s2 = ti2[t2];
        double o2[3]; /* S'_2·c */
        for (int d = 0; d < 3; d++)
            o2[d] = s2 * cv[2][d];
        for (int t1 = 0; t1 < len1; t1++) {
            const int32_t s1 = ti1[t1];
            double o1[3];
            for (int d = 0; d < 3; d++)
                o1[d] = o2[d] + s1 * cv[1][d];
            const size_t row = ((size_t)tb2[t2] * nb1 + tb1[t1]) * nb0;
            int run;
            for (int t0 = 0; t0 < len0; t0 += run) {
                /* Consecutive cells of one image are one slot range. */
                run = tr0[t0];
                const int32_t s0 = ti0[t0];
                /* T = S'·cell; the wrapped frame's offset is T − r'_i and
                 * S·cell = T + w_i·cell − w_j·cell. */
                const double Tx = o1[0] + s0 * cv[0][0];
                const double Ty = o1[1] + s0 * cv[0][1];
                const double Tz = o1[2] + s0 * cv[0][2];
                const double ox = Tx - xi[0], oy = Ty - xi[1], oz = Tz - xi[2];
                const double tx = Tx + wci[0], ty = Ty + wci[1], tz = Tz + wci[2];
                const size_t c = row + tb0[t0];
                const size_t p0 = start[c];
                const size_t len = start[c + run] - p0;
                const size_t nc = within_reach(sx + p0, sy + p0, sz + p0,
                                               sidx + p0, len, ox, oy, oz,
                                               reach2, half, ii, d2, cand,
                                               (int32_t)p0);
                if (nl->capacity - ne < nc) {
                    nl->n_edges = ne;
                    mlshift_status st = reserve_edges(nl, ne + nc, ne, err);
                    if (st != MLSHIFT_OK)
                        return st;
                }
                int32_t *restrict src = nl->src, *restrict dst = nl->dst;
                int32_t *restrict shift = nl->shift;
                double *restrict vec = nl->vec, *restrict dist = nl->dist;
                for (size_t q = 0; q < nc; q++) {
                    const size_t p = (size_t)cand[q];
                    const int32_t j = sidx[p];
                    const int32_t S0 = s0 + wi[0] - swrap[3 * p];
                    const int32_t S1 = s1 + wi[1] - swrap[3 * p + 1];
                    const int32_t S2 = s2 + wi[2] - swrap[3 * p + 2];
                    if (half && j == ii &&
                        !(S0 > 0 || (S0 == 0 && (S1 > 0 || (S1 == 0 && S2 > 0)))))
                        continue;
                    /* vec from the original positions: r_j + S·cell − r_i. */
                    const double *rj = sorig + 3 * p, *wj = swcell + 3 * p;
                    const double vx = (rj[0] + (tx - wj[0])) - rix;
                    const double vy = (rj[1] + (ty - wj[1])) - riy;
                    const double vz = (rj[2] + (tz - wj[2])) - riz;
                    const double e2 = vx * vx + vy * vy + vz * vz;
                    if (!(e2 > 0 && e2 <= rc2))
                        continue;
                    src[ne] = ii;
                    dst[ne] = j;
                    shift[3 * ne] = S0;
                    shift[3 * ne + 1] = S1;
                    shift[3 * ne + 2] = S2;
                    vec[3 * ne] = vx;
                    vec[3 * ne + 1] = vy;
                    vec[3 * ne + 2] = vz;
                    dist[ne] = sqrt(e2);
                    ne++;
                }
            }
        }
    }
    nl->n_edges = ne;
    return MLSHIFT_OK;
}

/* Small molecules (no periodic axis, at most MS_DIRECT_MAX_ATOMS atoms):
 * every pair directly is cheaper than binning. */
#define MS_DIRECT_MAX_ATOMS 64

static int direct_pairs(const ms_cell_list *cl)
{
    return !cl->periodic[0] && !cl->periodic[1] && !cl->periodic[2] &&
           cl->n <= MS_DIRECT_MAX_ATOMS;
}

/* The list of a small open system: for each i, j ascending; S = 0. */
static mlshift_status build_direct(mlshift_neighbours *nl, size_t n,
                                   const double *positions, double cutoff,
                                   int half, mlshift_error *err)
{
    mlshift_status st = reserve_edges(nl, n * (n - 1), 0, err);
    if (st != MLSHIFT_OK)
        return st;
    const double rc2 = cutoff * cutoff;
    int32_t *restrict src = nl->src, *restrict dst = nl->dst;
    int32_t *restrict shift = nl->shift;
    double *restrict vec = nl->vec, *restrict dist = nl->dist;
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        nl->first[i] = ne;
        const double rix = positions[3 * i], riy = positions[3 * i + 1];
        const double riz = positions[3 * i + 2];
        for (size_t j = half ? i + 1 : 0; j < n; j++) {
            const double vx = positions[3 * j] - rix;
            const double vy = positions[3 * j + 1] - riy;
            const double vz = positions[3 * j + 2] - riz;
            const double e2 = vx * vx + vy * vy + vz * vz;
            if (!(e2 > 0 && e2 <= rc2))
                continue;
            src[ne] = (int32_t)i;
            dst[ne] = (int32_t)j;
            shift[3 * ne] = shift[3 * ne + 1] = shift[3 * ne + 2] = 0;
            vec[3 * ne] = vx;
            vec[3 * ne + 1] = vy;
            vec[3 * ne + 2] = vz;
            dist[ne] = sqrt(e2);
            ne++;
        }
    }
    nl->first[n] = ne;
    nl->n_edges = ne;
    nl->n_atoms = n;
    return MLSHIFT_OK;
}

mlshift_status mlshift_neighbours_build(mlshift_neighbours *nl, size_t n,
                                        const double *positions,
                                        const double *cell, const int *pbc,
                                        double cutoff, int half,
                                        mlshift_error *err)
{
    if (!nl)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "neighbours: list is NULL");
    /* Until the build succeeds the list is a valid empty one. */
    nl->n_atoms = 0;
    nl->n_edges = 0;
    if (nl->first)
        nl->first[0] = 0;
    ms_cell_list cl;
    mlshift_status st =
        ms_cell_list_plan(&cl, n, positions, cell, pbc, cutoff, err);
    if (st != MLSHIFT_OK)
        return st;
    void *work;
    st = reserve_first(nl, n, direct_pairs(&cl) ? 0 : cl.work_bytes, &work, err);
    if (st != MLSHIFT_OK)
        return st;
    nl->cutoff = cutoff;
    nl->half = half ? 1 : 0;
    nl->first[0] = 0;
    if (n == 0)
        return MLSHIFT_OK;
    nl->n_edges = 0;
    if (direct_pairs(&cl))
        return build_direct(nl, n, positions, cutoff, half, err);
    ms_cell_list_fill(&cl, positions, work);

    /* About one candidate in five lies within the cutoff sphere. */
    double est = cl.est_pairs * (half ? 0.1 : 0.2) + 64;
    if (nl->capacity < est) {
        st = reserve_edges(nl, (size_t)est, 0, err);
        if (st != MLSHIFT_OK)
            return st;
    }

    ms_nl_walk w = {
        .cl = &cl, .positions = positions, .half = nl->half,
        .rc2 = cutoff * cutoff, .reach2 = cl.reach * cl.reach};
    for (size_t i = 0; i < n; i++) {
        nl->first[i] = nl->n_edges;
        st = half ? walk_atom(nl, &w, i, 1, err) : walk_atom(nl, &w, i, 0, err);
        if (st != MLSHIFT_OK) {
            nl->n_edges = 0;
            nl->first[0] = 0;
            return st;
        }
    }
    nl->first[n] = nl->n_edges;
    nl->n_atoms = n;
    return MLSHIFT_OK;
}

mlshift_status mlshift_neighbours_filter(mlshift_neighbours *out,
                                         const mlshift_neighbours *in,
                                         double cutoff, mlshift_error *err)
{
    if (!out || !in)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "neighbours: filter of NULL");
    if (out == in)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: filter output is its input");
    out->n_atoms = 0;
    out->n_edges = 0;
    if (out->first)
        out->first[0] = 0;
    if (!isfinite(cutoff) || !(cutoff > 0))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: cutoff must be positive and finite, got %g",
                       cutoff);
    if (cutoff > in->cutoff)
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: filter cutoff %g Å is longer than the "
                       "list's %g Å", cutoff, in->cutoff);
    size_t n = in->n_atoms;
    if ((n > 0 && !in->first) || (in->n_edges > 0 && !in->dist))
        return ms_fail(err, MLSHIFT_ERR_VALUE,
                       "neighbours: filter input is not a built list");
    size_t kept = 0;
    for (size_t e = 0; e < in->n_edges; e++)
        kept += in->dist[e] <= cutoff;
    mlshift_status st = reserve_first(out, n, 0, NULL, err);
    if (st != MLSHIFT_OK)
        return st;
    out->first[0] = 0;
    st = reserve_edges(out, kept, 0, err);
    if (st != MLSHIFT_OK)
        return st;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out->first[i] = k;
        for (size_t e = in->first[i]; e < in->first[i + 1]; e++) {
            if (!(in->dist[e] <= cutoff))
                continue;
            out->src[k] = in->src[e];
            out->dst[k] = in->dst[e];
            memcpy(out->shift + 3 * k, in->shift + 3 * e, 3 * sizeof(int32_t));
            memcpy(out->vec + 3 * k, in->vec + 3 * e, 3 * sizeof(double));
            out->dist[k] = in->dist[e];
            k++;
        }
    }
    out->first[n] = k;
    out->n_atoms = n;
    out->n_edges = k;
    out->cutoff = cutoff;
    out->half = in->half;
    return MLSHIFT_OK;
}

void mlshift_neighbours_free(mlshift_neighbours *nl)
{
    if (!nl)
        return;
    if (nl->first)
        free(nl->first - 1);
    free(nl->vec);
    memset(nl, 0, sizeof *nl);
}

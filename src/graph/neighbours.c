/* SPDX-License-Identifier: MIT */
/* Radius graph from a cell list, O(N) for a fixed density and cutoff.
 *
 * An edge i → j with integer image shift S (of atom j) is
 *     vec = r_j + S·cell − r_i,   0 < |vec| <= cutoff,
 * with r the positions as given (not wrapped). The cell list bins the
 * wrapped positions r'_i = r_i − w_i·cell (w_i integer, zero along open
 * axes); walking the stencil of atom i meets atom j in image S' of the
 * wrapped frame, and r'_j + S'·cell − r'_i = r_j + (S' + w_i − w_j)·cell −
 * r_i, so S = S' + w_i − w_j, and vec is formed in the wrapped frame,
 *     vec = r'_j + (S'·cell − r'_i),
 * equal to r_j + S·cell − r_i up to rounding (the wrap subtracts whole
 * lattice vectors). The walk first tests the stencil's slots four at a time
 * in float (SSE2) against a radius padded by a bound on the float rounding
 * (so it never drops a pair; see mlshift_neighbours_build), compacting the
 * survivors without branches; each survivor is then tested exactly in
 * double, 0 < |vec|² <= cutoff², so dist and the cutoff test agree exactly.
 * dist is stored squared and square-rooted per atom two at a time; src and,
 * when no atom needed wrapping, the shift (constant over a slot range) are
 * filled by vector stores after the loop.
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
#include "neighbours.h"

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
    double rc2;              /* Å², cutoff² */
    float pre2;              /* Å², float pre-test radius² (see below) */
} ms_nl_walk;

#if defined(__GNUC__)
#define MS_INLINE static inline __attribute__((always_inline))
#else
#define MS_INLINE static inline
#endif

#if defined(__SSE2__)
/* Left-packing table: for a 4-bit mask, the set lanes in order, then how
 * many there are (one table, one base address in the loop). */
typedef struct ms_pack {
    int32_t lane[4];
    int32_t count, pad[3];
} ms_pack;
static const ms_pack MS_PACK[16] __attribute__((aligned(32))) = {
    {{0, 0, 0, 0}, 0, {0}}, {{0, 0, 0, 0}, 1, {0}}, {{1, 0, 0, 0}, 1, {0}},
    {{0, 1, 0, 0}, 2, {0}}, {{2, 0, 0, 0}, 1, {0}}, {{0, 2, 0, 0}, 2, {0}},
    {{1, 2, 0, 0}, 2, {0}}, {{0, 1, 2, 0}, 3, {0}}, {{3, 0, 0, 0}, 1, {0}},
    {{0, 3, 0, 0}, 2, {0}}, {{1, 3, 0, 0}, 2, {0}}, {{0, 1, 3, 0}, 3, {0}},
    {{2, 3, 0, 0}, 2, {0}}, {{0, 2, 3, 0}, 3, {0}}, {{1, 2, 3, 0}, 3, {0}},
    {{0, 1, 2, 3}, 4, {0}}};
#endif

/* The pre-test: offsets q whose float position plus (ox, oy, oz) lies
 * within |·|² <= pre2 — and, when `half`, whose atom idx[q] >= i — in
 * order, into cand; returns how many. Four at a time with SSE2, compacted
 * through a lane table without branches; the last group may read up to
 * three slots past len (the cell list pads its arrays), and the offsets it
 * adds there are dropped at the end. */
MS_INLINE size_t pre_test(const float *fx, const float *fy, const float *fz,
                          const int32_t *idx, size_t len, float ox, float oy,
                          float oz, float pre2, const int half, int32_t i,
                          int32_t *cand)
{
    size_t nc = 0;
#if defined(__SSE2__)
    const __m128 vx = _mm_set1_ps(ox), vy = _mm_set1_ps(oy);
    const __m128 vz = _mm_set1_ps(oz), vr = _mm_set1_ps(pre2);
    const __m128i vi = _mm_set1_epi32(i - 1), four = _mm_set1_epi32(4);
    __m128i vq = _mm_setzero_si128(); /* q in every lane */
    for (size_t q = 0; q < len; q += 4) {
        const __m128 dx = _mm_add_ps(_mm_loadu_ps(fx + q), vx);
        const __m128 dy = _mm_add_ps(_mm_loadu_ps(fy + q), vy);
        const __m128 dz = _mm_add_ps(_mm_loadu_ps(fz + q), vz);
        const __m128 r2 = _mm_add_ps(_mm_add_ps(_mm_mul_ps(dx, dx),
                                                _mm_mul_ps(dy, dy)),
                                     _mm_mul_ps(dz, dz));
        __m128 keep = _mm_cmple_ps(r2, vr);
        if (half) { /* idx[q..q+3] > i − 1 */
            const __m128i j4 = _mm_loadu_si128((const __m128i *)(const void *)(idx + q));
            keep = _mm_and_ps(keep, _mm_castsi128_ps(_mm_cmpgt_epi32(j4, vi)));
        }
        const int mask = _mm_movemask_ps(keep);
        const ms_pack *pk = MS_PACK + mask;
        const __m128i lanes = _mm_load_si128((const __m128i *)(const void *)pk->lane);
        _mm_storeu_si128((__m128i *)(void *)(cand + nc), _mm_add_epi32(lanes, vq));
        nc += (size_t)pk->count;
        vq = _mm_add_epi32(vq, four);
    }
    while (nc > 0 && (size_t)cand[nc - 1] >= len)
        nc--;
#else
    for (size_t q = 0; q < len; q++) {
        const float dx = fx[q] + ox, dy = fy[q] + oy, dz = fz[q] + oz;
        cand[nc] = (int32_t)q;
        nc += (dx * dx + dy * dy + dz * dz <= pre2) & (!half || idx[q] >= i);
    }
#endif
    return nc;
}

/* dist[e] = sqrt(dist[e]) for e in [e0, e1): the walk stores |vec|². */
static void sqrt_range(double *dist, size_t e0, size_t e1)
{
    size_t e = e0;
#if defined(__SSE2__)
    for (; e + 2 <= e1; e += 2)
        _mm_storeu_pd(dist + e, _mm_sqrt_pd(_mm_loadu_pd(dist + e)));
#endif
    for (; e < e1; e++)
        dist[e] = sqrt(dist[e]);
}

/* Edges the fills below may write past the last one (capacity allowing). */
#define MS_EDGE_SPARE 4

/* src[e] = i for e in [e0, e1); may write up to e1 + 3. */
static inline void fill_src(int32_t *src, size_t e0, size_t e1, int32_t i)
{
#if defined(__SSE2__)
    const __m128i v = _mm_set1_epi32(i);
    for (size_t e = e0; e < e1; e += 4)
        _mm_storeu_si128((__m128i *)(void *)(src + e), v);
#else
    for (size_t e = e0; e < e1; e++)
        src[e] = i;
#endif
}

/* shift[e] = (s0, s1, s2) for e in [e0, e1); may write up to e1 + 3. */
static inline void fill_shift(int32_t *shift, size_t e0, size_t e1,
                              int32_t s0, int32_t s1, int32_t s2)
{
#if defined(__SSE2__)
    if (e0 == e1)
        return;
    const __m128i a = _mm_setr_epi32(s0, s1, s2, s0);
    const __m128i b = _mm_setr_epi32(s1, s2, s0, s1);
    const __m128i c = _mm_setr_epi32(s2, s0, s1, s2);
    for (size_t e = e0; e < e1; e += 4) {
        __m128i *o = (__m128i *)(void *)(shift + 3 * e);
        _mm_storeu_si128(o, a);
        _mm_storeu_si128(o + 1, b);
        _mm_storeu_si128(o + 2, c);
    }
#else
    for (size_t e = e0; e < e1; e++) {
        shift[3 * e] = s0;
        shift[3 * e + 1] = s1;
        shift[3 * e + 2] = s2;
    }
#endif
}

/* Appends the edges of atom i (src = i) to nl, dist holding |vec|².
 * `half` and `wrapped` (some atom has w != 0) are constants at each call
 * site, so each walk compiles separately. */
MS_INLINE mlshift_status walk_atom(mlshift_neighbours *nl,
                                   const ms_nl_walk *w, size_t i,
                                   const int half, const int wrapped,
                                   mlshift_error *err)
{
    const ms_cell_list *cl = w->cl;
    const size_t nb0 = (size_t)cl->nb[0], nb1 = (size_t)cl->nb[1];
    const size_t *start = cl->start;
    const int32_t *sidx = cl->sidx;
    const double *sx = cl->sx, *sy = cl->sy, *sz = cl->sz; /* (N,) each */
    const float *fx = cl->fx, *fy = cl->fy, *fz = cl->fz;  /* (N + PAD,) */
    int32_t *cand = cl->cand;         /* (N + PAD,) */
    const double rc2 = w->rc2;
    const float pre2 = w->pre2;
    const int32_t ii = (int32_t)i;
    const double *xi = cl->wpos + 3 * i;
    const int32_t *wi = cl->wrap + 3 * i, *bi = cl->bin + 3 * i;
    const ms_cl_entry *e0 = cl->tab[0] + (size_t)bi[0] * cl->ntab[0];
    const ms_cl_entry *e1 = cl->tab[1] + (size_t)bi[1] * cl->ntab[1];
    const ms_cl_entry *e2 = cl->tab[2] + (size_t)bi[2] * cl->ntab[2];
    const int len0 = cl->tab_len[0][bi[0]];
    const int len1 = cl->tab_len[1][bi[1]];
    const int len2 = cl->tab_len[2][bi[2]];
    const size_t e_atom = nl->n_edges;
    size_t ne = e_atom, cap = nl->capacity;
    int32_t *src = nl->src, *dst = nl->dst, *shift = nl->shift;
    double *vec = nl->vec, *dist = nl->dist;
    for (int t2 = 0; t2 < len2; t2++) {
        /* o = S'·cell − r'_i: vec = r'_j + o, S = S' + w_i − w_j. */
        const double o2x = e2[t2].off[0] - xi[0], o2y = e2[t2].off[1] - xi[1];
        const double o2z = e2[t2].off[2] - xi[2];
        const int32_t u2 = e2[t2].img + wi[2];
        const size_t row2 = (size_t)e2[t2].bin * nb1;
        for (int t1 = 0; t1 < len1; t1++) {
            const double o1x = o2x + e1[t1].off[0], o1y = o2y + e1[t1].off[1];
            const double o1z = o2z + e1[t1].off[2];
            const int32_t u1 = e1[t1].img + wi[1];
            const size_t row = (row2 + (size_t)e1[t1].bin) * nb0;
            for (int t0 = 0; t0 < len0; t0++) {
                const ms_cl_entry *r = e0 + t0;
                const size_t c = row + (size_t)r->bin;
                const size_t p0 = start[c];
                const size_t len = start[c + (size_t)r->n] - p0;
                if (cap - ne < len + MS_EDGE_SPARE) {
                    nl->n_edges = ne;
                    mlshift_status st =
                        reserve_edges(nl, ne + len + MS_EDGE_SPARE, ne, err);
                    if (st != MLSHIFT_OK)
                        return st;
                    cap = nl->capacity;
                    src = nl->src;
                    dst = nl->dst;
                    shift = nl->shift;
                    vec = nl->vec;
                    dist = nl->dist;
                }
                const double ox = o1x + r->off[0], oy = o1y + r->off[1];
                const double oz = o1z + r->off[2];
                const int32_t u0 = r->img + wi[0];
                const size_t nc = pre_test(fx + p0, fy + p0, fz + p0, sidx + p0,
                                           len, (float)ox, (float)oy, (float)oz,
                                           pre2, half, ii, cand);
                /* Exact test in double; dst, vec and |vec|² here, the
                 * shifts of the run's edges below. */
                const size_t ne0 = ne;
                for (const int32_t *cq = cand; cq < cand + nc; cq++) {
                    const size_t p = p0 + (size_t)*cq;
                    const double vx = sx[p] + ox, vy = sy[p] + oy;
                    const double vz = sz[p] + oz;
                    const double d2 = vx * vx + vy * vy + vz * vz;
                    if (!(d2 > 0 && d2 <= rc2))
                        continue;
                    const int32_t j = sidx[p];
                    if (half && j == ii) { /* an image of itself: S = S' */
                        const int32_t S0 = u0 - wi[0], S1 = u1 - wi[1];
                        const int32_t S2 = u2 - wi[2];
                        if (!(S0 > 0 || (S0 == 0 && (S1 > 0 || (S1 == 0 && S2 > 0)))))
                            continue;
                    }
                    dst[ne] = j;
                    vec[3 * ne] = vx;
                    vec[3 * ne + 1] = vy;
                    vec[3 * ne + 2] = vz;
                    dist[ne] = d2;
                    ne++;
                }
                if (wrapped) {
                    for (size_t e = ne0; e < ne; e++) {
                        const int32_t *wj = cl->wrap + 3 * (size_t)dst[e];
                        shift[3 * e] = u0 - wj[0];
                        shift[3 * e + 1] = u1 - wj[1];
                        shift[3 * e + 2] = u2 - wj[2];
                    }
                } else {
                    fill_shift(shift, ne0, ne, u0, u1, u2);
                }
            }
        }
    }
    fill_src(src, e_atom, ne, ii);
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

    /* First guess of the edge count: the candidates times the share of the
     * stencil's volume that the cutoff sphere fills. */
    double vbin = 1;
    for (int k = 0; k < 3; k++)
        vbin *= (cl.periodic[k] ? cl.width[k] : cl.span[k] * cl.width[k]) /
                cl.nb[k];
    double share = vbin > 0 ? 4.2 * cutoff * cutoff * cutoff /
                                  (cl.n_stencil * vbin)
                            : 1;
    double est = cl.est_pairs * fmin(1, 1.1 * share) * (half ? 0.5 : 1) + 64;
    if (nl->capacity < est) {
        st = reserve_edges(nl, (size_t)est, 0, err);
        if (st != MLSHIFT_OK)
            return st;
    }

    /* The float pre-test must keep every pair the exact test keeps. Each
     * float coordinate, offset and sum is within 2^-24 (relative) of the
     * double it stands for, all bounded by M = 2·wmax + |S'·cell|max +
     * cutoff; so each component is within 3·2^-24·M, the distance within
     * √3 times that, and the squared sum within a few 2^-24 relative.
     * 1e-6 ≈ 16.8·2^-24 covers both with room. */
    double tmax = 0;
    for (int k = 0; k < 3; k++) {
        int32_t im = 0;
        for (int b = 0; b < cl.nb[k]; b++)
            for (int t = 0; t < cl.tab_len[k][b]; t++) {
                int32_t a = abs(cl.tab[k][(size_t)b * cl.ntab[k] + t].img);
                im = a > im ? a : im;
            }
        tmax += im * (fabs(cl.cell[k][0]) + fabs(cl.cell[k][1]) +
                      fabs(cl.cell[k][2]));
    }
    double mbound = 2 * cl.wmax + tmax + cutoff;
    double pre = cutoff * (1 + 1e-6) + 1e-6 * mbound;
    ms_nl_walk w = {.cl = &cl, .rc2 = cutoff * cutoff,
                    .pre2 = (float)(pre * pre * (1 + 1e-6))};
    for (size_t i = 0; i < n; i++) {
        size_t e0 = nl->n_edges;
        nl->first[i] = e0;
        if (cl.wrapped)
            st = half ? walk_atom(nl, &w, i, 1, 1, err)
                      : walk_atom(nl, &w, i, 0, 1, err);
        else
            st = half ? walk_atom(nl, &w, i, 1, 0, err)
                      : walk_atom(nl, &w, i, 0, 0, err);
        if (st != MLSHIFT_OK) {
            nl->n_edges = 0;
            nl->first[0] = 0;
            return st;
        }
        sqrt_range(nl->dist, e0, nl->n_edges);
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

void ms_neighbours_free(mlshift_neighbours *nl)
{
    if (!nl)
        return;
    if (nl->first)
        free(nl->first - 1);
    free(nl->vec);
    memset(nl, 0, sizeof *nl);
}

/* ------------------------------------------------ the public, opaque list */

mlshift_neighbours *mlshift_neighbours_create(void)
{
    return calloc(1, sizeof(mlshift_neighbours));
}

void mlshift_neighbours_destroy(mlshift_neighbours *nl)
{
    ms_neighbours_free(nl);
    free(nl);
}

size_t mlshift_neighbours_n_atoms(const mlshift_neighbours *nl) { return nl->n_atoms; }
size_t mlshift_neighbours_n_edges(const mlshift_neighbours *nl) { return nl->n_edges; }
double mlshift_neighbours_cutoff(const mlshift_neighbours *nl) { return nl->cutoff; }
int mlshift_neighbours_half(const mlshift_neighbours *nl) { return nl->half; }
const int32_t *mlshift_neighbours_src(const mlshift_neighbours *nl) { return nl->src; }
const int32_t *mlshift_neighbours_dst(const mlshift_neighbours *nl) { return nl->dst; }
const int32_t *mlshift_neighbours_shift(const mlshift_neighbours *nl) { return nl->shift; }
const double *mlshift_neighbours_vec(const mlshift_neighbours *nl) { return nl->vec; }
const double *mlshift_neighbours_dist(const mlshift_neighbours *nl) { return nl->dist; }
const size_t *mlshift_neighbours_first(const mlshift_neighbours *nl) { return nl->first; }

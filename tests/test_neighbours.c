/* SPDX-License-Identifier: MIT */
/* Neighbour lists against a plain O(N²·images) brute force written here:
 * random molecules, small-cell crystals (fcc Cu, a skewed triclinic cell, a
 * one-atom cell with a cutoff three times the cell), mixed pbc, unwrapped
 * positions, every OC20 trajectory's first frame (periodic and as a slab).
 * Edges are compared as multisets of (i, j, S) with vec and dist to 1e-12;
 * also full = 2 × half, filter(r) = build(r), determinism, buffer reuse,
 * closed-form fcc coordination numbers and the error cases. The lists here
 * are the library's own struct (src/graph/neighbours.h); the public,
 * opaque handle and its accessors are checked against it, and the dump
 * mode uses only them.
 *
 * Dump mode for tests/reference/test_neighbours_ase.py:
 *     test_neighbours --dump POSFILE CUTOFF OUT [half]
 * POSFILE: "N", then 9 cell numbers (rows a, b, c) or "none", then 3 pbc
 * flags, then N lines "x y z". OUT: one edge a line, "i j S0 S1 S2 dist". */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "graph/neighbours.h"
#include "mlshift.h"

/* ------------------------------------------------------------ brute force */

typedef struct edge {
    int32_t i, j, s[3];
    double vec[3], dist;
} edge;

static int edge_cmp(const void *pa, const void *pb)
{
    const edge *a = pa, *b = pb;
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    if (a->j != b->j) return a->j < b->j ? -1 : 1;
    for (int k = 0; k < 3; k++)
        if (a->s[k] != b->s[k]) return a->s[k] < b->s[k] ? -1 : 1;
    return 0;
}

static void cross3(const double *u, const double *v, double *w)
{
    w[0] = u[1] * v[2] - u[2] * v[1];
    w[1] = u[2] * v[0] - u[0] * v[2];
    w[2] = u[0] * v[1] - u[1] * v[0];
}

/* Every (i, j, S) with 0 < |r_j + S·cell − r_i| <= rc, S_k = 0 along open
 * axes. For each pair and periodic axis k, S_k runs over every integer with
 * |Δf_k + S_k| <= rc·|g_k| (g_k: reciprocal vectors of the full cell, which
 * must be non-singular when any axis is periodic). */
static size_t brute(edge **out, size_t n, const double *pos, const double *cell,
                    const int *pbc, double rc, int half)
{
    double g[3][3] = {{0}};
    int per[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        per[k] = pbc && pbc[k];
    if (per[0] || per[1] || per[2]) {
        double c12[3], c20[3], c01[3];
        cross3(cell + 3, cell + 6, c12);
        cross3(cell + 6, cell, c20);
        cross3(cell, cell + 3, c01);
        double vol = cell[0] * c12[0] + cell[1] * c12[1] + cell[2] * c12[2];
        for (int d = 0; d < 3; d++) {
            g[0][d] = c12[d] / vol;
            g[1][d] = c20[d] / vol;
            g[2][d] = c01[d] / vol;
        }
    }
    size_t cap = 1024, m = 0;
    edge *e = malloc(cap * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if (half && j < i)
                continue;
            int lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
            for (int k = 0; k < 3; k++) {
                if (!per[k])
                    continue;
                double df = 0, gl = sqrt(g[k][0] * g[k][0] + g[k][1] * g[k][1] +
                                         g[k][2] * g[k][2]);
                for (int d = 0; d < 3; d++)
                    df += (pos[3 * j + d] - pos[3 * i + d]) * g[k][d];
                lo[k] = (int)ceil(-df - rc * gl) - 1;
                hi[k] = (int)floor(-df + rc * gl) + 1;
            }
            for (int s0 = lo[0]; s0 <= hi[0]; s0++)
                for (int s1 = lo[1]; s1 <= hi[1]; s1++)
                    for (int s2 = lo[2]; s2 <= hi[2]; s2++) {
                        if (half && i == j &&
                            !(s0 > 0 || (s0 == 0 && (s1 > 0 || (s1 == 0 && s2 > 0)))))
                            continue;
                        double v[3];
                        for (int d = 0; d < 3; d++) {
                            double sc = cell ? s0 * cell[d] + s1 * cell[3 + d] +
                                                   s2 * cell[6 + d]
                                             : 0;
                            v[d] = pos[3 * j + d] + sc - pos[3 * i + d];
                        }
                        double r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
                        if (!(r > 0 && r <= rc))
                            continue;
                        if (m == cap) {
                            cap *= 2;
                            e = realloc(e, cap * sizeof *e);
                        }
                        e[m] = (edge){(int32_t)i, (int32_t)j, {s0, s1, s2},
                                      {v[0], v[1], v[2]}, r};
                        m++;
                    }
        }
    }
    *out = e;
    return m;
}

static edge *edges_of(const mlshift_neighbours *nl)
{
    edge *e = malloc((nl->n_edges + 1) * sizeof *e);
    for (size_t k = 0; k < nl->n_edges; k++) {
        e[k].i = nl->src[k];
        e[k].j = nl->dst[k];
        for (int d = 0; d < 3; d++) {
            e[k].s[d] = nl->shift[3 * k + d];
            e[k].vec[d] = nl->vec[3 * k + d];
        }
        e[k].dist = nl->dist[k];
    }
    return e;
}

/* One CHECK per property: counts, CSR layout, the edge definition, the
 * half rule, and equality with the brute force as multisets. */
static void compare(const char *what, const mlshift_neighbours *nl, size_t n,
                    const double *pos, const double *cell, const int *pbc,
                    double rc, int half)
{
    edge *ref;
    size_t nref = brute(&ref, n, pos, cell, pbc, rc, half);
    CHECK(nl->n_atoms == n, "%s: n_atoms %zu, want %zu", what, nl->n_atoms, n);
    CHECK(nl->half == (half != 0) && nl->cutoff == rc, "%s: half/cutoff", what);
    CHECK(nl->n_edges == nref, "%s: %zu edges, brute force %zu", what,
          nl->n_edges, nref);
    int csr = nl->first[0] == 0 && nl->first[n] == nl->n_edges;
    for (size_t i = 0; i < n && csr; i++)
        for (size_t e = nl->first[i]; e < nl->first[i + 1]; e++)
            if (nl->src[e] != (int32_t)i)
                csr = 0;
    CHECK(csr, "%s: first[]/src not grouped by src", what);
    size_t bad_def = 0, bad_half = 0;
    double worst = 0;
    for (size_t e = 0; e < nl->n_edges; e++) {
        int32_t i = nl->src[e], j = nl->dst[e];
        const int32_t *s = nl->shift + 3 * e;
        double r2 = 0;
        for (int d = 0; d < 3; d++) {
            double sc = cell ? s[0] * cell[d] + s[1] * cell[3 + d] + s[2] * cell[6 + d]
                             : 0;
            double v = pos[3 * j + d] + sc - pos[3 * i + d];
            worst = fmax(worst, fabs(v - nl->vec[3 * e + d]));
            r2 += nl->vec[3 * e + d] * nl->vec[3 * e + d];
        }
        worst = fmax(worst, fabs(sqrt(r2) - nl->dist[e]));
        if (!(nl->dist[e] > 0 && nl->dist[e] <= rc) || j < 0 || (size_t)j >= n)
            bad_def++;
        for (int k = 0; k < 3; k++)
            if (s[k] != 0 && !(pbc && pbc[k]))
                bad_def++;
        if (half && !(i < j || (i == j && (s[0] > 0 || (s[0] == 0 &&
                                (s[1] > 0 || (s[1] == 0 && s[2] > 0)))))))
            bad_half++;
    }
    CHECK(worst <= 1e-12, "%s: vec/dist differ from r_j + S·cell − r_i by %.3g",
          what, worst);
    CHECK(bad_def == 0, "%s: %zu edges break 0 < dist <= cutoff or S on open axes",
          what, bad_def);
    CHECK(bad_half == 0, "%s: %zu edges break the half-list rule", what, bad_half);
    if (nl->n_edges == nref) {
        edge *got = edges_of(nl);
        qsort(got, nref, sizeof *got, edge_cmp);
        qsort(ref, nref, sizeof *ref, edge_cmp);
        size_t diff = 0, first_diff = 0;
        double dworst = 0;
        for (size_t k = 0; k < nref; k++) {
            if (edge_cmp(got + k, ref + k) != 0) {
                if (!diff)
                    first_diff = k;
                diff++;
                continue;
            }
            dworst = fmax(dworst, fabs(got[k].dist - ref[k].dist));
            for (int d = 0; d < 3; d++)
                dworst = fmax(dworst, fabs(got[k].vec[d] - ref[k].vec[d]));
        }
        CHECK(diff == 0, "%s: %zu (i, j, S) differ from the brute force, first "
              "at %zu: got (%d %d %d %d %d), want (%d %d %d %d %d)", what, diff,
              first_diff, got[first_diff].i, got[first_diff].j,
              got[first_diff].s[0], got[first_diff].s[1], got[first_diff].s[2],
              ref[first_diff].i, ref[first_diff].j, ref[first_diff].s[0],
              ref[first_diff].s[1], ref[first_diff].s[2]);
        CHECK(dworst <= 1e-12, "%s: vec/dist differ from the brute force by %.3g",
              what, dworst);
        free(got);
    }
    free(ref);
}

/* The full list equals the half list with each edge also reversed. */
static void check_full_half(const char *what, const mlshift_neighbours *full,
                            const mlshift_neighbours *half)
{
    CHECK(full->n_edges == 2 * half->n_edges, "%s: full %zu edges, half %zu",
          what, full->n_edges, half->n_edges);
    if (full->n_edges != 2 * half->n_edges)
        return;
    edge *f = edges_of(full), *h = edges_of(half);
    edge *hh = malloc((2 * half->n_edges + 1) * sizeof *hh);
    for (size_t k = 0; k < half->n_edges; k++) {
        hh[2 * k] = h[k];
        hh[2 * k + 1] = (edge){h[k].j, h[k].i, {-h[k].s[0], -h[k].s[1], -h[k].s[2]},
                               {-h[k].vec[0], -h[k].vec[1], -h[k].vec[2]}, h[k].dist};
    }
    qsort(f, full->n_edges, sizeof *f, edge_cmp);
    qsort(hh, full->n_edges, sizeof *hh, edge_cmp);
    size_t diff = 0;
    for (size_t k = 0; k < full->n_edges; k++)
        diff += edge_cmp(f + k, hh + k) != 0 || fabs(f[k].dist - hh[k].dist) > 1e-12;
    CHECK(diff == 0, "%s: %zu full edges are not a reversed or kept half edge",
          what, diff);
    free(f);
    free(h);
    free(hh);
}

/* Bitwise equality of two lists (determinism). */
static int same_list(const mlshift_neighbours *a, const mlshift_neighbours *b)
{
    size_t e = a->n_edges;
    return a->n_edges == b->n_edges && a->n_atoms == b->n_atoms &&
           !memcmp(a->first, b->first, (a->n_atoms + 1) * sizeof(size_t)) &&
           !memcmp(a->src, b->src, e * sizeof(int32_t)) &&
           !memcmp(a->dst, b->dst, e * sizeof(int32_t)) &&
           !memcmp(a->shift, b->shift, 3 * e * sizeof(int32_t)) &&
           !memcmp(a->vec, b->vec, 3 * e * sizeof(double)) &&
           !memcmp(a->dist, b->dist, e * sizeof(double));
}

/* filter(in, r) keeps exactly the edges of `in` with dist <= r, in order,
 * and equals a fresh build at r as a multiset. */
static void check_filter(const char *what, const mlshift_neighbours *in,
                         size_t n, const double *pos, const double *cell,
                         const int *pbc, double r)
{
    mlshift_neighbours out = {0}, fresh = {0};
    mlshift_error err;
    mlshift_status st = mlshift_neighbours_filter(&out, in, r, &err);
    CHECK(st == MLSHIFT_OK, "%s: filter: %s", what, st ? err.message : "");
    st = mlshift_neighbours_build(&fresh, n, pos, cell, pbc, r, in->half, &err);
    CHECK(st == MLSHIFT_OK, "%s: build at %g: %s", what, r, st ? err.message : "");
    if (out.n_edges == 0 && fresh.n_edges == 0 && out.n_atoms == n) {
        CHECK(1, "empty");
    } else {
        /* Same order: out is the subsequence of in with dist <= r. */
        size_t k = 0, bad = 0;
        for (size_t e = 0; e < in->n_edges; e++) {
            if (!(in->dist[e] <= r))
                continue;
            if (k >= out.n_edges || out.src[k] != in->src[e] ||
                out.dst[k] != in->dst[e] || out.dist[k] != in->dist[e] ||
                memcmp(out.shift + 3 * k, in->shift + 3 * e, 3 * sizeof(int32_t)) ||
                memcmp(out.vec + 3 * k, in->vec + 3 * e, 3 * sizeof(double)))
                bad++;
            k++;
        }
        CHECK(bad == 0 && k == out.n_edges, "%s: filter at %g is not the ordered "
              "subsequence (%zu bad)", what, r, bad);
        int csr = out.first[0] == 0 && out.first[n] == out.n_edges;
        for (size_t i = 0; i < n && csr; i++)
            for (size_t e = out.first[i]; e < out.first[i + 1]; e++)
                csr &= out.src[e] == (int32_t)i;
        CHECK(csr, "%s: filter first[] wrong", what);
        CHECK(out.n_edges == fresh.n_edges && out.cutoff == r &&
              out.half == in->half, "%s: filter at %g has %zu edges, build %zu",
              what, r, out.n_edges, fresh.n_edges);
        if (out.n_edges == fresh.n_edges) {
            edge *a = edges_of(&out), *b = edges_of(&fresh);
            qsort(a, out.n_edges, sizeof *a, edge_cmp);
            qsort(b, out.n_edges, sizeof *b, edge_cmp);
            size_t diff = 0;
            for (size_t e = 0; e < out.n_edges; e++)
                diff += edge_cmp(a + e, b + e) != 0 || a[e].dist != b[e].dist;
            CHECK(diff == 0, "%s: filter at %g differs from a build in %zu edges",
                  what, r, diff);
            free(a);
            free(b);
        }
    }
    ms_neighbours_free(&out);
    ms_neighbours_free(&fresh);
}

/* Everything for one geometry and cutoff: full and half against the brute
 * force, full = 2 × half, determinism, filter at 0.7·rc and 0.4·rc. The
 * list `reuse` is rebuilt in place (buffers of earlier cases). */
static mlshift_neighbours reuse;

static void check_case(const char *what, size_t n, const double *pos,
                       const double *cell, const int *pbc, double rc)
{
    char name[256];
    mlshift_error err;
    mlshift_neighbours full = {0}, half = {0}, again = {0};
    mlshift_status st = mlshift_neighbours_build(&full, n, pos, cell, pbc, rc, 0, &err);
    CHECK(st == MLSHIFT_OK, "%s: build full: %s", what, st ? err.message : "");
    st = mlshift_neighbours_build(&half, n, pos, cell, pbc, rc, 1, &err);
    CHECK(st == MLSHIFT_OK, "%s: build half: %s", what, st ? err.message : "");
    if (full.first && half.first) {
        snprintf(name, sizeof name, "%s full rc=%g", what, rc);
        compare(name, &full, n, pos, cell, pbc, rc, 0);
        snprintf(name, sizeof name, "%s half rc=%g", what, rc);
        compare(name, &half, n, pos, cell, pbc, rc, 1);
        check_full_half(name, &full, &half);
        st = mlshift_neighbours_build(&again, n, pos, cell, pbc, rc, 0, &err);
        CHECK(st == MLSHIFT_OK && same_list(&full, &again),
              "%s: a second build differs", name);
        st = mlshift_neighbours_build(&reuse, n, pos, cell, pbc, rc, 0, &err);
        CHECK(st == MLSHIFT_OK && same_list(&full, &reuse),
              "%s: a build into reused buffers differs", name);
        check_filter(name, &full, n, pos, cell, pbc, 0.7 * rc);
        check_filter(name, &half, n, pos, cell, pbc, 0.4 * rc);
    }
    ms_neighbours_free(&full);
    ms_neighbours_free(&half);
    ms_neighbours_free(&again);
}

/* -------------------------------------------------------------- geometry */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(void) /* splitmix64 → [0, 1) */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* n random atoms inside the cell, each moved by a random lattice vector
 * (up to ±`unwrap` cells along periodic axes) so that the list must use the
 * original, unwrapped positions. */
static void random_in_cell(double *pos, size_t n, const double *cell,
                           const int *pbc, int unwrap)
{
    for (size_t i = 0; i < n; i++) {
        double f[3];
        for (int k = 0; k < 3; k++) {
            f[k] = uniform();
            if (unwrap && pbc[k])
                f[k] += (int)floor(uniform() * (2 * unwrap + 1)) - unwrap;
        }
        for (int d = 0; d < 3; d++)
            pos[3 * i + d] = f[0] * cell[d] + f[1] * cell[3 + d] + f[2] * cell[6 + d];
    }
}

static void test_molecules(void)
{
    /* Up to 64 atoms without periodic axes take the direct O(N²) path;
     * larger ones the cell list. */
    const size_t sizes[] = {1, 2, 21, 60, 65, 200};
    const double cuts[] = {1.5, 3.0, 5.0, 50.0};
    double *pos = malloc(200 * 3 * sizeof *pos);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        double box = 2.0 * cbrt((double)n) + 1; /* ~ molecular density */
        for (size_t i = 0; i < 3 * n; i++)
            pos[i] = (uniform() - 0.3) * box;
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            char what[64];
            snprintf(what, sizeof what, "molecule N=%zu", n);
            check_case(what, n, pos, NULL, NULL, cuts[c]);
            /* A cell that is not periodic along any axis changes nothing. */
            const double cell[9] = {3, 0, 0, 1, 4, 0, 0.5, 0.2, 2};
            const int nopbc[3] = {0, 0, 0};
            snprintf(what, sizeof what, "molecule N=%zu, cell, pbc F F F", n);
            check_case(what, n, pos, cell, nopbc, cuts[c]);
        }
    }
    /* A flat molecule (zero extent along z) and coincident atoms. */
    for (size_t i = 0; i < 80; i++) {
        pos[3 * i] = 10 * uniform();
        pos[3 * i + 1] = 10 * uniform();
        pos[3 * i + 2] = 1.25;
    }
    memcpy(pos + 3 * 80, pos, 3 * sizeof *pos); /* atom 80 on atom 0 */
    check_case("planar molecule with a duplicate atom", 81, pos, NULL, NULL, 2.5);
    check_case("small planar molecule with a duplicate atom", 12, pos + 3 * 70,
               NULL, NULL, 2.5);
    /* A dense cluster and one far outlier: many cells, all atoms in one, so
     * the first guess of the edge count is far too small (growth path). */
    for (size_t i = 0; i < 199; i++)
        for (int d = 0; d < 3; d++)
            pos[3 * i + d] = 1.5 * uniform();
    pos[3 * 199] = 1000;
    pos[3 * 199 + 1] = pos[3 * 199 + 2] = 0;
    check_case("cluster with an outlier", 200, pos, NULL, NULL, 3.0);
    free(pos);
}

/* fcc: closed-form coordination numbers and perturbed, unwrapped copies. */
static void test_fcc(void)
{
    const double a = 3.61; /* Cu */
    const int pbc[3] = {1, 1, 1};
    const double conv[9] = {a, 0, 0, 0, a, 0, 0, 0, a};
    const double prim[9] = {0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0};
    double basis[12] = {0, 0, 0, 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0};
    const double origin[3] = {0, 0, 0};
    /* Shells at a·√(k/2): 12, 6, 24, 12, 24, 8 atoms (k = 1..6). */
    const double cut[3] = {3.0, 4.0, 6.0};
    const size_t coord[3] = {12, 18, 78};
    for (int c = 0; c < 3; c++) {
        mlshift_neighbours nl = {0};
        mlshift_error err;
        mlshift_status st =
            mlshift_neighbours_build(&nl, 1, origin, prim, pbc, cut[c], 0, &err);
        CHECK(st == MLSHIFT_OK && nl.n_edges == coord[c],
              "fcc primitive rc=%g: %zu neighbours, want %zu", cut[c], nl.n_edges,
              coord[c]);
        st = mlshift_neighbours_build(&nl, 4, basis, conv, pbc, cut[c], 0, &err);
        CHECK(st == MLSHIFT_OK && nl.n_edges == 4 * coord[c],
              "fcc conventional rc=%g: %zu edges, want 4 × %zu", cut[c],
              nl.n_edges, coord[c]);
        st = mlshift_neighbours_build(&nl, 4, basis, conv, pbc, cut[c], 1, &err);
        CHECK(st == MLSHIFT_OK && nl.n_edges == 2 * coord[c],
              "fcc conventional half rc=%g: %zu edges, want 2 × %zu", cut[c],
              nl.n_edges, coord[c]);
        ms_neighbours_free(&nl);
    }
    check_case("fcc Cu primitive", 1, origin, prim, pbc, 5.0);
    check_case("fcc Cu conventional", 4, basis, conv, pbc, 5.0);
    /* Atoms on the cell faces: at exactly a, and at -0 / tiny negatives. */
    double face[12] = {a, a, a, 0, a / 2, a / 2, a / 2, -1e-17, a / 2, a / 2, a / 2, -0.0};
    check_case("fcc Cu atoms on faces", 4, face, conv, pbc, 5.0);
    for (int i = 0; i < 12; i++)
        basis[i] += 0.08 * (uniform() - 0.5);
    for (int i = 0; i < 4; i++) /* unwrap by lattice vectors */
        for (int d = 0; d < 3; d++)
            basis[3 * i + d] += a * ((i + d) % 3 - 1) * (i + 1);
    check_case("fcc Cu conventional perturbed, unwrapped", 4, basis, conv, pbc, 5.0);
    check_case("fcc Cu conventional perturbed, unwrapped", 4, basis, conv, pbc, 9.0);
}

static void test_small_cells(void)
{
    const int pbc[3] = {1, 1, 1};
    double pos[3 * 8];
    /* Strongly skewed: angles far from 90°, widths ~1 Å. */
    const double skew[9] = {4.0, 0, 0, 3.7, 1.2, 0, -3.5, 0.9, 1.1};
    random_in_cell(pos, 5, skew, pbc, 2);
    check_case("skewed triclinic", 5, pos, skew, pbc, 2.0);
    check_case("skewed triclinic", 5, pos, skew, pbc, 5.0);
    /* One atom, cutoff 3 × the cell: many self-images. */
    const double cube[9] = {2, 0, 0, 0, 2, 0, 0, 0, 2};
    const double one[3] = {0.3, -0.7, 5.1};
    check_case("one-atom cube", 1, one, cube, pbc, 6.0);
    mlshift_neighbours nl = {0};
    mlshift_error err;
    mlshift_neighbours_build(&nl, 1, one, cube, pbc, 6.0, 0, &err);
    size_t want = 0; /* integer points with 0 < |n| <= 3 */
    for (int x = -3; x <= 3; x++)
        for (int y = -3; y <= 3; y++)
            for (int z = -3; z <= 3; z++)
                want += x * x + y * y + z * z > 0 && x * x + y * y + z * z <= 9;
    CHECK(nl.n_edges == want, "one-atom cube: %zu self-images, want %zu",
          nl.n_edges, want);
    ms_neighbours_free(&nl);
    check_case("one-atom skewed", 1, one, skew, pbc, 3 * 4.0);
    /* Two atoms in a long thin cell: widths 1.5, 7 and 30 Å. */
    const double thin[9] = {1.5, 0, 0, 0.4, 7, 0, 0.2, 0.3, 30};
    random_in_cell(pos, 2, thin, pbc, 1);
    check_case("thin cell", 2, pos, thin, pbc, 4.0);
}

static void test_mixed_pbc(void)
{
    const double cell[9] = {7.1, 0, 0, 2.3, 6.4, 0, -1.2, 1.9, 8.3};
    const int pbcs[6][3] = {{1, 1, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1},
                            {1, 0, 1}, {0, 1, 1}};
    double pos[3 * 40];
    for (int p = 0; p < 6; p++) {
        random_in_cell(pos, 40, cell, pbcs[p], 2);
        for (int t = 0; t < 2; t++) {
            double rc = t ? 9.0 : 3.5;
            char what[64];
            snprintf(what, sizeof what, "triclinic pbc %d %d %d", pbcs[p][0],
                     pbcs[p][1], pbcs[p][2]);
            check_case(what, 40, pos, cell, pbcs[p], rc);
        }
    }
    /* A slab whose c vector is zero: the same list as with any c. */
    const int ttf[3] = {1, 1, 0};
    double flat[9];
    memcpy(flat, cell, sizeof flat);
    flat[6] = flat[7] = flat[8] = 0;
    random_in_cell(pos, 40, cell, ttf, 1);
    mlshift_neighbours a = {0}, b = {0};
    mlshift_error err;
    mlshift_status st = mlshift_neighbours_build(&a, 40, pos, flat, ttf, 6.0, 0, &err);
    CHECK(st == MLSHIFT_OK, "slab with c = 0: %s", st ? err.message : "");
    mlshift_neighbours_build(&b, 40, pos, cell, ttf, 6.0, 0, &err);
    edge *ea = edges_of(&a), *eb = edges_of(&b);
    qsort(ea, a.n_edges, sizeof *ea, edge_cmp);
    qsort(eb, b.n_edges, sizeof *eb, edge_cmp);
    CHECK(a.n_edges == b.n_edges && a.n_edges > 0,
          "slab with c = 0: %zu edges, with c: %zu", a.n_edges, b.n_edges);
    size_t diff = 0;
    for (size_t e = 0; e < a.n_edges && a.n_edges == b.n_edges; e++)
        diff += edge_cmp(ea + e, eb + e) != 0 || fabs(ea[e].dist - eb[e].dist) > 1e-12;
    CHECK(diff == 0, "slab with c = 0 differs from the slab with c in %zu edges",
          diff);
    free(ea);
    free(eb);
    ms_neighbours_free(&a);
    ms_neighbours_free(&b);
}

/* Random periodic boxes big enough for many cells, cubic and triclinic. */
static void test_boxes(void)
{
    const int pbc[3] = {1, 1, 1};
    const size_t n = 800;
    double L = cbrt(n / 0.1); /* 0.1 atoms/Å³ */
    const double cubic[9] = {L, 0, 0, 0, L, 0, 0, 0, L};
    const double tri[9] = {L, 0, 0, 0.31 * L, 0.95 * L, 0, -0.22 * L, 0.27 * L, 0.93 * L};
    double *pos = malloc(n * 3 * sizeof *pos);
    random_in_cell(pos, n, cubic, pbc, 0);
    check_case("random cubic box", n, pos, cubic, pbc, 5.0);
    random_in_cell(pos, n, tri, pbc, 3);
    check_case("random triclinic box, unwrapped", n, pos, tri, pbc, 5.0);
    check_case("random triclinic box, unwrapped", n, pos, tri, pbc, 11.0);
    free(pos);
}

/* --------------------------------------------------------------- OC20 */

/* Reads the first frame of an extxyz file: N, the header's Lattice and
 * pbc, and the first four columns (species, x, y, z). */
static int read_first_frame(const char *path, size_t *n, double **pos,
                            double cell[9], int pbc[3])
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[65536];
    int ok = fgets(line, sizeof line, fp) && sscanf(line, "%zu", n) == 1;
    ok = ok && fgets(line, sizeof line, fp);
    char *lat = ok ? strstr(line, "Lattice=\"") : NULL;
    ok = lat && sscanf(lat + 9, "%lf %lf %lf %lf %lf %lf %lf %lf %lf", cell,
                       cell + 1, cell + 2, cell + 3, cell + 4, cell + 5,
                       cell + 6, cell + 7, cell + 8) == 9;
    char *pb = ok ? strstr(line, "pbc=\"") : NULL;
    pbc[0] = pbc[1] = pbc[2] = 0;
    if (pb) {
        char f[3];
        if (sscanf(pb + 5, "%c %c %c", f, f + 1, f + 2) == 3)
            for (int k = 0; k < 3; k++)
                pbc[k] = f[k] == 'T';
    }
    *pos = ok ? malloc(*n * 3 * sizeof **pos) : NULL;
    for (size_t i = 0; ok && i < *n; i++) {
        char sym[16];
        ok = fgets(line, sizeof line, fp) &&
             sscanf(line, "%15s %lf %lf %lf", sym, *pos + 3 * i, *pos + 3 * i + 1,
                    *pos + 3 * i + 2) == 4;
    }
    fclose(fp);
    if (!ok) {
        free(*pos);
        *pos = NULL;
        return -1;
    }
    return 0;
}

static void test_oc20(void)
{
    static const char *ids[] = {"1000100", "1000120", "1000141", "1000142",
                                "1000156", "1000161", "1000163", "1000164",
                                "1000170", "1000187", "1000188", "1000194"};
    for (size_t t = 0; t < sizeof ids / sizeof *ids; t++) {
        char rel[64], what[96];
        snprintf(rel, sizeof rel, "oc20/random%s.extxyz", ids[t]);
        size_t n;
        double *pos, cell[9];
        int pbc[3];
        int rc = read_first_frame(check_data_path(rel), &n, &pos, cell, pbc);
        CHECK(rc == 0, "cannot read %s", check_data_path(rel));
        if (rc)
            continue;
        CHECK(pbc[0] && pbc[1] && pbc[2], "%s: header pbc is not T T T", rel);
        const int slab[3] = {1, 1, 0};
        snprintf(what, sizeof what, "%s pbc T T T", rel);
        check_case(what, n, pos, cell, pbc, 6.0);
        check_case(what, n, pos, cell, pbc, 12.0);
        snprintf(what, sizeof what, "%s pbc T T F", rel);
        check_case(what, n, pos, cell, slab, 6.0);
        check_case(what, n, pos, cell, slab, 12.0);
        free(pos);
    }
}

/* --------------------------------------------------------------- errors */

static void expect_error(const char *what, mlshift_status st,
                         const mlshift_error *err, mlshift_status want,
                         const char *needle)
{
    CHECK(st == want && err->status == want, "%s: status %d, want %d", what,
          (int)st, (int)want);
    CHECK(st == MLSHIFT_OK || (strstr(err->message, "neighbours") &&
                               (!needle || strstr(err->message, needle))),
          "%s: message \"%s\" lacks \"%s\"", what, err->message,
          needle ? needle : "neighbours");
}

static void test_errors(void)
{
    const int pbc[3] = {1, 1, 1}, ttf[3] = {1, 1, 0};
    const double cell[9] = {5, 0, 0, 0, 5, 0, 0, 0, 5};
    double pos[6] = {0, 0, 0, 1, 1, 1};
    mlshift_neighbours nl = {0};
    mlshift_error err;
    mlshift_status st;

    st = mlshift_neighbours_build(&nl, 0, NULL, NULL, NULL, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK && nl.n_edges == 0 && nl.n_atoms == 0 && nl.first &&
          nl.first[0] == 0, "n = 0 is an empty list");
    st = mlshift_neighbours_build(&nl, 0, NULL, cell, pbc, 3.0, 1, &err);
    CHECK(st == MLSHIFT_OK && nl.n_edges == 0, "n = 0 periodic is an empty list");

    pos[4] = NAN;
    st = mlshift_neighbours_build(&nl, 2, pos, cell, pbc, 3.0, 0, &err);
    expect_error("NaN position", st, &err, MLSHIFT_ERR_VALUE, "atom 1");
    CHECK(nl.n_edges == 0 && nl.n_atoms == 0, "a failed build leaves an empty list");
    pos[4] = INFINITY;
    st = mlshift_neighbours_build(&nl, 2, pos, NULL, NULL, 3.0, 0, &err);
    expect_error("Inf position", st, &err, MLSHIFT_ERR_VALUE, "not finite");
    pos[4] = 1;
    double bad[9];
    memcpy(bad, cell, sizeof bad);
    bad[4] = NAN;
    st = mlshift_neighbours_build(&nl, 2, pos, bad, pbc, 3.0, 0, &err);
    expect_error("NaN cell", st, &err, MLSHIFT_ERR_VALUE, "cell");
    bad[4] = -INFINITY;
    st = mlshift_neighbours_build(&nl, 2, pos, bad, NULL, 3.0, 0, &err);
    expect_error("Inf cell without pbc", st, &err, MLSHIFT_ERR_VALUE, "cell");
    const double cuts[4] = {0, -1, NAN, INFINITY};
    for (int c = 0; c < 4; c++) {
        st = mlshift_neighbours_build(&nl, 2, pos, cell, pbc, cuts[c], 0, &err);
        expect_error("bad cutoff", st, &err, MLSHIFT_ERR_VALUE, "cutoff");
    }
    const double zero[9] = {0};
    st = mlshift_neighbours_build(&nl, 2, pos, zero, pbc, 3.0, 0, &err);
    expect_error("zero cell, periodic", st, &err, MLSHIFT_ERR_VALUE, "zero");
    const double flat[9] = {5, 0, 0, 0, 5, 0, 3, 4, 0}; /* c in the ab plane */
    st = mlshift_neighbours_build(&nl, 2, pos, flat, pbc, 3.0, 0, &err);
    expect_error("coplanar cell", st, &err, MLSHIFT_ERR_VALUE, "singular");
    const double par[9] = {5, 0, 0, 10, 0, 0, 0, 0, 5}; /* b ∥ a */
    st = mlshift_neighbours_build(&nl, 2, pos, par, ttf, 3.0, 0, &err);
    expect_error("parallel a, b in a slab", st, &err, MLSHIFT_ERR_VALUE, "parallel");
    st = mlshift_neighbours_build(&nl, 2, pos, flat, ttf, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK, "a slab whose c lies in the ab plane is fine: %s",
          st ? err.message : "");
    st = mlshift_neighbours_build(&nl, 2, pos, zero, NULL, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK && nl.n_edges == 2,
          "a zero cell without pbc is no cell: %zu edges", nl.n_edges);
    st = mlshift_neighbours_build(&nl, 2, pos, NULL, ttf, 3.0, 0, &err);
    expect_error("pbc without cell", st, &err, MLSHIFT_ERR_VALUE, "no cell");
    st = mlshift_neighbours_build(&nl, 2, NULL, NULL, NULL, 3.0, 0, &err);
    expect_error("NULL positions", st, &err, MLSHIFT_ERR_VALUE, "NULL");
    st = mlshift_neighbours_build(NULL, 2, pos, NULL, NULL, 3.0, 0, &err);
    expect_error("NULL list", st, &err, MLSHIFT_ERR_VALUE, NULL);
    st = mlshift_neighbours_build(&nl, 2, pos, cell, pbc, 1e6, 0, &err);
    expect_error("cutoff 1e6 in a 5 Å cell", st, &err, MLSHIFT_ERR_VALUE, "images");
    st = mlshift_neighbours_build(&nl, 2, pos, cell, ttf, 1e6, 0, &err);
    expect_error("cutoff 1e6 in a 5 Å slab", st, &err, MLSHIFT_ERR_VALUE, "images");
    pos[0] = 1e12;
    st = mlshift_neighbours_build(&nl, 2, pos, cell, pbc, 3.0, 0, &err);
    expect_error("atom 2e11 cells away", st, &err, MLSHIFT_ERR_VALUE, "cells away");
    pos[0] = 0;
    /* Extreme but finite input: an answer or a clear error, never a crash. */
    const double huge[9] = {1e300, 0, 0, 0, 1e300, 0, 0, 0, 1e300};
    st = mlshift_neighbours_build(&nl, 2, pos, huge, pbc, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK || st == MLSHIFT_ERR_VALUE, "cell of 1e300 Å: %d", (int)st);
    const double tiny[9] = {1e-300, 0, 0, 0, 1e-300, 0, 0, 0, 1e-300};
    st = mlshift_neighbours_build(&nl, 2, pos, tiny, pbc, 3.0, 0, &err);
    expect_error("cell of 1e-300 Å", st, &err, MLSHIFT_ERR_VALUE, NULL);
    double far[3 * 100];
    for (int i = 0; i < 300; i++)
        far[i] = (i % 3 == 0 ? 1.7e308 : 0) * (i % 2 ? -1 : 1) + i;
    st = mlshift_neighbours_build(&nl, 100, far, NULL, NULL, 3.0, 0, &err);
    expect_error("atoms 1.7e308 Å out", st, &err, MLSHIFT_ERR_VALUE, "beyond");
    st = mlshift_neighbours_build(&nl, 2, far, NULL, NULL, 3.0, 0, &err);
    expect_error("atoms 1.7e308 Å out, direct", st, &err, MLSHIFT_ERR_VALUE, "beyond");
    for (int i = 0; i < 300; i++)
        far[i] = (i % 3 == 0 ? 1e14 : 0) * (i % 2 ? -1 : 1) + 7 * i;
    st = mlshift_neighbours_build(&nl, 100, far, NULL, NULL, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK, "atoms 1e14 Å out: %s", st ? err.message : "");
    compare("atoms 1e14 Å out", &nl, 100, far, NULL, NULL, 3.0, 0);
    /* After all those errors the same list still builds and is right. */
    st = mlshift_neighbours_build(&nl, 2, pos, cell, pbc, 3.0, 0, &err);
    CHECK(st == MLSHIFT_OK, "build after errors: %s", st ? err.message : "");
    compare("build after errors", &nl, 2, pos, cell, pbc, 3.0, 0);

    mlshift_neighbours out = {0};
    st = mlshift_neighbours_filter(&out, &nl, 4.0, &err);
    expect_error("filter beyond the cutoff", st, &err, MLSHIFT_ERR_VALUE, "longer");
    st = mlshift_neighbours_filter(&out, &nl, -1.0, &err);
    expect_error("filter at a negative cutoff", st, &err, MLSHIFT_ERR_VALUE, "cutoff");
    st = mlshift_neighbours_filter(&nl, &nl, 1.0, &err);
    expect_error("filter in place", st, &err, MLSHIFT_ERR_VALUE, "input");
    st = mlshift_neighbours_filter(&out, &nl, 3.0, &err);
    CHECK(st == MLSHIFT_OK && out.n_edges == nl.n_edges,
          "filter at the same cutoff keeps everything");
    ms_neighbours_free(&out);
    ms_neighbours_free(&nl);
    ms_neighbours_free(&nl); /* freeing twice is harmless */
    CHECK(nl.first == NULL && nl.capacity == 0, "free zeroes the list");
}

/* ------------------------------------------------ the public, opaque handle */

/* create, the accessors, filter and destroy: each accessor returns the field
 * it names, an empty list reads as empty, destroy takes NULL. */
static void test_public(void)
{
    const double cell[9] = {4, 0, 0, 0, 4.5, 0, 0.5, 0, 5};
    const int pbc[3] = {1, 1, 0};
    double pos[3 * 6];
    for (int k = 0; k < 3 * 6; k++)
        pos[k] = 0.37 * k - 0.11 * (k % 5);
    mlshift_error err;
    mlshift_neighbours *nl = mlshift_neighbours_create();
    mlshift_neighbours *cut = mlshift_neighbours_create();
    CHECK(nl && cut, "create");
    if (!nl || !cut)
        return;
    CHECK(mlshift_neighbours_n_atoms(nl) == 0 && mlshift_neighbours_n_edges(nl) == 0 &&
          mlshift_neighbours_cutoff(nl) == 0 && mlshift_neighbours_first(nl) == NULL,
          "a created list is empty");
    mlshift_status st = mlshift_neighbours_build(nl, 6, pos, cell, pbc, 3.5, 1, &err);
    CHECK(st == MLSHIFT_OK, "build through the handle: %s", st ? err.message : "");
    compare("public handle, half", nl, 6, pos, cell, pbc, 3.5, 1);
    CHECK(mlshift_neighbours_n_atoms(nl) == nl->n_atoms &&
          mlshift_neighbours_n_edges(nl) == nl->n_edges &&
          mlshift_neighbours_cutoff(nl) == 3.5 && mlshift_neighbours_half(nl) == 1 &&
          mlshift_neighbours_src(nl) == nl->src && mlshift_neighbours_dst(nl) == nl->dst &&
          mlshift_neighbours_shift(nl) == nl->shift && mlshift_neighbours_vec(nl) == nl->vec &&
          mlshift_neighbours_dist(nl) == nl->dist && mlshift_neighbours_first(nl) == nl->first,
          "each accessor returns its field");
    CHECK(nl->n_edges > 0 && mlshift_neighbours_first(nl)[6] == nl->n_edges,
          "first (N + 1,) ends at E: %zu edges", nl->n_edges);
    st = mlshift_neighbours_filter(cut, nl, 2.0, &err);
    CHECK(st == MLSHIFT_OK, "filter through the handles: %s", st ? err.message : "");
    compare("public handle, filtered", cut, 6, pos, cell, pbc, 2.0, 1);
    CHECK(mlshift_neighbours_cutoff(cut) == 2.0 && mlshift_neighbours_half(cut) == 1,
          "the filtered list's cutoff and kind");
    mlshift_neighbours_destroy(cut);
    mlshift_neighbours_destroy(nl);
    mlshift_neighbours_destroy(NULL);
}

/* ----------------------------------------------------------------- dump */

static int dump(const char *posfile, double rc, const char *outfile, int half)
{
    FILE *fp = fopen(posfile, "r");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", posfile);
        return 2;
    }
    size_t n;
    char word[64];
    double cell[9];
    int pbc[3], have_cell = 0;
    if (fscanf(fp, "%zu %63s", &n, word) != 2) {
        fprintf(stderr, "%s: bad header\n", posfile);
        fclose(fp);
        return 2;
    }
    if (strcmp(word, "none") != 0) {
        have_cell = 1;
        cell[0] = atof(word);
        for (int k = 1; k < 9; k++)
            if (fscanf(fp, "%lf", cell + k) != 1)
                have_cell = -1;
    }
    double *pos = malloc((3 * n + 1) * sizeof *pos);
    int ok = have_cell >= 0 && fscanf(fp, "%d %d %d", pbc, pbc + 1, pbc + 2) == 3;
    for (size_t i = 0; ok && i < 3 * n; i++)
        ok = fscanf(fp, "%lf", pos + i) == 1;
    fclose(fp);
    if (!ok) {
        fprintf(stderr, "%s: malformed\n", posfile);
        free(pos);
        return 2;
    }
    /* The public API alone, as an embedder would. */
    mlshift_neighbours *nl = mlshift_neighbours_create();
    mlshift_error err;
    if (mlshift_neighbours_build(nl, n, pos, have_cell ? cell : NULL, pbc, rc,
                                 half, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        free(pos);
        mlshift_neighbours_destroy(nl);
        return 1;
    }
    FILE *out = fopen(outfile, "w");
    if (!out) {
        fprintf(stderr, "cannot write %s\n", outfile);
        free(pos);
        mlshift_neighbours_destroy(nl);
        return 2;
    }
    const int32_t *src = mlshift_neighbours_src(nl), *dst = mlshift_neighbours_dst(nl);
    const int32_t *shift = mlshift_neighbours_shift(nl);
    const double *dist = mlshift_neighbours_dist(nl);
    for (size_t e = 0; e < mlshift_neighbours_n_edges(nl); e++)
        fprintf(out, "%d %d %d %d %d %.17g\n", src[e], dst[e], shift[3 * e],
                shift[3 * e + 1], shift[3 * e + 2], dist[e]);
    int bad = fclose(out) != 0;
    free(pos);
    mlshift_neighbours_destroy(nl);
    return bad ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--dump"))
        return dump(argv[2], atof(argv[3]), argv[4],
                    argc >= 6 && !strcmp(argv[5], "half"));
    test_errors();
    test_public();
    test_molecules();
    test_fcc();
    test_small_cells();
    test_mixed_pbc();
    test_boxes();
    test_oc20();
    ms_neighbours_free(&reuse);
    return check_done();
}

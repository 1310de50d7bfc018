/* SPDX-License-Identifier: MIT */
/* sGDML's two pieces of bookkeeping before training: the molecule's
 * permutational symmetries and the choice of training points.
 *
 * Symmetries: the automorphisms of the element-labelled bonded graph (bond:
 * distance < 1.25·(r_cov,i + r_cov,j), Cordero et al. 2008 radii). sGDML
 * itself matches eigenvectors of distance matrices over the training set
 * (utils/perm.py); for rigid molecules with rotors the two agree (the 2018
 * models' perms are the graph automorphisms: 4 for naphthalene, 12 for
 * toluene, 6 for aspirin, 1 for uracil — tested). Found by backtracking
 * over atoms with candidates restricted to the same colour of a
 * Weisfeiler–Lehman refinement (element, then neighbour colours).
 *
 * Sampling: sGDML's draw_strat_sample — Freedman–Diaconis bin width
 * h = 2·IQR/∛n_take on the energies, at most n_take/2 bins, per-bin counts
 * ⌈share·n_take⌉ capped at the bin's size, adjusted one at a time in
 * randomly chosen bins (weighted by count − 1) to the exact total, then a
 * uniform draw without replacement inside each bin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/util.h"
#include "sgdml.h"

static double rcov(int z)
{
    switch (z) {
    case 1: return 0.31;
    case 5: return 0.84;
    case 6: return 0.76;
    case 7: return 0.71;
    case 8: return 0.66;
    case 9: return 0.57;
    case 14: return 1.11;
    case 15: return 1.07;
    case 16: return 1.05;
    case 17: return 1.02;
    case 35: return 1.20;
    case 53: return 1.39;
    default: return 1.50;
    }
}

typedef struct perm_search {
    int n;
    const unsigned char *adj;   /* (N, N) bonded */
    const int *col;             /* (N,) refined colours */
    int *cur;                   /* (N,) partial map */
    unsigned char *used;        /* (N,) */
    int *out;                   /* (maxp, N) */
    int maxp, np, overflow;
} perm_search;

static void search(perm_search *s, int i)
{
    if (s->overflow)
        return;
    int n = s->n;
    if (i == n) {
        if (s->np == s->maxp) {
            s->overflow = 1;
            return;
        }
        memcpy(s->out + (size_t)s->np * n, s->cur, (size_t)n * sizeof *s->cur);
        s->np++;
        return;
    }
    for (int j = 0; j < n; j++) {
        if (s->used[j] || s->col[j] != s->col[i])
            continue;
        int ok = 1;
        for (int k = 0; k < i && ok; k++)
            ok = s->adj[(size_t)i * n + k] == s->adj[(size_t)j * n + s->cur[k]];
        if (!ok)
            continue;
        s->cur[i] = j;
        s->used[j] = 1;
        search(s, i + 1);
        s->used[j] = 0;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

mlshift_status ms_sgdml_graph_perms(int n, const int *z, const double *r,
                                    int *perms, int maxp, int *np,
                                    mlshift_error *err)
{
    *np = 0;
    unsigned char *adj = calloc((size_t)n * n + (size_t)n, 1);
    int *col = malloc(5 * (size_t)n * sizeof *col);
    uint64_t *key = malloc((size_t)n * (size_t)(n + 1) * sizeof *key);
    if (!adj || !col || !key) {
        free(adj);
        free(col);
        free(key);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml: out of memory for the "
                       "bond graph of %d atoms", n);
    }
    int *newc = col + n, *cur = col + 2 * n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double dx = r[3 * i] - r[3 * j], dy = r[3 * i + 1] - r[3 * j + 1];
            double dz = r[3 * i + 2] - r[3 * j + 2];
            double cut = 1.25 * (rcov(z[i]) + rcov(z[j]));
            adj[(size_t)i * n + j] = i != j && dx * dx + dy * dy + dz * dz < cut * cut;
        }
    /* colour refinement: colour = rank of (own colour, sorted neighbour
     * colours), starting from the element; n rounds at most */
    for (int i = 0; i < n; i++)
        col[i] = z[i];
    for (int round = 0; round < n; round++) {
        /* signature per atom hashed into 64 bits (collisions only merge
         * colours, which keeps the search exact, just slower) */
        uint64_t *tmp = key + (size_t)n * n;
        for (int i = 0; i < n; i++) {
            uint64_t *nb = key + (size_t)n + (size_t)i * (n - 1);
            int m = 0;
            for (int j = 0; j < n; j++)
                if (adj[(size_t)i * n + j])
                    nb[m++] = (uint64_t)col[j];
            qsort(nb, (size_t)m, sizeof *nb, cmp_u64);
            uint64_t h = 1469598103934665603ull ^ (uint64_t)col[i];
            for (int k = 0; k < m; k++)
                h = (h ^ (nb[k] + 0x9e3779b97f4a7c15ull)) * 1099511628211ull;
            h = (h ^ (uint64_t)m) * 1099511628211ull;
            tmp[i] = h;
        }
        /* rank the hashes */
        int changed = 0;
        for (int i = 0; i < n; i++) {
            int c = 0;
            for (int j = 0; j < n; j++)
                if (tmp[j] < tmp[i])
                    c++;
            newc[i] = c;
        }
        /* a refinement never merges classes; stop when the count is stable */
        int before = 0, after = 0;
        for (int i = 0; i < n; i++) {
            int fb = 1, fa = 1;
            for (int j = 0; j < i; j++) {
                if (col[j] == col[i])
                    fb = 0;
                if (newc[j] == newc[i])
                    fa = 0;
            }
            before += fb;
            after += fa;
        }
        changed = after > before;
        memcpy(col, newc, (size_t)n * sizeof *col);
        if (!changed && round > 0)
            break;
    }
    perm_search s = {n, adj, col, cur, adj + (size_t)n * n, perms, maxp, 0, 0};
    search(&s, 0);
    free(adj);
    free(col);
    free(key);
    if (s.overflow)
        return ms_fail(err, MLSHIFT_ERR_UNSUPPORTED, "sgdml: the bond graph has"
                       " more than %d automorphisms (train without "
                       "permutations)", maxp);
    /* the identity first */
    for (int p = 0; p < s.np; p++) {
        int id = 1;
        for (int i = 0; i < n && id; i++)
            id = perms[(size_t)p * n + i] == i;
        if (id && p) {
            for (int i = 0; i < n; i++) {
                perms[(size_t)p * n + i] = perms[i];
                perms[i] = i;
            }
        }
    }
    *np = s.np;
    return MLSHIFT_OK;
}

/* ------------------------------------------------------------- sampling */


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* numpy's percentile (linear interpolation) of sorted v (n,) */
static double percentile(const double *v, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

mlshift_status ms_sgdml_sample(const double *e, size_t n,
                               const unsigned char *excl, size_t n_take,
                               uint64_t *rng, size_t *idx, mlshift_error *err)
{
    size_t avail = 0;
    for (size_t i = 0; i < n; i++)
        avail += !(excl && excl[i]);
    if (n_take > avail)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "sgdml: %zu points requested, "
                       "only %zu frames available", n_take, avail);
    if (n_take == 0)
        return MLSHIFT_OK;
    double *v = malloc(n * sizeof *v);
    size_t nb_max = n_take / 2 > 0 ? n_take / 2 : 1;
    size_t *bin = malloc(n * sizeof *bin);
    size_t *cnt = calloc(2 * nb_max, sizeof *cnt), *take = cnt + nb_max;
    size_t *pool = malloc(n * sizeof *pool);
    if (!v || !bin || !cnt || !pool) {
        free(v);
        free(bin);
        free(cnt);
        free(pool);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "sgdml: out of memory sampling");
    }
    /* Freedman–Diaconis on all energies (as sGDML, before exclusion) */
    memcpy(v, e, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    double lo = v[0], hi = v[n - 1];
    double h = 2.0 * (percentile(v, n, 75) - percentile(v, n, 25)) /
               cbrt((double)n_take);
    size_t nb = h > 0 ? (size_t)ceil((hi - lo) / h) : 1;
    if (nb > nb_max)
        nb = nb_max;
    if (nb < 1)
        nb = 1;
    double width = (hi - lo) / (double)nb;
    for (size_t i = 0; i < n; i++) {
        size_t b = width > 0 ? (size_t)floor((e[i] - lo) / width) : 0;
        bin[i] = b >= nb ? nb - 1 : b;
        if (!(excl && excl[i]))
            cnt[bin[i]]++;
    }
    long total = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t t = (size_t)ceil((double)cnt[b] / (double)avail * (double)n_take);
        take[b] = t < cnt[b] ? t : cnt[b];
        total += (long)take[b];
    }
    while (total != (long)n_take) {
        int up = total < (long)n_take;
        double wsum = 0;
        for (size_t b = 0; b < nb; b++)
            if (up ? take[b] < cnt[b] : take[b] > 1)
                wsum += (double)(up ? cnt[b] - take[b] : take[b] - 1);
        double t = ms_rng_uniform(rng) * wsum;
        size_t pick = nb;
        for (size_t b = 0; b < nb; b++) {
            if (!(up ? take[b] < cnt[b] : take[b] > 1))
                continue;
            pick = b;
            t -= (double)(up ? cnt[b] - take[b] : take[b] - 1);
            if (t < 0)
                break;
        }
        if (pick == nb) {   /* only singleton bins left to drain */
            for (size_t b = 0; b < nb && pick == nb; b++)
                if (take[b] > 0)
                    pick = b;
        }
        take[pick] += up ? 1 : (size_t)-1;
        total += up ? 1 : -1;
    }
    size_t k = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (bin[i] == b && !(excl && excl[i]))
                pool[m++] = i;
        for (size_t t = 0; t < take[b]; t++) {   /* partial Fisher–Yates */
            size_t j = t + (size_t)(ms_rng_uniform(rng) * (double)(m - t));
            size_t tmp = pool[t];
            pool[t] = pool[j];
            pool[j] = tmp;
            idx[k++] = pool[t];
        }
    }
    qsort(idx, n_take, sizeof *idx, cmp_size);
    free(v);
    free(bin);
    free(cnt);
    free(pool);
    return MLSHIFT_OK;
}

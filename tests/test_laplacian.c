/* SPDX-License-Identifier: MIT */
/* Normalised-Laplacian spectra against closed forms: path, cycle and
 * complete graphs, isolated atoms, several components; the spectral
 * distance by hand. The edge lists are built here by brute force so the
 * test does not depend on the cell list.
 *
 * The batched path (several graphs of one size at once, as radius
 * refinement uses it) is checked against the same closed forms and bit for
 * bit against one graph at a time.
 *
 * `test_laplacian --dump XYZ CUTOFF` prints the spectrum of the molecule in
 * a plain "x y z" file, one eigenvalue a line, for the numpy reference. */
#include "check.h"
#include "graph/laplacian.h"
#include "graph/neighbours.h"
#include "mlshift.h"

#define PI 3.14159265358979323846

/* Full brute-force radius graph of n points (no cell) into nl. */
static void brute(mlshift_neighbours *nl, size_t n, const double *x, double rc)
{
    free(nl->src);
    free(nl->dst);
    free(nl->dist);
    free(nl->first);
    nl->src = malloc((n * n + 1) * sizeof *nl->src);
    nl->dst = malloc((n * n + 1) * sizeof *nl->dst);
    nl->dist = malloc((n * n + 1) * sizeof *nl->dist);
    nl->first = malloc((n + 1) * sizeof *nl->first);
    nl->vec = NULL;
    nl->shift = NULL;
    nl->n_atoms = n;
    nl->cutoff = rc;
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        nl->first[i] = e;
        for (size_t j = 0; j < n; j++) {
            double d2 = 0;
            for (int k = 0; k < 3; k++)
                d2 += (x[3 * j + k] - x[3 * i + k]) * (x[3 * j + k] - x[3 * i + k]);
            double d = sqrt(d2);
            if (i != j && d <= rc) {
                nl->src[e] = (int32_t)i;
                nl->dst[e] = (int32_t)j;
                nl->dist[e++] = d;
            }
        }
    }
    nl->first[n] = e;
    nl->n_edges = e;
}

static void free_brute(mlshift_neighbours *nl)
{
    free(nl->src);
    free(nl->dst);
    free(nl->dist);
    free(nl->first);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Spectrum of points x at cutoff rc compared with the sorted closed form. */
static void check_spectrum(const char *what, size_t n, const double *x,
                           double rc, double *want)
{
    mlshift_error err;
    mlshift_neighbours nl = {0};
    brute(&nl, n, x, rc);
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(n);
    double *eig = malloc(n * sizeof *eig);
    CHECK(mlshift_laplacian_spectrum(ws, &nl, rc, eig, &err) == MLSHIFT_OK,
          "%s: %s", what, err.message);
    qsort(want, n, sizeof *want, cmp_double);
    check_array_close(what, eig, want, n, 1e-12, 0);
    int asc = 1;
    for (size_t i = 1; i < n; i++)
        asc &= eig[i] >= eig[i - 1];
    CHECK(asc, "%s: ascending", what);
    free(eig);
    mlshift_spectrum_ws_destroy(ws);
    free_brute(&nl);
}

static void closed_forms(void)
{
    enum { N = 12 };
    double x[3 * N], want[N];
    /* Path P_n (atoms 1 Å apart on a line, cutoff 1.5):
     * λ_k = 1 − cos(πk/(n−1)), k = 0..n−1 (Chung, Spectral Graph Theory). */
    for (int i = 0; i < N; i++) {
        x[3 * i] = i;
        x[3 * i + 1] = x[3 * i + 2] = 0;
        want[i] = 1 - cos(PI * i / (N - 1));
    }
    check_spectrum("path P12", N, x, 1.5, want);
    /* Cycle C_n (regular polygon of side 1, cutoff 1.1; next-nearest
     * neighbours are 2cos(π/n) > 1.9 apart): λ_k = 1 − cos(2πk/n). */
    double R = 0.5 / sin(PI / N);
    for (int i = 0; i < N; i++) {
        x[3 * i] = R * cos(2 * PI * i / N);
        x[3 * i + 1] = R * sin(2 * PI * i / N);
        x[3 * i + 2] = 0;
        want[i] = 1 - cos(2 * PI * i / N);
    }
    check_spectrum("cycle C12", N, x, 1.1, want);
    /* Complete K_n (everything within the cutoff): 0 once, n/(n−1) n−1
     * times. */
    for (int i = 0; i < N; i++)
        want[i] = i ? (double)N / (N - 1) : 0.0;
    check_spectrum("complete K12", N, x, 100.0, want);
    /* All isolated: L = I, every eigenvalue 1. */
    for (int i = 0; i < N; i++)
        want[i] = 1.0;
    check_spectrum("isolated atoms", N, x, 0.5, want);
    /* Two far-apart triangles (K3 each) and two isolated atoms:
     * 0, 0 (two components), 1.5 ×4, 1, 1 (isolated). */
    double y[3 * 8] = {0, 0, 0, 1, 0, 0, 0.5, 0.8, 0,
                       10, 0, 0, 11, 0, 0, 10.5, 0.8, 0,
                       20, 0, 0, 30, 0, 0};
    double w8[8] = {0, 0, 1.5, 1.5, 1.5, 1.5, 1, 1};
    check_spectrum("two triangles + two isolated", 8, y, 1.2, w8);
    /* One atom: L = [1]. */
    double one[3] = {0, 0, 0}, w1[1] = {1};
    check_spectrum("one atom", 1, one, 5.0, w1);
}

/* Graph g of the batch tests on n atoms as a dmin matrix (n, n): 1 Å on an
 * edge, +inf elsewhere, so a 1.5 Å cutoff keeps exactly the edges; and its
 * spectrum in closed form (Chung, Spectral Graph Theory), ascending. */
enum { N_BATCH_GRAPHS = 6 };
static void batch_graph(int g, size_t n, double *dmin, double *want)
{
    for (size_t k = 0; k < n * n; k++)
        dmin[k] = INFINITY;
#define EDGE(i, j) (dmin[(i) + (j) * n] = dmin[(j) + (i) * n] = 1.0)
    size_t h = n / 2;
    for (size_t i = 0; i < n; i++) {
        switch (g) {
        case 0: /* path P_n: 1 − cos(πk/(n−1)) */
            if (i + 1 < n)
                EDGE(i, i + 1);
            want[i] = 1 - cos(PI * (double)i / (double)(n - 1));
            break;
        case 1: /* cycle C_n: 1 − cos(2πk/n) */
            EDGE(i, (i + 1) % n);
            want[i] = 1 - cos(2 * PI * (double)i / (double)n);
            break;
        case 2: /* star K_{1,n−1}: 0, 1 (n − 2 times), 2 */
            if (i)
                EDGE(0, i);
            want[i] = i == 0 ? 0.0 : i == n - 1 ? 2.0 : 1.0;
            break;
        case 3: /* complete bipartite K_{3,n−3}: 0, 1 (n − 2 times), 2 */
            for (size_t j = 3; j < n && i < 3; j++)
                EDGE(i, j);
            want[i] = i == 0 ? 0.0 : i == n - 1 ? 2.0 : 1.0;
            break;
        case 4: /* cycles C_h and C_{n−h}, h = n/2: each 1 − cos(2πk/size) */
            if (i < h) {
                EDGE(i, (i + 1) % h);
                want[i] = 1 - cos(2 * PI * (double)i / (double)h);
            } else {
                EDGE(i, h + (i - h + 1) % (n - h));
                want[i] = 1 - cos(2 * PI * (double)(i - h) / (double)(n - h));
            }
            break;
        default: /* path P_{n−2} and two isolated atoms: 1, 1 for those */
            if (i + 3 < n)
                EDGE(i, i + 1);
            want[i] = i + 2 < n ? 1 - cos(PI * (double)i / (double)(n - 3)) : 1.0;
            break;
        }
    }
#undef EDGE
    qsort(want, n, sizeof *want, cmp_double);
}

/* two_stage_min: from which n dsyevd_2stage replaces dsyevd (lowered here
 * so that small matrices exercise it). */
static void batched(size_t n, size_t two_stage_min)
{
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(n);
    ws->two_stage_min = two_stage_min;
    double *dmin = malloc(n * n * sizeof *dmin);
    double *A = malloc(9 * n * n * sizeof *A), *w = malloc(9 * n * sizeof *w);
    double *one = malloc(N_BATCH_GRAPHS * n * sizeof *one);
    double *want = malloc(N_BATCH_GRAPHS * n * sizeof *want);
    double *dinv = malloc(n * sizeof *dinv);
    /* One at a time first. */
    for (int g = 0; g < N_BATCH_GRAPHS; g++) {
        batch_graph(g, n, dmin, want + g * n);
        ms_laplacian_from_dmin(n, dmin, 1.5, A, dinv);
        CHECK(ms_eigenvalues_batch(ws, (int)n, 1, A, one + g * n) == 0,
              "n %zu graph %d: converged", n, g);
        check_array_close(check_msg_("n %zu graph %d alone", n, g), one + g * n,
                          want + g * n, n, 1e-12, 0);
    }
    /* Batches of 1..9 graphs (lanes of 4 and 2, a padded lane, several
     * rounds of QL lanes), starting at each graph in turn. */
    for (int nb = 1; nb <= 9; nb++)
        for (int g0 = 0; g0 < N_BATCH_GRAPHS; g0++) {
            for (int t = 0; t < nb; t++) {
                batch_graph((g0 + t) % N_BATCH_GRAPHS, n, dmin, w);
                ms_laplacian_from_dmin(n, dmin, 1.5, A + t * n * n, dinv);
            }
            CHECK(ms_eigenvalues_batch(ws, (int)n, nb, A, w) == 0,
                  "n %zu batch of %d: converged", n, nb);
            int same = 1, asc = 1;
            double worst = 0;
            for (int t = 0; t < nb; t++) {
                int g = (g0 + t) % N_BATCH_GRAPHS;
                same &= memcmp(w + t * n, one + g * n, n * sizeof *w) == 0;
                for (size_t i = 0; i < n; i++) {
                    worst = fmax(worst, fabs(w[t * n + i] - want[g * n + i]));
                    asc &= i == 0 || w[t * n + i] >= w[t * n + i - 1];
                }
            }
            CHECK(worst <= 1e-12, "n %zu batch of %d from graph %d: max error %g",
                  n, nb, g0, worst);
            CHECK(asc, "n %zu batch of %d: ascending", n, nb);
            CHECK(same, "n %zu batch of %d from graph %d: same bits as one at "
                  "a time", n, nb, g0);
        }
    free(dinv);
    free(want);
    free(one);
    free(w);
    free(A);
    free(dmin);
    mlshift_spectrum_ws_destroy(ws);
}

/* The dmin route to the Laplacian (lower triangle, D^-1/2) against
 * mlshift_laplacian, bit for bit, on a random cloud at several cutoffs. */
static void dmin_route(void)
{
    enum { N = 23 };
    double x[3 * N], dmin[N * N], L[N * N], dinv[N];
    uint64_t s = 12345;
    for (int i = 0; i < 3 * N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = 6.0 * (double)(s >> 11) / 9007199254740992.0;
    }
    mlshift_neighbours nl = {0};
    mlshift_error err;
    brute(&nl, N, x, 9.0);
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(N);
    ms_pair_dmin(&nl, dmin);
    for (double rc = 0.5; rc <= 9.0; rc += 0.75) {
        ms_laplacian_from_dmin(N, dmin, rc, L, dinv);
        CHECK(mlshift_laplacian(ws, &nl, rc, &err) == MLSHIFT_OK, "%s", err.message);
        const double *ref = mlshift_laplacian_matrix(ws);
        int same = memcmp(dinv, ws->dinv, sizeof dinv) == 0;
        for (int j = 0; j < N; j++)
            for (int i = j; i < N; i++)
                same &= memcmp(&L[i + j * N], &ref[i + j * N], sizeof *L) == 0;
        CHECK(same, "cutoff %g: dmin route gives mlshift_laplacian's bits", rc);
    }
    mlshift_spectrum_ws_destroy(ws);
    free_brute(&nl);
}

/* The pair-list route of large structures (ms_pairs_build, _within,
 * ms_laplacian_from_pairs) against the dmin route, bit for bit: a periodic
 * box of 5 Å with a 6 Å list, so pairs come in several images and atoms
 * see their own images (no self loops); full and half lists; in double and
 * rounded to float (the single-precision solver's input). */
static void pair_route(void)
{
    enum { N = 60 };
    double x[3 * N], cell[9] = {5, 0, 0, 0.4, 5, 0, 0, 0, 5};
    int pbc[3] = {1, 1, 1};
    uint64_t s = 777;
    for (int i = 0; i < 3 * N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = 5.0 * (double)(s >> 11) / 9007199254740992.0;
    }
    static double dmin[N * N], Ld[N * N], L2[N * N];
    static float Lf[N * N];
    double dinv[N], dinv2[N];
    mlshift_error err;
    for (int half = 0; half <= 1; half++) {
        mlshift_neighbours *nl = mlshift_neighbours_create();
        CHECK(nl && mlshift_neighbours_build(nl, N, x, cell, pbc, 6.0, half, &err) ==
              MLSHIFT_OK, "periodic list: %s", err.message);
        ms_pairs p = {0};
        CHECK(ms_pairs_build(&p, nl) == 0, "pair list built");
        ms_pair_dmin(nl, dmin);
        int images = 0, self = 0;
        for (size_t e = 0; e < nl->n_edges; e++)
            self |= nl->src[e] == nl->dst[e];
        images = nl->n_edges > (half ? 1 : 2) * p.count;
        CHECK(self && images, "half %d: the list has self-images (%d) and repeated pairs "
              "(%zu edges, %zu pairs)", half, self, nl->n_edges, p.count);
        int sorted = 1, pairs_ok = 1;
        for (size_t k = 0; k < p.count; k++) {
            sorted &= p.lo[k] < p.hi[k] && (k == 0 || p.lo[k] >= p.lo[k - 1]);
            pairs_ok &= p.d[k] == dmin[p.hi[k] + (size_t)p.lo[k] * N];
        }
        CHECK(sorted && pairs_ok, "half %d: pairs (lo < hi, grouped) at dmin's distances",
              half);
        for (double rc = 0.8; rc <= 6.0; rc += 0.9) {
            size_t want = 0;
            for (int i = 0; i < N; i++)
                for (int j = i + 1; j < N; j++)
                    want += dmin[j + i * N] <= rc;
            CHECK(ms_pairs_within(&p, rc) == want, "half %d cutoff %g: %zu pairs, "
                  "dmin counts %zu", half, rc, ms_pairs_within(&p, rc), want);
            ms_laplacian_from_dmin(N, dmin, rc, Ld, dinv);
            memset(L2, 0x7f, sizeof L2); /* garbage the route must overwrite */
            ms_laplacian_from_pairs(&p, rc, 0, L2, dinv2);
            int same = !memcmp(dinv, dinv2, sizeof dinv), same_f = 1;
            for (int j = 0; j < N; j++)
                for (int i = j; i < N; i++)
                    same &= !memcmp(&Ld[i + j * N], &L2[i + j * N], sizeof *Ld);
            memset(Lf, 0x7f, sizeof Lf);
            ms_laplacian_from_pairs(&p, rc, 1, Lf, dinv2);
            for (int j = 0; j < N; j++)
                for (int i = j; i < N; i++) {
                    float want_f = (float)Ld[i + j * N];
                    same_f &= !memcmp(&want_f, &Lf[i + j * N], sizeof want_f);
                }
            CHECK(same && same_f, "half %d cutoff %g: the pair route gives the dmin "
                  "route's bits (double %d, float %d)", half, rc, same, same_f);
        }
        ms_pairs_free(&p);
        mlshift_neighbours_destroy(nl);
    }
}

static void distance_and_errors(void)
{
    /* Eq. 5 by hand: (1 − 0)² + (2 − 1)² + (0 − 3)² (padding) = 11. */
    double a[2] = {0, 1}, avg[3] = {1, 2, 3};
    CHECK_CLOSE(mlshift_spectral_distance(a, 2, avg, 3), 11.0, 0, 1e-15,
                "padded distance");
    CHECK_CLOSE(mlshift_spectral_distance(avg, 3, a, 2), 11.0, 0, 1e-15,
                "padding is symmetric");
    CHECK(mlshift_spectral_distance(avg, 3, avg, 3) == 0.0, "self distance");

    mlshift_error err;
    mlshift_neighbours nl = {0};
    double x[6] = {0, 0, 0, 1, 0, 0};
    brute(&nl, 2, x, 2.0);
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(1);
    double eig[2];
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 2.0, eig, &err) == MLSHIFT_ERR_VALUE,
          "graph larger than the workspace is refused");
    mlshift_spectrum_ws_destroy(ws);
    ws = mlshift_spectrum_ws_create(2);
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 3.0, eig, &err) == MLSHIFT_ERR_VALUE,
          "cutoff beyond the list's is refused");
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 0.0, eig, &err) == MLSHIFT_ERR_VALUE,
          "zero cutoff is refused");
    /* Filtering inside: at 0.5 the pair is cut, both isolated. */
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 0.5, eig, &err) == MLSHIFT_OK &&
          eig[0] == 1.0 && eig[1] == 1.0, "cutoff below the list's filters");
    mlshift_spectrum_ws_destroy(ws);
    free_brute(&nl);
}

/* The single-precision route (from MLSHIFT_SINGLE_EIG atoms; lowered to
 * reach it at 300 here) against the double one on the same graph: a dense
 * random cluster of 300 atoms at 3 Å, ~20 neighbours each. ssyevd is
 * backward stable in float: |Δλ| <~ n ε_f ‖L‖ = 300 · 6e-8 · 2 ≈ 4e-5 at
 * worst; typically ~1e-6. Eq. 5 to an average of 21 values follows. */
static void single_route(void)
{
    size_t n = 300;
    double *x = malloc(3 * n * sizeof *x), side = cbrt((double)n / 0.1);
    unsigned long long s = 99;
    for (size_t i = 0; i < 3 * n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (double)(s >> 11) / 9007199254740992.0 * side;
    }
    mlshift_neighbours nl = {0};
    mlshift_error err;
    brute(&nl, n, x, 3.0);
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(n);
    double *e64 = malloc(n * sizeof *e64), *e32 = malloc(n * sizeof *e32);
    CHECK(ws && ws->single_min == MLSHIFT_SINGLE_EIG && MLSHIFT_SINGLE_EIG == 2000,
          "single precision from 2000 atoms by default");
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 3.0, e64, &err) == MLSHIFT_OK,
          "double spectrum");
    ws->single_min = 0;
    CHECK(mlshift_laplacian_spectrum(ws, &nl, 3.0, e32, &err) == MLSHIFT_OK,
          "single spectrum");
    check_array_close("300 atoms: float eigenvalues against double", e32, e64, n,
                      4e-5, 0);
    int ascending = 1;
    for (size_t i = 1; i < n; i++)
        ascending &= e32[i] >= e32[i - 1];
    CHECK(ascending, "float eigenvalues ascending");
    double avg[21];
    for (int l = 0; l < 21; l++)
        avg[l] = 1.6 * l / 20.0;
    double d64 = mlshift_spectral_distance(e64, n, avg, 21);
    double d32 = mlshift_spectral_distance(e32, n, avg, 21);
    CHECK_CLOSE(d32, d64, 0, 1e-5, "eq. 5 from float eigenvalues");
    mlshift_spectrum_ws_set_exact(ws, 1);
    CHECK(ws->single_min == SIZE_MAX, "exact: double at every size");
    mlshift_spectrum_ws_set_exact(ws, 0);
    CHECK(ws->single_min == MLSHIFT_SINGLE_EIG, "not exact: the default again");
    free(e64);
    free(e32);
    free(x);
    mlshift_spectrum_ws_destroy(ws);
    free_brute(&nl);
}

/* --dump POS RC [TWO_STAGE_MIN [SINGLE_MIN]]: the spectrum of the cluster
 * in POS (one "x y z" line per atom) at RC, one eigenvalue a line;
 * TWO_STAGE_MIN lowers the size from which dsyevd_2stage is used,
 * SINGLE_MIN the one from which ssyevd_2stage (single precision) is. */
static int dump(const char *path, double rc, size_t two_stage_min,
                size_t single_min)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 2;
    size_t n = 0, cap = 64;
    double *x = malloc(cap * 3 * sizeof *x);
    while (fscanf(fp, "%lf %lf %lf", &x[3 * n], &x[3 * n + 1], &x[3 * n + 2]) == 3)
        if (++n == cap)
            x = realloc(x, (cap *= 2) * 3 * sizeof *x);
    fclose(fp);
    mlshift_neighbours nl = {0};
    mlshift_error err;
    brute(&nl, n, x, rc);
    mlshift_spectrum_ws *ws = mlshift_spectrum_ws_create(n);
    ws->two_stage_min = two_stage_min;
    ws->single_min = single_min;
    double *eig = malloc((n ? n : 1) * sizeof *eig);
    if (mlshift_laplacian_spectrum(ws, &nl, rc, eig, &err) != MLSHIFT_OK)
        return 2;
    for (size_t i = 0; i < n; i++)
        printf("%.17g\n", eig[i]);
    free(eig);
    free(x);
    mlshift_spectrum_ws_destroy(ws);
    free_brute(&nl);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && argc <= 6 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2], atof(argv[3]),
                    argc >= 5 ? (size_t)atol(argv[4]) : MLSHIFT_TWO_STAGE_EIG,
                    argc >= 6 ? (size_t)atol(argv[5]) : MLSHIFT_SINGLE_EIG);
    closed_forms();
    batched(12, MLSHIFT_TWO_STAGE_EIG);
    batched(21, MLSHIFT_TWO_STAGE_EIG);
    /* Beyond MLSHIFT_SMALL_EIG, one at a time: dsyevd, then dsyevd_2stage
     * (from MLSHIFT_TWO_STAGE_EIG atoms on, lowered to reach it here). */
    batched(130, MLSHIFT_TWO_STAGE_EIG);
    batched(130, 0);
    single_route();
    dmin_route();
    pair_route();
    distance_and_errors();
    return check_done();
}

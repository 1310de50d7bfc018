/* SPDX-License-Identifier: MIT */
/* Training statistics, diagnosis and radius refinement on small graphs
 * whose spectra are known in closed form (path P_n: 1 − cos(πk/(n−1));
 * K_2: 0, 2; triangle K_3: 0, 3/2, 3/2; isolated atoms: 1). The expected
 * numbers are worked out by hand in the comments. The statistics are read
 * through the public accessors only (the struct is opaque). */
#include <unistd.h>

#include "check.h"
#include "mlshift.h"

/* Appends atoms on the x axis, `gap` Å apart, with numbers z. */
static void add_line(mlshift_frames *fr, size_t n, const int *z, double gap,
                     const double *forces)
{
    double pos[3 * 16] = {0};
    for (size_t i = 0; i < n; i++)
        pos[3 * i] = gap * (double)i;
    mlshift_frame f = {0};
    f.natoms = n;
    f.numbers = z;
    f.positions = pos;
    f.forces = forces;
    mlshift_error err;
    if (mlshift_frames_append(fr, &f, "test", &err))
        fprintf(stderr, "append: %s\n", err.message);
}

static void add_triangle(mlshift_frames *fr, const int *z, const double *forces)
{
    double pos[9] = {0, 0, 0, 1, 0, 0, 0.5, 0.8660254037844386, 0};
    mlshift_frame f = {0};
    f.natoms = 3;
    f.numbers = z;
    f.positions = pos;
    f.forces = forces;
    mlshift_error err;
    mlshift_frames_append(fr, &f, "test", &err);
}

/* A: P3 as C H H with |F| = 5, 0, 0; B: K2 as H H, no forces; C: K3 as
 * C C O with |F| = 1 each. Cutoff 1.5 Å. */
static mlshift_frames *training(void)
{
    static const int zA[3] = {6, 1, 1}, zB[2] = {1, 1}, zC[3] = {6, 6, 8};
    static const double fA[9] = {3, 4, 0, 0, 0, 0, 0, 0, 0};
    static const double fC[9] = {0, 0, 1, 0, 1, 0, 1, 0, 0};
    mlshift_frames *fr = mlshift_frames_create();
    add_line(fr, 3, zA, 1.0, fA);
    add_line(fr, 2, zB, 1.0, NULL);
    add_triangle(fr, zC, fC);
    return fr;
}

/* Statistics of training() at 1.5 Å, read through the accessors. */
static mlshift_train_stats *test_stats(void)
{
    mlshift_error err;
    mlshift_frames *fr = training();
    mlshift_train_stats *st = NULL;
    CHECK(mlshift_stats_compute(fr, 1.5, NULL, NULL, &st, &err) == MLSHIFT_OK && st,
          "stats: %s", err.message);
    mlshift_frames_destroy(fr);
    if (!st)
        return NULL;
    const unsigned SIZE = MLSHIFT_OOD_SIZE, CARBON = MLSHIFT_OOD_CARBON,
                   FORCE = MLSHIFT_OOD_FORCE_NORM, CONN = MLSHIFT_OOD_CONNECTIVITY;
    CHECK(mlshift_stats_cutoff(st) == 1.5 && mlshift_stats_n_structures(st) == 3,
          "cutoff %g, %zu structures", mlshift_stats_cutoff(st),
          mlshift_stats_n_structures(st));
    /* Spectra (0,1,2), (0,2)+pad 0, (0,3/2,3/2): λ̄ = (0, 3/2, 7/6). */
    double avg[3] = {0, 1.5, 7.0 / 6.0};
    CHECK(mlshift_stats_natoms_max(st) == 3, "N_max %zu", mlshift_stats_natoms_max(st));
    check_array_close("average spectrum", mlshift_stats_spectrum(st), avg, 3, 1e-14, 0);
    /* D = 34/36, 58/36, 4/36: mean 8/9, std √488/36. */
    CHECK_CLOSE(mlshift_stats_mean(st, CONN), 8.0 / 9.0, 1e-14, 0, "spectral mean");
    CHECK_CLOSE(mlshift_stats_std(st, CONN), sqrt(488.0) / 36.0, 1e-14, 0, "spectral std");
    /* N = 3, 2, 3: mean 8/3, std √(6/27); x_C = 1/3, 0, 2/3: std √(2/27). */
    CHECK_CLOSE(mlshift_stats_mean(st, SIZE), 8.0 / 3.0, 1e-14, 0, "natoms mean");
    CHECK_CLOSE(mlshift_stats_std(st, SIZE), sqrt(6.0 / 27.0), 1e-14, 0, "natoms std");
    CHECK_CLOSE(mlshift_stats_mean(st, CARBON), 1.0 / 3.0, 1e-14, 0, "carbon mean");
    CHECK_CLOSE(mlshift_stats_std(st, CARBON), sqrt(2.0 / 27.0), 1e-14, 0, "carbon std");
    /* Force norms 5/3 and 1 (B has none): mean 4/3, std 1/3. */
    CHECK(mlshift_stats_n_force(st) == 2, "n_force %zu", mlshift_stats_n_force(st));
    CHECK(!strcmp(mlshift_stats_force_source(st), "labels"), "force source %s",
          mlshift_stats_force_source(st));
    CHECK_CLOSE(mlshift_stats_mean(st, FORCE), 4.0 / 3.0, 1e-14, 0, "force-norm mean");
    CHECK_CLOSE(mlshift_stats_std(st, FORCE), 1.0 / 3.0, 1e-14, 0, "force-norm std");
    CHECK(mlshift_stats_element_atoms(st, 1) == 4 && mlshift_stats_element_atoms(st, 6) == 3 &&
          mlshift_stats_element_atoms(st, 8) == 1 && mlshift_stats_element_atoms(st, 7) == 0,
          "element counts");
    CHECK(mlshift_stats_element_atoms(st, 0) == 0 && mlshift_stats_element_atoms(st, 119) == 0 &&
          mlshift_stats_element_atoms(st, -1) == 0, "no element outside 1..118");
    /* Hill formulas, sorted: C2O, CH2, H2. */
    size_t len = 0;
    const char *comp = mlshift_stats_compositions(st, &len);
    CHECK(mlshift_stats_n_compositions(st) == 3 && len == 11 && !strcmp(comp, "C2O") &&
          !strcmp(comp + 4, "CH2") && !strcmp(comp + 8, "H2"), "compositions");
    /* Flag rates on the training set: size |2 − 8/3| > 0.471 for B only;
     * carbon |x − 1/3| = 1/3 > 0.272 for B and C; connectivity, one-sided,
     * D − 32/36 > 0.614 for B only (26/36). The force norms 5/3 and 1 lie
     * exactly one std (1/3) from their mean, where rounding decides: a
     * share of the two structures that have one. */
    CHECK_CLOSE(mlshift_stats_train_ood(st, SIZE), 1.0 / 3.0, 1e-15, 0, "training size flags");
    CHECK_CLOSE(mlshift_stats_train_ood(st, CARBON), 2.0 / 3.0, 1e-15, 0,
                "training carbon flags");
    double rf = mlshift_stats_train_ood(st, FORCE);
    CHECK(rf == 0 || rf == 0.5 || rf == 1, "training force-norm flags %g", rf);
    CHECK_CLOSE(mlshift_stats_train_ood(st, CONN), 1.0 / 3.0, 1e-15, 0,
                "training connectivity flags");
    CHECK(isnan(mlshift_stats_mean(st, MLSHIFT_OOD_FEATURES)) &&
          isnan(mlshift_stats_std(st, 0)) &&
          isnan(mlshift_stats_train_ood(st, SIZE | CARBON)), "no numbers for another axis");

    mlshift_frames *empty = mlshift_frames_create();
    mlshift_train_stats *bad = (mlshift_train_stats *)&err; /* must become NULL */
    CHECK(mlshift_stats_compute(empty, 5.0, NULL, NULL, &bad, &err) ==
          MLSHIFT_ERR_VALUE && strstr(err.message, "empty") && !bad, "empty training set");
    add_line(empty, 1, (int[]){1}, 1.0, NULL);
    CHECK(mlshift_stats_compute(empty, 0.0, NULL, NULL, &bad, &err) ==
          MLSHIFT_ERR_VALUE && !bad, "zero cutoff");
    CHECK(mlshift_stats_compute(empty, 5.0, NULL, NULL, &bad, &err) == MLSHIFT_OK &&
          mlshift_stats_natoms_max(bad) == 1 && mlshift_stats_spectrum(bad)[0] == 1.0 &&
          mlshift_stats_std(bad, CONN) == 0.0, "one-atom training set: spectrum (1)");
    CHECK(mlshift_stats_n_force(bad) == 0 && !strcmp(mlshift_stats_force_source(bad), "none") &&
          isnan(mlshift_stats_mean(bad, FORCE)) && isnan(mlshift_stats_train_ood(bad, FORCE)),
          "no forces: source none, no force-norm numbers");
    mlshift_stats_destroy(bad);
    mlshift_stats_destroy(NULL);
    mlshift_frames_destroy(empty);
    return st;
}

static void test_file(const mlshift_train_stats *st)
{
    mlshift_error err;
    char path[64], bad[64];
    snprintf(path, sizeof path, "/tmp/mlshift-test-%ld.stats", (long)getpid());
    snprintf(bad, sizeof bad, "/tmp/mlshift-test-%ld.bad", (long)getpid());
    CHECK(mlshift_stats_write(st, path, &err) == MLSHIFT_OK, "write: %s", err.message);
    mlshift_train_stats *back = NULL;
    CHECK(mlshift_stats_read(path, &back, &err) == MLSHIFT_OK && back, "read: %s",
          err.message);
    if (back) {
        int same = mlshift_stats_cutoff(back) == mlshift_stats_cutoff(st) &&
                   mlshift_stats_n_structures(back) == mlshift_stats_n_structures(st) &&
                   mlshift_stats_natoms_max(back) == mlshift_stats_natoms_max(st) &&
                   mlshift_stats_n_force(back) == mlshift_stats_n_force(st) &&
                   !strcmp(mlshift_stats_force_source(back), mlshift_stats_force_source(st)) &&
                   !memcmp(mlshift_stats_spectrum(back), mlshift_stats_spectrum(st),
                           3 * sizeof(double));
        for (unsigned a = MLSHIFT_OOD_SIZE; a <= MLSHIFT_OOD_CONNECTIVITY; a <<= 1)
            same &= mlshift_stats_mean(back, a) == mlshift_stats_mean(st, a) &&
                    mlshift_stats_std(back, a) == mlshift_stats_std(st, a) &&
                    mlshift_stats_train_ood(back, a) == mlshift_stats_train_ood(st, a);
        for (int z = 1; z <= 118; z++)
            same &= mlshift_stats_element_atoms(back, z) == mlshift_stats_element_atoms(st, z);
        size_t la, lb;
        const char *ca = mlshift_stats_compositions(st, &la);
        const char *cb = mlshift_stats_compositions(back, &lb);
        same &= mlshift_stats_n_compositions(back) == 3 && la == lb && !memcmp(ca, cb, la);
        CHECK(same, "statistics survive the file exactly");
    }
    mlshift_stats_destroy(back);

    struct { const char *text, *want; } cases[] = {
        {"{\"format\": \"mlshift-train-stats\", \"version\": 2}", "version 2"},
        {"{\"format\": \"something-else\", \"version\": 1}", "not an mlshift"},
        {"{\"format\": \"mlshift-train-stats\", \"version\": 1, ", ":1:"},
        {"[1, 2]", "not an mlshift"},
        {"{\"format\": \"mlshift-train-stats\", \"version\": 1, \"natoms\": {}}",
         "missing"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FILE *fp = fopen(bad, "w");
        fputs(cases[k].text, fp);
        fclose(fp);
        int s = mlshift_stats_read(bad, &back, &err);
        CHECK(s != MLSHIFT_OK && !back && strstr(err.message, bad) &&
              strstr(err.message, cases[k].want), "bad stats file %zu: %s", k,
              s ? err.message : "accepted");
    }
    /* A spectrum whose length disagrees with natoms.max. */
    FILE *in = fopen(path, "r"), *out = fopen(bad, "w");
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        char *p = strstr(line, "\"max\": 3");
        if (p)
            p[7] = '4';
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
    CHECK(mlshift_stats_read(bad, &back, &err) == MLSHIFT_ERR_FORMAT &&
          strstr(err.message, "inconsistent"), "spectrum length checked: %s",
          err.message);
    CHECK(mlshift_stats_read("/nonexistent/x.stats", &back, &err) == MLSHIFT_ERR_IO,
          "missing file");
    remove(path);
    remove(bad);
}

static void test_diagnose(const mlshift_train_stats *st)
{
    mlshift_error err;
    mlshift_shift_ws *ws = mlshift_shift_ws_create();
    mlshift_frames *fr = mlshift_frames_create();
    add_line(fr, 3, (int[]){6, 1, 1}, 1.0, NULL);       /* like A */
    add_line(fr, 3, (int[]){7, 1, 1}, 1.0, NULL);       /* unseen N */
    add_line(fr, 4, (int[]){6, 6, 6, 6}, 1.0, NULL);    /* P4, C4 */
    add_line(fr, 3, (int[]){1, 6, 1}, 1.0, NULL);       /* CH2 again */
    mlshift_diagnosis d;
    mlshift_frame f;

    mlshift_frames_get(fr, 0, &f);
    CHECK(mlshift_diagnose(st, &f, NAN, ws, &d, &err) == MLSHIFT_OK, "%s", err.message);
    CHECK_CLOSE(d.spectral_distance, 34.0 / 36.0, 1e-14, 0, "distance of P3");
    CHECK(d.ood == 0 && d.composition_seen && !d.padded && !d.n_unseen_elements,
          "a training-like structure is in distribution (ood %x)", d.ood);

    mlshift_frames_get(fr, 1, &f);
    mlshift_diagnose(st, &f, NAN, ws, &d, &err);
    /* N H H: x_C = 0 is 1/3 from the mean, beyond √(2/27) ≈ 0.27. */
    CHECK(d.n_unseen_elements == 1 && d.unseen_elements[0] == 7 &&
          d.ood == (MLSHIFT_OOD_FEATURES | MLSHIFT_OOD_CARBON),
          "unseen nitrogen: features and carbon fraction (%x)", d.ood);

    /* P4 spectrum (0, 1/2, 3/2, 2) against λ̄ padded to (0, 3/2, 7/6, 0):
     * 1 + 1/9 + 4 = 46/9; size, carbon and connectivity flags too. */
    mlshift_frames_get(fr, 2, &f);
    mlshift_diagnose(st, &f, NAN, ws, &d, &err);
    CHECK_CLOSE(d.spectral_distance, 46.0 / 9.0, 1e-13, 0, "padded P4 distance");
    CHECK(d.padded && d.ood == (MLSHIFT_OOD_FEATURES | MLSHIFT_OOD_SIZE |
                                MLSHIFT_OOD_CARBON | MLSHIFT_OOD_CONNECTIVITY),
          "P4: padded, features+size+carbon+connectivity (%x)", d.ood);

    /* Same composition in another atom order; force norm 3 is beyond
     * 4/3 ± 1/3, 1.5 is within. */
    mlshift_frames_get(fr, 3, &f);
    mlshift_diagnose(st, &f, 3.0, ws, &d, &err);
    CHECK(d.composition_seen && d.ood == MLSHIFT_OOD_FORCE_NORM,
          "force-norm flag alone (%x)", d.ood);
    mlshift_diagnose(st, &f, 1.5, ws, &d, &err);
    CHECK(d.ood == 0, "force norm within one std");
    mlshift_frames_destroy(fr);
    mlshift_shift_ws_destroy(ws);
}

static void test_refine(void)
{
    mlshift_error err;
    /* Training: P3 at 1 Å spacing, cutoff 1.5 → λ̄ = (0, 1, 2), D = 0. */
    mlshift_frames *tr = mlshift_frames_create();
    for (int k = 0; k < 4; k++)
        add_line(tr, 3, (int[]){1, 1, 1}, 1.0, NULL);
    mlshift_train_stats *st = NULL;
    CHECK(mlshift_stats_compute(tr, 1.5, NULL, NULL, &st, &err) == MLSHIFT_OK, "%s",
          err.message);
    if (!st)
        return;
    mlshift_shift_ws *ws = mlshift_shift_ws_create();
    mlshift_frames *te = mlshift_frames_create();
    add_line(te, 3, (int[]){1, 1, 1}, 2.0, NULL);  /* stretched: isolated at 1.5 */
    add_line(te, 3, (int[]){1, 1, 1}, 1.0, NULL);  /* like training */
    mlshift_frame f;
    mlshift_refinement r;
    double dist[3];

    /* At 1.5: isolated (1,1,1), D = 1 + 0 + 1 = 2; at 2.5 and 3.0 a path,
     * D = 0; at 4.5 a triangle (0, 3/2, 3/2), D = 1/4 + 1/4. */
    mlshift_frames_get(te, 0, &f);
    double radii[3] = {1.0, 2.5, 4.5};
    CHECK(mlshift_refine_radius(st, &f, radii, 3, ws, &r, dist, &err) == MLSHIFT_OK,
          "%s", err.message);
    CHECK(r.radius == 2.5 && r.spectral_distance < 1e-14 &&
          fabs(r.spectral_distance_train - 2.0) < 1e-14, "stretched path → 2.5 Å");
    CHECK(fabs(dist[0] - 2.0) < 1e-14 && fabs(dist[2] - 0.5) < 1e-14,
          "distances per radius %g %g %g", dist[0], dist[1], dist[2]);
    /* Degrees at 1.5: all 0 (std 0); at 2.5: 1, 2, 1 (std √2/3). */
    CHECK(r.degree_std_train == 0 && fabs(r.degree_std - sqrt(2.0) / 3.0) < 1e-14,
          "degree std before/after");
    double tie[2] = {3.0, 2.5};
    mlshift_refine_radius(st, &f, tie, 2, ws, &r, NULL, &err);
    CHECK(r.radius == 2.5, "tie between two radii goes to the smaller (%g)", r.radius);

    mlshift_frames_get(te, 1, &f);
    double around[3] = {1.2, 1.8, 1.5};
    mlshift_refine_radius(st, &f, around, 3, ws, &r, NULL, &err);
    CHECK(r.radius == 1.5, "tie with the training cutoff keeps it (%g)", r.radius);
    double worse[2] = {0.5, 5.0};
    mlshift_refine_radius(st, &f, worse, 2, ws, &r, NULL, &err);
    CHECK(r.radius == 1.5 && r.spectral_distance == 0,
          "the training cutoff is always a candidate (%g)", r.radius);

    double bad1[2] = {2.0, 2.0}, bad2[1] = {-1.0}, bad3[1] = {NAN};
    CHECK(mlshift_refine_radius(st, &f, bad1, 2, ws, &r, NULL, &err) ==
          MLSHIFT_ERR_VALUE && strstr(err.message, "twice"), "duplicated radius");
    CHECK(mlshift_refine_radius(st, &f, bad2, 1, ws, &r, NULL, &err) ==
          MLSHIFT_ERR_VALUE, "negative radius");
    CHECK(mlshift_refine_radius(st, &f, bad3, 1, ws, &r, NULL, &err) ==
          MLSHIFT_ERR_VALUE, "NaN radius");
    CHECK(mlshift_refine_radius(st, &f, radii, 0, ws, &r, NULL, &err) ==
          MLSHIFT_ERR_VALUE, "no radii");

    /* One radius for the set {stretched, regular}: mean D at 1.5 is
     * (2 + 0)/2 = 1; at 2.5: (0 + D(K3) = 1/2)/2 = 1/4 → 2.5. */
    size_t idx[2] = {0, 1};
    CHECK(mlshift_refine_radius_set(st, te, idx, 2, radii, 3, ws, &r, &err) ==
          MLSHIFT_OK && r.radius == 2.5 && fabs(r.spectral_distance - 0.25) < 1e-14 &&
          fabs(r.spectral_distance_train - 1.0) < 1e-14, "per-set radius %g", r.radius);

    /* A one-atom structure: spectrum (1) at any radius. */
    mlshift_frames *one = mlshift_frames_create();
    add_line(one, 1, (int[]){1}, 1.0, NULL);
    mlshift_frames_get(one, 0, &f);
    CHECK(mlshift_refine_radius(st, &f, radii, 3, ws, &r, dist, &err) == MLSHIFT_OK &&
          r.radius == 1.5 && fabs(r.spectral_distance - 6.0) < 1e-14,
          "one atom: (1 − 0)² + 1 + 4 = 6, got %g", r.spectral_distance);
    mlshift_frames_destroy(one);

    /* Above 128 atoms the trial graphs are solved one per thread: a jittered
     * 6 × 6 × 6 grid (216 atoms) at 1, 2 and 3 threads gives the same
     * distances bit for bit, and the same radius. */
    {
        enum { NA = 216 };
        int zz[NA];
        double R[3 * NA];
        unsigned s = 12345;
        for (int i = 0; i < NA; i++) {
            zz[i] = 6;
            for (int c = 0; c < 3; c++) {
                s = s * 1103515245u + 12345u;
                int g = c == 0 ? i % 6 : c == 1 ? (i / 6) % 6 : i / 36;
                R[3 * i + c] = 1.1 * g + 0.3 * ((double)(s >> 8) / 16777216.0 - 0.5);
            }
        }
        mlshift_frame big = {0};
        big.natoms = NA;
        big.numbers = zz;
        big.positions = R;
        double rr[4] = {1.2, 1.8, 2.2, 2.9}, d1[4], dt[4];
        mlshift_refinement r1, rt;
        CHECK(mlshift_refine_radius(st, &big, rr, 4, ws, &r1, d1, &err) == MLSHIFT_OK,
              "216 atoms, 1 thread: %s", err.message);
        int same = 1;
        for (int T = 2; T <= 3; T++) {
            mlshift_shift_ws *w2 = mlshift_shift_ws_create();
            mlshift_shift_ws_set_threads(w2, T);
            same &= mlshift_refine_radius(st, &big, rr, 4, w2, &rt, dt, &err) == MLSHIFT_OK &&
                    !memcmp(d1, dt, sizeof d1) && rt.radius == r1.radius &&
                    rt.spectral_distance == r1.spectral_distance &&
                    rt.degree_std == r1.degree_std;
            mlshift_shift_ws_destroy(w2);
        }
        CHECK(same && d1[0] != d1[3],
              "216 atoms: 2 and 3 threads give 1 thread's distances bit for bit (%g %g %g %g)",
              d1[0], d1[1], d1[2], d1[3]);
    }
    mlshift_frames_destroy(te);
    mlshift_frames_destroy(tr);
    mlshift_shift_ws_destroy(ws);
    mlshift_stats_destroy(st);
}

int main(void)
{
    mlshift_train_stats *st = test_stats();
    if (st) {
        test_file(st);
        test_diagnose(st);
    }
    mlshift_stats_destroy(st);
    test_refine();
    return check_done();
}

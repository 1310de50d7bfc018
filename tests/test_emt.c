/* SPDX-License-Identifier: MIT */
/* The EMT prior: forces against central finite differences of the energy
 * (h = 1e-5 Å; |F − F_fd| <= 1e-8 + 1e-6·|F_fd|, worst entry reported) on
 * clusters, random alloys with H, C, N, O, periodic fcc cells (cubic,
 * one-atom primitive, skewed triclinic, a slab) and the OC20 slab
 * random1000120; the virial against finite differences of the energy under
 * homogeneous strain (W_ab = −∂E/∂ε_ab); Newton's third law (ΣF = 0);
 * translation and rotation invariance; reuse of one prior across sizes; the
 * error cases (an element without parameters is named, an empty structure,
 * options). Equality with ASE's EMT is tests/reference/test_priors_ase.py.
 *
 * The force stencil is the five-point central difference.
 *
 * Dump mode for that test (works for any prior spec):
 *     test_emt --dump SPEC FILE OUT
 * reads FILE with mlshift_read and writes, per frame, "E energy", N lines
 * "F fx fy fz" and (if the prior has a virial) "W" and the 9 entries of W
 * row by row, every number %.17g. */
#include <stdint.h>
#include <string.h>

#include "prior_check.h"
#include "mlshift.h"

/* fcc lattice a, nx × ny × nz cubic cells, species drawn from zs[0..nz_),
 * displaced uniformly by ±amp. */
static void fcc_block(tframe *t, double a, int nx, int ny, int nz,
                      const int *zs, int nspec, double amp)
{
    static const double basis[4][3] = {
        {0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    t->n = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++)
            for (int k = 0; k < nz; k++)
                for (int b = 0; b < 4; b++) {
                    double *r = t->pos + 3 * t->n;
                    r[0] = a * (i + basis[b][0]) + amp * (2 * urand() - 1);
                    r[1] = a * (j + basis[b][1]) + amp * (2 * urand() - 1);
                    r[2] = a * (k + basis[b][2]) + amp * (2 * urand() - 1);
                    t->numbers[t->n] = zs[(int)(urand() * nspec) % nspec];
                    t->n++;
                }
    memset(t->cell, 0, sizeof t->cell);
    t->cell[0] = a * nx;
    t->cell[4] = a * ny;
    t->cell[8] = a * nz;
    t->has_cell = 0;
    t->pbc[0] = t->pbc[1] = t->pbc[2] = 0;
}

/* ------------------------------------------------------------ tests */

static void test_clusters(mlshift_prior *p)
{
    static tframe t;
    const int cu[] = {29};
    fcc_block(&t, 3.61, 2, 2, 2, cu, 1, 0.15);
    check_fd_forces(p, &t, "Cu32 cluster");
    check_fd_virial(p, &t, "Cu32 cluster", 1e-6);

    const int metals[] = {13, 29, 47, 79, 28, 46, 78};
    fcc_block(&t, 3.9, 2, 2, 2, metals, 7, 0.3);
    check_fd_forces(p, &t, "7-metal alloy cluster");

    const int all[] = {13, 29, 47, 79, 28, 46, 78, 1, 6, 7, 8};
    fcc_block(&t, 3.9, 2, 2, 1, all, 11, 0.4);
    check_fd_forces(p, &t, "alloy cluster with H, C, N, O");

    /* a dimer and an isolated atom far away (σ = 0 branch) */
    t.n = 3;
    t.numbers[0] = 29, t.numbers[1] = 79, t.numbers[2] = 78;
    double pos[9] = {0, 0, 0, 2.5, 0.3, -0.1, 30, 0, 0};
    memcpy(t.pos, pos, sizeof pos);
    t.has_cell = 0;
    check_fd_forces(p, &t, "dimer + isolated atom");

    /* a single atom: E = −E0 (σ = 0), as ASE; Cu E0 = −3.51 eV */
    t.n = 1;
    t.numbers[0] = 29;
    double e = energy_of(p, &t);
    CHECK_CLOSE(e, 3.51, 1e-12, 0, "single Cu atom energy = -E0");
}

static void test_periodic(mlshift_prior *p)
{
    static tframe t;
    const int metals[] = {29, 79, 78, 47};
    fcc_block(&t, 3.8, 2, 2, 2, metals, 4, 0.2);
    t.has_cell = 1;
    t.pbc[0] = t.pbc[1] = t.pbc[2] = 1;
    check_fd_forces(p, &t, "periodic 2x2x2 alloy");
    check_fd_virial(p, &t, "periodic 2x2x2 alloy", 1e-6);

    /* a slab: periodic along a, b only */
    t.pbc[2] = 0;
    check_fd_forces(p, &t, "slab 2x2x2 alloy");
    check_fd_virial(p, &t, "slab 2x2x2 alloy", 1e-6);

    /* one-atom primitive fcc cell (many images), displaced off the origin */
    t.n = 1;
    t.numbers[0] = 29;
    double a = 3.61;
    double cell[9] = {0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0};
    memcpy(t.cell, cell, sizeof cell);
    t.pos[0] = 0.1, t.pos[1] = -0.2, t.pos[2] = 0.05;
    t.pbc[2] = 1;
    check_fd_virial(p, &t, "primitive fcc Cu", 1e-6);
    mlshift_frame f = view(&t);
    double e, F[3];
    mlshift_error err;
    CHECK(mlshift_prior_compute(p, &f, &e, F, NULL, &err) == MLSHIFT_OK,
          "primitive fcc Cu compute");
    CHECK(fabs(F[0]) + fabs(F[1]) + fabs(F[2]) < 1e-12,
          "one-atom cell: force %g %g %g must vanish", F[0], F[1], F[2]);

    /* a skewed triclinic cell with two atoms */
    t.n = 2;
    t.numbers[0] = 79, t.numbers[1] = 46;
    double tri[9] = {2.9, 0, 0, 1.1, 2.7, 0, 0.6, -0.8, 3.1};
    memcpy(t.cell, tri, sizeof tri);
    double pos[6] = {0.2, 0.1, 0, 1.9, 1.4, 1.3};
    memcpy(t.pos, pos, sizeof pos);
    check_fd_forces(p, &t, "triclinic AuPd");
    check_fd_virial(p, &t, "triclinic AuPd", 1e-6);
}

static void test_oc20(mlshift_prior *p)
{
    mlshift_frames *fr = mlshift_frames_create();
    mlshift_error err;
    mlshift_status s = mlshift_read(
        fr, check_data_path("oc20/random1000120.extxyz"), NULL, &err);
    CHECK(s == MLSHIFT_OK, "read OC20: %s", s == MLSHIFT_OK ? "" : err.message);
    if (s == MLSHIFT_OK) {
        size_t pick[2] = {0, mlshift_frames_count(fr) - 1};
        for (int q = 0; q < 2; q++) {
            mlshift_frame f;
            mlshift_frames_get(fr, pick[q], &f);
            static tframe t;
            t.n = f.natoms;
            memcpy(t.numbers, f.numbers, f.natoms * sizeof(int));
            memcpy(t.pos, f.positions, 3 * f.natoms * sizeof(double));
            memcpy(t.cell, f.cell, sizeof t.cell);
            t.has_cell = 1;
            memcpy(t.pbc, f.pbc, sizeof t.pbc);
            char what[64];
            snprintf(what, sizeof what, "OC20 random1000120 frame %zu",
                     pick[q]);
            check_fd_forces(p, &t, what);
            check_fd_virial(p, &t, what, 1e-6);
        }
    }
    mlshift_frames_destroy(fr);
}

static void test_invariance(mlshift_prior *p)
{
    static tframe t, u;
    const int metals[] = {29, 79, 78, 8, 6};
    fcc_block(&t, 3.8, 2, 2, 1, metals, 5, 0.25);
    mlshift_frame f = view(&t);
    double e0, F0[512 * 3], e1, F1[512 * 3];
    mlshift_error err;
    mlshift_prior_compute(p, &f, &e0, F0, NULL, &err);
    /* rotate about an arbitrary axis and translate */
    double c = cos(0.7), s = sin(0.7);
    double R[9] = {c, -s, 0, s * 0.6, c * 0.6, -0.8, s * 0.8, c * 0.8, 0.6};
    u = t;
    for (size_t i = 0; i < t.n; i++)
        for (int a = 0; a < 3; a++) {
            u.pos[3 * i + a] = 5.0 - 2.0 * a;
            for (int b = 0; b < 3; b++)
                u.pos[3 * i + a] += R[3 * a + b] * t.pos[3 * i + b];
        }
    f = view(&u);
    mlshift_prior_compute(p, &f, &e1, F1, NULL, &err);
    CHECK_CLOSE(e1, e0, 1e-11, 1e-12, "energy after rotation + translation");
    double RF[512 * 3];
    for (size_t i = 0; i < t.n; i++)
        for (int a = 0; a < 3; a++) {
            RF[3 * i + a] = 0;
            for (int b = 0; b < 3; b++)
                RF[3 * i + a] += R[3 * a + b] * F0[3 * i + b];
        }
    check_array_close("forces rotate with the structure", F1, RF, 3 * t.n,
                      1e-11, 1e-10);
    /* permuting atoms permutes forces */
    u = t;
    for (size_t i = 0; i < t.n; i++) {
        size_t j = t.n - 1 - i;
        u.numbers[i] = t.numbers[j];
        memcpy(u.pos + 3 * i, t.pos + 3 * j, 3 * sizeof(double));
    }
    f = view(&u);
    mlshift_prior_compute(p, &f, &e1, F1, NULL, &err);
    CHECK_CLOSE(e1, e0, 1e-11, 1e-12, "energy after permutation");
    for (size_t i = 0; i < t.n; i++)
        memcpy(RF + 3 * i, F0 + 3 * (t.n - 1 - i), 3 * sizeof(double));
    check_array_close("forces permute with the atoms", F1, RF, 3 * t.n, 1e-11,
                      1e-10);
}

static void test_reuse(mlshift_prior *p)
{
    /* a big frame, then a small one, then the big one again: same numbers */
    static tframe big, small;
    const int cu[] = {29, 79};
    fcc_block(&big, 3.7, 4, 4, 4, cu, 2, 0.1);
    fcc_block(&small, 3.7, 1, 1, 1, cu, 2, 0.1);
    static double F1[512 * 3], F2[512 * 3];
    double e1, e2, es;
    mlshift_error err;
    mlshift_frame f = view(&big);
    mlshift_prior_compute(p, &f, &e1, F1, NULL, &err);
    f = view(&small);
    mlshift_prior_compute(p, &f, &es, F2, NULL, &err);
    f = view(&big);
    mlshift_prior_compute(p, &f, &e2, F2, NULL, &err);
    CHECK(e1 == e2 && !memcmp(F1, F2, 3 * big.n * sizeof(double)),
          "recompute after a smaller frame is bit-identical");
}

static void test_errors(mlshift_prior *p)
{
    static tframe t;
    mlshift_error err;
    double e, F[9];
    t.n = 3;
    t.numbers[0] = 29, t.numbers[1] = 26, t.numbers[2] = 79;  /* Fe */
    double pos[9] = {0, 0, 0, 2.5, 0, 0, 0, 2.5, 0};
    memcpy(t.pos, pos, sizeof pos);
    mlshift_frame f = view(&t);
    mlshift_status s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "Fe") &&
              strstr(err.message, "atom 1"),
          "Fe is refused, naming the element and atom: %s", err.message);
    t.numbers[1] = 92;  /* U */
    s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "element U "),
          "U is refused: %s", err.message);
    t.n = 0;
    f = view(&t);
    s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s != MLSHIFT_OK, "an empty structure is an error");
    mlshift_prior *q = NULL;
    s = mlshift_prior_create("emt:asap", &q, &err);
    CHECK(s == MLSHIFT_ERR_VALUE && q == NULL, "emt takes no options: %s",
          err.message);
    CHECK(mlshift_prior_caps(p) ==
              (MLSHIFT_PRIOR_PERIODIC | MLSHIFT_PRIOR_VIRIAL),
          "emt caps: periodic and virial");
    CHECK(!strcmp(mlshift_prior_spec(p), "emt"), "spec is kept");
}

/* ------------------------------------------------------------ dump */

static int dump(const char *spec, const char *in, const char *out)
{
    mlshift_error err;
    mlshift_prior *p = NULL;
    if (mlshift_prior_create(spec, &p, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    mlshift_frames *fr = mlshift_frames_create();
    if (mlshift_read(fr, in, NULL, &err) != MLSHIFT_OK) {
        fprintf(stderr, "%s\n", err.message);
        mlshift_prior_destroy(p);
        mlshift_frames_destroy(fr);
        return 2;
    }
    FILE *fp = fopen(out, "w");
    int rc = fp ? 0 : 2;
    int vir = (mlshift_prior_caps(p) & MLSHIFT_PRIOR_VIRIAL) != 0;
    double *F = NULL;
    size_t cap = 0;
    for (size_t k = 0; fp && k < mlshift_frames_count(fr); k++) {
        mlshift_frame f;
        mlshift_frames_get(fr, k, &f);
        if (3 * f.natoms > cap) {
            free(F);
            cap = 3 * f.natoms;
            F = malloc(cap * sizeof *F);
        }
        double e, W[9];
        if (mlshift_prior_compute(p, &f, &e, F, vir ? W : NULL, &err) !=
            MLSHIFT_OK) {
            fprintf(stderr, "frame %zu: %s\n", k, err.message);
            rc = 2;
            break;
        }
        fprintf(fp, "E %.17g\n", e);
        for (size_t i = 0; i < f.natoms; i++)
            fprintf(fp, "F %.17g %.17g %.17g\n", F[3 * i], F[3 * i + 1],
                    F[3 * i + 2]);
        if (vir) {
            fprintf(fp, "W");
            for (int q = 0; q < 9; q++)
                fprintf(fp, " %.17g", W[q]);
            fprintf(fp, "\n");
        }
    }
    if (fp && fclose(fp))
        rc = 2;
    free(F);
    mlshift_prior_destroy(p);
    mlshift_frames_destroy(fr);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--dump"))
        return dump(argv[2], argv[3], argv[4]);
    mlshift_error err;
    mlshift_prior *p = NULL;
    mlshift_status s = mlshift_prior_create("emt", &p, &err);
    CHECK(s == MLSHIFT_OK, "create emt: %s", s == MLSHIFT_OK ? "" : err.message);
    if (s != MLSHIFT_OK)
        return check_done();
    test_clusters(p);
    test_periodic(p);
    test_oc20(p);
    test_invariance(p);
    test_reuse(p);
    test_errors(p);
    check_coincident_refused(p, 29, "emt");
    mlshift_prior_destroy(p);
    return check_done();
}

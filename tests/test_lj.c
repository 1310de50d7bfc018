/* SPDX-License-Identifier: MIT */
/* The Lennard-Jones prior: a mixed dimer against the closed form written
 * here from the paper's UFF numbers (σ = x/2^(1/6), ε = D/23.0605,
 * Lorentz–Berthelot), for each cutoff mode; energy and force continuity at
 * the cutoff (smooth, fs) and the documented force jump (shift); forces
 * against central finite differences (five-point stencil, h = 1e-5 Å,
 * |F − F_fd| <= 1e-8 + 1e-6·|F_fd|) on mixed clusters, a triclinic periodic
 * cell shorter than the cutoff and a slab; the virial against strain
 * finite differences; Newton's third law; parameter files (override,
 * per-element rc, errors as FILE:LINE); spec options and their errors; an
 * element without parameters named; an empty structure refused. Equality
 * with ASE's LennardJones is tests/reference/test_priors_ase.py. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "prior_check.h"
#include "mlshift.h"

static mlshift_prior *make(const char *spec)
{
    mlshift_prior *p = NULL;
    mlshift_error err;
    mlshift_status s = mlshift_prior_create(spec, &p, &err);
    CHECK(s == MLSHIFT_OK, "create %s: %s", spec,
          s == MLSHIFT_OK ? "" : err.message);
    return p;
}

/* Energy and force on atom 1 along x of a dimer at distance r. */
static void dimer(mlshift_prior *p, int za, int zb, double r, double *e,
                  double *fx)
{
    tframe t = {0};
    t.n = 2;
    t.numbers[0] = za, t.numbers[1] = zb;
    t.pos[3] = r;
    mlshift_frame f = view(&t);
    double F[6];
    mlshift_error err;
    *e = *fx = NAN;
    if (mlshift_prior_compute(p, &f, e, F, NULL, &err) != MLSHIFT_OK)
        fprintf(stderr, "dimer: %s\n", err.message);
    else
        *fx = F[3];
}

/* n atoms of species zs, random in a box of side L with a minimum
 * separation dmin (rejection). */
static void random_cluster(tframe *t, size_t n, const int *zs, int nz,
                           double L, double dmin)
{
    t->n = 0;
    while (t->n < n) {
        double r[3] = {L * urand(), L * urand(), L * urand()};
        int ok = 1;
        for (size_t j = 0; j < t->n && ok; j++) {
            double d2 = 0;
            for (int k = 0; k < 3; k++)
                d2 += (r[k] - t->pos[3 * j + k]) * (r[k] - t->pos[3 * j + k]);
            ok = d2 > dmin * dmin;
        }
        if (!ok)
            continue;
        memcpy(t->pos + 3 * t->n, r, sizeof r);
        t->numbers[t->n] = zs[(int)(urand() * nz) % nz];
        t->n++;
    }
    t->has_cell = 0;
    t->pbc[0] = t->pbc[1] = t->pbc[2] = 0;
}

/* ------------------------------------------------------ closed forms */

/* UFF Table 1 (Rappé et al. 1992): Ar x = 3.868 Å, D = 0.185 kcal/mol;
 * Kr x = 4.141 Å, D = 0.220 kcal/mol. */
static void test_dimer_closed_form(void)
{
    double s_ar = 3.868 / pow(2, 1.0 / 6), e_ar = 0.185 / 23.0605;
    double s_kr = 4.141 / pow(2, 1.0 / 6), e_kr = 0.220 / 23.0605;
    double sig = (s_ar + s_kr) / 2, eps = sqrt(e_ar * e_kr);
    double rc = 3 * sig, ro = 0.66 * rc;
    const char *specs[3] = {"lj", "lj:cutoff=fs", "lj:cutoff=shift"};
    const double rs[5] = {0.9 * sig, pow(2, 1.0 / 6) * sig, 1.7 * sig,
                          2.3 * sig, 2.9 * sig};
    for (int m = 0; m < 3; m++) {
        mlshift_prior *p = make(specs[m]);
        if (!p)
            continue;
        for (int k = 0; k < 5; k++) {
            double r = rs[k];
            double sr6 = pow(sig / r, 6);
            double u = 4 * eps * (sr6 * sr6 - sr6);
            double du = 4 * eps * (-12 * sr6 * sr6 + 6 * sr6) / r;  /* u'(r) */
            double src6 = pow(sig / rc, 6);
            double urc = 4 * eps * (src6 * src6 - src6);
            double durc = 4 * eps * (-12 * src6 * src6 + 6 * src6) / rc;
            double ew, dw;  /* want: energy, dE/dr */
            if (m == 0) {
                double fc = 1, dfc = 0;  /* in r: f(r), df/dr */
                if (r > ro) {
                    double a = rc * rc - r * r, b = rc * rc - ro * ro;
                    fc = a * a * (rc * rc + 2 * r * r - 3 * ro * ro) /
                         (b * b * b);
                    dfc = 2 * r * 6 * a * (ro * ro - r * r) / (b * b * b);
                }
                ew = fc * u;
                dw = fc * du + dfc * u;
            } else if (m == 1) {
                ew = u - urc - (r - rc) * durc;
                dw = du - durc;
            } else {
                ew = u - urc;
                dw = du;
            }
            double e, fx;
            dimer(p, 18, 36, r, &e, &fx);
            CHECK_CLOSE(e, ew, 1e-15, 1e-12, "%s ArKr dimer energy at r = %g",
                        specs[m], r);
            CHECK_CLOSE(fx, -dw, 1e-15, 1e-12, "%s ArKr dimer force at r = %g",
                        specs[m], r);
        }
        /* at and across the cutoff */
        double e_in, f_in, e_out, f_out;
        dimer(p, 18, 36, rc * (1 - 1e-7), &e_in, &f_in);
        dimer(p, 18, 36, rc * (1 + 1e-12), &e_out, &f_out);
        CHECK(e_out == 0 && f_out == 0, "%s: beyond rc, E = %g, F = %g",
              specs[m], e_out, f_out);
        double src6 = pow(sig / rc, 6);
        double durc = 4 * eps * (-12 * src6 * src6 + 6 * src6) / rc;
        /* shift: E(rc − δ) ≈ −u'(rc) δ, δ = 1e-7 rc */
        CHECK(fabs(e_in) < (m < 2 ? 1e-15 : 2e-7 * rc * fabs(durc)),
              "%s: energy continuous at rc (%g just inside)", specs[m], e_in);
        if (m < 2)
            CHECK(fabs(f_in) < 1e-9, "%s: force continuous at rc (%g just "
                  "inside)", specs[m], f_in);
        else
            CHECK_CLOSE(f_in, -durc, 1e-12, 1e-5, "shift: the force jumps "
                        "from -u'(rc) to 0 at rc (as ASE smooth=False)");
        mlshift_prior_destroy(p);
    }
}

/* ------------------------------------------------------ finite differences */

static void test_fd(void)
{
    static tframe t;
    const int zs[] = {1, 6, 7, 8, 29, 79, 18};
    const char *specs[3] = {"lj", "lj:cutoff=fs", "lj:cutoff=shift"};
    for (int m = 0; m < 3; m++) {
        mlshift_prior *p = make(specs[m]);
        if (!p)
            continue;
        char what[128];
        random_cluster(&t, 40, zs, 7, 9.0, 2.4);
        snprintf(what, sizeof what, "%s: mixed cluster", specs[m]);
        check_fd_forces(p, &t, what);
        check_fd_virial(p, &t, what, 1e-7);
        /* periodic triclinic cell shorter than the cutoffs (~10 Å): a
         * rattled 2 × 2 × 2 grid in fractional coordinates */
        double cell[9] = {6.0, 0, 0, 1.2, 5.8, 0, -0.7, 0.9, 6.3};
        memcpy(t.cell, cell, sizeof cell);
        t.n = 8;
        for (size_t i = 0; i < 8; i++) {
            double fr[3] = {0.5 * (i & 1), 0.5 * ((i >> 1) & 1),
                            0.5 * ((i >> 2) & 1)};
            for (int k = 0; k < 3; k++)
                fr[k] += 0.04 * (2 * urand() - 1);
            for (int k = 0; k < 3; k++)
                t.pos[3 * i + k] = fr[0] * cell[k] + fr[1] * cell[3 + k] +
                                   fr[2] * cell[6 + k];
            t.numbers[i] = zs[(int)(urand() * 7) % 7];
        }
        t.has_cell = 1;
        t.pbc[0] = t.pbc[1] = t.pbc[2] = 1;
        snprintf(what, sizeof what, "%s: periodic triclinic", specs[m]);
        check_fd_forces(p, &t, what);
        check_fd_virial(p, &t, what, 1e-7);
        t.pbc[1] = 0;
        snprintf(what, sizeof what, "%s: periodic along a and c", specs[m]);
        check_fd_forces(p, &t, what);
        check_fd_virial(p, &t, what, 1e-7);
        mlshift_prior_destroy(p);
    }
}

/* ------------------------------------------------------ files and options */

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mlshift_test_lj_%d.txt", (int)getpid());
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    return path;
}

static void test_file(void)
{
    const char *path = write_tmp("# sigma_A epsilon_eV [rc_A]\n"
                                 "Ar 3.4 0.0104 8.5   # argon\n"
                                 "\n"
                                 "Xe 4.0 0.02\n");
    char spec[256];
    snprintf(spec, sizeof spec, "lj:%s,cutoff=fs", path);
    mlshift_prior *p = make(spec);
    if (p) {
        double sig = 3.7, eps = sqrt(0.0104 * 0.02), rc = (8.5 + 3 * 4.0) / 2;
        double r = 4.4;
        double sr6 = pow(sig / r, 6), src6 = pow(sig / rc, 6);
        double want = 4 * eps * (sr6 * sr6 - sr6) -
                      4 * eps * (src6 * src6 - src6) -
                      (r - rc) * 4 * eps * (-12 * src6 * src6 + 6 * src6) / rc;
        double e, fx;
        dimer(p, 18, 54, r, &e, &fx);
        CHECK_CLOSE(e, want, 1e-15, 1e-12, "file parameters, ArXe dimer");
        dimer(p, 18, 54, 0.999 * rc, &e, &fx);
        CHECK(e != 0, "file rc: Ar 8.5, Xe 3 sigma -> pair rc %g", rc);
        dimer(p, 18, 54, 1.001 * rc, &e, &fx);
        CHECK(e == 0, "file rc: zero beyond the mixed cutoff");
        /* an element the file does not name keeps its UFF values */
        dimer(p, 1, 1, 3.0, &e, &fx);
        double sh = 2.886 / pow(2, 1.0 / 6), eh = 0.044 / 23.0605;
        double s6 = pow(sh / 3.0, 6), c6 = pow(1.0 / 3, 6);
        double rch = 3 * sh;
        double wanth = 4 * eh * (s6 * s6 - s6) - 4 * eh * (c6 * c6 - c6) -
                       (3.0 - rch) * 4 * eh * (-12 * c6 * c6 + 6 * c6) / rch;
        CHECK_CLOSE(e, wanth, 1e-15, 1e-12, "H keeps UFF parameters");
        mlshift_prior_destroy(p);
    }
    struct {
        const char *text, *want;
    } bad[] = {
        {"Ar 3.4 0.01\nXe 4.0 abc\n", ":2: epsilon 'abc'"},
        {"Ar 3.4 0.01\n\nQq 1 1\n", ":3: unknown element 'Qq'"},
        {"Ar 3.4\n", ":1: want"},
        {"Ar 3.4 0.1 5 6\n", ":1: want"},
        {"Ar -3.4 0.1\n", ":1: sigma '-3.4'"},
        {"Ar 3.4 0.1 nan\n", ":1: rc 'nan'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        path = write_tmp(bad[k].text);
        snprintf(spec, sizeof spec, "lj:%s", path);
        mlshift_prior *q = NULL;
        mlshift_error err;
        mlshift_status s = mlshift_prior_create(spec, &q, &err);
        char want[256];
        snprintf(want, sizeof want, "%s%s", path, bad[k].want);
        CHECK(s == MLSHIFT_ERR_FORMAT && q == NULL &&
                  strstr(err.message, want),
              "bad file %zu: want '%s', got '%s'", k, want, err.message);
    }
    unlink(path);
    mlshift_prior *q = NULL;
    mlshift_error err;
    mlshift_status s =
        mlshift_prior_create("lj:/nonexistent/params.txt", &q, &err);
    CHECK(s == MLSHIFT_ERR_IO && q == NULL, "a missing file: %s", err.message);
}

static void test_options(void)
{
    const char *bad[] = {
        "lj:cutoff=hard",           "lj:sigma=3.4",
        "lj:epsilon=0.01",          "lj:rc=-1",
        "lj:rc=abc",                "lj:cutoff=fs,ro=5",
        "lj:rc=5,ro=6",             "lj:colour=blue",
        "lj:cutoff=fs,params.txt",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        mlshift_prior *q = NULL;
        mlshift_error err;
        mlshift_status s = mlshift_prior_create(bad[k], &q, &err);
        CHECK(s == MLSHIFT_ERR_VALUE && q == NULL, "%s is refused: %s", bad[k],
              err.message);
    }
    /* sigma/epsilon for every element, one rc */
    mlshift_prior *p = make("lj:sigma=2,epsilon=0.5,rc=5,cutoff=shift");
    if (p) {
        double e, fx, r = 2.5;
        dimer(p, 1, 79, r, &e, &fx);
        double s6 = pow(2 / r, 6), c6 = pow(2 / 5.0, 6);
        CHECK_CLOSE(e, 2 * (s6 * s6 - s6) - 2 * (c6 * c6 - c6), 1e-15, 1e-12,
                    "sigma/epsilon apply to every element");
        CHECK(mlshift_prior_caps(p) ==
                  (MLSHIFT_PRIOR_PERIODIC | MLSHIFT_PRIOR_VIRIAL),
              "lj caps");
        CHECK(!strcmp(mlshift_prior_spec(p),
                      "lj:sigma=2,epsilon=0.5,rc=5,cutoff=shift"),
              "spec kept");
        mlshift_prior_destroy(p);
    }
}

static void test_errors(void)
{
    mlshift_prior *p = make("lj");
    if (!p)
        return;
    tframe t = {0};
    t.n = 2;
    t.numbers[0] = 6, t.numbers[1] = 104;  /* Rf: not in UFF's table here */
    t.pos[3] = 3;
    mlshift_frame f = view(&t);
    double e, F[6];
    mlshift_error err;
    mlshift_status s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s == MLSHIFT_ERR_VALUE && strstr(err.message, "element Rf "),
          "Rf is refused, named: %s", err.message);
    t.n = 0;
    f = view(&t);
    s = mlshift_prior_compute(p, &f, &e, F, NULL, &err);
    CHECK(s != MLSHIFT_OK, "an empty structure is an error");
    /* every element H..Lr has parameters: a 103-atom chain computes */
    static tframe c;
    c.n = 103;
    for (int z = 1; z <= 103; z++) {
        c.numbers[z - 1] = z;
        c.pos[3 * (z - 1)] = 4.0 * z;
    }
    f = view(&c);
    s = mlshift_prior_compute(p, &f, &e, NULL, NULL, &err);
    CHECK(s == MLSHIFT_OK && isfinite(e), "H..Lr all have UFF parameters");
    check_coincident_refused(p, 6, "lj");
    mlshift_prior_destroy(p);
}

int main(void)
{
    rng_state = 0x243f6a8885a308d3ull; /* this test's own sequence */
    test_dimer_closed_form();
    test_fd();
    test_file();
    test_options();
    test_errors();
    return check_done();
}

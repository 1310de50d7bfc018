/* SPDX-License-Identifier: MIT */
/* Molecular dynamics (src/md): the unit constants against CODATA; NVE
 * energy conservation with EMT on a Cu13 cuboctahedron (the drift over the
 * run far below the energy fluctuation); velocity Verlet run forward, the
 * velocities negated, run back to the start to 1e-9 Å; Maxwell–Boltzmann:
 * zero centre-of-mass momentum, and the mean temperature of 2000 seeded
 * draws within 4σ of T(3N − 3)/(3N); bit-identical reruns with one seed,
 * different ones with another; Langevin (BAOAB) holding 64 harmonic atoms
 * at the target T within 3% on average, and Nosé–Hoover (MDsim's) holding
 * Cu13 near it; one Nosé–Hoover step against the formulas written out
 * here; h(r) of a 3-atom, 2-frame trajectory against a hand count; stops on
 * NaN, on T above and below the bounds, on bond collapse; stability time of
 * a built trajectory; the extxyz frame read back exactly (positions,
 * energy, forces, velocities); the energy-drift fit on a line; bad options
 * refused. Equality with ASE's VelocityVerlet is
 * tests/reference/test_md_ase.py. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"

/* ------------------------------------------------------------- helpers */

/* Cu13 cuboctahedron at the fcc nearest-neighbour distance a/√2. */
static void cu13(double *x, int *z)
{
    double h = 3.61 / 2;
    int k = 0;
    for (int c = 0; c < 3; c++)
        x[k++] = 0;
    for (int plane = 0; plane < 3; plane++)
        for (int s1 = -1; s1 <= 1; s1 += 2)
            for (int s2 = -1; s2 <= 1; s2 += 2) {
                double v[3] = {0, 0, 0};
                v[(plane + 1) % 3] = s1 * h;
                v[(plane + 2) % 3] = s2 * h;
                for (int c = 0; c < 3; c++)
                    x[k++] = v[c];
            }
    for (int i = 0; i < 13; i++)
        z[i] = 29;
}

static mlshift_frame frame_of(size_t n, const int *z, const double *x)
{
    mlshift_frame f = {0};
    f.natoms = n;
    f.numbers = z;
    f.positions = x;
    f.energy = NAN;
    return f;
}

/* Harmonic tethers: E = ½ k Σ |x_i − x0_i|², k in eV/Å². */
typedef struct harmonic {
    double k;
    const double *x0;
} harmonic;

static mlshift_status harmonic_compute(void *ctx, const mlshift_frame *f,
                                       double *e, double *F, mlshift_error *err)
{
    (void)err;
    const harmonic *h = ctx;
    *e = 0;
    for (size_t a = 0; a < 3 * f->natoms; a++) {
        double d = f->positions[a] - h->x0[a];
        *e += 0.5 * h->k * d * d;
        F[a] = -h->k * d;
    }
    return MLSHIFT_OK;
}

/* Free particles, or NaN from call `nan_at` on, or a constant pull. */
typedef struct toy {
    int calls, nan_at;
    double pull;  /* eV/Å along x on atom 1, opposite on atom 0 */
} toy;

static mlshift_status toy_compute(void *ctx, const mlshift_frame *f, double *e,
                                  double *F, mlshift_error *err)
{
    (void)err;
    toy *t = ctx;
    t->calls++;
    memset(F, 0, 3 * f->natoms * sizeof *F);
    *e = 0;
    if (t->nan_at && t->calls >= t->nan_at)
        *e = NAN;
    if (f->natoms >= 2) {
        F[3] = t->pull;
        F[0] = -t->pull;
    }
    return MLSHIFT_OK;
}

static mlshift_md *start(const mlshift_frame *f, const double *v,
                         const mlshift_md_calculator *c,
                         const mlshift_md_options *o)
{
    mlshift_md *md = NULL;
    mlshift_error err;
    if (mlshift_md_create(f, v, c, o, &md, &err) != MLSHIFT_OK)
        CHECK(0, "md create: %s", err.message); /* counts failures only */
    return md;
}

static void run(mlshift_md *md, uint64_t n)
{
    mlshift_error err;
    if (mlshift_md_run(md, n, 0, NULL, NULL, &err) != MLSHIFT_OK)
        CHECK(0, "md run: %s", err.message); /* counts failures only */
}

/* --------------------------------------------------------------- tests */

static void test_units(void)
{
    CHECK_CLOSE(MLSHIFT_FS_PER_ASE_TIME,
                1e5 * sqrt(MLSHIFT_CODATA_AMU / MLSHIFT_CODATA_E), 0, 2e-16,
                "ASE time unit in fs");
    CHECK_CLOSE(MLSHIFT_EV_PER_AMU_A2_FS2, 103.64269572045424, 0, 1e-15,
                "1 amu·Å²/fs² in eV");
    CHECK_CLOSE(MLSHIFT_KB_EV, 8.617330337217213e-05, 0, 1e-15, "k_B in eV/K");
}

static void test_nve_emt(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.dt_fs = 1.0;
    o.temperature_K = 300;
    o.seed = 7;
    mlshift_md *md = start(&f, NULL, &c, &o);
    if (!md)
        return;
    enum { STEPS = 4000 };
    static double t[STEPS + 1], e[STEPS + 1];
    mlshift_md_state s;
    double emin = INFINITY, emax = -INFINITY;
    for (int k = 0; k <= STEPS; k++) {
        if (k)
            run(md, 1);
        mlshift_md_get_state(md, &s);
        t[k] = s.time_fs * 1e-3;
        e[k] = s.potential + s.kinetic;
        emin = fmin(emin, e[k]);
        emax = fmax(emax, e[k]);
    }
    CHECK(s.stop == MLSHIFT_MD_RUNNING, "NVE stopped: %s", s.stop_reason);
    double drift, fluct;
    mlshift_error err;
    CHECK(mlshift_energy_drift(t, e, STEPS + 1, 13, 0.5, &drift, &fluct, &err) == 0,
          "drift");
    double span_ps = t[STEPS] - 0.5;
    /* The drift over the run is below the (bounded, O(dt²)) fluctuation,
     * and the whole range of E is 1% of the kinetic energy (3/2 N k_B T). */
    CHECK(fabs(drift) * 13 * span_ps < fluct, "NVE drift %.3g eV/atom/ps "
          "over %.3g ps vs fluctuation %.3g eV", drift, span_ps, fluct);
    CHECK(emax - emin < 0.01 * 1.5 * 13 * MLSHIFT_KB_EV * 300,
          "NVE total energy range %.3g eV", emax - emin);
    printf("NVE EMT Cu13 1 fs 4 ps: drift %.3g eV/atom/ps, fluctuation %.3g eV, "
           "range %.3g eV\n", drift, fluct, emax - emin);
    mlshift_md_destroy(md);
}

static void test_reversible(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.temperature_K = 600;
    o.seed = 3;
    mlshift_md *md = start(&f, NULL, &c, &o);
    if (!md)
        return;
    run(md, 300);
    mlshift_md_state s;
    mlshift_md_get_state(md, &s);
    double moved = 0;
    for (int a = 0; a < 39; a++)
        moved = fmax(moved, fabs(s.positions[a] - x[a]));
    double v[39];
    for (int a = 0; a < 39; a++)
        v[a] = -s.velocities[a];
    mlshift_frame g = frame_of(13, z, s.positions);
    mlshift_md *back = start(&g, v, &c, &o);
    if (back) {
        run(back, 300);
        mlshift_md_get_state(back, &s);
        double worst = 0;
        for (int a = 0; a < 39; a++)
            worst = fmax(worst, fabs(s.positions[a] - x[a]));
        CHECK(moved > 0.05 && worst < 1e-9, "Verlet reversal: moved %.3g Å, back "
              "to within %.3g Å", moved, worst);
    }
    mlshift_md_destroy(back);
    mlshift_md_destroy(md);
}

static void test_maxwell_boltzmann(void)
{
    enum { N = 10, SEEDS = 2000 };
    double x[3 * N];
    int z[N];
    for (int i = 0; i < N; i++) {
        z[i] = i % 2 ? 1 : 8; /* masses differ */
        for (int k = 0; k < 3; k++)
            x[3 * i + k] = 3.0 * i + k;
    }
    mlshift_frame f = frame_of(N, z, x);
    toy t = {0};
    mlshift_md_calculator c = {toy_compute, &t, NULL, NULL, 0, 0};
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.temperature_K = 300;
    double sum = 0, worst_p = 0;
    for (int s = 0; s < SEEDS; s++) {
        o.seed = (uint64_t)s;
        mlshift_md *md = start(&f, NULL, &c, &o);
        if (!md)
            return;
        mlshift_md_state st;
        mlshift_md_get_state(md, &st);
        double p[3] = {0, 0, 0}, pabs = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 3; k++) {
                p[k] += st.masses[i] * st.velocities[3 * i + k];
                pabs += st.masses[i] * fabs(st.velocities[3 * i + k]);
            }
        worst_p = fmax(worst_p, (fabs(p[0]) + fabs(p[1]) + fabs(p[2])) / pabs);
        sum += st.temperature;
        mlshift_md_destroy(md);
    }
    CHECK(worst_p < 1e-14, "COM momentum after the draw: %.3g of Σ m|v|", worst_p);
    double dof = 3.0 * N - 3, want = 300 * dof / (3.0 * N);
    double sigma = 300 / (3.0 * N) * sqrt(2 * dof) / sqrt((double)SEEDS);
    double mean = sum / SEEDS;
    CHECK(fabs(mean - want) < 4 * sigma, "MB mean T %.4g K, want %.4g ± %.3g",
          mean, want, sigma);
}

static void test_reproducible(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.integrator = MLSHIFT_MD_LANGEVIN;
    o.temperature_K = 400;
    double out[3][39];
    uint64_t seeds[3] = {11, 11, 12};
    for (int r = 0; r < 3; r++) {
        o.seed = seeds[r];
        mlshift_md *md = start(&f, NULL, &c, &o);
        if (!md)
            return;
        run(md, 100);
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        memcpy(out[r], s.positions, sizeof out[r]);
        mlshift_md_destroy(md);
    }
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0, "same seed, same bits");
    CHECK(memcmp(out[0], out[2], sizeof out[0]) != 0, "another seed differs");
}

static void test_langevin_temperature(void)
{
    enum { N = 64 };
    double x0[3 * N];
    int z[N];
    for (int i = 0; i < N; i++) {
        z[i] = 18; /* Ar */
        for (int k = 0; k < 3; k++)
            x0[3 * i + k] = 4.0 * ((i >> (2 * k)) & 3);
    }
    harmonic h = {1.0, x0};
    mlshift_md_calculator c = {harmonic_compute, &h, NULL, NULL, 0, 0};
    mlshift_frame f = frame_of(N, z, x0);
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.integrator = MLSHIFT_MD_LANGEVIN;
    o.dt_fs = 1.0;
    o.temperature_K = 300;
    o.seed = 2024;
    double v[3 * N];
    memset(v, 0, sizeof v); /* start cold: the thermostat must heat it */
    o.t_min_K = 0;
    mlshift_md *md = start(&f, v, &c, &o);
    if (!md)
        return;
    run(md, 2000);
    double sum = 0;
    int m = 0;
    for (int k = 0; k < 20000; k++) {
        run(md, 1);
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        sum += s.temperature;
        m++;
    }
    double mean = sum / m;
    CHECK(fabs(mean / 300 - 1) < 0.03, "Langevin mean T %.4g K over 20 ps, "
          "want 300 K within 3%%", mean);
    printf("Langevin BAOAB 64 harmonic Ar, γ 0.01/fs: mean T %.2f K (target 300)\n",
           mean);
    mlshift_md_destroy(md);
}

static void test_nose_hoover(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.integrator = MLSHIFT_MD_NOSE_HOOVER;
    o.dt_fs = 1.0;
    o.temperature_K = 300;
    o.seed = 5;
    mlshift_md *md = start(&f, NULL, &c, &o);
    if (!md)
        return;

    /* One step against the formulas of nose_hoover.c written out here. */
    mlshift_md_state s;
    mlshift_md_get_state(md, &s);
    double X[39], V[39], F0[39], m[13];
    memcpy(X, s.positions, sizeof X);
    memcpy(V, s.velocities, sizeof V);
    memcpy(F0, s.forces, sizeof F0);
    memcpy(m, s.masses, sizeof m);
    run(md, 1);
    mlshift_md_get_state(md, &s);
    const double C = MLSHIFT_EV_PER_AMU_A2_FS2, dt = 1.0;
    double kT = MLSHIFT_KB_EV * 300, Q = 39 * kT * 400, K0 = 0, K1 = 0, want[39];
    for (int a = 0; a < 39; a++) {
        double acc = F0[a] / (m[a / 3] * C);
        X[a] += dt * V[a] + 0.5 * dt * dt * acc; /* ζ = 0 at the start */
        K0 += 0.5 * m[a / 3] * V[a] * V[a] * C;
        V[a] += 0.5 * dt * acc;
        K1 += 0.5 * m[a / 3] * V[a] * V[a] * C;
    }
    double zeta = 0.5 * dt * (K0 - 19.5 * kT) / Q + 0.5 * dt * (K1 - 19.5 * kT) / Q;
    for (int a = 0; a < 39; a++)
        want[a] = (V[a] + 0.5 * dt * s.forces[a] / (m[a / 3] * C)) / (1 + 0.5 * dt * zeta);
    check_array_close("NH positions after one step", s.positions, X, 39, 1e-14, 1e-13);
    check_array_close("NH velocities after one step", s.velocities, want, 39, 1e-16, 1e-12);
    CHECK_CLOSE(s.zeta, zeta, 1e-20, 1e-12, "NH ζ after one step");

    run(md, 2000);
    double sum = 0;
    int n = 0;
    for (int k = 0; k < 10000; k++) {
        run(md, 1);
        mlshift_md_get_state(md, &s);
        sum += s.temperature;
        n++;
    }
    CHECK(s.stop == MLSHIFT_MD_RUNNING, "NH stopped: %s", s.stop_reason);
    CHECK(fabs(sum / n / 300 - 1) < 0.1, "Nose-Hoover mean T %.4g K, want 300 "
          "K within 10%%", sum / n);
    printf("Nose-Hoover Cu13 EMT: mean T %.2f K over 10 ps (target 300)\n", sum / n);
    mlshift_md_destroy(md);
}

static void test_hr(void)
{
    /* Frame 0: atoms on a line at 0, 1, 3 → d = 1, 2, 3.
     * Frame 1: a 3-4-5 right triangle → d = 3, 4, 5.
     * Bins of 0.5 Å on [0.25, 5.25]: edges 0.25 + 0.5 k; d = 1 → bin 1,
     * 2 → 3, 3 → 5 (twice), 4 → 7, 5 → 9. Ordered pairs: 12 in all, each
     * bin count ×2. density = count / (0.5 · 12). */
    mlshift_frames *fr = mlshift_frames_create();
    int z[3] = {6, 6, 6};
    double a[9] = {0, 0, 0, 1, 0, 0, 3, 0, 0};
    double b[9] = {0, 0, 0, 3, 0, 0, 0, 4, 0};
    mlshift_frame f = frame_of(3, z, a);
    mlshift_error err;
    CHECK(mlshift_frames_append(fr, &f, NULL, &err) == 0, "append");
    f.positions = b;
    CHECK(mlshift_frames_append(fr, &f, NULL, &err) == 0, "append");
    double h[10], want[10] = {0};
    want[1] = want[3] = want[7] = want[9] = 2 / (0.5 * 12);
    want[5] = 4 / (0.5 * 12);
    CHECK(mlshift_hr(fr, 0, 2, 10, 0.25, 5.25, h, &err) == 0, "h(r): %s", err.message);
    check_array_close("h(r) of the hand-counted trajectory", h, want, 10, 1e-12, 1e-12);
    double integral = 0;
    for (int k = 0; k < 10; k++)
        integral += h[k] * 0.5;
    CHECK_CLOSE(integral, 1.0, 1e-12, 0, "h(r) integrates to 1");
    double g[10] = {0};
    g[1] = 1.0;
    CHECK_CLOSE(mlshift_hr_mae(h, g, 10, 0.25, 5.25),
                0.5 * (fabs(want[1] - 1) + 3 * want[3] + want[5]), 1e-12, 0,
                "h(r) MAE = Σ|Δh|·Δr");
    /* Frame 1 alone; the MDsim binning: 500 bins on (1e-6, 10]. */
    double H[500];
    CHECK(mlshift_hr(fr, 1, 2, 500, 1e-6, 10, H, &err) == 0, "h(r) MDsim bins");
    double step = (10 - 1e-6) / 500;
    int k3 = (int)((3 - 1e-6) / step), k5 = (int)((5 - 1e-6) / step);
    CHECK(H[k3] > 0 && H[k5] > 0 && H[k3 - 1] == 0, "h(r): 3 Å in bin %d", k3);
    CHECK(mlshift_hr(fr, 1, 1, 500, 1e-6, 10, H, &err) != 0, "empty frame range refused");
    mlshift_frames_destroy(fr);
}

static void test_stops(void)
{
    int z[2] = {1, 1};
    double x[6] = {0, 0, 0, 0.74, 0, 0};
    mlshift_frame f = frame_of(2, z, x);
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    double v[6] = {0.01, 0, 0, -0.01, 0, 0};

    toy t = {0, 5, 0};
    mlshift_md_calculator c = {toy_compute, &t, NULL, NULL, 0, 0};
    mlshift_md *md = start(&f, v, &c, &o);
    if (md) {
        run(md, 100);
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        CHECK(s.stop == MLSHIFT_MD_STOP_NONFINITE && s.step == 4,
              "NaN stop: %s at step %llu", mlshift_md_stop_string(s.stop),
              (unsigned long long)s.step);
        mlshift_error err;
        CHECK(mlshift_md_step(md, &err) == MLSHIFT_ERR_VALUE, "no step after a stop");
        mlshift_md_destroy(md);
    }

    toy free_ = {0};
    c.ctx = &free_;
    o.t_max_K = 10; /* H2 at 0.01 Å/fs is ~ 40 K */
    md = start(&f, v, &c, &o);
    if (md) {
        run(md, 10);
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        CHECK(s.stop == MLSHIFT_MD_STOP_TEMPERATURE && s.step == 1 &&
                  strstr(s.stop_reason, "temperature"),
              "hot stop: %s (%s)", mlshift_md_stop_string(s.stop), s.stop_reason);
        mlshift_md_destroy(md);
    }
    mlshift_md_options_default(&o);
    double still[6] = {0};
    md = start(&f, still, &c, &o);
    if (md) {
        run(md, 10);
        mlshift_md_state s;
        mlshift_md_get_state(md, &s);
        CHECK(s.stop == MLSHIFT_MD_STOP_TEMPERATURE && s.step == 1,
              "cold stop (T < 0.1 K): %s", mlshift_md_stop_string(s.stop));
        mlshift_md_destroy(md);
    }

    /* Collapse: H2 flying apart, pulled by 1 eV/Å; bond 0.74 Å, limit
     * 0.5 Å. */
    toy pull = {0, 0, 1.0};
    v[0] = -0.01;
    v[3] = 0.01;
    c.ctx = &pull;
    o.check_collapse = 1;
    md = start(&f, v, &c, &o);
    if (md) {
        uint64_t calls = 0;
        mlshift_md_state s;
        for (; calls < 10000; calls++) {
            mlshift_md_get_state(md, &s);
            if (s.stop)
                break;
            run(md, 1);
        }
        mlshift_md_get_state(md, &s);
        double bond = s.positions[3] - s.positions[0];
        CHECK(s.stop == MLSHIFT_MD_STOP_COLLAPSE && bond > 0.74 + 0.5 &&
                  bond < 0.74 + 0.6 && s.max_bond_deviation > 0.5,
              "collapse stop: %s, bond %.4g Å, deviation %.4g",
              mlshift_md_stop_string(s.stop), bond, s.max_bond_deviation);
        mlshift_md_destroy(md);
    }
}

static void test_stability(void)
{
    /* H2 frames with bond 0.74 + 0.1 k: deviation > 0.5 first at k = 6. */
    mlshift_frames *fr = mlshift_frames_create();
    int z[2] = {1, 1};
    mlshift_error err;
    for (int k = 0; k < 10; k++) {
        double x[6] = {0, 0, 0, 0.74 + 0.1 * k, 0, 0};
        mlshift_frame f = frame_of(2, z, x);
        mlshift_frames_append(fr, &f, NULL, &err);
    }
    mlshift_frame f0;
    mlshift_frames_get(fr, 0, &f0);
    mlshift_bonds b = {0};
    CHECK(mlshift_bonds_from_frame(&b, &f0, 0, &err) == 0 && b.n == 1,
          "one H-H bond (0.74 < 0.31 + 0.31 + 0.6)");
    double ps;
    size_t k;
    CHECK(mlshift_stability(&b, fr, 0, 0.05, 0.5, &ps, &k, &err) == 0 && k == 6 &&
              fabs(ps - 0.3) < 1e-12,
          "stability: collapse at frame %zu, %.4g ps", k, ps);
    CHECK(mlshift_bonds_reference(&b, fr, &err) == 0 &&
              fabs(b.ref_length[0] - (0.74 + 0.45)) < 1e-12,
          "reference bond = mean over frames (%.6g)", b.ref_length[0]);
    CHECK(mlshift_stability(&b, fr, 0, 0.05, 0.5, &ps, &k, &err) == 0 && k == 10 &&
              fabs(ps - 0.45) < 1e-12,
          "stability without collapse = the whole run (%zu, %.4g ps)", k, ps);
    double far[6] = {0, 0, 0, 1.3, 0, 0};
    mlshift_frame g = frame_of(2, z, far);
    CHECK(mlshift_bonds_from_frame(&b, &g, 0, &err) == 0 && b.n == 0,
          "no bond at 1.3 Å (>= 1.22)");
    mlshift_bonds_free(&b);
    mlshift_frames_destroy(fr);
}

static void test_frame_text(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md *md = start(&f, NULL, &c, NULL);
    if (!md)
        return;
    run(md, 3);
    char *buf = NULL;
    size_t cap = 0, len = 0;
    mlshift_error err;
    CHECK(mlshift_md_frame_extxyz(md, &buf, &cap, &len, &err) == 0, "frame text");
    mlshift_md_state s;
    mlshift_md_get_state(md, &s);
    mlshift_frames *fr = mlshift_frames_create();
    CHECK(mlshift_parse_extxyz(fr, buf, len, "frame", NULL, &err) == 0,
          "frame text parses: %s", err.message);
    if (mlshift_frames_count(fr) == 1) {
        mlshift_frame g;
        mlshift_frames_get(fr, 0, &g);
        check_array_close("positions round trip", g.positions, s.positions, 39, 0, 0);
        check_array_close("forces round trip", g.forces, s.forces, 39, 0, 0);
        CHECK(g.energy == s.potential, "energy round trip");
        char val[64];
        CHECK(mlshift_info_get(g.info, "step", val, sizeof val) && !strcmp(val, "3"),
              "step=3 in the info");
    }
    char path[] = "/tmp/mlshift_test_md_XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp) {
        fwrite(buf, 1, len, fp);
        fwrite(buf, 1, len, fp);
        fclose(fp);
        double v[39];
        int found = 0;
        CHECK(mlshift_read_extxyz_velocities(path, 1, 13, v, &found, &err) == 0 &&
                  found, "velocities read back: %s", err.message);
        check_array_close("velocities round trip", v, s.velocities, 39, 0, 0);
        CHECK(mlshift_read_extxyz_velocities(path, 2, 13, v, &found, &err) != 0,
              "frame 2 of 2 refused");
        CHECK(mlshift_read_extxyz_velocities(path, 0, 12, v, &found, &err) != 0,
              "atom count mismatch refused");
        /* momenta only (ASE's way): drop the velocities column's name. */
        char *m = malloc(len + 1);
        memcpy(m, buf, len);
        m[len] = 0;
        char *p = strstr(m, ":velocities:R:3");
        memcpy(p, ":velocitiez:R:3", 15);
        fp = fopen(path, "w");
        fwrite(m, 1, len, fp);
        fclose(fp);
        CHECK(mlshift_read_extxyz_velocities(path, 0, 13, v, &found, &err) == 0 &&
                  found, "velocities from momenta: %s", err.message);
        check_array_close("velocities from momenta", v, s.velocities, 39, 1e-18, 1e-14);
        free(m);
        unlink(path);
    }
    free(buf);
    mlshift_frames_destroy(fr);
    mlshift_md_destroy(md);
}

static void test_drift_fit(void)
{
    double t[50], e[50], d, fl;
    for (int k = 0; k < 50; k++) {
        t[k] = 0.1 * k;
        e[k] = -3 + 0.02 * t[k] + (k % 2 ? 1e-3 : -1e-3);
    }
    mlshift_error err;
    CHECK(mlshift_energy_drift(t, e, 50, 4, 1.0, &d, &fl, &err) == 0, "drift fit");
    CHECK_CLOSE(d, 0.005, 1e-5, 0, "drift = slope / N");
    CHECK_CLOSE(fl, 1e-3, 2e-5, 0, "fluctuation about the line");
    CHECK(mlshift_energy_drift(t, e, 50, 4, 100, &d, &fl, &err) != 0,
          "drift needs samples after the transient");
}

static void test_bad_options(mlshift_prior *emt)
{
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = frame_of(13, z, x);
    mlshift_md_calculator c = {0};
    c.prior = emt;
    mlshift_md_options o;
    mlshift_md *md = NULL;
    mlshift_error err;
    double bad_dt[] = {0, -1, NAN, 1e9};
    for (int k = 0; k < 4; k++) {
        mlshift_md_options_default(&o);
        o.dt_fs = bad_dt[k];
        CHECK(mlshift_md_create(&f, NULL, &c, &o, &md, &err) == MLSHIFT_ERR_VALUE &&
                  !md && strstr(err.message, "time step"),
              "dt %g refused", bad_dt[k]);
    }
    mlshift_md_options_default(&o);
    o.temperature_K = -5;
    CHECK(mlshift_md_create(&f, NULL, &c, &o, &md, &err) == MLSHIFT_ERR_VALUE,
          "negative temperature refused");
    mlshift_md_options_default(&o);
    o.integrator = MLSHIFT_MD_LANGEVIN;
    o.temperature_K = 0;
    CHECK(mlshift_md_create(&f, NULL, &c, &o, &md, &err) == MLSHIFT_ERR_VALUE,
          "thermostat at 0 K refused");
    mlshift_md_calculator none = {0};
    CHECK(mlshift_md_create(&f, NULL, &none, NULL, &md, &err) == MLSHIFT_ERR_VALUE,
          "no calculator refused");
    int zu[13];
    for (int i = 0; i < 13; i++)
        zu[i] = 92; /* U: EMT has no parameters */
    mlshift_frame u = frame_of(13, zu, x);
    CHECK(mlshift_md_create(&u, NULL, &c, NULL, &md, &err) != MLSHIFT_OK && !md,
          "an element the calculator lacks fails at create");
}

int main(void)
{
    mlshift_prior *emt = NULL;
    mlshift_error err;
    if (mlshift_prior_create("emt", &emt, &err)) {
        CHECK(0, "emt: %s", err.message);
        return check_done();
    }
    test_units();
    test_nve_emt(emt);
    test_reversible(emt);
    test_maxwell_boltzmann();
    test_reproducible(emt);
    test_langevin_temperature();
    test_nose_hoover(emt);
    test_hr();
    test_stops();
    test_stability();
    test_frame_text(emt);
    test_drift_fit();
    test_bad_options(emt);
    mlshift_prior_destroy(emt);
    return check_done();
}

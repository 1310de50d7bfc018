/* SPDX-License-Identifier: MIT */
/* Test-time training on shift through the public API (mlshift_md_adapter):
 * a Cu13 cuboctahedron driven by a small random PaiNN, EMT as the prior,
 * training statistics made by hand so that every frame is flagged on
 * connectivity (an average spectrum of zeros with zero spread: any graph
 * is "far"), which forces adaptation. Checks: with K = 2 the 2nd, 4th and
 * 6th monitored frames adapt; each adaptation lowers the prior loss over
 * its window; the model's energy at a fixed structure changes; the run's
 * forces afterwards are the adapted model's (a fresh single point at the
 * run's positions); max_adaptations caps the count; the report's times
 * are the adapted frames'; misuse (no statistics or prior, zero sustain,
 * a prior-driven run) is refused. The command-line path is
 * tests/reference/test_md_ttt_shift.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"
#include "model/model.h"
#include "shift/stats.h"

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

static mlshift_model *small_model(void)
{
    ms_model_hyper h;
    ms_model_hyper_default(&h, MS_ARCH_PAINN);
    h.F = 8;
    h.T = 2;
    h.k_rep = 1;
    h.j_ttt = 1;
    h.r_basis = 4;
    int z = 29;
    char path[] = "/tmp/test_md_adapt_XXXXXX";
    int fd = mkstemp(path);
    ms_model *m = NULL;
    mlshift_model *mm = NULL;
    mlshift_error err;
    if (fd < 0 || ms_model_create(&m, &h, &z, 1, 3, &err) ||
        ms_model_save(m, path, &err) || mlshift_model_load(path, &mm, &err))
        CHECK(0, "model: %s", fd < 0 ? "mkstemp" : err.message);
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    ms_model_destroy(m);
    return mm;
}

int main(void)
{
    mlshift_error err;
    mlshift_prior *emt = NULL;
    mlshift_model *mm = small_model();
    if (!mm || mlshift_prior_create("emt", &emt, &err)) {
        CHECK(0, "setup");
        return check_done();
    }
    double x[39];
    int z[13];
    cu13(x, z);
    mlshift_frame f = {0};
    f.natoms = 13;
    f.numbers = z;
    f.positions = x;
    f.energy = NAN;
    /* Statistics that flag every structure on connectivity. */
    mlshift_train_stats st;
    memset(&st, 0, sizeof st);
    double spec[13] = {0};
    st.cutoff = 4;
    st.n_structures = 1;
    st.element_atoms[29] = 13;
    st.natoms_max = 13;
    st.natoms_mean = 13;
    st.spectrum = spec;
    st.spectral_mean = 0;
    st.spectral_std = 0;
    st.force_norm_mean = NAN;
    strcpy(st.force_source, "none");

    mlshift_md_calculator calc = {0};
    calc.model = mm;
    mlshift_md_options o;
    mlshift_md_options_default(&o);
    o.dt_fs = 1;
    o.temperature_K = 300;
    o.t_min_K = o.t_max_K = 0;
    mlshift_md *md = NULL;
    CHECK(!mlshift_md_create(&f, NULL, &calc, &o, &md, &err), "md: %s", err.message);
    mlshift_md_adapt_options ao;
    mlshift_md_adapt_options_default(&ao);
    ao.stats = &st;
    ao.prior = emt;
    ao.sustain = 2;
    ao.window = 4;
    ao.steps = 10;
    ao.batch = 2;
    ao.max_adaptations = 3;
    mlshift_md_adapter *ad = NULL;
    CHECK(!mlshift_md_adapter_create(&ao, &ad, &err), "adapter: %s", err.message);
    double e_fixed0, e_fixed1, F[39];
    CHECK(!mlshift_model_compute(mm, &f, MLSHIFT_HEAD_MAIN, 0, &e_fixed0, NULL, &err),
          "fixed point");
    int which[8] = {0}, n_adapted = 0;
    double t_adapt[8];
    for (int k = 0; md && ad && k < 8; k++) {
        for (int s = 0; s < 5; s++)
            mlshift_md_step(md, &err);
        mlshift_md_monitor mon;
        int adapted = -1;
        CHECK(!mlshift_md_adapt(md, ad, &mon, &adapted, &err), "adapt: %s", err.message);
        CHECK(mon.ood_connectivity == 1 && mon.ood_force == -1 && mon.cutoff == 4,
              "frame %d: flagged on connectivity (%d, %d, %g)", k, mon.ood_connectivity,
              mon.ood_force, mon.cutoff);
        which[k] = adapted;
        if (adapted) {
            mlshift_md_state s;
            mlshift_md_get_state(md, &s);
            t_adapt[n_adapted++] = s.time_fs * 1e-3;
            mlshift_md_adapt_report r;
            mlshift_md_adapter_report(ad, &r);
            CHECK(r.prior_loss_after < r.prior_loss_before,
                  "adaptation %d lowers the prior loss: %g -> %g", n_adapted,
                  r.prior_loss_before, r.prior_loss_after);
            /* the run's forces are the adapted model's at its positions */
            mlshift_frame g = f;
            g.positions = s.positions;
            double e;
            CHECK(!mlshift_md_calculator_compute(&calc, &g, &e, F, &err), "single point");
            double d = fabs(e - s.potential);
            for (int c = 0; c < 39; c++)
                d = fmax(d, fabs(F[c] - s.forces[c]));
            CHECK(d == 0, "the run's forces after adaptation %d: |Δ| %.3g", n_adapted, d);
        }
    }
    /* K = 2: frames 1, 3, 5 (0-based) adapt; the cap of 3 stops frame 7. */
    int want[8] = {0, 1, 0, 1, 0, 1, 0, 0};
    CHECK(!memcmp(which, want, sizeof want), "adapted frames %d%d%d%d%d%d%d%d", which[0],
          which[1], which[2], which[3], which[4], which[5], which[6], which[7]);
    mlshift_md_adapt_report r;
    mlshift_md_adapter_report(ad, &r);
    CHECK(r.adaptations == 3 && r.frames == 8 && r.flagged == 8 && r.ttt_steps == 30 &&
          r.first_ps == t_adapt[0] && r.last_ps == t_adapt[2],
          "report: %zu adaptations, %zu frames, %zu flagged, %zu steps, %g .. %g ps",
          r.adaptations, r.frames, r.flagged, r.ttt_steps, r.first_ps, r.last_ps);
    CHECK(!mlshift_model_compute(mm, &f, MLSHIFT_HEAD_MAIN, 0, &e_fixed1, NULL, &err) &&
          e_fixed1 != e_fixed0, "the model changed: %.10g -> %.10g", e_fixed0, e_fixed1);

    /* Misuse. */
    mlshift_md_adapter *bad = NULL;
    mlshift_md_adapt_options b = ao;
    b.stats = NULL;
    CHECK(mlshift_md_adapter_create(&b, &bad, &err) == MLSHIFT_ERR_VALUE && !bad,
          "no statistics");
    b = ao;
    b.prior = NULL;
    CHECK(mlshift_md_adapter_create(&b, &bad, &err) == MLSHIFT_ERR_VALUE, "no prior");
    b = ao;
    b.sustain = 0;
    CHECK(mlshift_md_adapter_create(&b, &bad, &err) == MLSHIFT_ERR_VALUE, "sustain 0");
    b = ao;
    b.lr = -1;
    CHECK(mlshift_md_adapter_create(&b, &bad, &err) == MLSHIFT_ERR_VALUE, "lr < 0");
    mlshift_md_calculator pc = {0};
    pc.prior = emt;
    mlshift_md *pmd = NULL;
    mlshift_md_adapter *a2 = NULL;
    CHECK(!mlshift_md_create(&f, NULL, &pc, &o, &pmd, &err) &&
          !mlshift_md_adapter_create(&ao, &a2, &err), "prior run");
    mlshift_md_monitor mon;
    int adapted;
    CHECK(pmd && a2 && mlshift_md_adapt(pmd, a2, &mon, &adapted, &err) == MLSHIFT_ERR_VALUE,
          "a prior-driven run cannot adapt");
    mlshift_md_adapter_destroy(a2);
    mlshift_md_destroy(pmd);
    mlshift_md_adapter_destroy(ad);
    mlshift_md_destroy(md);
    mlshift_model_destroy(mm);
    mlshift_prior_destroy(emt);
    return check_done();
}

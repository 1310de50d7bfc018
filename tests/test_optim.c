/* SPDX-License-Identifier: MIT */
/* The optimisers (src/train/optim.c): frozen entries bit-identical under
 * every optimiser, clipping, EMA warm-up and ReduceLROnPlateau against hand
 * computations, checkpoint round trips bit-exact, bad configs rejected.
 * The agreement with torch.optim is tests/reference/test_optim_torch.py. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train/optim.h"

#define P 37

/* A deterministic gradient sequence, no generator needed: entry i at step s. */
static void fill_grad(double *g, size_t n, int s)
{
    for (size_t i = 0; i < n; i++)
        g[i] = sin(1.3 * (double)i + 0.7 * s) * (1.0 + 0.1 * (double)(i % 7)) +
               0.05 * cos(0.37 * (double)(i * (size_t)s));
}

static void fill_theta(double *th, size_t n)
{
    for (size_t i = 0; i < n; i++)
        th[i] = 0.5 * cos(0.9 * (double)i) + 0.01 * (double)i;
}

static const char *cfg_name(const ms_optim_config *c)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s%s wd %g mom %g clip %g ema %g",
             c->kind == MS_OPT_SGD ? "sgd" : c->kind == MS_OPT_ADAM ? "adam" : "adamw",
             c->amsgrad ? " amsgrad" : "", c->weight_decay, c->momentum, c->clip_norm,
             c->ema_decay);
    return buf;
}

/* Every optimiser with weight decay, momentum, clipping and EMA on: first
 * unmasked steps (so the moments are nonzero), then steps with a mask whose
 * frozen gradient entries are NaN. Frozen θ and state never change, not a
 * bit; the others move. */
static void test_frozen(const ms_optim_config *c)
{
    const char *name = cfg_name(c);
    double theta[P], grad[P];
    unsigned char mask[P];
    fill_theta(theta, P);
    ms_optim o;
    mlshift_error err;
    CHECK(ms_optim_init(&o, c, P, theta, &err) == MLSHIFT_OK, "%s: init: %s", name,
          err.message);
    for (int s = 0; s < 5; s++) {
        fill_grad(grad, P, s);
        ms_optim_step(&o, theta, grad, NULL);
    }
    for (size_t i = 0; i < P; i++)
        mask[i] = (unsigned char)(i % 3 != 1 && i < 30); /* 30..36: a frozen block */
    double theta0[P], state0[4 * P];
    memcpy(theta0, theta, sizeof theta);
    memcpy(state0, o.state, o.n_state * sizeof(double));
    int finite_norm = 1;
    size_t grad_written = 0;
    for (int s = 5; s < 205; s++) {
        fill_grad(grad, P, s);
        for (size_t i = 0; i < P; i++)
            if (!mask[i])
                grad[i] = NAN; /* never read */
        double n = ms_optim_step(&o, theta, grad, mask);
        finite_norm &= isfinite(n);
        for (size_t i = 0; i < P; i++)
            grad_written += !mask[i] && !isnan(grad[i]);
    }
    CHECK(finite_norm, "%s: the norm reads frozen (NaN) gradients", name);
    CHECK(grad_written == 0, "%s: frozen gradient entries written %zu times", name,
          grad_written);
    size_t frozen_diff = 0, moved = 0, state_diff = 0;
    for (size_t i = 0; i < P; i++) {
        if (!mask[i]) {
            frozen_diff += memcmp(&theta[i], &theta0[i], sizeof(double)) != 0;
            for (size_t k = 0; k * P < o.n_state; k++)
                state_diff += memcmp(&o.state[k * P + i], &state0[k * P + i],
                                     sizeof(double)) != 0;
        } else {
            moved += theta[i] != theta0[i];
        }
    }
    CHECK(frozen_diff == 0, "%s: %zu frozen weights moved", name, frozen_diff);
    CHECK(state_diff == 0, "%s: %zu frozen state entries changed", name, state_diff);
    CHECK(moved > 0, "%s: no trainable weight moved", name);
    CHECK(o.t == 205, "%s: t = %llu", name, (unsigned long long)o.t);
    ms_optim_free(&o);
}

/* clip_grad_norm_: coef = max_norm/(total + 1e-6), applied if < 1, over
 * the masked entries only; the pre-clip norm is returned. */
static void test_clip(void)
{
    ms_optim_config c;
    ms_optim_config_default(&c, MS_OPT_SGD);
    c.lr = 1.0;
    c.clip_norm = 1.0;
    ms_optim o;
    CHECK(ms_optim_init(&o, &c, 3, NULL, NULL) == MLSHIFT_OK, "clip: init");
    double theta[3] = {0, 0, 7}, grad[3] = {3, 4, 100};
    unsigned char mask[3] = {1, 1, 0};
    double n = ms_optim_step(&o, theta, grad, mask);
    CHECK(n == 5.0, "clip: pre-clip norm %.17g, want 5", n);
    double coef = 1.0 / (5.0 + 1e-6);
    CHECK_CLOSE(grad[0], 3.0 * coef, 0, 1e-15, "clip: grad[0]");
    CHECK_CLOSE(grad[1], 4.0 * coef, 0, 1e-15, "clip: grad[1]");
    CHECK(grad[2] == 100.0 && theta[2] == 7.0, "clip: masked-out entry touched");
    CHECK_CLOSE(theta[0], -0.59999988000002400, 0, 1e-15, "clip: theta[0] (hand)");
    CHECK_CLOSE(theta[1], -0.79999984000003200, 0, 1e-15, "clip: theta[1] (hand)");
    CHECK_CLOSE(sqrt(grad[0] * grad[0] + grad[1] * grad[1]), 1.0, 0, 1e-6,
                "clip: clipped norm");
    /* Under the limit: untouched, bit for bit. */
    o.c.clip_norm = 10.0;
    double g2[3] = {3, 4, 1}, before[3];
    memcpy(before, g2, sizeof g2);
    n = ms_optim_step(&o, theta, g2, NULL);
    CHECK(memcmp(g2, before, sizeof g2) == 0, "clip: gradient under the limit changed");
    CHECK_CLOSE(n, sqrt(26.0), 0, 1e-15, "clip: unmasked norm");
    ms_optim_free(&o);
}

/* EMA with warm-up, by the formula: d_n = min(decay, (1+n)/(10+n)),
 * e_n = d_n·e_{n−1} + (1−d_n)·θ_n, e_0 = θ_0. */
static void test_ema(void)
{
    ms_optim_config c;
    ms_optim_config_default(&c, MS_OPT_ADAM);
    c.lr = 0.05;
    c.ema_decay = 0.9;
    double theta[P], grad[P], e[P], th_init[P];
    fill_theta(theta, P);
    memcpy(e, theta, sizeof e);
    memcpy(th_init, theta, sizeof th_init);
    ms_optim o;
    CHECK(ms_optim_init(&o, &c, P, theta, NULL) == MLSHIFT_OK, "ema: init");
    CHECK(memcmp(o.ema, theta, sizeof theta) == 0, "ema: starts at theta");
    for (int n = 1; n <= 120; n++) {
        fill_grad(grad, P, n);
        ms_optim_step(&o, theta, grad, NULL);
        double d = (1.0 + n) / (10.0 + n);
        if (d > 0.9)
            d = 0.9;
        for (size_t i = 0; i < P; i++)
            e[i] = d * e[i] + (1.0 - d) * theta[i];
        if (n == 1)
            CHECK_CLOSE(o.ema[3], (2.0 / 11.0) * th_init[3] + (9.0 / 11.0) * theta[3],
                        1e-15, 1e-14, "ema: first update uses d = 2/11");
    }
    check_array_close("ema: 120 updates vs the formula", o.ema, e, P, 1e-14, 1e-13);
    /* Swap twice: identity; once: theta holds the EMA. */
    double th0[P];
    memcpy(th0, theta, sizeof th0);
    ms_optim_swap_ema(&o, theta, NULL);
    check_array_close("ema: swapped theta is the EMA", theta, e, P, 1e-14, 1e-13);
    ms_optim_swap_ema(&o, theta, NULL);
    CHECK(memcmp(theta, th0, sizeof th0) == 0, "ema: swap twice is the identity");
    unsigned char mask[P] = {0};
    mask[2] = 1;
    ms_optim_swap_ema(&o, theta, mask);
    CHECK(theta[1] == th0[1] && theta[2] != th0[2], "ema: masked swap");
    ms_optim_free(&o);
}

/* ReduceLROnPlateau(factor 0.5, patience 2, min_lr 1e-4), derived by hand
 * from torch's rules (better: m < best·(1 − 1e-4)). */
static void test_plateau(void)
{
    static const double metric[29] = {
        1.0, 0.9, 0.95, 0.9, 0.91,           /* 0.9 again is not better: 3 bad → halve */
        0.8999, 0.89995, 0.8,                /* 0.8999 < 0.9·0.9999 is; 0.89995 is not */
        0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
        0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8};
    static const double want[29] = {
        1e-2, 1e-2, 1e-2, 1e-2, 5e-3,
        5e-3, 5e-3, 5e-3,
        5e-3, 5e-3, 2.5e-3, 2.5e-3, 2.5e-3, 1.25e-3, 1.25e-3, 1.25e-3, 6.25e-4,
        6.25e-4, 6.25e-4, 3.125e-4, 3.125e-4, 3.125e-4, 1.5625e-4, 1.5625e-4,
        1.5625e-4, 1e-4 /* floor */, 1e-4, 1e-4, 1e-4};
    ms_plateau p;
    ms_plateau_init(&p, 0.5, 2, 1e-4);
    double lr = 1e-2;
    int bad_at = -1;
    for (int k = 0; k < 29; k++) {
        lr = ms_plateau_step(&p, metric[k], lr);
        if (lr != want[k] && bad_at < 0)
            bad_at = k;
    }
    CHECK(bad_at < 0, "plateau: lr at step %d differs from the hand sequence", bad_at);
    /* A reduction smaller than eps = 1e-8 is not taken. */
    ms_plateau_init(&p, 0.5, 0, 0.0);
    double tiny = 1.5e-8;
    tiny = ms_plateau_step(&p, 1.0, tiny);
    tiny = ms_plateau_step(&p, 1.0, tiny);
    CHECK(tiny == 1.5e-8, "plateau: reduction below eps taken (%g)", tiny);
    ms_plateau_init(&p, 0.5, 0, 0.0);
    lr = ms_plateau_step(&p, NAN, 1.0);
    CHECK(lr == 0.5, "plateau: a NaN metric counts as bad (lr %g)", lr);
}

/* Save after 10 steps, run 10 more; restore into a fresh optimiser and run
 * the same 10: bit-identical weights and state. Mismatches are refused. */
static void test_roundtrip(const ms_optim_config *c)
{
    const char *name = cfg_name(c);
    double theta[P], grad[P], saved_theta[P];
    unsigned char mask[P];
    for (size_t i = 0; i < P; i++)
        mask[i] = (unsigned char)(i % 5 != 0);
    fill_theta(theta, P);
    ms_optim a, b;
    mlshift_error err;
    CHECK(ms_optim_init(&a, c, P, theta, &err) == MLSHIFT_OK, "%s: init", name);
    for (int s = 0; s < 10; s++) {
        fill_grad(grad, P, s);
        ms_optim_step(&a, theta, grad, mask);
    }
    ms_optim_set_lr(&a, a.c.lr * 0.3); /* a schedule moved it */
    size_t nb = ms_optim_state_bytes(&a);
    unsigned char *buf = malloc(nb), *buf2 = malloc(nb);
    CHECK(ms_optim_save(&a, buf) == MLSHIFT_OK, "%s: save", name);
    memcpy(saved_theta, theta, sizeof theta);
    for (int s = 10; s < 20; s++) {
        fill_grad(grad, P, s);
        ms_optim_step(&a, theta, grad, mask);
    }
    CHECK(ms_optim_init(&b, c, P, saved_theta, &err) == MLSHIFT_OK, "%s: init b", name);
    mlshift_status st = ms_optim_restore(&b, buf, nb, &err);
    CHECK(st == MLSHIFT_OK, "%s: restore: %s", name, st ? err.message : "");
    CHECK(b.t == 10 && b.c.lr == c->lr * 0.3, "%s: restored t %llu, lr %g", name,
          (unsigned long long)b.t, b.c.lr);
    ms_optim_save(&b, buf2);
    CHECK(memcmp(buf, buf2, nb) == 0, "%s: save(restore(save)) differs", name);
    for (int s = 10; s < 20; s++) {
        fill_grad(grad, P, s);
        ms_optim_step(&b, saved_theta, grad, mask);
    }
    CHECK(memcmp(saved_theta, theta, sizeof theta) == 0,
          "%s: resumed weights differ from the uninterrupted run", name);
    CHECK(memcmp(a.state, b.state, a.n_state * sizeof(double)) == 0 && a.t == b.t,
          "%s: resumed state differs", name);

    /* Refusals: truncated, corrupted, another kind, another P. */
    CHECK(ms_optim_restore(&b, buf, nb - 1, &err) == MLSHIFT_ERR_FORMAT, "%s: truncated", name);
    buf[nb / 2] ^= 1;
    st = ms_optim_restore(&b, buf, nb, &err);
    CHECK(st == MLSHIFT_ERR_FORMAT && strstr(err.message, "checksum"), "%s: corrupted: %s",
          name, err.message);
    buf[nb / 2] ^= 1;
    ms_optim_config other = *c;
    other.kind = c->kind == MS_OPT_SGD ? MS_OPT_ADAMW : MS_OPT_SGD;
    other.amsgrad = 0;
    ms_optim x;
    ms_optim_init(&x, &other, P, saved_theta, NULL);
    st = ms_optim_restore(&x, buf, nb, &err);
    CHECK(st != MLSHIFT_OK && strstr(err.message, "optimizer state"), "%s: other kind: %s",
          name, err.message);
    ms_optim_free(&x);
    ms_optim_init(&x, c, P - 1, saved_theta, NULL);
    st = ms_optim_restore(&x, buf, nb, &err);
    CHECK(st != MLSHIFT_OK && strstr(err.message, "P = 36"), "%s: other P: %s", name,
          err.message);
    ms_optim_free(&x);
    free(buf);
    free(buf2);
    ms_optim_free(&a);
    ms_optim_free(&b);
}

typedef struct bad_case {
    const char *field;
    double value;
} bad_case;

static void set_field(ms_optim_config *c, const char *f, double v)
{
    if (!strcmp(f, "lr")) c->lr = v;
    else if (!strcmp(f, "momentum")) c->momentum = v;
    else if (!strcmp(f, "beta1")) c->beta1 = v;
    else if (!strcmp(f, "beta2")) c->beta2 = v;
    else if (!strcmp(f, "eps")) c->eps = v;
    else if (!strcmp(f, "weight_decay")) c->weight_decay = v;
    else if (!strcmp(f, "clip_norm")) c->clip_norm = v;
    else if (!strcmp(f, "ema_decay")) c->ema_decay = v;
}

static void test_bad_configs(void)
{
    static const bad_case cases[] = {
        {"lr", 0.0}, {"lr", -1.0}, {"lr", NAN}, {"lr", INFINITY},
        {"momentum", -0.1}, {"momentum", NAN},
        {"beta1", 1.0}, {"beta1", -0.1}, {"beta1", NAN},
        {"beta2", 1.0}, {"beta2", 1.5}, {"beta2", NAN},
        {"eps", -1e-8}, {"eps", NAN},
        {"weight_decay", -1e-3}, {"weight_decay", NAN},
        {"clip_norm", -1.0}, {"clip_norm", NAN},
        {"ema_decay", 1.0}, {"ema_decay", -0.5}, {"ema_decay", NAN},
    };
    double theta[4] = {0};
    for (int kind = 0; kind < 3; kind++) {
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            ms_optim_config c;
            ms_optim_config_default(&c, (ms_opt_kind)kind);
            set_field(&c, cases[k].field, cases[k].value);
            ms_optim o;
            mlshift_error err = {0};
            mlshift_status st = ms_optim_init(&o, &c, 4, theta, &err);
            CHECK(st == MLSHIFT_ERR_VALUE && strstr(err.message, cases[k].field) &&
                      o.state == NULL,
                  "kind %d: %s = %g accepted or unnamed (%s)", kind, cases[k].field,
                  cases[k].value, err.message);
            ms_optim_free(&o);
        }
    }
    ms_optim_config c;
    ms_optim_config_default(&c, MS_OPT_ADAM);
    c.lr = -1;
    mlshift_error err;
    ms_optim o;
    ms_optim_init(&o, &c, 4, theta, &err);
    CHECK(!strcmp(err.message, "optimizer: lr must be > 0 (got -1)"), "message: %s",
          err.message);
    ms_optim_config_default(&c, MS_OPT_ADAM);
    c.amsgrad = 2;
    CHECK(ms_optim_init(&o, &c, 4, theta, &err) == MLSHIFT_ERR_VALUE &&
              strstr(err.message, "amsgrad"), "amsgrad 2: %s", err.message);
    ms_optim_config_default(&c, MS_OPT_ADAM);
    c.kind = (ms_opt_kind)7;
    CHECK(ms_optim_init(&o, &c, 4, theta, &err) == MLSHIFT_ERR_VALUE &&
              strstr(err.message, "kind"), "kind 7: %s", err.message);
    ms_optim_config_default(&c, MS_OPT_ADAM);
    c.ema_decay = 0.99;
    CHECK(ms_optim_init(&o, &c, 4, NULL, &err) == MLSHIFT_ERR_VALUE,
          "EMA without initial weights accepted");
    /* The defaults are valid for every kind, and the state has the named arrays. */
    for (int kind = 0; kind < 3; kind++) {
        ms_optim_config_default(&c, (ms_opt_kind)kind);
        c.amsgrad = 1;
        c.ema_decay = 0.5;
        CHECK(ms_optim_init(&o, &c, 4, theta, &err) == MLSHIFT_OK, "default kind %d", kind);
        size_t want = kind == MS_OPT_SGD ? 2 * 4 : 4 * 4;
        CHECK(o.n_state == want && o.m == o.state && (kind == MS_OPT_SGD) == (o.v == NULL) &&
                  (kind == MS_OPT_SGD) == (o.vmax == NULL) && o.ema != NULL,
              "kind %d: state layout (n_state %zu)", kind, o.n_state);
        ms_optim_free(&o);
    }
}

int main(void)
{
    ms_optim_config c;
    for (int kind = 0; kind < 3; kind++) {
        for (int ams = 0; ams < (kind == MS_OPT_SGD ? 1 : 2); ams++) {
            ms_optim_config_default(&c, (ms_opt_kind)kind);
            c.lr = kind == MS_OPT_SGD ? 1e-2 : 1e-3;
            c.momentum = kind == MS_OPT_SGD ? 0.9 : 0.0;
            c.weight_decay = 1e-2;
            c.amsgrad = ams;
            c.clip_norm = 2.0;
            c.ema_decay = 0.99;
            test_frozen(&c);
            test_roundtrip(&c);
        }
    }
    test_clip();
    test_ema();
    test_plateau();
    test_bad_configs();
    return check_done();
}

/* SPDX-License-Identifier: MIT */
/* The public API of models and the calculator, through mlshift.h only:
 *   - a model created from hyper-parameters, saved, loaded and cloned gives
 *     the same energies and forces; its information and record read back;
 *   - the calculator's forces are −dE/dr by central finite differences,
 *     its per-atom energies sum to the energy, and its virial equals
 *     −∂E/∂ε by finite differences of the energy under a homogeneous strain
 *     of positions and cell, for a periodic model (PaiNN and SchNet), a
 *     molecule, and periodic EMT and LJ priors through the same handle;
 *   - batch compute equals one structure at a time; the MD view of the
 *     calculator computes the same; radius refinement picks a radius;
 *   - training, the prior-label cache and TTT through the public calls:
 *     pre-training lowers the prior loss, a second labelling reuses the
 *     cache, TTT runs its steps and changes the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"

#define NMAX 64

typedef struct sys {
    size_t n;
    int z[NMAX];
    double x[3 * NMAX], cell[9];
    int periodic;
} sys;

static mlshift_frame view(const sys *s)
{
    mlshift_frame f;
    memset(&f, 0, sizeof f);
    f.natoms = s->n;
    f.numbers = s->z;
    f.positions = s->x;
    if (s->periodic) {
        f.cell = s->cell;
        f.flags = MLSHIFT_HAS_CELL;
        f.pbc[0] = f.pbc[1] = f.pbc[2] = 1;
    }
    f.energy = NAN;
    return f;
}

/* A rattled fcc a × (2×2×2) cubic cell of element z (32 atoms). */
static void fcc(sys *s, int z, double a, unsigned seed)
{
    static const double basis[4][3] = {{0, 0, 0}, {0, .5, .5}, {.5, 0, .5}, {.5, .5, 0}};
    memset(s, 0, sizeof *s);
    srand(seed);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++)
                for (int b = 0; b < 4; b++) {
                    double *p = s->x + 3 * s->n;
                    p[0] = a * (i + basis[b][0]) + 0.1 * (rand() / (double)RAND_MAX - 0.5);
                    p[1] = a * (j + basis[b][1]) + 0.1 * (rand() / (double)RAND_MAX - 0.5);
                    p[2] = a * (k + basis[b][2]) + 0.1 * (rand() / (double)RAND_MAX - 0.5);
                    s->z[s->n++] = z;
                }
    s->cell[0] = s->cell[4] = s->cell[8] = 2 * a;
    /* a little shear: triclinic */
    s->cell[3] = 0.3;
    s->periodic = 1;
}

static double energy(mlshift_calc *c, const sys *s)
{
    mlshift_frame f = view(s);
    double e = NAN;
    mlshift_error err;
    if (mlshift_calc_compute(c, &f, &e, NULL, NULL, NULL, &err))
        fprintf(stderr, "compute: %s\n", err.message);
    return e;
}

/* Forces, per-atom energies and virial of c on s against finite
 * differences; atol_w for the virial in eV. */
static void check_calc(mlshift_calc *c, const sys *s0, const char *what, int per_atom,
                       double atol_f, double atol_w)
{
    mlshift_frame f = view(s0);
    double e, F[3 * NMAX], ea[NMAX], W[9];
    mlshift_error err;
    mlshift_status st = mlshift_calc_compute(c, &f, &e, F, per_atom ? ea : NULL, W, &err);
    CHECK(st == MLSHIFT_OK, "%s: compute: %s", what, st ? err.message : "");
    if (st)
        return;
    sys s;
    const double h = 1e-5;
    double worst = 0;
    for (size_t i = 0; i < s0->n; i += 5)
        for (int a = 0; a < 3; a++) {
            s = *s0;
            s.x[3 * i + a] += h;
            double ep = energy(c, &s);
            s.x[3 * i + a] -= 2 * h;
            double em = energy(c, &s);
            double d = fabs(-(ep - em) / (2 * h) - F[3 * i + a]);
            worst = d > worst ? d : worst;
        }
    CHECK(worst < atol_f, "%s: forces vs finite differences: worst %.3g eV/Å", what, worst);
    if (per_atom) {
        double sum = 0;
        for (size_t i = 0; i < s0->n; i++)
            sum += ea[i];
        CHECK_CLOSE(sum, e, 1e-10, 1e-12, "%s: per-atom energies sum to the energy", what);
    }
    /* W_ab = −∂E/∂ε_ab, x_a → x_a + ε x_b for positions and cell rows */
    double wd = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double ee[2];
            for (int sg = 0; sg < 2; sg++) {
                double eps = sg ? -h : h;
                s = *s0;
                for (size_t i = 0; i < s.n; i++)
                    s.x[3 * i + a] += eps * s0->x[3 * i + b];
                for (int r = 0; r < 3; r++)
                    s.cell[3 * r + a] += eps * s0->cell[3 * r + b];
                ee[sg] = energy(c, &s);
            }
            double fd = -(ee[0] - ee[1]) / (2 * h);
            double d = fabs(fd - W[3 * a + b]);
            wd = d > wd ? d : wd;
        }
    CHECK(wd < atol_w, "%s: virial vs strain finite differences: worst %.3g eV (W00 %.6g)", what,
          wd, W[0]);
    double asym = fabs(W[1] - W[3]) + fabs(W[2] - W[6]) + fabs(W[5] - W[7]);
    CHECK(asym < 1e-8, "%s: virial symmetric (%.3g)", what, asym);
}

static mlshift_model *tiny_model(mlshift_arch arch, const int *z, int nz, double cutoff)
{
    mlshift_model_hyper h;
    mlshift_model_hyper_default(&h, arch);
    h.features = 8;
    h.rbf = 6;
    h.blocks = 2;
    h.rep_blocks = 1;
    h.ttt_blocks = 1;
    h.cutoff = cutoff;
    mlshift_model *m = NULL;
    mlshift_error err;
    mlshift_status s = mlshift_model_create(&h, z, nz, 7, &m, &err);
    CHECK(s == MLSHIFT_OK, "model create: %s", s ? err.message : "");
    return m;
}

static void test_model_calc(void)
{
    int z[1] = {29};
    sys cu;
    fcc(&cu, 29, 3.61, 1);
    for (int arch = 0; arch < 2; arch++) {
        mlshift_model *m = tiny_model((mlshift_arch)arch, z, 1, 4.0);
        if (!m)
            return;
        mlshift_calc *c = NULL;
        mlshift_error err;
        CHECK(!mlshift_calc_from_model(m, MLSHIFT_HEAD_MAIN, 0, &c, &err), "calc from model");
        CHECK((mlshift_calc_caps(c) & MLSHIFT_CALC_VIRIAL) != 0, "model calc has a virial");
        check_calc(c, &cu, arch ? "SchNet periodic Cu32" : "PaiNN periodic Cu32", 1, 1e-7, 1e-6);
        /* the prior head and another cutoff are other functions */
        mlshift_frame f = view(&cu);
        double e1, e2, e3;
        mlshift_calc_compute(c, &f, &e1, NULL, NULL, NULL, &err);
        CHECK(!mlshift_calc_set_cutoff(c, 3.0, &err), "set cutoff");
        mlshift_calc_compute(c, &f, &e2, NULL, NULL, NULL, &err);
        CHECK(e1 != e2 && mlshift_calc_last_cutoff(c) == 3.0, "cutoff 3 Å changes the energy");
        /* the plain model call agrees with the calculator */
        mlshift_model_compute(m, &f, MLSHIFT_HEAD_MAIN, 3.0, &e3, NULL, &err);
        CHECK_CLOSE(e3, e2, 1e-12, 1e-12, "calculator = mlshift_model_compute");
        mlshift_calc_destroy(c);
        mlshift_model_destroy(m);
    }
    /* a molecule: H2O-like cluster of H, C, O with the prior head */
    int zm[3] = {1, 6, 8};
    mlshift_model *m = tiny_model(MLSHIFT_ARCH_PAINN, zm, 3, 5.0);
    if (!m)
        return;
    sys mol;
    memset(&mol, 0, sizeof mol);
    const double xm[] = {0, 0, 0, 1.2, 0.1, -0.1, -0.4, 1.0, 0.2, 0.3, -0.9, 0.5, 2.2, 0.8, 0.4};
    const int zz[] = {6, 8, 1, 1, 1};
    mol.n = 5;
    memcpy(mol.x, xm, sizeof xm);
    memcpy(mol.z, zz, sizeof zz);
    mlshift_calc *c = NULL;
    mlshift_error err;
    CHECK(!mlshift_calc_from_model(m, MLSHIFT_HEAD_PRIOR, 0, &c, &err), "calc prior head");
    check_calc(c, &mol, "PaiNN molecule, prior head", 1, 1e-7, 1e-7);
    mlshift_calc_destroy(c);
    mlshift_model_destroy(m);
}

static void test_prior_calc(void)
{
    const char *specs[2] = {"emt", "lj"};
    for (int k = 0; k < 2; k++) {
        mlshift_prior *p = NULL;
        mlshift_calc *c = NULL;
        mlshift_error err;
        CHECK(!mlshift_prior_create(specs[k], &p, &err), "prior %s", specs[k]);
        CHECK(!mlshift_calc_from_prior(p, &c, &err), "calc from prior");
        sys cu;
        fcc(&cu, 29, 3.61, 2 + k);
        char what[64];
        snprintf(what, sizeof what, "%s periodic Cu32", specs[k]);
        check_calc(c, &cu, what, 0, 1e-6, 1e-5);
        mlshift_frame f = view(&cu);
        double e, ea[NMAX];
        CHECK(mlshift_calc_compute(c, &f, &e, NULL, ea, NULL, &err) == MLSHIFT_ERR_UNSUPPORTED,
              "%s: per-atom energies are refused, not invented", specs[k]);
        mlshift_calc_destroy(c);
        mlshift_prior_destroy(p);
    }
}

/* create, save, load, clone, info, record; batch = single; MD view */
static void test_model_files(void)
{
    int z[3] = {1, 6, 8};
    mlshift_model *m = tiny_model(MLSHIFT_ARCH_PAINN, z, 3, 4.5);
    if (!m)
        return;
    mlshift_error err;
    char path[] = "/tmp/mlshift_test_api_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    CHECK(!mlshift_model_set_record(m, "{\"prior_f_mse_in_dist\":0.25,\"mode\":\"x\","
                                       "\"init\":{\"lr\":3}}", &err), "set record");
    CHECK(!mlshift_model_save(m, path, &err), "save: %s", err.message);
    mlshift_model *l = NULL, *cl = NULL;
    CHECK(!mlshift_model_load(path, &l, &err), "load: %s", err.message);
    CHECK(!mlshift_model_clone(m, &cl, &err), "clone");
    unlink(path);
    if (!l || !cl)
        return;
    mlshift_model_info in;
    mlshift_model_get_info(l, &in);
    CHECK(in.hyper.features == 8 && in.hyper.rbf == 6 && in.hyper.blocks == 2 &&
          in.hyper.rep_blocks == 1 && in.hyper.ttt_blocks == 1 && in.hyper.cutoff == 4.5,
          "info: hyper-parameters read back");
    CHECK(in.n_elements == 3 && in.elements[0] == 1 && in.elements[2] == 8, "info: elements");
    size_t sum = 0, nt = 0;
    for (int g = 0; g < MLSHIFT_NGROUPS; g++) {
        sum += in.group_params[g];
        nt += in.group_tensors[g];
    }
    CHECK(sum == in.n_params && nt == in.n_tensors && in.n_params > 0, "info: groups add up");
    CHECK(in.record && strstr(in.record, "\"mode\":\"x\""), "info: the record");
    CHECK_CLOSE(mlshift_model_record_number(l, "prior_f_mse_in_dist"), 0.25, 0, 0, "record number");
    CHECK(isnan(mlshift_model_record_number(l, "lr")), "nested keys are not the top level's");
    mlshift_tensor_info ti;
    CHECK(!mlshift_model_tensor(l, 0, &ti, &err) && ti.name && ti.name[0], "tensor 0");
    CHECK(mlshift_model_tensor(l, in.n_tensors, &ti, &err) == MLSHIFT_ERR_VALUE, "tensor range");
    CHECK(!strcmp(mlshift_version(), MLSHIFT_VERSION), "version");
    /* three molecules: batch = one at a time, for original, loaded, clone */
    mlshift_frames *fr = mlshift_frames_create();
    const int zz[] = {6, 8, 1, 1};
    for (int k = 0; k < 3; k++) {
        double x[12] = {0, 0, 0, 1.2, 0, 0, -0.5, 0.9, 0, -0.5, -0.9, 0.1 * k};
        mlshift_frame f;
        memset(&f, 0, sizeof f);
        f.natoms = 4 - (k == 1);
        f.numbers = zz;
        f.positions = x;
        f.energy = NAN;
        mlshift_frames_append(fr, &f, "test", &err);
    }
    mlshift_model *ms[3] = {m, l, cl};
    double eb[3][3], fb[3][3 * 11], es[3], fs[12]; /* 4 + 3 + 4 atoms */
    for (int k = 0; k < 3; k++) {
        mlshift_calc *c = NULL;
        mlshift_calc_from_model(ms[k], MLSHIFT_HEAD_MAIN, 0, &c, &err);
        CHECK(!mlshift_calc_compute_batch(c, fr, NULL, 3, 2, eb[k], fb[k], &err), "batch: %s",
              err.message);
        size_t at = 0;
        for (size_t s = 0; s < 3; s++) {
            mlshift_frame f;
            mlshift_frames_get(fr, s, &f);
            mlshift_calc_compute(c, &f, &es[s], fs, NULL, NULL, &err);
            CHECK_CLOSE(eb[k][s], es[s], 1e-12, 1e-12, "batch energy %zu", s);
            for (size_t i = 0; i < 3 * f.natoms; i++)
                CHECK_CLOSE(fb[k][3 * at + i], fs[i], 1e-12, 1e-10, "batch force %zu", i);
            at += f.natoms;
        }
        /* the MD view */
        mlshift_md_calculator mc;
        mlshift_calc_md(c, &mc);
        mlshift_frame f;
        mlshift_frames_get(fr, 0, &f);
        double e0 = NAN;
        CHECK(!mc.compute(mc.ctx, &f, &e0, fs, &err) && e0 == es[0], "MD view computes the same");
        mlshift_calc_destroy(c);
    }
    for (int s = 0; s < 3; s++) {
        CHECK(eb[1][s] == eb[0][s] && eb[2][s] == eb[0][s],
              "saved/loaded and cloned models compute the same energy (%d)", s);
    }
    mlshift_frames_destroy(fr);
    mlshift_model_destroy(m);
    mlshift_model_destroy(l);
    mlshift_model_destroy(cl);
}

/* train (plain) then TTT through the public API, on EMT labels of Cu
 * clusters. */
static void test_train_ttt(void)
{
    int z[1] = {29};
    mlshift_model *m = tiny_model(MLSHIFT_ARCH_PAINN, z, 1, 4.0);
    mlshift_prior *p = NULL;
    mlshift_error err;
    if (!m || mlshift_prior_create("emt", &p, &err))
        return;
    mlshift_frames *fr = mlshift_frames_create();
    for (int k = 0; k < 12; k++) {
        sys s;
        fcc(&s, 29, 3.61, 10 + k);
        s.periodic = 0;
        s.n = 13;
        mlshift_frame f = view(&s);
        double F[3 * NMAX];
        mlshift_prior_compute(p, &f, &f.energy, F, NULL, &err);
        f.forces = F;
        f.flags |= MLSHIFT_HAS_ENERGY | MLSHIFT_HAS_FORCES;
        mlshift_frames_append(fr, &f, "test", &err);
    }
    mlshift_dataset *d = NULL;
    CHECK(!mlshift_dataset_create(fr, NULL, 12, &d, &err), "dataset");
    CHECK(mlshift_dataset_count(d) == 12 && mlshift_dataset_atoms(d) == 12 * 13, "dataset size");
    CHECK(mlshift_dataset_labels(d, MLSHIFT_HEAD_MAIN) == 3, "main labels from the frames");
    int reused = -1, cached = -1;
    char cache[] = "/tmp/mlshift_test_api_cache_XXXXXX";
    int fd = mkstemp(cache);
    if (fd >= 0)
        close(fd);
    CHECK(!mlshift_dataset_prior_labels(d, p, cache, &reused, &cached, NULL, NULL, &err) &&
          !reused && cached, "prior labels computed and cached");
    CHECK(!mlshift_dataset_prior_labels(d, p, cache, &reused, &cached, NULL, NULL, &err) &&
          reused == 1, "prior labels reused from the cache");
    unlink(cache);
    mlshift_train_config c;
    mlshift_train_config_default(&c, MLSHIFT_TRAIN_PRETRAIN);
    c.epochs = 3;
    c.batch = 4;
    c.opt.ema_decay = 0;
    c.plateau_patience = 0;
    mlshift_loss_config lc = {{0, 1}, {0, 100}, 0, 0};
    mlshift_loss_parts before, after;
    CHECK(!mlshift_dataset_loss(m, d, 4, 0, &lc, &before, &err), "loss before");
    mlshift_train_report rep;
    CHECK(!mlshift_train(m, d, NULL, &c, NULL, &rep, &err), "train: %s", err.message);
    CHECK(rep.steps == 9 && rep.epochs == 3, "3 epochs of 3 steps (%zu, %d)", rep.steps,
          rep.epochs);
    CHECK(!mlshift_dataset_loss(m, d, 4, 0, &lc, &after, &err), "loss after");
    CHECK(after.loss < before.loss, "pre-training lowers the prior loss (%g -> %g)", before.loss,
          after.loss);
    /* TTT */
    mlshift_model *b = NULL;
    mlshift_model_clone(m, &b, &err);
    mlshift_ttt_config t;
    CHECK(!mlshift_ttt_config_preset(&t, "md17", &err) && t.steps == 3000 &&
          t.opt.kind == MLSHIFT_OPT_SGD, "md17 preset");
    CHECK(mlshift_ttt_config_preset(&t, "nope", &err) == MLSHIFT_ERR_VALUE, "unknown preset");
    mlshift_ttt_config_preset(&t, "md22", &err);
    t.steps = 5;
    t.batch = 4;
    t.opt.lr = 1e-3;
    mlshift_ttt_report tr;
    CHECK(!mlshift_ttt(m, d, &t, &tr, &err), "ttt: %s", err.message);
    CHECK(tr.steps == 5, "ttt steps");
    /* which groups move is the trainer's own test (test_train); here: it ran */
    mlshift_frame f;
    mlshift_frames_get(fr, 0, &f);
    double e0, e1;
    mlshift_model_compute(b, &f, MLSHIFT_HEAD_MAIN, 0, &e0, NULL, &err);
    mlshift_model_compute(m, &f, MLSHIFT_HEAD_MAIN, 0, &e1, NULL, &err);
    CHECK(e0 != e1, "TTT changed the model");
    double best = 0, losses[2], lrs[2] = {1e-6, 1e-4};
    CHECK(!mlshift_ttt_probe_lr(b, d, &t, lrs, 2, 3, &best, losses, &err) &&
          (best == lrs[0] || best == lrs[1]), "probe lr");
    mlshift_model_destroy(b);
    mlshift_dataset_destroy(d);
    mlshift_frames_destroy(fr);
    mlshift_prior_destroy(p);
    mlshift_model_destroy(m);
}

int main(void)
{
    test_model_calc();
    test_prior_calc();
    test_model_files();
    test_train_ttt();
    return check_done();
}

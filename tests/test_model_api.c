/* SPDX-License-Identifier: MIT */
/* The public model API (mlshift_model_*) against the internal predictor it
 * wraps: a model saved to a file, loaded through the API, gives the same
 * energies and forces bit for bit, for both heads and a run-time cutoff,
 * and in float32 with the handle's once-converted parameters before and
 * after they change; bad files and heads are refused. */
#include <unistd.h>

#include "check.h"
#include "mlshift.h"
#include "model/handle.h"
#include "model/model.h"

int main(void)
{
    mlshift_error err;
    ms_model_hyper h;
    ms_model_hyper_default(&h, MS_ARCH_PAINN);
    h.F = 8;
    h.T = 2;
    h.k_rep = 1;
    h.j_ttt = 1;
    const int z[3] = {1, 6, 8};
    ms_model *m = NULL;
    mlshift_status st = ms_model_create(&m, &h, z, 3, 7, &err);
    CHECK(st == MLSHIFT_OK && m, "create: %s", err.message);
    if (st != MLSHIFT_OK)
        return check_done();
    char path[64];
    snprintf(path, sizeof path, "/tmp/mlshift-api-%ld.model", (long)getpid());
    st = ms_model_save(m, path, &err);
    CHECK(st == MLSHIFT_OK, "save: %s", err.message);
    if (st != MLSHIFT_OK) {
        ms_model_destroy(m);
        return check_done();
    }

    /* A small molecule: C, O, H, H with a C–O bond. */
    int numbers[4] = {6, 8, 1, 1};
    double pos[12] = {0, 0, 0, 1.21, 0, 0, -0.55, 0.94, 0, -0.55, -0.94, 0.1};
    mlshift_frame f = {0};
    f.natoms = 4;
    f.numbers = numbers;
    f.positions = pos;

    mlshift_model *api = NULL;
    st = mlshift_model_load(path, &api, &err);
    CHECK(st == MLSHIFT_OK && api, "load: %s", err.message);
    if (st != MLSHIFT_OK || !api) {
        ms_model_destroy(m);
        remove(path);
        return check_done();
    }
    CHECK(mlshift_model_cutoff(api) == h.r_basis, "training cutoff");
    ms_model_ws ws;
    ms_model_ws_init(&ws);
    for (int head = 0; head < 2; head++)
        for (int c = 0; c < 2; c++) {
            double cut = c ? 1.5 : 0.0, e1, e2, f1[12], f2[12];
            st = mlshift_model_compute(api, &f, (mlshift_head)head, cut, &e1, f1,
                                       &err);
            CHECK(st == MLSHIFT_OK, "head %d cutoff %g: API compute: %s", head, cut,
                  err.message);
            mlshift_status st2 = ms_model_predict(&ws, m, &f, 1, (ms_head)head, cut,
                                                  &e2, f2, &err);
            CHECK(st2 == MLSHIFT_OK, "head %d cutoff %g: internal predict: %s", head,
                  cut, err.message);
            CHECK(st == MLSHIFT_OK && st2 == MLSHIFT_OK && e1 == e2 &&
                      !memcmp(f1, f2, sizeof f1),
                  "head %d cutoff %g: API equals the internal predictor", head, cut);
        }
    double e0 = 0, e1 = 0;
    st = mlshift_model_compute(api, &f, MLSHIFT_HEAD_MAIN, 0.0, &e0, NULL, &err);
    CHECK(st == MLSHIFT_OK, "energy only, training cutoff: %s", err.message);
    mlshift_status st2 =
        mlshift_model_compute(api, &f, MLSHIFT_HEAD_MAIN, 1.0, &e1, NULL, &err);
    CHECK(st2 == MLSHIFT_OK, "energy only, cutoff 1: %s", err.message);
    CHECK(st == MLSHIFT_OK && st2 == MLSHIFT_OK && e0 != e1,
          "the run-time cutoff changes the graph (%g vs %g)", e0, e1);
    CHECK(mlshift_model_compute(api, &f, (mlshift_head)7, 0.0, &e0, NULL, &err) ==
          MLSHIFT_ERR_VALUE, "unknown head refused");
    numbers[0] = 26; /* Fe: not among the model's elements */
    CHECK(mlshift_model_compute(api, &f, MLSHIFT_HEAD_MAIN, 0.0, &e0, NULL, &err) !=
          MLSHIFT_OK && strstr(err.message, "Fe"), "unknown element: %s", err.message);
    numbers[0] = 6;

    /* float32: the handle converts its parameters once and reuses them until
     * the model is taken to be changed (ms_model_of, as training and TTT
     * take it). Against a fresh float32 workspace, which converts them on
     * every call: the same bits on a second call (the reused copy), and
     * again after every parameter is changed (a stale copy would give the
     * old energy, which the change moves). */
    mlshift_model_set_dtype(api, MLSHIFT_FLOAT32);
    ms_model_ws w32;
    ms_model_ws_init(&w32);
    ms_graph_set_dtype(&w32.g, MS_F32);
    double e_before = 0, e_after = 0;
    for (int round = 0; round < 2; round++) {
        int same = 1;
        double ea = 0, eb = 0, fa[12], fb[12];
        for (int rep = 0; rep < 3; rep++) {
            st = mlshift_model_compute(api, &f, MLSHIFT_HEAD_MAIN, 0.0, &ea, fa, &err);
            st2 = ms_model_predict(&w32, ms_model_of_const(api), &f, 1, MS_HEAD_MAIN, 0.0,
                                   &eb, fb, &err);
            same &= st == MLSHIFT_OK && st2 == MLSHIFT_OK && ea == eb &&
                    !memcmp(fa, fb, sizeof fa);
        }
        CHECK(same, "float32, %s the parameters change: the handle's converted copy "
              "gives the per-call conversion's bits (%.17g, %.17g)",
              round ? "after" : "before", ea, eb);
        if (round == 0) {
            e_before = ea;
            ms_model *mut = ms_model_of(api);
            for (size_t k = 0; k < mut->P; k++)
                mut->theta[k] *= 1.01;
        } else {
            e_after = ea;
        }
    }
    CHECK(e_after != e_before, "the change moves the float32 energy (%g -> %g)", e_before,
          e_after);
    ms_model_ws_free(&w32);
    mlshift_model_destroy(api);
    ms_model_ws_free(&ws);
    ms_model_destroy(m);

    /* Corrupt the magic in place. */
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL, "reopen %s to corrupt it", path);
    if (!fp) {
        remove(path);
        return check_done();
    }
    int wrote = fseek(fp, 0, SEEK_SET) == 0 && fputc('X', fp) == 'X';
    wrote &= fclose(fp) == 0;
    CHECK(wrote, "corrupt the first byte of %s", path);
    mlshift_model *bad = NULL;
    CHECK(mlshift_model_load(path, &bad, &err) != MLSHIFT_OK && !bad &&
          strstr(err.message, path), "a corrupt file is refused: %s", err.message);
    CHECK(mlshift_model_load("/nonexistent.model", &bad, &err) == MLSHIFT_ERR_IO,
          "missing file");
    CHECK(remove(path) == 0, "remove %s", path);
    return check_done();
}

/* SPDX-License-Identifier: MIT */
/* mlshift_model_compute_atoms and mlshift_model_interaction_range (the KIM
 * driver's calls, docs/lammps.md) against mlshift_model_compute and
 * central finite differences:
 * - without weights: the energy and forces of mlshift_model_compute, and
 *   the atomic energies sum to it;
 * - with weights: forces = −∂(Σ w_i e_i)/∂r by finite differences (h 1e-5,
 *   |Δ| ≤ 1e-8 + 1e-6·|numeric|, worst entry reported);
 * - the range is T × cutoff and is reached: on a chain 1.4 Å apart with a
 *   3-block, 3 Å model, atom 0's energy feels the atom 8.4 Å away (three
 *   hops of 2.8 Å) and not the one 9.8 Å away (beyond 3 × 3 Å). */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlshift.h"
#include "model/model.h"

#define N 10

int main(void)
{
    mlshift_error err;
    ms_model_hyper h;
    ms_model_hyper_default(&h, MS_ARCH_PAINN);
    h.F = 8;
    h.T = 3;
    h.k_rep = 2;
    h.j_ttt = 1;
    h.r_basis = 3.0;
    const int z[3] = {1, 6, 8};
    ms_model *m = NULL;
    mlshift_status st = ms_model_create(&m, &h, z, 3, 5, &err);
    CHECK(st == MLSHIFT_OK && m, "create: %s", err.message);
    if (st != MLSHIFT_OK)
        return check_done();
    char path[64];
    snprintf(path, sizeof path, "/tmp/mlshift-atoms-%ld.model", (long)getpid());
    st = ms_model_save(m, path, &err);
    ms_model_destroy(m);
    mlshift_model *api = NULL;
    if (st == MLSHIFT_OK)
        st = mlshift_model_load(path, &api, &err);
    remove(path);
    CHECK(st == MLSHIFT_OK && api, "save and load: %s", err.message);
    if (st != MLSHIFT_OK)
        return check_done();
    CHECK_CLOSE(mlshift_model_interaction_range(api, 0), 9.0, 0, 0, "range 3 × 3 Å");
    CHECK_CLOSE(mlshift_model_interaction_range(api, 2.5), 7.5, 0, 0, "range at 2.5 Å");

    /* a chain along x, 1.4 Å apart, slightly off the line */
    int numbers[N];
    double pos[3 * N];
    for (int i = 0; i < N; i++) {
        numbers[i] = i % 3 == 0 ? 6 : i % 3 == 1 ? 8 : 1;
        pos[3 * i] = 1.4 * i;
        pos[3 * i + 1] = 0.01 * sin(1.0 + i);
        pos[3 * i + 2] = 0.01 * cos(2.0 * i);
    }
    mlshift_frame f = {.natoms = N, .numbers = numbers, .positions = pos, .energy = NAN};

    double e_ref, f_ref[3 * N], e, fo[3 * N], ea[N];
    st = mlshift_model_compute(api, &f, MLSHIFT_HEAD_MAIN, 0, &e_ref, f_ref, &err);
    CHECK(st == MLSHIFT_OK, "compute: %s", err.message);
    st = mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, NULL, &e, fo, ea, &err);
    CHECK(st == MLSHIFT_OK, "compute_atoms: %s", err.message);
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += ea[i];
    CHECK_CLOSE(e, e_ref, 1e-12, 1e-12, "no weights: the model's energy");
    CHECK_CLOSE(sum, e_ref, 1e-12, 1e-12, "atomic energies sum to the energy");
    check_array_close("no weights: the model's forces", fo, f_ref, 3 * N, 1e-12, 1e-10);

    /* weights: finite differences of E_w, on a helix (a near-straight chain
     * is a near-kink of PaiNN's vector norms, too sharp for h = 1e-5) */
    double chain[3 * N];
    memcpy(chain, pos, sizeof pos);
    for (int i = 0; i < N; i++) {
        pos[3 * i] = 1.0 * i;
        pos[3 * i + 1] = 0.7 * cos(1.9 * i);
        pos[3 * i + 2] = 0.7 * sin(1.9 * i);
    }
    mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, NULL, &e, NULL, ea, &err);
    double w[N], fw[3 * N], num[3 * N];
    for (int i = 0; i < N; i++)
        w[i] = (i * 7) % 3 == 0 ? 1.0 : i == 4 ? 0.5 : 0.0;
    double ew;
    mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, w, &ew, fw, NULL, &err);
    double wsum = 0;
    for (int i = 0; i < N; i++)
        wsum += w[i] * ea[i];
    CHECK_CLOSE(ew, wsum, 1e-12, 1e-12, "E_w = Σ w_i e_i");
    const double hh = 1e-5;
    for (int k = 0; k < 3 * N; k++) {
        double x = pos[k], ep, em;
        pos[k] = x + hh;
        mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, w, &ep, NULL, NULL, &err);
        pos[k] = x - hh;
        mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, w, &em, NULL, NULL, &err);
        pos[k] = x;
        num[k] = -(ep - em) / (2 * hh);
    }
    check_array_close("weighted forces vs finite differences", fw, num, 3 * N, 1e-8, 1e-6);

    /* the range, on the chain: weight on atom 0 only */
    memcpy(pos, chain, sizeof pos);
    double w0[N] = {1};
    mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, w0, &ew, fw, NULL, &err);
    double f6 = fabs(fw[18]) + fabs(fw[19]) + fabs(fw[20]);
    double f7 = fabs(fw[21]) + fabs(fw[22]) + fabs(fw[23]);
    CHECK(f6 > 1e-12, "atom 6 (8.4 Å, 3 hops) moves atom 0's energy: |F| %g", f6);
    CHECK(f7 == 0, "atom 7 (9.8 Å > 3 × 3 Å) does not: |F| %g", f7);
    double e7;
    pos[21] += 0.3;
    mlshift_model_compute_atoms(api, &f, MLSHIFT_HEAD_MAIN, 0, w0, &e7, NULL, NULL, &err);
    pos[21] -= 0.3;
    CHECK(e7 == ew, "moving atom 7 leaves e_0 bit for bit: %.17g vs %.17g", e7, ew);

    /* bad head */
    st = mlshift_model_compute_atoms(api, &f, (mlshift_head)7, 0, NULL, &e, NULL, NULL, &err);
    CHECK(st == MLSHIFT_ERR_VALUE, "unknown head refused");
    mlshift_model_destroy(api);
    return check_done();
}

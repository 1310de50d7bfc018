/* SPDX-License-Identifier: MIT */
/* Diagnosis of one structure against the training statistics, by the
 * paper's rule: out of distribution along an axis when more than one
 * standard deviation from the training mean (§3.2, A.5).
 *   features      an element absent from training, or a composition (Hill
 *                 formula) absent from training — "new chemistry";
 *   size          |N − mean N| > std N;
 *   carbon        |x_C − mean| > std (Fig. 11's axis);
 *   force norm    |f − mean f| > std f, f from labels or a prior;
 *   connectivity  D − mean D > std D, D = eq. 5 to the average training
 *                 spectrum at the training cutoff. One-sided: a graph closer
 *                 to the average than typical training graphs is not shifted.
 * A test graph larger than N_max is compared with the average padded with
 * zeros (d->padded says so). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "shift_ws.h"
#include "stats.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* (Re)builds the sorted composition index of st in ws. */
static mlshift_status index_compositions(mlshift_shift_ws *ws,
                                         const mlshift_train_stats *st,
                                         mlshift_error *err)
{
    if (ws->comp_src == st->compositions && ws->n_comp == st->n_compositions)
        return MLSHIFT_OK;
    free(ws->comp);
    ws->comp = malloc((st->n_compositions ? st->n_compositions : 1) *
                      sizeof *ws->comp);
    if (!ws->comp)
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "diagnose: out of memory");
    const char *c = st->compositions;
    for (size_t k = 0; k < st->n_compositions; k++, c += strlen(c) + 1)
        ws->comp[k] = c;
    qsort(ws->comp, st->n_compositions, sizeof *ws->comp, cmp_str);
    ws->n_comp = st->n_compositions;
    ws->comp_src = st->compositions;
    return MLSHIFT_OK;
}

/* More than one standard deviation from the mean (NaN never is). */
static int beyond(double x, double mean, double std)
{
    return fabs(x - mean) > std;
}

mlshift_status mlshift_diagnose(const mlshift_train_stats *st,
                                const mlshift_frame *f, double force_norm,
                                mlshift_shift_ws *ws, mlshift_diagnosis *d,
                                mlshift_error *err)
{
    memset(d, 0, sizeof *d);
    mlshift_status s = index_compositions(ws, st, err);
    if (s != MLSHIFT_OK)
        return s;
    d->natoms = f->natoms;
    unsigned char seen[119] = {0};
    size_t nc = 0;
    for (size_t i = 0; i < f->natoms; i++) {
        int z = f->numbers[i];
        nc += z == 6;
        if (!st->element_atoms[z] && !seen[z]) {
            if (d->n_unseen_elements < 8)
                d->unseen_elements[d->n_unseen_elements] = z;
            d->n_unseen_elements++;
        }
        seen[z] = 1;
    }
    char formula[256];
    mlshift_formula(f, formula, sizeof formula);
    const char *key = formula;
    d->composition_seen = ws->n_comp &&
        bsearch(&key, ws->comp, ws->n_comp, sizeof *ws->comp, cmp_str) != NULL;
    d->carbon_fraction = f->natoms ? (double)nc / (double)f->natoms : 0.0;
    d->force_norm = force_norm;

    s = ms_shift_graph(ws, f, st->cutoff, err);
    if (s == MLSHIFT_OK)
        s = ms_shift_spectrum(ws, st->cutoff, NULL, err);
    if (s != MLSHIFT_OK)
        return s;
    d->spectral_distance = mlshift_spectral_distance(ws->eig, f->natoms,
                                                     st->spectrum, st->natoms_max);
    d->padded = f->natoms > st->natoms_max;

    if (d->n_unseen_elements || !d->composition_seen)
        d->ood |= MLSHIFT_OOD_FEATURES;
    if (beyond((double)f->natoms, st->natoms_mean, st->natoms_std))
        d->ood |= MLSHIFT_OOD_SIZE;
    if (beyond(d->carbon_fraction, st->carbon_mean, st->carbon_std))
        d->ood |= MLSHIFT_OOD_CARBON;
    if (st->n_force && beyond(force_norm, st->force_norm_mean, st->force_norm_std))
        d->ood |= MLSHIFT_OOD_FORCE_NORM;
    if (d->spectral_distance - st->spectral_mean > st->spectral_std)
        d->ood |= MLSHIFT_OOD_CONNECTIVITY;
    return MLSHIFT_OK;
}

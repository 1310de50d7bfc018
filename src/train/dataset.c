/* SPDX-License-Identifier: MIT */
/* Training data sets (frame views with per-head labels) and the energy
 * normalisation of a head: per-element reference energies by least squares
 * on the compositions, then shift and scale.
 *
 * With S elements and n frames of composition counts A (n, S), atom_ref
 * minimises ‖A x − E‖² (dgelsd: the minimum-norm solution when A has rank
 * r < S, e.g. three molecules of four elements). The residual per atom
 * (E_b − A_b x)/N_b has mean `shift`; `scale` is the RMS force component,
 * the natural unit of the network's per-atom output. */
#include "train/train.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void ms_dataset_free(ms_dataset *d)
{
    free(d->f);
    free(d->off);
    for (int h = 0; h < 2; h++) {
        free(d->E[h]);
        free(d->F[h]);
    }
    memset(d, 0, sizeof *d);
}

mlshift_status ms_dataset_init(ms_dataset *d, const mlshift_frames *fr, const size_t *idx,
                               size_t n, mlshift_error *err)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->f = calloc(n ? n : 1, sizeof *d->f);
    d->off = calloc(n + 1, sizeof *d->off);
    if (!d->f || !d->off) {
        ms_dataset_free(d);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
    }
    int all_e = 1, all_f = 1;
    for (size_t k = 0; k < n; k++) {
        mlshift_status st = mlshift_frames_get(fr, idx ? idx[k] : k, &d->f[k]);
        if (st) {
            ms_dataset_free(d);
            return ms_fail(err, st, "train: frame %zu is out of range", idx ? idx[k] : k);
        }
        d->off[k + 1] = d->off[k] + d->f[k].natoms;
        all_e &= (d->f[k].flags & MLSHIFT_HAS_ENERGY) != 0;
        all_f &= (d->f[k].flags & MLSHIFT_HAS_FORCES) != 0;
    }
    if (n && (all_e || all_f)) {
        double *E = all_e ? malloc(n * sizeof *E) : NULL;
        double *F = all_f ? malloc(3 * d->off[n] * sizeof *F) : NULL;
        if ((all_e && !E) || (all_f && !F)) {
            free(E);
            free(F);
            ms_dataset_free(d);
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        }
        for (size_t k = 0; k < n; k++) {
            if (E)
                E[k] = d->f[k].energy;
            if (F)
                memcpy(F + 3 * d->off[k], d->f[k].forces, 3 * d->f[k].natoms * sizeof *F);
        }
        d->E[MS_HEAD_MAIN] = E;
        d->F[MS_HEAD_MAIN] = F;
    }
    return MLSHIFT_OK;
}

mlshift_status ms_dataset_set_labels(ms_dataset *d, ms_head head, const double *E,
                                     const double *F, mlshift_error *err)
{
    double *e = NULL, *f = NULL;
    if (E && !(e = malloc((d->n ? d->n : 1) * sizeof *e)))
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
    if (F && !(f = malloc((3 * d->off[d->n] + 1) * sizeof *f))) {
        free(e);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
    }
    if (e)
        memcpy(e, E, d->n * sizeof *e);
    if (f)
        memcpy(f, F, 3 * d->off[d->n] * sizeof *f);
    free(d->E[head]);
    free(d->F[head]);
    d->E[head] = e;
    d->F[head] = f;
    return MLSHIFT_OK;
}

static double *param(ms_model *m, const char *head, const char *what)
{
    char name[MS_PARAM_NAME];
    snprintf(name, sizeof name, "%s.%s", head, what);
    long i = ms_model_find(m, name);
    return i < 0 ? NULL : m->theta + m->param[i].off;
}

mlshift_status ms_fit_head(ms_model *m, const ms_dataset *d, ms_head head,
                           int *underdetermined, mlshift_error *err)
{
    const char *hn = head == MS_HEAD_MAIN ? "main" : "prior";
    double *atom_ref = param(m, hn, "atom_ref"), *scale = param(m, hn, "scale"),
           *shift = param(m, hn, "shift");
    if (!atom_ref || !scale || !shift)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "train: the model has no %s readout", hn);
    const size_t n = d->n, S = (size_t)m->n_el;
    if (underdetermined)
        *underdetermined = 0;
    if (!n)
        return MLSHIFT_OK;
    const double *E = d->E[head], *F = d->F[head];
    double sd_e = 0;
    if (E) {
        size_t ld = n > S ? n : S;
        double *A = calloc(n * S, sizeof *A);       // (n, S) counts
        double *y = calloc(ld, sizeof *y);          // (max(n, S),)
        double *sv = calloc(S, sizeof *sv);
        if (!A || !y || !sv) {
            free(A), free(y), free(sv);
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "train: out of memory");
        }
        for (size_t b = 0; b < n; b++) {
            for (size_t i = 0; i < d->f[b].natoms; i++) {
                int z = d->f[b].numbers[i];
                int s = z >= 1 && z <= MS_MODEL_MAXEL ? m->species[z] : -1;
                if (s < 0) {
                    free(A), free(y), free(sv);
                    const char *sym = mlshift_element_symbol(z);
                    return ms_fail(err, MLSHIFT_ERR_VALUE,
                                   "train: frame %zu atom %zu is %s, an element the model "
                                   "was not made for", b, i, sym ? sym : "unknown");
                }
                A[b * S + (size_t)s] += 1;
            }
            y[b] = E[b];
        }
        lapack_int rank = 0;
        lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)S, 1, A,
                                         (lapack_int)S, y, 1, sv, 1e-10, &rank);
        if (info != 0) {
            free(A), free(y), free(sv);
            return ms_fail(err, MLSHIFT_ERR_VALUE,
                           "train: least squares for the %s head's reference energies "
                           "failed (LAPACK info %d)", hn, (int)info);
        }
        memcpy(atom_ref, y, S * sizeof *y);
        if (underdetermined)
            *underdetermined = (int)S - (int)rank;
        double mean = 0, m2 = 0;
        for (size_t b = 0; b < n; b++) {
            double r = E[b];
            for (size_t i = 0; i < d->f[b].natoms; i++)
                r -= atom_ref[m->species[d->f[b].numbers[i]]];
            r /= (double)d->f[b].natoms;
            double dl = r - mean;
            mean += dl / (double)(b + 1);
            m2 += dl * (r - mean);
        }
        *shift = mean;
        sd_e = sqrt(m2 / (double)n);
        free(A), free(y), free(sv);
    }
    double s = 0;
    if (F) {
        double ss = 0;
        size_t c = 3 * d->off[n];
        for (size_t k = 0; k < c; k++)
            ss += F[k] * F[k];
        s = sqrt(ss / (double)(c ? c : 1));
    } else {
        s = sd_e;
    }
    *scale = s > 1e-6 ? s : 1.0;
    return MLSHIFT_OK;
}

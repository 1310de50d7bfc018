/* SPDX-License-Identifier: MIT */
/* Counting training graphs within spectral distance ε of a test graph
 * (paper Fig. 19) without comparing against all of them.
 *
 * Zero padding does not change a spectrum's Euclidean norm, and by the
 * triangle inequality | ‖a‖ − ‖b‖ | ≤ ‖a − b‖. So with the training spectra
 * sorted by norm, every b with ‖a − b‖² ≤ ε has ‖b‖ in
 * [‖a‖ − √ε, ‖a‖ + √ε]: two binary searches bound the candidates, and only
 * those are compared exactly (eq. 5, padded). Spectra are stored back to
 * back in norm order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "shift_ws.h"

struct mlshift_spectral_index {
    size_t n;           /* training graphs */
    double cutoff;      /* Å */
    double *norm;       /* (n,) ascending */
    size_t *off;        /* (n + 1,) spectrum k is eig[off[k] .. off[k+1]) */
    double *eig;        /* all spectra, in norm order */
};

typedef struct keyed {
    double norm;
    size_t frame, off, len;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->norm != y->norm)
        return (x->norm > y->norm) - (x->norm < y->norm);
    return (x->frame > y->frame) - (x->frame < y->frame);
}

void mlshift_spectral_index_destroy(mlshift_spectral_index *ix)
{
    if (!ix)
        return;
    free(ix->norm);
    free(ix->off);
    free(ix->eig);
    free(ix);
}

mlshift_status mlshift_spectral_index_build(const mlshift_frames *train,
                                            double cutoff,
                                            mlshift_spectral_index **out,
                                            mlshift_error *err)
{
    *out = NULL;
    size_t n = mlshift_frames_count(train), A = mlshift_frames_total_atoms(train);
    mlshift_spectral_index *ix = calloc(1, sizeof *ix);
    double *raw = malloc((A ? A : 1) * sizeof *raw);
    keyed *key = malloc((n ? n : 1) * sizeof *key);
    mlshift_shift_ws *ws = mlshift_shift_ws_create();
    mlshift_status s = MLSHIFT_OK;
    if (!ix || !raw || !key || !ws) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "spectral index: out of memory");
        goto fail;
    }
    ix->n = n;
    ix->cutoff = cutoff;
    ix->norm = malloc((n ? n : 1) * sizeof *ix->norm);
    ix->off = malloc((n + 1) * sizeof *ix->off);
    ix->eig = malloc((A ? A : 1) * sizeof *ix->eig);
    if (!ix->norm || !ix->off || !ix->eig) {
        s = ms_fail(err, MLSHIFT_ERR_NOMEM, "spectral index: out of memory");
        goto fail;
    }
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        mlshift_frame f;
        mlshift_frames_get(train, k, &f);
        if ((s = ms_shift_graph(ws, &f, cutoff, err)) ||
            (s = ms_shift_spectrum(ws, cutoff, NULL, err)))
            goto fail;
        double s2 = 0;
        for (size_t l = 0; l < f.natoms; l++)
            s2 += ws->eig[l] * ws->eig[l];
        memcpy(raw + off, ws->eig, f.natoms * sizeof *raw);
        key[k] = (keyed){sqrt(s2), k, off, f.natoms};
        off += f.natoms;
    }
    qsort(key, n, sizeof *key, cmp_keyed);
    off = 0;
    for (size_t k = 0; k < n; k++) {
        ix->norm[k] = key[k].norm;
        ix->off[k] = off;
        memcpy(ix->eig + off, raw + key[k].off, key[k].len * sizeof *raw);
        off += key[k].len;
    }
    ix->off[n] = off;
    free(raw);
    free(key);
    mlshift_shift_ws_destroy(ws);
    *out = ix;
    return MLSHIFT_OK;
fail:
    free(raw);
    free(key);
    mlshift_shift_ws_destroy(ws);
    mlshift_spectral_index_destroy(ix);
    return s;
}

/* First k with norm[k] >= x. */
static size_t lower_bound(const double *norm, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (norm[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t mlshift_spectral_index_count(const mlshift_spectral_index *ix,
                                    const double *eig, size_t n, double eps)
{
    if (!(eps >= 0))
        return 0;
    double s2 = 0;
    for (size_t l = 0; l < n; l++)
        s2 += eig[l] * eig[l];
    double a = sqrt(s2), r = sqrt(eps);
    /* A little slack so round-off in the norms never drops a true match. */
    double slack = 1e-12 * (1 + a);
    size_t k0 = lower_bound(ix->norm, ix->n, a - r - slack);
    size_t count = 0;
    for (size_t k = k0; k < ix->n && ix->norm[k] <= a + r + slack; k++) {
        size_t m = ix->off[k + 1] - ix->off[k];
        if (mlshift_spectral_distance(eig, n, ix->eig + ix->off[k], m) <= eps)
            count++;
    }
    return count;
}

size_t mlshift_spectral_index_size(const mlshift_spectral_index *ix)
{
    return ix->n;
}

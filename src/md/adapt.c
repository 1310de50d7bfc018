/* SPDX-License-Identifier: MIT */
/* Test-time training during MD when the shift monitor flags a sustained
 * shift: the paper recalculates θ′ by hand "when a new OOD region is
 * encountered" (§5.2); here the run does it.
 *
 * Each saved frame is monitored (monitor.c) and its positions kept in a
 * ring of the last W frames. A frame is flagged when either of the
 * monitor's flags is set; after K flagged frames in a row the model of the
 * run's calculator is adapted in place by TTT (src/train/ttt.c, eq. 7:
 * only the TTT subset of the representation learns, on the prior head's
 * loss against the prior's labels) on the frames in the ring, labelled by
 * the prior then and there. The MD forces are recomputed with the adapted
 * model, so the next step uses them; the potential energy jumps by
 * whatever the adaptation changed (an NVE run's total energy is conserved
 * between adaptations, not across them). One flag alone never adapts: the
 * training set itself flags about one frame in six on each axis, and a
 * single outlier is noise, not a shift. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../model/handle.h"
#include "../model/model.h"
#include "../train/train.h"
#include "md.h"

struct mlshift_md_adapter {
    mlshift_md_adapt_options o;
    mlshift_shift_ws *ws;
    size_t n;                   /* atoms, fixed by the first frame */
    int *numbers;               /* (N,) */
    double *ring;               /* (W, N, 3) Å */
    size_t held, next;          /* frames in the ring, slot of the next */
    size_t run;                 /* consecutive flagged frames */
    mlshift_md_adapt_report rep;
};

void mlshift_md_adapt_options_default(mlshift_md_adapt_options *o)
{
    memset(o, 0, sizeof *o);
    o->sustain = 3;
    o->window = 10;
    o->steps = 20;
    o->batch = 8;
    o->lr = 1e-3;
    o->max_adaptations = 10;
    o->seed = 1;
}

mlshift_status mlshift_md_adapter_create(const mlshift_md_adapt_options *o,
                                         mlshift_md_adapter **out,
                                         mlshift_error *err)
{
    *out = NULL;
    if (!o || !o->stats || !o->prior)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md adapt: statistics and a prior "
                       "are required");
    if (!o->sustain || !o->window || !o->steps || !o->batch ||
        !(o->lr > 0 && isfinite(o->lr)) || !isfinite(o->cutoff))
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md adapt: sustain, window, steps "
                       "and batch must be >= 1, the learning rate positive");
    mlshift_md_adapter *a = calloc(1, sizeof *a);
    if (!a || !(a->ws = mlshift_shift_ws_create())) {
        free(a);
        return ms_fail(err, MLSHIFT_ERR_NOMEM, "md adapt: out of memory");
    }
    a->o = *o;
    a->rep.first_ps = a->rep.last_ps = NAN;
    *out = a;
    return MLSHIFT_OK;
}

void mlshift_md_adapter_destroy(mlshift_md_adapter *a)
{
    if (!a)
        return;
    mlshift_shift_ws_destroy(a->ws);
    free(a->numbers);
    free(a->ring);
    free(a);
}

void mlshift_md_adapter_report(const mlshift_md_adapter *a, mlshift_md_adapt_report *r)
{
    *r = a->rep;
}

/* Keeps the current positions in the ring. */
static mlshift_status remember(mlshift_md_adapter *a, const mlshift_md *md,
                               mlshift_error *err)
{
    if (!a->ring) {
        a->n = md->n;
        a->numbers = malloc(md->n * sizeof *a->numbers);
        a->ring = malloc(a->o.window * 3 * md->n * sizeof *a->ring);
        if (!a->numbers || !a->ring)
            return ms_fail(err, MLSHIFT_ERR_NOMEM, "md adapt: out of memory");
        memcpy(a->numbers, md->numbers, md->n * sizeof *a->numbers);
    } else if (a->n != md->n) {
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md adapt: one adapter per run");
    }
    memcpy(a->ring + a->next * 3 * a->n, md->x, 3 * a->n * sizeof *a->ring);
    a->next = (a->next + 1) % a->o.window;
    if (a->held < a->o.window)
        a->held++;
    return MLSHIFT_OK;
}

/* The ring's frames with prior labels as a TTT data set, then TTT. */
static mlshift_status adapt(mlshift_md_adapter *a, mlshift_md *md, mlshift_error *err)
{
    const size_t n = a->n, W = a->held;
    mlshift_frames *fr = mlshift_frames_create();
    double *E = malloc(W * sizeof *E), *F = malloc(W * 3 * n * sizeof *F);
    ms_dataset d;
    memset(&d, 0, sizeof d);
    mlshift_status st = !fr || !E || !F ? ms_fail(err, MLSHIFT_ERR_NOMEM,
                                                  "md adapt: out of memory")
                                        : MLSHIFT_OK;
    for (size_t k = 0; !st && k < W; k++) {
        mlshift_frame f = {0};
        f.natoms = n;
        f.numbers = a->numbers;
        f.positions = a->ring + k * 3 * n;
        f.cell = md->has_cell ? md->cell : NULL;
        f.flags = md->has_cell ? MLSHIFT_HAS_CELL : 0;
        for (int c = 0; c < 3; c++)
            f.pbc[c] = md->pbc[c];
        f.energy = NAN;
        if (!(st = mlshift_prior_compute(a->o.prior, &f, &E[k], F + k * 3 * n, NULL, err)))
            st = mlshift_frames_append(fr, &f, "md", err);
    }
    if (!st)
        st = ms_dataset_init(&d, fr, NULL, W, err);
    if (!st)
        st = ms_dataset_set_labels(&d, MS_HEAD_PRIOR, E, F, err);
    ms_ttt_config c;
    ms_ttt_config_default(&c);
    c.opt.lr = a->o.lr;
    c.steps = a->o.steps;
    c.batch = a->o.batch;
    c.seed = a->o.seed + a->rep.adaptations;
    c.r_cut = md->calc.cutoff;
    ms_ttt_report r;
    if (!st)
        st = ms_ttt(ms_model_of(md->calc.model), &d, &c, &r, err);
    if (!st) {
        a->rep.ttt_steps += r.steps;
        a->rep.prior_loss_before = r.prior_before;
        a->rep.prior_loss_after = r.prior_after;
        st = ms_md_forces(md, err); /* the adapted model's forces drive on */
    }
    ms_dataset_free(&d);
    mlshift_frames_destroy(fr);
    free(E);
    free(F);
    return st;
}

mlshift_status mlshift_md_adapt(mlshift_md *md, mlshift_md_adapter *a,
                                mlshift_md_monitor *mon, int *adapted,
                                mlshift_error *err)
{
    *adapted = 0;
    if (!md->calc.model)
        return ms_fail(err, MLSHIFT_ERR_VALUE, "md adapt: test-time training needs "
                       "a model calculator");
    double cutoff = a->o.cutoff > 0 ? a->o.cutoff
                    : md->calc.cutoff > 0 ? md->calc.cutoff
                                          : mlshift_model_cutoff(md->calc.model);
    mlshift_status st = mlshift_md_monitor_state(md, a->o.stats, cutoff, a->ws, mon, err);
    if (!st)
        st = remember(a, md, err);
    if (st)
        return st;
    int flagged = mon->ood_force > 0 || mon->ood_connectivity;
    a->rep.frames++;
    a->rep.flagged += flagged;
    a->run = flagged ? a->run + 1 : 0;
    if (a->run < a->o.sustain ||
        (a->o.max_adaptations && a->rep.adaptations >= a->o.max_adaptations))
        return MLSHIFT_OK;
    if ((st = adapt(a, md, err)))
        return st;
    double t = (double)md->step * md->opt.dt_fs * 1e-3;
    if (!a->rep.adaptations)
        a->rep.first_ps = t;
    a->rep.last_ps = t;
    a->rep.adaptations++;
    a->run = 0;
    *adapted = 1;
    return MLSHIFT_OK;
}

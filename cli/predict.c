/* SPDX-License-Identifier: MIT */
/* mlshift predict: a model's energies and forces for every frame, written
 * to extxyz beside the frames' own labels (pred_energy / pred_forces, or
 * per head with --head both). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift predict --model MODEL IN... -o OUT [options] [reader options]\n"
    "\n"
    "Energies (eV) and forces (eV/Å, -dE/dr) of every frame, written to OUT\n"
    "(extxyz, atomically) beside the frames' own labels under pred_energy and\n"
    "pred_forces; with --head both under pred_energy_main, pred_forces_main,\n"
    "pred_energy_prior and pred_forces_prior.\n"
    "\n"
    "  --model MODEL       a model file (mlshift model init / train)\n"
    "  --head H            main (default), prior or both\n"
    "  --radius R          run-time cutoff in Å (default: the model's training\n"
    "                      cutoff); changes the graph and the envelope only\n"
    "  --refine-radius STATS  test-time radius refinement per structure (eq. 4)\n"
    "                      against training statistics at the model's training\n"
    "                      cutoff; the chosen radius is written as pred_radius\n"
    "  --radii SPEC        trial radii for --refine-radius (default 3:9:10)\n"
    "  -o, --output OUT    the extxyz file to write\n"
    "\n"
    "example: mlshift predict --model painn.model ../shared/data/rmd17/"
    "rmd17_aspirin_test_01.npz -o pred.extxyz\n\n";

/* Frame by frame: the refined radius (if asked), each head's energy and
 * forces, then the frame with them into the writer. */
typedef struct predict_run {
    mlshift_model *m;
    mlshift_writer *w;
    int h0, h1;
    double radius;                  /* fixed run-time cutoff, 0: training */
    const mlshift_train_stats *st;  /* --refine-radius, else NULL */
    const double *radii;
    size_t k_radii;
    mlshift_shift_ws *sws;
    double *pf;                     /* (heads, cap) forces of the frame */
    size_t cap;
} predict_run;

static int predict_frame(void *ctx, const mlshift_frame *f, size_t s,
                         const char *name)
{
    (void)s;
    predict_run *r = ctx;
    mlshift_error err;
    if (f->natoms == 0)
        return cli_fail("%s: the frame has no atoms: nothing to predict", name);
    double chosen = r->radius;
    if (r->st) {
        mlshift_refinement ref;
        if (mlshift_refine_radius(r->st, f, r->radii, r->k_radii, r->sws, &ref,
                                  NULL, &err))
            return cli_fail("%s: %s", name, err.message);
        chosen = ref.radius;
    }
    if (3 * f->natoms > r->cap) {
        size_t cap = 3 * f->natoms > 2 * r->cap ? 3 * f->natoms : 2 * r->cap;
        double *nf = realloc(r->pf, 2 * cap * sizeof *nf);
        if (!nf)
            return cli_fail("out of memory");
        r->pf = nf;
        r->cap = cap;
    }
    double pe[2];
    const double *values[5];
    size_t nv = 0;
    for (int hd = r->h0; hd <= r->h1; hd++) {
        size_t k = (size_t)(hd - r->h0);
        if (mlshift_model_compute(r->m, f, (mlshift_head)hd, chosen, &pe[k],
                                  r->pf + k * r->cap, &err))
            return cli_fail("%s: %s", name, err.message);
        values[nv++] = &pe[k];
        values[nv++] = r->pf + k * r->cap;
    }
    if (r->st)
        values[nv++] = &chosen;
    if (mlshift_writer_write(r->w, f, values, &err))
        return cli_fail("%s", err.message);
    return CLI_OK;
}

int cmd_predict(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "predict", 0};
    const char *out = NULL, *mpath = NULL, *head = "main", *v, *rr_stats = NULL,
               *radii_spec = "3:9:10";
    double radius = 0, *radii = NULL;
    size_t k_radii = 0;
    mlshift_train_stats *st = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    predict_run run = {0};
    if (!files) {
        cli_fail("out of memory");
        goto done;
    }
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out) ||
                   cli_value(&a, "--model", &mpath) || cli_value(&a, "--head", &head) ||
                   cli_value(&a, "--refine-radius", &rr_stats) ||
                   cli_value(&a, "--radii", &radii_spec)) {
            continue;
        } else if (cli_value(&a, "--radius", &v)) {
            if (cli_parse_double("--radius", v, &radius))
                goto done;
            if (!(radius > 0)) {
                cli_fail("predict: --radius %s must be > 0", v);
                goto done;
            }
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!strcmp(head, "main"))
        run.h0 = run.h1 = MLSHIFT_HEAD_MAIN;
    else if (!strcmp(head, "prior"))
        run.h0 = run.h1 = MLSHIFT_HEAD_PRIOR;
    else if (!strcmp(head, "both"))
        run.h0 = MLSHIFT_HEAD_MAIN, run.h1 = MLSHIFT_HEAD_PRIOR;
    else {
        cli_fail("predict: --head %s: main, prior or both", head);
        goto done;
    }
    if (!mpath || !nfiles || !out) {
        cli_fail("predict: give --model MODEL, input files and -o OUT");
        goto done;
    }
    const char *in[2] = {mpath, rr_stats}, *outs[1] = {out};
    if (cli_extxyz_output("predict", out) ||
        cli_outputs_check("predict", in, 2, outs, 1) ||
        cli_outputs_check("predict", (const char *const *)files, nfiles, outs, 1))
        goto done;
    mlshift_error err;
    if (mlshift_model_load(mpath, &run.m, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (rr_stats) {
        if (radius > 0) {
            cli_fail("predict: --radius and --refine-radius exclude each other");
            goto done;
        }
        if (mlshift_stats_read(rr_stats, &st, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
        /* The average spectrum is only meaningful at the cutoff the model
         * was trained with. */
        double rc_model = mlshift_model_cutoff(run.m);
        if (fabs(mlshift_stats_cutoff(st) - rc_model) > 1e-9) {
            cli_fail("%s: statistics at cutoff %g Å but the model was trained "
                     "at %g Å (recompute them with mlshift stats --cutoff %g)",
                     rr_stats, mlshift_stats_cutoff(st), rc_model, rc_model);
            goto done;
        }
        if (cli_parse_radii(radii_spec, &radii, &k_radii) ||
            !(run.sws = mlshift_shift_ws_create())) {
            cli_fail("predict: --radii %s", radii_spec);
            goto done;
        }
        run.st = st;
        run.radii = radii;
        run.k_radii = k_radii;
    }
    run.radius = radius;
    size_t nh = (size_t)(run.h1 - run.h0 + 1), nc = 0;
    mlshift_column cols[5];
    if (nh == 1) {
        cols[nc++] = (mlshift_column){"pred_energy", 0, 1};
        cols[nc++] = (mlshift_column){"pred_forces", 1, 3};
    } else {
        cols[nc++] = (mlshift_column){"pred_energy_main", 0, 1};
        cols[nc++] = (mlshift_column){"pred_forces_main", 1, 3};
        cols[nc++] = (mlshift_column){"pred_energy_prior", 0, 1};
        cols[nc++] = (mlshift_column){"pred_forces_prior", 1, 3};
    }
    if (rr_stats)
        cols[nc++] = (mlshift_column){"pred_radius", 0, 1};
    if (mlshift_writer_open(out, NULL, cols, nc, &run.w, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    size_t n;
    if (cli_stream_frames(&o, files, nfiles, predict_frame, &run, &n))
        goto done;
    mlshift_writer *w = run.w;
    run.w = NULL;
    if (mlshift_writer_commit(w, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "mlshift: predictions (%s head%s) for %zu frames written to "
                "%s\n", head, nh > 1 ? "s" : "", n, out);
    rc = CLI_OK;
done:
    mlshift_writer_abort(run.w);
    mlshift_model_destroy(run.m);
    mlshift_shift_ws_destroy(run.sws);
    mlshift_stats_destroy(st);
    free(radii);
    free(run.pf);
    free(files);
    return rc;
}

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
#include "io/extxyz.h"
#include "model/model.h"

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

int cmd_predict(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "predict", 0};
    const char *out = NULL, *mpath = NULL, *head = "main", *v, *rr_stats = NULL,
               *radii_spec = "3:9:10";
    double radius = 0, *radii = NULL, *chosen = NULL;
    size_t k_radii = 0;
    mlshift_train_stats st = {0};
    mlshift_shift_ws *sws = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL;
    ms_model *m = NULL;
    ms_model_ws ws;
    double *pe = NULL, *pf = NULL;
    ms_model_ws_init(&ws);
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
    int h0, h1;
    if (!strcmp(head, "main"))
        h0 = h1 = MS_HEAD_MAIN;
    else if (!strcmp(head, "prior"))
        h0 = h1 = MS_HEAD_PRIOR;
    else if (!strcmp(head, "both"))
        h0 = MS_HEAD_MAIN, h1 = MS_HEAD_PRIOR;
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
    if (ms_model_load(&m, mpath, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (rr_stats) {
        if (radius > 0) {
            cli_fail("predict: --radius and --refine-radius exclude each other");
            goto done;
        }
        if (mlshift_stats_read(&st, rr_stats, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
        /* The average spectrum is only meaningful at the cutoff the model
         * was trained with. */
        if (fabs(st.cutoff - m->h.r_basis) > 1e-9) {
            cli_fail("%s: statistics at cutoff %g Å but the model was trained "
                     "at %g Å (recompute them with mlshift stats --cutoff %g)",
                     rr_stats, st.cutoff, m->h.r_basis, m->h.r_basis);
            goto done;
        }
        if (cli_parse_radii(radii_spec, &radii, &k_radii) ||
            !(sws = mlshift_shift_ws_create())) {
            cli_fail("predict: --radii %s", radii_spec);
            goto done;
        }
    }
    if (cli_load_frames(&o, files, nfiles, &fr, NULL, NULL, NULL))
        goto done;
    size_t n = mlshift_frames_count(fr), A = mlshift_frames_total_atoms(fr);
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        if (f.natoms == 0) {
            cli_fail("%s: the frame has no atoms: nothing to predict",
                     cli_frame_name(fr, s));
            goto done;
        }
    }
    chosen = malloc((n ? n : 1) * sizeof *chosen);
    if (!chosen) {
        cli_fail("out of memory");
        goto done;
    }
    for (size_t s = 0; s < n; s++) {
        chosen[s] = radius;
        if (!rr_stats)
            continue;
        mlshift_frame f;
        mlshift_refinement ref;
        mlshift_frames_get(fr, s, &f);
        if (mlshift_refine_radius(&st, &f, radii, k_radii, sws, &ref, NULL, &err)) {
            cli_fail("%s: %s", cli_frame_name(fr, s), err.message);
            goto done;
        }
        chosen[s] = ref.radius;
    }
    size_t nh = (size_t)(h1 - h0 + 1);
    pe = malloc((n ? n : 1) * nh * sizeof *pe);       // (heads, n) eV
    pf = malloc((A ? A : 1) * 3 * nh * sizeof *pf);   // (heads, A, 3) eV/Å
    if (!pe || !pf) {
        cli_fail("out of memory");
        goto done;
    }
    for (int hd = h0; hd <= h1; hd++) {
        size_t off = 0, k = (size_t)(hd - h0);
        for (size_t s = 0; s < n; s++) {
            mlshift_frame f;
            mlshift_frames_get(fr, s, &f);
            if (ms_model_predict(&ws, m, &f, 1, (ms_head)hd, chosen[s], pe + k * n + s,
                                 pf + 3 * (k * A + off), &err)) {
                cli_fail("%s: %s", cli_frame_name(fr, s), err.message);
                goto done;
            }
            off += f.natoms;
        }
    }
    ms_extxyz_extra extra[5];
    size_t n_extra = 2 * nh;
    if (rr_stats)
        extra[n_extra++] = (ms_extxyz_extra){"pred_radius", 0, 1, chosen};
    if (nh == 1) {
        extra[0] = (ms_extxyz_extra){"pred_energy", 0, 1, pe};
        extra[1] = (ms_extxyz_extra){"pred_forces", 1, 3, pf};
    } else {
        extra[0] = (ms_extxyz_extra){"pred_energy_main", 0, 1, pe};
        extra[1] = (ms_extxyz_extra){"pred_forces_main", 1, 3, pf};
        extra[2] = (ms_extxyz_extra){"pred_energy_prior", 0, 1, pe + n};
        extra[3] = (ms_extxyz_extra){"pred_forces_prior", 1, 3, pf + 3 * A};
    }
    if (ms_write_extxyz_extra(fr, out, NULL, extra, n_extra, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "mlshift: %s predictions (%s head%s) for %zu frames written to "
                "%s\n", ms_arch_name(m->h.arch), head, nh > 1 ? "s" : "", n, out);
    rc = CLI_OK;
done:
    ms_model_ws_free(&ws);
    ms_model_destroy(m);
    mlshift_frames_destroy(fr);
    mlshift_shift_ws_destroy(sws);
    mlshift_stats_free(&st);
    free(radii);
    free(chosen);
    free(pe);
    free(pf);
    free(files);
    return rc;
}

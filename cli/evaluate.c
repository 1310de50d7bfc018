/* SPDX-License-Identifier: MIT */
/* mlshift evaluate: a model's errors against the frames' own labels, with
 * the paper's metrics (reference-notes §1.6): force MAE over all 3N
 * components, energy MAE per structure (mlshift_evaluate). Uses only the
 * public API. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift evaluate --model MODEL FILES... [options] [reader options]\n"
    "\n"
    "Prints one JSON line: frames, atoms, force MAE and RMSE (meV/Å, over all\n"
    "3N components) and energy MAE (meV per structure) of the model against\n"
    "the frames' labels.\n"
    "\n"
    "  --model MODEL       a model file\n"
    "  --head H            main (default) or prior\n"
    "  --radius R          run-time cutoff, Å (default: the model's)\n"
    "\n"
    "example: mlshift evaluate --model ft.model --labels old "
    "../shared/data/rmd17/rmd17_toluene_test_02.npz\n\n";

int cmd_evaluate(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "evaluate", 0};
    const char *mpath = NULL, *head = "main", *v;
    double radius = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL;
    mlshift_model *m = NULL;
    mlshift_calc *calc = NULL;
    mlshift_error err;
    if (!files)
        return cli_fail("out of memory");
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "--model", &mpath) || cli_value(&a, "--head", &head)) {
            continue;
        } else if (cli_value(&a, "--radius", &v)) {
            if (cli_parse_double("--radius", v, &radius))
                goto done;
            if (!(radius > 0)) {
                cli_fail("evaluate: --radius %s must be > 0", v);
                goto done;
            }
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!mpath || !nfiles) {
        cli_fail("evaluate: needs --model MODEL and files (--help)");
        goto done;
    }
    mlshift_head h = !strcmp(head, "main") ? MLSHIFT_HEAD_MAIN : MLSHIFT_HEAD_PRIOR;
    if (strcmp(head, "main") && strcmp(head, "prior")) {
        cli_fail("evaluate: --head '%s': main or prior", head);
        goto done;
    }
    if (mlshift_model_load(mpath, &m, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (cli_load_frames(&o, files, nfiles, &fr, NULL, NULL, NULL))
        goto done;
    mlshift_errors e;
    if (mlshift_calc_from_model(m, h, radius, &calc, &err) ||
        mlshift_evaluate(calc, fr, &e, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    printf("{\"model\":\"%s\",\"head\":\"%s\",\"frames\":%zu,\"atoms\":%zu,"
           "\"force_mae_meV\":%.4f,\"force_rmse_meV\":%.4f,\"energy_mae_meV\":",
           mpath, head, e.frames, e.atoms, 1e3 * e.force_mae, 1e3 * e.force_rmse);
    if (e.energy_frames)
        printf("%.4f}\n", 1e3 * e.energy_mae);
    else
        printf("null}\n");
    rc = CLI_OK;
done:
    mlshift_calc_destroy(calc);
    mlshift_model_destroy(m);
    mlshift_frames_destroy(fr);
    free(files);
    return rc;
}

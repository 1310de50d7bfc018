/* SPDX-License-Identifier: MIT */
/* mlshift stats: the training statistics the shift diagnostics and radius
 * refinement compare against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift stats TRAIN... --cutoff R -o FILE [reader options]\n"
    "\n"
    "Training statistics for the shift diagnostics (paper §3.2, A.5): elements\n"
    "and compositions, atoms per structure, carbon fraction, per-structure\n"
    "force norm (from the labels), and the average normalised-Laplacian\n"
    "spectrum of the radius graph at the cutoff with the mean and std of each\n"
    "training graph's spectral distance to it (eq. 5). Written as versioned\n"
    "JSON (docs/stats-format.md).\n"
    "\n"
    "  --cutoff R          radius-graph cutoff in Å (default 5.0, the paper's)\n"
    "  -o, --output FILE   where to write the statistics (atomically)\n"
    "  --prior SPEC        force norms from this prior's forces instead of the\n"
    "                      labels (lj, emt, xtb:gfn2, sgdml:MODEL)\n"
    "\n"
    "example: mlshift stats ../shared/data/rmd17/rmd17_aspirin_train_0*.npz "
    "--labels old --dedup old_index -o aspirin.stats\n\n";

/* The frames stream through the statistics builder: one record per frame
 * (its spectrum) is all that is kept, in a temporary file beyond 1 MiB. */
typedef struct stats_run {
    mlshift_stats_builder *b;
    cli_prior_norms norms;
    int use_prior;
} stats_run;

static int add_frame(void *ctx, const mlshift_frame *f, size_t s, const char *name)
{
    (void)s;
    stats_run *r = ctx;
    mlshift_error err;
    double fn;
    if (r->use_prior) {
        if (cli_prior_norm(&r->norms, f, name, &fn))
            return CLI_ERROR;
    } else {
        fn = mlshift_frame_mean_force_norm(f);
    }
    if (mlshift_stats_add(r->b, f, fn, &err))
        return cli_fail("%s", err.message);
    return CLI_OK;
}

int cmd_stats(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "stats", 0};
    const char *out = NULL, *v, *prior = NULL;
    double cutoff = 5.0;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    if (!files)
        return cli_fail("out of memory");
    int rc = CLI_ERROR;
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out) ||
                   cli_value(&a, "--prior", &prior)) {
            continue;
        } else if (cli_value(&a, "--cutoff", &v)) {
            if (cli_parse_double("--cutoff", v, &cutoff))
                goto done;
            if (!(cutoff > 0)) {
                cli_fail("stats: --cutoff must be positive");
                goto done;
            }
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!nfiles) {
        cli_fail("stats: no training files (see mlshift stats --help)");
        goto done;
    }
    if (!out) {
        cli_fail("stats: no output file: give -o FILE");
        goto done;
    }
    const char *outs[1] = {out};
    if (cli_outputs_check("stats", (const char *const *)files, nfiles, outs, 1))
        goto done;
    mlshift_train_stats *st = NULL;
    mlshift_error err;
    char source[160];
    snprintf(source, sizeof source, "prior:%s", prior ? prior : "");
    stats_run run = {NULL, {0}, 0};
    if (prior && cli_prior_norms_open(&run.norms, prior))
        goto done;
    run.use_prior = prior != NULL;
    if (mlshift_stats_begin(cutoff, prior ? source : NULL, 0, &run.b, &err)) {
        cli_fail("%s", err.message);
        cli_prior_norms_close(&run.norms);
        goto done;
    }
    int bad = cli_stream_frames(&o, files, nfiles, add_frame, &run, NULL);
    cli_prior_norms_close(&run.norms);
    if (bad) {
        mlshift_stats_abort(run.b);
        goto done;
    }
    if (mlshift_stats_finish(run.b, &st, &err) ||
        mlshift_stats_write(st, out, &err)) {
        cli_fail("%s", err.message);
        mlshift_stats_destroy(st);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr,
                "mlshift: %zu structures, %zu compositions, N %.2f ± %.2f (max "
                "%zu), force norm %.4f ± %.4f eV/Å (%s), spectral distance "
                "%.4f ± %.4f at %.3g Å → %s\n",
                mlshift_stats_n_structures(st), mlshift_stats_n_compositions(st),
                mlshift_stats_mean(st, MLSHIFT_OOD_SIZE), mlshift_stats_std(st, MLSHIFT_OOD_SIZE),
                mlshift_stats_natoms_max(st), mlshift_stats_mean(st, MLSHIFT_OOD_FORCE_NORM),
                mlshift_stats_std(st, MLSHIFT_OOD_FORCE_NORM), mlshift_stats_force_source(st),
                mlshift_stats_mean(st, MLSHIFT_OOD_CONNECTIVITY),
                mlshift_stats_std(st, MLSHIFT_OOD_CONNECTIVITY), mlshift_stats_cutoff(st), out);
    mlshift_stats_destroy(st);
    rc = CLI_OK;
done:
    free(files);
    return rc;
}

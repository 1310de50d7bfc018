/* SPDX-License-Identifier: MIT */
/* mlshift sgdml train: fits an sGDML force field (our C implementation,
 * docs/priors-sgdml.md) and writes a versioned model file that the prior
 * spec "sgdml:MODEL" reads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift sgdml train DATA... --samples M -o MODEL [options]\n"
    "\n"
    "Trains sGDML (Chmiela et al. 2018): inverse-distance descriptor, Matern-5/2\n"
    "Hessian kernel summed over the molecule's permutational symmetries\n"
    "(automorphisms of the element-labelled bond graph), dense Cholesky with a\n"
    "1e-10 regulariser, sigma chosen by validation force RMSE, energy\n"
    "integration constant. Training points are drawn by energy-stratified\n"
    "sampling (Freedman-Diaconis bins) as sGDML does; validation points from\n"
    "the rest. Labels are used in kcal/mol internally (the model file's units).\n"
    "\n"
    "  --samples M          training points (the kernel needs (3N*M)^2*8 bytes)\n"
    "  --sigma-grid A:B:S   sigma values A, A+S, ... below B (default 10:100:10),\n"
    "                       or a list 20,30,40\n"
    "  --val V              validation points (default 1000, at most the rest)\n"
    "  --max-memory BYTES   refuse when the kernel exceeds this (default: RAM)\n"
    "  --lambda L           regulariser (default 1e-10)\n"
    "  --no-perms           no permutational symmetries\n"
    "  --full-grid          train every sigma on all M points (sGDML's way;\n"
    "                       default: scan on M/2, then refine at full size)\n"
    "  -o, --output MODEL   the model file (written atomically)\n"
    "\n"
    "example: mlshift sgdml train ../shared/data/rmd17/rmd17_naphthalene_train_01.npz\n"
    "         --labels old --samples 100 -o naph100.sgdml\n\n";

static int parse_grid(const char *s, double *g, size_t *n)
{
    double a, b, st;
    char tail;
    *n = 0;
    if (sscanf(s, "%lf:%lf:%lf%c", &a, &b, &st, &tail) == 3) {
        if (!(st > 0) || !(a > 0) || !(b > a))
            return cli_fail("sgdml: --sigma-grid %s: need 0 < A < B, S > 0", s);
        for (double v = a; v < b - 1e-9 * st && *n < 64; v += st)
            g[(*n)++] = v;
        return 0;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == 64)
            return cli_fail("sgdml: --sigma-grid: at most 64 values");
        if (cli_parse_double("--sigma-grid", tok, &g[*n]))
            return CLI_ERROR;
        if (!(g[*n] > 0))
            return cli_fail("sgdml: --sigma-grid: %s is not positive", tok);
        (*n)++;
    }
    return *n ? 0 : cli_fail("sgdml: --sigma-grid %s is empty", s);
}

int cmd_sgdml(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "train")) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            printf("%s%s", help, cli_frames_help);
            return CLI_OK;
        }
        return cli_fail("sgdml: the subcommand is 'train' (see mlshift sgdml "
                        "--help)");
    }
    cli_frames_opts o = {0};
    cli_args a = {argc, 2, argv, "sgdml train", 0};
    const char *out = NULL, *v;
    double grid[64];
    size_t nsig = 0;
    uint64_t samples = 0, val = 1000;
    double maxmem = 0, lambda = 1e-10;
    int no_perms = 0, full_grid = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    if (!files)
        return cli_fail("out of memory");
    if (parse_grid("10:100:10", grid, &nsig))
        return CLI_ERROR;
    int rc = CLI_ERROR;
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out)) {
            continue;
        } else if (cli_flag(&a, "--no-perms")) {
            no_perms = 1;
        } else if (cli_flag(&a, "--full-grid")) {
            full_grid = 1;
        } else if (cli_value(&a, "--samples", &v)) {
            if (cli_parse_u64("--samples", v, &samples))
                goto done;
        } else if (cli_value(&a, "--val", &v)) {
            if (cli_parse_u64("--val", v, &val))
                goto done;
        } else if (cli_value(&a, "--max-memory", &v)) {
            if (cli_parse_double("--max-memory", v, &maxmem))
                goto done;
            if (!(maxmem >= 0)) {
                cli_fail("sgdml train: --max-memory %s must be >= 0", v);
                goto done;
            }
        } else if (cli_value(&a, "--lambda", &v)) {
            if (cli_parse_double("--lambda", v, &lambda))
                goto done;
            if (!(lambda >= 0) || !isfinite(lambda)) {
                cli_fail("sgdml train: --lambda %s: the regularisation must be "
                         ">= 0 (default 1e-10)", v);
                goto done;
            }
        } else if (cli_value(&a, "--sigma-grid", &v)) {
            if (parse_grid(v, grid, &nsig))
                goto done;
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!nfiles) {
        cli_fail("sgdml train: no data files (see mlshift sgdml --help)");
        goto done;
    }
    if (!out || !samples) {
        cli_fail("sgdml train: give --samples M and -o MODEL");
        goto done;
    }
    const char *outs[1] = {out};
    if (cli_outputs_check("sgdml train", (const char *const *)files, nfiles, outs, 1))
        goto done;
    mlshift_frames *fr;
    o.read.require_energy = 1;
    o.read.require_forces = 1;
    if (cli_load_frames(&o, files, nfiles, &fr, NULL, NULL, NULL))
        goto done;
    size_t nf = mlshift_frames_count(fr);
    if (nf == 0) {
        mlshift_frames_destroy(fr);
        cli_fail("sgdml train: the data files hold no frames");
        goto done;
    }
    if (val + samples > nf)
        val = nf > samples ? nf - samples : 0;
    if (val == 0 && nsig > 1) {
        nsig = 1;
        if (!o.quiet)
            fprintf(stderr, "mlshift: sgdml train: no frames left for "
                    "validation; sigma = %g\n", grid[0]);
    }
    mlshift_sgdml_options t = {0};
    t.samples = samples;
    t.val = val;
    t.sigmas = grid;
    t.nsig = nsig;
    t.seed = o.seed;
    t.lambda = lambda;
    t.max_memory = maxmem;
    t.no_perms = no_perms;
    t.full_grid = full_grid;
    mlshift_sgdml_report rep;
    mlshift_error err;
    mlshift_status s = mlshift_sgdml_train(fr, &t, out, &rep, &err);
    mlshift_frames_destroy(fr);
    if (s != MLSHIFT_OK) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (!o.quiet) {
        /* σ values tried only on the subset stage show that error. */
        for (size_t k = 0; k < nsig && val; k++) {
            if (isfinite(rep.val_rmse[k]))
                fprintf(stderr, "sigma %g: validation force RMSE %.4f kcal/mol/A\n",
                        grid[k], rep.val_rmse[k]);
            else if (rep.sub_samples && isfinite(rep.val_rmse_sub[k]))
                fprintf(stderr, "sigma %g: validation force RMSE %.4f kcal/mol/A "
                        "(on %zu of the points)\n", grid[k], rep.val_rmse_sub[k],
                        rep.sub_samples);
        }
    }
    printf("{\"model\":\"%s\",\"frames\":%zu,\"samples\":%llu,\"val\":%llu,"
           "\"perms\":%d,\"sigma\":%g,\"seconds\":%.3f}\n", out, nf,
           (unsigned long long)samples, (unsigned long long)val, rep.perms,
           rep.sigma, rep.seconds);
    rc = CLI_OK;
done:
    free(files);
    return rc;
}

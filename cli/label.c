/* SPDX-License-Identifier: MIT */
/* mlshift label: a cheap prior's energies and forces beside the reference
 * labels, in extxyz (prior labels for pre-training, TTT and diagnostics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "io/extxyz.h"

static const char help[] =
    "usage: mlshift label --prior SPEC IN... -o OUT [options] [reader options]\n"
    "\n"
    "Computes the prior's energy and forces for every frame and writes them\n"
    "to OUT (extxyz, atomically) beside the frames' own labels, under their\n"
    "own keys.\n"
    "\n"
    "  --prior SPEC        lj[:FILE] | emt | xtb:gfn2|gfn1|gfnff[,charge=Q,uhf=U]\n"
    "                      | sgdml:MODEL\n"
    "  -o, --output OUT    the extxyz file to write\n"
    "  --prior-energy-key K   info key of the prior energy (default prior_energy)\n"
    "  --prior-forces-key K   per-atom key of the prior forces (default\n"
    "                         prior_forces)\n"
    "  --skip-failed       a frame the prior fails on is dropped (reported)\n"
    "                      instead of stopping\n"
    "\n"
    "example: mlshift label --prior emt ../shared/data/oc20/random1000120.extxyz "
    "-o oc20_emt.extxyz\n\n";

int cmd_label(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "label", 0};
    const char *out = NULL, *spec = NULL, *ekey = "prior_energy",
               *fkey = "prior_forces";
    int skip_failed = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    mlshift_frames *fr = NULL, *kept = NULL;
    mlshift_prior *prior = NULL;
    double *pe = NULL, *pf = NULL;
    size_t *keep = NULL;
    if (!files)
        return cli_fail("out of memory");
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            rc = CLI_OK;
            goto done;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out) ||
                   cli_value(&a, "--prior", &spec) ||
                   cli_value(&a, "--prior-energy-key", &ekey) ||
                   cli_value(&a, "--prior-forces-key", &fkey)) {
            continue;
        } else if (cli_flag(&a, "--skip-failed")) {
            skip_failed = 1;
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!spec) {
        cli_fail("label: give the prior with --prior SPEC (see mlshift label --help)");
        goto done;
    }
    if (!nfiles || !out) {
        cli_fail("label: %s", !nfiles ? "no input files" : "no output file: give -o OUT");
        goto done;
    }
    const char *outs[1] = {out};
    if (cli_extxyz_output("label", out) ||
        cli_outputs_check("label", (const char *const *)files, nfiles, outs, 1))
        goto done;
    mlshift_error err;
    if (mlshift_prior_create(spec, &prior, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (cli_load_frames(&o, files, nfiles, &fr, NULL, NULL, NULL))
        goto done;
    size_t n = mlshift_frames_count(fr), A = mlshift_frames_total_atoms(fr);
    if (!n) {
        cli_fail("label: the input holds no frames (nothing written)");
        goto done;
    }
    pe = malloc((n ? n : 1) * sizeof *pe);
    pf = malloc((A ? 3 * A : 1) * sizeof *pf);
    keep = malloc((n ? n : 1) * sizeof *keep);
    if (!pe || !pf || !keep) {
        cli_fail("out of memory");
        goto done;
    }
    size_t n_keep = 0, off = 0, failed = 0;
    int tty = !o.quiet && isatty(2);
    double t0 = cli_now(), last = t0;
    for (size_t s = 0; s < n; s++) {
        mlshift_frame f;
        mlshift_frames_get(fr, s, &f);
        if (mlshift_prior_compute(prior, &f, &pe[n_keep], pf + 3 * off, NULL, &err)) {
            if (!skip_failed) {
                if (tty && last > t0)
                    fputc('\n', stderr);
                cli_fail("%s: %s", cli_frame_name(fr, s), err.message);
                goto done;
            }
            fprintf(stderr, "mlshift: frame %zu skipped: %s\n", s, err.message);
            failed++;
            continue;
        }
        keep[n_keep++] = s;
        off += f.natoms;
        double t = cli_now();
        if (tty && t - last > 0.5) {
            fprintf(stderr, "\rlabelled %zu/%zu frames (%.1f/s)", s + 1, n,
                    (double)(s + 1) / (t - t0));
            last = t;
        }
    }
    if (tty && last > t0)
        fputc('\n', stderr);
    if (!n_keep) {
        cli_fail("label: the prior failed on every frame");
        goto done;
    }
    kept = fr;
    if (n_keep < n) {
        kept = mlshift_frames_create();
        if (!kept || mlshift_frames_select(kept, fr, keep, n_keep, &err)) {
            cli_fail("%s", kept ? err.message : "out of memory");
            goto done;
        }
    }
    ms_extxyz_extra extra[2] = {{ekey, 0, 1, pe}, {fkey, 1, 3, pf}};
    if (ms_write_extxyz_extra(kept, out, NULL, extra, 2, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "mlshift: %s labels for %zu frames%s written to %s "
                "(%.3g s)\n", mlshift_prior_spec(prior), n_keep,
                failed ? " (some skipped)" : "", out, cli_now() - t0);
    rc = CLI_OK;
done:
    if (kept != fr)
        mlshift_frames_destroy(kept);
    mlshift_frames_destroy(fr);
    mlshift_prior_destroy(prior);
    free(pe);
    free(pf);
    free(keep);
    free(files);
    return rc;
}

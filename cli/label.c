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
#include "cli_mpi.h" /* issue 11: MPI */

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

/* Frame by frame: the prior's labels, then the frame with them into the
 * writer; only a frame's worth of labels is held. Under MPI (cli/mpi.c)
 * rank r labels frames r, r + P, … and rank 0 writes every frame in input
 * order from the gathered records, holding one chunk of frames. */
typedef struct label_run {
    mlshift_prior *prior;
    mlshift_writer *w;          /* rank 0 */
    cli_mpi_shard *sh;
    const mlshift_frame *cur;   /* the frame being streamed */
    mlshift_frames *chunk;      /* MPI, rank 0: the chunk's frames, copied */
    size_t chunk_first;         /* frame index of chunk's first */
    double *rec;                /* (cap,) a record: energy, forces (N, 3) */
    size_t cap;
    int skip_failed, tty;
    size_t kept, failed;
    double t0, last;
} label_run;

/* This rank's frame s: its record, or an empty one when skipped. */
static int label_compute(label_run *r, const mlshift_frame *f, size_t s,
                         const char *name)
{
    mlshift_error err;
    if (1 + 3 * f->natoms > r->cap) {
        size_t need = 1 + 3 * f->natoms;
        size_t cap = need > 2 * r->cap ? need : 2 * r->cap;
        double *nr = realloc(r->rec, cap * sizeof *nr);
        if (!nr)
            return cli_fail("out of memory");
        r->rec = nr;
        r->cap = cap;
    }
    if (mlshift_prior_compute(r->prior, f, &r->rec[0], r->rec + 1, NULL, &err)) {
        if (!r->skip_failed) {
            if (r->tty && r->last > r->t0)
                fputc('\n', stderr);
            return cli_fail("%s: %s", name, err.message);
        }
        fprintf(stderr, "mlshift: frame %zu skipped: %s\n", s, err.message);
        return cli_mpi_shard_put(r->sh, s, NULL, 0);
    }
    return cli_mpi_shard_put(r->sh, s, r->rec, (1 + 3 * f->natoms) * sizeof *r->rec);
}

/* Rank 0 keeps a copy of every frame of the chunk, to write it once the
 * chunk's records are gathered. */
static int keep_frame(label_run *r, const mlshift_frame *f, const char *name)
{
    mlshift_error err;
    if (!r->chunk && !(r->chunk = mlshift_frames_create()))
        return cli_fail("out of memory");
    if (mlshift_frames_append(r->chunk, f, name, &err))
        return cli_fail("%s", err.message);
    return CLI_OK;
}

static int label_frame(void *ctx, const mlshift_frame *f, size_t s,
                       const char *name)
{
    label_run *r = ctx;
    r->cur = f;
    if (cli_mpi_size() > 1 && cli_mpi_rank() == 0 && keep_frame(r, f, name))
        return CLI_ERROR;
    if (cli_mpi_shard_mine(r->sh, s) && label_compute(r, f, s, name))
        return CLI_ERROR;
    return cli_mpi_shard_step(r->sh, s);
}

/* Rank 0, in frame order: frame s with its record (energy, forces). */
static int label_emit(void *ctx, size_t s, const void *rec, size_t len)
{
    label_run *r = ctx;
    mlshift_error err;
    mlshift_frame g;
    const mlshift_frame *f = r->cur;
    if (r->chunk) {
        mlshift_frames_get(r->chunk, s - r->chunk_first, &g);
        f = &g;
    }
    if (len && len != (1 + 3 * f->natoms) * sizeof(double))
        return cli_fail("frame %zu: a record of %zu bytes for %zu atoms", s, len,
                        f->natoms);
    if (len) {
        /* 8-byte aligned: records are whole doubles after a uint64 length */
        const double *v = rec; /* (1 + 3N,) energy, forces (N, 3) */
        const double *values[2] = {v, v + 1};
        if (mlshift_writer_write(r->w, f, values, &err))
            return cli_fail("%s", err.message);
        r->kept++;
    } else {
        r->failed++;
    }
    if (r->chunk && s + 1 == r->chunk_first + mlshift_frames_count(r->chunk)) {
        mlshift_frames_destroy(r->chunk); /* the chunk is written */
        r->chunk = NULL;
        r->chunk_first = s + 1;
    }
    double t = cli_now();
    if (r->tty && t - r->last > 0.5) {
        fprintf(stderr, "\rlabelled %zu frames (%.1f/s)", s + 1,
                (double)(s + 1) / (t - r->t0));
        r->last = t;
    }
    return CLI_OK;
}

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
    label_run run = {0};
    cli_mpi_shared_errors(); /* MPI: one message, every rank exits 2 */
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
    if (mlshift_prior_create(spec, &run.prior, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    mlshift_column cols[2] = {{ekey, 0, 1}, {fkey, 1, 3}};
    if (cli_mpi_rank() == 0 && /* MPI: rank 0 writes */
        mlshift_writer_open(out, NULL, cols, 2, &run.w, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (cli_mpi_rank() != 0)
        o.quiet = 1;
    run.skip_failed = skip_failed;
    run.tty = !o.quiet && isatty(2);
    run.t0 = run.last = cli_now();
    if (cli_mpi_shard_begin(&run.sh, label_emit, &run))
        goto done;
    size_t n;
    int st = cli_stream_frames(&o, files, nfiles, label_frame, &run, &n);
    st = cli_mpi_shard_end(run.sh, st); /* MPI: the last chunk, or the failure agreed */
    run.sh = NULL;
    if (st)
        goto done;
    if (cli_mpi_rank() != 0) { /* MPI: rank 0 wrote the frames and reports */
        rc = CLI_OK;
        goto done;
    }
    if (run.tty && run.last > run.t0)
        fputc('\n', stderr);
    if (!n) {
        cli_fail("label: the input holds no frames (nothing written)");
        goto done;
    }
    if (!run.kept) {
        cli_fail("label: the prior failed on every frame");
        goto done;
    }
    mlshift_writer *w = run.w;
    run.w = NULL;
    if (mlshift_writer_commit(w, &err)) {
        cli_fail("%s", err.message);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "mlshift: %s labels for %zu frames%s written to %s "
                "(%.3g s)\n", mlshift_prior_spec(run.prior), run.kept,
                run.failed ? " (some skipped)" : "", out, cli_now() - run.t0);
    rc = CLI_OK;
done:
    mlshift_writer_abort(run.w);
    mlshift_prior_destroy(run.prior);
    mlshift_frames_destroy(run.chunk);
    free(run.rec);
    free(files);
    return rc;
}

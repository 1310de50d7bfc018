/* SPDX-License-Identifier: MIT */
/* mlshift convert: any readable frames to extxyz (eV, Å), optionally
 * deduplicated and split. Every output is written atomically. Without
 * --split the frames stream from reader to writer (a chunk in memory);
 * --split loads them, since the shuffle spans every frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift convert IN... -o OUT [options] [reader options]\n"
    "\n"
    "Writes the frames of every IN to OUT as extxyz (eV, Å) that ASE reads.\n"
    "With --split and no --part, writes three files: OUT with .train, .val\n"
    "and .test inserted before its extension (empty parts are skipped).\n"
    "\n"
    "  -o, --output OUT        the extxyz file to write (atomically)\n"
    "  --out-energy-key K      info key for energies in OUT (default energy)\n"
    "  --out-forces-key K      per-atom key for forces in OUT (default forces)\n"
    "\n"
    "example: mlshift convert ../shared/data/rmd17/rmd17_toluene_test_01.npz "
    "--labels old -o toluene.extxyz\n\n";

/* OUT with ".part" inserted before the extension ("a/t.extxyz" →
 * "a/t.train.extxyz"; no extension: appended). */
static void part_path(char *buf, size_t cap, const char *out, const char *part)
{
    const char *slash = strrchr(out, '/');
    const char *dot = strrchr(out, '.');
    if (!dot || (slash && dot < slash) || dot == out || dot[-1] == '/')
        snprintf(buf, cap, "%s.%s", out, part);
    else
        snprintf(buf, cap, "%.*s.%s%s", (int)(dot - out), out, part, dot);
}

typedef struct convert_run {
    mlshift_writer *w;
} convert_run;

static int write_frame(void *ctx, const mlshift_frame *f, size_t s,
                       const char *name)
{
    (void)s, (void)name;
    convert_run *r = ctx;
    mlshift_error err;
    if (mlshift_writer_write(r->w, f, NULL, &err))
        return cli_fail("%s", err.message);
    return CLI_OK;
}

int cmd_convert(int argc, char **argv)
{
    cli_frames_opts o = {0};
    mlshift_write_options w = {0};
    cli_args a = {argc, 1, argv, "convert", 0};
    const char *out = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    int rc = CLI_ERROR;
    if (!files)
        return cli_fail("out of memory");
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            free(files);
            return CLI_OK;
        } else if (cli_value(&a, "-o", &out) || cli_value(&a, "--output", &out) ||
                   cli_value(&a, "--out-energy-key", &w.energy_key) ||
                   cli_value(&a, "--out-forces-key", &w.forces_key)) {
            continue;
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            goto done;
        }
    }
    if (!nfiles) {
        cli_fail("convert: no input files (see mlshift convert --help)");
        goto done;
    }
    if (!out) {
        cli_fail("convert: no output file: give -o OUT");
        goto done;
    }

    if (cli_extxyz_output("convert", out))
        goto done;
    static const char *names[3] = {"train", "val", "test"};
    char paths[3][4096];
    const char *outs[3] = {out, NULL, NULL};
    if (o.split && !o.part)
        for (int k = 0; k < 3; k++) {
            part_path(paths[k], sizeof paths[k], out, names[k]);
            outs[k] = paths[k];
        }
    if (cli_outputs_check("convert", (const char *const *)files, nfiles, outs, 3))
        goto done;

    mlshift_error err;
    if (!o.split) {
        /* Frame by frame into the writer: a chunk in memory, not the set. */
        convert_run run = {NULL};
        if (mlshift_writer_open(out, &w, NULL, 0, &run.w, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
        size_t n;
        if (cli_stream_frames(&o, files, nfiles, write_frame, &run, &n)) {
            mlshift_writer_abort(run.w);
            goto done;
        }
        if (n == 0) {
            mlshift_writer_abort(run.w);
            cli_fail("convert: the input holds no frames (nothing written)");
            goto done;
        }
        if (mlshift_writer_commit(run.w, &err)) {
            cli_fail("%s", err.message);
            goto done;
        }
        if (!o.quiet)
            fprintf(stderr, "mlshift: wrote %zu frames to %s\n", n, out);
        rc = CLI_OK;
        goto done;
    }

    /* --split: the shuffle needs every frame before the first is written,
     * and each part comes out in shuffled order: the set is loaded. */
    mlshift_frames *fr = NULL;
    size_t *parts[3] = {NULL, NULL, NULL}, counts[3] = {0, 0, 0};
    if (cli_load_frames(&o, files, nfiles, &fr, parts, counts, NULL))
        goto done;
    if (mlshift_frames_count(fr) == 0) {
        cli_fail("convert: the input holds no frames (nothing written)");
        mlshift_frames_destroy(fr);
        goto done;
    }
    if (parts[0] && counts[0] + counts[1] + counts[2] == 0) {
        cli_fail("convert: --split %s selects no frames (nothing to write)", o.split);
        for (int k = 0; k < 3; k++)
            free(parts[k]);
        mlshift_frames_destroy(fr);
        goto done;
    }
    rc = CLI_OK;
    if (!parts[0]) {
        if (mlshift_write_extxyz(fr, out, &w, &err) != MLSHIFT_OK)
            rc = cli_fail("%s", err.message);
        else if (!o.quiet)
            fprintf(stderr, "mlshift: wrote %zu frames to %s\n",
                    mlshift_frames_count(fr), out);
    } else {
        /* The parts are one result: all written, or none replaced. */
        mlshift_outputs_begin();
        for (int k = 0; k < 3 && rc == CLI_OK; k++) {
            if (!counts[k])
                continue;
            const char *path = paths[k];
            mlshift_frames *sub = mlshift_frames_create();
            if (!sub || mlshift_frames_select(sub, fr, parts[k], counts[k], &err) ||
                mlshift_write_extxyz(sub, path, &w, &err))
                rc = cli_fail("%s", sub ? err.message : "out of memory");
            else if (!o.quiet)
                fprintf(stderr, "mlshift: writing %zu %s frames to %s\n",
                        counts[k], names[k], path);
            mlshift_frames_destroy(sub);
        }
        rc = cli_outputs_end(rc);
    }
    for (int k = 0; k < 3; k++)
        free(parts[k]);
    mlshift_frames_destroy(fr);
done:
    free(files);
    return rc;
}

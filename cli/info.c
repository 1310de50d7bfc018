/* SPDX-License-Identifier: MIT */
/* mlshift info: what a set of frames holds — counts, elements, energies and
 * the per-structure mean force norm (1/N) Σ_i |F_i| (the force-norm axis of
 * the shift diagnostics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: mlshift info FILE... [--json] [reader options]\n"
    "\n"
    "Frames, elements, atoms per frame, energy range and the per-structure\n"
    "mean force norm (mean over atoms of |F_i|): min/median/mean/max, for\n"
    "each file and for all files together.\n"
    "\n"
    "  --json              one JSON object on stdout instead of text\n"
    "\n"
    "example: mlshift info ../shared/data/rmd17/rmd17_aspirin_train_01.npz "
    "--labels old\n\n";

typedef struct summary {
    size_t frames, atoms, natoms_min, natoms_max;
    size_t element_atoms[119];
    size_t periodic, fixed_atoms;
    size_t n_energy;
    double e_min, e_max, e_mean;    /* eV */
    size_t n_forces;
    double fn_min, fn_median, fn_mean, fn_max;  /* eV/Å */
} summary;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Summarises frames [a, b); norms is scratch of b - a doubles. */
static void summarise(const mlshift_frames *fr, size_t a, size_t b,
                      double *norms, summary *s)
{
    memset(s, 0, sizeof *s);
    s->natoms_min = (size_t)-1;
    s->e_min = s->fn_min = INFINITY;
    s->e_max = s->fn_max = -INFINITY;
    double esum = 0, fsum = 0;
    for (size_t i = a; i < b; i++) {
        mlshift_frame f;
        mlshift_frames_get(fr, i, &f);
        s->frames++;
        s->atoms += f.natoms;
        if (f.natoms < s->natoms_min)
            s->natoms_min = f.natoms;
        if (f.natoms > s->natoms_max)
            s->natoms_max = f.natoms;
        for (size_t k = 0; k < f.natoms; k++) {
            s->element_atoms[f.numbers[k]]++;
            if (f.fixed && f.fixed[k])
                s->fixed_atoms++;
        }
        if (f.pbc[0] || f.pbc[1] || f.pbc[2])
            s->periodic++;
        if (f.flags & MLSHIFT_HAS_ENERGY) {
            s->n_energy++;
            esum += f.energy;
            s->e_min = fmin(s->e_min, f.energy);
            s->e_max = fmax(s->e_max, f.energy);
        }
        if (f.forces) {
            double fn = mlshift_frame_mean_force_norm(&f);
            norms[s->n_forces++] = fn;
            fsum += fn;
            s->fn_min = fmin(s->fn_min, fn);
            s->fn_max = fmax(s->fn_max, fn);
        }
    }
    if (!s->frames)
        s->natoms_min = 0;
    s->e_mean = s->n_energy ? esum / (double)s->n_energy : NAN;
    s->fn_mean = s->n_forces ? fsum / (double)s->n_forces : NAN;
    if (!s->n_energy)
        s->e_min = s->e_max = NAN;
    if (!s->n_forces) {
        s->fn_min = s->fn_max = s->fn_median = NAN;
    } else {
        /* The median as numpy defines it: the mean of the two middle
         * values for an even count. */
        size_t m = s->n_forces;
        qsort(norms, m, sizeof *norms, cmp_double);
        s->fn_median = m % 2 ? norms[m / 2]
                             : 0.5 * (norms[m / 2 - 1] + norms[m / 2]);
    }
}

static void print_text(const char *title, const summary *s)
{
    printf("%s\n", title);
    printf("  frames              %zu\n", s->frames);
    printf("  atoms per frame     %zu to %zu (mean %.2f; %zu atoms in all)\n",
           s->natoms_min, s->natoms_max,
           s->frames ? (double)s->atoms / (double)s->frames : 0.0, s->atoms);
    printf("  elements           ");
    for (int z = 1; z <= 118; z++)
        if (s->element_atoms[z])
            printf(" %s %zu", mlshift_element_symbol(z), s->element_atoms[z]);
    printf("\n");
    if (s->n_energy)
        printf("  energy (eV)         %zu frames: min %.6f  max %.6f  mean "
               "%.6f\n", s->n_energy, s->e_min, s->e_max, s->e_mean);
    else
        printf("  energy (eV)         none\n");
    if (s->n_forces)
        printf("  mean |F| (eV/Å)     %zu frames: min %.6f  median %.6f  mean "
               "%.6f  max %.6f\n", s->n_forces, s->fn_min, s->fn_median,
               s->fn_mean, s->fn_max);
    else
        printf("  mean |F| (eV/Å)     no forces\n");
    if (s->periodic || s->fixed_atoms)
        printf("  periodic frames     %zu; fixed atoms %zu\n", s->periodic,
               s->fixed_atoms);
}

static void print_json(const char *file, const summary *s)
{
    printf("{");
    if (file) {
        printf("\"file\": ");
        cli_json_string(stdout, file);
        printf(", ");
    }
    printf("\"frames\": %zu, \"atoms\": %zu, \"natoms_min\": %zu, "
           "\"natoms_max\": %zu, \"natoms_mean\": ", s->frames, s->atoms,
           s->natoms_min, s->natoms_max);
    cli_json_num(stdout, s->frames ? (double)s->atoms / (double)s->frames : NAN);
    printf(", \"elements\": {");
    const char *sep = "";
    for (int z = 1; z <= 118; z++)
        if (s->element_atoms[z]) {
            printf("%s\"%s\": %zu", sep, mlshift_element_symbol(z),
                   s->element_atoms[z]);
            sep = ", ";
        }
    printf("}, \"periodic_frames\": %zu, \"fixed_atoms\": %zu, ", s->periodic,
           s->fixed_atoms);
    printf("\"energy\": {\"unit\": \"eV\", \"count\": %zu, \"min\": ",
           s->n_energy);
    cli_json_num(stdout, s->e_min);
    printf(", \"max\": ");
    cli_json_num(stdout, s->e_max);
    printf(", \"mean\": ");
    cli_json_num(stdout, s->e_mean);
    printf("}, \"force_norm\": {\"unit\": \"eV/A\", \"count\": %zu, \"min\": ",
           s->n_forces);
    cli_json_num(stdout, s->fn_min);
    printf(", \"median\": ");
    cli_json_num(stdout, s->fn_median);
    printf(", \"mean\": ");
    cli_json_num(stdout, s->fn_mean);
    printf(", \"max\": ");
    cli_json_num(stdout, s->fn_max);
    printf("}}");
}

int cmd_info(int argc, char **argv)
{
    cli_frames_opts o = {0};
    cli_args a = {argc, 1, argv, "info", 0};
    int json = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    if (!files)
        return cli_fail("out of memory");
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            printf("%s%s", help, cli_frames_help);
            free(files);
            return CLI_OK;
        } else if (cli_flag(&a, "--json")) {
            json = 1;
        } else if (cli_frames_arg(&a, &o, files, &nfiles)) {
            free(files);
            return CLI_ERROR;
        }
    }
    if (!nfiles) {
        free(files);
        return cli_fail("info: no input files (see mlshift info --help)");
    }
    size_t *file_end = calloc(nfiles, sizeof *file_end);
    mlshift_frames *fr = NULL;
    if (!file_end ||
        cli_load_frames(&o, files, nfiles, &fr, NULL, NULL, file_end)) {
        free(file_end);
        free(files);
        return CLI_ERROR;
    }
    size_t n = mlshift_frames_count(fr);
    double *norms = malloc((n ? n : 1) * sizeof *norms);
    summary s;
    if (!norms) {
        free(file_end);
        free(files);
        mlshift_frames_destroy(fr);
        return cli_fail("out of memory");
    }
    /* Per-file summaries only mean something when frames were not
     * deduplicated or split across files. */
    int per_file = nfiles > 1 && !o.dedup_key && !o.split;
    if (json) {
        printf("{\"files\": [");
        for (size_t k = 0; per_file && k < nfiles; k++) {
            summarise(fr, k ? file_end[k - 1] : 0, file_end[k], norms, &s);
            printf(k ? ", " : "");
            print_json(files[k], &s);
        }
        if (!per_file) {
            for (size_t k = 0; k < nfiles; k++) {
                printf(k ? ", " : "");
                cli_json_string(stdout, files[k]);
            }
        }
        printf("], \"total\": ");
        summarise(fr, 0, n, norms, &s);
        print_json(NULL, &s);
        printf("}\n");
    } else {
        for (size_t k = 0; per_file && k < nfiles; k++) {
            summarise(fr, k ? file_end[k - 1] : 0, file_end[k], norms, &s);
            print_text(files[k], &s);
        }
        summarise(fr, 0, n, norms, &s);
        char title[256];
        if (nfiles == 1 && !o.dedup_key && !o.split)
            snprintf(title, sizeof title, "%s", files[0]);
        else
            snprintf(title, sizeof title, "all %zu files%s%s", nfiles,
                     o.dedup_key ? ", deduplicated" : "",
                     o.split ? ", split part" : "");
        print_text(title, &s);
    }
    free(norms);
    free(file_end);
    free(files);
    mlshift_frames_destroy(fr);
    return CLI_OK;
}

/* SPDX-License-Identifier: MIT */
/* What md, relax and pes share: the calculator options (--model M
 * [--head main|prior] [--radius R] | --prior SPEC), opening the
 * calculator, and reading the start frame. */
#ifndef MLSHIFT_CLI_MD_CALC_H
#define MLSHIFT_CLI_MD_CALC_H

#include "cli.h"

typedef struct md_calc_opts {
    const char *model, *head, *prior;
    double radius;              /* Å, 0: the training cutoff */
} md_calc_opts;

/* --model, --head, --prior, --radius at a->i: 1 consumed, 0 not one of
 * them, -1 bad value (reported). */
int md_calc_option(cli_args *a, md_calc_opts *o);
/* Exactly one of --model and --prior; --head/--radius only with a model.
 * Reports and returns CLI_ERROR. */
int md_calc_check(const char *cmd, const md_calc_opts *o);

typedef struct md_calc {
    mlshift_prior *prior;
    mlshift_model *model;
    mlshift_md_calculator calc;
} md_calc;
/* Loads the model or creates the prior. Reports and returns CLI_ERROR. */
int md_calc_open(const md_calc_opts *o, md_calc *c);
void md_calc_close(md_calc *c);

/* Frame `index` of path into *f (a view into *fr, which the caller
 * destroys). Reports and returns CLI_ERROR. */
int md_load_frame(const char *cmd, const char *path, uint64_t index,
                  mlshift_frames **fr, mlshift_frame *f);

#endif /* MLSHIFT_CLI_MD_CALC_H */

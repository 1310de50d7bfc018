/* SPDX-License-Identifier: MIT */
/* What md, relax and pes share: the calculator options (--model M
 * [--head main|prior] [--radius R] | --prior SPEC), opening the
 * calculator, and reading the start frame. */
#ifndef MLSHIFT_CLI_MD_CALC_H
#define MLSHIFT_CLI_MD_CALC_H

#include "cli.h"

typedef struct md_calc_opts {
    const char *model, *head, *prior, *dtype;
    double radius;              /* Å, 0: the training cutoff */
} md_calc_opts;

/* --model, --head, --prior, --radius, --dtype at a->i: 1 consumed, 0 not one of
 * them, -1 bad value (reported). */
int md_calc_option(cli_args *a, md_calc_opts *o);

/* Options that take a double that must be > 0, as a table: returns 1 when
 * the argument was one of them (value stored), −1 on a bad value
 * (reported, naming cmd and the option), 0 when it was none of them. */
typedef struct md_calc_positive {
    const char *name;
    double *dst;
} md_calc_positive;
int md_calc_positive_option(cli_args *a, const char *cmd, const md_calc_positive *t, size_t n);

/* The argument loop of md, relax and pes: --help (printed: returns 1), the
 * command's options (option(a, o) returns 1 when it took one, −1 on an
 * error, 0 when the argument is not its) and one START file into *start.
 * Returns CLI_OK to go on, 1 after --help, CLI_ERROR having reported. */
int md_calc_args(int argc, char **argv, const char *cmd, const char *help,
                 int (*option)(cli_args *a, void *o), void *o, const char **start);
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

/* SPDX-License-Identifier: MIT */
/* Option tables: a command lists its options once (name, type, where the
 * value goes, allowed range), and the same table reads the command line
 * and a `--config FILE` of `key = value` lines (the names without "--";
 * '#' starts a comment). A bad value is an error naming the option or the
 * file and line. */
#ifndef MLSHIFT_CLI_OPTTAB_H
#define MLSHIFT_CLI_OPTTAB_H

#include <stddef.h>

#include "cli.h"

typedef enum cli_opt_type { OPT_STR, OPT_DBL, OPT_SIZE, OPT_INT, OPT_U64, OPT_FLAG } cli_opt_type;

typedef struct cli_opt {
    const char *name;       /* "--lr" */
    cli_opt_type type;
    void *ptr;              /* const char **, double *, size_t *, int *, uint64_t *, int * */
    double lo, hi;          /* numbers: allowed range */
    int lo_open;            /* 1: the value must be > lo */
} cli_opt;

/* Tries the table at a->i: 1 consumed, 0 not an option of it, −1 a bad
 * value (reported). */
int cli_opt_match(cli_args *a, const cli_opt *t, size_t n);
/* Applies `key = value` lines of path. Returns 0 or CLI_ERROR (reported). */
int cli_opt_config(const char *path, const cli_opt *t, size_t n, const char *cmd);

#endif /* MLSHIFT_CLI_OPTTAB_H */

/* SPDX-License-Identifier: MIT */
/* mlshift: the command. One file per subcommand; this one dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "counts, elements, energies, force-norm statistics"},
    {"convert", cmd_convert, "frames to extxyz; dedup and seeded splits"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mlshift COMMAND [ARGS]   (mlshift COMMAND --help for more)\n"
            "\n"
            "Machine-learning interatomic potentials under distribution shift:\n"
            "diagnose, mitigate at test time, and prove it.\n"
            "\n"
            "commands:\n");
    for (size_t k = 0; k < N_COMMANDS; k++)
        fprintf(fp, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fprintf(fp,
            "\n"
            "Data: $MLSHIFT_DATA (default ../shared/data). Units: eV, Å.\n"
            "Exit status: 0 success, 2 error (message on stderr).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_ERROR;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t k = 0; k < N_COMMANDS; k++)
                if (strcmp(commands[k].name, argv[2]) == 0)
                    return commands[k].run(2, sub);
            return cli_fail("help: unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("mlshift %s\n", MLSHIFT_VERSION);
        return CLI_OK;
    }
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(commands[k].name, name) == 0)
            return commands[k].run(argc - 1, argv + 1);
    cli_fail("unknown command '%s'", name);
    usage(stderr);
    return CLI_ERROR;
}

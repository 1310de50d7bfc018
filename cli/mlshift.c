/* SPDX-License-Identifier: MIT */
/* mlshift: the command. One file per subcommand; this one dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_mpi.h" /* issue 11: MPI (mlshift-mpi), cli/mpi.c */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "counts, elements, energies, force-norm statistics"},
    {"convert", cmd_convert, "frames to extxyz; dedup and seeded splits"},
    {"stats", cmd_stats, "training statistics for the shift diagnostics"},
    {"diagnose", cmd_diagnose, "OOD flags per axis against training statistics"},
    {"refine-radius", cmd_refine_radius, "test-time radius refinement (eq. 4)"},
    {"label", cmd_label, "a cheap prior's energies and forces beside the labels"},
    {"sgdml", cmd_sgdml, "train an sGDML model (mlshift sgdml train)"},
    {"model", cmd_model, "create a PaiNN/SchNet model, show its groups (init, info)"},
    {"predict", cmd_predict, "energies and forces of a model, either head"},
    {"train", cmd_train, "pretrain, finetune, joint or plain training (eq. 6)"},
    {"ttt", cmd_ttt, "test-time training on a prior (eq. 7), one model per molecule"},
    {"evaluate", cmd_evaluate, "force and energy errors of a model against labels"},
    {"md", cmd_md, "molecular dynamics: Verlet, Langevin, Nose-Hoover; any calculator"},
    {"analyze", cmd_analyze, "MD quality: stability, h(r) MAE, NVE drift (MDsim's)"},
    {"relax", cmd_relax, "FIRE or BFGS relaxation (ASE's) with any calculator"},
    {"pes", cmd_pes, "energy map along the two leading Hessian modes, several models"},
    {"jobs", cmd_jobs, "independent shell commands, one a line, over MPI ranks"},
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
        fprintf(fp, "  %-14s %s\n", commands[k].name, commands[k].summary);
    fprintf(fp,
            "\n"
            "Data: $MLSHIFT_DATA (default ../shared/data). Units: eV, Å.\n"
            "Exit status: 0 success, 2 error (message on stderr).\n");
}

/* OpenBLAS's own setter (libopenblas exports it; declared here so the
 * build does not depend on which cblas.h is first on the include path). */
void openblas_set_num_threads(int num_threads);

int main(int argc, char **argv)
{
    /* One BLAS thread unless the user asked for more: our matrices are
     * small, and spinning threads on a busy machine were measured 10x
     * slower (DESIGN.md, Threads). */
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS"))
        openblas_set_num_threads(1);
    cli_cleanup_on_signals();
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
        printf("mlshift %s\nBLAS: OpenBLAS, %s kernels\n", MLSHIFT_VERSION,
               mlshift_blas_core());
        return CLI_OK;
    }
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(commands[k].name, name) == 0) {
            /* MPI (cli/mpi.c): started around the command, aborted on failure */
            if (cli_mpi_init(&argc, &argv))
                return CLI_ERROR;
            return cli_mpi_finish(commands[k].run(argc - 1, argv + 1));
        }
    cli_fail("unknown command '%s'", name);
    usage(stderr);
    return CLI_ERROR;
}

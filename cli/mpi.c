/* SPDX-License-Identifier: MIT */
/* MPI for the mlshift command (docs/mpi.md): Debian's OpenMPI in the
 * second binary mlshift-mpi (this file compiled with -DMLSHIFT_MPI by
 * mpicc; `make` builds it when libopenmpi-dev is installed), so the default
 * build needs no MPI header or library and plain `mlshift` runs anywhere.
 *
 *   train  data parallel: every rank loads the same data and model, takes
 *          a shard of every batch and sums its gradient with the others'
 *          (one MPI_Allreduce of the gradient buffer and the loss parts per
 *          step, src/train/trainer.c); every rank then takes the same
 *          optimiser step, so the weights stay identical and equal the
 *          one-process run's to rounding. Rank 0 writes the model, the
 *          checkpoint, the prior-label cache and the report.
 *   ttt    independent groups (one model per composition): rank r adapts
 *          groups r, r + P, …, writes their model files, and the per-group
 *          report lines are gathered to rank 0. */
#include "cli_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef MLSHIFT_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_started = 0;

int cli_mpi_rank(void)
{
    return g_rank;
}

int cli_mpi_size(void)
{
    return g_size;
}

int cli_mpi_mine(size_t k)
{
    return g_size <= 1 || k % (size_t)g_size == (size_t)g_rank;
}

const char *cli_mpi_rank_path(const char *path)
{
    static char buf[4096];
    if (!path || g_rank == 0)
        return path;
    snprintf(buf, sizeof buf, "%s.rank%d", path, g_rank);
    return buf;
}

#ifdef MLSHIFT_MPI

int cli_mpi_init(int *argc, char ***argv)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return cli_fail("MPI_Init failed");
    g_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        return cli_fail("rank %d: cannot silence stdout", g_rank);
    return CLI_OK;
}

int cli_mpi_finish(int rc)
{
    if (!g_started)
        return rc;
    fflush(stdout);
    fflush(stderr);
    if (rc != CLI_OK && g_size > 1)
        MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
    return rc;
}

static int allreduce_sum(void *ctx, double *x, size_t n)
{
    (void)ctx;
    /* counts are int: sum in pieces of at most 2^30 */
    for (size_t k = 0; k < n; k += (size_t)1 << 30) {
        size_t m = n - k < ((size_t)1 << 30) ? n - k : ((size_t)1 << 30);
        if (MPI_Allreduce(MPI_IN_PLACE, x + k, (int)m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return 1;
    }
    return 0;
}

#else /* one process */

int cli_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* started by mpirun/srun with several processes: each would run the
     * whole job and write the same files */
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
        const char *v = getenv(vars[k]);
        if (v && atoi(v) > 1)
            return cli_fail("this mlshift was built without MPI but started as one of %s "
                            "processes: run mlshift-mpi (docs/mpi.md)", v);
    }
    return CLI_OK;
}

int cli_mpi_finish(int rc)
{
    (void)g_started;
    return rc;
}

static int allreduce_sum(void *ctx, double *x, size_t n)
{
    (void)ctx;
    (void)x;
    (void)n;
    return 0;
}

#endif

void cli_mpi_train_config(mlshift_train_config *c)
{
    static mlshift_train_parallel par;
    if (g_size <= 1)
        return;
    par = (mlshift_train_parallel){g_rank, g_size, allreduce_sum, NULL};
    c->parallel = &par;
    if (g_rank != 0)
        c->checkpoint = NULL;
}

/* ---- one report from every rank */

static FILE *g_capture;     /* this rank's stdout between begin and gather */
static int g_saved_fd = -1; /* the stdout it replaced */

int cli_mpi_stdout_begin(void)
{
    if (g_size <= 1)
        return 0;
    fflush(stdout);
    if (!(g_capture = tmpfile()) || (g_saved_fd = dup(1)) < 0 ||
        dup2(fileno(g_capture), 1) < 0)
        return cli_fail("rank %d: cannot capture the report", g_rank);
    return 0;
}

int cli_mpi_stdout_gather(void)
{
    if (g_size <= 1)
        return 0;
    fflush(stdout);
    long len = ftell(g_capture);
    char *text = len > 0 ? malloc((size_t)len) : NULL;
    int bad = len < 0 || (len > 0 && !text);
    if (!bad && len > 0) {
        rewind(g_capture);
        bad = fread(text, 1, (size_t)len, g_capture) != (size_t)len;
    }
    dup2(g_saved_fd, 1);
    close(g_saved_fd);
    fclose(g_capture);
    g_capture = NULL;
    if (bad) {
        free(text);
        return cli_fail("rank %d: cannot read the captured report", g_rank);
    }
#ifdef MLSHIFT_MPI
    int n = (int)len, *counts = NULL, *displs = NULL;
    char *all = NULL;
    if (g_rank == 0 && (!(counts = calloc((size_t)g_size, sizeof *counts)) ||
                        !(displs = calloc((size_t)g_size, sizeof *displs))))
        MPI_Abort(MPI_COMM_WORLD, cli_fail("out of memory gathering the report"));
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (g_rank == 0 && !bad) {
        long total = 0;
        for (int r = 0; r < g_size; r++) {
            displs[r] = (int)total;
            total += counts[r];
        }
        bad = !(all = malloc(total ? (size_t)total : 1));
    }
    MPI_Gatherv(text, n, MPI_CHAR, all, counts, displs, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (g_rank == 0 && !bad)
        fwrite(all, 1, (size_t)(displs[g_size - 1] + counts[g_size - 1]), stdout);
    free(all);
    free(counts);
    free(displs);
    if (bad)
        return cli_fail("rank %d: out of memory gathering the report", g_rank);
#else
    fwrite(text ? text : "", 1, (size_t)len, stdout);
#endif
    free(text);
    return 0;
}

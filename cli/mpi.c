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
 *          report lines are gathered to rank 0.
 *   label, diagnose
 *          independent frames: every rank streams every frame and
 *          computes frames r, r + P, …; per chunk of CLI_MPI_CHUNK·P frames
 *          the records are gathered to rank 0, which writes them in frame
 *          order (the one-process output, byte for byte). Failures are
 *          agreed: one message, every rank exits 2, no output.
 *   jobs   independent shell commands (cli/jobs.c): a task farm
 *          (cli/mpi_farm.c), each rank taking the next line whenever one
 *          of its slots is free (rank 0 hands the lines out between polls
 *          of its own), the records (exit status, stdout) gathered to
 *          rank 0 in line order. */
#include "cli_mpi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifdef MLSHIFT_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_started = 0;
/* Agreed failures (cli_mpi_shared_errors): held cli_fail lines, the frame
 * a failure is charged to, and whether every rank already knows. */
static int g_shared, g_agreed;
/* cli_mpi_root_speaks: messages of ranks other than 0 dropped. */
static int g_root_speaks;
static size_t g_position;
static char g_held[8192];
static size_t g_held_len;

static int agree(int rc);

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
    if (g_shared && g_size > 1 && !g_agreed)
        rc = agree(rc);
    fflush(stdout);
    fflush(stderr);
    if (rc != CLI_OK && g_size > 1 && !g_agreed)
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

/* ---- agreed failures */

void cli_mpi_shared_errors(void)
{
    g_shared = 1;
}

void cli_mpi_root_speaks(int on)
{
    g_root_speaks = on;
}

int cli_mpi_hold_message(const char *line)
{
    if (g_root_speaks && g_rank != 0)
        return 1;
    if (!g_shared || g_size <= 1 || g_agreed)
        return 0;
    size_t n = strlen(line);
    if (g_held_len + n < sizeof g_held) { /* later lines past 8 KiB are dropped */
        memcpy(g_held + g_held_len, line, n + 1);
        g_held_len += n;
    }
    return 1;
}

/* Collective: every rank says whether it failed (rc) and where
 * (g_position). On a failure anywhere, the rank that failed at the lowest
 * frame (then the lowest rank) prints its held lines, and every rank
 * returns CLI_ERROR with g_agreed set, after which no rank takes part in
 * another collective. */
static int agree(int rc)
{
    int bad = 0;
#ifdef MLSHIFT_MPI
    uint64_t key = rc == CLI_OK ? UINT64_MAX
                                : (uint64_t)g_position * (uint64_t)g_size + (uint64_t)g_rank;
    uint64_t first = UINT64_MAX;
    if (MPI_Allreduce(&key, &first, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, CLI_ERROR);
    bad = first != UINT64_MAX;
    if (bad && key == first) {
        if (g_held_len)
            fputs(g_held, stderr);
        else
            fprintf(stderr, "mlshift: rank %d failed\n", g_rank);
        fflush(stderr);
    }
#else
    bad = rc != CLI_OK;
#endif
    g_held_len = 0;
    g_held[0] = '\0';
    g_agreed = bad;
    return bad ? CLI_ERROR : CLI_OK;
}

/* ---- frames sharded over ranks */

struct cli_mpi_shard {
    cli_mpi_emit_fn emit;
    void *ctx;
    size_t chunk;           /* frames per chunk: CLI_MPI_CHUNK·P */
    size_t first, next;     /* the chunk's first frame; frames stepped */
    unsigned char *buf;     /* (len,) this rank's records in the chunk, each
                               a uint64 length and the bytes */
    size_t len, cap;
};

int cli_mpi_shard_begin(cli_mpi_shard **sh, cli_mpi_emit_fn emit, void *ctx)
{
    if (!(*sh = calloc(1, sizeof **sh)))
        return cli_fail("out of memory");
    (*sh)->emit = emit;
    (*sh)->ctx = ctx;
    (*sh)->chunk = (size_t)CLI_MPI_CHUNK * (size_t)g_size;
    g_position = 0;
    return CLI_OK;
}

int cli_mpi_shard_mine(const cli_mpi_shard *sh, size_t s)
{
    (void)sh;
    return cli_mpi_mine(s);
}

int cli_mpi_shard_put(cli_mpi_shard *sh, size_t s, const void *rec, size_t len)
{
    if (g_size <= 1) {
        g_position = s;
        return sh->emit(sh->ctx, s, rec, len);
    }
    uint64_t n = len;
    size_t need = sh->len + sizeof n + len;
    if (need > sh->cap) {
        size_t cap = need > 2 * sh->cap ? need : 2 * sh->cap;
        unsigned char *nb = realloc(sh->buf, cap);
        if (!nb)
            return cli_fail("out of memory");
        sh->buf = nb;
        sh->cap = cap;
    }
    memcpy(sh->buf + sh->len, &n, sizeof n);
    if (len)
        memcpy(sh->buf + sh->len + sizeof n, rec, len);
    sh->len = need;
    return CLI_OK;
}

#ifdef MLSHIFT_MPI
/* Rank 0 emits frames [first, end) from the ranks' records, laid out by
 * rank (all + displs[r]), in frame order: frame s is rank s mod P's next. */
static int emit_chunk(cli_mpi_shard *sh, const unsigned char *all, const int *displs,
                      size_t end)
{
    size_t *at = calloc((size_t)g_size, sizeof *at);
    if (!at)
        return cli_fail("out of memory");
    int rc = CLI_OK;
    for (size_t s = sh->first; s < end && rc == CLI_OK; s++) {
        int r = (int)(s % (size_t)g_size);
        const unsigned char *p = all + displs[r] + at[r];
        uint64_t n;
        memcpy(&n, p, sizeof n);
        at[r] += sizeof n + (size_t)n;
        g_position = s;
        rc = sh->emit(sh->ctx, s, p + sizeof n, (size_t)n);
    }
    free(at);
    return rc;
}
#endif

/* Collective at a chunk's end: agree, gather frames [first, end)'s records
 * to rank 0, emit them there. */
static int flush(cli_mpi_shard *sh, size_t end)
{
    if (agree(CLI_OK))
        return CLI_ERROR;
    int rc = CLI_OK;
#ifdef MLSHIFT_MPI
    if (sh->len > (size_t)INT32_MAX)
        MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: a chunk's records exceed 2 GiB",
                                           g_rank));
    int n = (int)sh->len, *counts = NULL, *displs = NULL;
    unsigned char *all = NULL;
    if (g_rank == 0) {
        counts = calloc((size_t)g_size, sizeof *counts);
        displs = calloc((size_t)g_size, sizeof *displs);
        if (!counts || !displs)
            MPI_Abort(MPI_COMM_WORLD, cli_fail("out of memory gathering records"));
    }
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (g_rank == 0) {
        size_t total = 0;
        for (int r = 0; r < g_size; r++) {
            if (total > (size_t)INT32_MAX)
                MPI_Abort(MPI_COMM_WORLD, cli_fail("a chunk's records exceed 2 GiB"));
            displs[r] = (int)total;
            total += (size_t)counts[r];
        }
        if (total > (size_t)INT32_MAX || !(all = malloc(total ? total : 1)))
            MPI_Abort(MPI_COMM_WORLD, cli_fail("out of memory gathering records"));
    }
    MPI_Gatherv(sh->buf, n, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (g_rank == 0 && (rc = emit_chunk(sh, all, displs, end)) == CLI_OK)
        g_position = end;
    free(all);
    free(counts);
    free(displs);
#endif
    sh->first = end;
    sh->len = 0;
    return rc;
}

int cli_mpi_shard_step(cli_mpi_shard *sh, size_t s)
{
    sh->next = s + 1;
    if (g_size <= 1)
        return CLI_OK;
    g_position = s + 1;
    return sh->next % sh->chunk == 0 ? flush(sh, sh->next) : CLI_OK;
}

int cli_mpi_shard_end(cli_mpi_shard *sh, int rc)
{
    if (g_size > 1) {
        if (g_agreed)
            rc = CLI_ERROR;
        else if (rc != CLI_OK)
            rc = agree(rc);
        else
            rc = flush(sh, sh->next);
    }
    if (sh)
        free(sh->buf);
    free(sh);
    return rc;
}

/* 5 ms between polls when nothing happened: the waits of the job farm
 * (mpi_farm.c) and of cli_mpi_verdict, which last seconds to hours. */
void cli_mpi_nap(void)
{
    struct timespec t = {0, 5000000L};
    nanosleep(&t, NULL);
}

int cli_mpi_verdict(int rc)
{
    if (g_size <= 1)
        return rc;
#ifdef MLSHIFT_MPI
    int v = rc, done = 0;
    MPI_Request req;
    MPI_Ibcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done;
         MPI_Test(&req, &done, MPI_STATUS_IGNORE))
        cli_mpi_nap();
    rc = v;
    if (rc != CLI_OK)
        g_agreed = 1; /* every rank knows: cli_mpi_finish ends without MPI_Abort */
#endif
    return rc;
}

int cli_mpi_share(char **buf, size_t *len)
{
    if (g_size <= 1)
        return CLI_OK;
#ifdef MLSHIFT_MPI
    uint64_t n = g_rank == 0 ? (uint64_t)*len : 0;
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (n > (uint64_t)INT32_MAX) {
        if (g_rank == 0)
            cli_fail("%llu bytes to share over ranks: over 2 GiB", (unsigned long long)n);
        MPI_Abort(MPI_COMM_WORLD, CLI_ERROR);
    }
    if (g_rank != 0) {
        if (!(*buf = malloc((size_t)n + 1)))
            MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: out of memory", g_rank));
        (*buf)[n] = '\0';
        *len = (size_t)n;
    }
    MPI_Bcast(*buf, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
#else
    (void)buf;
    (void)len;
#endif
    return CLI_OK;
}

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
 *   jobs   independent shell commands (cli/jobs.c): a task farm, each
 *          rank taking the next line whenever one of its slots is free
 *          (rank 0 hands the lines out between polls of its own), the
 *          records (exit status, stdout) gathered to rank 0 in line
 *          order. */
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

/* ---- independent jobs over ranks (cli_mpi_farm)
 *
 * Rank 0 runs its own slots and, between their polls, answers the other
 * ranks: a worker sends TAG_DONE with the item it finished (int64, -1 for
 * "none yet") and that item's record, and rank 0 replies TAG_NEXT with the
 * next item (int64) or -1, which closes the slot. Every message is
 * answered, so each of a worker's slots is busy, waiting for a reply, or
 * closed. Nobody blocks in MPI while a job runs: every wait is a test and
 * a nap, so a rank waiting for another's last long job costs no core (a
 * blocking OpenMPI call spins). */

enum { TAG_DONE = 71, TAG_NEXT = 72 };

/* 5 ms between polls when nothing happened: jobs last seconds to hours. */
static void nap(void)
{
    struct timespec t = {0, 5000000L};
    nanosleep(&t, NULL);
}

/* Rank 0: records kept until every earlier item's has been emitted. */
typedef struct farm_store {
    const cli_mpi_farm_ops *ops;
    void *ctx;
    void **rec;          /* (n,) record of item k, NULL until it arrives */
    size_t *len;         /* (n,) its length */
    unsigned char *have; /* (n,) whether it arrived */
    size_t n, emitted;   /* items; items emitted (a prefix) */
} farm_store;

static void store_put(farm_store *st, size_t k, void *rec, size_t len)
{
    st->rec[k] = rec;
    st->len[k] = len;
    st->have[k] = 1;
    while (st->emitted < st->n && st->have[st->emitted]) {
        size_t e = st->emitted++;
        st->ops->emit(st->ctx, e, st->rec[e], st->len[e]);
        free(st->rec[e]);
        st->rec[e] = NULL;
    }
}

/* This rank's slots: busy[s] with item[s]. */
typedef struct farm_slots {
    size_t *item;
    unsigned char *busy;
} farm_slots;

static int slots_alloc(farm_slots *sl, size_t slots)
{
    sl->item = calloc(slots, sizeof *sl->item);
    sl->busy = calloc(slots, 1);
    return sl->item && sl->busy ? CLI_OK : cli_fail("out of memory");
}

static void slots_free(farm_slots *sl)
{
    free(sl->item);
    free(sl->busy);
}

#ifdef MLSHIFT_MPI
/* Rank 0: one worker message, if one came: its record stored, the next
 * item (or -1) sent back. *open counts worker slots not yet closed.
 * Returns whether a message was served. */
static int serve(farm_store *st, size_t *next, long *open)
{
    int flag = 0, count = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, MPI_COMM_WORLD, &flag, &status);
    if (!flag)
        return 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    unsigned char *msg = malloc(count > 0 ? (size_t)count : 1);
    int64_t k, give;
    if (!msg || count < (int)sizeof k)
        MPI_Abort(MPI_COMM_WORLD, cli_fail("jobs: out of memory or a short message "
                                           "from rank %d", status.MPI_SOURCE));
    MPI_Recv(msg, count, MPI_BYTE, status.MPI_SOURCE, TAG_DONE, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    memcpy(&k, msg, sizeof k);
    give = *next < st->n ? (int64_t)(*next)++ : -1;
    if (give < 0)
        (*open)--;
    MPI_Send(&give, 1, MPI_INT64_T, status.MPI_SOURCE, TAG_NEXT, MPI_COMM_WORLD);
    if (k >= 0 && (size_t)k < st->n && !st->have[k]) {
        memmove(msg, msg + sizeof k, (size_t)count - sizeof k);
        store_put(st, (size_t)k, msg, (size_t)count - sizeof k);
    } else {
        free(msg);
    }
    return 1;
}

/* A worker's message to rank 0: item k (-1: none) and its record. */
static void send_done(int64_t k, const void *rec, size_t len)
{
    if (len > (1u << 30))
        MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: a job's record exceeds 1 GiB", g_rank));
    unsigned char *msg = malloc(sizeof k + len);
    if (!msg)
        MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: out of memory", g_rank));
    memcpy(msg, &k, sizeof k);
    if (len)
        memcpy(msg + sizeof k, rec, len);
    MPI_Send(msg, (int)(sizeof k + len), MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
    free(msg);
}

/* Ranks other than 0: ask for an item per slot, run what comes, send
 * each record back (which asks for the next), until every slot is closed. */
static int farm_worker(size_t slots, const cli_mpi_farm_ops *ops, void *ctx)
{
    farm_slots sl;
    if (slots_alloc(&sl, slots))
        return CLI_ERROR;
    size_t waiting = slots, closed = 0;
    MPI_Request req = MPI_REQUEST_NULL;
    int64_t got = -1;
    int rc = CLI_OK;
    for (size_t s = 0; s < slots; s++)
        send_done(-1, NULL, 0);
    while (rc == CLI_OK && closed < slots) {
        int moved = 0, done = 0;
        for (size_t s = 0; s < slots && rc == CLI_OK; s++) {
            void *rec = NULL;
            size_t len = 0;
            int p = sl.busy[s] ? ops->poll(ctx, s, &rec, &len) : 0;
            if (p < 0)
                rc = CLI_ERROR;
            if (p > 0) {
                send_done((int64_t)sl.item[s], rec, len);
                free(rec);
                sl.busy[s] = 0;
                waiting++;
                moved = 1;
            }
        }
        if (rc == CLI_OK && waiting > 0) {
            if (req == MPI_REQUEST_NULL)
                MPI_Irecv(&got, 1, MPI_INT64_T, 0, TAG_NEXT, MPI_COMM_WORLD, &req);
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        }
        if (done) {
            waiting--;
            moved = 1;
            size_t s = 0;
            while (got >= 0 && s < slots && sl.busy[s]) /* one free per reply awaited */
                s++;
            if (s == slots)
                MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: an item but no free slot", g_rank));
            if (got < 0)
                closed++;
            else if ((rc = ops->start(ctx, s, (size_t)got)) == CLI_OK)
                sl.item[s] = (size_t)got, sl.busy[s] = 1;
        }
        if (!moved)
            nap();
    }
    slots_free(&sl);
    return rc;
}
#endif

/* Rank 0 (and the one-process case): its own slots, fed in item order,
 * and the workers' requests. */
static int farm_root(farm_store *st, size_t slots)
{
    farm_slots sl;
    if (slots_alloc(&sl, slots))
        return CLI_ERROR;
    size_t next = 0;
    long open = (long)(g_size - 1) * (long)slots; /* worker slots not closed */
    int rc = CLI_OK;
    while (rc == CLI_OK && (st->emitted < st->n || open > 0)) {
        int moved = 0;
        for (size_t s = 0; s < slots && rc == CLI_OK; s++) {
            void *rec = NULL;
            size_t len = 0;
            int p = sl.busy[s] ? st->ops->poll(st->ctx, s, &rec, &len) : 0;
            if (p < 0)
                rc = CLI_ERROR;
            if (p > 0) {
                sl.busy[s] = 0;
                store_put(st, sl.item[s], rec, len);
                moved = 1;
            }
            if (rc == CLI_OK && !sl.busy[s] && next < st->n) {
                if ((rc = st->ops->start(st->ctx, s, next)) == CLI_OK)
                    sl.item[s] = next++, sl.busy[s] = 1;
                moved = 1;
            }
        }
#ifdef MLSHIFT_MPI
        if (rc == CLI_OK && g_size > 1)
            moved |= serve(st, &next, &open);
#endif
        if (!moved)
            nap();
    }
    slots_free(&sl);
    return rc;
}

int cli_mpi_farm(size_t n, size_t slots, const cli_mpi_farm_ops *ops, void *ctx)
{
    if (slots < 1)
        return cli_fail("jobs: no slot to run in");
#ifdef MLSHIFT_MPI
    if (g_rank != 0)
        return farm_worker(slots, ops, ctx);
#endif
    farm_store st = {ops, ctx, calloc(n ? n : 1, sizeof(void *)),
                     calloc(n ? n : 1, sizeof(size_t)), calloc(n ? n : 1, 1), n, 0};
    int rc = st.rec && st.len && st.have ? farm_root(&st, slots) : cli_fail("out of memory");
    if (st.rec)
        for (size_t k = 0; k < n; k++)
            free(st.rec[k]);
    free(st.rec);
    free(st.len);
    free(st.have);
    return rc;
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
        nap();
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

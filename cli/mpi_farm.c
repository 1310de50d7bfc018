/* SPDX-License-Identifier: MIT */
/* The task farm of `mlshift jobs` (cli_mpi_farm, cli_mpi.h): n independent
 * items run `slots` at a time on every rank of mlshift-mpi (this file, like
 * cli/mpi.c, compiled with -DMLSHIFT_MPI there), or on the one process of
 * plain mlshift, their records emitted by rank 0 in item order. */
#include "cli_mpi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef MLSHIFT_MPI
#include <mpi.h>
#endif

/* How it runs over ranks.
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
        MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: a job's record exceeds 1 GiB", cli_mpi_rank()));
    unsigned char *msg = malloc(sizeof k + len);
    if (!msg)
        MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: out of memory", cli_mpi_rank()));
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
                MPI_Abort(MPI_COMM_WORLD, cli_fail("rank %d: an item but no free slot", cli_mpi_rank()));
            if (got < 0)
                closed++;
            else if ((rc = ops->start(ctx, s, (size_t)got)) == CLI_OK)
                sl.item[s] = (size_t)got, sl.busy[s] = 1;
        }
        if (!moved)
            cli_mpi_nap();
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
    long open = (long)(cli_mpi_size() - 1) * (long)slots; /* worker slots not closed */
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
        if (rc == CLI_OK && cli_mpi_size() > 1)
            moved |= serve(st, &next, &open);
#endif
        if (!moved)
            cli_mpi_nap();
    }
    slots_free(&sl);
    return rc;
}

int cli_mpi_farm(size_t n, size_t slots, const cli_mpi_farm_ops *ops, void *ctx)
{
    if (slots < 1)
        return cli_fail("jobs: no slot to run in");
#ifdef MLSHIFT_MPI
    if (cli_mpi_rank() != 0)
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


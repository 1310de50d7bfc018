/* SPDX-License-Identifier: MIT */
/* MPI for the mlshift command (cli/mpi.c, docs/mpi.md). Built with MPI
 * only in the second binary mlshift-mpi (-DMLSHIFT_MPI, mpicc); in plain
 * mlshift every call is the one-process case. */
#ifndef MLSHIFT_CLI_CLI_MPI_H
#define MLSHIFT_CLI_CLI_MPI_H

#include "mlshift.h"

/* Starts MPI (mlshift-mpi) before a command runs; ranks other than 0 send
 * their stdout to /dev/null. Plain mlshift started by mpirun with more than
 * one process refuses (it would run the same job P times). */
int cli_mpi_init(int *argc, char ***argv);
/* Ends MPI with the command's exit status rc: MPI_Finalize after success,
 * MPI_Abort(rc) after a failure (so that no rank waits for one that gave
 * up). Returns rc. */
int cli_mpi_finish(int rc);
int cli_mpi_rank(void);
int cli_mpi_size(void);
/* Whether this rank takes independent item k (k mod size == rank). */
int cli_mpi_mine(size_t k);
/* Data-parallel training: sets c->parallel (gradient allreduce); on ranks
 * other than 0 no checkpoint (rank 0 writes it). */
void cli_mpi_train_config(mlshift_train_config *c);
/* Path of a per-rank output: path itself on rank 0, "path.rankR" else
 * (static storage). */
const char *cli_mpi_rank_path(const char *path);
/* One report from every rank: between begin and gather, what each rank
 * prints to stdout is kept; gather prints it on rank 0, rank 0's first,
 * then rank 1's, …  Nonzero on failure (reported). */
int cli_mpi_stdout_begin(void);
int cli_mpi_stdout_gather(void);

/* ---- frames sharded over ranks (label, diagnose; docs/mpi.md)
 *
 * Every rank streams every frame; rank r computes frames s with
 * s mod P == r into a record (bytes) and puts it; every CLI_MPI_CHUNK·P
 * frames (and at the end) the records are gathered to rank 0, which hands
 * them to emit in frame order, so rank 0 writes what one process writes,
 * holding one chunk. In one process put calls emit at once. */

/* Frames per rank per chunk. */
enum { CLI_MPI_CHUNK = 32 };

/* Called first thing by a sharded command: from here on a failure is
 * agreed over the ranks at the next collective step (a chunk's end, the
 * shard's end, or cli_mpi_finish). Messages from cli_fail are held, and
 * only the rank that failed first (the lowest frame, then the lowest rank)
 * prints its own; then every rank ends with CLI_ERROR (no MPI_Abort). */
void cli_mpi_shared_errors(void);
/* While on, cli_fail lines of ranks other than 0 are dropped: for checks
 * every rank makes alike (its arguments), so a bad one is reported once. */
void cli_mpi_root_speaks(int on);
/* Holds a cli_fail line (returns 1) while failures are agreed over ranks. */
int cli_mpi_hold_message(const char *line);

/* Rank 0 only: record s (len bytes, valid during the call) of frame s.
 * CLI_OK or CLI_ERROR having reported. */
typedef int (*cli_mpi_emit_fn)(void *ctx, size_t s, const void *rec, size_t len);
typedef struct cli_mpi_shard cli_mpi_shard;
int cli_mpi_shard_begin(cli_mpi_shard **sh, cli_mpi_emit_fn emit, void *ctx);
/* Whether frame s is this rank's (cli_mpi_mine). */
int cli_mpi_shard_mine(const cli_mpi_shard *sh, size_t s);
/* This rank's record of its frame s (copied). */
int cli_mpi_shard_put(cli_mpi_shard *sh, size_t s, const void *rec, size_t len);
/* Every rank, after frame s (whether its own or not): at a chunk's end
 * the records are gathered and emitted. CLI_ERROR when a rank failed (the
 * stream should stop; the message is printed once). */
int cli_mpi_shard_step(cli_mpi_shard *sh, size_t s);
/* After the stream, with its status rc: the last chunk is gathered and
 * emitted, or the failure agreed. Returns the agreed status and frees sh. */
int cli_mpi_shard_end(cli_mpi_shard *sh, int rc);

/* ---- independent jobs over ranks (mlshift jobs, cli/jobs.c)
 *
 * Items 0..n-1 are handed out one at a time to whichever slot is free:
 * each rank runs up to `slots` items at once, and rank 0, between polls
 * of its own, answers the other ranks' requests for the next item. So
 * items of very different lengths (an MD run that collapses after 1 ps
 * beside one that runs 100 ps) keep every rank busy, where a fixed
 * k mod P split would leave one rank with all the long ones. Each item's
 * record goes to rank 0, which emits the records in item order. Nothing
 * here forks: the caller's start and poll say how an item runs. */
typedef struct cli_mpi_farm_ops {
    /* Starts item k in slot s (0 <= s < slots) of this rank. CLI_OK, or
     * CLI_ERROR having reported: a rank that cannot go on (the farm then
     * ends every rank with MPI_Abort). */
    int (*start)(void *ctx, size_t s, size_t k);
    /* Whether slot s's item has finished; then *rec receives its record
     * (malloc'ed, *len bytes, at most 1 GiB; the farm frees it). Never
     * blocks. */
    int (*poll)(void *ctx, size_t s, void **rec, size_t *len);
    /* Rank 0: item k's record, in item order. */
    void (*emit)(void *ctx, size_t k, const void *rec, size_t len);
} cli_mpi_farm_ops;
/* Runs the n items on every rank's slots; returns once rank 0 has emitted
 * every record (rank 0) or this rank's share is done (others). */
int cli_mpi_farm(size_t n, size_t slots, const cli_mpi_farm_ops *ops, void *ctx);
/* Sleeps 5 ms: a poll's wait where a blocking OpenMPI call would spin. */
void cli_mpi_nap(void);

/* Rank 0's status rc, on every rank (the others' rc is ignored): a
 * failure decided by rank 0 alone, such as a bad input it read or a job
 * that failed, ends every rank with CLI_ERROR, after which cli_mpi_finish
 * ends MPI without MPI_Abort. A rank waiting here sleeps between polls
 * rather than spin (it may wait for rank 0's last long job). */
int cli_mpi_verdict(int rc);
/* Rank 0's bytes (*buf, *len) to every rank: on the others *buf becomes
 * a malloc'ed copy (NUL-terminated). CLI_OK, or CLI_ERROR (reported). */
int cli_mpi_share(char **buf, size_t *len);

#endif

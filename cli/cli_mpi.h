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

#endif

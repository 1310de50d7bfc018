# SPDX-License-Identifier: MIT
# Sourced by the bench/md17 scripts: each stage writes its independent
# experiments (one shell command a line) to a jobs file and runs it with
# run_jobs, through `mlshift jobs` (cli/jobs.c, docs/mpi.md):
#
#   MPI=P    P ranks: $MPIRUN -n P mlshift-mpi jobs FILE (P capped at the
#            file's command count: a rank with nothing to do is refused);
#            unset or 1: one plain mlshift process
#   JOBS=J   commands at a time on each rank (the script sets its default)
#   MPIRUN   the launcher (default "mpirun --allow-run-as-root"; e.g. srun)
#   MLSHIFT_MPI_BIN  the MPI binary (default build/mlshift-mpi)
#
# The numbers do not depend on P or J: every command runs alone on one
# thread with its own fixed seed; only the wall time changes. A failed
# command stops the script (after the stage's other commands ran), with
# the failed lines named by mlshift jobs.
ML_MPI=${MLSHIFT_MPI_BIN:-$root/build/mlshift-mpi}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root}
case ${MPI:-1} in
    '' | *[!0-9]* | 0) echo "$0: MPI=$MPI: a number of ranks (1 or more)" >&2; exit 2 ;;
esac

# q VALUE: VALUE single-quoted for a jobs line (so paths with spaces pass)
q() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# run_jobs FILE [J]: FILE's commands, J (default $JOBS, else 1) at a time per rank
run_jobs() {
    _n=$(grep -cEv '^[[:space:]]*(#|$)' "$1" || true)
    _p=${MPI:-1}
    [ "$_p" -gt "$_n" ] && _p=$_n
    if [ "$_p" -gt 1 ]; then
        # shellcheck disable=SC2086
        $MPIRUN -n "$_p" "$ML_MPI" jobs -j "${2:-${JOBS:-1}}" "$1"
    else
        "$ML" jobs -j "${2:-${JOBS:-1}}" "$1"
    fi
}

# job CMD...: one jobs line that runs the CMDs in turn and stops at the
# first that fails (set -e; a CMD "[ -f X ] || make X" fails if make does)
job() {
    printf 'set -e'
    for _c in "$@"; do printf '; %s' "$_c"; done
    printf '\n'
}

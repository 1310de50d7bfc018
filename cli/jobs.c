/* SPDX-License-Identifier: MIT */
/* mlshift jobs: independent shell commands, one a line, as a task farm.
 *
 * Why: the paper's experiments (bench/md17) are many independent
 * processes (an sGDML prior per molecule, TTT per molecule and prior
 * size, an MD run per seed). On a cluster they should run side by side
 * on every rank, not one after another, and a farm of whole commands
 * needs no change to the commands themselves. In one process the lines
 * run in line order, J at a time (-j); under `mpirun -n P mlshift-mpi
 * jobs FILE` each rank runs J at a time and takes the next line whenever
 * one ends (cli_mpi_farm, cli/mpi.c), so long and short lines balance
 * over the ranks. Each line's stdout is kept (a temporary file) and rank 0
 * prints it in line order, so stdout is what one process prints; stderr
 * passes through as it comes. Every line runs even after one has failed;
 * the failed lines are then named and the exit status is 2.
 *
 * How a line runs: /bin/sh -c LINE through posix_spawn, not fork. glibc's
 * posix_spawn (clone with CLONE_VM | CLONE_VFORK, then exec) runs no
 * pthread_atfork handler and copies no page of the parent, so OpenMPI's
 * fork warning (mpi_warn_on_fork, an atfork handler its RDMA transports
 * register) is not raised and no memory registered with a network card
 * is copied into a child. The child reads /dev/null, leads its own
 * process group (a signal to mlshift is passed on to the whole line,
 * pipelines included) and gets the environment without the variables
 * through which OpenMPI and PMI tell a process it is a rank of a job
 * (OMPI_*, PMIX_*, PMI_*): an `mlshift` in the line is a plain process,
 * not one that thinks mpirun started it (cli_mpi_init reads
 * OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_mpi.h" /* issue 11: the farm over ranks */

extern char **environ;

static const char help[] =
    "usage: mlshift jobs FILE [-j J] [--quiet]\n"
    "\n"
    "Runs the shell commands of FILE, one a line, each with /bin/sh -c, J at\n"
    "a time (default 1) in line order; blank lines and lines whose first\n"
    "non-blank character is # are skipped. Under\n"
    "    mpirun -n P mlshift-mpi jobs FILE\n"
    "each of the P ranks runs J lines at a time and takes the next line when\n"
    "one ends. Each line's stdout is printed in line order (what one process\n"
    "prints); stderr passes through as it comes. The lines must not depend on\n"
    "each other: they run side by side, in any order across ranks (a line\n"
    "that needs another's output belongs in the same line: a && b). Every\n"
    "line runs, even after one failed; then each failed line is named and\n"
    "the exit status is 2. A line's stdin is /dev/null; OMPI_*, PMIX_* and\n"
    "PMI_* are removed from its environment. More ranks than lines is an\n"
    "error (a rank with nothing to do).\n"
    "\n"
    "  -j, --parallel J   lines at a time on each rank (1 to 256; default 1)\n"
    "  --quiet            no line on stderr as each command ends\n"
    "\n"
    "example: printf 'echo one\\necho two\\n' > j.txt && mlshift jobs -j 2 j.txt\n\n";

enum { JOBS_MAX_SLOTS = 256 };

/* What a finished line sends to rank 0; its stdout follows. */
typedef struct job_rec {
    int32_t exit_code;   /* exit status, -1 when killed or not started */
    int32_t signal;      /* the signal that ended it, 0 if none */
    int32_t start_error; /* errno when it could not be started or waited for */
    int32_t rank;        /* the rank that ran it */
    uint64_t dropped;    /* stdout bytes not gathered (over 1 GiB) */
    double seconds;      /* wall time */
} job_rec;

/* One running line. */
typedef struct job_slot {
    pid_t pid;      /* 0: not started (start_error says why) */
    FILE *out;      /* its stdout, when captured */
    int start_error;
    double t0;
} job_slot;

typedef struct job_run {
    const char *file;
    char *lines;        /* the file's text, cut into lines */
    char **cmd;         /* (n,) the commands, pointers into lines */
    size_t *line;       /* (n,) their line numbers in file, 1-based */
    size_t n;
    int capture;        /* several at once: stdout kept, printed in line order */
    int quiet;
    char **env;         /* the environment without OMPI_*, PMIX_*, PMI_* */
    job_slot slot[JOBS_MAX_SLOTS];
    size_t slot_item[JOBS_MAX_SLOTS];
    size_t failed;      /* rank 0: lines that failed */
    double t0;
} job_run;

/* Process groups of the running lines, for the signal handler. */
static volatile sig_atomic_t g_pgid[JOBS_MAX_SLOTS];

static void on_signal(int sig)
{
    for (size_t s = 0; s < JOBS_MAX_SLOTS; s++)
        if (g_pgid[s] > 0)
            kill(-(pid_t)g_pgid[s], sig);
    /* SA_RESETHAND restored the default action; SA_NODEFER lets it act. */
    raise(sig);
}

static void forward_signals(void)
{
    cli_on_ending_signals(on_signal);
}

/* ---- the jobs file (rank 0 reads it, every rank parses the same bytes) */

static int read_file(const char *path, char **text, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cli_fail("jobs: %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got = 1; buf && got > 0;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
            if (!buf)
                break;
        }
        got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
    }
    int bad = !buf || ferror(fp);
    int err = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        return buf ? cli_fail("jobs: %s: %s", path, strerror(err)) : cli_fail("out of memory");
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return CLI_OK;
}

/* Whether a line holds a command: not blank, not a # comment. */
static int is_command(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    return *s && *s != '#';
}

/* Cuts a copy of text into lines and keeps the commands (text itself
 * stays as read: rank 0 shares it). */
static int parse_lines(job_run *r, const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        return cli_fail("jobs: %s: line %zu holds a NUL byte: not a text file", r->file, line);
    }
    size_t lines = 1;
    for (size_t k = 0; k < len; k++)
        lines += text[k] == '\n';
    r->cmd = malloc(lines * sizeof *r->cmd);
    r->line = malloc(lines * sizeof *r->line);
    r->lines = malloc(len + 1);
    if (!r->cmd || !r->line || !r->lines)
        return cli_fail("out of memory");
    memcpy(r->lines, text, len + 1);
    char *p = r->lines;
    for (size_t l = 1; p; l++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (is_command(p)) {
            r->cmd[r->n] = p;
            r->line[r->n++] = l;
        }
        p = nl ? nl + 1 : NULL;
    }
    return CLI_OK;
}

/* Rank 0: the file read and its commands checked against the ranks. */
static int load_jobs(job_run *r, char **text, size_t *len)
{
    if (read_file(r->file, text, len) || parse_lines(r, *text, *len))
        return CLI_ERROR;
    if (r->n == 0)
        return cli_fail("jobs: %s has no command (%s): nothing to run", r->file,
                        *len ? "only blank lines and # comments" : "the file is empty");
    if ((size_t)cli_mpi_size() > r->n)
        return cli_fail("jobs: %s has %zu command%s but %d ranks were started: %zu would "
                        "have nothing to do; start at most %zu (mpirun -n %zu)",
                        r->file, r->n, r->n == 1 ? "" : "s", cli_mpi_size(),
                        (size_t)cli_mpi_size() - r->n, r->n, r->n);
    return CLI_OK;
}

/* The environment of a line: ours without the MPI job's variables. */
static char **line_environment(void)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 1) * sizeof *env);
    if (!env)
        return NULL;
    for (size_t k = 0; k < n; k++)
        if (strncmp(environ[k], "OMPI_", 5) != 0 && strncmp(environ[k], "PMIX_", 5) != 0 &&
            strncmp(environ[k], "PMI_", 4) != 0)
            env[m++] = environ[k];
    env[m] = NULL;
    return env;
}

/* ---- running a line (cli_mpi_farm_ops) */

/* posix_spawn of /bin/sh -c CMD: stdin /dev/null, stdout fd (or ours when
 * fd < 0), its own process group. Returns 0 or an errno. */
static int spawn_line(job_run *r, const char *cmd, int fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    int e = posix_spawn_file_actions_init(&fa);
    if (e)
        return e;
    if (!(e = posix_spawnattr_init(&at))) {
        e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (!e && fd >= 0)
            e = posix_spawn_file_actions_adddup2(&fa, fd, 1);
        if (!e)
            e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
        if (!e)
            e = posix_spawnattr_setpgroup(&at, 0);
        if (!e)
            e = posix_spawn(pid, "/bin/sh", &fa, &at, argv, r->env);
        posix_spawnattr_destroy(&at);
    }
    posix_spawn_file_actions_destroy(&fa);
    return e;
}

static int job_start(void *ctx, size_t s, size_t k)
{
    job_run *r = ctx;
    job_slot *sl = &r->slot[s];
    memset(sl, 0, sizeof *sl);
    r->slot_item[s] = k;
    sl->t0 = cli_now();
    if (r->capture && !(sl->out = tmpfile())) {
        sl->start_error = errno ? errno : EIO;
        return CLI_OK; /* the line fails, the farm goes on */
    }
    sl->start_error = spawn_line(r, r->cmd[k], sl->out ? fileno(sl->out) : -1, &sl->pid);
    if (sl->start_error)
        sl->pid = 0;
    g_pgid[s] = (sig_atomic_t)sl->pid;
    return CLI_OK;
}

/* The record of slot s's finished line: header, then its stdout. */
static int job_record(job_run *r, job_slot *sl, job_rec *h, void **rec, size_t *len)
{
    struct stat st;
    size_t out = 0;
    if (sl->out && fstat(fileno(sl->out), &st) == 0 && st.st_size > 0)
        out = (size_t)st.st_size;
    if (out > ((size_t)1 << 30) - sizeof *h) {
        h->dropped = out;
        out = 0;
    }
    unsigned char *buf = malloc(sizeof *h + out);
    if (!buf)
        return cli_fail("rank %d: out of memory keeping the output of %s:%zu", cli_mpi_rank(),
                        r->file, r->line[r->slot_item[sl - r->slot]]);
    if (out && pread(fileno(sl->out), buf + sizeof *h, out, 0) != (ssize_t)out) {
        h->dropped = out;
        out = 0;
    }
    memcpy(buf, h, sizeof *h);
    *rec = buf;
    *len = sizeof *h + out;
    return CLI_OK;
}

/* "exit status 1", "killed by signal 9", "could not be started: why". */
static const char *outcome(const job_rec *h, char *buf, size_t cap)
{
    if (h->start_error)
        snprintf(buf, cap, "could not be run: %s", strerror(h->start_error));
    else if (h->signal)
        snprintf(buf, cap, "killed by signal %d (%s)", h->signal, strsignal(h->signal));
    else
        snprintf(buf, cap, "exit status %d", h->exit_code);
    return buf;
}

static int job_poll(void *ctx, size_t s, void **rec, size_t *len)
{
    job_run *r = ctx;
    job_slot *sl = &r->slot[s];
    job_rec h = {-1, 0, sl->start_error, cli_mpi_rank(), 0, 0};
    if (sl->pid > 0) {
        int status;
        pid_t w = waitpid(sl->pid, &status, WNOHANG);
        if (w == 0 || (w < 0 && errno == EINTR))
            return 0;
        if (w < 0)
            h.start_error = errno;
        else if (WIFEXITED(status))
            h.exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
            h.signal = WTERMSIG(status);
    }
    g_pgid[s] = 0;
    h.seconds = cli_now() - sl->t0;
    int rc = job_record(r, sl, &h, rec, len);
    if (sl->out)
        fclose(sl->out);
    sl->out = NULL;
    if (rc)
        return -1;
    if (!r->quiet) {
        char why[256];
        size_t k = r->slot_item[s];
        fprintf(stderr, "mlshift jobs: %s:%zu (%zu of %zu) ended after %.1f s on rank %d: %s\n",
                r->file, r->line[k], k + 1, r->n, h.seconds, h.rank,
                outcome(&h, why, sizeof why));
    }
    return 1;
}

/* Rank 0, in line order: the line's stdout, and a failure named. */
static void job_emit(void *ctx, size_t k, const void *rec, size_t len)
{
    job_run *r = ctx;
    job_rec h;
    memcpy(&h, rec, sizeof h);
    if (len > sizeof h) {
        fwrite((const unsigned char *)rec + sizeof h, 1, len - sizeof h, stdout);
        fflush(stdout);
    }
    char why[256];
    if (h.exit_code != 0 || h.signal || h.start_error) {
        r->failed++;
        cli_fail("jobs: %s:%zu failed (%s, rank %d): %s", r->file, r->line[k],
                 outcome(&h, why, sizeof why), h.rank, r->cmd[k]);
    } else if (h.dropped) {
        r->failed++;
        cli_fail("jobs: %s:%zu: its %llu bytes of stdout were not kept (over 1 GiB or "
                 "unreadable): redirect them to a file: %s", r->file, r->line[k],
                 (unsigned long long)h.dropped, r->cmd[k]);
    }
}

/* ---- the command */

static int parse_args(int argc, char **argv, job_run *r, uint64_t *slots)
{
    cli_args a = {argc, 1, argv, "jobs", 0};
    const char *v;
    for (; a.i < argc; a.i++) {
        if (cli_flag(&a, "--help") || cli_flag(&a, "-h")) {
            fputs(help, stdout);
            return -1;
        } else if (cli_flag(&a, "--quiet")) {
            r->quiet = 1;
        } else if (cli_value(&a, "--parallel", &v) || cli_value(&a, "-j", &v)) {
            if (cli_parse_u64("jobs: -j", v, slots))
                return CLI_ERROR;
            if (*slots < 1 || *slots > JOBS_MAX_SLOTS)
                return cli_fail("jobs: -j %s: from 1 to %d lines at a time", v, JOBS_MAX_SLOTS);
        } else if (a.bad) {
            return CLI_ERROR;
        } else if (argv[a.i][0] == '-' && argv[a.i][1]) {
            return cli_fail("jobs: unknown option '%s' (mlshift jobs --help)", argv[a.i]);
        } else if (r->file) {
            return cli_fail("jobs: one jobs file, not '%s' and '%s'", r->file, argv[a.i]);
        } else {
            r->file = argv[a.i];
        }
    }
    if (a.bad)
        return CLI_ERROR;
    if (!r->file)
        return cli_fail("jobs: no jobs file (usage: mlshift jobs FILE [-j J])");
    return CLI_OK;
}

/* Every rank: the file from rank 0, parsed; the farm; rank 0's verdict. */
static int run_jobs(job_run *r, size_t slots)
{
    char *text = NULL;
    size_t len = 0;
    int rc = cli_mpi_rank() == 0 ? load_jobs(r, &text, &len) : CLI_OK;
    if ((rc = cli_mpi_verdict(rc)) != CLI_OK || (rc = cli_mpi_share(&text, &len)) != CLI_OK)
        goto end;
    if (cli_mpi_rank() != 0 && (rc = parse_lines(r, text, len)) != CLI_OK)
        goto end;
    if (!(r->env = line_environment())) {
        rc = cli_fail("out of memory");
        goto end;
    }
    r->capture = cli_mpi_size() > 1 || slots > 1;
    r->t0 = cli_now();
    forward_signals();
    cli_mpi_farm_ops ops = {job_start, job_poll, job_emit};
    if ((rc = cli_mpi_farm(r->n, slots, &ops, r)) != CLI_OK)
        goto end;
    if (cli_mpi_rank() == 0 && r->failed)
        rc = cli_fail("jobs: %zu of %zu command%s of %s failed (named above)", r->failed, r->n,
                      r->n == 1 ? "" : "s", r->file);
    else if (cli_mpi_rank() == 0 && !r->quiet)
        fprintf(stderr, "mlshift jobs: %zu command%s of %s done in %.1f s (%d rank%s, "
                "%zu at a time each)\n", r->n, r->n == 1 ? "" : "s", r->file,
                cli_now() - r->t0, cli_mpi_size(), cli_mpi_size() == 1 ? "" : "s", slots);
    rc = cli_mpi_verdict(rc);
end:
    free(r->env);
    free(r->cmd);
    free(r->line);
    free(r->lines);
    free(text);
    return rc;
}

int cmd_jobs(int argc, char **argv)
{
    job_run r;
    memset(&r, 0, sizeof r);
    uint64_t slots = 1;
    cli_mpi_root_speaks(1); /* MPI: every rank reads the same arguments */
    int rc = parse_args(argc, argv, &r, &slots);
    cli_mpi_root_speaks(0);
    if (rc)
        return cli_mpi_verdict(rc < 0 ? CLI_OK : rc);
    return run_jobs(&r, (size_t)slots);
}

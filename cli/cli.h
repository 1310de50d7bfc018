/* SPDX-License-Identifier: MIT */
/* Shared pieces of the mlshift command: argument scanning, the reader
 * options every frame-reading command takes, and reporting. */
#ifndef MLSHIFT_CLI_H
#define MLSHIFT_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"

/* Exit codes: 0 success, 2 any error (bad input, bad usage). */
enum { CLI_OK = 0, CLI_ERROR = 2 };

/* --dtype: "float32" or "float64" into *dt; otherwise reports (naming
 * cmd) and returns CLI_ERROR. */
int cli_dtype_parse(const char *cmd, const char *s, mlshift_dtype *dt);
/* Prints "mlshift: <message>" to stderr and returns CLI_ERROR. */
int cli_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* An argument scanner: `--name VALUE` and `--name=VALUE` both work.
 * cli_flag matches a flag without value; cli_value one with a value (then
 * *val points at it); positional arguments are collected by the caller. */
typedef struct cli_args {
    int argc, i;
    char **argv;
    const char *cmd;      /* subcommand name, for messages */
    int bad;              /* set when a value is missing */
} cli_args;
int cli_flag(cli_args *a, const char *name);
int cli_value(cli_args *a, const char *name, const char **val);
/* Strict number parsing for option values; reports and returns -1 on error. */
int cli_parse_double(const char *opt, const char *s, double *out);
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);

/* Trial radii: "A:B:K" (numpy.linspace(A, B, K)) or "R1,R2,…", into a
 * malloc'ed array of *k values. Reports and returns CLI_ERROR on a bad
 * spec (positivity and duplicates are checked by the library). */
int cli_parse_radii(const char *s, double **out, size_t *k);

/* Reader options shared by every command that reads frames. */
typedef struct cli_frames_opts {
    mlshift_read_options read;
    const char *dedup_key;      /* --dedup KEY */
    const char *split;          /* --split TRAIN,VAL,TEST */
    uint64_t seed;              /* --seed S */
    const char *part;           /* --part train|val|test */
    int quiet;                  /* --quiet: no progress */
} cli_frames_opts;

/* Help text for the shared options. */
extern const char cli_frames_help[];

/* Tries the shared options at a->i; returns 1 if one was consumed, 0 if
 * the argument is not one of them, -1 on a bad value (reported). */
int cli_frames_option(cli_args *a, cli_frames_opts *o);

/* The end every frame-reading command's argument loop shares, for the
 * argument at a->i: a value missing from the command's own option (a->bad),
 * a shared reader option, an unknown option (reported), or an input file
 * (appended to files). Returns 0, or CLI_ERROR having reported. */
int cli_frames_arg(cli_args *a, cli_frames_opts *o, char **files,
                   size_t *nfiles);

/* Output files the commands write (CSV, JSON): opened as a temporary
 * beside `path`, renamed into place by cli_output_close only when every
 * write succeeded, so no half-written file is ever left. */
#include <stdio.h>
typedef struct cli_output cli_output;
FILE *cli_output_open(cli_output **out, const char *path);
/* Returns 0, or CLI_ERROR having reported (the temporary is removed). */
int cli_output_close(cli_output *out);
/* Removes the temporary without touching path (NULL: nothing). */
void cli_output_abort(cli_output *out);

/* Refuses (reports, returns CLI_ERROR) an output that is the same file as
 * an input (same device and inode, so links and other spellings count),
 * an output that is a directory, and one file given as two outputs.
 * NULL entries are skipped. Call it before any work. */
int cli_outputs_check(const char *cmd, const char *const *in, size_t nin,
                      const char *const *out, size_t nout);

/* All or none for a command with several outputs: mlshift_outputs_begin()
 * first, then rc = cli_outputs_end(rc) last: on success every output is
 * renamed into place (a failing rename is reported: CLI_ERROR), otherwise
 * every temporary is removed and nothing is replaced. */
int cli_outputs_end(int rc);

/* Refuses an extxyz output named like a format mlshift would read as
 * something else (.npz, .h5, .hdf5, .hdf): it could not read it back. */
int cli_extxyz_output(const char *cmd, const char *path);

/* SIGINT, TERM, HUP, QUIT and PIPE remove the live temporaries, then end
 * the process as the signal would have (main calls it once). */
void cli_cleanup_on_signals(void);
/* handler, once, for the signals that end a command (INT, TERM, HUP, QUIT,
 * PIPE; the default action restored before it runs, so it can re-raise);
 * a signal the caller ignores stays ignored. */
void cli_on_ending_signals(void (*handler)(int));

/* Reads files[0..n) into fr, then deduplicates, then splits: with --part,
 * fr becomes that part; without it, parts[3] (if non-NULL) receives the
 * three index lists (malloc'ed, sizes in counts[3]; the caller frees them),
 * and a NULL parts makes --split without --part an error. file_end (n,),
 * if non-NULL, receives the frame count after each file (before dedup and
 * split). Reports errors itself and returns CLI_ERROR. */
int cli_load_frames(const cli_frames_opts *o, char **files, size_t n,
                    mlshift_frames **fr, size_t *parts[3], size_t counts[3],
                    size_t *file_end);

/* One frame of a stream: f (valid during the call), s its position among
 * the frames streamed (after --dedup) and name "FILE: frame K" (K its index
 * in that file) for messages. Returns CLI_OK to go on, or CLI_ERROR having
 * reported, which stops the stream. */
typedef int (*cli_frame_fn)(void *ctx, const mlshift_frame *f, size_t s,
                            const char *name);

/* The frames of files[0..n), after --dedup, through fn one at a time,
 * holding a chunk of frames rather than all of them (mlshift_reader); the
 * dedup set holds the distinct keys. A --split shuffles indices over every
 * frame before the first is used, so with --split (and --part) the frames
 * are loaded with cli_load_frames and then handed out. *count (if
 * non-NULL) receives the frames streamed. Reports errors; CLI_OK or
 * CLI_ERROR. */
int cli_stream_frames(const cli_frames_opts *o, char **files, size_t n,
                      cli_frame_fn fn, void *ctx, size_t *count);

/* "FILE: frame K" for frame s of a set cli_load_frames returned: the file
 * it was read from and its index there (0-based), through --dedup and
 * --split; "frame s" for any other set. A static buffer: use it at once. */
const char *cli_frame_name(const mlshift_frames *fr, size_t s);

/* Copies s into buf (cap bytes, NUL-terminated, truncated) with control
 * bytes and bytes >= 0x7f written as \xHH, so text from a bad file cannot
 * drive the terminal. Returns buf. */
char *cli_escape(const char *s, char *buf, size_t cap);

/* Per-structure mean force norm (1/N) Σ_i |F_i| (eV/Å) of every frame of
 * fr from the prior SPEC's forces, into norms (n,), with progress on a
 * terminal. Reports errors and returns CLI_ERROR. */
int cli_prior_force_norms(const char *spec, const mlshift_frames *fr,
                          double *norms, int quiet);

/* The same frame by frame: a prior and a forces buffer grown to the
 * largest frame. cli_prior_norm reports "NAME: why" on failure. */
typedef struct cli_prior_norms {
    mlshift_prior *prior;
    double *forces;
    size_t cap;
} cli_prior_norms;
int cli_prior_norms_open(cli_prior_norms *p, const char *spec);
int cli_prior_norm(cli_prior_norms *p, const mlshift_frame *f, const char *name,
                   double *norm);
void cli_prior_norms_close(cli_prior_norms *p);

/* JSON output: a number (%.17g; NaN and ±Inf as null) and a string
 * (quotes, backslashes and control bytes escaped). */
void cli_json_num(FILE *fp, double v);
void cli_json_string(FILE *fp, const char *s);

/* Seconds on a monotonic clock (progress, rates, ETA). */
double cli_now(void);

/* Subcommands. */
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_refine_radius(int argc, char **argv);
int cmd_label(int argc, char **argv);
int cmd_sgdml(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_ttt(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_md(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_relax(int argc, char **argv);
int cmd_pes(int argc, char **argv);
int cmd_jobs(int argc, char **argv);

#endif /* MLSHIFT_CLI_H */

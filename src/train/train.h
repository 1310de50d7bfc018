/* SPDX-License-Identifier: MIT */
/* Training with priors and test-time training (paper §4.2, eqs 6–8).
 *
 * Size letters: n frames of a data set, B structures of a batch, N atoms,
 * P scalars in the model's parameters.
 *
 * A data set is a list of frames with labels for each head: the main head
 * h_M learns the reference labels, the prior head h_P the prior's. The loss
 * of eq. 6, per head h with labels (E^h, F^h) and weights λ_E, λ_F:
 *
 *   L_h = λ_E/B Σ_b ((E_b − E_b^h)/N_b)² / σ_h²  +  λ_F · L_F / σ_h²
 *   L_F = 1/(3N) Σ_i |F_i − F_i^h|²      (mean squared error, default)
 *       = 1/N Σ_i ‖F_i − F_i^h‖ · σ_h    (the authors' L2MAE, --l2mae)
 *
 * with σ_h the head's `scale` (the RMS force component of its labels, set
 * by ms_fit_head), so both terms are dimensionless and one learning rate
 * serves every data set. With center_energy the energy term uses
 * ΔE_b − mean_b ΔE: TTT adapts one molecule whose per-element reference
 * energies the training compositions left undetermined, and a constant
 * offset must not drive the representation.
 *
 * Modes (which groups learn, which head's loss):
 *   pretrain  g_R + h_P on prior labels     (TTT, REP, PRIOR)
 *   finetune  h_M on reference labels       (MAIN), h_M starting as a copy of h_P
 *   joint     L_P + L_M                     (all groups)
 *   plain     g_R + h_M on reference labels (TTT, REP, MAIN): the baseline
 * TTT updates the TTT subset of g_R on the prior loss, everything else
 * frozen (eq. 7); the main head then predicts (eq. 8). */
#ifndef MLSHIFT_TRAIN_H
#define MLSHIFT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"
#include "model/model.h"
#include "train/optim.h"

/* ------------------------------------------------------------ data sets */

typedef struct ms_dataset {
    size_t n;               /* frames */
    mlshift_frame *f;       /* (n,) views into the caller's frames */
    size_t *off;            /* (n + 1,) first atom of each frame */
    double *E[2];           /* per head (ms_head): (n,) eV, or NULL */
    double *F[2];           /* per head: (off[n], 3) eV/Å, or NULL */
} ms_dataset;

/* Views of frames[0..n) (positions stay the caller's); the frames' own
 * energies and forces, where every frame has them, become the main head's
 * labels. */
mlshift_status ms_dataset_init(ms_dataset *d, const mlshift_frames *fr, const size_t *idx,
                               size_t n, mlshift_error *err);
/* Copies labels for head: E (n,) eV and F (off[n], 3) eV/Å (either NULL). */
mlshift_status ms_dataset_set_labels(ms_dataset *d, ms_head head, const double *E,
                                     const double *F, mlshift_error *err);
void ms_dataset_free(ms_dataset *d);

/* Per-element reference energies of head by least squares on its energy
 * labels (minimum-norm when the compositions leave them undetermined,
 * LAPACK dgelsd) into `<head>.atom_ref`; `shift` the mean per-atom residual;
 * `scale` the RMS force component of the labels (the std of the per-atom
 * residual energy without forces). *underdetermined receives the rank
 * deficit (0: every element fixed). */
mlshift_status ms_fit_head(ms_model *m, const ms_dataset *d, ms_head head,
                           int *underdetermined, mlshift_error *err);

/* ------------------------------------------------------------------ loss */

typedef struct ms_loss_config {
    double w_e[2], w_f[2];  /* λ_E, λ_F per head; a head with both 0 is skipped */
    int l2mae;              /* force term: mean over atoms of ‖ΔF_i‖ */
    int center_energy;      /* energy term on ΔE_b − mean ΔE */
} ms_loss_config;

typedef struct ms_loss_parts {
    double loss;            /* Σ_h L_h */
    double head[2];         /* L_h */
    double f_mse[2];        /* (eV/Å)², 1/(3N) Σ |ΔF|² of each evaluated head */
    double f_mae[2];        /* eV/Å, 1/(3N) Σ |ΔF| */
    double e_mae[2];        /* eV per structure, 1/B Σ |ΔE_b| */
} ms_loss_parts;

/* A workspace for losses: the model's graph and batch plus frame views.
 *
 * A batch may be computed in parts, each part's loss normalised by the
 * whole batch (its atoms and structures) so that the parts add up to the
 * batch's loss and gradient (to rounding): `chunk` bounds the structures
 * of a part (memory: the arena holds one part's graph), `threads` computes
 * that many parts at once, each thread in its own workspace. A centred
 * energy term (TTT) needs the batch mean of the residuals; with parts it is
 * computed first by an energy-only pass and enters each part as a
 * constant, which leaves the gradient exact: d/dμ Σ_b (ΔE_b − μ)² = 0 at
 * the mean. Set the fields after ms_loss_ws_init; the graph's dtype is
 * that of mws.g. */
typedef struct ms_loss_ws {
    ms_model_ws mws;
    mlshift_frame *fb;      /* (cap,) the batch's frames */
    size_t cap;
    int threads;            /* parts computed at once (default 1) */
    size_t chunk;           /* structures per part at most; 0: the batch with one
                               thread, else two parts per thread */
    struct ms_loss_ws *sub; /* (nsub) the other threads' workspaces */
    int nsub;
    double *gsub;           /* (parts, P) the parts' gradients (threads > 1) */
    size_t gsub_cap;
    void *slot;             /* (parts) the parts' results (loss.c) */
    size_t slot_cap;
} ms_loss_ws;
void ms_loss_ws_init(ms_loss_ws *ws);
void ms_loss_ws_free(ms_loss_ws *ws);

/* The loss of the frames d[idx[0..B)] at r_cut (≤ 0: the model's) and, if
 * grad (P,) is non-NULL, its gradient *added* into grad (frozen and
 * non-trainable parameters get nothing). */
mlshift_status ms_loss_grad(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                            const size_t *idx, size_t B, double r_cut,
                            const ms_loss_config *c, ms_loss_parts *out, double *grad,
                            mlshift_error *err);
/* The same loss over all of d in batches of `batch` (no gradient); the
 * parts are averaged over frames (f_mse, f_mae weighted by atoms). */
mlshift_status ms_loss_eval(ms_loss_ws *ws, const ms_model *m, const ms_dataset *d,
                            size_t batch, double r_cut, const ms_loss_config *c,
                            ms_loss_parts *out, mlshift_error *err);

/* --------------------------------------------------------------- trainer */

typedef enum ms_train_mode {
    MS_MODE_PRETRAIN = 0,
    MS_MODE_FINETUNE = 1,
    MS_MODE_JOINT = 2,
    MS_MODE_PLAIN = 3
} ms_train_mode;
const char *ms_train_mode_name(ms_train_mode mode);
/* Groups that learn in mode (bits 1 << ms_group) and the loss weights. */
unsigned ms_train_groups(ms_train_mode mode);

/* One line of progress: called after every step (epoch_end 0) and after
 * every epoch's validation (epoch_end 1). */
typedef struct ms_train_event {
    int epoch_end;
    int epoch, epochs;
    size_t step, steps_total;       /* global step (1-based), planned total */
    size_t step_in_epoch, steps_per_epoch;
    double loss, lr, grad_norm;     /* this step */
    ms_loss_parts train;            /* this step's parts */
    int have_val;
    ms_loss_parts val;              /* epoch_end: validation */
    double seconds;                 /* since the start of this run */
    size_t frames_done;             /* frames processed in this run */
} ms_train_event;
typedef void (*ms_train_progress_fn)(const ms_train_event *ev, void *ctx);

/* Data parallelism over processes (cli/mpi.c, docs/mpi.md). Every rank
 * holds the same model and data and takes a contiguous shard of every
 * batch, its loss weights scaled by its share of the batch's structures
 * (energy term) and atoms (force term), so that the shards' losses and
 * gradients sum to the whole batch's; allreduce_sum then sums, in place,
 * the gradient (P,) followed by the step's loss parts, one call per step,
 * and every rank takes the same optimiser step. Needs a loss without
 * center_energy (it couples the structures of a batch). */
typedef struct ms_train_parallel {
    int rank, size;
    int (*allreduce_sum)(void *ctx, double *x, size_t n);  /* nonzero: failed */
    void *ctx;
} ms_train_parallel;

typedef struct ms_train_config {
    ms_train_mode mode;
    ms_optim_config opt;
    int epochs;
    size_t batch;
    uint64_t seed;
    double w_e, w_f;            /* λ_E, λ_F of every trained head */
    int l2mae;
    double r_cut;               /* Å; ≤ 0: the model's training cutoff */
    int plateau_patience;       /* epochs; 0: no ReduceLROnPlateau */
    double plateau_factor, min_lr;
    int early_stop;             /* epochs without a better validation loss; 0: off */
    size_t checkpoint_every;    /* steps between checkpoints; 0: end of each epoch */
    const char *checkpoint;     /* path, or NULL for none */
    size_t stop_after;          /* stop after this many steps of this run (tests); 0: off */
    int copy_prior_head;        /* finetune: h_M starts as a copy of h_P (default 1) */
    ms_dtype dtype;             /* arithmetic of the steps (default MS_F32; weights stay double) */
    int threads;                /* parts of a batch at once (ms_loss_ws; ≤ 1: one) */
    size_t chunk;               /* structures per part at most (memory); 0: batch / threads */
    ms_train_progress_fn progress;
    void *progress_ctx;
    const ms_train_parallel *parallel;  /* NULL: one process (issue 11, MPI) */
} ms_train_config;

void ms_train_config_default(ms_train_config *c, ms_train_mode mode);

typedef struct ms_train_report {
    size_t steps;               /* global steps taken */
    int epochs;                 /* epochs completed */
    int stopped_early;          /* early stopping ended the run */
    int interrupted;            /* stop_after ended the run */
    int weights;                /* 0 last, 1 EMA, 2 best validation */
    int have_val;
    ms_loss_parts val;          /* of the returned weights */
    int underdetermined[2];     /* rank deficit of each fitted head's atom_ref */
    double seconds;
} ms_train_report;

/* Trains m in place on train (validation on val, may be NULL). With resume
 * (a checkpoint written by the same configuration) the run continues
 * where it stopped, bit-identical to an uninterrupted run. */
mlshift_status ms_train(ms_model *m, const ms_dataset *train, const ms_dataset *val,
                        const ms_train_config *c, const char *resume,
                        ms_train_report *rep, mlshift_error *err);

/* ------------------------------------------------------------ checkpoints */

/* A checkpoint: magic "MLSHIFTC", u32 version, u32 section count, then per
 * section str name + u64 length + bytes, then CRC-32 of all before; written
 * atomically. Sections: "model" (a model file), "optim", "trainer", "best". */
typedef struct ms_section {
    char name[32];
    const unsigned char *data;
    size_t len;
} ms_section;
mlshift_status ms_sections_write(const char *path, const char *magic, uint32_t version,
                                 const ms_section *s, size_t n, mlshift_error *err);
/* Parses a sectioned file held in memory; s (cap,) receives views into data. */
mlshift_status ms_sections_parse(const unsigned char *data, size_t len, const char *where,
                                 const char *magic, uint32_t version, ms_section *s,
                                 size_t cap, size_t *n, mlshift_error *err);
const ms_section *ms_section_find(const ms_section *s, size_t n, const char *name);

/* ------------------------------------------------------------------- TTT */

typedef struct ms_ttt_event {
    size_t step, steps;
    double prior_loss;          /* this batch */
    double prior_loss_avg;      /* running average (the stop rules use it) */
    double prior_f_mse;         /* (eV/Å)² this batch */
    double lr;
    int have_main;              /* main-task MAE measured at this step */
    double main_f_mae, main_e_mae;
} ms_ttt_event;
typedef void (*ms_ttt_progress_fn)(const ms_ttt_event *ev, void *ctx);

typedef struct ms_ttt_config {
    ms_optim_config opt;        /* the paper's MD17: SGD lr 1e-3, momentum 0.9, wd 1e-3 */
    size_t steps, batch;
    uint64_t seed;
    double w_e, w_f;
    int l2mae;
    double r_cut;               /* ≤ 0: the model's */
    size_t patience;            /* steps without a better running prior loss; 0: off */
    double target_f_mse;        /* stop when the running prior force MSE reaches it; ≤ 0: off */
    size_t eval_every;          /* main-task MAE every so many steps (labelled frames); 0: off */
    size_t eval_frames;         /* at most this many frames for it */
    ms_dtype dtype;             /* arithmetic of the steps (default MS_F32; weights stay double) */
    int threads;                /* parts of a batch at once (ms_loss_ws; ≤ 1: one) */
    size_t chunk;               /* structures per part at most (memory); 0: batch / threads */
    ms_ttt_progress_fn progress;
    void *progress_ctx;
} ms_ttt_config;

void ms_ttt_config_default(ms_ttt_config *c);

typedef struct ms_ttt_report {
    size_t steps;
    int stop_reason;            /* 0 all steps, 1 patience, 2 reached the in-distribution loss */
    double prior_before, prior_after;   /* prior loss over the set */
    double prior_f_mae_before, prior_f_mae_after;
    int have_main;
    double main_f_mae_before, main_f_mae_after;  /* eV/Å */
    double main_e_mae_before, main_e_mae_after;  /* eV per structure */
    double seconds;
} ms_ttt_report;

/* Adapts m's TTT subset to the frames of d (prior labels required; main
 * labels, if present, are only measured). */
mlshift_status ms_ttt(ms_model *m, const ms_dataset *d, const ms_ttt_config *c,
                      ms_ttt_report *rep, mlshift_error *err);
/* Chooses TTT's learning rate from candidates lr (k,) by `probe` steps of
 * each from the same start, keeping the lowest prior loss on a fixed set of
 * frames; no reference label is read. */
mlshift_status ms_ttt_probe_lr(const ms_model *m, const ms_dataset *d,
                               const ms_ttt_config *c, const double *lr, size_t k,
                               size_t probe, double *best, double *losses,
                               mlshift_error *err);

#endif /* MLSHIFT_TRAIN_H */

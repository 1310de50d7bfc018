/* SPDX-License-Identifier: MIT */
/* Optimisers for the trainer and TTT: SGD with momentum, Adam, AdamW (each
 * optionally amsgrad), global-norm gradient clipping, an exponential moving
 * average of the weights, and ReduceLROnPlateau. Every rule is the one of
 * torch.optim (single-tensor path, the CPU default) on float64, so a PyTorch twin agrees
 * to rounding (tests/reference/test_optim_torch.py checks 1e-12).
 *
 * Size letter: P, the number of scalar parameters (one flat array; the
 * model's tensors are views into it). All optimiser state is one allocation
 * with named pointers into it, so a checkpoint is one copy.
 *
 * One step on the selected entries S = {i : mask[i] != 0} (mask NULL = all),
 * with g the gradient, θ the weights, t the step count after increment:
 *
 *   clip    n = ‖g_S‖₂ (returned);  if clip_norm > 0 and
 *           c = clip_norm/(n + 1e-6) < 1:  g ← c·g        (clip_grad_norm_)
 *   SGD     d = g + wd·θ;  m ← μ·m + d  (m₁ = d);  θ ← θ − lr·m   (μ = 0: θ ← θ − lr·d)
 *   Adam    d = g + wd·θ;  m ← β₁m + (1−β₁)d;  v ← β₂v + (1−β₂)d²
 *           (amsgrad: v̂ ← max(v̂, v), used in place of v)
 *           θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε)
 *   AdamW   θ ← θ(1 − lr·wd), then Adam with d = g (decoupled decay)
 *   EMA     d_t = min(decay, (1+t)/(10+t));  e ← e − (1−d_t)(e − θ)
 *           (= d_t·e + (1−d_t)·θ: the OCP/authors' ExponentialMovingAverage
 *           with use_num_updates, written in their form)
 *
 * The frozen-mask guarantee: an entry with mask 0 is never read or written
 * in θ, g, m, v, v̂ or the EMA; it stays bit-identical, state included, and
 * does not count in the clipping norm. So a frozen group never moves, not
 * through momentum and not through weight decay. The step counter t is
 * global (one per optimiser, as torch's is per parameter group that steps).
 *
 * The library never prints or exits: a bad configuration is an error that
 * names the field. */
#ifndef MLSHIFT_OPTIM_H
#define MLSHIFT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"

typedef enum ms_opt_kind { MS_OPT_SGD = 0, MS_OPT_ADAM = 1, MS_OPT_ADAMW = 2 } ms_opt_kind;

typedef struct ms_optim_config {
    ms_opt_kind kind;
    double lr;                 /* learning rate, > 0 */
    double momentum;           /* SGD (torch.optim.SGD, dampening 0, nesterov 0), >= 0 */
    double beta1, beta2, eps;  /* Adam/AdamW (defaults 0.9, 0.999, 1e-8); betas in [0,1), eps >= 0 */
    int amsgrad;               /* Adam/AdamW: 0 or 1 (ignored by SGD) */
    double weight_decay;       /* >= 0; SGD/Adam: L2 added to the gradient (torch semantics);
                                * AdamW: decoupled θ ← θ(1 − lr·wd) */
    double clip_norm;          /* > 0: clip the global L2 norm of the updated entries'
                                * gradient to clip_norm as torch.nn.utils.clip_grad_norm_; 0: off */
    double ema_decay;          /* in (0,1): keep an EMA of the weights with warm-up; 0: off */
} ms_optim_config;

/* lr 1e-3, momentum 0, betas 0.9/0.999, eps 1e-8, amsgrad 0, no weight
 * decay, clipping or EMA (all fields set whatever the kind). */
void ms_optim_config_default(ms_optim_config *c, ms_opt_kind kind);
/* "sgd", "adam", "adamw" -> the kind, or -1 for any other name. */
int ms_opt_kind_parse(const char *name);

typedef struct ms_optim {
    ms_optim_config c;
    size_t P;           /* scalars */
    uint64_t t;         /* steps taken */
    double *state;      /* one allocation: all the arrays below point into it */
    double *m;          /* (P) SGD momentum buffer or Adam first moment */
    double *v;          /* (P) Adam second moment (NULL for SGD) */
    double *vmax;       /* (P) amsgrad max (NULL unless Adam/AdamW with amsgrad) */
    double *ema;        /* (P) EMA of the weights (NULL unless ema_decay > 0) */
    size_t n_state;     /* doubles in state */
} ms_optim;

/* Validates c (a bad value is MLSHIFT_ERR_VALUE naming the field, e.g.
 * "optimizer: lr must be > 0 (got -1)"), allocates zeroed state and copies
 * theta (P) into the EMA; theta may be NULL when ema_decay is 0. On error
 * *o is left empty (ms_optim_free is safe). */
mlshift_status ms_optim_init(ms_optim *o, const ms_optim_config *c, size_t P,
                             const double *theta, mlshift_error *err);
void ms_optim_free(ms_optim *o);

/* One step on the entries i with mask[i] != 0 (mask NULL = all): clip,
 * weight decay, moments, update of theta (P), then the EMA. grad (P) may be
 * modified (clipped, masked entries only); weight decay is not written into
 * it. Returns the pre-clip L2 norm of the masked gradient. */
double ms_optim_step(ms_optim *o, double *theta, double *grad, const unsigned char *mask);

/* Sets the learning rate (for schedules). */
void ms_optim_set_lr(ms_optim *o, double lr);

/* Swaps the EMA and theta (P) on the masked entries (mask NULL = all):
 * call once to evaluate or save with the EMA weights, again to go back.
 * Does nothing without an EMA. */
void ms_optim_swap_ema(ms_optim *o, double *theta, const unsigned char *mask);

/* Serialised state for checkpoints, little-endian:
 *   magic "MSOPTIM1" (8), u32 version (1), u32 kind, u32 amsgrad,
 *   f64 lr, momentum, beta1, beta2, eps, weight_decay, clip_norm, ema_decay,
 *   u64 t, u64 P, u64 n_state, f64 × n_state (m, v, vmax, ema in that
 *   order, those present), u32 CRC-32 (zlib) of every byte before it.
 * ms_optim_restore needs an optimiser initialised with the same kind, P and
 * the same arrays present; it restores t, the state and the config (the lr
 * a schedule reached included), bit for bit. */
size_t ms_optim_state_bytes(const ms_optim *o);
mlshift_status ms_optim_save(const ms_optim *o, unsigned char *buf /* state_bytes */);
mlshift_status ms_optim_restore(ms_optim *o, const unsigned char *buf, size_t len,
                                mlshift_error *err);

/* ReduceLROnPlateau exactly as torch.optim.lr_scheduler.ReduceLROnPlateau
 * with mode "min", threshold_mode "rel", threshold 1e-4, cooldown 0, eps 1e-8:
 *   better  metric < best·(1 − threshold)  → best = metric, num_bad = 0
 *   else    num_bad += 1
 *   num_bad > patience → lr' = max(lr·factor, min_lr), taken only if
 *           lr − lr' > 1e-8; num_bad = 0
 * (best starts at +inf; a NaN metric is never better.) */
typedef struct ms_plateau {
    double factor;      /* multiplier on reduction, in (0,1) */
    int patience;       /* bad steps tolerated before a reduction */
    double threshold;   /* relative improvement that counts (1e-4) */
    double min_lr;      /* floor of the learning rate */
    double best;        /* best metric so far (+inf at start) */
    int num_bad;        /* consecutive steps without improvement */
} ms_plateau;
void ms_plateau_init(ms_plateau *p, double factor, int patience, double min_lr);
/* Feeds a metric; returns the new learning rate (maybe reduced from lr). */
double ms_plateau_step(ms_plateau *p, double metric, double lr);

#endif /* MLSHIFT_OPTIM_H */

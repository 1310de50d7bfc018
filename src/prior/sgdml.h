/* SPDX-License-Identifier: MIT */
/* sGDML inside the library: the model (training descriptors and their
 * descriptor-space coefficients), the predictor with its workspace, the two
 * model files (ours, and the 2018 sGDML .npz), the permutational symmetries
 * and training. Not part of the public API; docs/priors-sgdml.md derives the
 * formulas.
 *
 * Size letters: N atoms, D = N(N−1)/2 descriptor entries (pairs i > j in
 * tril order), M training points, P permutations, Q = M·P permuted points.
 * Units inside: Å and kcal/mol (the MD17 and sGDML convention); the prior
 * interface converts to eV. */
#ifndef MLSHIFT_SGDML_H
#define MLSHIFT_SGDML_H

#include <stddef.h>
#include <stdint.h>

#include "mlshift.h"

#define MS_SGDML_MAGIC "MLSGDML\n"  /* 8 bytes */
#define MS_SGDML_VERSION 1u
#define MS_SGDML_MAX_PERMS 1024

typedef struct ms_sgdml_model {
    int n;              /* N atoms */
    int d;              /* D = N(N−1)/2 */
    int m;              /* M training points */
    int p;              /* P permutations (the identity first) */
    int *z;             /* (N,) atomic numbers */
    int *perms;         /* (P, N) atom permutations, 0-based */
    double sigma;       /* Matérn length scale (descriptor units, 1/Å) */
    double c;           /* energy integration constant, kcal/mol */
    double y_std;       /* force label scale, kcal/mol/Å */
    double *x;          /* (M, D) training descriptors, 1/Å */
    double *w;          /* (M, D) J_b α_b: the coefficients in descriptor
                           space, with the sign convention of
                           F = y_std Jᵀ Σ c0 e^{−u}[(1+u) w − 5/σ² (d·w) d] */
} ms_sgdml_model;

void ms_sgdml_model_free(ms_sgdml_model *mo);
/* Allocates z, perms, x, w for the sizes already set in mo. */
mlshift_status ms_sgdml_model_alloc(ms_sgdml_model *mo, mlshift_error *err);
/* Checks sizes, finite values, perms are permutations preserving z. */
mlshift_status ms_sgdml_model_check(const ms_sgdml_model *mo, const char *name,
                                    mlshift_error *err);

/* Reads either kind of file: ours (magic MS_SGDML_MAGIC) or an sGDML npz
 * (2018 keys Rt_desc / Rt_d_desc_alpha, or later R_desc / R_d_desc_alpha
 * with std). */
mlshift_status ms_sgdml_load(ms_sgdml_model *mo, const char *path,
                             mlshift_error *err);
mlshift_status ms_sgdml_load_npz(ms_sgdml_model *mo, const char *path,
                                 mlshift_error *err);
/* Either kind of file held in memory (len bytes); name labels errors. */
mlshift_status ms_sgdml_parse(ms_sgdml_model *mo, const unsigned char *data,
                              size_t len, const char *name,
                              mlshift_error *err);
/* Our versioned file, written atomically. */
mlshift_status ms_sgdml_save(const ms_sgdml_model *mo, const char *path,
                             mlshift_error *err);

/* Descriptor x (D,) = 1/|r_i − r_j| and the pair vectors rd (D, 3) =
 * (r_i − r_j)/|r_i − r_j|³, so ∂x_k/∂r_i = −rd_k, ∂x_k/∂r_j = +rd_k.
 * Returns 0, or −1 when two atoms coincide or a coordinate is not finite. */
int ms_sgdml_desc(int n, const double *r, double *x, double *rd);
/* g (N, 3) += Jᵀ v for v (D,), with rd from ms_sgdml_desc. */
void ms_sgdml_jt(int n, const double *rd, const double *v, double *g);
/* Descriptor permutation tables from atom permutations: pi (P, D) with
 * (P_p x)_k = x[pi[p·D + k]]. */
void ms_sgdml_desc_perms(int n, int p, const int *perms, int *pi);

/* The predictor: the permuted training set expanded once (xp, wp) and a
 * workspace, so a call allocates nothing. */
typedef struct ms_sgdml_pred {
    const ms_sgdml_model *mo;
    size_t q;           /* Q = M·P */
    double *xp;         /* (Q, D) P_p x_b, row b·P + p */
    double *xc;         /* (Q, D) P_p x_b − x̄ (centred; xp, xc, wp are one
                           block, so [xc; wp] is one (2Q, D) matrix) */
    double *wp;         /* (Q, D) P_p w_b */
    double *dw0;        /* (Q,) (P_p x_b − x̄)·(P_p w_b) */
    double *xx;         /* (Q,) |P_p x_b − x̄|² */
    double *xq;         /* (D,) query descriptor */
    double *rd;         /* (D, 3) query pair vectors */
    double *s;          /* (2Q,) scratch: xp·x then wp·x, then coefficients */
    double *v;          /* (D,) descriptor-space force */
    double *xm;         /* (D,) x̄, the mean of the rows of xp */
} ms_sgdml_pred;

mlshift_status ms_sgdml_pred_init(ms_sgdml_pred *pr, const ms_sgdml_model *mo,
                                  mlshift_error *err);
void ms_sgdml_pred_free(ms_sgdml_pred *pr);
/* Energy (kcal/mol) and forces f (N, 3) kcal/mol/Å (or NULL) at positions
 * r (N, 3) Å, through BLAS over the training set. Returns 0, or −1 for a
 * degenerate geometry. */
int ms_sgdml_predict(ms_sgdml_pred *pr, const double *r, double *e, double *f);
/* The plain reference: the same formulas, one training point and
 * permutation at a time, the difference d formed explicitly. */
int ms_sgdml_predict_ref(ms_sgdml_pred *pr, const double *r, double *e,
                         double *f);

/* ------------------------------------------------------------- training */

/* Permutations: automorphisms of the element-labelled bonded graph of the
 * geometry r (N, 3) (bond: distance < 1.25·(rcov_i + rcov_j)); identity
 * first. perms (maxp, N); *np the count. More than maxp: an error. */
mlshift_status ms_sgdml_graph_perms(int n, const int *z, const double *r,
                                    int *perms, int maxp, int *np,
                                    mlshift_error *err);

/* Stratified sampling on energy as sGDML does (Freedman–Diaconis bins, at
 * most n_take/2 of them; counts per bin proportional to the bin's share):
 * picks n_take distinct indices of e (n,) that are not excluded (excl (n,)
 * nonzero, or NULL) into idx, sorted. *rng is a splitmix64 state. */
mlshift_status ms_sgdml_sample(const double *e, size_t n,
                               const unsigned char *excl, size_t n_take,
                               uint64_t *rng, size_t *idx, mlshift_error *err);

typedef struct ms_sgdml_train_opts {
    size_t samples;         /* M training points */
    size_t val;             /* validation points (0: none, σ = first grid) */
    const double *sigmas;   /* (nsig,) σ grid */
    size_t nsig;
    uint64_t seed;
    double lambda;          /* regulariser, 1e-10 if 0 */
    double max_memory;      /* bytes; 0: physical memory */
    int no_perms;           /* identity only */
    int full_grid;          /* 1: every σ of the grid on all M points; 0
                               (default): the grid on half the points, then
                               a walk to the nearest minimum on all M
                               (docs/priors-sgdml.md, "Choosing σ") */
} ms_sgdml_train_opts;

typedef struct ms_sgdml_train_report {
    size_t n_frames;
    double sigma;           /* chosen σ */
    double val_rmse[64];    /* (nsig,) validation force RMSE of the model
                               on all M points, kcal/mol/Å; NaN for a σ the
                               search did not train on all M (or not
                               positive definite) */
    double val_rmse_sub[64];/* (nsig,) the same on the half-size subset
                               (NaN without the subset stage) */
    size_t sub_samples;     /* points of the subset stage (0: none) */
    int full_solves;        /* Cholesky solves on all M points */
    double train_seconds;
    int nperms;
} ms_sgdml_train_report;

/* Trains on frames (eV, eV/Å; converted to kcal/mol inside): every frame
 * must have the same atoms in the same order, energies and forces. */
mlshift_status ms_sgdml_train(const mlshift_frames *fr,
                              const ms_sgdml_train_opts *opt,
                              ms_sgdml_model *mo, ms_sgdml_train_report *rep,
                              mlshift_error *err);

#endif /* MLSHIFT_SGDML_H */

/* SPDX-License-Identifier: MIT */
/* The machine-learning potentials: PaiNN (the default) and SchNet on the
 * differentiation core of src/nn, with the paper's split into a shared
 * representation and two heads (A.1.1.1).
 *
 * Size letters: N atoms (of a batch), E edges, S elements the model knows,
 * F features, K radial basis functions, T blocks, B structures, P scalars in
 * all parameters together.
 *
 * Blocks t = 0 … T−1 (for PaiNN a message + an update; for SchNet an
 * interaction). The representation g_R is the embedding and blocks
 * [0, k); the main head h_M and the prior head h_P are separate copies of
 * blocks [k, T) and of the readout (per-element reference energies, scale,
 * shift). The TTT subset is the embedding and blocks [0, j), j ≤ k (the
 * paper's "everything before the second interaction layer" is j = 1).
 * With readout_every, block t < T−1 also has its own readout MLP r_t, in
 * block t's group (so a shared block's readout is shared and TTT adapts
 * the TTT blocks' readouts), and a head's energy sums them with its own:
 * E = scale·(Σ_{t<T−1} Σ_i r_t(s_i^t) + Σ_i r(s_i^{T−1})) + offsets, as
 * GemNet sums its output blocks.
 * Every parameter tensor has a name and belongs to exactly one group:
 *   MS_GROUP_TTT   the TTT subset (part of g_R)
 *   MS_GROUP_REP   the rest of g_R
 *   MS_GROUP_MAIN  h_M
 *   MS_GROUP_PRIOR h_P
 * so g_R = TTT ∪ REP. Groups can be frozen.
 *
 * Cutoffs: the radial basis sin(nπd/r_b)/d lives in absolute Å with the
 * training cutoff r_b stored in the model; only the p = 5 envelope
 * u(d/r_c) takes the run-time cutoff r_c (radius refinement changes the
 * graph and the envelope, nothing else). Energies in eV, positions in Å,
 * forces in eV/Å. Derivations in docs/models.md. */
#ifndef MLSHIFT_MODEL_H
#define MLSHIFT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "graph/neighbours.h"
#include "mlshift.h"
#include "nn/ops.h"

#define MS_MODEL_MAXEL 118      /* at most this many elements in a model */
#define MS_PARAM_NAME 64        /* bytes of a parameter name, NUL included */

typedef enum ms_arch { MS_ARCH_PAINN = 0, MS_ARCH_SCHNET = 1 } ms_arch;
typedef enum ms_group {
    MS_GROUP_TTT = 0,
    MS_GROUP_REP = 1,
    MS_GROUP_MAIN = 2,
    MS_GROUP_PRIOR = 3,
    MS_NGROUPS = 4
} ms_group;
typedef enum ms_head { MS_HEAD_MAIN = 0, MS_HEAD_PRIOR = 1 } ms_head;

/* Group masks for freezing: bit (1 << group). */
#define MS_GROUPS_REPR ((1u << MS_GROUP_TTT) | (1u << MS_GROUP_REP))

/* Hyper-parameters: everything that fixes the parameter shapes and the
 * function the model computes. */
typedef struct ms_model_hyper {
    ms_arch arch;
    int F;              /* features (default 128) */
    int K;              /* radial basis functions (default 20) */
    int T;              /* blocks (default 3) */
    int k_rep;          /* blocks in the representation, 0..T (default T−1) */
    int j_ttt;          /* blocks in the TTT subset, 0..k_rep (default 1) */
    int readout_every;  /* 0: one readout after the last block (default);
                           1: also one after each earlier block, all summed
                           (GemNet's output blocks, reference-notes §1.3) */
    double r_basis;     /* Å: training cutoff, fixes the radial basis */
    double norm_eps;    /* PaiNN: ‖v‖ = √(Σ v² + eps) (default 1e-8) */
} ms_model_hyper;

/* One named parameter tensor; its data is theta[off, off + numel). */
typedef struct ms_param {
    char name[MS_PARAM_NAME];
    int group;          /* ms_group */
    int trainable;      /* 0: a statistic set from data (atom_ref, scale, shift) */
    int frozen;         /* 1: no gradient (set by ms_model_freeze) */
    int ndim;
    size_t shape[MS_MAXDIM];
    size_t off, numel;
} ms_param;

typedef struct ms_model {
    ms_model_hyper h;
    int n_el;                       /* S */
    int z[MS_MODEL_MAXEL];          /* (S,) atomic numbers, in the order given */
    int species[MS_MODEL_MAXEL + 1];/* Z -> species index, −1 if absent */
    size_t n_params;                /* parameter tensors */
    ms_param *param;                /* (n_params) */
    size_t P;                       /* scalars */
    double *theta;                  /* (P) all parameters, one allocation */
    unsigned char *stats;           /* training statistics blob (may be NULL) */
    size_t stats_len;               /* bytes */
    char *meta;                     /* training record, JSON text (may be NULL):
                                       configuration, data checksums, the
                                       in-distribution prior loss */
} ms_model;

/* Defaults for arch (F 128, K 20, T 3, k T−1, j 1, r_basis 5 Å). */
void ms_model_hyper_default(ms_model_hyper *h, ms_arch arch);
/* A model with seeded random weights (Glorot-uniform matrices, zero biases,
 * unit-variance embeddings, scale 1, shift 0, atom_ref 0). z (S,) distinct
 * atomic numbers. Checks the hyper-parameters. */
mlshift_status ms_model_create(ms_model **out, const ms_model_hyper *h, const int *z,
                               int n_el, uint64_t seed, mlshift_error *err);
/* The same, refusing hyper-parameters that need more than max_params
 * parameters before anything that size is allocated: a model file holds 8
 * bytes per parameter, so its length bounds the count, and a corrupt or
 * hostile header cannot ask for hundreds of GB. */
mlshift_status ms_model_create_at_most(ms_model **out, const ms_model_hyper *h,
                                       const int *z, int n_el, uint64_t seed,
                                       size_t max_params, mlshift_error *err);
void ms_model_destroy(ms_model *m);
/* Index of the parameter called name, or −1. */
long ms_model_find(const ms_model *m, const char *name);
/* Sets frozen = on for every parameter whose group is in mask
 * (bits 1 << ms_group). */
void ms_model_freeze(ms_model *m, unsigned mask, int on);
/* mask (P) = 1 for every scalar of a trainable, unfrozen parameter (what
 * a gradient step may move), 0 elsewhere; returns how many are 1. */
size_t ms_model_update_mask(const ms_model *m, unsigned char *mask);
/* The TTT subset becomes the embedding and blocks [0, j), 0 <= j <= k_rep:
 * the groups of the representation's blocks are reassigned, nothing else
 * changes. */
mlshift_status ms_model_set_ttt_blocks(ms_model *m, int j, mlshift_error *err);
/* Scalars in the parameters of a group. */
size_t ms_model_group_size(const ms_model *m, int group);
const char *ms_group_name(int group);       /* "ttt", "representation", … */
const char *ms_arch_name(ms_arch a);        /* "painn", "schnet" */
/* Replaces the training-statistics blob (copied). */
mlshift_status ms_model_set_stats(ms_model *m, const void *data, size_t len,
                                  mlshift_error *err);
/* Replaces the training record (copied; NULL clears it). */
mlshift_status ms_model_set_meta(ms_model *m, const char *json, mlshift_error *err);
/* A deep copy of m (parameters, statistics, record). */
mlshift_status ms_model_clone(ms_model **out, const ms_model *m, mlshift_error *err);

/* ------------------------------------------------------------- batches */

/* B structures concatenated into one graph at cutoff r_cut. The graph's
 * E directed edges come in P = E / 2 pairs: pair p is the edge
 * src[p] → dst[p] and its reverse dst[p] → src[p] (vector −r_p), which
 * share the distance and so every radial feature; the models compute
 * those once per pair and message along both edges. */
typedef struct ms_batch {
    size_t B, N, E, P;  /* structures, atoms, directed edges, pairs (E = 2P) */
    double r_cut;       /* Å */
    int periodic;       /* 1: some edge crosses a cell boundary */
    double *R;          /* (N, 3) Å, a copy of the positions (wrapped as a leaf) */
    int32_t *species;   /* (N,) index into the model's elements */
    int32_t *seg;       /* (N,) structure of each atom */
    int32_t *src, *dst; /* (P,) pair i -> j, vector r_p = r_j + S·cell − r_i */
    double *shift;      /* (P, 3) Å, S·cell (zero for molecules) */
    size_t cap_N, cap_P, cap_B;
    size_t *atom_off;   /* (B + 1,) first atom of each structure */
    mlshift_neighbours nl;  /* scratch */
} ms_batch;

/* Builds the batch of frames f[0..nf) at r_cut (Å, > 0). Reuses memory. */
mlshift_status ms_batch_build(ms_batch *b, const ms_model *m, const mlshift_frame *f,
                              size_t nf, double r_cut, mlshift_error *err);
void ms_batch_free(ms_batch *b);

/* -------------------------------------------------------- computation */

/* Graph leaves for every parameter (n_params), each made when
 * ms_model_leaf first asks for it: requires_grad when grad = 1 and the
 * parameter is trainable and not frozen; a leaf never asked for stays NULL
 * (no gradient). */
ms_t **ms_model_leaves(ms_graph *g, const ms_model *m, int grad);
/* Energies per structure (B, 1) eV of head for positions R (N, 3) Å (a leaf
 * or a tensor made from one), on the graph g: g_R then the head — less the
 * constant offsets of ms_model_energy_offset, which callers add. */
ms_t *ms_model_energy(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                      ms_t **leaf, ms_head head);

/* What g_R hands the heads: the edge features and the features after block
 * k_rep − 1 (or after the embedding). Computing it once serves both heads
 * (joint training, --head both). */
typedef struct ms_rep ms_rep;
/* The representation g_R: embedding and blocks [0, k_rep). */
void ms_model_represent(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                        ms_t **leaf, ms_rep *r);
/* Energies per structure (B, 1) eV of head from a representation, less
 * the offsets of ms_model_energy_offset: blocks [k_rep, T) of the head,
 * then its readout. */
ms_t *ms_model_head(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                    ms_head head, const ms_rep *r);
/* Advances r through blocks [t0, t1) with head's copies from k_rep on,
 * adding the per-block readouts of readout_every into r->e. */
void ms_model_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                     ms_head head, int t0, int t1, ms_rep *r);
/* The per-architecture pieces: embed fills r from R; blocks advances r
 * through blocks [t0, t1) with head's copies from k_rep on. */
void ms_painn_embed(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                    ms_t **leaf, ms_rep *r);
void ms_painn_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                     ms_head head, int t0, int t1, ms_rep *r);
void ms_schnet_embed(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                     ms_t **leaf, ms_rep *r);
void ms_schnet_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                      ms_head head, int t0, int t1, ms_rep *r);
/* The parameter tables (called by ms_model_create). */
/* The parameter layout every architecture shares: the element embedding
 * (TTT group), then for each block t the parameters `block` adds under the
 * prefix ms_block_group gives — once below k_rep (representation), once
 * per head from k_rep on — then the readout. */
typedef mlshift_status (*ms_block_params_fn)(ms_model *m, const char *prefix,
                                             int group, mlshift_error *err);
mlshift_status ms_model_stack_params(ms_model *m, ms_block_params_fn block,
                                     mlshift_error *err);
mlshift_status ms_painn_params(ms_model *m, mlshift_error *err);
mlshift_status ms_schnet_params(ms_model *m, mlshift_error *err);
/* For the forward passes: the leaf of the parameter named by fmt, …;
 * a missing name fails the graph. */
ms_t *ms_model_leaf(ms_graph *g, const ms_model *m, ms_t **leaf, const char *fmt,
                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Adds a parameter to the table (used by the *_params builders). */
mlshift_status ms_model_add_param(ms_model *m, int group, int trainable, int ndim,
                                  const size_t *shape, mlshift_error *err,
                                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

/* Shared layers (layers.c). */
/* One row per pair p of the batch (the reverse edge has −r, −dir and the
 * same d, rbf, env). */
typedef struct ms_edge_feats {
    ms_t *r;            /* (P, 3) Å, r_j + S·cell − r_i */
    ms_t *d;            /* (P, 1) Å */
    ms_t *dir;          /* (P, 3, 1) r / d */
    ms_t *rbf;          /* (P, K) sin(nπd/r_b)/d, 1/Å */
    ms_t *env;          /* (P, 1) p = 5 envelope of d / r_cut */
} ms_edge_feats;
void ms_model_edges(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                    ms_edge_feats *ef);
struct ms_rep {
    ms_edge_feats ef;
    ms_t *rbfe;         /* PaiNN: (P, K + 1) [rbf·env, env]; NULL for SchNet */
    ms_t *s;            /* (N, F) scalar features */
    ms_t *v;            /* PaiNN: (N, 3, F) vector features (NULL before block 0) */
    ms_t *e;            /* readout_every: (N, 1) Σ of the earlier blocks'
                           readouts so far, unscaled (NULL: none yet) */
};
/* The message over both edges of every pair (ms_batch):
 * m_i = Σ_{e = i→j} a_j ⊙ w_e, with w_e = w_p on the pair's edge i → j and
 * w_rev_p on its reverse (w_rev = w: a filter both edges share); a (N, …),
 * w and w_rev (P, …) of a's ndim, the non-row dims broadcast as in
 * gather_mul_scatter -> (N, …). Two gather_mul_scatter passes. */
ms_t *ms_pair_messages(ms_graph *g, const ms_batch *b, ms_t *a, ms_t *w, ms_t *w_rev);
/* x W + b (x (M, A), W (A, C), b (C)) */
ms_t *ms_linear(ms_graph *g, ms_t *x, ms_t *W, ms_t *b);
/* Readout parameters of both heads and the learned part of the
 * per-structure energies (B, 1), E_b − O_b = Σ_{i∈b} scale·(silu(s W1 + b1)
 * W2 + b2); the constant offset O_b = Σ_{i∈b} (shift + atom_ref[Z_i]) comes
 * from ms_model_energy_offset (B) in double (layers.c says why). */
mlshift_status ms_model_readout_params(ms_model *m, mlshift_error *err);
void ms_model_energy_offset(const ms_model *m, const ms_batch *b, ms_head head, double *off);
/* e (N, 1), the earlier blocks' readouts (ms_rep.e, may be NULL), is
 * added before the scale. */
ms_t *ms_model_readout(ms_graph *g, const ms_model *m, const ms_batch *b,
                       ms_t **leaf, ms_head head, ms_t *s, ms_t *e);
/* The MLP parameters of a readout, "<prefix>.readout.W1" …, in group. */
mlshift_status ms_model_mlp_readout_params(ms_model *m, const char *prefix, int group,
                                           mlshift_error *err);
/* The per-atom readout MLP of prefix: silu(s W1 + b1) W2 + b2 (N, 1). */
ms_t *ms_model_mlp_readout(ms_graph *g, const ms_model *m, ms_t **leaf,
                           const char *prefix, ms_t *s);
/* Group and name prefix of block t for head: "blocks.t" in g_R, else
 * "main.blocks.t" / "prior.blocks.t". */
int ms_block_group(const ms_model *m, int t, ms_head head, char *prefix, size_t cap);

/* A workspace: the graph (arena) and a batch, reused across calls. */
typedef struct ms_model_ws {
    ms_graph g;
    ms_batch b;
    double *off;        /* (cap_off) energy offsets of the batch's structures */
    size_t cap_off;
} ms_model_ws;
/* A float64 workspace; ms_graph_set_dtype(&ws->g, MS_F32) makes it compute
 * in float32 (parameters and positions converted, results in double). */
void ms_model_ws_init(ms_model_ws *ws);
void ms_model_ws_free(ms_model_ws *ws);

/* Energies (nf,) eV and forces (Σ N_f, 3) eV/Å (either may be NULL) of
 * head for frames f[0..nf), at cutoff r_cut (≤ 0: the model's r_basis). */
mlshift_status ms_model_predict(ms_model_ws *ws, const ms_model *m,
                                const mlshift_frame *f, size_t nf, ms_head head,
                                double r_cut, double *energy, double *forces,
                                mlshift_error *err);
/* One frame: atomic energies e_i (N,) eV, E = Σ_i w_i e_i (weights (N,);
 * NULL: all 1) and forces −∂E/∂r (N, 3) eV/Å on every atom; any output may
 * be NULL (src/model/atom_energies.c). */
mlshift_status ms_model_predict_atoms(ms_model_ws *ws, const ms_model *m,
                                      const mlshift_frame *f, ms_head head,
                                      double r_cut, const double *weights,
                                      double *energy, double *forces,
                                      double *atom_energies, mlshift_error *err);
/* The force loss of head on labelled frames and its gradient:
 *   L = w_e/B Σ_b (E_b − E_b^ref)² + w_f/(3N) Σ_i |F_i − F_i^ref|²,
 * F = −dE/dr (with create_graph), grad (P,) = dL/dθ (zeros for frozen and
 * non-trainable parameters; may be NULL). Frames need energies when
 * w_e > 0 and forces when w_f > 0. */
mlshift_status ms_model_loss_grad(ms_model_ws *ws, const ms_model *m,
                                  const mlshift_frame *f, size_t nf, ms_head head,
                                  double r_cut, double w_e, double w_f, double *loss,
                                  double *grad, mlshift_error *err);

/* dL/dθ of the scalar L (on g, built from the leaves of ms_model_leaves)
 * for every parameter whose leaf requires grad, *added* into grad (P,);
 * a failure is kept in g->err. */
void ms_model_backward(ms_graph *g, const ms_model *m, ms_t **leaf, ms_t *L,
                       double *grad);

/* ------------------------------------------------------------- files */

#define MS_MODEL_MAGIC "MLSHIFTM"
#define MS_MODEL_VERSION 3u     /* reads 1 (no training record), 2 (no
                                   readout_every) and 3 */

/* The model file's bytes (malloc'ed) in *buf, *len. */
mlshift_status ms_model_serialize(const ms_model *m, unsigned char **buf, size_t *len,
                                  mlshift_error *err);
/* Writes the model atomically (format in docs/models.md). */
mlshift_status ms_model_save(const ms_model *m, const char *path, mlshift_error *err);
/* Reads a model file: another version, a bad checksum, truncation, unknown
 * or missing tensors, wrong shapes, non-finite values are clear errors. */
mlshift_status ms_model_load(ms_model **out, const char *path, mlshift_error *err);
mlshift_status ms_model_parse(ms_model **out, const unsigned char *data, size_t len,
                              const char *where, mlshift_error *err);

#endif /* MLSHIFT_MODEL_H */

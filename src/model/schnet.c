/* SPDX-License-Identifier: MIT */
/* SchNet (Schütt et al., J. Chem. Phys. 2018), the simpler baseline, with
 * the same radial basis, envelope, readout and head split as PaiNN.
 *
 *   s⁰ = embedding[Z_i]                                   (N, F)
 * Interaction block t (continuous-filter convolution, aggregated on i):
 *   W_p  = (silu(rbf_p Wf1 + bf1) Wf2 + bf2) · env_p       (P, F)
 *          once per pair p = {i → j, j → i} (ms_batch): the filter is of
 *          the distance only, so both edges share it, and the filter
 *          network — most of SchNet's FLOPs — runs on P = E / 2 rows
 *   m_i  = Σ_{e = i→j} (s_j Win)_e ⊙ W_e                   (N, F)
 *          over the pairs' edges i → j, then their reverses j → i
 *          (ms_pair_messages, layers.c), each sum one gather_mul_scatter
 *          (src/nn/ops_gms.c): the gathered (E, F) rows and their product
 *          are never formed
 *   s   += silu(m Wo1 + bo1) Wo2 + bo2
 * The energy depends on positions only through d_e, so it is invariant.
 *
 * Parameter names (prefix as PaiNN's): in.W (F, F), filt.W1 (K, F),
 * filt.b1 (F), filt.W2 (F, F), filt.b2 (F), out.W1 (F, F), out.b1 (F),
 * out.W2 (F, F), out.b2 (F). */
#include "model.h"

static mlshift_status block_params(ms_model *m, const char *pre, int grp,
                                   mlshift_error *err)
{
    const size_t F = (size_t)m->h.F, K = (size_t)m->h.K;
    mlshift_status st;
    if ((st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.in.W", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(K, F), err, "%s.filt.W1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.filt.b1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.filt.W2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.filt.b2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.out.W1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.out.b1", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 2, MS_SHAPE(F, F), err, "%s.out.W2", pre)) ||
        (st = ms_model_add_param(m, grp, 1, 1, MS_SHAPE(F), err, "%s.out.b2", pre)))
        return st;
    return MLSHIFT_OK;
}

mlshift_status ms_schnet_params(ms_model *m, mlshift_error *err)
{
    return ms_model_stack_params(m, block_params, err);
}

void ms_schnet_embed(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t *R,
                     ms_t **leaf, ms_rep *r)
{
    ms_model_edges(g, m, b, R, &r->ef);
    r->s = ms_gather(g, ms_model_leaf(g, m, leaf, "embedding"), b->species, b->N); // (N, F)
    r->v = r->rbfe = NULL;
}

void ms_schnet_blocks(ms_graph *g, const ms_model *m, const ms_batch *b, ms_t **leaf,
                      ms_head head, int t0, int t1, ms_rep *r)
{
    const ms_edge_feats ef = r->ef;
    ms_t *s = r->s;                                                                // (N, F)
    char pre[MS_PARAM_NAME];
#define L(name) ms_model_leaf(g, m, leaf, "%s." name, pre)
    for (int t = t0; t < t1; t++) {
        ms_block_group(m, t, head, pre, sizeof pre);
        ms_t *W = ms_linear(g, ms_silu(g, ms_linear(g, ef.rbf, L("filt.W1"), L("filt.b1"))),
                            L("filt.W2"), L("filt.b2"));
        W = ms_mul(g, W, ef.env);                                                  // (P, F)
        ms_t *x = ms_matmul(g, s, L("in.W"), 0, 0);                               // (N, F)
        ms_t *msg = ms_pair_messages(g, b, x, W, W);                              // (N, F)
        ms_t *o = ms_linear(g, ms_silu(g, ms_linear(g, msg, L("out.W1"), L("out.b1"))),
                            L("out.W2"), L("out.b2"));                             // (N, F)
        s = ms_add(g, s, o);
    }
#undef L
    r->s = s;
}
